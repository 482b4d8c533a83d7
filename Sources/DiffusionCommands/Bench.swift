import ArgumentParser
import CKernels
import DiffusionEngine
import Foundation

/// `diffusion bench …`: measured side by side in one run; timings never go in tests.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: engine kernels against raw BLAS and the machine's peak.",
        subcommands: [EngineBench.self, ConvBench.self, OverheadBench.self, TrainBench.self, WorkloadBench.self],
        defaultSubcommand: EngineBench.self
    )
}

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "engine", abstract: "GEMM GFLOP/s through our API vs raw BLAS; element-wise GB/s.")

    @Option(help: "Repetitions per measurement (the median is reported).") var repeats: Int = 7
    @Flag(help: "Write the results as JSON to standard output.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be in 1…1000, got \(repeats)") }
    }

    func run() throws {
        compute.apply()
        var report = BenchReport(blas: Engine.blasName, threads: Engine.threads)
        let peak256 = (0..<5).map { _ in dl_peak_fma_gflops(20_000_000) }.sorted()[2] * Double(Engine.threads)
        let peak512 = (0..<5).map { _ in dl_peak_fma512_gflops(10_000_000) }.sorted()[2] * Double(Engine.threads)
        // The native GEMM runs 512-bit FMAs where the CPU has them; OpenBLAS with OPENBLAS_CORETYPE=Haswell runs AVX2.
        let peak = Swift.max(peak256, peak512)
        report.peakGFLOPs = peak
        if !json {
            print("BLAS: \(Engine.blasName); threads: \(Engine.threads)")
            print(String(format: "Measured FMA peak (AVX2 register loop, %d thread%@): %.1f GFLOP/s", Engine.threads, Engine.threads == 1 ? "" : "s", peak256))
            if peak512 > 0 {
                print(String(format: "Measured FMA peak (AVX-512 register loop, %d thread%@): %.1f GFLOP/s (%% of peak below is of this)", Engine.threads, Engine.threads == 1 ? "" : "s", peak512))
            }
            print("\nGEMM (square n×n·n×n), median of \(repeats):")
            print("     n   raw dl_sgemm GFLOP/s   Tensor.matmul GFLOP/s   ratio (median of pairs)   % of peak")
        }
        var rng = RandomGenerator(seed: 1)
        for n in [64, 128, 256, 512, 1024] {
            let a = rng.normal([n, n]), b = rng.normal([n, n])
            let c = Tensor.zeros([n, n])
            let flops = 2.0 * Double(n * n * n)
            let inner = max(1, Int(2e8 / flops))
            // Raw and API runs alternate so machine noise hits both alike; the ratio is the median of pairs.
            var raws: [Double] = [], apis: [Double] = [], ratios: [Double] = []
            _ = a.matmul(b)
            for _ in 0..<repeats {
                let r = time {
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeBufferPointer { pc in
                        let out = UnsafeMutablePointer(mutating: pc.baseAddress!)
                        for _ in 0..<inner { dl_sgemm(0, 0, n, n, n, 1, pa.baseAddress, n, pb.baseAddress, n, 0, out, n) }
                    } } }
                } / Double(inner)
                let p = time { for _ in 0..<inner { _ = a.matmul(b) } } / Double(inner)
                raws.append(r); apis.append(p); ratios.append(r / p)
            }
            let raw = raws.sorted()[repeats / 2], api = apis.sorted()[repeats / 2], ratio = ratios.sorted()[repeats / 2]
            let row = GEMMRow(n: n, rawGFLOPs: flops / raw / 1e9, apiGFLOPs: flops / api / 1e9, ratio: ratio)
            report.gemm.append(row)
            if !json {
                print(String(format: "%6d   %18.1f   %21.1f   %23.2f   %8.0f%%", n, row.rawGFLOPs, row.apiGFLOPs, row.ratio, 100 * row.apiGFLOPs / peak))
            }
        }
        if dl_gemm_native_available() != 0 && dl_sgemm_blas(0, 0, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1) != 0 {
            if !json {
                print("\nGEMM by shape class: native AVX-512 kernel vs the loaded BLAS, runs alternating, median of \(repeats):")
                print("  class            op      M      N      K   native GFLOP/s   BLAS GFLOP/s   native/BLAS (median of pairs)")
            }
            for s in GEMMShape.all {
                let row = s.measure(repeats: repeats, rng: &rng)
                report.shapes.append(row)
                if !json {
                    print(String(format: "  %@ %@ %6d %6d %6d   %14.1f   %12.1f   %11.2f", s.label.padding(toLength: 15, withPad: " ", startingAt: 0),
                                 s.op, s.m, s.n, s.k, row.nativeGFLOPs, row.blasGFLOPs, row.ratio))
                }
            }
        }
        if !json { print("\nElement-wise (result allocated by the op, as in real use), median of \(repeats):") }
        for n in [16_384, 65_536, 1 << 20] {
            let x = rng.normal([n]), y = rng.normal([n])
            let inner = max(1, Int(5e7 / Double(n)))
            let add = median(repeats) { for _ in 0..<inner { _ = x + y } } / Double(inner)
            let mul = median(repeats) { for _ in 0..<inner { _ = x * 1.5 } } / Double(inner)
            let silu = median(repeats) { for _ in 0..<inner { _ = x.silu() } } / Double(inner)
            let row = ElementwiseRow(count: n, addGBs: 12.0 * Double(n) / add / 1e9, scaleGBs: 8.0 * Double(n) / mul / 1e9, siluGBs: 8.0 * Double(n) / silu / 1e9)
            report.elementwise.append(row)
            if !json {
                print(String(format: "%9d floats (%@)   a+b %6.1f GB/s   a*s %6.1f GB/s   silu %6.1f GB/s", n, n * 12 <= 1 << 20 ? "in cache" : "beyond L2", row.addGBs, row.scaleGBs, row.siluGBs))
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            print("\nBytes counted: a+b reads 2 and writes 1 float per element; a*s and silu read 1 and write 1.")
        }
    }
}

