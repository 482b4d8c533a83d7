import Foundation
import Testing
@testable import DiffusionData

@Test func shapesImageDependsOnlyOnSeedAndIndex() {
    let set = ShapesDataset(seed: 7)
    let whole = set.batch(offset: 0, count: 12)
    let piece = set.batch(offset: 5, count: 3)
    #expect(whole.images.shape == [12, 3, 16, 16] && whole.classNames == ShapeKind.allCases.map(\.english))
    #expect(piece.images.scalars == whole.images.slice(axis: 0, 5, 8).scalars)
    #expect(piece.labels == Array(whole.labels[5..<8]) && piece.captions! == Array(whole.captions![5..<8]))
    #expect(set.sample(9) == set.samples(offset: 0, count: 12)[9])
    #expect(ShapesDataset(seed: 8).batch(offset: 0, count: 12).images.scalars != whole.images.scalars)
    let v = whole.images.scalars
    #expect(v.allSatisfy { $0 >= -1 && $0 <= 1 })
}

@Test func shapesCoverEveryAttributeAndCaptionThem() {
    let s = ShapesDataset(seed: 1).samples(offset: 0, count: 2000)
    #expect(Set(s.map(\.kind)).count == ShapeKind.allCases.count)
    #expect(Set(s.map(\.colour)).count == ShapeColour.allCases.count)
    #expect(Set(s.map(\.position)).count == 9 && Set(s.map(\.size)).count == 2)
    let x = ShapeSample(kind: .circle, colour: .red, size: .large, position: .topLeft,
                        placed: PlacedShape(kind: .circle, colour: .red, x: 4, y: 4, radius: 4))
    #expect(x.caption == Caption(chinese: "红色的大圆形，位于左上", english: "a large red circle, top left"))
    // The centre lies in the named third of the canvas (or as close as the shape allows).
    for q in s.prefix(300) {
        let third = { (c: Double) in c < 16.0 / 3 + 1 ? 0 : c > 32.0 / 3 - 1 ? 2 : 1 }
        if q.size == .small { #expect(third(q.placed.x) == q.position.column && third(q.placed.y) == q.position.row) }
        let r = q.placed.radius
        #expect(q.placed.x - r >= 0 && q.placed.x + r <= 16 && q.placed.y - r >= 0 && q.placed.y + r <= 16)
    }
}

@Test func renderingIsAntiAliasedWithTheRightArea() {
    let size = 16
    func coverage(_ kind: ShapeKind, _ r: Double, x: Double = 8, y: Double = 8) -> [Double] {
        // The red channel of yellow is 1 · coverage, mapped to [−1, 1].
        let img = ShapeRenderer.render([PlacedShape(kind: kind, colour: .yellow, x: x, y: y, radius: r)], size: size)
        return (0..<(size * size)).map { Double(img[$0] + 1) / 2 }
    }
    let circle = coverage(.circle, 4.3)
    #expect(Swift.abs(total(circle) - Double.pi * 18.49) < 0.02 * Double.pi * 18.49)
    #expect(circle.contains { $0 > 0.05 && $0 < 0.95 })  // edge pixels are partial
    #expect(circle[8 * 16 + 8] == 1 && circle[0] == 0)
    let square = coverage(.square, 4)  // side 0.85·2·4 = 6.8
    #expect(Swift.abs(total(square) - 6.8 * 6.8) < 4 * 6.8 / 16)  // 8×8 sampling: within ⅛ px per edge length, halved
    let diamond = coverage(.diamond, 4)  // area 2r²
    #expect(Swift.abs(total(diamond) - 32) < 4 * 4 * 2.0.squareRoot() / 16)
    let triangle = coverage(.triangle, 4)  // base 2r, height 1.75r
    #expect(Swift.abs(total(triangle) - 4 * 7) < 1.5)
    // The triangle points up: more ink in the lower half.
    let lower = total(Array(triangle[128...])), upper = total(Array(triangle[..<128]))
    #expect(lower > 2 * upper)
    // Later shapes paint over earlier ones.
    let two = ShapeRenderer.render([PlacedShape(kind: .square, colour: .red, x: 8, y: 8, radius: 5),
                                    PlacedShape(kind: .square, colour: .blue, x: 8, y: 8, radius: 2)], size: size)
    #expect(two[8 * 16 + 8] == Float(2 * 0.2 - 1) && two[2 * 256 + 8 * 16 + 8] == 1)
}

@Test func movingShapesMoveAtConstantVelocityAndBounce() {
    let set = MovingShapesDataset(seed: 3, frames: 8)
    let (videos, labels, captions) = set.batch(offset: 0, count: 6)
    #expect(videos.shape == [6, 8, 3, 16, 16] && labels.count == 6 && captions.count == 6)
    let again = set.batch(offset: 4, count: 2)
    #expect(again.videos.scalars == videos.slice(axis: 0, 4, 6).scalars && again.captions == Array(captions[4...]))
    let clip = set.shapes(offset: 0, count: 1)[0][0]
    #expect(captions[0].english == "a \(clip.size.english) \(clip.colour.english) \(clip.kind.english) moving \(clip.direction.english)")
    #expect(captions[0].chinese.hasSuffix("移动"))
    // Folded motion: inside the canvas, and steps of the constant speed except at a bounce.
    let m = MovingShape(kind: .circle, colour: .red, size: .small, direction: .right, x0: 10, y0: 5, vx: 1.5, vy: 0, radius: 2)
    let xs = (0..<12).map { m.placed(at: $0, canvas: 16).x }
    #expect(xs.prefix(3) == [10, 11.5, 13] && xs[3] == 13.5 && xs[4] == 12)  // hits 14 = 16 − r between frames 2 and 3
    #expect(xs.allSatisfy { $0 >= 2 && $0 <= 14 })
    #expect(m.placed(at: 7, canvas: 16).y == 5)
    let two = MovingShapesDataset(seed: 3, objects: 2).batch(offset: 0, count: 1)
    #expect(two.captions[0].english.contains("; ") && two.captions[0].chinese.contains("；"))
}

@Test func captionTokensCoverEveryCaption() {
    let tok = CaptionTokenizer.shapes
    #expect(CaptionTokenizer.split("a large red circle, top left") == ["a", "large", "red", "circle", "top", "left"])
    #expect(CaptionTokenizer.split("红色的大圆形，位于左上") == ["红", "色", "的", "大", "圆", "形", "位", "于", "左", "上"])
    let shapes = ShapesDataset(seed: 0).samples(offset: 0, count: 500).map(\.caption)
    let moving = MovingShapesDataset(seed: 0, objects: 2).batch(offset: 0, count: 50).captions
    for c in shapes + moving {
        for text in [c.english, c.chinese] { #expect(!tok.encode(text, length: 40).contains(CaptionTokenizer.unknown), "\(text)") }
    }
    let ids = tok.encode(["a red ring", "蓝色"], length: 4)
    #expect(ids.shape == [2, 4] && ids.scalars[3] == 0 && ids.scalars[6] == 0)
    #expect(tok.encode("zebra", length: 2) == [CaptionTokenizer.unknown, CaptionTokenizer.pad])
}

func total(_ x: [Double]) -> Double { x.reduce(0, +) }
