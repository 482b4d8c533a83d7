import Foundation
import DiffusionEngine
import DiffusionLayers

/// The consistency-model parametrisation (Song et al. 2023, arXiv 2303.01469, App. C): with EDM's c_in and c_noise,
/// c_skip(σ) = σ_d²/((σ − σ_min)² + σ_d²) and c_out(σ) = σ_d(σ − σ_min)/√(σ² + σ_d²). Since c_skip(σ_min) = 1 and
/// c_out(σ_min) = 0 exactly (also in floating point), f(x, σ_min) = c_skip·x + c_out·F(…) = x for every network F.
public struct ConsistencyPreconditioning: Preconditioning, Hashable {
    public let σ_data: Double, σ_min: Double
    public init(σ_data: Double = 0.5, σ_min: Double = 0.002) {
        precondition(σ_data > 0 && σ_min > 0, "σ_data and σ_min must be positive")
        (self.σ_data, self.σ_min) = (σ_data, σ_min)
    }
    public func callAsFunction(_ σ: Double) -> PreconditioningCoefficients {
        let d2 = σ_data * σ_data, s = σ - σ_min
        return PreconditioningCoefficients(c_skip: d2 / (s * s + d2), c_out: σ_data * s / (σ * σ + d2).squareRoot(),
                                           c_in: 1 / (σ * σ + d2).squareRoot(), c_noise: 0.25 * log(σ))
    }
}

/// A consistency function f(x, σ): maps a point at level σ ≥ σ_min of a probability-flow trajectory (α = 1
/// coordinates, x = x₀ + σ·ε) to that trajectory's point at σ_min.
public protocol ConsistencyFunction {
    var sigmaMin: Double { get }
    /// f(x_i, σ_i) for every row i (leading axis = samples).
    func consistency(_ x: Tensor, sigmas: [Double]) -> Tensor
}

extension ConsistencyFunction {
    /// f(x, σ) at one level for the whole batch.
    public func consistency(_ x: Tensor, sigma σ: Double) -> Tensor { consistency(x, sigmas: Array(repeating: σ, count: x.shape[0])) }
}

/// A network with the consistency parametrisation, f_θ(x, σ) = c_skip·x + c_out·F_θ(c_in·x; timeScale·c_noise).
/// Differentiable in the parameters and in x.
public final class ConsistencyModel<Net: NoiseConditionalNetwork>: ConsistencyFunction {
    public let network: Net
    public let preconditioning: ConsistencyPreconditioning
    public let timeScale: Double
    public init(_ network: Net, preconditioning: ConsistencyPreconditioning = ConsistencyPreconditioning(), timeScale: Double = 1000) {
        (self.network, self.preconditioning, self.timeScale) = (network, preconditioning, timeScale)
    }
    public var sigmaMin: Double { preconditioning.σ_min }

    public func consistency(_ x: Tensor, sigmas: [Double]) -> Tensor {
        precondition(sigmas.count == x.shape[0], "one level per sample: \(sigmas.count) levels for \(x.shape[0]) samples")
        precondition(sigmas.allSatisfy { $0 >= sigmaMin }, "consistency levels must be ≥ σ_min = \(sigmaMin)")
        let c = sigmas.map { preconditioning($0) }
        let F = network(x * LevelBatch.column(c.map(\.c_in), rank: x.rank), Tensor(c.map { Float(timeScale * $0.c_noise) }), labels: nil)
        return x * LevelBatch.column(c.map(\.c_skip), rank: x.rank) + F * LevelBatch.column(c.map(\.c_out), rank: x.rank)
    }
}

/// The ideal consistency function of a Gaussian mixture: the probability-flow ODE solved from σ to σ_min by
/// `GaussianMixture.probabilityFlow` (classical Runge–Kutta, ⌈stepsPerUnit·ln(σ/σ_min)⌉ steps, in Double).
public struct ExactConsistencyFunction: ConsistencyFunction {
    public let mixture: GaussianMixture
    public let sigmaMin: Double
    public let stepsPerUnit: Double
    public init(_ mixture: GaussianMixture, sigmaMin: Double = 0.002, stepsPerUnit: Double = 40) {
        precondition(sigmaMin > 0 && stepsPerUnit > 0, "need σ_min > 0 and a positive step density")
        (self.mixture, self.sigmaMin, self.stepsPerUnit) = (mixture, sigmaMin, stepsPerUnit)
    }
    public func consistency(_ x: Tensor, sigmas: [Double]) -> Tensor {
        perLevel(x, sigmas) { rows, σ in
            σ <= sigmaMin ? rows : mixture.probabilityFlow(rows, from: σ, to: sigmaMin,
                                                           steps: Swift.max(1, Int((stepsPerUnit * log(σ / sigmaMin)).rounded(.up))))
        }
    }
}

/// Applies `body(rows, σ)` to the rows of x that share a level and reassembles the batch in order. Not differentiable
/// (for teachers and exact answers).
func perLevel(_ x: Tensor, _ sigmas: [Double], _ body: (Tensor, Double) -> Tensor) -> Tensor {
    let n = x.shape[0], d = x.count / Swift.max(n, 1)
    precondition(sigmas.count == n, "one level per sample: \(sigmas.count) levels for \(n) samples")
    let xs = x.scalars
    var out = [Float](repeating: 0, count: x.count)
    var groups: [Double: [Int]] = [:]
    for (i, σ) in sigmas.enumerated() { groups[σ, default: []].append(i) }
    for (σ, rows) in groups {
        var part = [Float](); part.reserveCapacity(rows.count * d)
        for i in rows { part += xs[(i * d)..<(i * d + d)] }
        let y = body(Tensor(part, shape: [rows.count] + Array(x.shape.dropFirst())), σ).scalars
        for (k, i) in rows.enumerated() { out.replaceSubrange((i * d)..<(i * d + d), with: y[(k * d)..<(k * d + d)]) }
    }
    return Tensor(out, shape: x.shape)
}
