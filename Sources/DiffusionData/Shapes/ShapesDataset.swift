import DiffusionEngine

/// Where a shape sits: a cell of a 3×3 grid over the canvas.
public enum ShapePosition: Int, CaseIterable, Sendable, Codable {
    case topLeft, top, topRight, left, centre, right, bottomLeft, bottom, bottomRight

    public var english: String { ["top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right"][rawValue] }
    public var chinese: String { ["左上", "上方", "右上", "左侧", "中央", "右侧", "左下", "下方", "右下"][rawValue] }
    public var column: Int { rawValue % 3 }
    public var row: Int { rawValue / 3 }
}

public enum ShapeSize: Int, CaseIterable, Sendable, Codable {
    case small, large
    public var english: String { ["small", "large"][rawValue] }
    public var chinese: String { ["小", "大"][rawValue] }
}

/// The attributes of one image of the shapes set and where it is drawn.
public struct ShapeSample: Sendable, Hashable {
    public let kind: ShapeKind
    public let colour: ShapeColour
    public let size: ShapeSize
    public let position: ShapePosition
    public let placed: PlacedShape

    /// "红色的大圆形，位于左上" / "a large red circle, top left".
    public var caption: Caption {
        Caption(chinese: "\(colour.chinese)的\(size.chinese)\(kind.chinese)，位于\(position.chinese)",
                english: "a \(size.english) \(colour.english) \(kind.english), \(position.english)")
    }
}

/// A procedural, unlimited set of RGB images of one anti-aliased shape on black: kind × colour × size × position,
/// labelled by kind and captioned in Chinese and English.
///
/// Image i uses uniform variates 7i…7i + 6 of one stream of `seed` (counter-based), so it depends only on (seed, i):
/// any range of images can be regenerated alone, in any order, on any machine.
public struct ShapesDataset: Sendable {
    public let seed: UInt64
    /// Side of the square canvas in pixels (16 by default; geometry scales with it).
    public let size: Int
    static let draws = 7, stream: UInt64 = 0x5AA9_E500

    public init(seed: UInt64, size: Int = 16) {
        precondition(size >= 8, "ShapesDataset needs a canvas of at least 8 pixels, got \(size)")
        (self.seed, self.size) = (seed, size)
    }

    public static var classNames: [String] { ShapeKind.allCases.map(\.english) }

    /// Attributes of images offset..<offset + count.
    public func samples(offset: Int, count: Int) -> [ShapeSample] {
        precondition(offset >= 0 && count >= 0, "ShapesDataset: need offset ≥ 0 and count ≥ 0")
        let u = Tensor.randomUniform([count, Self.draws], seed: seed, stream: Self.stream, offset: offset * Self.draws).scalars
        return (0..<count).map { i in sample(u[(i * Self.draws)..<((i + 1) * Self.draws)].map(Double.init)) }
    }

    public func sample(_ i: Int) -> ShapeSample { samples(offset: i, count: 1)[0] }

    /// Images offset..<offset + count as a data set: [count, 3, size, size] in [−1, 1], labels = kind.
    public func batch(offset: Int, count: Int) -> ImageDataset {
        let s = samples(offset: offset, count: count)
        var pixels: [Float] = []
        pixels.reserveCapacity(count * 3 * size * size)
        for x in s { pixels += ShapeRenderer.render([x.placed], size: size) }
        return ImageDataset(name: "shapes", images: Tensor(pixels, shape: [count, 3, size, size]), labels: s.map(\.kind.rawValue),
                            classNames: Self.classNames, captions: s.map(\.caption))
    }

    /// Maps seven uniforms in [0, 1) to attributes and a placement.
    func sample(_ u: [Double]) -> ShapeSample {
        func pick<T: CaseIterable>(_ v: Double, _: T.Type) -> T where T.AllCases: RandomAccessCollection {
            let all = T.allCases
            return all[all.index(all.startIndex, offsetBy: Swift.min(all.count - 1, Int(v * Double(all.count))))]
        }
        let kind = pick(u[0], ShapeKind.self), colour = pick(u[1], ShapeColour.self)
        let sizeClass = pick(u[2], ShapeSize.self), position = pick(u[3], ShapePosition.self)
        let scale = Double(size) / 16
        let radius = scale * (sizeClass == .small ? 2.4 + 0.6 * u[4] : 3.8 + 0.9 * u[4])
        // Cell centre, jittered by up to ±1/12 of the canvas, kept inside the canvas.
        func coordinate(_ cell: Int, _ v: Double) -> Double {
            let c = Double(size) * (Double(cell) + 0.5) / 3 + Double(size) / 12 * (2 * v - 1)
            return Swift.min(Swift.max(c, radius + 0.5), Double(size) - radius - 0.5)
        }
        let placed = PlacedShape(kind: kind, colour: colour, x: coordinate(position.column, u[5]), y: coordinate(position.row, u[6]), radius: radius)
        return ShapeSample(kind: kind, colour: colour, size: sizeClass, position: position, placed: placed)
    }
}
