import Foundation
import Testing
@testable import DiffusionData

/// Writes a 5-image 3×2 MNIST-style pair (optionally gzipped) and returns the URLs.
func writeIDXPair(_ dir: URL, images: Int = 5, labels: [UInt8] = [0, 1, 2, 9, 4], gzip: Bool = false) throws -> (URL, URL) {
    let im = IDXArray(dimensions: [images, 3, 2], values: (0..<(images * 6)).map { UInt8($0 * 8 % 256) })
    let lb = IDXArray(dimensions: [labels.count], values: labels)
    let suffix = gzip ? ".gz" : ""
    let (iu, lu) = (dir.appendingPathComponent("images-idx3-ubyte\(suffix)"), dir.appendingPathComponent("labels-idx1-ubyte\(suffix)"))
    try im.encoded(gzip: gzip).write(to: iu)
    try lb.encoded(gzip: gzip).write(to: lu)
    return (iu, lu)
}

@Test func idxPairsLoadPlainAndGzipped() throws {
    let dir = try temporaryDirectory()
    for gz in [false, true] {
        let (iu, lu) = try writeIDXPair(dir, gzip: gz)
        let d = try ImageDataset.idx(images: iu, labels: lu)
        #expect(d.images.shape == [5, 1, 3, 2] && d.labels == [0, 1, 2, 9, 4] && d.classCount == 10)
        let first: [Float] = [-1, 8 / 127.5 - 1, 16 / 127.5 - 1]
        #expect(Array(d.images.scalars.prefix(3)) == first)
        #expect(d.images.scalars.last! == Float(29 * 8 % 256) / 127.5 - 1)
    }
    // The header is big-endian: 0x00000803 then the sizes.
    let bytes = [UInt8](IDXArray(dimensions: [1, 2, 300], values: [UInt8](repeating: 7, count: 600)).encoded())
    #expect(Array(bytes.prefix(16)) == [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 44])
    let f = try IDXArray.decode(Data(bytes), file: "x")
    #expect(f.dimensions == [1, 2, 300] && f.values.count == 600)
}

@Test func idxRejectsBadFilesNamingTheFileAndFault() throws {
    let dir = try temporaryDirectory()
    let (iu, lu) = try writeIDXPair(dir)
    let good = try Data(contentsOf: iu)
    // Truncated payload, truncated header.
    try good.prefix(good.count - 3).write(to: iu)
    expectDataError(.truncated, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    try good.prefix(9).write(to: iu)
    expectDataError(.truncated, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    // Truncated gzip stream.
    let gz = Gzip.compress(good)
    try gz.prefix(gz.count - 12).write(to: iu)
    expectDataError(.truncated, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    // Wrong magic numbers: not 00 00, and a float element type.
    var bad = [UInt8](good); bad[0] = 0x1A
    try Data(bad).write(to: iu)
    expectDataError(.badMagic, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    bad = [UInt8](good); bad[2] = 0x0D
    try Data(bad).write(to: iu)
    expectDataError(.badMagic, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    // Trailing bytes, and images with the labels' rank (files swapped).
    try (good + Data([1, 2])).write(to: iu)
    expectDataError(.badHeader, file: iu.path) { _ = try ImageDataset.idx(images: iu, labels: lu) }
    try good.write(to: iu)
    expectDataError(.badHeader, file: lu.path) { _ = try ImageDataset.idx(images: lu, labels: iu) }
    // Mislabelled: fewer labels than images, and a label out of range.
    let (i2, l2) = try writeIDXPair(dir, labels: [0, 1, 2, 3])
    expectDataError(.countMismatch, file: l2.path) { _ = try ImageDataset.idx(images: i2, labels: l2) }
    let (i3, l3) = try writeIDXPair(dir, labels: [0, 1, 10, 3, 4])
    expectDataError(.labelOutOfRange, file: l3.path) { _ = try ImageDataset.idx(images: i3, labels: l3) }
    // Fewer classes than the labels need.
    let (i4, l4) = try writeIDXPair(dir)
    expectDataError(.labelOutOfRange, file: l4.path) { _ = try ImageDataset.idx(images: i4, labels: l4, classNames: ["a", "b"]) }
    let missing = dir.appendingPathComponent("nope")
    expectDataError(.unreadable, file: missing.path) { _ = try ImageDataset.idx(images: missing, labels: l4) }
}
