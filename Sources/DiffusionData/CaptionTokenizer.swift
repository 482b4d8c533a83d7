import DiffusionEngine

/// A small closed-vocabulary tokenizer for captions: English words (lower-cased letters) and single Chinese
/// characters; punctuation and spaces separate tokens. Id 0 pads, id 1 is an unknown token.
public struct CaptionTokenizer: Sendable {
    public static let pad = 0, unknown = 1
    public let vocabulary: [String]
    let ids: [String: Int]

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

/// A prompt the tokenizer cannot encode exactly.
public enum PromptError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A word (English) or character (Chinese) outside the vocabulary.
    case unknownWord(String)
    /// More tokens than the model reads.
    case tooLong(tokens: Int, limit: Int)

    public var description: String {
        switch self {
        case .unknownWord(let w): return "unknown word '\(w)' in the prompt: the model knows only the words of the shapes captions"
        case .tooLong(let n, let limit): return "the prompt has \(n) tokens; the model reads at most \(limit)"
        }
    }
}

extension CaptionTokenizer {
    /// Token ids of a user's prompt padded to `length`, refusing what `encode` would silently change: an unknown
    /// word (named in the error) or more than `length` tokens. The empty prompt is all padding (the empty text).
    public func strictEncode(_ text: String, length: Int) throws(PromptError) -> [Int] {
        let tokens = Self.split(text)
        if let bad = tokens.first(where: { ids[$0] == nil }) { throw .unknownWord(bad) }
        guard tokens.count <= length else { throw .tooLong(tokens: tokens.count, limit: length) }
        return tokens.map { ids[$0]! } + [Int](repeating: Self.pad, count: length - tokens.count)
    }

    /// `strictEncode` of several prompts as a [N, length] tensor.
    public func strictEncode(_ texts: [String], length: Int) throws(PromptError) -> Tensor {
        var out: [Float] = []
        for t in texts { out += try strictEncode(t, length: length).map(Float.init) }
        return Tensor(out, shape: [texts.count, length])
    }
}
