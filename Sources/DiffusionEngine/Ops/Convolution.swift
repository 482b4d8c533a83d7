import CKernels

extension Op {
    static let conv2d = Op("conv2d"), convTranspose2d = Op("convTranspose2d")
    static let convolutionOps: [Op] = [.conv2d, .convTranspose2d]
}

/// The shapes of one 2-D convolution, seen from the convolution (not the transposed one): input
/// [n, c, h, w], weight [o, c/groups, kh, kw], output [n, o, ho, wo].
struct ConvGeometry: Sendable {
    var n, c, h, w: Int
    var o, ho, wo: Int
    var kh, kw, sh, sw, ph, pw, dh, dw: Int
    var groups: Int

    var cg: Int { c / groups }
    var og: Int { o / groups }
    /// Rows of a column buffer (one group): cg·kh·kw.
    var k: Int { cg * kh * kw }
    var inPlane: Int { h * w }
    var outPlane: Int { ho * wo }
}

/// im2col + GEMM drivers. Samples are processed in chunks: a chunk's columns sit side by side in one buffer
/// [k, nb·ho·wo], so each GEMM covers several samples (wide enough to be efficient on small feature maps)
/// while the buffer stays bounded.
enum ConvKernels {
    /// Upper bound on the floats in one column buffer (chunks hold at least one sample regardless).
    /// 2¹⁹ floats (2 MB) keeps the buffer cache-resident between im2col and GEMM while GEMMs on small maps stay
    /// over a thousand columns wide; on [64, 32, 16, 16] ⋆ [32, 32, 3, 3] and [64, 64, 32, 32] ⋆ [64, 64, 3, 3]
    /// (forward + backward, one thread) it took 10–20% less time than budgets of 2²¹ and 2²³ floats.
    /// Task-local so tests can force small chunks without touching other tasks.
    @TaskLocal static var columnBudget = 1 << 19

    /// Splits n samples into equal chunks whose column buffer fits the budget.
    static func chunks(_ g: ConvGeometry) -> (size: Int, ranges: [Range<Int>]) {
        guard g.n > 0 else { return (0, []) }
        let perSample = Swift.max(1, Swift.max(g.k, g.o) * g.outPlane)
        let maxNb = Swift.max(1, Swift.min(g.n, columnBudget / perSample))
        let count = (g.n + maxNb - 1) / maxNb
        let nb = (g.n + count - 1) / count
        let ranges = stride(from: 0, to: g.n, by: nb).map { $0..<Swift.min($0 + nb, g.n) }
        return (nb, ranges)
    }

    /// Stride-1, one-group convolutions whose output is the size of the input ("same" padding) run on the direct
    /// kernels of conv_same.c (no column buffer, NCHW in and out) when the CPU has AVX-512 and the GEMM path is not
    /// forced away from the native one. Task-local so tests can compare with the column path.
    @TaskLocal static var directSame = true
    static let directSameAvailable: Bool = {
        let path = String(cString: dl_gemm_path())
        return dl_conv_same_available() != 0 && (path == "auto" || path == "native")
    }()

    static func usesDirectSame(_ g: ConvGeometry) -> Bool {
        g.groups == 1 && g.sh == 1 && g.sw == 1 && g.ho == g.h && g.wo == g.w && directSame && directSameAvailable
    }

    /// conv(x, w) + bias on the direct kernels: x [n, c, h, w] → [n, o, h, w].
    static func sameForward(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let y = Tensor(uninitialized: [g.n, g.o, g.h, g.w])
        withExtendedLifetime((x, w, bias)) {
            dl_conv_same_forward(Int32(Engine.threads), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.dh, g.dw, x.pointer, w.pointer,
                                 bias?.pointer, y.pointer)
        }
        return y
    }

