import DiffusionEngine
import Foundation

/// The UCI optical-recognition digits (Alpaydin & Kaynak 1998; CC BY 4.0), the copy scikit-learn ships:
/// 1,797 images of 8×8 pixels with values 0…16 and labels 0–9. Embedded in the library (gzip CSV, 57 KB), so it
/// needs no network and no files. Attribution: DATA-LICENSES.md.
public enum Digits {
    public static let count = 1797
    public static let classNames = (0...9).map(String.init)

    /// Raw pixel values 0…16 ([1797, 64], row-major 8×8) and labels, parsed from the embedded CSV.
    public static func raw() throws -> (pixels: [UInt8], labels: [Int]) {
        let csv = try Gzip.decompress(Data(PackageResources.digits_csv_gz), file: "digits.csv.gz")
        return try parse(csv, file: "digits.csv.gz")
    }

    /// Parses rows of 64 pixels (0…16) and a label (0–9), comma separated.
    static func parse(_ csv: Data, file: String) throws -> (pixels: [UInt8], labels: [Int]) {
        var pixels: [UInt8] = [], labels: [Int] = []
        pixels.reserveCapacity(count * 64)
        for (n, line) in String(decoding: csv, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard fields.count == 65, fields.allSatisfy({ $0 != nil }) else {
                throw DataError(file: file, fault: .badHeader, detail: "line \(n + 1) does not hold 65 integers")
            }
            let values = fields.map { $0! }
            guard values.prefix(64).allSatisfy({ (0...16).contains($0) }) else {
                throw DataError(file: file, fault: .badImage, detail: "line \(n + 1) has a pixel outside 0…16")
            }
            guard (0...9).contains(values[64]) else {
                throw DataError(file: file, fault: .labelOutOfRange, detail: "line \(n + 1) has label \(values[64])")
            }
            pixels += values.prefix(64).map(UInt8.init)
            labels.append(values[64])
        }
        return (pixels, labels)
    }

    /// The digits as [1797, 1, size, size] in [−1, 1] (v/8 − 1): 8×8 as stored, any other size by bilinear resampling.
    public static func load(size: Int = 8) throws -> ImageDataset {
        let (pixels, labels) = try raw()
        let images = Tensor(pixels.map { Float($0) / 8 - 1 }, shape: [labels.count, 1, 8, 8])
        return ImageDataset(name: "digits", images: images, labels: labels, classNames: classNames).resized(to: size)
    }
}
