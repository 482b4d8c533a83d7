import Foundation
import Testing
@testable import Diffusion

/// Root-mean-square difference between two tensors of the same shape.
func rms(_ a: Tensor, _ b: Tensor) -> Double {
    let (x, y) = (a.scalars, b.scalars)
    precondition(x.count == y.count)
    var s = 0.0
    for (p, q) in zip(x, y) { let d = Double(p) - Double(q); s += d * d }
    return (s / Double(x.count)).squareRoot()
}

/// Least-squares slope of log y against log x.
func logLogSlope(_ xs: [Double], _ ys: [Double]) -> Double {
    let lx = xs.map { log($0) }, ly = ys.map { log($0) }
    let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
    var num = 0.0, den = 0.0
    for (a, b) in zip(lx, ly) { num += (a - mx) * (b - my); den += (a - mx) * (a - mx) }
    return num / den
}

/// Runs a deterministic σ-space sampler by registry name.
func run(_ name: String, _ model: any Denoiser, _ x: Tensor, _ sigmas: [Double], seed: UInt64 = 0) -> Tensor {
    guard let s = Sampler.named(name) else { fatalError("no sampler \(name)") }
    return s(model, x, sigmas: sigmas, noise: NoiseSource(seed: seed))
}
