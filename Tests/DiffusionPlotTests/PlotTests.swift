import Foundation
import Testing
@testable import DiffusionPlot
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses SVG as XML; returns element names in document order, or nil when not well-formed.
func elements(_ svg: String) -> [String]? {
    final class Collector: NSObject, XMLParserDelegate {
        var names: [String] = []
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            names.append(name)
        }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let c = Collector()
    parser.delegate = c
    return parser.parse() ? c.names : nil
}

func samplePlots() -> [String] {
    var scatter = Plot(title: "散点 <&>", x: Axis("x"), y: Axis("y"), equalAspect: true)
    scatter.scatter((0..<50).map { Point(Double($0) / 10, sin(Double($0) / 5)) }, classes: (0..<50).map { $0 % 3 }, classNames: ["a", "b", "c"])
    var lines = Plot(x: Axis("t"), y: Axis("SNR", scale: .log))
    lines.line(x: [0, 1, 2, 3, 4], y: [1000, 10, 1, 0.01, 0], label: "snr")   // 0 cannot be drawn on a log axis
    lines.line(x: [0, 4], y: [1, 1], style: .dashed, label: "1")
    var heat = Plot(x: Axis(range: -1...1), y: Axis(range: -1...1))
    heat.histogram2D((0..<400).map { Point(cos(Double($0)) * 0.8, sin(Double($0) * 1.3) * 0.8) }, bins: 10, xRange: -1...1, yRange: -1...1)
    var field = Plot(x: Axis(range: -2...2), y: Axis(range: -2...2), equalAspect: true)
    let grid = (0..<25).map { Point(Double($0 % 5) - 2, Double($0 / 5) - 2) }
    field.quiver(grid, grid.map { Point(-$0.x, -$0.y) })
    field.trajectories([[Point(-1.5, 1.5), Point(-0.5, 0.4), Point(0, 0)], [Point(1.8, -1.8), Point(5, 5)]], colour: nil, label: "paths")
    return [scatter.svg(), lines.svg(), heat.svg(), field.svg(), Figure([scatter, lines], columns: 2).svg(title: "两幅")]
}

@Suite("SVG plots: deterministic, well-formed, theme-aware")
struct PlotTests {
    @Test func deterministicBytes() {
        #expect(samplePlots() == samplePlots())
    }

    @Test func wellFormedAndThemeAware() throws {
        for svg in samplePlots() {
            let names = try #require(elements(svg), "not well-formed XML:\n\(svg.prefix(400))")
            #expect(names.first == "svg" && names.contains("style"))
            #expect(svg.contains(".dlp text{fill:currentColor"), "text must follow the page's colour")
            #expect(svg.contains("var(--plot-c0,#0072b2)"), "series colours come from CSS variables")
            #expect(!svg.contains("#000") && !svg.contains("black"), "no hard-coded black: invisible on dark pages")
            #expect(!svg.contains("NaN") && !svg.contains("inf"))
        }
    }

    @Test func scatterUsesOnePathPerClassAndALegend() {
        let svg = samplePlots()[0]
        for c in 0..<3 { #expect(svg.contains("<path class=\"s\(c)\" stroke-width=")) }
        #expect(svg.contains(">a</text>") && svg.contains(">c</text>"))
        #expect(svg.contains("散点 &lt;&amp;&gt;"))
    }

    @Test func logAxisTicksAndGaps() {
        let svg = samplePlots()[1]
        #expect(svg.contains(">10⁻²</text>") && svg.contains(">10³</text>") && svg.contains(">1</text>"))
        #expect(svg.contains("stroke-dasharray=\"6 4\""))
    }

    @Test func histogramCountsEveryPointInside() {
        let pts = [Point(0.1, 0.1), Point(0.9, 0.9), Point(0.95, 0.1), Point(2, 2), Point(.nan, 0)]
        let h = Plot.histogram(pts, bins: 2, xRange: 0...1, yRange: 0...1)
        #expect(h == [[1, 1], [0, 1]])
        #expect(samplePlots()[2].contains("class=\"heat\" shape-rendering=\"crispEdges\" fill-opacity="))
    }

    @Test func quiverAndTrajectoriesStayInsideThePlot() {
        let svg = samplePlots()[3]
        #expect(svg.contains("<circle class=\"f0\""))      // end marker of the first path
        // The second path leaves the range: it is clipped, and its end marker (outside) is not drawn.
        #expect(!svg.contains("<circle class=\"f1\""))
        #expect(svg.contains(">paths</text>"))
    }

    @Test func numberFormatting() {
        #expect(SVG.num(-0.001) == "0")
        #expect(SVG.num(12.5) == "12.5" && SVG.num(3) == "3" && SVG.num(-0.25) == "-0.25" && SVG.num(1.05) == "1.05")
        #expect(SVG.label(-0.5, decimals: 1) == "−0.5")
        #expect(SVG.powerOfTen(-3) == "10⁻³")
    }
}

@Suite("SVG plots: the legend keeps clear of the data")
struct LegendPlacementTests {
    /// The legend box's top-left corner, read from the `translate` of the group that holds it.
    static func legendOrigin(_ svg: String) -> (Double, Double)? {
        guard let r = svg.range(of: "<rect class=\"legend\"") else { return nil }
        let head = svg[..<r.lowerBound]
        guard let t = head.range(of: "translate(", options: .backwards) else { return nil }
        let xy = head[t.upperBound...].prefix { $0 != ")" }.split(separator: " ").compactMap { Double($0) }
        return xy.count == 2 ? (xy[0], xy[1]) : nil
    }

    @Test func legendMovesAwayFromALineInTheTopRight() throws {
        // Rising lines end in the top right (the case of figure 7.3): the legend must take another corner.
        var rising = Plot(width: 340, height: 320, x: Axis(range: 0...1), y: Axis(range: 0...1))
        rising.line(x: [0, 1], y: [0, 1], label: "y = x")
        rising.line(x: [0, 1], y: [0.1, 0.95], label: "another")
        let (rx, ry) = try #require(Self.legendOrigin(rising.svg()))
        // Falling lines leave the top right free: the legend stays there (the default corner).
        var falling = Plot(width: 340, height: 320, x: Axis(range: 0...1), y: Axis(range: 0...1))
        falling.line(x: [0, 1], y: [1, 0], label: "y = 1 − x")
        falling.line(x: [0, 1], y: [0.9, 0.05], label: "another")
        let (fx, fy) = try #require(Self.legendOrigin(falling.svg()))
        #expect(fx > 170 && fy < 100, "free top right: the legend stays there, got (\(fx), \(fy))")
        #expect(!(rx > 170 && ry < 100), "a line through the top right: the legend must move, got (\(rx), \(ry))")
        // Neither corner on the diagonal y = x is free of it; the legend goes top left or bottom right.
        #expect((rx < 170 && ry < 100) || (rx > 170 && ry > 160), "got (\(rx), \(ry))")
    }

    @Test func aLineCrossingTheCornerBetweenItsVerticesCounts() throws {
        // Two vertices far apart whose segment passes through the top-right corner only between them.
        var p = Plot(width: 340, height: 320, x: Axis(range: 0...1), y: Axis(range: 0...1))
        p.line(x: [0.7, 1.0], y: [1.0, 0.7], label: "chord")
        p.line(x: [0, 0.01], y: [0, 0.01], label: "dot")
        let (x, y) = try #require(Self.legendOrigin(p.svg()))
        #expect(!(x > 170 && y < 100), "got (\(x), \(y))")
    }
}
