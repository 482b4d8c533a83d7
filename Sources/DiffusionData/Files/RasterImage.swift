import DiffusionEngine

/// An 8-bit image: `channels` 1 (grey), 3 (RGB) or 4 (RGBA) interleaved per pixel, rows top to bottom.
public struct RasterImage: Sendable, Equatable {
    public let width: Int, height: Int, channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition([1, 3, 4].contains(channels), "RasterImage: channels must be 1, 3 or 4, got \(channels)")
        precondition(width > 0 && height > 0 && pixels.count == width * height * channels,
                     "RasterImage: \(pixels.count) bytes do not fill \(width)×\(height)×\(channels)")
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }

    /// From a [C, H, W] tensor (C = 1 or 3) with values in [−1, 1]: round((v + 1)·127.5), clamped.
    public init(tensor: Tensor) {
        precondition(tensor.rank == 3 && [1, 3].contains(tensor.shape[0]), "RasterImage: expected [1 or 3, H, W], got \(tensor.shape)")
        let (c, h, w) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
        let v = tensor.scalars
        var p = [UInt8](repeating: 0, count: c * h * w)
        for k in 0..<c {
            for i in 0..<(h * w) { p[i * c + k] = Self.byte(v[k * h * w + i]) }
        }
        self.init(width: w, height: h, channels: c, pixels: p)
    }

    static func byte(_ v: Float) -> UInt8 {
        guard v.isFinite else { return v > 0 ? 255 : 0 }
        return UInt8(Swift.min(255, Swift.max(0, ((v + 1) * 127.5).rounded())))
    }

    /// [C, H, W] with values in [−1, 1] (v/127.5 − 1); alpha, if any, is dropped.
    public var tensor: Tensor {
        let c = channels == 4 ? 3 : channels, n = width * height
        var out = [Float](repeating: 0, count: c * n)
        for k in 0..<c {
            for i in 0..<n { out[k * n + i] = Float(pixels[i * channels + k]) / 127.5 - 1 }
        }
        return Tensor(out, shape: [c, height, width])
    }

    /// Each pixel repeated scale×scale times (nearest-neighbour enlargement, for viewing small images).
    public func enlarged(_ scale: Int) -> RasterImage {
        precondition(scale >= 1, "enlarged: scale must be ≥ 1")
        if scale == 1 { return self }
        let (w, h) = (width * scale, height * scale)
        var p = [UInt8](repeating: 0, count: w * h * channels)
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<channels { p[(y * w + x) * channels + k] = pixels[((y / scale) * width + x / scale) * channels + k] }
            }
        }
        return RasterImage(width: w, height: h, channels: channels, pixels: p)
    }
}

/// Image grids for figures and sample sheets.
public enum ImageGrid {
    /// Tiles a batch [N, C, H, W] in [−1, 1] row by row, `columns` per row (default ⌈√N⌉), with `padding` pixels of
    /// `background` between and around the tiles, then enlarges by `scale`.
    public static func raster(_ images: Tensor, columns: Int? = nil, padding: Int = 1, scale: Int = 1, background: UInt8 = 0) -> RasterImage {
        precondition(images.rank == 4 && images.shape[0] > 0 && [1, 3].contains(images.shape[1]), "ImageGrid: expected [N, 1 or 3, H, W], got \(images.shape)")
        let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let cols = columns ?? Int(Double(n).squareRoot().rounded(.up))
        let rows = (n + cols - 1) / cols
        let (gw, gh) = (cols * (w + padding) + padding, rows * (h + padding) + padding)
        var p = [UInt8](repeating: background, count: gw * gh * c)
        let v = images.scalars
        for i in 0..<n {
            let (ox, oy) = (padding + (i % cols) * (w + padding), padding + (i / cols) * (h + padding))
            for k in 0..<c {
                for y in 0..<h {
                    for x in 0..<w { p[((oy + y) * gw + ox + x) * c + k] = RasterImage.byte(v[((i * c + k) * h + y) * w + x]) }
                }
            }
        }
        return RasterImage(width: gw, height: gh, channels: c, pixels: p).enlarged(scale)
    }
}
