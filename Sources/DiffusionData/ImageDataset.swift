import DiffusionEngine

/// A labelled set of images held in memory: `images` [N, C, H, W] scaled to [−1, 1], integer labels, class names
/// and optional captions (Chinese and English, for text conditioning).
public struct ImageDataset: Sendable {
    public let name: String
    public let images: Tensor
    public let labels: [Int]
    public let classNames: [String]
    /// Captions per image, when the set has them.
    public let captions: [Caption]?

    public init(name: String, images: Tensor, labels: [Int], classNames: [String], captions: [Caption]? = nil) {
        precondition(images.rank == 4 && images.shape[0] == labels.count, "ImageDataset: \(images.shape) images for \(labels.count) labels")
        precondition(captions.map { $0.count == labels.count } ?? true, "ImageDataset: captions do not match the images")
        precondition(labels.allSatisfy { (0..<classNames.count).contains($0) }, "ImageDataset: a label is outside 0..<\(classNames.count)")
        (self.name, self.images, self.labels, self.classNames, self.captions) = (name, images, labels, classNames, captions)
    }

    public var count: Int { labels.count }
    public var classCount: Int { classNames.count }
    public var channels: Int { images.shape[1] }
    public var height: Int { images.shape[2] }
    public var width: Int { images.shape[3] }

    /// The labels as a [N] tensor of exact Float values.
    public var labelTensor: Tensor { Tensor(labels.map(Float.init)) }

    /// Images and labels at `indices` (a training batch).
    public func batch(_ indices: [Int]) -> (images: Tensor, labels: Tensor) {
        (images.indexSelect(axis: 0, indices: indices), Tensor(indices.map { Float(labels[$0]) }))
    }

    /// The images at `indices` as a new data set.
    public func subset(_ indices: [Int], name: String? = nil) -> ImageDataset {
        ImageDataset(name: name ?? self.name, images: images.indexSelect(axis: 0, indices: indices), labels: indices.map { labels[$0] },
                     classNames: classNames, captions: captions.map { c in indices.map { c[$0] } })
    }

    /// A seeded random split into (train, test) with `testCount` test images.
    public func split(testCount: Int, seed: UInt64) -> (train: ImageDataset, test: ImageDataset) {
        precondition(testCount >= 0 && testCount <= count, "split: testCount \(testCount) is not in 0…\(count)")
        var g = RandomGenerator(seed: seed)
        let order = g.permutation(count)
        return (subset(Array(order[testCount...]), name: name + "-train"), subset(Array(order[..<testCount]), name: name + "-test"))
    }

    /// Resized with the engine's bilinear resampling (PyTorch's `interpolate(mode="bilinear")`, no corner alignment).
    public func resized(to size: Int) -> ImageDataset {
        if size == height && size == width { return self }
        let r = withNoGrad { images.upsampleBilinear2d(size: (size, size)) }
        return ImageDataset(name: "\(name)-\(size)", images: r, labels: labels, classNames: classNames, captions: captions)
    }
}

/// A short description of an image in Chinese and English, e.g. "红色的大圆形，位于左上" / "a large red circle, top left".
public struct Caption: Sendable, Hashable, Codable {
    public let chinese: String
    public let english: String
    public init(chinese: String, english: String) { (self.chinese, self.english) = (chinese, english) }
}
