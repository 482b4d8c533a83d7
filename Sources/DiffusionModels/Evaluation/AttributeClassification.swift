import Diffusion
import DiffusionData

/// An attribute classifier for the shapes set: a `Classifier` whose 23 logits are four groups, one softmax each
/// over the values of `ShapeAttributes.names` (kind 6, colour 6, size 2, position 9). It judges whether images
/// generated for a prompt show what the prompt states.
public enum AttributeClassification {
    /// Where each group's logits start: [0, 6, 12, 14], and the total 23.
    public static let offsets: [Int] = ShapeAttributes.counts.reduce(into: [0]) { $0.append($0.last! + $1) }.dropLast()
    public static var logitCount: Int { ShapeAttributes.counts.reduce(0, +) }
    /// Accuracy of guessing uniformly: 1/6, 1/6, 1/2, 1/9.
    public static var chance: [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(ShapeAttributes.names, ShapeAttributes.counts.map { 1 / Double($0) }))
    }

    /// Targets [B, 4] (exact Float indices) of images whose captions state every attribute.
    public static func targets(_ attributes: [ShapeAttributes]) -> Tensor {
        Tensor(attributes.flatMap { a in a.indices.map { i -> Float in
            guard let i else { preconditionFailure("attribute targets need every attribute stated, got \(a)") }
            return Float(i)
        } }, shape: [attributes.count, ShapeAttributes.names.count])
    }

    /// The training loss: the sum over groups of the mean cross-entropy of the group's logits.
    public static func loss(logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.rank == 2 && logits.shape[1] == logitCount && targets.shape == [logits.shape[0], offsets.count],
                     "attribute loss needs logits [B, \(logitCount)] and targets [B, \(offsets.count)], got \(logits.shape), \(targets.shape)")
        var total: Tensor?
        for (g, (lo, n)) in zip(offsets, ShapeAttributes.counts).enumerated() {
            let l = crossEntropy(logits: logits.slice(axis: 1, lo, lo + n), labels: targets.slice(axis: 1, g, g + 1).reshaped([-1]))
            total = total.map { $0 + l } ?? l
        }
        return total!
    }

    /// The predicted value of every group for each image: [N][4].
    public static func predict(_ classifier: Classifier, images: Tensor) -> [[Int]] {
        precondition(classifier.config.classCount == logitCount, "an attribute classifier has \(logitCount) logits, this one \(classifier.config.classCount)")
        let logits = ClassifierEvaluation.batched(classifier, images, nil, batchSize: 256) { classifier($0, $1) }
        let groups = zip(offsets, ShapeAttributes.counts).map { lo, n in logits.slice(axis: 1, lo, lo + n).argmax(axis: 1).scalars.map { Int($0) } }
        return (0..<images.shape[0]).map { i in groups.map { $0[i] } }
    }

    /// Per group, the fraction of images whose predicted value is the one `attributes[i]` states; images that do
    /// not state a group are left out of its fraction, and a group no image states is absent.
    public static func accuracy(_ classifier: Classifier, images: Tensor, attributes: [ShapeAttributes]) -> [String: Double] {
        precondition(attributes.count == images.shape[0], "one attribute set per image: \(attributes.count) for \(images.shape[0]) images")
        let predicted = predict(classifier, images: images)
        var out: [String: Double] = [:]
        for (g, name) in ShapeAttributes.names.enumerated() {
            let stated = attributes.indices.filter { attributes[$0].indices[g] != nil }
            guard !stated.isEmpty else { continue }
            out[name] = Double(stated.filter { predicted[$0][g] == attributes[$0].indices[g] }.count) / Double(stated.count)
        }
        return out
    }

    /// Prompts for evaluating a text-to-image model: the captions of images 0..<count of the shapes set of `seed`,
    /// Chinese for even j and English for odd j (seed 1 is not the training set's 0).
    public static func heldOutPrompts(count: Int, seed: UInt64 = 1) -> [String] {
        ShapesDataset(seed: seed).samples(offset: 0, count: count).enumerated().map { j, s in j % 2 == 0 ? s.caption.chinese : s.caption.english }
    }
}
