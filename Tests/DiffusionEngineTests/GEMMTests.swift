import CKernels
import Testing

/// The native AVX-512 GEMM (Sources/CKernels/gemm_avx512.c) against a double-precision reference: every transpose
/// combination, odd sizes around the 8×48 register tile and 16-float vectors (and the dot-product path for narrow C),
/// padded leading dimensions,
/// alpha/beta ∈ {0, 1, 0.5}, empty products, and bit-identical results on 1 and 2 threads.
@Suite("Native AVX-512 GEMM")
struct GEMMTests {
    static let native = dl_gemm_native_available() != 0
    static let skipReason: Comment = "this CPU (or OS) lacks AVX-512F/VL, so the native GEMM is not used here and dl_sgemm keeps the BLAS"

    /// One GEMM problem with its own deterministic data; C starts with NaNs where beta = 0 must ignore it.
    struct Problem {
        let transA: Bool, transB: Bool
        let m: Int, n: Int, k: Int
        let alpha: Float, beta: Float
        let lda: Int, ldb: Int, ldc: Int
        let a: [Float], b: [Float], c0: [Float]

        init(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float = 1, beta: Float = 0, pad: Int = 0, seed: UInt64 = 1) {
            self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
            self.alpha = alpha; self.beta = beta
            lda = (transA ? m : k) + pad; ldb = (transB ? k : n) + pad; ldc = n + pad
            var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(m * 1_000_003 + n * 1009 + k)
            func next() -> Float {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
            }
            a = (0..<((transA ? k : m) * lda)).map { _ in next() }
            b = (0..<((transB ? n : k) * ldb)).map { _ in next() }
            var c = (0..<(m * ldc)).map { _ in next() }
            if beta == 0 { for i in stride(from: 0, to: c.count, by: 5) { c[i] = .nan } }
            c0 = c
        }

