// Ioffe & Szegedy 2015, Figure 1: the MNIST MLP (3 × 100 sigmoid units) with and without batch
// norm, minibatch 60, Gaussian init: BN reaches higher test accuracy faster, and the 15th, 50th
// and 85th percentiles of a last-hidden-layer sigmoid input stay steady with BN and drift without.
import Foundation

enum BNMnist: PaperExperiment {
    enum Variant: ExperimentVariant, CaseIterable {
        case plain, batchNorm
        var model: ModelPreset { self == .plain ? .mlpSigmoid : .mlpBNSigmoid }
        var name: String { model.rawValue }
        static var all: [Variant] { allCases }
    }
    static func steps(_ o: ExperimentOptions) -> Int { o.steps ?? (o.quick ? 1500 : 50_000) }

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        let steps = steps(o)
        return try Variant.allCases.map { variant in
            var s = Experiments.settings(o, run: variant.name, model: variant.model, initializer: .normal(1))
            s.loop.maxSteps = steps; s.loop.epochs = 10_000; s.loop.batchSize = 60
            s.loop.logEvery = max(10, steps / 100)
            s.optimizer.lr = 0.5; s.optimizer.momentum = 0; s.optimizer.weightDecay = 0
            s.data.testLimit = o.quick ? 2_000 : nil
            // the input of the last sigmoid, one fixed unit, over the minibatch
            var pct: [RunResult.Percentile: [[Double]]] = [:]   // [step, value] per percentile
            var (r, _) = try Experiments.train(variant.name, s, data: data, log: log, onLoggedStep: { step, plan in
                let net = plan.net
                guard let last = net.ops.lastIndex(where: { ($0 as? Activation)?.function == .sigmoid }) else { return }
                let x = plan.activation(last, chunk: 0), width = net.shapes[last][0]
                let values = (0..<(x.count / width)).map { Double(x[$0 * width]) }.sorted()
                for p in RunResult.Percentile.allCases {
                    let value = values[min(values.count - 1, Int(p.fraction * Double(values.count)))]
                    pct[p, default: []].append([Double(step), value])
                }
            })
            r.sigmoidInput = pct
            return r
        }
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        var plots: [(file: String, svg: String)] = [], drift: [Variant: Double] = [:]
        for r in results {
            let series = RunResult.Percentile.allCases.map {
                SVGChart.Series(name: "\($0.rawValue) percentile", points: r.points(\.sigmoidInput[$0]))
            }
            plots.append(("percentiles-\(r.name).svg",
                          SVGChart.render(title: "\(r.name): input of a last-hidden-layer sigmoid", xLabel: "step",
                                          yLabel: "value", series: series)))
            let median = r.points(\.sigmoidInput[.p50]).map(\.1), tenth = max(1, median.count / 10)
            guard !median.isEmpty, let v = r.variant(Variant.self) else { continue }
            let early = median.prefix(tenth), late = median.suffix(tenth)
            drift[v] = abs(late.reduce(0, +) / Double(late.count) - early.reduce(0, +) / Double(early.count))
        }
        let acc = { (v: Variant) in results.run(v)?.testAccuracy ?? .nan }
        let (driftBN, driftPlain) = (drift[.batchNorm] ?? .nan, drift[.plain] ?? .nan)
        let checks: [(String, Bool)] = [
            ("with BN the test accuracy is higher after \(steps(o)) steps (\(Experiments.percent(acc(.batchNorm))) vs "
             + "\(Experiments.percent(acc(.plain))))", acc(.batchNorm) > acc(.plain)),
            ("the median sigmoid input drifts less with BN (\(String(format: "%.3f vs %.3f", driftBN, driftPlain)))",
             (drift[.batchNorm] ?? .infinity) < (drift[.plain] ?? 0)),
        ]
        let intro = """
        Ioffe & Szegedy 2015, Figure 1: a 784-100-100-100-10 sigmoid MLP with and without batch norm before each \
        sigmoid, Gaussian N(0, 1) init, plain SGD (lr 0.5, no momentum), minibatch 60, \(steps(o)) steps, on \
        \(o.data.rawValue), seed \(o.seed).
        """
        let extra = "## The distribution of a sigmoid's input over training (15th/50th/85th percentiles)\n\n"
            + "![without BN](percentiles-mlp-sigmoid.svg)\n![with BN](percentiles-mlp-bn-sigmoid.svg)\n\n"
        return ReportContent(checks: checks, intro: intro, plots: plots, markdown: extra)
    }
}
