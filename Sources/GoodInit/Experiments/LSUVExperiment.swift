// Mishkin & Matas 2016, Table 3 in spirit: LSUV against other initializations across
// nonlinearities on a FitNet-style net (scaled down to fitnet-small for 2 cores), with a "did not
// converge" marker, LSUV's iterations per layer and its cost next to one training epoch.
import Foundation

enum LSUVExperiment {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let inits = o.quick ? ["lsuv", "xavier-uniform", "he-normal"] : ["lsuv", "orthogonal", "orthogonal:1.4142", "xavier-uniform", "he-normal", "pytorch-default"]
        let acts = o.quick ? ["relu", "tanh"] : ["relu", "vlrelu", "tanh", "maxout"]
        let steps = o.steps ?? (o.quick ? 100 : 200) // full: 24 runs, about 12 min on 2 cores
        let data = try Experiments.loadData(o, "lsuv", log: log)
        var results: [RunResult] = []
        for act in acts { for initName in inits {
            var c = Experiments.config(o, run: "\(act)-\(initName.replacingOccurrences(of: ":", with: "-"))")
            c.model = "fitnet-small"; c.activation = act; c.initializer = initName; c.maxSteps = steps; c.epochs = 1000
            c.batchSize = 64; c.lr = 0.01; c.momentum = 0.9; c.weightDecay = 5e-4; c.lsuvBatch = 64; c.logEvery = 10
            c.testLimit = o.quick ? 2_000 : nil
            results.append(try Experiments.train("\(act) \(initName)", c, data: data, log: log).0)
        } }
        let converged = { (r: RunResult) in r.finalLoss.isFinite && r.finalLoss < 2.0 }
        var table = "| nonlinearity | " + inits.joined(separator: " | ") + " |\n|---|" + inits.map { _ in "---" }.joined(separator: "|") + "|\n"
        for act in acts {
            table += "| \(act) | " + inits.map { i in
                guard let r = results.first(where: { $0.name == "\(act) \(i)" }) else { return "–" }
                if r.diverged != nil { return "did not converge (NaN)" }
                return converged(r) ? String(format: "%.2f %%", (r.testAccuracy ?? 0) * 100) : "did not converge"
            }.joined(separator: " | ") + " |\n"
        }
        let lsuvRuns = results.filter { $0.name.hasSuffix(" lsuv") }
        let epochSeconds = { (r: RunResult) in r.seconds / Double(r.steps) * Double(60_000 / 64) }
        var extra = "## Test accuracy (\"did not converge\": final training loss ≥ 2.0, or NaN)\n\n\(table)\n## LSUV's cost\n\n| nonlinearity | tries per layer | LSUV seconds | one training epoch (s, estimated) |\n|---|---|---|---|\n"
        for r in lsuvRuns {
            extra += String(format: "| %@ | %@ | %.2f | %.0f |\n", String(r.name.split(separator: " ")[0]), (r.lsuvTries ?? []).map(String.init).joined(separator: ","), r.lsuvSeconds ?? .nan, epochSeconds(r))
        }
        extra += "\n## Training loss per nonlinearity\n\n" + acts.map { "![\($0)](loss-\($0).svg)\n" }.joined() + "\n"
        let plots = acts.map { act in
            ("loss-\(act).svg", Experiments.lossChart("lsuv, \(act): training loss", results.filter { $0.name.hasPrefix("\(act) ") }))
        }
        let checks: [(String, Bool)] = [
            ("LSUV converges for every nonlinearity tried (\(acts.joined(separator: ", ")))", lsuvRuns.count == acts.count && lsuvRuns.allSatisfy(converged)),
            ("LSUV costs well under one training epoch (at most 5 %)", lsuvRuns.allSatisfy { ($0.lsuvSeconds ?? .infinity) < 0.05 * epochSeconds($0) }),
        ]
        let intro = """
        Mishkin & Matas 2016 ("All you need is a good init"): LSUV against other initializations across nonlinearities. \
        Net: `fitnet-small` (9 3×3 convs at 16/32/48 channels, global max pool, FC; maxout doubles each conv), on \(o.data), SGD \
        lr 0.01, momentum 0.9, weight decay 5e-4, batch 64, \(steps) steps, seed \(o.seed).
        """
        return try Experiments.finish("lsuv", o, results: results, checks: checks, intro: intro, extraPlots: plots, extraMarkdown: extra)
    }
}
