// Shared machinery of the paper experiments: run named training variants on one data set, keep
// each run's metrics.jsonl in its own folder, and write report.md, results.json and SVG plots.
import Foundation

public struct ExperimentOptions: Sendable {
    public var quick = false
    public var steps: Int? = nil
    public var seed: UInt64 = 1
    public var threads = 0
    public var workers = 1
    public var out = "runs/experiment"
    public var data = "fashion-mnist"
    public var dataDir: String? = nil
    public init() {}
}

public struct RunResult: Encodable, Sendable {
    public var name: String
    public var steps: Int
    public var losses: [[Double]]          // [step, loss] per logged step
    public var finalLoss: Double           // mean of the last logged losses
    public var testAccuracy: Double?
    public var testLoss: Double?
    public var seconds: Double
    public var epochAccuracies: [Double]   // test accuracy at the end of each epoch
    public var lsuvTries: [Int]? = nil     // per weighted layer, when LSUV ran
    public var lsuvSeconds: Double? = nil
    public var diverged: String? = nil     // "step N, <layer>" when the loss or a gradient went NaN/Inf

    enum CodingKeys: String, CodingKey {
        case name, steps, losses, finalLoss, testAccuracy, testLoss, seconds, epochAccuracies, lsuvTries, lsuvSeconds, diverged
    }

    /// JSON has no NaN: a non-finite figure (a diverged run's loss) is written as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let finite = { (d: Double?) -> Double? in d.flatMap { $0.isFinite ? $0 : nil } }
        try c.encode(name, forKey: .name); try c.encode(steps, forKey: .steps)
        try c.encode(losses.filter { $0.allSatisfy(\.isFinite) }, forKey: .losses)
        try c.encode(finite(finalLoss), forKey: .finalLoss)
        try c.encode(finite(testAccuracy), forKey: .testAccuracy); try c.encode(finite(testLoss), forKey: .testLoss)
        try c.encode(seconds, forKey: .seconds); try c.encode(epochAccuracies.filter(\.isFinite), forKey: .epochAccuracies)
        try c.encode(lsuvTries, forKey: .lsuvTries); try c.encode(finite(lsuvSeconds), forKey: .lsuvSeconds)
        try c.encode(diverged, forKey: .diverged)
    }
}

public struct ExperimentReport: Sendable {
    public var name: String
    public var table: String              // markdown
    public var results: [RunResult]
    public var checks: [(String, Bool)]   // the paper's claim, and whether this run shows it
}

public enum Experiments {
    public static let names = ["he30", "lsuv", "bn-mnist", "xavier-mlp", "zero-init", "rbm", "prelu"]

    public static func run(_ name: String, _ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        switch name {
        case "he30": return try He30.run(o, log: log)
        case "zero-init": return try ZeroInit.run(o, log: log)
        case "xavier-mlp": return try XavierMLP.run(o, log: log)
        case "bn-mnist": return try BNMnist.run(o, log: log)
        case "rbm": return try RBMExperiment.run(o, log: log)
        case "lsuv": return try LSUVExperiment.run(o, log: log)
        case "prelu": return try PReLUExperiment.run(o, log: log)
        default: throw TrainingError("unknown experiment '\(name)'; one of: \(names.joined(separator: ", "))")
        }
    }

    /// The experiment's data set, loaded once for all its runs.
    static func loadData(_ o: ExperimentOptions, _ name: String, log: (String) -> Void) throws -> DataSplits {
        log("\(name): loading \(o.data)")
        return try DataSets.load(name: o.data, dir: o.dataDir, seed: o.seed)
    }

    /// A training configuration with the experiment's shared options applied.
    static func config(_ o: ExperimentOptions, run: String) -> TrainConfig {
        var c = TrainConfig()
        c.data = o.data; c.dataDir = o.dataDir; c.seed = o.seed; c.threads = o.threads; c.workers = o.workers
        c.out = (o.out as NSString).appendingPathComponent(run)
        c.logEvery = 5
        return c
    }

