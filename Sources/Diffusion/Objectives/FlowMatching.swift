import DiffusionEngine

/// Conditional flow matching on the linear path x_t = (1 − t)·x₀ + t·ε (t = 1 noise, as `RectifiedFlow`): loss
/// ‖v̂(x_t, t) − (ε − x₀)‖² with t ~ U(0, 1] (Lipman et al. 2022, arXiv 2210.02747, σ_min = 0; Liu et al. 2022,
/// arXiv 2209.03003). The coupling of data and noise is either independent, or the minibatch optimal-transport
/// plan (Tong et al. 2023, arXiv 2302.00482; Pooladian et al. 2023, arXiv 2304.14772): the noise rows are
/// permuted to minimise Σ_i ‖x₀_i − ε_π(i)‖², solved exactly by `Assignment` (O(n³); fine for toy batches).
public struct FlowMatching: Objective, Sendable {
    public enum Coupling: String, Sendable, CaseIterable { case independent, minibatchOT = "minibatch-ot" }
    public let coupling: Coupling
    public let process = RectifiedFlow()

    public init(coupling: Coupling = .independent) { self.coupling = coupling }

    /// ε permuted to the optimal-transport assignment with x₀ (identity for the independent coupling).
    public func couple(_ x0: Tensor, _ ε: Tensor) -> Tensor {
        guard coupling == .minibatchOT else { return ε }
        let π = Assignment.solve(Assignment.squaredDistances(x0, ε))
        return ε.indexSelect(axis: 0, indices: π)
    }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let levels = LevelBatch(process: process, times: TimeSampling.draw(process, count: n, tMin: 0, rng: &rng))
        let ε = couple(x0, rng.normal(x0.shape))
        let x = levels.noisy(x0: x0, epsilon: ε)
        return perSampleLoss(model.predict(.velocity, x, at: levels, labels: labels), ε - x0, weights: Array(repeating: 1, count: n))
    }

    /// E_t[mmse(t)/t²] for the independent coupling (the marginal velocity is E[ε − x₀ | x_t]); nil for the OT
    /// coupling, whose conditional velocity field depends on the batch.
    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        guard coupling == .independent else { return nil }
        return TimeSampling.expectation(process, tMin: 0) { t in mixture.minimumMeanSquaredError(at: process.level(t)) / (t * t) }
    }
}
