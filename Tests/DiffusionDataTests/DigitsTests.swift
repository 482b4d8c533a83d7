import Foundation
import Testing
@testable import DiffusionData

@Test func digitsAreTheUCISetAsScikitLearnShipsIt() throws {
    let (pixels, labels) = try Digits.raw()
    #expect(labels.count == 1797 && pixels.count == 1797 * 64)
    // Class counts of sklearn.datasets.load_digits().
    #expect((0...9).map { d in labels.filter { $0 == d }.count } == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    #expect(Array(pixels.prefix(16)) == [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0])
    #expect(Array(labels.prefix(5)) == [0, 1, 2, 3, 4])
    #expect(pixels.allSatisfy { $0 <= 16 } && pixels.contains(16))
}

@Test func digitsAt8And16PixelsAreScaledToPlusMinusOne() throws {
    let d8 = try Digits.load()
    #expect(d8.images.shape == [1797, 1, 8, 8] && d8.classCount == 10 && d8.name == "digits")
    let v = d8.images.scalars
    #expect(v.min()! == -1 && v.max()! == 1)
    let first: [Float] = [-1, -1, 5.0 / 8 - 1, 13.0 / 8 - 1]
    #expect(Array(v.prefix(4)) == first)
    let d16 = try Digits.load(size: 16)
    #expect(d16.images.shape == [1797, 1, 16, 16] && d16.labels == d8.labels)
    let w = d16.images.scalars
    #expect(w.allSatisfy { $0 >= -1 && $0 <= 1 })
    // Half-pixel bilinear: output (0, 1) samples source (−¼ → 0, ¼): ¾·x[0,0] + ¼·x[0,1]; (1, 1) samples (¼, ¼).
    let x = { (i: Int, j: Int) in v[i * 8 + j] }
    #expect(Swift.abs(w[1] - (0.75 * x(0, 0) + 0.25 * x(0, 1))) < 1e-6)
    let want = 0.5625 * x(0, 0) + 0.1875 * x(0, 1) + 0.1875 * x(1, 0) + 0.0625 * x(1, 1)
    #expect(Swift.abs(w[16 + 1] - want) < 1e-6)
    // Bilinear ×2 with half-pixel centres keeps the mean of interior structure close.
    #expect(Swift.abs(d16.images.mean().item - d8.images.mean().item) < 0.01)
}

@Test func datasetBatchesSubsetsAndSplits() throws {
    let d = try Digits.load()
    let (x, y) = d.batch([3, 0])
    #expect(x.shape == [2, 1, 8, 8] && y.scalars == [3, 0])
    #expect(x.select(axis: 0, 1).scalars == d.images.select(axis: 0, 0).scalars)
    let (train, test) = d.split(testCount: 297, seed: 1)
    #expect(train.count == 1500 && test.count == 297 && train.name == "digits-train")
    #expect(Set(train.labels.indices.map { train.images.select(axis: 0, $0).scalars }).count > 1400)
    let again = d.split(testCount: 297, seed: 1)
    #expect(again.test.labels == test.labels && again.test.images.scalars == test.images.scalars)
}

@Test func gzipRoundTripsAndRejectsTruncatedStreams() throws {
    let text = Data(String(repeating: "扩散模型 diffusion ", count: 500).utf8)
    let z = Gzip.compress(text)
    #expect(Gzip.isCompressed(z) && z.count < text.count / 10)
    #expect(try Gzip.decompress(z) == text)
    #expect(try Gzip.decompress(z + Gzip.compress(Data("!".utf8))) == text + Data("!".utf8))
    expectDataError(.truncated, file: "cut.gz") { _ = try Gzip.decompress(z.prefix(z.count / 2), file: "cut.gz") }
    expectDataError(.badCompression, file: "junk.gz") { _ = try Gzip.decompress(Data([0x1F, 0x8B, 0x08, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 3, 0xFF, 0xFF]), file: "junk.gz") }
}
