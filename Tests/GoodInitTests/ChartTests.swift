// The SVG charts: markers at the plot's edge drawn whole, stacked panels with their own clip paths,
// and bench train's throughput chart with one panel (one y axis) per model.
import Foundation
@testable import GoodInit
import Testing

@Suite("Charts") struct ChartTests {
    @Test("a lone point on the plot's right edge is a whole marker; one above yMax is clipped")
    func edgeMarker() {
        let line = SVGChart.Series(name: "train", points: [(0, 2.3), (10, 1.0)])
        let edge = SVGChart.render(title: "t", xLabel: "x", yLabel: "y",
                                   series: [line, .init(name: "test", points: [(10, 1.2)])])
        let circle = edge.split(separator: "\n").first { $0.hasPrefix("<circle") }
        #expect(circle != nil && !(circle!.contains("clip-path")), "\(String(describing: circle))")
        let above = SVGChart.render(title: "t", xLabel: "x", yLabel: "y",
                                    series: [line, .init(name: "test", points: [(10, 50)])], yMax: 3)
        #expect(above.split(separator: "\n").first { $0.hasPrefix("<circle") }?.contains("clip-path") == true)
    }

    @Test("stacked charts: heights add up, each panel keeps its own clip path")
    func stacked() {
        let a = SVGChart.render(title: "a", xLabel: "x", yLabel: "y",
                                series: [.init(name: "s", points: [(1, 1), (2, 3)])], height: 300, clipID: "p0")
        let b = SVGChart.render(title: "b", xLabel: "x", yLabel: "y",
                                series: [.init(name: "s", points: [(1, 9), (2, 7)])], height: 300, clipID: "p1")
        let doc = SVGChart.stack([a, b])
        #expect(doc.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"600\">"))
        #expect(doc.contains("<svg y=\"0\"") && doc.contains("<svg y=\"300\""))
        #expect(doc.contains("id=\"p0\"") && doc.contains("id=\"p1\"") && doc.contains("url(#p1)"))
    }
}

@Suite("bench train charts", .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct BenchChartTests {
    @Test("bench train --out: throughput.svg has one panel per model")
    func panelPerModel() throws {
        let folder = scratchFolder("charts")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let r = try GoodInitBinary.capture(["bench", "train", "--model", "mlp-sigmoid,mlp-xavier", "--threads", "1",
                                            "--batch-size", "32", "--chunk", "32", "--steps", "1",
                                            "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        let svg = try String(contentsOfFile: folder + "/throughput.svg", encoding: .utf8)
        #expect(svg.components(separatedBy: "Training throughput: ").count - 1 == 2, "\(svg.prefix(400))")
        #expect(svg.contains("Training throughput: mlp-sigmoid") && svg.contains("Training throughput: mlp-xavier"))
    }
}
