import Foundation

extension Preprocessor {
    /// Scans a run of non-blank lines: code spans are kept; math, references, citations and computed numbers
    /// are replaced by placeholders. `firstLine` is the source line of `lines[0]`.
    mutating func scanInline(_ lines: [String], firstLine: Int, page: inout PreparedPage,
                             next: (Numbered) -> (number: String, id: String)) -> String {
        let s = Array(lines.joined(separator: "\n").unicodeScalars)
        var lineAt = [Int](repeating: firstLine, count: s.count + 1)
        var ln = firstLine
        for (k, c) in s.enumerated() { lineAt[k] = ln; if c == "\n" { ln += 1 } }
        lineAt[s.count] = ln
        var out = String.UnicodeScalarView()
        var i = 0

        func starts(_ p: String, at k: Int) -> Bool {
            var j = k
            for c in p.unicodeScalars { guard j < s.count, s[j] == c else { return false }; j += 1 }
            return true
        }
        func find(_ p: String, from k: Int) -> Int? {
            var j = k
            while j < s.count { if starts(p, at: j) { return j }; j += 1 }
            return nil
        }
        func text(_ a: Int, _ b: Int) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: s[a..<b]); return String(v) }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\n" || c == "\t" }
        func isWord(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" }
        func emit(_ cut: Cut) {
            page.cuts.append(cut)
            out.append(contentsOf: Placeholder.token(page.cuts.count - 1).unicodeScalars)
        }
        /// A display-math label right after the closing delimiter: ` {#eq:name}`.
        func equationLabel(after k: Int) -> (String, Int)? {
            var j = k
            while j < s.count && (s[j] == " " || s[j] == "\t") { j += 1 }
            guard starts("{#", at: j), let end = find("}", from: j) else { return nil }
            let label = text(j + 2, end)
            guard !label.isEmpty, !label.contains(" ") else { return nil }
            return (label, end + 1)
        }
        func display(_ tex: String, start: Int, end: Int) -> Int {
            var label: String?
            var after = end
            if let (l, e) = equationLabel(after: end) {
                after = e
                if l.hasPrefix("eq:") {
                    label = l
                    let (number, id) = next(.equation)
                    define(l, Target(kind: .equation, page: page.output, id: id, number: number, text: Numbered.equation.display(number)), page, lineAt[start])
                    page.equations[l] = (id, number)
                } else {
                    error(page, lineAt[start], "an equation label must start with 'eq:', got '{#\(l)}'")
                }
            }
            if tex.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { error(page, lineAt[start], "empty display math") }
            emit(.math(tex: tex, display: true, label: label, line: lineAt[start]))
            return after
        }

        while i < s.count {
            let c = s[i]
            // Backslash escapes: \$ stays an escaped dollar for cmark; \( \) and \[ \] delimit math.
            if c == "\\" && i + 1 < s.count {
                let d = s[i + 1]
                if d == "(" || d == "[" {
                    let closer = d == "(" ? "\\)" : "\\]"
                    guard let end = find(closer, from: i + 2) else {
                        error(page, lineAt[i], "unterminated math: '\\\(d)' without '\(closer)'")
                        out.append(contentsOf: s[i..<s.count]); break
                    }
                    let tex = text(i + 2, end)
                    if d == "(" { emit(.math(tex: tex, display: false, label: nil, line: lineAt[i])); i = end + 2 }
                    else { i = display(tex, start: i, end: end + 2) }
                    continue
                }
                out.append(c); out.append(d); i += 2; continue
            }
            // Code spans: a run of n backticks up to the next run of exactly n.
            if c == "`" {
                var n = 0
                while i + n < s.count && s[i + n] == "`" { n += 1 }
                var j = i + n
                var close: Int?
                while j < s.count {
                    if s[j] == "`" {
                        var m = 0
                        while j + m < s.count && s[j + m] == "`" { m += 1 }
                        if m == n { close = j; break }
                        j += m
                    } else { j += 1 }
                }
                let end = close.map { $0 + n } ?? i + n
                out.append(contentsOf: s[i..<end]); i = end; continue
            }
            if c == "$" {
                if i + 1 < s.count && s[i + 1] == "$" {
                    guard let end = find("$$", from: i + 2) else {
                        error(page, lineAt[i], "unterminated display math: '$$' without a closing '$$'")
                        out.append(contentsOf: s[i..<s.count]); break
                    }
                    i = display(text(i + 2, end), start: i, end: end + 2)
                    continue
                }
                // Inline math: `$` followed by non-space, closed by a `$` after non-space and not before a digit.
                if i + 1 < s.count && !isSpace(s[i + 1]) {
                    var j = i + 1
                    var close: Int?
                    while j < s.count {
                        if s[j] == "\\" { j += 2; continue }
                        if s[j] == "$" && !isSpace(s[j - 1]) && !(j + 1 < s.count && ("0"..."9").contains(s[j + 1])) { close = j; break }
                        j += 1
                    }
                    guard let end = close else {
                        error(page, lineAt[i], "unterminated inline math: '$' without a closing '$' in this paragraph (write \\$ for a dollar sign)")
                        out.append(contentsOf: s[i..<s.count]); break
                    }
                    emit(.math(tex: text(i + 1, end), display: false, label: nil, line: lineAt[i]))
                    i = end + 1
                    continue
                }
                out.append(c); i += 1; continue
            }
            // Citations: [@key], [@a; @b], [@key, locator].
            if c == "[" && i + 1 < s.count && s[i + 1] == "@", let end = find("]", from: i + 2) {
                let inner = text(i + 1, end)
                var keys: [String] = []
                var locators: [String?] = []
                var ok = true
                for part in inner.split(separator: ";") {
                    let p = part.trimmingCharacters(in: .whitespaces)
                    guard p.hasPrefix("@") else { ok = false; break }
                    let body = p.dropFirst()
                    let key = body.prefix(while: { $0 != "," && !$0.isWhitespace })
                    guard !key.isEmpty else { ok = false; break }
                    keys.append(String(key))
                    let loc = body.dropFirst(key.count).drop(while: { $0 == "," || $0 == " " })
                    locators.append(loc.isEmpty ? nil : String(loc))
                }
                if ok {
                    emit(.cite(keys: keys, locators: locators, line: lineAt[i]))
                    i = end + 1
                    continue
                }
            }
            // Cross-references: @eq:name, @fig:name, @ex:name, @sec:name, @def:name, …
            if c == "@" && (i == 0 || !isWord(s[i - 1])) {
                var j = i + 1
                while j < s.count && (s[j].properties.isLowercase) { j += 1 }
                let prefix = text(i + 1, j)
                if Numbered(rawValue: prefix) != nil && j < s.count && s[j] == ":" {
                    var k = j + 1
                    while k < s.count && (isWord(s[k]) && s[k].isASCII || s[k] == "-") { k += 1 }
                    while k > j + 1 && s[k - 1] == "-" { k -= 1 }
                    if k > j + 1 {
                        emit(.ref(label: text(i + 1, k), line: lineAt[i]))
                        i = k
                        continue
                    }
                }
            }
            // Computed numbers: {{experiment.key}}, {{experiment(a=1,b=2).key|%.3f}}.
            if c == "{" && i + 1 < s.count && s[i + 1] == "{", let end = find("}}", from: i + 2) {
                let inner = text(i + 2, end).trimmingCharacters(in: .whitespaces)
                if let n = parseNumber(inner) {
                    if checkExperiment(n.experiment, n.parameters, line: lineAt[i], page: page) {
                        emit(.number(experiment: n.experiment, parameters: n.parameters, key: n.key, format: n.format, line: lineAt[i]))
                    }
                } else {
                    error(page, lineAt[i], "cannot read '{{\(inner)}}': write {{experiment.key}} or {{experiment(param=value).key|%.3f}}")
                }
                i = end + 2
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    func parseNumber(_ text: String) -> (experiment: String, parameters: [String: String], key: String, format: String?)? {
        var body = Substring(text)
        var format: String?
        if let bar = body.firstIndex(of: "|") {
            format = String(body[body.index(after: bar)...]).trimmingCharacters(in: .whitespaces)
            body = body[..<bar]
            guard let f = format, f.hasPrefix("%"), let last = f.last, "fegFEG".contains(last) else { return nil }
        }
        let name = body.prefix(while: { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        guard !name.isEmpty else { return nil }
        body = body.dropFirst(name.count)
        var parameters: [String: String] = [:]
        if body.first == "(" {
            guard let close = body.firstIndex(of: ")") else { return nil }
            // Values may hold commas (steps=0,50,100): a piece without '=' continues the previous value.
            var lastKey: String?
            for piece in body[body.index(after: body.startIndex)..<close].split(separator: ",") {
                let kv = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2, !kv[0].isEmpty {
                    parameters[kv[0]] = kv[1]; lastKey = kv[0]
                } else if let k = lastKey, kv.count == 1 {
                    parameters[k]! += "," + kv[0]
                } else { return nil }
            }
            body = body[body.index(after: close)...]
        }
        guard body.first == "." else { return nil }
        let key = body.dropFirst()
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return (String(name), parameters, String(key), format)
    }
}
