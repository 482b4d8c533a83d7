import CKernels
import Testing
@testable import DiffusionEngine

/// The direct kernels for stride-1 "same" convolutions (conv_same.c) against the nested-loop references of
/// ConvolutionTests.swift, against the column path, and across thread counts.
@Suite("Direct stride-1 convolution kernels")
struct DirectConvTests {
    static let available = ConvKernels.directSameAvailable
    static let skipReason: Comment = "no AVX-512 on this CPU (or DIFFUSIONLAB_GEMM forces another path): conv2d uses the column path"

    /// Shapes chosen to reach every edge: image sizes that are and are not multiples of 16 positions (vectors that
    /// end inside an image, tiles spanning images), output channels not a multiple of 8, more input than output
    /// channels and the reverse (the weight gradient vectorises the larger side), one channel on either side, 1×1,
    /// rectangular and dilated kernels, batch 1.
    struct Shape: Sendable, CustomTestStringConvertible {
        var n, c, o, h, w, kh, kw, dh, dw: Int
        var padding: (Int, Int) { (dh * (kh - 1) / 2, dw * (kw - 1) / 2) }
        var testDescription: String { "N\(n) \(c)→\(o) \(h)×\(w) k\(kh)×\(kw) d\(dh)×\(dw)" }
    }

    static let shapes: [Shape] = [
        Shape(n: 2, c: 32, o: 32, h: 16, w: 16, kh: 3, kw: 3, dh: 1, dw: 1),   // W2's 16×16 level
        Shape(n: 3, c: 24, o: 40, h: 8, w: 8, kh: 3, kw: 3, dh: 1, dw: 1),    // 8×8: four vectors per image
        Shape(n: 3, c: 5, o: 13, h: 7, w: 9, kh: 3, kw: 3, dh: 1, dw: 1),     // 63 positions, 13 = 8 + 5 channels
        Shape(n: 1, c: 1, o: 32, h: 16, w: 16, kh: 3, kw: 3, dh: 1, dw: 1),   // the input layer
        Shape(n: 2, c: 32, o: 1, h: 16, w: 16, kh: 3, kw: 3, dh: 1, dw: 1),   // the output layer
        Shape(n: 2, c: 40, o: 20, h: 8, w: 8, kh: 1, kw: 1, dh: 1, dw: 1),    // 1×1
        Shape(n: 2, c: 20, o: 70, h: 5, w: 6, kh: 1, kw: 1, dh: 1, dw: 1),    // 1×1, 30 positions, 70 outputs
        Shape(n: 2, c: 7, o: 9, h: 6, w: 11, kh: 3, kw: 5, dh: 1, dw: 1),     // rectangular kernel
        Shape(n: 2, c: 6, o: 10, h: 9, w: 7, kh: 3, kw: 3, dh: 2, dw: 2),     // dilation 2, padding 2
        Shape(n: 1, c: 3, o: 4, h: 4, w: 4, kh: 5, kw: 5, dh: 1, dw: 1),      // kernel larger than half the image
        Shape(n: 2, c: 50, o: 17, h: 4, w: 12, kh: 3, kw: 1, dh: 2, dw: 1),   // 50 = 48 + 2 vector channels
    ]

    @Test("conv2d forward, input and weight gradients match the nested-loop reference",
          .enabled(if: available, skipReason), arguments: shapes)
    func matchesReference(_ s: Shape) {
        #expect(ConvKernels.usesDirectSame(geometry(s)))
        let x = testInput([s.n, s.c, s.h, s.w], seed: 41)
        let w = testInput([s.o, s.c, s.kh, s.kw], seed: 42)
        let b = testInput([s.o], seed: 43)
        let (stride, dilation) = ((1, 1), (s.dh, s.dw))
        let ref = referenceConv2d(x, w, b, stride: stride, padding: s.padding, dilation: dilation, groups: 1)
        let r = testInput(ref.shape, seed: 44)
        let refGx = referenceConvTranspose2d(r, w, nil, stride: stride, padding: s.padding, outputPadding: (0, 0), dilation: dilation, groups: 1)
        let refGw = referenceConv2dWeightGrad(x, r, weightShape: w.shape, stride: stride, padding: s.padding, dilation: dilation, groups: 1)

        let (xl, wl, bl) = (x.requiringGrad(), w.requiringGrad(), b.requiringGrad())
        let y = xl.conv2d(weight: wl, bias: bl, stride: stride, padding: s.padding, dilation: dilation)
        #expect(relativeError(y, ref) < 1e-5, "forward \(s.testDescription)")
        (y * r).sum().backward()
        #expect(relativeError(xl.grad!, refGx) < 1e-5, "grad input \(s.testDescription)")
        #expect(relativeError(wl.grad!, refGw) < 1e-5, "grad weight \(s.testDescription)")
        #expect(relativeError(bl.grad!, r.sum(axes: [0, 2, 3])) < 1e-5, "grad bias \(s.testDescription)")
    }

