import Diffusion
import DiffusionLayers

// The UNet and the DiT take images [n, c, h, w], a noise value per sample and labels: exactly a noise-conditional
// network, so `NetworkModel` serves them to every objective, sampler and guidance wrapper of the diffusion core.
extension UNet: NoiseConditionalNetwork {}
extension DiT: NoiseConditionalNetwork {}

/// One image denoising network of any architecture, so trainers, checkpoints and samplers need one type.
/// Parameters are named `unet.…`, `dit.…` or `text.…`. For the text-conditioned UNet the labels are token ids.
public final class ImageNetwork: Module, NoiseConditionalNetwork {
    public let unet: UNet?
    public let dit: DiT?
    public let text: TextToImageUNet?

    public init(_ unet: UNet) { (self.unet, dit, text) = (unet, nil, nil); super.init() }
    public init(_ dit: DiT) { (unet, self.dit, text) = (nil, dit, nil); super.init() }
    public init(_ text: TextToImageUNet) { (unet, dit, self.text) = (nil, nil, text); super.init() }

    /// "unet", "dit" or "t2i-unet".
    public var architecture: String { unet != nil ? "unet" : dit != nil ? "dit" : "t2i-unet" }

    public var classCount: Int { unet?.classCount ?? dit?.classCount ?? 0 }

    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor {
        if let unet { return unet(x, c, labels: labels) }
        if let text { return text(x, c, labels: labels) }
        return dit!(x, c, labels: labels)
    }
}
