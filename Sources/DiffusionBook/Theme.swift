import Foundation

/// The site's colours for the light and dark themes. The stylesheet's variables are generated from these
/// tables, and a test checks every text/background pair below against WCAG's 4.5:1.
public enum Theme {
    public static let light: [String: String] = [
        "bg": "#ffffff", "fg": "#1f2328", "muted": "#57606a", "link": "#0550ae", "border": "#d0d7de",
        "panel": "#f6f8fa", "code-bg": "#f6f8fa", "code-fg": "#1f2328",
        "hl-kw": "#a40e26", "hl-str": "#0a3069", "hl-com": "#57606a", "hl-num": "#0550ae", "hl-type": "#6639ba",
        "def-bg": "#eef4fb", "def-bar": "#0550ae", "thm-bg": "#f4f0fb", "thm-bar": "#6639ba", "rem-bg": "#f6f8fa", "rem-bar": "#57606a",
        "lead-bg": "#fbf5e6", "lead-bar": "#8a5a00", "lab-bg": "#eef8f1", "lab-bar": "#116329",
        "ex-bg": "#ffffff", "ex-bar": "#8a5a00", "tag-bg": "#eaeef2", "tag-fg": "#1f2328", "star": "#8a5a00",
        "mark-bg": "#fff1a8", "mark-fg": "#1f2328", "button-bg": "#f6f8fa", "button-fg": "#1f2328",
        "plot-c0": "#0072b2", "plot-c1": "#c0392b", "plot-c2": "#007a5a", "plot-c3": "#a23b72",
        "plot-c4": "#8a5a00", "plot-c5": "#5b4bb7", "plot-c6": "#2f6f8f", "plot-c7": "#555555", "plot-heat": "#0072b2", "plot-bg": "#ffffff",
    ]
    public static let dark: [String: String] = [
        "bg": "#0d1117", "fg": "#e6edf3", "muted": "#9ea7b3", "link": "#6cb6ff", "border": "#3d444d",
        "panel": "#151b23", "code-bg": "#151b23", "code-fg": "#e6edf3",
        "hl-kw": "#ff8e86", "hl-str": "#a5d6ff", "hl-com": "#9ea7b3", "hl-num": "#79c0ff", "hl-type": "#d2a8ff",
        "def-bg": "#0f1d2e", "def-bar": "#6cb6ff", "thm-bg": "#1a1530", "thm-bar": "#d2a8ff", "rem-bg": "#151b23", "rem-bar": "#9ea7b3",
        "lead-bg": "#221b0c", "lead-bar": "#e3b341", "lab-bg": "#0f2116", "lab-bar": "#56d364",
        "ex-bg": "#0d1117", "ex-bar": "#e3b341", "tag-bg": "#262c36", "tag-fg": "#e6edf3", "star": "#e3b341",
        "mark-bg": "#5c4a00", "mark-fg": "#fff8d6", "button-bg": "#21262d", "button-fg": "#e6edf3",
        "plot-c0": "#56b4e9", "plot-c1": "#ff8c7a", "plot-c2": "#3ccb9b", "plot-c3": "#e590c4",
        "plot-c4": "#e3b341", "plot-c5": "#b4a7ff", "plot-c6": "#7fc8e8", "plot-c7": "#c0c0c0", "plot-heat": "#56b4e9", "plot-bg": "#0d1117",
    ]

    /// (foreground, background) pairs of text the site shows; each must reach 4.5:1 in both themes.
    public static let textPairs: [(String, String)] = {
        var pairs: [(String, String)] = []
        for bg in ["bg", "panel"] { for fg in ["fg", "muted", "link"] { pairs.append((fg, bg)) } }
        for fg in ["code-fg", "hl-kw", "hl-str", "hl-com", "hl-num", "hl-type"] { pairs.append((fg, "code-bg")) }
        for bg in ["def-bg", "thm-bg", "rem-bg", "lead-bg", "lab-bg", "ex-bg"] {
            for fg in ["fg", "muted", "link", "star"] { pairs.append((fg, bg)) }
            pairs.append(("code-fg", bg))
        }
        pairs += [("tag-fg", "tag-bg"), ("mark-fg", "mark-bg"), ("button-fg", "button-bg"), ("muted", "button-bg")]
        // Plot series and text sit on the page background.
        for k in 0..<8 { pairs.append(("plot-c\(k)", "bg")) }
        pairs.append(("plot-heat", "bg"))
        return pairs
    }()

    /// WCAG 2 contrast ratio of two `#rrggbb` colours.
    public static func contrast(_ a: String, _ b: String) -> Double {
        func luminance(_ hex: String) -> Double {
            let v = Int(hex.dropFirst(), radix: 16) ?? 0
            let channels = [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff].map { c -> Double in
                let s = Double(c) / 255
                return s <= 0.03928 ? s / 12.92 : Foundation.pow((s + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
        }
        let (la, lb) = (luminance(a), luminance(b))
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }

    static func variables(_ theme: [String: String]) -> String {
        theme.keys.sorted().map { "--\($0):\(theme[$0]!);" }.joined()
    }
}
