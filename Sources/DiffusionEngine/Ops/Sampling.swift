import CKernels

extension Op {
    static let avgPool2d = Op("avgPool2d"), upsampleNearest2d = Op("upsampleNearest2d"), upsampleBilinear2d = Op("upsampleBilinear2d")
    static let samplingOps: [Op] = [.avgPool2d, .upsampleNearest2d, .upsampleBilinear2d]
}

extension Tensor {
    /// The [N·C, H, W] plane count of a rank-4 tensor, checked.
    private func planes(_ what: @autoclosure () -> String) -> (nc: Int, h: Int, w: Int) {
        precondition(rank == 4, "\(what()): input must be [N, C, H, W]")
        return (shape[0] * shape[1], shape[2], shape[3])
    }

    /// Average pooling over kernel×kernel windows of this [N, C, H, W] tensor (stride defaults to the kernel).
    /// Zero padding counts in the divisor, like PyTorch's default `count_include_pad=True`; Ho = ⌊(H + 2p − k)/s⌋ + 1.
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        avgPool2d(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    /// Average pooling with separate (height, width) kernel, stride and padding.
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let s = stride ?? kernel
        func what() -> String { "avgPool2d(input \(shape), kernel \(kernel), stride \(s), padding \(padding))" }
        let (nc, h, w) = planes(what())
        precondition(kernel.0 > 0 && kernel.1 > 0, "\(what()): kernel must be positive")
        precondition(s.0 > 0 && s.1 > 0, "\(what()): stride must be positive")
        precondition(padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernel.0 && 2 * padding.1 <= kernel.1,
                     "\(what()): padding must be non-negative and at most half the kernel")
        precondition(h + 2 * padding.0 >= kernel.0 && w + 2 * padding.1 >= kernel.1,
                     "\(what()): output size would be ≤ 0; the kernel is larger than the padded input")
        let ho = (h + 2 * padding.0 - kernel.0) / s.0 + 1, wo = (w + 2 * padding.1 - kernel.1) / s.1 + 1
        let x = detached().contiguous()
        let out = Tensor(uninitialized: [shape[0], shape[1], ho, wo])
        withExtendedLifetime(x) { dl_avgpool2d(nc, h, w, kernel.0, kernel.1, s.0, s.1, padding.0, padding.1, ho, wo, x.pointer, out.pointer) }
        let inShape = shape
        return Tensor.record(.avgPool2d, out, [self]) { g in
            let gc = g.detached().contiguous()
            let gx = Tensor(uninitialized: inShape)
            dl_avgpool2d_backward(nc, h, w, kernel.0, kernel.1, s.0, s.1, padding.0, padding.1, ho, wo, gc.pointer, gx.pointer)
            return withExtendedLifetime(gc) { [gx] }
        }
    }

    /// Nearest-neighbour upsampling of this [N, C, H, W] tensor by an integer factor: [N, C, H·scale, W·scale].
    public func upsampleNearest2d(scale: Int) -> Tensor {
        func what() -> String { "upsampleNearest2d(input \(shape), scale \(scale))" }
        let (nc, h, w) = planes(what())
        precondition(scale > 0, "\(what()): scale must be positive")
        let x = detached().contiguous()
        let out = Tensor(uninitialized: [shape[0], shape[1], h * scale, w * scale])
        withExtendedLifetime(x) { dl_upsample_nearest2d(nc, h, w, scale, scale, x.pointer, out.pointer) }
        let inShape = shape
        return Tensor.record(.upsampleNearest2d, out, [self]) { g in
            let gc = g.detached().contiguous()
            let gx = Tensor(uninitialized: inShape)
            dl_upsample_nearest2d_backward(nc, h, w, scale, scale, gc.pointer, gx.pointer)
            return withExtendedLifetime(gc) { [gx] }
        }
    }

    /// Bilinear upsampling of this [N, C, H, W] tensor by an integer factor, with PyTorch's conventions:
    /// without `alignCorners` the output pixel centres map back by half-pixel offsets (source = (i + ½)/scale − ½,
    /// clamped at the border); with it, the corner pixels of input and output coincide.
    public func upsampleBilinear2d(scale: Int, alignCorners: Bool = false) -> Tensor {
        precondition(scale > 0, "upsampleBilinear2d(input \(shape), scale \(scale)): scale must be positive")
        precondition(rank == 4, "upsampleBilinear2d(input \(shape), scale \(scale)): input must be [N, C, H, W]")
        return bilinear(size: (shape[2] * scale, shape[3] * scale), ratio: (1 / Float(scale), 1 / Float(scale)), alignCorners: alignCorners,
                        "upsampleBilinear2d(input \(shape), scale \(scale), alignCorners \(alignCorners))")
    }

    /// Bilinear resampling of this [N, C, H, W] tensor to [N, C, size.0, size.1] (up or down), PyTorch's
    /// `interpolate(size:, mode: "bilinear")`.
    public func upsampleBilinear2d(size: (Int, Int), alignCorners: Bool = false) -> Tensor {
        func what() -> String { "upsampleBilinear2d(input \(shape), size \(size), alignCorners \(alignCorners))" }
        precondition(rank == 4, "\(what()): input must be [N, C, H, W]")
        precondition(size.0 > 0 && size.1 > 0, "\(what()): output size must be positive")
        return bilinear(size: size, ratio: (Float(shape[2]) / Float(size.0), Float(shape[3]) / Float(size.1)), alignCorners: alignCorners, what())
    }

    private func bilinear(size: (Int, Int), ratio: (Float, Float), alignCorners: Bool, _ what: @autoclosure () -> String) -> Tensor {
        let (nc, h, w) = planes(what())
        precondition(h > 0 && w > 0, "\(what()): input must have positive height and width")
        let (ho, wo) = size
        // Source pixels per destination pixel: corner-to-corner with alignCorners, else the plain ratio.
        let rh = alignCorners ? (ho > 1 ? Float(h - 1) / Float(ho - 1) : 0) : ratio.0
        let rw = alignCorners ? (wo > 1 ? Float(w - 1) / Float(wo - 1) : 0) : ratio.1
        let align: Int32 = alignCorners ? 1 : 0
        let x = detached().contiguous()
        let out = Tensor(uninitialized: [shape[0], shape[1], ho, wo])
        withExtendedLifetime(x) { dl_upsample_bilinear2d(nc, h, w, ho, wo, align, rh, rw, x.pointer, out.pointer) }
        let inShape = shape
        return Tensor.record(.upsampleBilinear2d, out, [self]) { g in
            let gc = g.detached().contiguous()
            let gx = Tensor(uninitialized: inShape)
            dl_upsample_bilinear2d_backward(nc, h, w, ho, wo, align, rh, rw, gc.pointer, gx.pointer)
            return withExtendedLifetime(gc) { [gx] }
        }
    }
}
