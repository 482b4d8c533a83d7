/// Small helpers for writing SVG text deterministically: fixed decimal places, no locale, no "-0".
enum SVG {
    /// A coordinate rounded to 2 decimals, trailing zeros removed ("12.5", "3", "-0.25").
    static func num(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let scaled = (x * 100).rounded()
        if scaled == 0 { return "0" }
        let negative = scaled < 0
        let v = Int64(abs(scaled))
        let whole = v / 100, frac = v % 100
        var s = negative ? "-" : ""
        s += String(whole)
        if frac != 0 {
            s += frac % 10 == 0 ? "." + String(frac / 10) : (frac < 10 ? ".0" : ".") + String(frac)
        }
        return s
    }

    /// A number with `decimals` places for labels, using the typographic minus sign.
    static func label(_ x: Double, decimals: Int) -> String {
        var p: Double = 1
        for _ in 0..<max(0, decimals) { p *= 10 }
        let scaled = (x * p).rounded()
        if scaled == 0 { return decimals > 0 ? "0." + String(repeating: "0", count: decimals) : "0" }
        let negative = scaled < 0
        let v = Int64(abs(scaled))
        let pi = Int64(p)
        var s = negative ? "\u{2212}" : ""
        s += String(v / pi)
        if decimals > 0 {
            let frac = String(v % pi)
            s += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return s
    }

    /// Escapes text for element content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// "10⁻³"-style label for a power of ten.
    static func powerOfTen(_ k: Int) -> String {
        let sup: [Character: Character] = ["0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻"]
        if k == 0 { return "1" }
        if k == 1 { return "10" }
        return "10" + String(String(k).map { sup[$0] ?? $0 })
    }

    /// The stylesheet every plot carries. Text and axes use `currentColor`; series colours are CSS variables
    /// (`--plot-c0` … `--plot-c7`, `--plot-heat`) with fallbacks, so a page's theme recolours the plot.
    static let style: String = {
        var css = ".dlp{font-family:system-ui,'Noto Sans CJK SC',sans-serif;font-size:12px}"
        css += ".dlp text{fill:currentColor;stroke:none}"
        css += ".dlp .ax{stroke:currentColor;fill:none;stroke-width:1}"
        css += ".dlp .grid{stroke:currentColor;stroke-opacity:.15;fill:none;stroke-width:1}"
        css += ".dlp .frame{fill:none;stroke:currentColor;stroke-opacity:.35}"
        css += ".dlp .heat{fill:var(--plot-heat,#0072b2)}"
        css += ".dlp .legend{fill:var(--plot-bg,#fff);fill-opacity:.85;stroke:currentColor;stroke-opacity:.3}"
        for (i, c) in Plot.fallbackPalette.enumerated() {
            css += ".dlp .f\(i){fill:var(--plot-c\(i),\(c))}"
            css += ".dlp .s\(i){stroke:var(--plot-c\(i),\(c));fill:none}"
        }
        return css
    }()
}

/// Collects SVG elements into a string.
struct SVGBuffer {
    var text = ""
    mutating func add(_ s: String) { text += s; text += "\n" }
}
