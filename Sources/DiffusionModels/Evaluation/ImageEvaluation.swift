import DiffusionLayers

/// Sample quality of an image model in the feature space of a data set's classifier.
public enum ImageEvaluation {
    /// A Fréchet distance next to its real-versus-real floor at the same sample count.
    public struct Frechet: Codable, Sendable, Equatable {
        /// d² between the samples and n real images, averaged over the repeats.
        public let distance: Double
        /// d² between two disjoint sets of n real images, averaged over the repeats.
        public let floor: Double
        public let count: Int
        public let repeats: Int
        public var ratio: Double { distance / floor }
    }

    /// FD of n = samples.count samples against real images, with its floor. Repeat r draws a random permutation of
    /// the real pool (seed, stream r): its first n images A_r are the reference, the next n B_r the second real set;
    /// distance = mean_r d²(samples, A_r), floor = mean_r d²(A_r, B_r). Features are the classifier's penultimate
    /// ones (`ClassifierEvaluation.features`). Needs at least 2n real images.
    public static func frechet(samples: Tensor, real: Tensor, classifier: Classifier, repeats: Int = 5, seed: UInt64 = 0) -> Frechet {
        let n = samples.shape[0], pool = real.shape[0]
        precondition(n >= 2 && 2 * n <= pool && repeats >= 1, "Fréchet evaluation needs n ≥ 2 samples and ≥ 2n real images (n = \(n), real \(pool))")
        let generated = GaussianStatistics(features: ClassifierEvaluation.features(classifier, images: samples))
        let features = ClassifierEvaluation.features(classifier, images: real)
        var distance = 0.0, floor = 0.0
        for r in 0..<repeats {
            var g = RandomGenerator(seed: seed, stream: UInt64(r))
            let order = g.permutation(pool)
            let a = GaussianStatistics(features: features.indexSelect(axis: 0, indices: Array(order[..<n])))
            let b = GaussianStatistics(features: features.indexSelect(axis: 0, indices: Array(order[n..<(2 * n)])))
            distance += FrechetDistance.squared(generated, a)
            floor += FrechetDistance.squared(a, b)
        }
        return Frechet(distance: distance / Double(repeats), floor: floor / Double(repeats), count: n, repeats: repeats)
    }

    /// Fraction of samples the classifier assigns to the label they were drawn for.
    public static func accuracy(samples: Tensor, labels: Tensor, classifier: Classifier) -> Double {
        ClassifierEvaluation.accuracy(classifier, images: samples, labels: labels)
    }
}