    /// The adjoint of `sameForward` (no bias): gy [n, o, h, w] → [n, c, h, w].
    static func sameBackwardInput(_ gy: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
        let gx = Tensor(uninitialized: [g.n, g.c, g.h, g.w])
        withExtendedLifetime((gy, w)) {
            dl_conv_same_backward_input(Int32(Engine.threads), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.dh, g.dw, gy.pointer,
                                        w.pointer, gx.pointer)
        }
        return gx
    }

    /// The weight gradient Σ gy ⋆ x [o, c, kh, kw] on the direct kernels.
    static func sameBackwardWeight(_ x: Tensor, _ gy: Tensor, _ g: ConvGeometry) -> Tensor {
        let gw = Tensor(uninitialized: [g.o, g.c, g.kh, g.kw])
        withExtendedLifetime((x, gy)) {
            dl_conv_same_backward_weight(Int32(Engine.threads), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.dh, g.dw, x.pointer,
                                         gy.pointer, gw.pointer)
        }
        return gw
    }

    static func im2col(_ x: UnsafePointer<Float>, _ nb: Int, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>) {
        dl_im2col(x, nb, g.c * g.inPlane, g.cg, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ho, g.wo, cols)
    }

    static func col2im(_ cols: UnsafePointer<Float>, _ nb: Int, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        dl_col2im(cols, nb, g.c * g.inPlane, g.cg, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ho, g.wo, x)
    }

    static func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        guard let raw = dl_alloc(count) else { fatalError("out of memory allocating \(count) floats for convolution") }
        return raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    /// The convolution y = conv(x, w) [n, o, ho, wo] (no bias) when `weight` is given, and the weight gradient
    /// Σ gy ⋆ x [o, cg, kh, kw] when `outputGrad` is given; both read the same im2col buffer of x.
    /// (conv2d forward; convTranspose2d backward, where x is the output gradient and gy the saved input.)
    static func convolve(_ x: Tensor, weight: Tensor?, outputGrad gy: Tensor?, _ g: ConvGeometry) -> (y: Tensor?, gw: Tensor?) {
        let y = weight.map { _ in Tensor(uninitialized: [g.n, g.o, g.ho, g.wo]) }
        let gw = gy.map { _ in Tensor(uninitialized: [g.o, g.cg, g.kh, g.kw]) }
        let (nbMax, ranges) = chunks(g)
        guard nbMax > 0 else {
            if let gw { dl_fill(gw.count, gw.pointer, 0) }
            return (y, gw)
        }
        let (k, l) = (g.k, g.outPlane)
        let cols = scratch(k * nbMax * l)
        let tmp = nbMax > 1 && weight != nil ? scratch(g.o * nbMax * l) : nil
        let gyT = nbMax > 1 && gy != nil ? scratch(g.o * nbMax * l) : nil
        defer { dl_free(cols); tmp.map { dl_free($0) }; gyT.map { dl_free($0) } }
        withExtendedLifetime((x, weight, gy)) {
            for (i, r) in ranges.enumerated() {
                let nb = r.count, ld = nb * l, n0 = r.lowerBound
                // Output rows of this chunk, channel-major [o, nb·l] (written in place when nb = 1).
                let yDst = y.map { nb == 1 ? $0.pointer + n0 * g.o * l : tmp! }
                // The output gradient of this chunk, channel-major [o, nb·l] (read in place when nb = 1).
                let gySrc: UnsafePointer<Float>? = gy.map { gy in
                    if nb == 1 { return UnsafePointer(gy.pointer + n0 * g.o * l) }
                    dl_ncl_to_cnl(nb, g.o, l, gy.pointer + n0 * g.o * l, gyT!)
                    return UnsafePointer(gyT!)
                }
                for grp in 0..<g.groups {
                    im2col(x.pointer + n0 * g.c * g.inPlane + grp * g.cg * g.inPlane, nb, g, cols)
                    if let weight, let yDst {
                        dl_sgemm(0, 0, g.og, ld, k, 1, weight.pointer + grp * g.og * k, k, cols, ld, 0, yDst + grp * g.og * ld, ld)
                    }
                    if let gw, let gySrc {
                        dl_sgemm(0, 1, g.og, k, ld, 1, gySrc + grp * g.og * ld, ld, cols, ld, i == 0 ? 0 : 1, gw.pointer + grp * g.og * k, k)
                    }
                }
                if let y, nb > 1 { dl_cnl_to_ncl(nb, g.o, l, tmp!, y.pointer + n0 * g.o * l) }
            }
        }
        return (y, gw)
    }