struct GEMMRow: Codable { let n: Int; let rawGFLOPs: Double; let apiGFLOPs: Double; let ratio: Double }
struct GEMMShapeRow: Codable { let label: String; let op: String; let m: Int; let n: Int; let k: Int; let nativeGFLOPs: Double; let blasGFLOPs: Double; let ratio: Double }

/// A GEMM shape the models use, timed through the native kernel and the loaded BLAS.
struct GEMMShape {
    let label: String
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int
    var op: String { (transA ? "T" : "N") + (transB ? "T" : "N") }

    init(_ label: String, _ op: String, _ m: Int, _ n: Int, _ k: Int) {
        self.label = label; transA = op.hasPrefix("T"); transB = op.hasSuffix("T"); self.m = m; self.n = n; self.k = k
    }

    /// W1 MLP (batch 512) and its gradients, W2 conv-as-GEMM (im2col chunks) and gradients, attention, square, narrow.
    static let all: [GEMMShape] = [
        .init("W1 forward", "NN", 512, 256, 256), .init("W1 forward", "NN", 512, 256, 192),
        .init("W1 grad input", "NT", 512, 256, 256), .init("W1 grad weight", "TN", 256, 256, 512),
        .init("W2 conv", "NN", 32, 1792, 288), .init("W2 conv", "NN", 64, 832, 576), .init("W2 conv", "NN", 64, 448, 1152),
        .init("W2 conv grad w", "NT", 32, 288, 1792), .init("W2 conv grad w", "NT", 64, 576, 832), .init("W2 conv grad w", "NT", 64, 1152, 448),
        .init("W2 conv grad x", "TN", 288, 1792, 32), .init("W2 conv grad x", "TN", 576, 832, 64), .init("W2 conv grad x", "TN", 1152, 448, 64),
        .init("attention", "NN", 64, 64, 64), .init("attention", "NT", 64, 64, 64), .init("attention", "TN", 64, 64, 64),
        .init("square", "NN", 128, 128, 128), .init("square", "NN", 256, 256, 256), .init("square", "NN", 512, 512, 512), .init("square", "NN", 1024, 1024, 1024),
        .init("narrow", "NN", 512, 2, 256), .init("narrow", "NN", 1, 1792, 288), .init("narrow", "NT", 1, 288, 1792),
    ]

