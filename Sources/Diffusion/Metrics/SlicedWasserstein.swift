import Foundation
import DiffusionEngine

extension Metrics {
    /// The sliced Wasserstein distance SW_p(a, b) = (E_θ W_p^p(θᵀa, θᵀb))^{1/p} over unit directions θ (Rabin et al.
    /// 2011; Bonneel et al. 2015). In 1-D it is W_p itself; in 2-D the directions are `projections` evenly spaced
    /// angles in [0, π) (deterministic); in higher dimension normalised Gaussian directions from `seed`. Each 1-D
    /// distance is exact for empirical measures of any sizes (integral of |F⁻¹ − G⁻¹|^p over merged quantiles).
    public static func slicedWasserstein(_ a: Tensor, _ b: Tensor, projections: Int = 128, p: Double = 2, seed: UInt64 = 0) -> Double {
        let d = a.rank > 1 ? a.count / a.shape[0] : 1
        precondition((b.rank > 1 ? b.count / b.shape[0] : 1) == d, "samples of different dimension: \(a.shape), \(b.shape)")
        precondition(projections >= 1 && p >= 1, "need at least one projection and p ≥ 1")
        let x = a.scalars.map(Double.init), y = b.scalars.map(Double.init)
        let directions: [[Double]]
        switch d {
        case 1: directions = [[1]]
        case 2: directions = (0..<projections).map { k in let θ = Double.pi * Double(k) / Double(projections); return [cos(θ), sin(θ)] }
        default:
            let g = Tensor.randomNormal([projections, d], seed: seed, stream: 0x5715).scalars.map(Double.init)
            directions = (0..<projections).map { k in
                let v = Array(g[(k * d)..<(k * d + d)])
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / norm }
            }
        }
        func project(_ z: [Double], _ θ: [Double]) -> [Double] {
            (0..<(z.count / d)).map { i in (0..<d).reduce(0) { $0 + z[i * d + $1] * θ[$1] } }.sorted()
        }
        let total = directions.reduce(0) { $0 + wassersteinPower(project(x, $1), project(y, $1), p: p) }
        return pow(total / Double(directions.count), 1 / p)
    }

    /// W_p^p between the empirical measures of two sorted 1-D samples: ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du, exact.
    static func wassersteinPower(_ u: [Double], _ v: [Double], p: Double) -> Double {
        let (n, m) = (u.count, v.count)
        var (i, j) = (0, 0)
        var position = 0.0, total = 0.0
        while i < n && j < m {
            let next = Swift.min(Double(i + 1) / Double(n), Double(j + 1) / Double(m))
            total += (next - position) * pow(Swift.abs(u[i] - v[j]), p)
            position = next
            if Double(i + 1) / Double(n) <= next { i += 1 }
            if Double(j + 1) / Double(m) <= next { j += 1 }
        }
        return total
    }
}
