import Diffusion
import DiffusionData
import Foundation

/// The image data sets a training config can name:
///
/// | name | contents |
/// |---|---|
/// | `digits` | the 1,797 UCI digits at 16×16 (bilinear from 8×8), grey, 10 classes |
/// | `digits8` | the same at their native 8×8 |
/// | `shapes` | the first 6,000 images of the procedural shapes set (seed 0), 16×16 RGB, 6 classes (kind) |
/// | `idx:IMAGES[,LABELS]` | an MNIST-style pair of IDX files (optionally .gz); without LABELS, the images path with `images` → `labels` and `idx3` → `idx1` |
/// | `folder:PATH` | PNG images in one sub-folder per class |
///
/// Images are in [−1, 1]. Loading problems are `ConfigError`s naming the file and the fault.
public enum ImageDataSource {
    public static let names = ["digits", "digits8", "shapes", "idx:IMAGES[,LABELS]", "folder:PATH"]
    /// Images of the `shapes` data set.
    public static let shapesCount = 6000

    /// Whether `name` has one of the accepted forms (without reading any file).
    public static func isKnown(_ name: String) -> Bool {
        ["digits", "digits8", "shapes"].contains(name) || (name.hasPrefix("idx:") && name.count > 4) || (name.hasPrefix("folder:") && name.count > 7)
    }

    public static func unknownNameError(_ name: String) -> ConfigError {
        ConfigError("unknown data set '\(name)'; choose one of: \(names.joined(separator: ", "))")
    }

    /// The two IDX paths of an `idx:` name.
    static func idxPaths(_ spec: String) -> (images: String, labels: String) {
        let parts = spec.split(separator: ",", maxSplits: 1).map(String.init)
        if parts.count == 2 { return (parts[0], parts[1]) }
        let url = URL(fileURLWithPath: parts[0])
        let file = url.lastPathComponent.replacingOccurrences(of: "images", with: "labels").replacingOccurrences(of: "idx3", with: "idx1")
        return (parts[0], url.deletingLastPathComponent().appendingPathComponent(file).path)
    }

    /// Loads a data set by name; `channels` (1 or 3) applies to PNG folders, `size` resizes every image (bilinear).
    public static func load(_ name: String, channels: Int = 3, size: Int? = nil) throws(ConfigError) -> ImageDataset {
        let set: ImageDataset
        do {
            switch name {
            case "digits": set = try Digits.load(size: 16)
            case "digits8": set = try Digits.load(size: 8)
            case "shapes": set = ShapesDataset(seed: 0).batch(offset: 0, count: shapesCount)
            case _ where name.hasPrefix("idx:"):
                let (images, labels) = idxPaths(String(name.dropFirst(4)))
                for path in [images, labels] where !FileManager.default.fileExists(atPath: path) {
                    throw ConfigError("data set '\(name)': file '\(path)' does not exist")
                }
                set = try ImageDataset.idx(images: URL(fileURLWithPath: images), labels: URL(fileURLWithPath: labels), name: name)
            case _ where name.hasPrefix("folder:"):
                let path = String(name.dropFirst(7))
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ConfigError("data set '\(name)': folder '\(path)' does not exist")
                }
                set = try ImageDataset.folder(URL(fileURLWithPath: path), channels: channels, name: name)
            default:
                throw unknownNameError(name)
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("data set '\(name)': \(error)")
        }
        guard let size else { return set }
        return set.resized(to: size)
    }
}

/// What a model needs to know about its data: image geometry and classes. Stored in checkpoints, so a trained
/// model can be sampled without the data files.
public struct ImageDataShape: Codable, Sendable, Equatable {
    public var channels: Int
    public var size: Int
    public var classNames: [String]
    public var classCount: Int { classNames.count }

    public init(channels: Int, size: Int, classNames: [String]) { (self.channels, self.size, self.classNames) = (channels, size, classNames) }

    public init(_ set: ImageDataset) throws(ConfigError) {
        guard set.height == set.width else { throw ConfigError("data set '\(set.name)': images are \(set.width)×\(set.height); square images are needed (set imageSize to resize)") }
        self.init(channels: set.channels, size: set.height, classNames: set.classNames)
    }
}

/// Training batches in epochs: epoch e visits the images in the order of a permutation drawn from stream e of the
/// seed, and batch k is positions k·B ..< (k + 1)·B of the concatenated epochs. Batch k depends only on (seed, k),
/// so a resumed run sees the same batches.
public struct EpochOrder: Sendable {
    public let count: Int
    public let seed: UInt64
    private var cached: (epoch: Int, order: [Int])?

    public init(count: Int, seed: UInt64) {
        precondition(count > 0, "EpochOrder needs at least one item")
        (self.count, self.seed) = (count, seed)
    }

    /// Permutation of epoch e.
    public func order(epoch: Int) -> [Int] {
        var g = RandomGenerator(seed: seed, stream: UInt64(epoch))
        return g.permutation(count)
    }

    /// Item indices of batch `k` of size `b`.
    public mutating func batch(_ k: Int, size b: Int) -> [Int] {
        (k * b ..< (k + 1) * b).map { position in
            let epoch = position / count
            if cached?.epoch != epoch { cached = (epoch, order(epoch: epoch)) }
            return cached!.order[position % count]
        }
    }
}