    func measure(repeats: Int, rng: inout RandomGenerator) -> GEMMShapeRow {
        let a = rng.normal([m * k]), b = rng.normal([k * n]), c = Tensor.zeros([m * n])
        let (lda, ldb) = (transA ? m : k, transB ? k : n)
        let flops = 2.0 * Double(m * n * k)
        let inner = max(1, Int(1e8 / flops))
        var natives: [Double] = [], blases: [Double] = [], ratios: [Double] = []
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeBufferPointer { pc in
            let out = UnsafeMutablePointer(mutating: pc.baseAddress!)
            let (ta, tb) = (Int32(transA ? 1 : 0), Int32(transB ? 1 : 0))
            let native = { for _ in 0..<inner { dl_sgemm_native(ta, tb, m, n, k, 1, pa.baseAddress, lda, pb.baseAddress, ldb, 0, out, n) } }
            let blas = { for _ in 0..<inner { _ = dl_sgemm_blas(ta, tb, m, n, k, 1, pa.baseAddress, lda, pb.baseAddress, ldb, 0, out, n) } }
            native(); blas()
            for _ in 0..<repeats {
                let tn = time(native) / Double(inner), tb = time(blas) / Double(inner)
                natives.append(tn); blases.append(tb); ratios.append(tb / tn)
            }
        } } }
        let mid = repeats / 2
        return GEMMShapeRow(label: label, op: op, m: m, n: n, k: k, nativeGFLOPs: flops / natives.sorted()[mid] / 1e9,
                            blasGFLOPs: flops / blases.sorted()[mid] / 1e9, ratio: ratios.sorted()[mid])
    }
}
struct ElementwiseRow: Codable { let count: Int; let addGBs: Double; let scaleGBs: Double; let siluGBs: Double }
struct BenchReport: Codable {
    let blas: String
    let threads: Int
    var peakGFLOPs = 0.0
    var gemm: [GEMMRow] = []
    var shapes: [GEMMShapeRow] = []
    var elementwise: [ElementwiseRow] = []
}

/// Wall time of one run of `body`, in seconds.
func time(_ body: () -> Void) -> Double {
    let t0 = dl_now()
    body()
    return dl_now() - t0
}

/// Median wall time in seconds of `repeats` runs of `body` (after one warm-up run).
func median(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let t0 = dl_now()
        body()
        times.append(dl_now() - t0)
    }
    return times.sorted()[times.count / 2]
}

