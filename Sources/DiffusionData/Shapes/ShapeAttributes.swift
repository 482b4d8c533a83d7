/// The attributes a shapes caption or prompt states; nil where it says nothing (a prompt may leave any out).
public struct ShapeAttributes: Sendable, Hashable, Codable {
    public var kind: ShapeKind?
    public var colour: ShapeColour?
    public var size: ShapeSize?
    public var position: ShapePosition?

    public init(kind: ShapeKind? = nil, colour: ShapeColour? = nil, size: ShapeSize? = nil, position: ShapePosition? = nil) {
        (self.kind, self.colour, self.size, self.position) = (kind, colour, size, position)
    }

    /// Every attribute of a drawn image.
    public init(_ sample: ShapeSample) { self.init(kind: sample.kind, colour: sample.colour, size: sample.size, position: sample.position) }

    /// The attribute groups in a fixed order, with their number of values: kind 6, colour 6, size 2, position 9.
    public static let names = ["kind", "colour", "size", "position"]
    public static let counts = [ShapeKind.allCases.count, ShapeColour.allCases.count, ShapeSize.allCases.count, ShapePosition.allCases.count]

    /// Value index per group (nil: not stated), in the order of `names`.
    public var indices: [Int?] { [kind?.rawValue, colour?.rawValue, size?.rawValue, position?.rawValue] }

    /// The attributes stated by a caption or prompt in Chinese or English ("蓝色的大正方形，位于右下",
    /// "a large blue square, bottom right", "红色的圆形"). A name must appear whole: English names match whole
    /// words, two-word positions before one-word ones; Chinese names match as substrings. When a group is named
    /// twice the first mention (in group order of the lists) wins.
    public init(prompt: String) {
        let words = CaptionTokenizer.split(prompt)
        let english = " " + words.filter { $0.allSatisfy(\.isASCII) }.joined(separator: " ") + " "
        let chinese = words.filter { !$0.allSatisfy(\.isASCII) }.joined()
        func find<T: CaseIterable>(_: T.Type, _ en: (T) -> String, _ zh: (T) -> String) -> T? {
            // Longer English names first, so "top left" is not read as "top".
            let all = Array(T.allCases).sorted { en($0).count > en($1).count }
            return all.first { english.contains(" \(en($0)) ") || chinese.contains(zh($0)) }
        }
        self.init(kind: find(ShapeKind.self, \.english, \.chinese), colour: find(ShapeColour.self, \.english, \.chinese),
                  size: find(ShapeSize.self, \.english, \.chinese), position: find(ShapePosition.self, \.english, \.chinese))
    }
}
