// Ioffe & Szegedy 2015, Figure 1: the MNIST MLP (3 × 100 sigmoid units) with and without batch
// norm, minibatch 60, Gaussian init: BN reaches higher test accuracy faster, and the 15th, 50th
// and 85th percentiles of a last-hidden-layer sigmoid input stay steady with BN and drift without.
import Foundation

enum BNMnist {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let steps = o.steps ?? (o.quick ? 1500 : 50_000)
        let data = try Experiments.loadData(o, "bn-mnist", log: log)
        var results: [RunResult] = [], plots: [(String, String)] = [], drift: [String: Double] = [:]
        for model in ["mlp-sigmoid", "mlp-bn-sigmoid"] {
            var c = Experiments.config(o, run: model)
            c.model = model; c.initializer = "normal:1"; c.maxSteps = steps; c.epochs = 10_000
            c.batchSize = 60; c.lr = 0.5; c.momentum = 0; c.weightDecay = 0; c.logEvery = max(10, steps / 100)
            c.testLimit = o.quick ? 2_000 : nil
            // the input of the last sigmoid, one fixed unit, over the minibatch
            var pct: [(Double, [Double])] = []
            let (r, _) = try Experiments.train(model, c, data: data, log: log, onLoggedStep: { step, plan in
                let net = plan.net
                guard let last = net.ops.lastIndex(where: { ($0 as? Activation)?.function == .sigmoid }) else { return }
                let x = plan.activation(last, chunk: 0), width = net.shapes[last][0]
                let values = (0..<(x.count / width)).map { Double(x[$0 * width]) }.sorted()
                pct.append((Double(step), [0.15, 0.5, 0.85].map { values[min(values.count - 1, Int($0 * Double(values.count)))] }))
            })
            results.append(r)
            let series = zip(["15th", "50th", "85th"].indices, ["15th", "50th", "85th"]).map { i, n in
                SVGChart.Series(name: "\(n) percentile", points: pct.map { ($0.0, $0.1[i]) })
            }
            plots.append(("percentiles-\(model).svg", SVGChart.render(title: "\(model): input of a last-hidden-layer sigmoid", xLabel: "step", yLabel: "value", series: series)))
            let early = pct.prefix(max(1, pct.count / 10)).map { $0.1[1] }, late = pct.suffix(max(1, pct.count / 10)).map { $0.1[1] }
            drift[model] = abs(late.reduce(0, +) / Double(late.count) - early.reduce(0, +) / Double(early.count))
        }
        let acc = { (n: String) in results.first { $0.name == n }?.testAccuracy ?? .nan }
        let checks: [(String, Bool)] = [
            ("with BN the test accuracy is higher after \(steps) steps (\(String(format: "%.2f %% vs %.2f %%", acc("mlp-bn-sigmoid") * 100, acc("mlp-sigmoid") * 100)))",
             acc("mlp-bn-sigmoid") > acc("mlp-sigmoid")),
            ("the median sigmoid input drifts less with BN (\(String(format: "%.3f vs %.3f", drift["mlp-bn-sigmoid"] ?? .nan, drift["mlp-sigmoid"] ?? .nan)))",
             (drift["mlp-bn-sigmoid"] ?? .infinity) < (drift["mlp-sigmoid"] ?? 0)),
        ]
        let intro = """
        Ioffe & Szegedy 2015, Figure 1: a 784-100-100-100-10 sigmoid MLP with and without batch norm before each sigmoid, \
        Gaussian N(0, 1) init, plain SGD (lr 0.5, no momentum), minibatch 60, \(steps) steps, on \(o.data), seed \(o.seed).
        """
        let extra = "## The distribution of a sigmoid's input over training (15th/50th/85th percentiles)\n\n![without BN](percentiles-mlp-sigmoid.svg)\n![with BN](percentiles-mlp-bn-sigmoid.svg)\n\n"
        return try Experiments.finish("bn-mnist", o, results: results, checks: checks, intro: intro, extraPlots: plots, extraMarkdown: extra)
    }
}