/// The direct stride-1 convolution kernels on W2's layer shapes (batch 64): GFLOP/s of the forward pass, the input
/// gradient and the weight gradient, and the share of the measured AVX-512 FMA peak.
struct ConvBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conv", abstract: "Direct convolution kernels on W2's layer shapes: GFLOP/s and % of peak.")

    @Option(help: "Repetitions per measurement (the median is reported).") var repeats: Int = 7
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be in 1…1000, got \(repeats)") }
    }

    func run() throws {
        compute.apply()
        guard dl_conv_same_available() != 0 else { print("The direct convolution kernels need AVX-512; this CPU has none."); return }
        let threads = Int32(Engine.threads)
        let peak = (0..<5).map { _ in dl_peak_fma512_gflops(10_000_000) }.sorted()[2] * Double(Engine.threads)
        print(String(format: "threads: %d; AVX-512 FMA peak %.1f GFLOP/s", threads, peak))
        print("  layer                    N    C    O     H×W  k   forward GFLOP/s (%)   grad input (%)    grad weight (%)")
        let layers: [(String, Int, Int, Int, Int, Int)] = [
            ("inp", 1, 32, 16, 16, 3), ("d1 conv", 32, 32, 16, 16, 3), ("d2 conv1", 32, 64, 8, 8, 3), ("d2 conv2 / mid", 64, 64, 8, 8, 3),
            ("u2 conv1", 128, 64, 8, 8, 3), ("u1 conv1", 96, 32, 16, 16, 3), ("out", 32, 1, 16, 16, 3),
            ("attention qkv 1×1", 64, 192, 8, 8, 1), ("u2 skip 1×1", 128, 64, 8, 8, 1), ("u1 skip 1×1", 96, 32, 16, 16, 1),
        ]
        var rng = RandomGenerator(seed: 3)
        let n = 64
        for (name, c, o, h, w, k) in layers {
            let x = rng.normal([n, c, h, w]), wt = rng.normal([o, c, k, k]), b = rng.normal([o]), gy = rng.normal([n, o, h, w])
            let y = Tensor.zeros([n, o, h, w]), gx = Tensor.zeros([n, c, h, w]), gw = Tensor.zeros([o, c, k, k])
            let flops = 2.0 * Double(n * o * c * h * w * k * k)
            let inner = max(1, Int(2e8 / flops))
            func rate(_ body: (UnsafeMutablePointer<Float>) -> Void, _ out: Tensor) -> Double {
                out.withUnsafeBufferPointer { p in
                    let dst = UnsafeMutablePointer(mutating: p.baseAddress!)
                    return flops / (median(repeats) { for _ in 0..<inner { body(dst) } } / Double(inner)) / 1e9
                }
            }
            let (fw, gi, gwr): (Double, Double, Double) = x.withUnsafeBufferPointer { px in wt.withUnsafeBufferPointer { pw in
                b.withUnsafeBufferPointer { pb in gy.withUnsafeBufferPointer { pg in
                    (rate({ dl_conv_same_forward(threads, n, c, h, w, o, k, k, 1, 1, px.baseAddress, pw.baseAddress, pb.baseAddress, $0) }, y),
                     rate({ dl_conv_same_backward_input(threads, n, c, h, w, o, k, k, 1, 1, pg.baseAddress, pw.baseAddress, $0) }, gx),
                     rate({ dl_conv_same_backward_weight(threads, n, c, h, w, o, k, k, 1, 1, px.baseAddress, pg.baseAddress, $0) }, gw))
                } }
            } }
            print(String(format: "  %@ %4d %4d %4d %7@  %d   %8.1f (%3.0f%%)   %8.1f (%3.0f%%)   %8.1f (%3.0f%%)", name.padding(toLength: 20, withPad: " ", startingAt: 0),
                         n, c, o, "\(h)×\(w)", k, fw, 100 * fw / peak, gi, 100 * gi / peak, gwr, 100 * gwr / peak))
        }
    }
}

/// Fixed cost per op on tiny tensors: what dominates small-batch sampling loops.
struct OverheadBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "overhead", abstract: "Per-op overhead on one-element tensors, with and without autograd.")
    @Option(help: "Ops per measurement.") var ops: Int = 200_000

    func run() throws {
        Engine.configure(threads: 1)
        let s = Tensor(scalar: 1)
        let noGrad = time { var y = Tensor(scalar: 1); for _ in 0..<ops { y = y * s }; _ = y.item }
        let x = Tensor(scalar: 1).requiringGrad()
        var y = x
        let forward = time { for _ in 0..<ops { y = y * s } }
        let backward = time { y.backward() }
        let free = time { y = Tensor(scalar: 0) }
        let us = 1e6 / Double(ops)
        print(String(format: "per op: no-grad %.2f µs, recorded %.2f µs, backward %.2f µs, free %.2f µs", noGrad * us, forward * us, backward * us, free * us))
    }
}
