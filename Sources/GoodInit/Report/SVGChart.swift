// Line charts as standalone SVG: axes with ticks and labels, one polyline per series, a legend.
import Foundation

public enum SVGChart {
    public struct Series {
        public var name: String
        public var points: [(Double, Double)]
        /// A shaded range around the line, (x, low, high) — the min–max over seeds.
        public var band: [(Double, Double, Double)] = []
        public init(name: String, points: [(Double, Double)], band: [(Double, Double, Double)] = []) {
            self.name = name; self.points = points; self.band = band
        }
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = max(hi - lo, 1e-12), raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = ceil(lo / step) * step, out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e4 || abs(v) < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%g", (v * 1e4).rounded() / 1e4)
    }

    /// yMax clips the y axis (a diverging run would otherwise flatten every other curve); lines
    /// above it leave the plot at the top edge.
    /// `clipID` names the plot's clip path: charts stacked in one document need their own.
    public static func render(title: String, xLabel: String, yLabel: String, series: [Series],
                              width: Double = 640, height: Double = 400, yMax: Double? = nil,
                              clipID: String = "plot") -> String {
        // The legend column grows with the longest series name (about 7 px per character at 12 px),
        // the height with the number of series.
        let longest = Double(series.map(\.name.count).max() ?? 0)
        let (l, r, t, b) = (70.0, max(170.0, 45 + 7 * longest), 40.0, 50.0)
        let width = width - 170 + r, height = max(height, t + 14 + Double(series.count) * 18 + b)
        let bandEdges = series.flatMap { $0.band.flatMap { [($0.0, $0.1), ($0.0, $0.2)] } }
        let pts = (series.flatMap(\.points) + bandEdges).filter { $0.0.isFinite && $0.1.isFinite }
        var x0 = pts.map(\.0).min() ?? 0, x1 = pts.map(\.0).max() ?? 1
        var y0 = pts.map(\.1).min() ?? 0, y1 = pts.map(\.1).max() ?? 1
        if let yMax, yMax > y0 { y1 = min(y1, yMax) }
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad; x0 = min(x0, x1)
        let pw = width - l - r, ph = height - t - b
        func sx(_ x: Double) -> Double { l + (x - x0) / (x1 - x0) * pw }
        func sy(_ y: Double) -> Double { t + (1 - (y - y0) / (y1 - y0)) * ph }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(l + pw / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
        for v in ticks(y0, y1) {
            s += "<line x1=\"\(l)\" y1=\"\(sy(v))\" x2=\"\(l + pw)\" y2=\"\(sy(v))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(l - 6)\" y=\"\(sy(v) + 4)\" text-anchor=\"end\">\(fmt(v))</text>\n"
        }
        for v in ticks(x0, x1) {
            s += "<line x1=\"\(sx(v))\" y1=\"\(t + ph)\" x2=\"\(sx(v))\" y2=\"\(t + ph + 5)\" stroke=\"black\"/>"
            s += "<text x=\"\(sx(v))\" y=\"\(t + ph + 18)\" text-anchor=\"middle\">\(fmt(v))</text>\n"
        }
        s += "<rect x=\"\(l)\" y=\"\(t)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<clipPath id=\"\(clipID)\"><rect x=\"\(l)\" y=\"\(t)\" width=\"\(pw)\" height=\"\(ph)\"/></clipPath>\n"
        s += "<text x=\"\(l + pw / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(t + ph / 2)) rotate(-90)\" text-anchor=\"middle\">"
            + "\(escape(yLabel))</text>\n"
        for (i, ser) in series.enumerated() {
            // past the palette, the colours repeat dashed
            let c = colors[i % colors.count], dash = i >= colors.count ? " stroke-dasharray=\"6 3\"" : ""
            let band = ser.band.filter { $0.0.isFinite && $0.1.isFinite && $0.2.isFinite }
            if band.count > 1 {
                let edge = band.map { (sx($0.0), sy($0.2)) } + band.reversed().map { (sx($0.0), sy($0.1)) }
                let outline = edge.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
                s += "<polygon clip-path=\"url(#\(clipID))\" fill=\"\(c)\" fill-opacity=\"0.15\" stroke=\"none\" "
                    + "points=\"\(outline)\"/>\n"
            }
            let path = ser.points.filter { $0.0.isFinite && $0.1.isFinite }
                .map { String(format: "%.1f,%.1f", sx($0.0), sy($0.1)) }
                .joined(separator: " ")
            if ser.points.count == 1, let p = ser.points.first {
                // a lone point is a marker: drawn whole at the plot's edge (clipped only above yMax)
                let clip = sy(p.1) < t ? "clip-path=\"url(#\(clipID))\" " : ""
                s += "<circle \(clip)cx=\"\(sx(p.0))\" cy=\"\(sy(p.1))\" r=\"3\" fill=\"\(c)\"/>\n"
            } else {
                s += "<polyline clip-path=\"url(#\(clipID))\" fill=\"none\" stroke=\"\(c)\" "
                    + "stroke-width=\"1.8\"\(dash) "
                    + "points=\"\(path)\"/>\n"
            }
            let ly = t + 14 + Double(i) * 18
            s += "<line x1=\"\(l + pw + 12)\" y1=\"\(ly - 4)\" x2=\"\(l + pw + 32)\" y2=\"\(ly - 4)\" "
                + "stroke=\"\(c)\" stroke-width=\"2\"\(dash)/>"
            s += "<text x=\"\(l + pw + 38)\" y=\"\(ly)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Charts from `render` one above the other in one SVG document (each keeps its own axes).
    public static func stack(_ charts: [String]) -> String {
        func size(_ chart: String, _ key: String) -> Double {
            guard let r = chart.range(of: "\(key)=\""),
                  let end = chart[r.upperBound...].firstIndex(of: "\"") else { return 0 }
            return Double(chart[r.upperBound..<end]) ?? 0
        }
        let width = charts.map { size($0, "width") }.max() ?? 0
        var y = 0.0, body = ""
        for chart in charts {
            // the chart's own root, placed at its offset: <svg xmlns=… → <svg y=…
            body += chart.replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\"",
                                               with: "<svg y=\"\(Int(y))\"")
            y += size(chart, "height")
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(y))\">\n"
            + body + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The loss and accuracy curves of one training run, from its metrics.jsonl.
/// A training run's loss and accuracy charts (loss.svg, accuracy.svg), drawn from its records.
public enum Curves {
    public static func write(_ records: [TrainingRecord], to folder: String, title: String) throws {
        let log = RecordLog(records)
        let steps = log.steps, epochs = log.epochs
        func epochPoints(_ y: (EpochRecord) -> Double?) -> [(Double, Double)] {
            epochs.compactMap { e in y(e).map { (Double(e.step), $0) } }
        }
        let loss = SVGChart.render(
            title: "\(title): training loss", xLabel: "step", yLabel: "cross-entropy loss",
            series: [.init(name: "train (per step)", points: steps.map { (Double($0.step), $0.loss) }),
                     .init(name: "test (per epoch)", points: epochPoints(\.testLoss))])
        let acc = SVGChart.render(
            title: "\(title): accuracy", xLabel: "step", yLabel: "accuracy",
            series: [.init(name: "train (per step)", points: steps.map { (Double($0.step), $0.accuracy) }),
                     .init(name: "test (per epoch)", points: epochPoints(\.testAccuracy))])
        try loss.write(toFile: joinPath(folder, "loss.svg"), atomically: true, encoding: .utf8)
        try acc.write(toFile: joinPath(folder, "accuracy.svg"), atomically: true, encoding: .utf8)
    }
}

/// Draws the charts when the run ends, from the records it saw (and those of the run it resumed).
public final class CurvesSink: TrainingSink {
    let folder: String, title: String
    let log: RecordLog
    public init(folder: String, title: String, earlier: [TrainingRecord] = []) {
        self.folder = folder; self.title = title; log = RecordLog(earlier)
    }
    public func record(_ r: TrainingRecord) { log.record(r) }
    public func finish() throws { try Curves.write(log.records, to: folder, title: title) }
}
