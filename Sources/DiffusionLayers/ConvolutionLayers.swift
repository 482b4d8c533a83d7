/// 2-D convolution over [N, C, H, W], like `torch.nn.Conv2d` (zero padding). Weight [out, in/groups, k, k],
/// bias [out]; both U(±1/√fan_in) with fan_in = in/groups·k·k (PyTorch's default init).
public final class Conv2d: UnaryModule {
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int, kernelSize: Int
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d: channels \(inChannels)→\(outChannels) are not divisible by groups \(groups)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let fanIn = inChannels / groups * kernelSize * kernelSize
        weight = Parameter([outChannels, inChannels / groups, kernelSize, kernelSize], .kaimingUniformDefault(fanIn: fanIn))
        self.bias = bias ? Parameter([outChannels], .kaimingUniformDefault(fanIn: fanIn)) : nil
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight.value, bias: bias?.value, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// 2-D transposed convolution, like `torch.nn.ConvTranspose2d`. Weight [in, out/groups, k, k], bias [out];
/// PyTorch computes fan_in from that weight layout, i.e. out/groups·k·k, and we do the same.
public final class ConvTranspose2d: UnaryModule {
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int, kernelSize: Int
    public let stride: Int, padding: Int, outputPadding: Int, dilation: Int, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "ConvTranspose2d: channels \(inChannels)→\(outChannels) are not divisible by groups \(groups)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        let fanIn = outChannels / groups * kernelSize * kernelSize
        weight = Parameter([inChannels, outChannels / groups, kernelSize, kernelSize], .kaimingUniformDefault(fanIn: fanIn))
        self.bias = bias ? Parameter([outChannels], .kaimingUniformDefault(fanIn: fanIn)) : nil
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        x.convTranspose2d(weight: weight.value, bias: bias?.value, stride: stride, padding: padding,
                          outputPadding: outputPadding, dilation: dilation, groups: groups)
    }
}