        func run(threads: Int) -> [Float] {
            var c = c0
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        dl_sgemm_native_threaded(Int32(threads), transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha,
                                                 pa.baseAddress, lda, pb.baseAddress, ldb, beta, pc.baseAddress, ldc)
                    }
                }
            }
            return c
        }

        /// Compares with the double-precision product. The bound is the classical one for a length-k float dot
        /// product (k·u·Σ|αab|, u = 2⁻²⁴) plus the rounding of the scaling, so it can never flake. Padding
        /// columns must be untouched.
        func check(_ got: [Float]) -> Int {
            var bad = 0
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    for i in 0..<m {
                        for j in 0..<ldc {
                            let old = c0[i * ldc + j], value = got[i * ldc + j]
                            if j >= n {
                                if !(value == old || (value.isNaN && old.isNaN)) { bad += 1 }
                                continue
                            }
                            var s = 0.0, sAbs = 0.0
                            for p in 0..<k {
                                let x = Double(transA ? a[p * lda + i] : a[i * lda + p])
                                let y = Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                                s += x * y
                                sAbs += Swift.abs(x * y)
                            }
                            let scaled = beta == 0 ? 0 : Double(beta) * Double(old)
                            let want = Double(alpha) * s + scaled
                            let bound = (Double(k) + 4) * 1.2e-7 * (Swift.abs(Double(alpha)) * sAbs + Swift.abs(scaled)) + 1e-30
                            if !(Swift.abs(Double(value) - want) <= bound) {
                                if bad < 3 {
                                    Issue.record("\(transA ? "T" : "N")\(transB ? "T" : "N") m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta) ld+\(ldc - n): C[\(i),\(j)] = \(value), want \(want)")
                                }
                                bad += 1
                            }
                        }
                    }
                }
            }
            return bad
        }
    }

    static let sizes = [1, 3, 15, 17, 31, 33, 63, 65, 127, 129]
    static let scales: [(Float, Float)] = [(1, 0), (1, 1), (0.5, 0.5), (1, 0.5), (0.5, 0), (0.5, 1), (0, 0), (0, 1), (0, 0.5)]

    @Test("odd sizes, every transpose combination, alpha/beta, padded leading dimensions",
          .enabled(if: GEMMTests.native, GEMMTests.skipReason), arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matchesReference(transA: Bool, transB: Bool) {
        print("GEMMTests: native AVX-512 GEMM under test (\(transA ? "T" : "N")\(transB ? "T" : "N"))")
        var count = 0, bad = 0
        for (i, m) in Self.sizes.enumerated() {
            for (j, n) in Self.sizes.enumerated() {
                // Two depths per (m, n), cycling through all sizes, and every alpha/beta pair in turn.
                for k in [Self.sizes[(i + 2 * j) % Self.sizes.count], Self.sizes[(3 * i + j + 5) % Self.sizes.count]] {
                    let (alpha, beta) = Self.scales[count % Self.scales.count]
                    let p = Problem(transA, transB, m, n, k, alpha: alpha, beta: beta, pad: count % 3 == 0 ? 7 : 0, seed: UInt64(count))
                    bad += p.check(p.run(threads: 1))
                    count += 1
                }
            }
        }
        #expect(bad == 0, "\(bad) wrong elements in \(count) products")
    }

    @Test("blocked shapes: K split into blocks, wide N, tall M, the models' shapes",
          .enabled(if: GEMMTests.native, GEMMTests.skipReason))
    func largerShapes() {
        print("GEMMTests: native AVX-512 GEMM under test (larger shapes)")
        let shapes: [(Bool, Bool, Int, Int, Int)] = [
            (false, false, 100, 300, 800), (true, true, 129, 97, 1000), (false, true, 32, 288, 1792), (true, false, 288, 700, 32),
            (false, false, 512, 2, 256), (false, true, 1, 288, 777), (true, false, 7, 1100, 9), (false, false, 1, 1792, 288),
            // Narrow C (dot products along k): N < 16 or one row with B transposed.
            (false, true, 32, 9, 5000), (false, false, 70, 15, 300), (false, true, 2, 100, 1000), (false, false, 45, 1, 16),
        ]
        for (n, (ta, tb, m, nn, k)) in shapes.enumerated() {
            let (alpha, beta) = Self.scales[n % 3]
            let p = Problem(ta, tb, m, nn, k, alpha: alpha, beta: beta, pad: n % 2 == 0 ? 3 : 0, seed: 99)
            #expect(p.check(p.run(threads: 1)) == 0)
        }
    }

    @Test("empty products: M or N = 0 touch nothing, K = 0 scales C by beta",
          .enabled(if: GEMMTests.native, GEMMTests.skipReason))
    func emptyProducts() {
        for (m, n) in [(0, 5), (5, 0), (0, 0)] {
            let p = Problem(false, false, m, n, 4, alpha: 1, beta: 0.5, pad: 2)
            #expect(p.run(threads: 2) == p.c0)
        }
        let cases: [(Float, (Float) -> Float)] = [(0, { _ in 0 }), (1, { $0 }), (0.5, { $0 * 0.5 })]
        for (beta, expected) in cases {
            for (ta, tb) in [(false, false), (true, true)] {
                let p = Problem(ta, tb, 5, 19, 0, alpha: 1, beta: beta, pad: 3)
                let got = p.run(threads: 1)
                for i in 0..<5 {
                    for j in 0..<19 { #expect(got[i * p.ldc + j] == expected(p.c0[i * p.ldc + j])) }
                    for j in 19..<p.ldc { #expect(got[i * p.ldc + j].bitPattern == p.c0[i * p.ldc + j].bitPattern) }
                }
            }
        }
    }

    @Test("bit-identical on 1 and 2 threads (C cut into tiles for the pool)",
          .enabled(if: GEMMTests.native, GEMMTests.skipReason))
    func threadsAgree() {
        print("GEMMTests: native AVX-512 GEMM under test (1 vs 2 threads)")
        let shapes: [(Bool, Bool, Int, Int, Int)] = [
            (false, false, 512, 256, 256), (true, false, 256, 256, 512), (false, true, 512, 256, 192), (true, true, 129, 257, 900),
            (false, false, 64, 832, 576), (false, true, 64, 576, 832), (true, false, 576, 832, 64), (false, false, 64, 64, 64),
            (false, false, 33, 1000, 1300), (false, false, 1, 1792, 288), (false, false, 512, 2, 256), (false, true, 32, 9, 3000),
        ]
        var split = 0
        for (n, (ta, tb, m, nn, k)) in shapes.enumerated() {
            let (alpha, beta) = Self.scales[n % 3]
            let p = Problem(ta, tb, m, nn, k, alpha: alpha, beta: beta, pad: n % 2, seed: 7)
            let one = p.run(threads: 1)
            #expect(dl_gemm_native_last_tiles() == 1)
            // The pool serves one GEMM at a time (other tests may hold it): retry until this product is split.
            var two = p.run(threads: 2)
            for _ in 0..<20 where dl_gemm_native_last_tiles() < 2 { two = p.run(threads: 2) }
            if dl_gemm_native_last_tiles() >= 2 { split += 1 }
            #expect(one.map(\.bitPattern) == two.map(\.bitPattern), "\(ta ? "T" : "N")\(tb ? "T" : "N") \(m)×\(nn)×\(k) differs between 1 and 2 threads")
            #expect(p.check(two) == 0)
        }
        #expect(split >= shapes.count - 2, "only \(split) of \(shapes.count) products were split across threads")
    }

    @Test("dl_sgemm takes the native kernel on this CPU unless DIFFUSIONLAB_GEMM says otherwise",
          .enabled(if: GEMMTests.native, GEMMTests.skipReason))
    func dispatch() {
        let forced = getenv("DIFFUSIONLAB_GEMM").map { String(cString: $0) } ?? "auto"
        // "fallback" while another test forces the portable path (dl_blas_force_fallback).
        let name = String(cString: dl_blas_name())
        if forced == "auto" || forced == "native" || forced.isEmpty {
            #expect(name.hasPrefix("native AVX-512") || name == "fallback", "GEMM in use: \(name)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
