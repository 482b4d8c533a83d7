import Foundation

/// Maps data values to pixels along one axis.
struct Scale {
    let lo: Double, hi: Double       // data range (log10 of it for log axes)
    let p0: Double, p1: Double       // pixel range
    let log: Bool

    func callAsFunction(_ v: Double) -> Double? {
        let t: Double
        if log {
            guard v > 0 else { return nil }
            t = (Foundation.log10(v) - lo) / (hi - lo)
        } else {
            t = (v - lo) / (hi - lo)
        }
        guard t.isFinite else { return nil }
        return p0 + t * (p1 - p0)
    }

    /// Tick positions in data units with their labels.
    func ticks(target: Int) -> [(Double, String)] {
        if log {
            let a = Int((lo - 1e-9).rounded(.up)), z = Int((hi + 1e-9).rounded(.down))
            guard a <= z else { return [] }
            let every = max(1, (z - a + target - 1) / max(target, 1))
            return stride(from: a, through: z, by: every).map { (pow(10, Double($0)), SVG.powerOfTen($0)) }
        }
        let span = hi - lo
        guard span > 0 && span.isFinite else { return [(lo, SVG.label(lo, decimals: 2))] }
        let raw = span / Double(max(target, 1))
        let mag = pow(10, (Foundation.log10(raw)).rounded(.down))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let decimals = max(0, Int(-(Foundation.log10(step)).rounded(.down)) + (step / mag == 2.5 ? 1 : 0))
        var out: [(Double, String)] = []
        var k = (lo / step).rounded(.up)
        while k * step <= hi + step * 1e-9 {
            out.append((k * step, SVG.label(k * step, decimals: decimals)))
            k += 1
        }
        return out
    }
}

