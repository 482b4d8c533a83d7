import Foundation

/// Build-time syntax highlighting for the languages the book shows (Swift, Python, shell, C, JSON):
/// comments, strings, numbers, keywords and type names become `<span class="hl-…">`. No JavaScript needed.
enum Highlighter {
    static let keywords: [String: Set<String>] = [
        "swift": ["let", "var", "func", "return", "if", "else", "guard", "for", "in", "while", "repeat", "struct", "class", "enum",
                  "protocol", "extension", "import", "public", "private", "internal", "fileprivate", "static", "mutating", "throws",
                  "throw", "try", "catch", "do", "switch", "case", "default", "break", "continue", "where", "init", "self", "Self",
                  "nil", "true", "false", "some", "any", "inout", "async", "await", "defer", "typealias", "associatedtype", "as", "is",
                  "final", "override", "lazy", "weak", "let", "subscript", "operator", "rethrows", "open", "nonisolated"],
        "python": ["def", "return", "if", "elif", "else", "for", "in", "while", "class", "import", "from", "as", "with", "try",
                   "except", "finally", "raise", "lambda", "yield", "None", "True", "False", "and", "or", "not", "is", "pass",
                   "break", "continue", "global", "nonlocal", "assert", "del", "async", "await"],
        "sh": ["if", "then", "else", "fi", "for", "do", "done", "while", "case", "esac", "in", "function", "export", "cd", "make",
               "swift", "sudo", "apt-get", "echo", "diffusion"],
        "c": ["int", "float", "double", "char", "void", "return", "if", "else", "for", "while", "struct", "static", "const",
              "unsigned", "long", "size_t", "include", "define", "typedef", "sizeof"],
        "json": ["true", "false", "null"],
    ]
    static let aliases = ["bash": "sh", "shell": "sh", "console": "sh", "zsh": "sh", "py": "python", "h": "c", "cpp": "c"]

    static func highlightCodeBlocks(_ html: String) -> String {
        var out = ""
        var rest = Substring(html)
        while let r = rest.range(of: "<pre><code") {
            out += rest[..<r.lowerBound]
            let after = rest[r.upperBound...]
            guard let gt = after.firstIndex(of: ">"), let end = after.range(of: "</code></pre>") else { out += rest[r]; rest = after; continue }
            let attrs = String(after[..<gt])
            var lang = ""
            if let l = attrs.range(of: "language-") {
                lang = String(attrs[l.upperBound...].prefix(while: { $0 != "\"" && $0 != " " }))
            }
            let code = String(after[after.index(after: gt)..<end.lowerBound])
            let key = aliases[lang] ?? lang
            let body = keywords[key] != nil ? highlight(HTML.unescape(code), language: key) : code
            out += "<div class=\"code-block\"><pre><code\(attrs)>\(body)</code></pre></div>"
            rest = after[end.upperBound...]
        }
        return out + rest
    }

    static func highlight(_ code: String, language: String) -> String {
        let kw = keywords[language] ?? []
        let s = Array(code.unicodeScalars)
        var out = ""
        var i = 0
        func span(_ cls: String, _ a: Int, _ b: Int) {
            out += "<span class=\"hl-\(cls)\">" + HTML.escape(String(String.UnicodeScalarView(s[a..<b]))) + "</span>"
        }
        let hashComments = language == "python" || language == "sh"
        while i < s.count {
            let c = s[i]
            if (c == "/" && i + 1 < s.count && s[i + 1] == "/" && !hashComments && language != "json") || (c == "#" && hashComments) {
                var j = i
                while j < s.count && s[j] != "\n" { j += 1 }
                span("com", i, j); i = j; continue
            }
            if c == "/" && i + 1 < s.count && s[i + 1] == "*" && !hashComments {
                var j = i + 2
                while j + 1 < s.count && !(s[j] == "*" && s[j + 1] == "/") { j += 1 }
                j = min(s.count, j + 2)
                span("com", i, j); i = j; continue
            }
            if c == "\"" || (c == "'" && language != "swift") {
                var j = i + 1
                while j < s.count && s[j] != c && s[j] != "\n" { if s[j] == "\\" { j += 1 }; j += 1 }
                j = min(s.count, j + 1)
                span("str", i, j); i = j; continue
            }
            if ("0"..."9").contains(c) && (i == 0 || !(s[i - 1].properties.isAlphabetic || s[i - 1] == "_")) {
                var j = i
                while j < s.count && (("0"..."9").contains(s[j]) || s[j] == "." || s[j] == "_" || s[j] == "e" || s[j] == "x") { j += 1 }
                span("num", i, j); i = j; continue
            }
            if c.properties.isAlphabetic || c == "_" || (c == "@" && language == "swift") {
                var j = i + 1
                while j < s.count && (s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) || s[j] == "_" || (language == "sh" && s[j] == "-")) { j += 1 }
                let word = String(String.UnicodeScalarView(s[i..<j]))
                if kw.contains(word) || c == "@" { span("kw", i, j) }
                else if (language == "swift" || language == "c") && c.properties.isUppercase { span("type", i, j) }
                else { out += HTML.escape(word) }
                i = j; continue
            }
            out += HTML.escape(String(Character(c)))
            i += 1
        }
        return out
    }
}
