import DiffusionEngine
import Foundation

/// The IDX format of MNIST and Fashion-MNIST (`*-ubyte`, optionally gzip-compressed): a magic number
/// 0x00 0x00 <type> <rank>, `rank` big-endian UInt32 sizes, then the values row-major. Only unsigned bytes
/// (type 0x08) are supported, which is what those sets use.
public struct IDXArray: Sendable, Equatable {
    public let dimensions: [Int]
    public let values: [UInt8]

    public init(dimensions: [Int], values: [UInt8]) {
        precondition(dimensions.reduce(1, *) == values.count, "IDXArray: \(values.count) values for dimensions \(dimensions)")
        (self.dimensions, self.values) = (dimensions, values)
    }

    /// Parses IDX bytes (gunzipped first when they start with the gzip magic); `file` names the source in errors.
    public static func decode(_ raw: Data, file: String) throws -> IDXArray {
        let data = [UInt8](Gzip.isCompressed(raw) ? try Gzip.decompress(raw, file: file) : raw)
        guard data.count >= 4 else { throw DataError(file: file, fault: .truncated, detail: "\(data.count) bytes, shorter than the 4-byte magic number") }
        let magic = data.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
        guard data[0] == 0, data[1] == 0 else { throw DataError(file: file, fault: .badMagic, detail: "\(magic) does not start with 00 00") }
        guard data[2] == 0x08 else {
            throw DataError(file: file, fault: .badMagic, detail: "\(magic): element type 0x\(String(format: "%02X", data[2])) is not unsigned byte (0x08)")
        }
        let rank = Int(data[3])
        guard rank >= 1 else { throw DataError(file: file, fault: .badHeader, detail: "rank 0") }
        let header = 4 + 4 * rank
        guard data.count >= header else {
            throw DataError(file: file, fault: .truncated, detail: "\(data.count) bytes, shorter than the \(header)-byte header of a rank-\(rank) array")
        }
        let dims = (0..<rank).map { d in (0..<4).reduce(0) { $0 << 8 | Int(data[4 + 4 * d + $1]) } }
        let count = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard count <= 1 << 34 else { throw DataError(file: file, fault: .badHeader, detail: "dimensions \(dims) are implausibly large") }
        guard data.count >= header + count else {
            throw DataError(file: file, fault: .truncated, detail: "dimensions \(dims) need \(header + count) bytes, the file has \(data.count)")
        }
        guard data.count == header + count else {
            throw DataError(file: file, fault: .badHeader, detail: "\(data.count - header - count) bytes follow the \(count) values that dimensions \(dims) announce")
        }
        return IDXArray(dimensions: dims, values: Array(data[header...]))
    }

    public static func read(_ url: URL) throws -> IDXArray {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(file: url.path, fault: .unreadable, detail: error.localizedDescription)
        }
        return try decode(data, file: url.path)
    }

    /// IDX bytes (gzip-compressed when `gzip`).
    public func encoded(gzip: Bool = false) -> Data {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } }
        let data = Data(out + values)
        return gzip ? Gzip.compress(data) : data
    }
}

extension ImageDataset {
    public static let mnistClassNames = (0...9).map(String.init)
    public static let fashionMNISTClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// An MNIST-style pair of IDX files (e.g. `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`):
    /// images [N, 1, H, W] scaled to [−1, 1] (v/127.5 − 1). Throws `DataError` naming the file for a wrong magic
    /// number or rank, a truncated file, a label count different from the image count, or a label ≥ classNames.count.
    public static func idx(images: URL, labels: URL, classNames: [String] = mnistClassNames, name: String = "mnist") throws -> ImageDataset {
        let im = try IDXArray.read(images), lb = try IDXArray.read(labels)
        guard im.dimensions.count == 3 else {
            throw DataError(file: images.path, fault: .badHeader, detail: "images must be a rank-3 array [N, H, W], this one has dimensions \(im.dimensions)")
        }
        guard lb.dimensions.count == 1 else {
            throw DataError(file: labels.path, fault: .badHeader, detail: "labels must be a rank-1 array [N], this one has dimensions \(lb.dimensions)")
        }
        let (n, h, w) = (im.dimensions[0], im.dimensions[1], im.dimensions[2])
        guard lb.dimensions[0] == n else {
            throw DataError(file: labels.path, fault: .countMismatch, detail: "\(lb.dimensions[0]) labels for the \(n) images of \(images.path)")
        }
        guard n > 0, h > 0, w > 0 else { throw DataError(file: images.path, fault: .empty, detail: "dimensions \(im.dimensions)") }
        if let i = lb.values.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DataError(file: labels.path, fault: .labelOutOfRange, detail: "label \(lb.values[i]) at index \(i) is not in 0…\(classNames.count - 1)")
        }
        let pixels = im.values.map { Float($0) / 127.5 - 1 }
        return ImageDataset(name: name, images: Tensor(pixels, shape: [n, 1, h, w]), labels: lb.values.map(Int.init), classNames: classNames)
    }
}