    @Test("stride-1 convTranspose2d with same padding (direct kernels) matches the scatter reference",
          .enabled(if: available, skipReason))
    func transposeMatchesReference() {
        let x = testInput([2, 12, 8, 8], seed: 51), w = testInput([12, 20, 3, 3], seed: 52), b = testInput([20], seed: 53)
        let ref = referenceConvTranspose2d(x, w, b, stride: (1, 1), padding: (1, 1), outputPadding: (0, 0), dilation: (1, 1), groups: 1)
        let r = testInput(ref.shape, seed: 54)
        let (xl, wl) = (x.requiringGrad(), w.requiringGrad())
        let y = xl.convTranspose2d(weight: wl, bias: b, padding: 1)
        #expect(relativeError(y, ref) < 1e-5)
        (y * r).sum().backward()
        let refGx = referenceConv2d(r, w, nil, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        let refGw = referenceConv2dWeightGrad(r, x, weightShape: w.shape, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        #expect(relativeError(xl.grad!, refGx) < 1e-5)
        #expect(relativeError(wl.grad!, refGw) < 1e-5)
    }

    @Test("the direct kernels agree with the column path", .enabled(if: available, skipReason))
    func agreesWithColumnPath() {
        let s = Shape(n: 4, c: 48, o: 24, h: 16, w: 16, kh: 3, kw: 3, dh: 1, dw: 1)
        let x = testInput([s.n, s.c, s.h, s.w], seed: 61), w = testInput([s.o, s.c, 3, 3], seed: 62, scale: 0.1)
        let r = testInput([s.n, s.o, s.h, s.w], seed: 63)
        func run() -> (Tensor, Tensor, Tensor) {
            let (xl, wl) = (x.requiringGrad(), w.requiringGrad())
            let y = xl.conv2d(weight: wl, padding: 1)
            (y * r).sum().backward()
            return (y, xl.grad!, wl.grad!)
        }
        let direct = run()
        let columns = ConvKernels.$directSame.withValue(false) { run() }
        #expect(relativeError(direct.0, columns.0) < 1e-5)
        #expect(relativeError(direct.1, columns.1) < 1e-5)
        #expect(relativeError(direct.2, columns.2) < 1e-5)
    }

    @Test("bit-identical on 1 and 2 threads", .enabled(if: available, skipReason))
    func threadsAgree() {
        print("DirectConvTests: direct AVX-512 convolution kernels under test (1 vs 2 threads)")
        for s in [Self.shapes[0], Self.shapes[1], Self.shapes[2], Shape(n: 9, c: 64, o: 128, h: 8, w: 8, kh: 3, kw: 3, dh: 1, dw: 1)] {
            let x = testInput([s.n, s.c, s.h, s.w], seed: 71), w = testInput([s.o, s.c, s.kh, s.kw], seed: 72)
            let b = testInput([s.o], seed: 73), gy = testInput([s.n, s.o, s.h, s.w], seed: 74)
            func run(_ threads: Int32) -> [[UInt32]] {
                var y = [Float](repeating: 0, count: s.n * s.o * s.h * s.w)
                var gx = [Float](repeating: 0, count: s.n * s.c * s.h * s.w)
                var gw = [Float](repeating: 0, count: s.o * s.c * s.kh * s.kw)
                withExtendedLifetime((x, w, b, gy)) {
                    dl_conv_same_forward(threads, s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.dh, s.dw, x.pointer, w.pointer, b.pointer, &y)
                    dl_conv_same_backward_input(threads, s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.dh, s.dw, gy.pointer, w.pointer, &gx)
                    dl_conv_same_backward_weight(threads, s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.dh, s.dw, x.pointer, gy.pointer, &gw)
                }
                return [y, gx, gw].map { $0.map(\.bitPattern) }
            }
            let one = run(1), two = run(2)
            #expect(one[0] == two[0], "forward \(s.testDescription)")
            #expect(one[1] == two[1], "grad input \(s.testDescription)")
            #expect(one[2] == two[2], "grad weight \(s.testDescription)")
        }
    }

    @Test("stride 2, groups and size-changing padding keep the column path")
    func eligibility() {
        let base = ConvGeometry(n: 1, c: 4, h: 8, w: 8, o: 4, ho: 8, wo: 8, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1)
        #expect(ConvKernels.usesDirectSame(base) == ConvKernels.directSameAvailable)
        var strided = base; strided.sh = 2; strided.sw = 2; strided.ho = 4; strided.wo = 4
        var grouped = base; grouped.groups = 2
        var valid = base; valid.ph = 0; valid.pw = 0; valid.ho = 6; valid.wo = 6
        for g in [strided, grouped, valid] { #expect(!ConvKernels.usesDirectSame(g)) }
        ConvKernels.$directSame.withValue(false) { #expect(!ConvKernels.usesDirectSame(base)) }
    }

    func geometry(_ s: Shape) -> ConvGeometry {
        ConvGeometry(n: s.n, c: s.c, h: s.h, w: s.w, o: s.o, ho: s.h, wo: s.w, kh: s.kh, kw: s.kw, sh: 1, sw: 1,
                     ph: s.padding.0, pw: s.padding.1, dh: s.dh, dw: s.dw, groups: 1)
    }
}
