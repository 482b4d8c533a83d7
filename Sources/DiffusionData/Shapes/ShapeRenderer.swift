/// The kinds of shape the procedural sets draw, with Chinese and English names.
public enum ShapeKind: Int, CaseIterable, Sendable, Codable {
    case circle, square, triangle, diamond, cross, ring

    public var english: String { ["circle", "square", "triangle", "diamond", "cross", "ring"][rawValue] }
    public var chinese: String { ["圆形", "正方形", "三角形", "菱形", "十字形", "圆环"][rawValue] }

    /// Whether the point (dx, dy) from the centre (y down) lies inside the shape of half-extent r.
    func contains(_ dx: Double, _ dy: Double, _ r: Double) -> Bool {
        switch self {
        case .circle: return dx * dx + dy * dy <= r * r
        case .square: return Swift.abs(dx) <= 0.85 * r && Swift.abs(dy) <= 0.85 * r
        case .triangle:  // apex up at −r, base at +0.75r, half-width r at the base
            let (top, base) = (-r, 0.75 * r)
            return dy >= top && dy <= base && Swift.abs(dx) <= r * (dy - top) / (base - top)
        case .diamond: return Swift.abs(dx) + Swift.abs(dy) <= r
        case .cross:
            let (a, b) = (Swift.abs(dx), Swift.abs(dy))
            return (a <= 0.35 * r && b <= r) || (b <= 0.35 * r && a <= r)
        case .ring:
            let d2 = dx * dx + dy * dy
            return d2 <= r * r && d2 >= 0.3 * r * r
        }
    }
}

/// Colours of the procedural sets (RGB in [0, 1]).
public enum ShapeColour: Int, CaseIterable, Sendable, Codable {
    case red, green, blue, yellow, purple, cyan

    public var english: String { ["red", "green", "blue", "yellow", "purple", "cyan"][rawValue] }
    public var chinese: String { ["红色", "绿色", "蓝色", "黄色", "紫色", "青色"][rawValue] }
    public var rgb: (Double, Double, Double) {
        [(0.95, 0.15, 0.15), (0.15, 0.8, 0.2), (0.2, 0.35, 1.0), (1.0, 0.9, 0.1), (0.65, 0.25, 0.9), (0.1, 0.85, 0.9)][rawValue]
    }
}

/// One shape to draw: kind, colour, centre (pixels, y down) and half-extent.
public struct PlacedShape: Sendable, Hashable {
    public var kind: ShapeKind
    public var colour: ShapeColour
    public var x: Double, y: Double
    public var radius: Double

    public init(kind: ShapeKind, colour: ShapeColour, x: Double, y: Double, radius: Double) {
        (self.kind, self.colour, self.x, self.y, self.radius) = (kind, colour, x, y, radius)
    }
}

/// Anti-aliased rasterisation by supersampling: each pixel's coverage is the fraction of an 8×8 grid of sample points
/// inside the shape; later shapes are painted over earlier ones on a black background.
public enum ShapeRenderer {
    public static let subsamples = 8

    /// An RGB image [3, size, size] in [−1, 1] (row-major, channel first).
    public static func render(_ shapes: [PlacedShape], size: Int) -> [Float] {
        var rgb = [Double](repeating: 0, count: 3 * size * size)
        let s = subsamples, plane = size * size
        for shape in shapes {
            let (cr, cg, cb) = shape.colour.rgb
            // Only the pixels of the bounding box can be covered.
            let lo = { (c: Double) in Swift.max(0, Int((c - shape.radius).rounded(.down)) - 1) }
            let hi = { (c: Double) in Swift.min(size - 1, Int((c + shape.radius).rounded(.up)) + 1) }
            guard lo(shape.y) <= hi(shape.y), lo(shape.x) <= hi(shape.x) else { continue }
            for py in lo(shape.y)...hi(shape.y) {
                for px in lo(shape.x)...hi(shape.x) {
                    var inside = 0
                    for sy in 0..<s {
                        for sx in 0..<s {
                            let dx = Double(px) + (Double(sx) + 0.5) / Double(s) - shape.x
                            let dy = Double(py) + (Double(sy) + 0.5) / Double(s) - shape.y
                            if shape.kind.contains(dx, dy, shape.radius) { inside += 1 }
                        }
                    }
                    guard inside > 0 else { continue }
                    let a = Double(inside) / Double(s * s), i = py * size + px
                    rgb[i] = rgb[i] * (1 - a) + cr * a
                    rgb[plane + i] = rgb[plane + i] * (1 - a) + cg * a
                    rgb[2 * plane + i] = rgb[2 * plane + i] * (1 - a) + cb * a
                }
            }
        }
        return rgb.map { Float(2 * $0 - 1) }
    }
}
