import DiffusionEngine
import Foundation

/// One of eight compass directions of motion.
public enum MotionDirection: Int, CaseIterable, Sendable, Codable {
    case right, upRight, up, upLeft, left, downLeft, down, downRight

    public var english: String { ["right", "up and right", "up", "up and left", "left", "down and left", "down", "down and right"][rawValue] }
    public var chinese: String { ["向右", "向右上", "向上", "向左上", "向左", "向左下", "向下", "向右下"][rawValue] }
    /// Unit vector in image coordinates (y down).
    public var vector: (dx: Double, dy: Double) {
        let a = Double(rawValue) * Double.pi / 4
        return (Foundation.cos(a), -Foundation.sin(a))
    }
}

/// A shape moving with constant velocity and bouncing off the canvas edges.
public struct MovingShape: Sendable, Hashable {
    public let kind: ShapeKind
    public let colour: ShapeColour
    public let size: ShapeSize
    public let direction: MotionDirection
    /// Start centre and velocity (pixels per frame), and half-extent.
    public let x0: Double, y0: Double, vx: Double, vy: Double, radius: Double

    /// The shape at frame t: the centre moves along a straight line folded back at the edges (elastic bounces).
    public func placed(at t: Int, canvas: Int) -> PlacedShape {
        func fold(_ p: Double) -> Double {
            let (lo, length) = (radius, Double(canvas) - 2 * radius)
            guard length > 0 else { return Double(canvas) / 2 }
            var u = (p - lo).truncatingRemainder(dividingBy: 2 * length)
            if u < 0 { u += 2 * length }
            return lo + (u > length ? 2 * length - u : u)
        }
        return PlacedShape(kind: kind, colour: colour, x: fold(x0 + vx * Double(t)), y: fold(y0 + vy * Double(t)), radius: radius)
    }

    /// "红色的小圆形向右上移动" / "a small red circle moving up and right".
    public var caption: Caption {
        Caption(chinese: "\(colour.chinese)的\(size.chinese)\(kind.chinese)\(direction.chinese)移动",
                english: "a \(size.english) \(colour.english) \(kind.english) moving \(direction.english)")
    }
}

/// A procedural, unlimited set of short videos: `frames` RGB frames of size×size with `objects` shapes moving at
/// constant velocity (0.6–1.4 pixels per frame at 16 px) in one of eight directions and bouncing off the edges.
/// Clip i uses uniform variates 8·objects·i … of one stream of `seed`, so it depends only on (seed, i).
/// Labels are the kind of the first shape; captions describe every shape's kind, colour, size and initial direction.
public struct MovingShapesDataset: Sendable {
    public let seed: UInt64
    public let size: Int, frames: Int, objects: Int
    static let draws = 8, stream: UInt64 = 0x5AA9_E501

    public init(seed: UInt64, size: Int = 16, frames: Int = 8, objects: Int = 1) {
        precondition(size >= 8 && frames >= 1 && (1...3).contains(objects), "MovingShapesDataset needs size ≥ 8, frames ≥ 1 and 1…3 objects")
        (self.seed, self.size, self.frames, self.objects) = (seed, size, frames, objects)
    }

    /// The moving shapes of clips offset..<offset + count.
    public func shapes(offset: Int, count: Int) -> [[MovingShape]] {
        precondition(offset >= 0 && count >= 0, "MovingShapesDataset: need offset ≥ 0 and count ≥ 0")
        let per = Self.draws * objects
        let u = Tensor.randomUniform([count, per], seed: seed, stream: Self.stream, offset: offset * per).scalars.map(Double.init)
        return (0..<count).map { i in (0..<objects).map { k in shape(Array(u[(i * per + k * Self.draws)..<(i * per + (k + 1) * Self.draws)])) } }
    }

    func shape(_ u: [Double]) -> MovingShape {
        func pick(_ v: Double, _ n: Int) -> Int { Swift.min(n - 1, Int(v * Double(n))) }
        let kind = ShapeKind(rawValue: pick(u[0], ShapeKind.allCases.count))!
        let colour = ShapeColour(rawValue: pick(u[1], ShapeColour.allCases.count))!
        let sizeClass = ShapeSize(rawValue: pick(u[2], 2))!
        let direction = MotionDirection(rawValue: pick(u[3], 8))!
        let scale = Double(size) / 16
        let radius = scale * (sizeClass == .small ? 2.2 + 0.6 * u[4] : 3.0 + 0.8 * u[4])
        let speed = scale * (0.6 + 0.8 * u[5])
        let (dx, dy) = direction.vector
        let span = Double(size) - 2 * radius
        return MovingShape(kind: kind, colour: colour, size: sizeClass, direction: direction,
                           x0: radius + span * u[6], y0: radius + span * u[7], vx: speed * dx, vy: speed * dy, radius: radius)
    }

    /// Clips offset..<offset + count: videos [count, frames, 3, size, size] in [−1, 1], labels (first shape's kind)
    /// and captions (shapes joined by "；" / "; ").
    public func batch(offset: Int, count: Int) -> (videos: Tensor, labels: [Int], captions: [Caption]) {
        let clips = shapes(offset: offset, count: count)
        var pixels: [Float] = []
        pixels.reserveCapacity(count * frames * 3 * size * size)
        for clip in clips {
            for t in 0..<frames { pixels += ShapeRenderer.render(clip.map { $0.placed(at: t, canvas: size) }, size: size) }
        }
        let captions = clips.map { clip in
            Caption(chinese: clip.map(\.caption.chinese).joined(separator: "；"), english: clip.map(\.caption.english).joined(separator: "; "))
        }
        return (Tensor(pixels, shape: [count, frames, 3, size, size]), clips.map { $0[0].kind.rawValue }, captions)
    }
}
