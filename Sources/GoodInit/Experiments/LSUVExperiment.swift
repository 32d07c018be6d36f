// Mishkin & Matas 2016, Table 3 in spirit: LSUV against other initializations across
// nonlinearities on a FitNet-style net (scaled down to fitnet-small for 2 cores), with a "did not
// converge" marker, LSUV's iterations per layer and its cost next to one training epoch.
import Foundation

enum LSUVExperiment: PaperExperiment {
    /// A nonlinearity and an init.
    struct Variant: ExperimentVariant {
        var activation: ActivationKind, initializer: Initializer
        var name: String { "\(activation.rawValue) \(initializer)" }
        static var all: [Variant] {
            activations(fullPreset).flatMap { a in inits(fullPreset).map { Variant(activation: a, initializer: $0) } }
        }
    }
    static let fullPreset = ExperimentOptions()   // whose variants include the quick preset's

    static func inits(_ o: ExperimentOptions) -> [Initializer] {
        o.quick ? [.lsuv, .xavierUniform, .heNormal(fanOut: false)]
            : [.lsuv, .orthogonal(gain: 1), .orthogonal(gain: Double(Float(1.4142))), // as "orthogonal:1.4142" parses
               .xavierUniform, .heNormal(fanOut: false), .pytorchDefault]
    }
    static func activations(_ o: ExperimentOptions) -> [ActivationKind] {
        o.quick ? [.relu, .tanh] : [.relu, .vlrelu, .tanh, .maxout]
    }
    static func steps(_ o: ExperimentOptions) -> Int { o.steps ?? (o.quick ? 100 : 200) } // full: 24 runs, ~12 min

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        var results: [RunResult] = []
        for act in activations(o) { for initializer in inits(o) {
            let name = Variant(activation: act, initializer: initializer).name
            var s = Experiments.settings(o, run: name, model: .fitnetSmall, activation: act, initializer: initializer)
            s.loop.maxSteps = steps(o); s.loop.epochs = 1000; s.loop.batchSize = 64; s.loop.logEvery = 10
            s.optimizer.lr = 0.01; s.optimizer.momentum = 0.9; s.optimizer.weightDecay = 5e-4
            s.initialization.lsuv.batchSize = 64
            s.data.testLimit = o.quick ? 2_000 : nil
            results.append(try Experiments.train(name, s, data: data, log: log).0)
        } }
        return results
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        let (inits, acts) = (inits(o), activations(o))
        let converged = { (r: RunResult) in r.finalLoss.isFinite && r.finalLoss < 2.0 }
        var table = "| nonlinearity | " + inits.map(\.description).joined(separator: " | ") + " |\n|---|"
            + inits.map { _ in "---" }.joined(separator: "|") + "|\n"
        for act in acts {
            table += "| \(act.rawValue) | " + inits.map { i in
                guard let r = results.run(Variant(activation: act, initializer: i)) else { return "–" }
                if r.diverged != nil { return "did not converge (NaN)" }
                return converged(r) ? Experiments.percent(r.testAccuracy ?? 0) : "did not converge"
            }.joined(separator: " | ") + " |\n"
        }
        let variant = { (r: RunResult) in r.variant(Variant.self) }
        let lsuvRuns = results.filter { variant($0)?.initializer == .lsuv }
        let epochSeconds = { (r: RunResult) in r.seconds / Double(max(1, r.steps)) * Double(60_000 / 64) }
        var extra = "## Test accuracy (\"did not converge\": final training loss ≥ 2.0, or NaN)\n\n\(table)\n"
        extra += "## LSUV's cost\n\n"
        extra += "| nonlinearity | tries per layer | LSUV seconds | one training epoch (s, estimated) |\n"
        extra += "|---|---|---|---|\n"
        for r in lsuvRuns {
            let tries = (r.lsuvTries ?? []).map(String.init).joined(separator: ",")
            extra += String(format: "| %@ | %@ | %.2f | %.0f |\n", variant(r)?.activation.rawValue ?? r.name, tries,
                            r.lsuvSeconds ?? .nan, epochSeconds(r))
        }
        extra += "\n## Training loss per nonlinearity\n\n"
            + acts.map { "![\($0.rawValue)](loss-\($0.rawValue).svg)\n" }.joined() + "\n"
        let plots = acts.map { act in
            ("loss-\(act.rawValue).svg", Experiments.lossChart("lsuv, \(act.rawValue): training loss",
                                                                results.filter { variant($0)?.activation == act }))
        }
        let checks: [(String, Bool)] = [
            ("LSUV converges for every nonlinearity tried (\(acts.map(\.rawValue).joined(separator: ", ")))",
             lsuvRuns.count == acts.count && lsuvRuns.allSatisfy(converged)),
            ("LSUV costs well under one training epoch (at most 5 %)",
             lsuvRuns.allSatisfy { ($0.lsuvSeconds ?? .infinity) < 0.05 * epochSeconds($0) }),
        ]
        let intro = """
        Mishkin & Matas 2016 ("All you need is a good init"): LSUV against other initializations across \
        nonlinearities. Net: `fitnet-small` (9 3×3 convs at 16/32/48 channels, global max pool, FC; maxout doubles \
        each conv), on \(o.data.rawValue), SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 64, \(steps(o)) steps, \
        seed \(o.seed).
        """
        return ReportContent(checks: checks, intro: intro, plots: plots, markdown: extra)
    }
}
