/// A point in data coordinates.
public struct Point: Sendable, Hashable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

public enum AxisScale: Sendable, Hashable { case linear, log }

public enum LineStyle: Sendable, Hashable { case solid, dashed, dotted }

/// One axis: label, linear or log scale, and an optional fixed range (otherwise fitted to the data).
public struct Axis: Sendable, Hashable {
    public var label: String?
    public var scale: AxisScale
    public var range: ClosedRange<Double>?
    public init(_ label: String? = nil, scale: AxisScale = .linear, range: ClosedRange<Double>? = nil) {
        self.label = label; self.scale = scale; self.range = range
    }
}

/// A 2-D plot rendered to SVG. Axes and text use `currentColor`, series use CSS variables, so the same bytes
/// read well on light and dark pages. The output depends only on the inputs (fixed number formatting).
public struct Plot: Sendable {
    public var width: Double
    public var height: Double
    public var title: String?
    public var x: Axis
    public var y: Axis
    /// One data unit has the same length on both axes (for point clouds and vector fields).
    public var equalAspect: Bool
    public var showLegend = true
    public var grid = true
    var layers: [Layer] = []

    /// Series colours on a light page; the site overrides them with `--plot-c0…7` for each theme.
    public static let fallbackPalette = ["#0072b2", "#c0392b", "#007a5a", "#a23b72", "#8a5a00", "#5b4bb7", "#2f6f8f", "#555555"]

    public init(width: Double = 480, height: Double = 360, title: String? = nil, x: Axis = Axis(), y: Axis = Axis(), equalAspect: Bool = false) {
        self.width = width; self.height = height; self.title = title
        self.x = x; self.y = y; self.equalAspect = equalAspect
    }

    enum Layer: Sendable {
        case scatter(points: [Point], classes: [Int]?, classNames: [String], colour: Int, radius: Double, opacity: Double, label: String?)
        case line(points: [Point], colour: Int, style: LineStyle, width: Double, label: String?)
        case heat(values: [[Double]], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, gamma: Double)
        case quiver(origins: [Point], vectors: [Point], colour: Int, scale: Double?)
        case trajectories(paths: [[Point]], colour: Int?, label: String?, endpoints: Bool)
    }

    // MARK: Adding series

    /// A scatter plot; with `classes`, point i gets colour `classes[i]` and `classNames` label the legend.
    public mutating func scatter(_ points: [Point], classes: [Int]? = nil, classNames: [String] = [], colour: Int = 0,
                                 radius: Double = 1.8, opacity: Double = 0.75, label: String? = nil) {
        precondition(classes == nil || classes!.count == points.count, "scatter: \(classes!.count) classes for \(points.count) points")
        layers.append(.scatter(points: points, classes: classes, classNames: classNames, colour: colour, radius: radius, opacity: opacity, label: label))
    }

    /// A line through `points` in order; non-finite points (and non-positive ones on log axes) break the line.
    public mutating func line(_ points: [Point], colour: Int? = nil, style: LineStyle = .solid, width: Double = 1.8, label: String? = nil) {
        let c = colour ?? layers.reduce(0) { n, l in if case .line = l { return n + 1 } else { return n } }
        layers.append(.line(points: points, colour: c, style: style, width: width, label: label))
    }

    /// A line y = f(x) sampled at the given xs.
    public mutating func line(x xs: [Double], y ys: [Double], colour: Int? = nil, style: LineStyle = .solid, width: Double = 1.8, label: String? = nil) {
        precondition(xs.count == ys.count, "line: \(xs.count) xs for \(ys.count) ys")
        line(zip(xs, ys).map { Point($0, $1) }, colour: colour, style: style, width: width, label: label)
    }

    /// A heat map: `values[row][column]`, row 0 at the bottom of `yRange`. Cell opacity is (v / max)^gamma.
    public mutating func heatmap(_ values: [[Double]], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, gamma: Double = 1) {
        layers.append(.heat(values: values, xRange: xRange, yRange: yRange, gamma: gamma))
    }

    /// A 2-D histogram of `points` over the given ranges, drawn as a heat map (square-root scale by default).
    public mutating func histogram2D(_ points: [Point], bins: Int = 40, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, gamma: Double = 0.5) {
        layers.append(.heat(values: Plot.histogram(points, bins: bins, xRange: xRange, yRange: yRange), xRange: xRange, yRange: yRange, gamma: gamma))
    }

    /// Counts per bin (`bins` × `bins`), row 0 at the bottom; points outside the ranges are ignored.
    public static func histogram(_ points: [Point], bins: Int, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) -> [[Double]] {
        precondition(bins > 0, "histogram: bins must be positive")
        var counts = Array(repeating: Array(repeating: 0.0, count: bins), count: bins)
        let w = xRange.upperBound - xRange.lowerBound, h = yRange.upperBound - yRange.lowerBound
        for p in points where p.x.isFinite && p.y.isFinite {
            let i = Int(((p.x - xRange.lowerBound) / w * Double(bins)).rounded(.down))
            let j = Int(((p.y - yRange.lowerBound) / h * Double(bins)).rounded(.down))
            if (0..<bins).contains(i) && (0..<bins).contains(j) { counts[j][i] += 1 }
        }
        return counts
    }

    /// Arrows from `origins` along `vectors`. `scale` multiplies vectors; nil fits the longest arrow to the grid spacing.
    public mutating func quiver(_ origins: [Point], _ vectors: [Point], colour: Int = 0, scale: Double? = nil) {
        precondition(origins.count == vectors.count, "quiver: \(origins.count) origins for \(vectors.count) vectors")
        layers.append(.quiver(origins: origins, vectors: vectors, colour: colour, scale: scale))
    }

    /// Paths (e.g. sampler trajectories), each with a hollow start and a filled end marker when `endpoints`.
    /// With `colour` nil, path i gets colour i.
    public mutating func trajectories(_ paths: [[Point]], colour: Int? = 0, label: String? = nil, endpoints: Bool = true) {
        layers.append(.trajectories(paths: paths, colour: colour, label: label, endpoints: endpoints))
    }
}

/// Several plots side by side in one SVG (small multiples), laid out in rows of `columns`.
public struct Figure: Sendable {
    public var panels: [Plot]
    public var columns: Int
    public init(_ panels: [Plot], columns: Int) {
        precondition(columns > 0, "Figure: columns must be positive")
        self.panels = panels; self.columns = columns
    }

    public func svg(title: String? = nil) -> String {
        guard !panels.isEmpty else { return Plot(title: title).svg() }
        let rows = (panels.count + columns - 1) / columns
        let cw = panels.map(\.width).max()!, ch = panels.map(\.height).max()!
        let w = cw * Double(min(columns, panels.count)), h = ch * Double(rows)
        var b = SVGBuffer()
        b.add(Plot.header(width: w, height: h, title: title ?? panels.compactMap(\.title).joined(separator: "; ")))
        for (k, p) in panels.enumerated() {
            let ox = Double(k % columns) * cw, oy = Double(k / columns) * ch
            b.add("<g transform=\"translate(\(SVG.num(ox)) \(SVG.num(oy)))\">")
            b.text += p.body()
            b.add("</g>")
        }
        b.add("</svg>")
        return b.text
    }
}
