import Foundation
import GoodInit

/// One point of `bench train`'s sweep: a (model, batch, W, T) setting and what it measured.
struct ThroughputPoint {
    var model: String
    var batch, workers, threads: Int
    var imgPerS, minImgPerS, maxImgPerS: Double   // training steps: median, slowest, fastest
    var gflops, speedup, efficiency: Double
    var inferenceImgPerS, peakRSSMB: Double
    /// The share of the measured FMA peak (`bench peak`) the training step reached.
    var peakFraction = Double.nan
}

/// `bench train --out DIR`: throughput.svg (one panel per model, a line per batch and W),
/// efficiency.svg (against W·T, one line per model, batch and W) and throughput.md (the table).
enum ThroughputReport {
    static func write(_ points: [ThroughputPoint], to dir: String, command: String, steps: Int,
                      warning: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func path(_ file: String) -> String { (dir as NSString).appendingPathComponent(file) }
        // one panel per model, each with its own y axis: an MLP's 10⁴ images/s would flatten a CNN's 10³
        var models: [String] = []
        for p in points where !models.contains(p.model) { models.append(p.model) }
        let panels = models.enumerated().map { i, model in
            let mine = points.filter { $0.model == model }
            // in thousands from 10⁴ on: the chart writes such ticks as 6.0e+04, too wide for its margin
            let scale = (mine.map(\.imgPerS).max() ?? 0) >= 1e4 ? 1e3 : 1
            return SVGChart.render(title: "Training throughput: \(model)", xLabel: "threads (W × T)",
                                   yLabel: scale > 1 ? "thousand images/s (training)" : "images/s (training)",
                                   series: series(mine) { $0.imgPerS / scale }, height: 320, clipID: "plot\(i)")
        }
        let throughput = SVGChart.stack(panels)
        let efficiency = SVGChart.render(title: "Parallel efficiency", xLabel: "threads (W × T)",
                                         yLabel: "efficiency (speed-up / threads)",
                                         series: series(points) { $0.efficiency })
        try throughput.write(toFile: path("throughput.svg"), atomically: true, encoding: .utf8)
        try efficiency.write(toFile: path("efficiency.svg"), atomically: true, encoding: .utf8)
        try markdown(points, command: command, steps: steps, warning: warning)
            .write(toFile: path("throughput.md"), atomically: true, encoding: .utf8)
    }

    /// One line per (model, batch, W); the name says batch and W only when the sweep varies them.
    static func series(_ points: [ThroughputPoint], _ y: (ThroughputPoint) -> Double) -> [SVGChart.Series] {
        let batches = Set(points.map(\.batch)).count > 1, workers = Set(points.map(\.workers)).count > 1
        var keys: [String] = [], lines: [String: [(Double, Double)]] = [:]
        for p in points {
            let key = p.model + (batches ? " b\(p.batch)" : "") + (workers ? " W\(p.workers)" : "")
            if lines[key] == nil { keys.append(key) }
            lines[key, default: []].append((Double(p.workers * p.threads), y(p)))
        }
        return keys.map { SVGChart.Series(name: $0, points: lines[$0]!.sorted { $0.0 < $1.0 }) }
    }

    static func markdown(_ points: [ThroughputPoint], command: String, steps: Int, warning: String? = nil) -> String {
        var s = "# Training throughput\n\n`\(command)`\n\n"
        if let warning { s += "**Contended: the machine was busy, these figures cannot be trusted** (\(warning)).\n\n" }
        s += "Synthetic data, full SGD steps (forward, backward, gradient sum, update); "
        s += "median of \(steps) timed steps after one warm-up. "
        s += "GEMM micro-kernel \(ISA.current.gemmKernelName), OpenMP \(OpenMP.isAvailable ? "on" : "off"), "
        s += "\(ProcessInfo.processInfo.activeProcessorCount) cores. "
        s += "Speed-up: img/s over the img/s per thread (W·T) of the model and batch's first point; "
        s += "efficiency: speed-up / (W·T). "
        s += "Peak RSS: the process's peak so far.\n\n"
        s += "| model | batch | W | T | img/s train | GFLOP/s | % peak | speed-up | efficiency | img/s inference "
        s += "| peak RSS MB |\n"
        s += "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
        for p in points {
            s += "| \(p.model) | \(p.batch) | \(p.workers) | \(p.threads) | "
                + String(format: "%.1f | %.2f | %.1f%% | %.2f | %.2f | %.1f | %.0f |\n", p.imgPerS, p.gflops,
                         100 * p.peakFraction, p.speedup, p.efficiency, p.inferenceImgPerS, p.peakRSSMB)
        }
        return s
    }
}