    /// Trains one variant and condenses its metrics.
    static func train(_ name: String, _ c: TrainConfig, data: DataSplits, log: @escaping (String) -> Void,
                      onLoggedStep: ((Int, Plan) -> Void)? = nil) throws -> (RunResult, Trainer) {
        var c = c
        if c.workers > 1, chunks(batch: c.batchSize, chunk: c.chunk) < c.workers {
            c.chunk = max(1, c.batchSize / c.workers) // every worker gets a chunk (these bits then depend on W)
            log("  \(name): chunk \(c.chunk) so that \(c.workers) workers share batch \(c.batchSize)")
        }
        let t = try Trainer(config: c, data: data)
        t.log = { _ in }
        t.onLoggedStep = onLoggedStep
        log("  \(name)…")
        let started = Date()
        let s: TrainSummary
        do {
            s = try t.run()
        } catch let e as DivergenceError {
            // One diverging variant is a result (the LSUV paper's "did not converge"), not a reason
            // to throw away the others: record where it broke and go on.
            let rows = (try? MetricsLog.read((c.out as NSString).appendingPathComponent("metrics.jsonl"))) ?? []
            var r = RunResult(name: name, steps: e.step, losses: stepLosses(rows), finalLoss: .nan, testAccuracy: nil, testLoss: nil,
                              seconds: Date().timeIntervalSince(started), epochAccuracies: epochAccuracies(rows))
            r.diverged = "step \(e.step), \(e.location)"
            r.lsuvTries = t.lsuvReport?.map(\.tries); r.lsuvSeconds = t.lsuvReport?.reduce(0) { $0 + $1.seconds }
            log("  \(name): diverged (\(e))")
            return (r, t)
        }
        let rows = try MetricsLog.read((c.out as NSString).appendingPathComponent("metrics.jsonl"))
        let losses = stepLosses(rows)
        let tail = losses.suffix(3).map { $0[1] }
        let accs = epochAccuracies(rows)
        let r = RunResult(name: name, steps: s.steps, losses: losses, finalLoss: tail.isEmpty ? .nan : tail.reduce(0, +) / Double(tail.count),
                          testAccuracy: s.testAccuracy, testLoss: s.testLoss, seconds: s.wallSeconds, epochAccuracies: accs,
                          lsuvTries: s.lsuv?.map(\.tries), lsuvSeconds: s.lsuv?.reduce(0) { $0 + $1.seconds })
        log(String(format: "  %@: final loss %.4f, test accuracy %@ (%.1f s)", name, r.finalLoss,
                   r.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a", r.seconds))
        return (r, t)
    }

    /// Training loss against steps, one line per run. The y axis stops at 1.5× the median first
    /// logged loss, so that a run that blows up leaves the top edge instead of flattening the rest.
    static func lossChart(_ title: String, _ runs: [RunResult]) -> String {
        let firsts = runs.compactMap { $0.losses.first?[1] }.filter(\.isFinite).sorted()
        return SVGChart.render(title: title, xLabel: "step", yLabel: "cross-entropy loss (train minibatch)",
                               series: runs.map { .init(name: $0.name, points: $0.losses.map { ($0[0], $0[1]) }) },
                               yMax: firsts.isEmpty ? nil : 1.5 * firsts[firsts.count / 2])
    }

    /// [step, loss] of every logged step in a run's metrics.jsonl rows.
    static func stepLosses(_ rows: [[String: Any]]) -> [[Double]] {
        rows.filter { $0["type"] as? String == "step" }.compactMap {
            guard let st = ($0["step"] as? NSNumber)?.doubleValue, let l = ($0["loss"] as? NSNumber)?.doubleValue else { return nil }
            return [st, l]
        }
    }

    static func epochAccuracies(_ rows: [[String: Any]]) -> [Double] {
        rows.filter { $0["type"] as? String == "epoch" }.compactMap { ($0["test_accuracy"] as? NSNumber)?.doubleValue }
    }

    /// Writes results.json, report.md and the loss plot; returns the report.
    static func finish(_ name: String, _ o: ExperimentOptions, results: [RunResult], checks: [(String, Bool)],
                       intro: String, extraPlots: [(String, String)] = [], extraMarkdown: String = "") throws -> ExperimentReport {
        let fm = FileManager.default
        try fm.createDirectory(atPath: o.out, withIntermediateDirectories: true)
        var table = "| run | steps | final train loss | test accuracy | test loss | seconds |\n|---|---|---|---|---|---|\n"
        for r in results {
            if let d = r.diverged {
                table += String(format: "| %@ | %d | NaN (diverged at %@) | – | – | %.1f |\n", r.name, r.steps, d, r.seconds)
                continue
            }
            table += String(format: "| %@ | %d | %.4f | %@ | %@ | %.1f |\n", r.name, r.steps, r.finalLoss,
                            r.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "–",
                            r.testLoss.map { String(format: "%.4f", $0) } ?? "–", r.seconds)
        }
        let lossSVG = lossChart("\(name): training loss", results)
        try lossSVG.write(toFile: (o.out as NSString).appendingPathComponent("loss.svg"), atomically: true, encoding: .utf8)
        for (file, svg) in extraPlots { try svg.write(toFile: (o.out as NSString).appendingPathComponent(file), atomically: true, encoding: .utf8) }
        var testRows = "| run | test accuracy by epoch |\n|---|---|\n"
        for r in results { testRows += "| \(r.name) | \(r.epochAccuracies.map { String(format: "%.2f %%", $0 * 100) }.joined(separator: ", ")) |\n" }
        var md = "# Experiment \(name)\n\n\(intro)\n\n## Results\n\n\(table)\n\(testRows)\n![loss](loss.svg)\n\n"
        md += extraMarkdown
        md += "## What the papers claim, and this run\n\n" + checks.map { "- \($0.1 ? "✔" : "✘") \($0.0)" }.joined(separator: "\n") + "\n\n"
        md += "Each run's metrics are in its own folder (`<run>/metrics.jsonl`, `summary.json`, curves).\n"
        try md.write(toFile: (o.out as NSString).appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Out: Encodable { var experiment: String; var quick: Bool; var seed: UInt64; var runs: [RunResult]; var checks: [String: Bool] }
        try enc.encode(Out(experiment: name, quick: o.quick, seed: o.seed, runs: results,
                           checks: Dictionary(checks.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })))
            .write(to: URL(fileURLWithPath: (o.out as NSString).appendingPathComponent("results.json")))
        return ExperimentReport(name: name, table: table, results: results, checks: checks)
    }
}
