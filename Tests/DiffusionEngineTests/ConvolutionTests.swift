import Testing
@testable import DiffusionEngine

// MARK: - Direct nested-loop references (Double accumulation, no im2col)

/// conv2d by definition: out[n, oc, y, x] = b[oc] + Σ x[n, g·cg + ic, y·s − p + ky·d, x·s − p + kx·d] · w[oc, ic, ky, kx].
func referenceConv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: (Int, Int), padding p: (Int, Int),
                     dilation d: (Int, Int), groups: Int) -> Tensor {
    let (xs, ws, bs) = (x.scalars, w.scalars, b?.scalars)
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let og = o / groups
    let ho = (h + 2 * p.0 - d.0 * (kh - 1) - 1) / s.0 + 1, wo = (wd + 2 * p.1 - d.1 * (kw - 1) - 1) / s.1 + 1
    var out = [Float](repeating: 0, count: n * o * ho * wo)
    for ni in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
        var acc = Double(bs?[oc] ?? 0)
        let g = oc / og
        for ic in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * s.0 - p.0 + ky * d.0, ix = ox * s.1 - p.1 + kx * d.1
            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
            acc += Double(xs[((ni * c + g * cg + ic) * h + iy) * wd + ix]) * Double(ws[((oc * cg + ic) * kh + ky) * kw + kx])
        } } }
        out[((ni * o + oc) * ho + oy) * wo + ox] = Float(acc)
    } } } }
    return Tensor(out, shape: [n, o, ho, wo])
}

/// Σ_{n, y, x} r[n, oc, y, x] · x[n, g·cg + ic, y·s − p + ky·d, x·s − p + kx·d]: the weight gradient of Σ conv2d(x)·r.
func referenceConv2dWeightGrad(_ x: Tensor, _ r: Tensor, weightShape: [Int], stride s: (Int, Int), padding p: (Int, Int),
                               dilation d: (Int, Int), groups: Int) -> Tensor {
    let (xs, rs) = (x.scalars, r.scalars)
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
    let (ho, wo, og) = (r.shape[2], r.shape[3], o / groups)
    var out = [Float](repeating: 0, count: o * cg * kh * kw)
    for oc in 0..<o { for ic in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
        var acc = 0.0
        for ni in 0..<n { for oy in 0..<ho { for ox in 0..<wo {
            let iy = oy * s.0 - p.0 + ky * d.0, ix = ox * s.1 - p.1 + kx * d.1
            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
            acc += Double(rs[((ni * o + oc) * ho + oy) * wo + ox]) * Double(xs[((ni * c + oc / og * cg + ic) * h + iy) * wd + ix])
        } } }
        out[((oc * cg + ic) * kh + ky) * kw + kx] = Float(acc)
    } } } }
    return Tensor(out, shape: weightShape)
}

/// conv_transpose2d by definition (scatter): every input element adds x · w[ic, oc, ky, kx] at
/// out[n, g·cog + oc, iy·s − p + ky·d, ix·s − p + kx·d] when that lies inside the output.
func referenceConvTranspose2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: (Int, Int), padding p: (Int, Int),
                              outputPadding op: (Int, Int), dilation d: (Int, Int), groups: Int) -> Tensor {
    let (xs, ws, bs) = (x.scalars, w.scalars, b?.scalars)
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cog, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
    let (cig, cout) = (cin / groups, cog * groups)
    let ho = (h - 1) * s.0 - 2 * p.0 + d.0 * (kh - 1) + op.0 + 1, wo = (wd - 1) * s.1 - 2 * p.1 + d.1 * (kw - 1) + op.1 + 1
    var out = [Double](repeating: 0, count: n * cout * ho * wo)
    for ni in 0..<n { for oc in 0..<cout { for i in 0..<(ho * wo) { out[(ni * cout + oc) * ho * wo + i] = Double(bs?[oc] ?? 0) } } }
    for ni in 0..<n { for ic in 0..<cin { for iy in 0..<h { for ix in 0..<wd {
        let v = Double(xs[((ni * cin + ic) * h + iy) * wd + ix])
        let g = ic / cig
        for oc in 0..<cog { for ky in 0..<kh { for kx in 0..<kw {
            let oy = iy * s.0 - p.0 + ky * d.0, ox = ix * s.1 - p.1 + kx * d.1
            guard oy >= 0, oy < ho, ox >= 0, ox < wo else { continue }
            out[((ni * cout + g * cog + oc) * ho + oy) * wo + ox] += v * Double(ws[((ic * cog + oc) * kh + ky) * kw + kx])
        } } }
    } } } }
    return Tensor(out.map(Float.init), shape: [n, cout, ho, wo])
}

