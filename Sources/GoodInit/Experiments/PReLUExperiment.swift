// He et al. 2015, Table 1 in spirit: ReLU against channel-wise and channel-shared PReLU, and the
// slopes the PReLUs learn per layer (He et al. found larger slopes in the early layers).
import Foundation

enum PReLUExperiment {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let steps = o.steps ?? (o.quick ? 200 : 1500)
        let data = try Experiments.loadData(o, "prelu", log: log)
        var results: [RunResult] = [], slopeSeries: [SVGChart.Series] = [], slopeRows = ""
        for act in ["relu", "prelu", "prelu-shared"] {
            var c = Experiments.config(o, run: act)
            c.model = "fitnet-small"; c.activation = act; c.initializer = "he-normal"; c.maxSteps = steps; c.epochs = 1000
            c.batchSize = 64; c.lr = 0.01; c.momentum = 0.9; c.weightDecay = 5e-4; c.logEvery = 10
            c.testLimit = o.quick ? 2_000 : nil
            let (r, t) = try Experiments.train(act, c, data: data, log: log)
            results.append(r)
            let slopes = t.net.params.entries.filter { if case .slope = $0.spec.role { return true } else { return false } }.map { e -> Double in
                let v = t.net.params.view(e, in: t.net.params.values).array
                return v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
            }
            if !slopes.isEmpty {
                slopeSeries.append(.init(name: act, points: slopes.enumerated().map { (Double($0.offset + 1), $0.element) }))
                slopeRows += "| \(act) | " + slopes.map { String(format: "%.3f", $0) }.joined(separator: ", ") + " |\n"
            }
        }
        let svg = SVGChart.render(title: "learned PReLU slopes by layer (mean over channels)", xLabel: "PReLU layer", yLabel: "slope a", series: slopeSeries)
        let acc = { (n: String) in results.first { $0.name == n }?.testAccuracy ?? .nan }
        let first = slopeSeries.first?.points.first?.1 ?? .nan, last = slopeSeries.first?.points.last?.1 ?? .nan
        let checks: [(String, Bool)] = [
            ("channel-wise PReLU at least matches ReLU (\(String(format: "%.2f %% vs %.2f %%", acc("prelu") * 100, acc("relu") * 100)))", acc("prelu") >= acc("relu") - 0.005),
            ("the first PReLU layer learns a larger slope than the last (\(String(format: "%.3f vs %.3f", first, last)))", first > last),
        ]
        let intro = """
        He et al. 2015: PReLU (a learned slope for negative inputs, starting at 0.25, no weight decay) against ReLU, channel-wise \
        and channel-shared, on `fitnet-small` with He init, SGD lr 0.01, momentum 0.9, batch 64, \(steps) steps, on \(o.data), seed \(o.seed).
        """
        let extra = "## Learned slopes (mean per layer, first to last)\n\n| run | slopes |\n|---|---|\n\(slopeRows)\n![slopes](slopes.svg)\n\n"
        return try Experiments.finish("prelu", o, results: results, checks: checks, intro: intro, extraPlots: [("slopes.svg", svg)], extraMarkdown: extra)
    }
}