    /// The transposed convolution gx = convᵀ(gy, w) [n, c, h, w] when `weight` is given, and the weight
    /// gradient Σ gy ⋆ x [o, cg, kh, kw] when `input` x is given; both read the same channel-major copy of gy.
    /// (conv2d backward; convTranspose2d forward, where gy is the input.)
    static func transposeConvolve(_ gy: Tensor, weight: Tensor?, input x: Tensor?, _ g: ConvGeometry) -> (gx: Tensor?, gw: Tensor?) {
        let gx = weight.map { _ in Tensor(uninitialized: [g.n, g.c, g.h, g.w]) }
        let gw = x.map { _ in Tensor(uninitialized: [g.o, g.cg, g.kh, g.kw]) }
        if let gx { dl_fill(gx.count, gx.pointer, 0) }
        let (nbMax, ranges) = chunks(g)
        guard nbMax > 0 else {
            if let gw { dl_fill(gw.count, gw.pointer, 0) }
            return (gx, gw)
        }
        let (k, l) = (g.k, g.outPlane)
        let cols = scratch(k * nbMax * l)
        let gyT = nbMax > 1 ? scratch(g.o * nbMax * l) : nil
        defer { dl_free(cols); gyT.map { dl_free($0) } }
        withExtendedLifetime((gy, weight, x)) {
            for (i, r) in ranges.enumerated() {
                let nb = r.count, ld = nb * l, n0 = r.lowerBound
                let chunk = gy.pointer + n0 * g.o * l
                if nb > 1 { dl_ncl_to_cnl(nb, g.o, l, chunk, gyT!) }
                let src = UnsafePointer(nb == 1 ? chunk : gyT!)
                for grp in 0..<g.groups {
                    let plane = n0 * g.c * g.inPlane + grp * g.cg * g.inPlane
                    if let x, let gw {
                        im2col(x.pointer + plane, nb, g, cols)
                        dl_sgemm(0, 1, g.og, k, ld, 1, src + grp * g.og * ld, ld, cols, ld, i == 0 ? 0 : 1, gw.pointer + grp * g.og * k, k)
                    }
                    if let weight, let gx {
                        dl_sgemm(1, 0, k, ld, g.og, 1, weight.pointer + grp * g.og * k, k, src + grp * g.og * ld, ld, 0, cols, ld)
                        col2im(cols, nb, g, gx.pointer + plane)
                    }
                }
            }
        }
        return (gx, gw)
    }

    /// Per-channel sum of [n, ch, h, w] (the bias gradient).
    static func channelSum(_ t: Tensor) -> Tensor {
        let out = Tensor(uninitialized: [t.shape[1]])
        withExtendedLifetime(t) { dl_channel_sum(t.shape[0], t.shape[1], t.shape[2] * t.shape[3], t.pointer, out.pointer) }
        return out
    }

