import DiffusionEngine

/// A small closed-vocabulary tokenizer for captions: English words (lower-cased letters) and single Chinese
/// characters; punctuation and spaces separate tokens. Id 0 pads, id 1 is an unknown token.
public struct CaptionTokenizer: Sendable {
    public static let pad = 0, unknown = 1
    public let vocabulary: [String]
    private let ids: [String: Int]

    /// A tokenizer over `tokens` (duplicates removed, sorted, after the two special ids).
    public init(tokens: some Sequence<String>) {
        vocabulary = ["<pad>", "<unk>"] + Set(tokens).sorted()
        ids = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
    }

    /// Every token of the captions of the shapes and moving-shapes sets, in both languages.
    public static let shapes: CaptionTokenizer = {
        var words: [String] = []
        for k in ShapeKind.allCases { words += [k.english, k.chinese] }
        for c in ShapeColour.allCases { words += [c.english, c.chinese] }
        for p in ShapePosition.allCases { words += [p.english, p.chinese] }
        for s in ShapeSize.allCases { words += [s.english, s.chinese] }
        for d in MotionDirection.allCases { words += [d.english, d.chinese] }
        words += ["a", "moving", "的", "位于", "移动"]
        return CaptionTokenizer(tokens: words.flatMap(split))
    }()

    public var count: Int { vocabulary.count }

    /// Splits text into tokens: runs of ASCII letters (lower-cased) and single non-ASCII letters.
    public static func split(_ text: String) -> [String] {
        var out: [String] = [], word = ""
        for ch in text {
            if ch.isASCII && ch.isLetter { word.append(Character(ch.lowercased())); continue }
            if !word.isEmpty { out.append(word); word = "" }
            if !ch.isASCII && ch.isLetter { out.append(String(ch)) }
        }
        if !word.isEmpty { out.append(word) }
        return out
    }

    /// Token ids of `text`, cut or padded to `length`.
    public func encode(_ text: String, length: Int) -> [Int] {
        let t = Self.split(text).prefix(length).map { ids[$0] ?? Self.unknown }
        return t + [Int](repeating: Self.pad, count: length - t.count)
    }

    /// Ids for many texts as a [N, length] tensor (exact Float values), ready for an `Embedding`.
    public func encode(_ texts: [String], length: Int) -> Tensor {
        Tensor(texts.flatMap { encode($0, length: length).map(Float.init) }, shape: [texts.count, length])
    }
}
