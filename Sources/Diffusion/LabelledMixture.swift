import Foundation
import DiffusionEngine

/// A Gaussian mixture whose components are grouped into classes: p(x₀, y) = p(y)·p(x₀ | y) with each p(x₀ | y) a
/// `GaussianMixture`. The conditional denoisers E[x₀ | x, y] and the noisy-data classifier p(y | x) at any level
/// (α, σ) are exact, so guidance can be checked against closed forms.
public struct LabelledMixture: Sendable, Hashable {
    public let classWeights: [Double]
    public let classes: [GaussianMixture]

    public init(classWeights: [Double], classes: [GaussianMixture]) {
        precondition(!classes.isEmpty && classWeights.count == classes.count && classWeights.allSatisfy { $0 > 0 },
                     "one positive weight per class")
        precondition(classes.allSatisfy { $0.dimension == classes[0].dimension }, "classes of different dimension")
        let total = classWeights.reduce(0, +)
        self.classWeights = classWeights.map { $0 / total }
        self.classes = classes
    }

    /// Each component of `mixture` its own class.
    public init(componentsOf mixture: GaussianMixture) {
        self.init(classWeights: mixture.weights, classes: (0..<mixture.componentCount).map {
            GaussianMixture(weights: [1], means: [mixture.means[$0]], stds: [mixture.stds[$0]])
        })
    }

    public var classCount: Int { classes.count }
    public var dimension: Int { classes[0].dimension }

    /// p(x₀) = Σ_y p(y)·p(x₀ | y) as one mixture (components in class order).
    public var marginal: GaussianMixture {
        GaussianMixture(weights: zip(classWeights, classes).flatMap { w, c in c.weights.map { w * $0 } },
                        means: classes.flatMap(\.means), stds: classes.flatMap(\.stds))
    }

    /// The class of each component of `marginal`.
    public var componentClasses: [Int] { classes.enumerated().flatMap { y, c in Array(repeating: y, count: c.componentCount) } }

    /// n labelled samples (labels as exact Float values, shape [n]); counter-based like `GaussianMixture.sample`.
    public func sample(_ n: Int, seed: UInt64, stream: UInt64 = 1 << 40) -> (samples: Tensor, labels: Tensor) {
        let (x, k) = marginal.sampleWithComponents(n, seed: seed, stream: stream)
        let map = componentClasses
        return (x, Tensor(k.map { Float(map[$0]) }))
    }

    /// The exact conditional denoiser E[x₀ | x, y_i] for every row i.
    public func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor) -> Tensor {
        let y = labels.scalars.map { Int($0) }
        precondition(y.count == x.shape[0] && y.allSatisfy { (0..<classCount).contains($0) }, "one label in 0..<\(classCount) per sample")
        let d = dimension
        var out = [Float](repeating: 0, count: x.count)
        let xs = x.scalars
        for (c, gm) in classes.enumerated() {
            let rows = y.indices.filter { y[$0] == c }
            if rows.isEmpty { continue }
            let sub = Tensor(rows.flatMap { xs[($0 * d)..<($0 * d + d)] }, shape: [rows.count, d])
            let r = gm.denoise(sub, at: level).scalars
            for (k, i) in rows.enumerated() { for j in 0..<d { out[i * d + j] = r[k * d + j] } }
        }
        return Tensor(out, shape: x.shape)
    }

    /// log p(y | x) for every row and class, shape [n, classCount], as a differentiable function of x (built from
    /// engine ops, so autograd gives ∇ₓ log p(y | x)): log p(y | x) = logsumexp_{k ∈ y} ℓ_k − logsumexp_k ℓ_k with
    /// ℓ_k = log w_k + log N(x; α·μ_k, diag(α²s_k² + σ²)).
    public func classLogProbabilities(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let gm = marginal, (α, σ) = (level.alpha, level.sigma)
        let n = x.shape[0], d = dimension
        let xr = x.reshaped([n, 1, d])
        let mu = Tensor(gm.means.flatMap { $0.map { Float(α * $0) } }, shape: [1, gm.componentCount, d])
        let v = gm.stds.map { $0.map { α * α * $0 * $0 + σ * σ } }
        let inv = Tensor(v.flatMap { $0.map { Float(1 / $0) } }, shape: [1, gm.componentCount, d])
        let constant = Tensor((0..<gm.componentCount).map { k in
            Float(log(gm.weights[k]) - 0.5 * v[k].reduce(0) { $0 + log(2 * .pi * $1) })
        }, shape: [1, gm.componentCount])
        let logJoint = constant - ((xr - mu).square() * inv).sum(axis: 2) * 0.5                   // [n, K]
        let map = componentClasses
        let perClass = Tensor.stack((0..<classCount).map { c in
            logJoint.indexSelect(axis: 1, indices: map.indices.filter { map[$0] == c }).logsumexp(axis: 1)
        }, axis: 1)                                                                                // [n, C]
        return perClass - logJoint.logsumexp(axis: 1, keepDims: true)
    }
}