    /// Adds bias [ch] to every channel plane of the fresh tensor t [n, ch, h, w].
    static func addBias(_ t: Tensor, _ bias: Tensor) {
        withExtendedLifetime(bias) { dl_add_channel_bias(t.shape[0], t.shape[1], t.shape[2] * t.shape[3], bias.pointer, t.pointer) }
    }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, like PyTorch's `conv2d`) of this [N, C, H, W] input with `weight`
    /// [O, C/groups, kH, kW] and an optional `bias` [O]; zero padding. The output is [N, O, Ho, Wo] with
    /// Ho = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1 (likewise Wo).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
        conv2d(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    /// 2-D convolution with separate (height, width) stride, padding and dilation.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        func what() -> String { "conv2d(input \(shape), weight \(weight.shape)\(bias.map { ", bias \($0.shape)" } ?? ""), stride \(stride), padding \(padding), dilation \(dilation), groups \(groups))" }
        precondition(rank == 4, "\(what()): input must be [N, C, H, W]")
        precondition(weight.rank == 4, "\(what()): weight must be [O, C/groups, kH, kW]")
        precondition(groups > 0, "\(what()): groups must be positive")
        precondition(stride.0 > 0 && stride.1 > 0, "\(what()): stride must be positive")
        precondition(dilation.0 > 0 && dilation.1 > 0, "\(what()): dilation must be positive")
        precondition(padding.0 >= 0 && padding.1 >= 0, "\(what()): padding must be non-negative")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        precondition(c % groups == 0 && o % groups == 0, "\(what()): input channels \(c) and output channels \(o) must be divisible by groups")
        precondition(weight.shape[1] == c / groups, "\(what()): weight has \(weight.shape[1]) input channels per group, expected C/groups = \(c / groups)")
        precondition(kh > 0 && kw > 0, "\(what()): kernel size must be positive")
        if let bias { precondition(bias.shape == [o], "\(what()): bias must be [\(o)]") }
        let ho = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
        let wo = (w + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
        precondition(h + 2 * padding.0 - dilation.0 * (kh - 1) - 1 >= 0 && w + 2 * padding.1 - dilation.1 * (kw - 1) - 1 >= 0 && ho > 0 && wo > 0,
                     "\(what()): output size would be \(ho)×\(wo); the dilated kernel is larger than the padded input")
        let geo = ConvGeometry(n: n, c: c, h: h, w: w, o: o, ho: ho, wo: wo, kh: kh, kw: kw, sh: stride.0, sw: stride.1,
                               ph: padding.0, pw: padding.1, dh: dilation.0, dw: dilation.1, groups: groups)

        let x = detached().contiguous(), wt = weight.detached().contiguous()
        let direct = ConvKernels.usesDirectSame(geo)
        let out: Tensor
        if direct {
            out = ConvKernels.sameForward(x, wt, bias?.detached().contiguous(), geo)
        } else {
            out = ConvKernels.convolve(x, weight: wt, outputGrad: nil, geo).y!
            if let bias { ConvKernels.addBias(out, bias.detached().contiguous()) }
        }

        let (needX, needW, needB) = (node != nil, weight.node != nil, bias?.node != nil)
        let savedX: Tensor? = needW ? x : nil, savedW: Tensor? = needX ? wt : nil
        let hasBias = bias != nil
        let inputs = hasBias ? [self, weight, bias!] : [self, weight]
        return Tensor.record(.conv2d, out, inputs) { g in
            let gc = g.detached().contiguous()
            let (gx, gw): (Tensor?, Tensor?)
            if direct {
                gx = savedW.map { ConvKernels.sameBackwardInput(gc, $0, geo) }
                gw = savedX.map { ConvKernels.sameBackwardWeight($0, gc, geo) }
            } else {
                (gx, gw) = needX || needW ? ConvKernels.transposeConvolve(gc, weight: savedW, input: savedX, geo) : (nil, nil)
            }
            guard hasBias else { return [gx, gw] }
            return [gx, gw, needB ? ConvKernels.channelSum(gc) : nil]
        }
    }

    /// 2-D transposed convolution (PyTorch's `conv_transpose2d`), the adjoint of `conv2d` with the same weight:
    /// input [N, C_in, H, W], weight [C_in, C_out/groups, kH, kW], optional bias [C_out]. The output is
    /// [N, C_out, Ho, Wo] with Ho = (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1.
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                                dilation: Int = 1, groups: Int = 1) -> Tensor {
        convTranspose2d(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                        outputPadding: (outputPadding, outputPadding), dilation: (dilation, dilation), groups: groups)
    }

