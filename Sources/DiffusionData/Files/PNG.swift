import CPNG
import Foundation

/// PNG reading and writing through libpng's simplified API (errors come back as messages, never longjmp).
public enum PNG {
    /// Decodes PNG bytes to `channels` 1 (grey), 3 (RGB) or 4 (RGBA); libpng converts colour types, expands
    /// palettes and composites alpha onto black when it is dropped. `file` names the source in errors.
    public static func decode(_ data: Data, channels: Int = 3, file: String = "<memory>") throws -> RasterImage {
        precondition([1, 3, 4].contains(channels), "PNG.decode: channels must be 1, 3 or 4")
        // libpng keeps a pointer to the input until finish_read, so both calls run inside one closure.
        let bytes = [UInt8](data)
        return try bytes.withUnsafeBytes { raw in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw DataError(file: file, fault: .badImage, detail: message(&image))
            }
            defer { png_image_free(&image) }
            image.format = format(channels)
            let (w, h) = (Int(image.width), Int(image.height))
            guard w > 0, h > 0, w * h <= 1 << 26 else {
                throw DataError(file: file, fault: .badImage, detail: "implausible size \(w)×\(h)")
            }
            var pixels = [UInt8](repeating: 0, count: w * h * channels)
            let done = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * channels), nil) }
            guard done != 0 else { throw DataError(file: file, fault: .badImage, detail: message(&image)) }
            return RasterImage(width: w, height: h, channels: channels, pixels: pixels)
        }
    }

    public static func read(_ url: URL, channels: Int = 3) throws -> RasterImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DataError(file: url.path, fault: .unreadable, detail: error.localizedDescription)
        }
        return try decode(data, channels: channels, file: url.path)
    }

    /// PNG bytes of an 8-bit image.
    public static func encode(_ raster: RasterImage) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(raster.width)
        image.height = UInt32(raster.height)
        image.format = format(raster.channels)
        let stride = Int32(raster.width * raster.channels)
        var size = 0
        // First call measures, second writes.
        let measured = raster.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard measured != 0, size > 0 else { throw DataError(file: "<png>", fault: .badImage, detail: message(&image)) }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            raster.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else { throw DataError(file: "<png>", fault: .badImage, detail: message(&image)) }
        return Data(out.prefix(size))
    }

    public static func write(_ raster: RasterImage, to url: URL) throws {
        try encode(raster).write(to: url, options: .atomic)
    }

    /// PNG_FORMAT_GRAY, _RGB, _RGBA (compound macros Swift does not import): colour flag 2, alpha flag 1.
    private static func format(_ channels: Int) -> UInt32 { channels == 1 ? 0 : channels == 3 ? 2 : 3 }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
