import Foundation
import Testing
@testable import DiffusionData

/// A minimal GIF decoder for the files GIF.encode writes (global palette, full-size frames): the palette and
/// each frame's palette indices. Independent of the encoder: it follows the GIF89a specification.
struct DecodedGIF {
    var width = 0, height = 0, loops: Int?, delays: [Int] = []
    var palette: [UInt8] = []
    var frames: [[UInt8]] = []

    init(_ data: Data) throws {
        let b = [UInt8](data)
        var i = 0
        func u16() -> Int { defer { i += 2 }; return Int(b[i]) | Int(b[i + 1]) << 8 }
        struct Bad: Error { let why: String }
        guard String(decoding: b.prefix(6), as: UTF8.self) == "GIF89a" else { throw Bad(why: "signature") }
        i = 6
        width = u16(); height = u16()
        let flags = b[i]; i += 3
        guard flags & 0x80 != 0 else { throw Bad(why: "no global colour table") }
        let entries = 1 << (Int(flags & 7) + 1)
        palette = Array(b[i..<(i + 3 * entries)]); i += 3 * entries
        func subBlocks() -> [UInt8] {
            var out: [UInt8] = []
            while b[i] != 0 { let n = Int(b[i]); out += b[(i + 1)...(i + n)]; i += n + 1 }
            i += 1
            return out
        }
        while true {
            switch b[i] {
            case 0x3B: return
            case 0x21:
                let label = b[i + 1]; i += 2
                let body = subBlocks()
                if label == 0xF9 { delays.append(Int(body[1]) | Int(body[2]) << 8) }
                if label == 0xFF, String(decoding: body.prefix(11), as: UTF8.self) == "NETSCAPE2.0" { loops = Int(body[12]) | Int(body[13]) << 8 }
            case 0x2C:
                i += 10  // separator, left, top, width, height, flags
                guard b[i - 1] & 0x80 == 0 else { throw Bad(why: "local colour table") }
                let minSize = Int(b[i]); i += 1
                frames.append(try Self.lzwDecode(subBlocks(), minSize: minSize))
            default: throw Bad(why: "block 0x\(String(b[i], radix: 16)) at \(i)")
            }
        }
    }

    static func lzwDecode(_ bytes: [UInt8], minSize: Int) throws -> [UInt8] {
        let clear = 1 << minSize, end = clear + 1
        var table: [[UInt8]] = [], width = minSize + 1, out: [UInt8] = []
        func reset() { table = (0..<clear).map { [UInt8($0)] } + [[], []]; width = minSize + 1 }
        reset()
        var bitPos = 0, prev: [UInt8]?
        while bitPos + width <= bytes.count * 8 {
            var code = 0
            for k in 0..<width { let p = bitPos + k; code |= Int((bytes[p >> 3] >> (p & 7)) & 1) << k }
            bitPos += width
            if code == clear { reset(); prev = nil; continue }
            if code == end { return out }
            let entry: [UInt8]
            if code < table.count { entry = table[code] } else if code == table.count, let p = prev { entry = p + [p[0]] } else {
                struct Bad: Error {}; throw Bad()
            }
            out += entry
            if let p = prev, table.count < 4096 { table.append(p + [entry[0]]) }
            if table.count == 1 << width && width < 12 { width += 1 }
            prev = entry
        }
        struct NoEnd: Error {}; throw NoEnd()
    }
}

@Test func gifStructureIsGIF89aByteByByte() throws {
    let grey = RasterImage(width: 2, height: 1, channels: 1, pixels: [0, 255])
    let b = [UInt8](GIF.encode([grey, grey], delay: 7))
    #expect(Array(b.prefix(13)) == Array("GIF89a".utf8) + [2, 0, 1, 0, 0xF7, 0, 0])
    #expect(Array(b[13..<19]) == [0, 0, 0, 1, 1, 1] && Array(b[(13 + 765)..<(13 + 768)]) == [255, 255, 255])
    let ext = 13 + 768
    #expect(Array(b[ext..<(ext + 19)]) == [0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8) + [0x03, 0x01, 0, 0, 0])
    #expect(Array(b[(ext + 19)..<(ext + 27)]) == [0x21, 0xF9, 0x04, 0x04, 7, 0, 0, 0])
    #expect(Array(b[(ext + 27)..<(ext + 38)]) == [0x2C, 0, 0, 0, 0, 2, 0, 1, 0, 0, 8])
    #expect(b.last == 0x3B)
    // Two 8-bit indices at 9 bits: clear 256, 0, 255, end 257 → LSB-first packing.
    #expect(GIF.lzw([0, 255]) == [0x00, 0x01, 0xFC, 0x0B, 0x08])
}

@Test func gifFramesDecodeBackExactlyForGreyAndNearlyForColour() throws {
    var g = RandomGenerator(seed: 11)
    // Noise fills the 4096-entry table several times (clear codes) and widens codes up to 12 bits.
    let noise = (0..<3).map { _ in RasterImage(width: 64, height: 48, channels: 1, pixels: g.integers([64 * 48], in: 0..<256).scalars.map { UInt8($0) }) }
    let smooth = RasterImage(width: 64, height: 48, channels: 1, pixels: (0..<(64 * 48)).map { UInt8($0 % 64 / 8) })
    let decoded = try DecodedGIF(GIF.encode(noise + [smooth], delay: 5, loops: 3))
    #expect(decoded.width == 64 && decoded.height == 48 && decoded.loops == 3 && decoded.delays == [5, 5, 5, 5])
    #expect(decoded.frames == (noise + [smooth]).map(\.pixels))
    // Table-boundary lengths: every prefix of a run that grows the table by one entry per code.
    for n in [1, 2, 255, 256, 257, 511, 512, 513, 1000, 5000] {
        let data = (0..<n).map { UInt8(($0 * 7919) % 251) }
        #expect(try DecodedGIF.lzwDecode(GIF.lzw(data), minSize: 8) == data, "length \(n)")
    }
    // Colour frames: each pixel maps to a palette entry within the cube's quantisation step.
    let shapes = ShapesDataset(seed: 2).batch(offset: 0, count: 4).images
    let frames = (0..<4).map { RasterImage(tensor: shapes.select(axis: 0, $0)) }
    let colour = try DecodedGIF(GIF.encode(frames))
    #expect(colour.loops == 0 && colour.frames.count == 4)
    for (f, indices) in zip(frames, colour.frames) {
        for (p, k) in indices.enumerated() {
            for c in 0..<3 { #expect(Swift.abs(Int(colour.palette[3 * Int(k) + c]) - Int(f.pixels[3 * p + c])) <= 26) }
        }
    }
    #expect(try DecodedGIF(GIF.encode([frames[0]])).loops == nil)
}