    /// 2-D transposed convolution with separate (height, width) stride, padding, output padding and dilation.
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int) = (0, 0),
                                outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        func what() -> String { "convTranspose2d(input \(shape), weight \(weight.shape)\(bias.map { ", bias \($0.shape)" } ?? ""), stride \(stride), padding \(padding), outputPadding \(outputPadding), dilation \(dilation), groups \(groups))" }
        precondition(rank == 4, "\(what()): input must be [N, C_in, H, W]")
        precondition(weight.rank == 4, "\(what()): weight must be [C_in, C_out/groups, kH, kW]")
        precondition(groups > 0, "\(what()): groups must be positive")
        precondition(stride.0 > 0 && stride.1 > 0, "\(what()): stride must be positive")
        precondition(dilation.0 > 0 && dilation.1 > 0, "\(what()): dilation must be positive")
        precondition(padding.0 >= 0 && padding.1 >= 0, "\(what()): padding must be non-negative")
        precondition(outputPadding.0 >= 0 && outputPadding.1 >= 0
                     && outputPadding.0 < Swift.max(stride.0, dilation.0) && outputPadding.1 < Swift.max(stride.1, dilation.1),
                     "\(what()): outputPadding must be non-negative and smaller than stride or dilation")
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        precondition(weight.shape[0] == cin, "\(what()): weight has \(weight.shape[0]) input channels, the input has \(cin)")
        precondition(cin % groups == 0, "\(what()): input channels \(cin) must be divisible by groups")
        precondition(kh > 0 && kw > 0, "\(what()): kernel size must be positive")
        let cout = weight.shape[1] * groups
        if let bias { precondition(bias.shape == [cout], "\(what()): bias must be [\(cout)]") }
        let ho = (h - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kh - 1) + outputPadding.0 + 1
        let wo = (w - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kw - 1) + outputPadding.1 + 1
        precondition(ho > 0 && wo > 0 && h > 0 && w > 0, "\(what()): output size would be \(ho)×\(wo)")
        // The convolution whose adjoint this is: input [n, cout, ho, wo] → output [n, cin, h, w].
        let geo = ConvGeometry(n: n, c: cout, h: ho, w: wo, o: cin, ho: h, wo: w, kh: kh, kw: kw, sh: stride.0, sw: stride.1,
                               ph: padding.0, pw: padding.1, dh: dilation.0, dw: dilation.1, groups: groups)

        let x = detached().contiguous(), wt = weight.detached().contiguous()
        let direct = ConvKernels.usesDirectSame(geo)
        let out = direct ? ConvKernels.sameBackwardInput(x, wt, geo) : ConvKernels.transposeConvolve(x, weight: wt, input: nil, geo).gx!
        if let bias { ConvKernels.addBias(out, bias.detached().contiguous()) }

        let (needX, needW, needB) = (node != nil, weight.node != nil, bias?.node != nil)
        let savedX: Tensor? = needW ? x : nil, savedW: Tensor? = needX ? wt : nil
        let hasBias = bias != nil
        let inputs = hasBias ? [self, weight, bias!] : [self, weight]
        return Tensor.record(.convTranspose2d, out, inputs) { g in
            let gc = g.detached().contiguous()
            let (gx, gw): (Tensor?, Tensor?)
            if direct {
                gx = savedW.map { ConvKernels.sameForward(gc, $0, nil, geo) }
                gw = savedX.map { ConvKernels.sameBackwardWeight(gc, $0, geo) }
            } else {
                (gx, gw) = needX || needW ? ConvKernels.convolve(gc, weight: savedW, outputGrad: savedX, geo) : (nil, nil)
            }
            guard hasBias else { return [gx, gw] }
            return [gx, gw, needB ? ConvKernels.channelSum(gc) : nil]
        }
    }
}
