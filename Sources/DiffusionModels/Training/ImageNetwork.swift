import Diffusion
import DiffusionLayers

// The UNet and the DiT take images [n, c, h, w], a noise value per sample and labels: exactly a noise-conditional
// network, so `NetworkModel` serves them to every objective, sampler and guidance wrapper of the diffusion core.
extension UNet: NoiseConditionalNetwork {}
extension DiT: NoiseConditionalNetwork {}

/// One image denoising network of either architecture, so trainers, checkpoints and samplers need one type.
/// Parameters are named `unet.…` or `dit.…`.
public final class ImageNetwork: Module, NoiseConditionalNetwork {
    public let unet: UNet?
    public let dit: DiT?

    public init(_ unet: UNet) { (self.unet, dit) = (unet, nil); super.init() }
    public init(_ dit: DiT) { (unet, self.dit) = (nil, dit); super.init() }

    /// "unet" or "dit".
    public var architecture: String { unet != nil ? "unet" : "dit" }

    public var classCount: Int { unet?.classCount ?? dit!.classCount }

    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor {
        if let unet { return unet(x, c, labels: labels) }
        return dit!(x, c, labels: labels)
    }
}