extension Plot {
    static func header(width: Double, height: Double, title: String) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dlp\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\" role=\"img\""
        if !title.isEmpty { s += " aria-label=\"\(SVG.escape(title))\"" }
        s += ">\n<style>\(SVG.style)</style>"
        if !title.isEmpty { s += "\n<title>\(SVG.escape(title))</title>" }
        return s
    }

    /// The complete SVG document for this plot.
    public func svg() -> String {
        var b = SVGBuffer()
        b.add(Plot.header(width: width, height: height, title: title ?? ""))
        b.text += body()
        b.add("</svg>")
        return b.text
    }

    // MARK: Ranges

    private func dataPoints(horizontal: Bool) -> [Double] {
        var vs: [Double] = []
        for l in layers {
            switch l {
            case let .scatter(points, _, _, _, _, _, _), let .line(points, _, _, _, _):
                vs += points.map { horizontal ? $0.x : $0.y }
            case let .heat(_, xr, yr, _):
                let r = horizontal ? xr : yr
                vs += [r.lowerBound, r.upperBound]
            case let .quiver(origins, _, _, _):
                vs += origins.map { horizontal ? $0.x : $0.y }
            case let .trajectories(paths, _, _, _):
                for p in paths { vs += p.map { horizontal ? $0.x : $0.y } }
            }
        }
        return vs
    }

    private func fitted(_ axis: Axis, horizontal: Bool) -> (Double, Double) {
        if let r = axis.range {
            if axis.scale == .log {
                precondition(r.lowerBound > 0, "Plot: a log axis needs a positive range, got \(r)")
                return (log10(r.lowerBound), log10(r.upperBound))
            }
            return r.lowerBound < r.upperBound ? (r.lowerBound, r.upperBound) : (r.lowerBound - 1, r.upperBound + 1)
        }
        var vs = dataPoints(horizontal: horizontal).filter(\.isFinite)
        if axis.scale == .log {
            vs = vs.filter { $0 > 0 }.map { log10($0) }
            guard let lo = vs.min(), let hi = vs.max() else { return (0, 1) }
            let a = lo.rounded(.down), z = hi.rounded(.up)
            return a < z ? (a, z) : (a - 1, z + 1)
        }
        guard let lo = vs.min(), let hi = vs.max() else { return (0, 1) }
        if lo == hi { return (lo - 1, hi + 1) }
        let pad = (hi - lo) * 0.04
        return (lo - pad, hi + pad)
    }

    // MARK: Body

    /// The plot's elements without the `<svg>` wrapper (so figures can place several side by side).
    func body() -> String {
        var b = SVGBuffer()
        let top = title == nil ? 10.0 : 28.0
        let left = y.label == nil ? 46.0 : 60.0
        let bottom = x.label == nil ? 26.0 : 42.0
        let right = 20.0
        let px0 = left, px1 = width - right, py0 = height - bottom, py1 = top
        var (xlo, xhi) = fitted(x, horizontal: true)
        var (ylo, yhi) = fitted(y, horizontal: false)
        if equalAspect && x.scale == .linear && y.scale == .linear {
            // Grow the range of the axis with fewer pixels per unit, keeping both centred.
            let sx = (px1 - px0) / (xhi - xlo), sy = (py0 - py1) / (yhi - ylo)
            if sx > sy {
                let c = (xlo + xhi) / 2, half = (px1 - px0) / sy / 2
                (xlo, xhi) = (c - half, c + half)
            } else {
                let c = (ylo + yhi) / 2, half = (py0 - py1) / sx / 2
                (ylo, yhi) = (c - half, c + half)
            }
        }
        let sx = Scale(lo: xlo, hi: xhi, p0: px0, p1: px1, log: x.scale == .log)
        let sy = Scale(lo: ylo, hi: yhi, p0: py0, p1: py1, log: y.scale == .log)

        if let t = title {
            b.add("<text x=\"\(SVG.num((px0 + px1) / 2))\" y=\"18\" text-anchor=\"middle\" font-weight=\"600\">\(SVG.escape(t))</text>")
        }
        // Grid, ticks and tick labels.
        let xt = sx.ticks(target: max(3, Int((px1 - px0) / 70))), yt = sy.ticks(target: max(3, Int((py0 - py1) / 45)))
        var grid = "", ticks = "", labels = ""
        for (v, text) in xt {
            guard let p = sx(v) else { continue }
            if self.grid { grid += "M\(SVG.num(p)) \(SVG.num(py1))V\(SVG.num(py0))" }
            ticks += "M\(SVG.num(p)) \(SVG.num(py0))v4"
            labels += "<text x=\"\(SVG.num(p))\" y=\"\(SVG.num(py0 + 16))\" text-anchor=\"middle\">\(text)</text>"
        }
        for (v, text) in yt {
            guard let p = sy(v) else { continue }
            if self.grid { grid += "M\(SVG.num(px0)) \(SVG.num(p))H\(SVG.num(px1))" }
            ticks += "M\(SVG.num(px0)) \(SVG.num(p))h-4"
            labels += "<text x=\"\(SVG.num(px0 - 6))\" y=\"\(SVG.num(p + 4))\" text-anchor=\"end\">\(text)</text>"
        }
        if !grid.isEmpty { b.add("<path class=\"grid\" d=\"\(grid)\"/>") }
        b.add("<rect class=\"frame\" x=\"\(SVG.num(px0))\" y=\"\(SVG.num(py1))\" width=\"\(SVG.num(px1 - px0))\" height=\"\(SVG.num(py0 - py1))\"/>")

        let clip = (x0: px0, x1: px1, y0: py1, y1: py0)
        var legend: [(String, String)] = []   // (label, swatch element)
        var marks: [(Double, Double)] = []     // pixel positions of drawn data, for placing the legend
        for layer in layers {
            switch layer {
            case let .heat(values, xr, yr, gamma):
                b.text += heatLayer(values, xr, yr, gamma, sx, sy)
            case let .scatter(points, classes, names, colour, radius, opacity, label):
                var byClass: [Int: String] = [:]
                for (i, p) in points.enumerated() {
                    guard let cx = sx(p.x), let cy = sy(p.y), cx >= clip.x0, cx <= clip.x1, cy >= clip.y0, cy <= clip.y1 else { continue }
                    marks.append((cx, cy))
                    let c = classes.map { $0[i] } ?? colour
                    byClass[c, default: ""] += "M\(SVG.num(cx)) \(SVG.num(cy))h0"
                }
                // Points are zero-length round-capped strokes: one path per class keeps files small.
                for c in byClass.keys.sorted() {
                    b.add("<path class=\"s\(c % 8)\" stroke-width=\"\(SVG.num(2 * radius))\" stroke-linecap=\"round\" stroke-opacity=\"\(SVG.num(opacity))\" d=\"\(byClass[c]!)\"/>")
                }
                let swatch = { (c: Int) in "<circle class=\"f\(c % 8)\" r=\"4\"/>" }
                if classes != nil {
                    for (c, name) in names.enumerated() { legend.append((name, swatch(c))) }
                } else if let label { legend.append((label, swatch(colour))) }
            case let .line(points, colour, style, width, label):
                let d = polyline(points, sx, sy, clip)
                marks += tracePoints(points, sx, sy)
                let dash = style == .dashed ? " stroke-dasharray=\"6 4\"" : style == .dotted ? " stroke-dasharray=\"1.5 3\" stroke-linecap=\"round\"" : ""
                if !d.isEmpty {
                    b.add("<path class=\"s\(colour % 8)\" stroke-width=\"\(SVG.num(width))\" stroke-linejoin=\"round\"\(dash) d=\"\(d)\"/>")
                }
                if let label {
                    legend.append((label, "<path class=\"s\(colour % 8)\" stroke-width=\"\(SVG.num(width))\"\(dash) d=\"M-9 0h18\"/>"))
                }
            case let .quiver(origins, vectors, colour, scale):
                b.text += quiverLayer(origins, vectors, colour, scale, sx, sy, clip)
            case let .trajectories(paths, colour, label, endpoints):
                for (k, path) in paths.enumerated() {
                    let c = (colour ?? k) % 8
                    let d = polyline(path, sx, sy, clip)
                    marks += tracePoints(path, sx, sy)
                    if !d.isEmpty { b.add("<path class=\"s\(c)\" stroke-width=\"1.3\" stroke-opacity=\"0.8\" stroke-linejoin=\"round\" d=\"\(d)\"/>") }
                    if endpoints, let first = path.first, let last = path.last,
                       let ax = sx(first.x), let ay = sy(first.y), let zx = sx(last.x), let zy = sy(last.y) {
                        if inside(ax, ay, clip) { b.add("<circle class=\"s\(c)\" stroke-width=\"1.2\" cx=\"\(SVG.num(ax))\" cy=\"\(SVG.num(ay))\" r=\"2.6\"/>") }
                        if inside(zx, zy, clip) { b.add("<circle class=\"f\(c)\" cx=\"\(SVG.num(zx))\" cy=\"\(SVG.num(zy))\" r=\"2.6\"/>") }
                    }
                }
                if let label { legend.append((label, "<path class=\"s\((colour ?? 0) % 8)\" stroke-width=\"1.5\" d=\"M-9 0h18\"/>")) }
            }
        }
        b.add("<path class=\"ax\" d=\"\(ticks)\"/>")
        b.add(labels)
        if let l = x.label {
            b.add("<text x=\"\(SVG.num((px0 + px1) / 2))\" y=\"\(SVG.num(height - 8))\" text-anchor=\"middle\">\(SVG.escape(l))</text>")
        }
        if let l = y.label {
            let cy = (py0 + py1) / 2
            b.add("<text transform=\"translate(14 \(SVG.num(cy))) rotate(-90)\" text-anchor=\"middle\">\(SVG.escape(l))</text>")
        }
        if showLegend && !legend.isEmpty {
            let rowH = 17.0
            let textW = legend.map { Double(Plot.textWidth($0.0)) }.max()!
            let w = 34 + textW, h = rowH * Double(legend.count) + 6
            // The corner whose box covers the fewest drawn marks; top right on ties.
            let corners = [(px1 - w - 6, py1 + 6), (px0 + 6, py1 + 6), (px1 - w - 6, py0 - h - 6), (px0 + 6, py0 - h - 6)]
            let covered = corners.map { c in
                marks.reduce(0) { $0 + ($1.0 >= c.0 - 4 && $1.0 <= c.0 + w + 4 && $1.1 >= c.1 - 4 && $1.1 <= c.1 + h + 4 ? 1 : 0) }
            }
            let best = covered.indices.min { covered[$0] < covered[$1] }!
            let (lx, ly) = corners[best]
            b.add("<g transform=\"translate(\(SVG.num(lx)) \(SVG.num(ly)))\">")
            b.add("<rect class=\"legend\" width=\"\(SVG.num(w))\" height=\"\(SVG.num(h))\" rx=\"3\"/>")
            for (i, (label, swatch)) in legend.enumerated() {
                let cy = 3 + rowH * (Double(i) + 0.5)
                b.add("<g transform=\"translate(16 \(SVG.num(cy)))\">\(swatch)</g><text x=\"30\" y=\"\(SVG.num(cy + 4))\">\(SVG.escape(label))</text>")
            }
            b.add("</g>")
        }
        return b.text
    }

    /// Approximate width in pixels of a label at 12 px (CJK characters are full-width).
    static func textWidth(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x2E80 ? 12 : 7) }
    }

    /// Pixel points along a polyline, at most 4 px apart, so a line crossing a box counts even between its vertices.
    private func tracePoints(_ points: [Point], _ sx: Scale, _ sy: Scale) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        var prev: (Double, Double)?
        for p in points {
            guard let x = sx(p.x), let y = sy(p.y), x.isFinite, y.isFinite else { prev = nil; continue }
            if let (ax, ay) = prev {
                let n = min(200, max(1, Int(((x - ax) * (x - ax) + (y - ay) * (y - ay)).squareRoot() / 4)))
                for k in 1..<n { out.append((ax + (x - ax) * Double(k) / Double(n), ay + (y - ay) * Double(k) / Double(n))) }
            }
            out.append((x, y))
            prev = (x, y)
        }
        return out
    }

    private func inside(_ x: Double, _ y: Double, _ c: (x0: Double, x1: Double, y0: Double, y1: Double)) -> Bool {
        x >= c.x0 - 1e-9 && x <= c.x1 + 1e-9 && y >= c.y0 - 1e-9 && y <= c.y1 + 1e-9
    }

    /// Path data through the points, clipped to the plot area (Liang–Barsky); gaps at unplottable points.
    private func polyline(_ points: [Point], _ sx: Scale, _ sy: Scale, _ c: (x0: Double, x1: Double, y0: Double, y1: Double)) -> String {
        var d = ""
        var prev: (Double, Double)?
        var penAt: (Double, Double)?
        for p in points {
            guard let x = sx(p.x), let y = sy(p.y) else { prev = nil; continue }
            defer { prev = (x, y) }
            guard let a = prev else { continue }
            guard let (s, e) = clipSegment(a, (x, y), c) else { continue }
            if let pen = penAt, pen.0 == s.0, pen.1 == s.1 {
                d += "L\(SVG.num(e.0)) \(SVG.num(e.1))"
            } else {
                d += "M\(SVG.num(s.0)) \(SVG.num(s.1))L\(SVG.num(e.0)) \(SVG.num(e.1))"
            }
            penAt = e
        }
        return d
    }

    private func clipSegment(_ a: (Double, Double), _ b: (Double, Double), _ c: (x0: Double, x1: Double, y0: Double, y1: Double)) -> ((Double, Double), (Double, Double))? {
        var t0 = 0.0, t1 = 1.0
        let dx = b.0 - a.0, dy = b.1 - a.1
        for (p, q) in [(-dx, a.0 - c.x0), (dx, c.x1 - a.0), (-dy, a.1 - c.y0), (dy, c.y1 - a.1)] {
            if p == 0 {
                if q < 0 { return nil }
            } else {
                let r = q / p
                if p < 0 { if r > t1 { return nil }; if r > t0 { t0 = r } } else { if r < t0 { return nil }; if r < t1 { t1 = r } }
            }
        }
        let s = t0 == 0 ? a : (a.0 + t0 * dx, a.1 + t0 * dy)
        let e = t1 == 1 ? b : (a.0 + t1 * dx, a.1 + t1 * dy)
        return (s, e)
    }

    private func heatLayer(_ values: [[Double]], _ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>, _ gamma: Double, _ sx: Scale, _ sy: Scale) -> String {
        let rows = values.count
        guard rows > 0, let cols = values.first?.count, cols > 0 else { return "" }
        let peak = values.flatMap { $0 }.filter(\.isFinite).max() ?? 0
        guard peak > 0 else { return "" }
        let cw = (xr.upperBound - xr.lowerBound) / Double(cols), ch = (yr.upperBound - yr.lowerBound) / Double(rows)
        // Cells are grouped by quantised opacity (32 levels) so the file stays small and deterministic.
        var byLevel: [Int: String] = [:]
        for j in 0..<rows {
            for i in 0..<min(cols, values[j].count) {
                let v = values[j][i]
                guard v.isFinite, v > 0 else { continue }
                let level = max(1, Int((pow(v / peak, gamma) * 32).rounded()))
                guard let x0 = sx(xr.lowerBound + Double(i) * cw), let x1 = sx(xr.lowerBound + Double(i + 1) * cw),
                      let y0 = sy(yr.lowerBound + Double(j) * ch), let y1 = sy(yr.lowerBound + Double(j + 1) * ch) else { continue }
                byLevel[level, default: ""] += "M\(SVG.num(x0)) \(SVG.num(y1))H\(SVG.num(x1))V\(SVG.num(y0))H\(SVG.num(x0))Z"
            }
        }
        var s = ""
        for level in byLevel.keys.sorted() {
            // crispEdges: anti-aliased edges of abutting translucent cells would show as faint seams.
            s += "<path class=\"heat\" shape-rendering=\"crispEdges\" fill-opacity=\"\(SVG.num(Double(level) / 32))\" d=\"\(byLevel[level]!)\"/>\n"
        }
        return s
    }

    private func quiverLayer(_ origins: [Point], _ vectors: [Point], _ colour: Int, _ scale: Double?, _ sx: Scale, _ sy: Scale,
                             _ c: (x0: Double, x1: Double, y0: Double, y1: Double)) -> String {
        guard !origins.isEmpty else { return "" }
        // Pixel-space vectors; data units map linearly (quiver on log axes is not meaningful).
        let ux = abs(sx.p1 - sx.p0) / (sx.hi - sx.lo), uy = abs(sy.p1 - sy.p0) / (sy.hi - sy.lo)
        let k: Double
        if let scale { k = scale } else {
            var longest = 0.0
            for v in vectors {
                let px: Double = v.x * ux, py: Double = v.y * uy
                let len = (px * px + py * py).squareRoot()
                if len.isFinite && len > longest { longest = len }
            }
            let spacing = ((abs(sx.p1 - sx.p0) * abs(sy.p1 - sy.p0)) / Double(origins.count)).squareRoot()
            k = longest > 0 ? 0.9 * spacing / longest : 1
        }
        var d = ""
        for (o, v) in zip(origins, vectors) {
            guard let x0 = sx(o.x), let y0 = sy(o.y), v.x.isFinite, v.y.isFinite, inside(x0, y0, c) else { continue }
            let dx = v.x * ux * k, dy = -v.y * uy * k
            let len = (dx * dx + dy * dy).squareRoot()
            guard len > 0.5 else { continue }
            let x1 = x0 + dx, y1 = y0 + dy
            let h = min(4.0, len * 0.35), ex = dx / len, ey = dy / len
            d += "M\(SVG.num(x0)) \(SVG.num(y0))L\(SVG.num(x1)) \(SVG.num(y1))"
            let bx: Double = x1 - h * ex, by: Double = y1 - h * ey
            let wx: Double = h * 0.5 * ey, wy: Double = h * 0.5 * ex
            d += "M\(SVG.num(bx + wx)) \(SVG.num(by - wy))L\(SVG.num(x1)) \(SVG.num(y1))L\(SVG.num(bx - wx)) \(SVG.num(by + wy))"
        }
        return d.isEmpty ? "" : "<path class=\"s\(colour % 8)\" stroke-width=\"1.1\" stroke-linecap=\"round\" stroke-linejoin=\"round\" d=\"\(d)\"/>\n"
    }
}
