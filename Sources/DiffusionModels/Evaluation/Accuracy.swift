import DiffusionLayers

/// Classifier evaluation helpers (batched, without gradients, in evaluation mode).
public enum ClassifierEvaluation {
    /// Fraction of rows of logits [B, K] whose argmax equals the integer label [B].
    public static func accuracy(logits: Tensor, labels: Tensor) -> Double {
        precondition(logits.rank == 2 && labels.shape == [logits.shape[0]], "accuracy: logits \(logits.shape) and labels \(labels.shape)")
        guard logits.shape[0] > 0 else { return .nan }
        let predicted = logits.argmax(axis: 1).scalars, truth = labels.scalars
        return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    }

    /// Runs `body` on the classifier in evaluation mode, batch by batch, and concatenates the outputs.
    static func batched(_ classifier: Classifier, _ images: Tensor, _ c: Tensor?, batchSize: Int,
                        _ body: (Tensor, Tensor?) -> Tensor) -> Tensor {
        precondition(batchSize > 0 && images.rank == 4, "batched evaluation needs images [N, C, H, W] and a positive batch size")
        let wasTraining = classifier.isTraining
        classifier.eval()
        defer { classifier.train(wasTraining) }
        return withNoGrad {
            let n = images.shape[0]
            let parts = stride(from: 0, to: n, by: batchSize).map { lo in
                let hi = Swift.min(n, lo + batchSize)
                return body(images.slice(axis: 0, lo, hi), c?.slice(axis: 0, lo, hi))
            }
            return Tensor.concat(parts, axis: 0)
        }
    }

    /// Accuracy of `classifier` on images [N, C, H, W] with integer labels [N] (noise values c [N] if it needs them).
    public static func accuracy(_ classifier: Classifier, images: Tensor, labels: Tensor, c: Tensor? = nil, batchSize: Int = 256) -> Double {
        accuracy(logits: batched(classifier, images, c, batchSize: batchSize) { classifier($0, $1) }, labels: labels)
    }

    /// Penultimate features [N, F] for Fréchet distances.
    public static func features(_ classifier: Classifier, images: Tensor, c: Tensor? = nil, batchSize: Int = 256) -> Tensor {
        batched(classifier, images, c, batchSize: batchSize) { classifier.features($0, $1) }
    }
}
