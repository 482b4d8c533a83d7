import CPNG
import Foundation
import Testing
@testable import DiffusionData

@Test func pngRoundTripsThroughLibpng() throws {
    let dir = try temporaryDirectory()
    let rgb = RasterImage(width: 5, height: 3, channels: 3, pixels: (0..<45).map { UInt8($0 * 5) })
    let url = dir.appendingPathComponent("rgb.png")
    try PNG.write(rgb, to: url)
    #expect([UInt8](try Data(contentsOf: url).prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    #expect(try PNG.read(url) == rgb)
    let grey = RasterImage(width: 4, height: 4, channels: 1, pixels: (0..<16).map { UInt8($0 * 17) })
    try PNG.write(grey, to: url)
    #expect(try PNG.read(url, channels: 1) == grey)
    // Grey read as RGB repeats the value in every channel.
    #expect(try PNG.read(url, channels: 3).pixels == grey.pixels.flatMap { [$0, $0, $0] })
    expectDataError(.badImage, file: "junk") { _ = try PNG.decode(Data("not a png".utf8), file: "junk") }
    let png = try PNG.encode(rgb)
    expectDataError(.badImage, file: "cut") { _ = try PNG.decode(png.prefix(png.count - 20), file: "cut") }
}

@Test func tensorsAndGridsBecomeImages() throws {
    let t = Tensor([-1, 0, 1, 0.5, -2, 2], shape: [1, 2, 3])
    let r = RasterImage(tensor: t)
    #expect(r.pixels == [0, 128, 255, 191, 0, 255])
    #expect(r.enlarged(2).width == 6 && r.enlarged(2).pixels.prefix(6) == [0, 0, 128, 128, 255, 255])
    let batch = Tensor.full([3, 3, 2, 2], 1)
    let g = ImageGrid.raster(batch, columns: 2, padding: 1)
    #expect(g.width == 2 * 3 + 1 && g.height == 2 * 3 + 1 && g.channels == 3)
    #expect(g.pixels[0] == 0 && g.pixels[(1 * 7 + 1) * 3] == 255 && g.pixels[(4 * 7 + 4) * 3] == 0)  // empty fourth tile
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("grid.png")
    try PNG.write(ImageGrid.raster(ShapesDataset(seed: 0).batch(offset: 0, count: 16).images, scale: 4), to: url)
    #expect(try PNG.read(url).width == (4 * 17 + 1) * 4)
}

@Test func imageFoldersLoadOneClassPerSubfolder() throws {
    let root = try temporaryDirectory()
    func put(_ cls: String, _ name: String, _ image: RasterImage) throws {
        let d = root.appendingPathComponent(cls)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        try PNG.write(image, to: d.appendingPathComponent(name))
    }
    let black = RasterImage(width: 3, height: 2, channels: 3, pixels: [UInt8](repeating: 0, count: 18))
    let white = RasterImage(width: 3, height: 2, channels: 1, pixels: [UInt8](repeating: 255, count: 6))
    try put("cats", "b.png", black)
    try put("cats", "a.png", white)
    try put("dogs", "x.PNG", black)
    try Data("notes".utf8).write(to: root.appendingPathComponent("dogs/readme.txt"))
    let d = try ImageDataset.folder(root)
    #expect(d.classNames == ["cats", "dogs"] && d.labels == [0, 0, 1] && d.images.shape == [3, 3, 2, 3])
    #expect(d.images.select(axis: 0, 0).scalars.allSatisfy { $0 == 1 } && d.images.select(axis: 0, 1).scalars.allSatisfy { $0 == -1 })
    #expect(try ImageDataset.folder(root, channels: 1).images.shape == [3, 1, 2, 3])
    // A file of another size is rejected by name.
    let odd = RasterImage(width: 4, height: 2, channels: 3, pixels: [UInt8](repeating: 9, count: 24))
    try put("dogs", "y.png", odd)
    expectDataError(.sizeMismatch, file: root.appendingPathComponent("dogs/y.png").path) { _ = try ImageDataset.folder(root) }
    try FileManager.default.removeItem(at: root.appendingPathComponent("dogs/y.png"))
    try Data("garbage".utf8).write(to: root.appendingPathComponent("dogs/z.png"))
    expectDataError(.badImage, file: root.appendingPathComponent("dogs/z.png").path) { _ = try ImageDataset.folder(root) }
    let empty = try temporaryDirectory()
    expectDataError(.empty, file: empty.path) { _ = try ImageDataset.folder(empty) }
    try FileManager.default.createDirectory(at: empty.appendingPathComponent("only"), withIntermediateDirectories: true)
    expectDataError(.empty, file: empty.path) { _ = try ImageDataset.folder(empty) }
}
