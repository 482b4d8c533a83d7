/// HTML escaping and unescaping for the text we generate.
enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Decodes the entities cmark and we emit (named basics and numeric references).
    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].prefix(12).firstIndex(of: ";") {
                let name = String(s[s.index(after: i)..<semi])
                var decoded: String?
                switch name {
                case "amp": decoded = "&"
                case "lt": decoded = "<"
                case "gt": decoded = ">"
                case "quot": decoded = "\""
                case "apos", "#39": decoded = "'"
                case "nbsp": decoded = "\u{00A0}"
                default:
                    if name.hasPrefix("#x") || name.hasPrefix("#X"), let v = UInt32(name.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) {
                        decoded = String(Character(u))
                    } else if name.hasPrefix("#"), let v = UInt32(name.dropFirst()), let u = Unicode.Scalar(v) {
                        decoded = String(Character(u))
                    }
                }
                if let decoded {
                    out += decoded
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    /// Text content of an HTML fragment: tags removed, entities decoded, whitespace collapsed.
    static func text(_ html: String) -> String {
        // Inline tags vanish (so "<em>扩散</em>模型" stays one word); block tags become a space.
        let inline: Set<String> = ["a", "em", "strong", "code", "span", "sup", "sub", "mark", "del", "b", "i", "kbd"]
        var out = ""
        var tag: String?
        for c in html {
            if var t = tag {
                if c == ">" {
                    let name = t.drop(while: { $0 == "/" }).prefix(while: { $0.isLetter || $0.isNumber }).lowercased()
                    if !inline.contains(name) { out.append(" ") }
                    tag = nil
                } else { t.append(c); tag = t }
                continue
            }
            if c == "<" { tag = ""; continue }
            out.append(c)
        }
        return unescape(out).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
