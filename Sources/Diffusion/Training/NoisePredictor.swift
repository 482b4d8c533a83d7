import DiffusionEngine

/// What an objective trains: a model that maps a noisy batch at per-sample levels to a prediction of kind
/// `prediction` (ε, x₀, v, score or flow velocity). Objectives convert between kinds exactly
/// (`BatchParametrization`), so any model can be trained with any loss. `labels` (class indices as Float, shape
/// [n]) condition the model; nil asks for the unconditional prediction.
public protocol NoisePredictor {
    var prediction: Prediction { get }
    func predict(_ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor
    /// The output converted to kind `kind` (default: `BatchParametrization.convert`).
    func predict(_ kind: Prediction, _ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor
}

extension NoisePredictor {
    public func predict(_ kind: Prediction, _ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor {
        BatchParametrization.convert(predict(x, at: levels, labels: labels), from: prediction, to: kind, x: x, levels: levels)
    }

    /// x̂₀ at per-sample levels.
    public func denoised(_ x: Tensor, at levels: LevelBatch, labels: Tensor? = nil) -> Tensor {
        predict(.sample, x, at: levels, labels: labels)
    }
}

/// The Bayes-optimal model of a Gaussian mixture (or, with labels, of a labelled mixture), reporting its exact
/// answer as a prediction of any kind: plugged into an objective, the expected loss is that objective's
/// irreducible minimum.
public struct ExactMixtureModel: NoisePredictor, Sendable {
    public let mixture: GaussianMixture
    public let labelled: LabelledMixture?
    public let prediction: Prediction

    public init(_ mixture: GaussianMixture, prediction: Prediction = .sample) {
        self.mixture = mixture
        labelled = nil
        self.prediction = prediction
    }

    public init(_ labelled: LabelledMixture, prediction: Prediction = .sample) {
        mixture = labelled.marginal
        self.labelled = labelled
        self.prediction = prediction
    }

    public func predict(_ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor {
        if prediction == .score && labels == nil {       // the score directly: exact even where x̂₀ would cancel
            return mixture.mapRows(x, levels: { levels[$0] }, wantScore: true)
        }
        let x0: Tensor
        if let labels, let labelled {
            let y = labels.scalars.map { Int($0) }
            let d = labelled.dimension, xs = x.scalars
            var out = [Float](repeating: 0, count: x.count)
            for i in 0..<x.shape[0] {
                let row = Tensor(Array(xs[(i * d)..<(i * d + d)]), shape: [1, d])
                let r = labelled.classes[y[i]].denoise(row, at: levels[i]).scalars
                for j in 0..<d { out[i * d + j] = r[j] }
            }
            x0 = Tensor(out, shape: x.shape)
        } else {
            x0 = mixture.mapRows(x, levels: { levels[$0] }, wantScore: false)
        }
        return BatchParametrization.prediction(prediction, x0: x0, x: x, levels: levels)
    }
}

/// A model from a closure, e.g. a perturbed exact model in tests.
public struct ClosurePredictor: NoisePredictor {
    public let prediction: Prediction
    public let body: (Tensor, LevelBatch, Tensor?) -> Tensor
    public init(prediction: Prediction, _ body: @escaping (Tensor, LevelBatch, Tensor?) -> Tensor) {
        self.prediction = prediction
        self.body = body
    }
    public func predict(_ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor { body(x, levels, labels) }
}