/// Largest |a − b| relative to max(1, largest |b|); shapes must match.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    let (av, bv) = (a.scalars, b.scalars)
    let scale = Swift.max(1, bv.map { Swift.abs($0) }.max() ?? 0)
    return zip(av, bv).map { Swift.abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

func dot(_ a: Tensor, _ b: Tensor) -> Double { zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

// MARK: - Configurations

struct ConvConfig: Sendable, CustomTestStringConvertible {
    var batch, cin, cout, groups: Int
    var size: (Int, Int), kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    var outputPadding = (0, 0)
    var testDescription: String {
        "N\(batch) \(cin)→\(cout) g\(groups) in \(size) k\(kernel) s\(stride) p\(padding) d\(dilation)"
            + (outputPadding == (0, 0) ? "" : " op\(outputPadding)")
    }

    /// conv2d configurations with a positive output size.
    static let conv2dGrid: [ConvConfig] = {
        var out: [ConvConfig] = []
        for batch in [1, 3] { for (cin, cout, groups) in [(3, 4, 1), (4, 6, 2), (4, 4, 4)] {
            for kernel in [(1, 1), (3, 3), (2, 3)] { for stride in [(1, 1), (2, 2), (2, 1)] {
                for padding in [(0, 0), (1, 1), (2, 1)] { for dilation in [(1, 1), (2, 2), (1, 2)] {
                    let size = (7, 6)
                    guard size.0 + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1 >= 0,
                          size.1 + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1 >= 0 else { continue }
                    out.append(ConvConfig(batch: batch, cin: cin, cout: cout, groups: groups, size: size, kernel: kernel,
                                          stride: stride, padding: padding, dilation: dilation))
                } }
            } }
        } }
        return out
    }()

    /// convTranspose2d configurations (outputPadding < max(stride, dilation), positive output size).
    static let convTransposeGrid: [ConvConfig] = {
        var out: [ConvConfig] = []
        for batch in [1, 3] { for (cin, cout, groups) in [(4, 3, 1), (4, 6, 2)] {
            for kernel in [(1, 1), (3, 3), (2, 3)] { for stride in [(1, 1), (2, 2), (3, 2)] {
                for padding in [(0, 0), (1, 1), (1, 0)] { for dilation in [(1, 1), (2, 1)] { for op in [(0, 0), (1, 1)] {
                    let size = (4, 3)
                    guard op.0 < Swift.max(stride.0, dilation.0), op.1 < Swift.max(stride.1, dilation.1) else { continue }
                    let ho = (size.0 - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kernel.0 - 1) + op.0 + 1
                    let wo = (size.1 - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kernel.1 - 1) + op.1 + 1
                    guard ho > 0, wo > 0 else { continue }
                    out.append(ConvConfig(batch: batch, cin: cin, cout: cout, groups: groups, size: size, kernel: kernel,
                                          stride: stride, padding: padding, dilation: dilation, outputPadding: op))
                } } }
            } }
        } }
        return out
    }()
}

/// Runs `body` with the default column budget, with one sample per chunk, and with chunks of two samples
/// (so a batch of 3 mixes multi-sample and single-sample chunks).
func underChunkings(perSample: Int, _ body: () -> Void) {
    body()
    ConvKernels.$columnBudget.withValue(1) { body() }
    ConvKernels.$columnBudget.withValue(2 * perSample) { body() }
}

// MARK: - Tests

@Suite("Convolution against direct references")
struct ConvolutionTests {
    @Test("conv2d forward and backward match the nested-loop reference", arguments: ConvConfig.conv2dGrid)
    func conv2dMatchesReference(_ c: ConvConfig) {
        let x = testInput([c.batch, c.cin, c.size.0, c.size.1], seed: 11)
        let w = testInput([c.cout, c.cin / c.groups, c.kernel.0, c.kernel.1], seed: 12)
        let b = testInput([c.cout], seed: 13)
        let ref = referenceConv2d(x, w, b, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let r = testInput(ref.shape, seed: 14)
        // Gradients of Σ conv(x)·r: dx is the transposed convolution of r, dw a correlation of x with r, db Σ r.
        let op = (c.size.0 - ((ref.shape[2] - 1) * c.stride.0 - 2 * c.padding.0 + c.dilation.0 * (c.kernel.0 - 1) + 1),
                  c.size.1 - ((ref.shape[3] - 1) * c.stride.1 - 2 * c.padding.1 + c.dilation.1 * (c.kernel.1 - 1) + 1))
        let refGx = referenceConvTranspose2d(r, w, nil, stride: c.stride, padding: c.padding, outputPadding: op, dilation: c.dilation, groups: c.groups)
        let refGw = referenceConv2dWeightGrad(x, r, weightShape: w.shape, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let refGb = r.sum(axes: [0, 2, 3])
        #expect(refGx.shape == x.shape)

        let perSample = Swift.max(c.cin / c.groups * c.kernel.0 * c.kernel.1, c.cout) * ref.shape[2] * ref.shape[3]
        underChunkings(perSample: perSample) {
            let (xl, wl, bl) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
            let y = xl.conv2d(weight: wl, bias: bl, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            #expect(relativeError(y, ref) < 1e-5, "forward \(c.testDescription)")
            (y * r).sum().backward()
            #expect(relativeError(xl.grad!, refGx) < 1e-5, "grad input \(c.testDescription)")
            #expect(relativeError(wl.grad!, refGw) < 1e-5, "grad weight \(c.testDescription)")
            #expect(relativeError(bl.grad!, refGb) < 1e-5, "grad bias \(c.testDescription)")
        }
    }

    @Test("convTranspose2d forward and backward match the scatter reference", arguments: ConvConfig.convTransposeGrid)
    func convTransposeMatchesReference(_ c: ConvConfig) {
        let x = testInput([c.batch, c.cin, c.size.0, c.size.1], seed: 21)
        let w = testInput([c.cin, c.cout / c.groups, c.kernel.0, c.kernel.1], seed: 22)
        let b = testInput([c.cout], seed: 23)
        let ref = referenceConvTranspose2d(x, w, b, stride: c.stride, padding: c.padding, outputPadding: c.outputPadding,
                                           dilation: c.dilation, groups: c.groups)
        let r = testInput(ref.shape, seed: 24)
        // Σ convT(x)·r: dx is the convolution of r with w; dw[ic, oc] correlates r (as the image) with x.
        let refGx = referenceConv2d(r, w, nil, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let refGw = referenceConv2dWeightGrad(r, x, weightShape: w.shape, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        #expect(refGx.shape == x.shape)

        let perSample = Swift.max(c.cout / c.groups * c.kernel.0 * c.kernel.1, c.cin) * c.size.0 * c.size.1
        underChunkings(perSample: perSample) {
            let (xl, wl, bl) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
            let y = xl.convTranspose2d(weight: wl, bias: bl, stride: c.stride, padding: c.padding, outputPadding: c.outputPadding,
                                       dilation: c.dilation, groups: c.groups)
            #expect(relativeError(y, ref) < 1e-5, "forward \(c.testDescription)")
            (y * r).sum().backward()
            #expect(relativeError(xl.grad!, refGx) < 1e-5, "grad input \(c.testDescription)")
            #expect(relativeError(wl.grad!, refGw) < 1e-5, "grad weight \(c.testDescription)")
            #expect(relativeError(bl.grad!, r.sum(axes: [0, 2, 3])) < 1e-5, "grad bias \(c.testDescription)")
        }
    }

    @Test("convTranspose2d is the adjoint of conv2d: <conv(x), y> = <x, convT(y)>")
    func adjoint() {
        let configs: [ConvConfig] = [
            ConvConfig(batch: 2, cin: 3, cout: 4, groups: 1, size: (7, 6), kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1)),
            ConvConfig(batch: 2, cin: 4, cout: 6, groups: 2, size: (8, 7), kernel: (3, 2), stride: (2, 3), padding: (1, 0), dilation: (1, 2)),
            ConvConfig(batch: 1, cin: 3, cout: 3, groups: 3, size: (9, 9), kernel: (3, 3), stride: (2, 2), padding: (2, 2), dilation: (2, 2)),
            ConvConfig(batch: 3, cin: 2, cout: 5, groups: 1, size: (6, 5), kernel: (4, 4), stride: (2, 2), padding: (1, 1), dilation: (1, 1)),
        ]
        for c in configs {
            let x = testInput([c.batch, c.cin, c.size.0, c.size.1], seed: 31)
            let w = testInput([c.cout, c.cin / c.groups, c.kernel.0, c.kernel.1], seed: 32)
            let cx = x.conv2d(weight: w, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            let y = testInput(cx.shape, seed: 33)
            // Output padding recovers the exact input size that conv2d rounded down.
            let op = (c.size.0 - ((cx.shape[2] - 1) * c.stride.0 - 2 * c.padding.0 + c.dilation.0 * (c.kernel.0 - 1) + 1),
                      c.size.1 - ((cx.shape[3] - 1) * c.stride.1 - 2 * c.padding.1 + c.dilation.1 * (c.kernel.1 - 1) + 1))
            let ty = y.convTranspose2d(weight: w, stride: c.stride, padding: c.padding, outputPadding: op, dilation: c.dilation, groups: c.groups)
            #expect(ty.shape == x.shape, "\(c.testDescription)")
            let (lhs, rhs) = (dot(cx, y), dot(x, ty))
            #expect(Swift.abs(lhs - rhs) <= 1e-4 * Swift.max(1, Swift.abs(lhs)), "\(c.testDescription): \(lhs) vs \(rhs)")
        }
    }

    @Test("only the inputs that need a gradient receive one")
    func partialGradients() {
        let x = testInput([2, 2, 4, 4]), w = testInput([3, 2, 3, 3], seed: 2), b = testInput([3], seed: 3)
        let wl = w.requiringGrad()
        let y = x.conv2d(weight: wl, bias: b, padding: 1)
        #expect(y.requiresGrad)
        y.sum().backward()
        let ref = referenceConv2dWeightGrad(x, Tensor.ones(y.shape), weightShape: w.shape, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        #expect(relativeError(wl.grad!, ref) < 1e-5)

        let bl = b.requiringGrad()
        x.convTranspose2d(weight: testInput([2, 3, 3, 3], seed: 4), bias: bl, stride: 2).sum().backward()
        #expect(bl.grad?.scalars == [Float](repeating: 2 * 9 * 9, count: 3))

        let xl = x.requiringGrad()
        withNoGrad { #expect(!xl.conv2d(weight: w).requiresGrad) }
        #expect(!x.conv2d(weight: w).requiresGrad)
    }

    @Test("empty batch and strided inputs")
    func edgeCases() {
        let w = testInput([3, 2, 3, 3], seed: 2)
        let empty = Tensor.zeros([0, 2, 5, 5]).requiringGrad()
        let wl = w.requiringGrad()
        let y = empty.conv2d(weight: wl, padding: 1)
        #expect(y.shape == [0, 3, 5, 5])
        y.sum().backward()
        #expect(wl.grad?.scalars == [Float](repeating: 0, count: w.count))
        #expect(empty.grad?.shape == [0, 2, 5, 5])

        // A non-contiguous input (NHWC storage viewed as NCHW) gives the same result as its contiguous copy.
        let nhwc = testInput([2, 5, 6, 2], seed: 5)
        let view = nhwc.permuted([0, 3, 1, 2])
        #expect(!view.isContiguous)
        #expect(relativeError(view.conv2d(weight: w, stride: 2), view.contiguous().conv2d(weight: w, stride: 2)) == 0)
    }
}

// MARK: - Pooling and upsampling, against values worked out by hand

@Suite("Pooling and upsampling")
struct SamplingTests {
    /// [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]] as [1, 1, 4, 4].
    let grid = Tensor.arange(0, 16).reshaped([1, 1, 4, 4])

    func close(_ a: [Float], _ b: [Float], _ tol: Float = 1e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { Swift.abs($0 - $1) <= tol }
    }

    @Test func avgPoolValues() {
        #expect(grid.avgPool2d(kernel: 2).scalars == [2.5, 4.5, 10.5, 12.5])
        // 3×3 windows at stride 2 with padding 1: the padding zeros count in the divisor (count_include_pad).
        // Windows: rows/cols {0,1} → 0+1+4+5; rows {0,1} cols {1,2,3} → 24; rows {1,2,3} cols {0,1} → 51; 5+…+15 → 90.
        let p = grid.avgPool2d(kernel: 3, stride: 2, padding: 1)
        #expect(p.shape == [1, 1, 2, 2])
        let expected: [Float] = [10 / 9, 24 / 9, 51 / 9, 90 / 9]
        #expect(close(p.scalars, expected))
        // Rectangular 1×2 windows with stride (1, 2): pairwise means along each row.
        #expect(grid.avgPool2d(kernel: (1, 2), stride: (1, 2)).scalars == [0.5, 2.5, 4.5, 6.5, 8.5, 10.5, 12.5, 14.5])
        // Stride 1, 2×2 windows: 3×3 output.
        #expect(grid.avgPool2d(kernel: 2, stride: 1).scalars == [2.5, 3.5, 4.5, 6.5, 7.5, 8.5, 10.5, 11.5, 12.5])
        // Batch and channels are pooled independently.
        let two = Tensor.concatForTests(grid.reshaped([16])).reshaped([16, 2]).transposed().reshaped([1, 2, 4, 4])
        #expect(two.avgPool2d(kernel: 4).scalars == [7.5, 7])
    }

    @Test func avgPoolGradient() {
        let x = grid.requiringGrad()
        x.avgPool2d(kernel: 3, stride: 2, padding: 1).sum().backward()
        // Each pixel gets 1/9 per window covering it: rows and columns 0–3 are covered by 1, 2, 1, 1 windows.
        let cover: [Float] = [1, 2, 1, 1]
        let expected: [Float] = cover.flatMap { r in cover.map { r * $0 / 9 } }
        #expect(close(x.grad!.scalars, expected))
    }

    @Test func nearestValues() {
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let y = x.upsampleNearest2d(scale: 2)
        #expect(y.shape == [1, 1, 4, 4])
        #expect(y.scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        let fives = [Float](repeating: 5, count: 9), sixes = [Float](repeating: 6, count: 9)
        #expect(Tensor([5, 6], shape: [1, 2, 1, 1]).upsampleNearest2d(scale: 3).scalars == fives + sixes)
        let xl = x.requiringGrad()
        (xl.upsampleNearest2d(scale: 2) * Tensor.arange(0, 16).reshaped([1, 1, 4, 4])).sum().backward()
        // Block sums of the weights: 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15.
        #expect(xl.grad?.scalars == [10, 18, 42, 50])
    }

    @Test func bilinearHalfPixel() {
        // PyTorch: interpolate([[1, 2], [3, 4]], scale_factor=2, mode="bilinear", align_corners=False).
        // Source coordinates (i + ½)/2 − ½ = −¼ (clamped to 0), ¼, ¾, 1¼ (clamped tap) give weights 0, ¼, ¾, 1
        // along each axis, so v = 1 + 2·row + col with row, col ∈ {0, ¼, ¾, 1}.
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let y = x.upsampleBilinear2d(scale: 2)
        #expect(y.shape == [1, 1, 4, 4])
        let expected: [Float] = [1.00, 1.25, 1.75, 2.00,
                                 1.50, 1.75, 2.25, 2.50,
                                 2.50, 2.75, 3.25, 3.50,
                                 3.00, 3.25, 3.75, 4.00]
        #expect(close(y.scalars, expected))
        // An explicit size equal to 2× is the same resampling.
        #expect(close(x.upsampleBilinear2d(size: (4, 4)).scalars, y.scalars))
        // Downsampling a row [0, 1, 2, 3] to 3: source (i + ½)·4/3 − ½ = 1/6, 3/2, 17/6.
        let row = Tensor.arange(0, 4).reshaped([1, 1, 1, 4])
        let down: [Float] = [1 / 6, 1.5, 17 / 6]
        #expect(close(row.upsampleBilinear2d(size: (1, 3)).scalars, down))
        // Every input pixel's weights sum to scale² = 4 here (the border taps are clamped, not dropped).
        let xl = x.requiringGrad()
        xl.upsampleBilinear2d(scale: 2).sum().backward()
        #expect(close(xl.grad!.scalars, [4, 4, 4, 4]))
    }

    @Test func bilinearAlignCorners() {
        // PyTorch: the same input with align_corners=True; source i·(2 − 1)/(4 − 1) = 0, ⅓, ⅔, 1.
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let third: Float = 1 / 3
        let y = x.upsampleBilinear2d(scale: 2, alignCorners: true)
        let expected: [Float] = [1, 1 + third, 1 + 2 * third, 2,
                                 1 + 2 * third, 2, 2 + third, 2 + 2 * third,
                                 2 + third, 2 + 2 * third, 3, 3 + third,
                                 3, 3 + third, 3 + 2 * third, 4]
        #expect(close(y.scalars, expected))
        // Downsampling [0, 1, 2, 3] to 3 with corners aligned: source i·3/2 = 0, 1.5, 3.
        let row = Tensor.arange(0, 4).reshaped([1, 1, 1, 4])
        #expect(close(row.upsampleBilinear2d(size: (1, 3), alignCorners: true).scalars, [0, 1.5, 3]))
        // One output pixel with aligned corners samples the first input pixel.
        #expect(row.upsampleBilinear2d(size: (1, 1), alignCorners: true).scalars == [0])
    }
}

// MARK: - Bad input stops with a message naming the shapes and parameters

@Suite("Convolution and sampling: preconditions")
struct ConvolutionPreconditionTests {
    func expectFailure(_ needle: String, _ result: ExitTest.Result?) {
        let err = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(err.contains(needle), "message: \(err)")
    }

    @Test func channelsNotDivisibleByGroups() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 3, 5, 5]).conv2d(weight: Tensor.zeros([4, 1, 3, 3]), groups: 2)
        }
        expectFailure("input [1, 3, 5, 5], weight [4, 1, 3, 3]", r)
    }

    @Test func kernelLargerThanInput() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 1, 2, 2]).conv2d(weight: Tensor.zeros([1, 1, 3, 3]), dilation: 2)
        }
        expectFailure("output size", r)
    }

    @Test func nonPositiveStride() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 2, 4, 4]).convTranspose2d(weight: Tensor.zeros([2, 2, 3, 3]), stride: 0)
        }
        expectFailure("stride must be positive", r)
    }

    @Test func wrongRank() async {
        let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 4, 4]).avgPool2d(kernel: 2)
        }
        expectFailure("avgPool2d(input [2, 4, 4]", r)
    }
}
