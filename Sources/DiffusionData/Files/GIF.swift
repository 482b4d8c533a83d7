import Foundation

/// Animated GIF89a writing with our own LZW encoder (for denoising animations).
///
/// Palette: 256 greys when every frame is grey; otherwise a 6×6×6 colour cube plus 40 greys, each pixel taking
/// the nearer of its cube and grey entries. Frames loop forever (NETSCAPE2.0) unless `loops` is given.
public enum GIF {
    /// GIF bytes of `frames` (all the same size), each shown for `delay` hundredths of a second.
    public static func encode(_ frames: [RasterImage], delay: Int = 10, loops: Int = 0) -> Data {
        precondition(!frames.isEmpty, "GIF.encode needs at least one frame")
        let (w, h) = (frames[0].width, frames[0].height)
        precondition(frames.allSatisfy { $0.width == w && $0.height == h }, "GIF.encode: frames differ in size")
        precondition(w <= 0xFFFF && h <= 0xFFFF && (0...0xFFFF).contains(delay) && (0...0xFFFF).contains(loops), "GIF.encode: size, delay or loops out of range")
        let grey = frames.allSatisfy { $0.channels == 1 }
        var out: [UInt8] = Array("GIF89a".utf8)
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        u16(w); u16(h)
        out += [0xF7, 0, 0]  // global colour table of 2^(7+1) entries, 8 bits per primary; background 0; square pixels
        out += palette(grey: grey)
        if frames.count > 1 {
            out += [0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8) + [0x03, 0x01]
            u16(loops)
            out += [0x00]
        }
        for frame in frames {
            out += [0x21, 0xF9, 0x04, 0x04]  // graphic control: dispose = leave in place, no transparency
            u16(delay)
            out += [0x00, 0x00]
            out += [0x2C]; u16(0); u16(0); u16(w); u16(h); out += [0x00]  // image descriptor, no local table
            out += [8]  // LZW minimum code size
            let codes = lzw(indices(frame, grey: grey))
            var i = 0
            while i < codes.count {
                let n = Swift.min(255, codes.count - i)
                out.append(UInt8(n))
                out += codes[i..<(i + n)]
                i += n
            }
            out.append(0)
        }
        out.append(0x3B)
        return Data(out)
    }

    public static func write(_ frames: [RasterImage], delay: Int = 10, loops: Int = 0, to url: URL) throws {
        try encode(frames, delay: delay, loops: loops).write(to: url, options: .atomic)
    }

    /// 256 RGB triples.
    static func palette(grey: Bool) -> [UInt8] {
        if grey { return (0..<256).flatMap { [UInt8($0), UInt8($0), UInt8($0)] } }
        var p: [UInt8] = []
        for r in 0..<6 { for g in 0..<6 { for b in 0..<6 { p += [UInt8(r * 51), UInt8(g * 51), UInt8(b * 51)] } } }
        for k in 0..<40 { let v = UInt8((k * 255 + 19) / 39); p += [v, v, v] }
        return p
    }

    /// Palette index of every pixel.
    static func indices(_ frame: RasterImage, grey: Bool) -> [UInt8] {
        let n = frame.width * frame.height, c = frame.channels
        if grey { return frame.pixels }
        return (0..<n).map { i in
            let (r, g, b) = c == 1 ? (frame.pixels[i], frame.pixels[i], frame.pixels[i])
                                   : (frame.pixels[i * c], frame.pixels[i * c + 1], frame.pixels[i * c + 2])
            let q = [r, g, b].map { (Int($0) + 25) / 51 }
            let cube = 36 * q[0] + 6 * q[1] + q[2]
            let mean = (Int(r) + Int(g) + Int(b)) / 3
            let k = (mean * 39 + 127) / 255, v = (k * 255 + 19) / 39
            func err(_ x: Int, _ y: Int, _ z: Int) -> Int { (Int(r) - x) * (Int(r) - x) + (Int(g) - y) * (Int(g) - y) + (Int(b) - z) * (Int(b) - z) }
            return err(v, v, v) < err(q[0] * 51, q[1] * 51, q[2] * 51) ? UInt8(216 + k) : UInt8(cube)
        }
    }

    /// Variable-width LZW of 8-bit indices as GIF packs it: codes LSB first, starting at 9 bits, a clear code first
    /// and whenever the 4096-entry table fills, an end code last. The width grows when the next free code no longer
    /// fits, in step with a decoder that adds each entry one code later than the encoder.
    static func lzw(_ data: [UInt8]) -> [UInt8] {
        let clear = 256, end = 257
        var out: [UInt8] = [], bits = 0, nbits = 0
        var width = 9, next = 258
        var table: [Int: Int] = [:]  // (prefix << 8 | byte) → code
        func emit(_ code: Int) {
            bits |= code << nbits
            nbits += width
            while nbits >= 8 { out.append(UInt8(bits & 0xFF)); bits >>= 8; nbits -= 8 }
        }
        emit(clear)
        guard var prefix = data.first.map(Int.init) else { emit(end); if nbits > 0 { out.append(UInt8(bits)) }; return out }
        for byte in data.dropFirst() {
            let key = prefix << 8 | Int(byte)
            if let code = table[key] { prefix = code; continue }
            emit(prefix)
            table[key] = next
            next += 1
            if next > 1 << width && width < 12 { width += 1 }
            if next == 4096 {
                emit(clear)
                table.removeAll(keepingCapacity: true)
                (width, next) = (9, 258)
            }
            prefix = Int(byte)
        }
        emit(prefix)
        // The decoder adds one more entry after reading that code and may widen before the end code.
        if next == 1 << width && width < 12 { width += 1 }
        emit(end)
        if nbits > 0 { out.append(UInt8(bits & 0xFF)) }
        return out
    }
}
