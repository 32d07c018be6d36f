// Shared machinery of the paper experiments: run named training variants on one data set, each
// in its own folder, save the condensed results (results.json), and render report.md and the SVG
// charts from those results alone, so that `--render` rebuilds a report without training.
import Foundation

/// The experiments, by the name the CLI takes.
public enum ExperimentName: String, CaseIterable, Sendable, Codable {
    case he30, lsuv, bnMnist = "bn-mnist", xavierMLP = "xavier-mlp", zeroInit = "zero-init", rbm, prelu
    case resnetInit = "resnet-init"

    var kind: any PaperExperiment.Type {
        switch self {
        case .he30: return He30.self
        case .lsuv: return LSUVExperiment.self
        case .bnMnist: return BNMnist.self
        case .xavierMLP: return XavierMLP.self
        case .zeroInit: return ZeroInit.self
        case .rbm: return RBMExperiment.self
        case .prelu: return PReLUExperiment.self
        case .resnetInit: return ResNetInit.self
        }
    }
}

/// What a report depends on besides the runs: saved in results.json for `--render`.
public struct ExperimentOptions: Sendable, Codable {
    public var quick = false
    public var steps: Int? = nil
    public var seed: UInt64 = 1
    /// Seeds per variant: seed, seed + 1, … (wrapping to 0 after UInt64.max); each seed's runs in a folder seed-N.
    public var seeds = 1
    public var data: DataSource = .fashionMNIST
    public var dataDir: String? = nil
    public var out = "runs/experiment"
    public var workers = 1
    public var threads = 0
    /// --flush-subnormals for every run (he30 always flushes); nil in results from before the option.
    public var flushSubnormals: Bool? = nil
    /// --precision for every run; nil in results from before the option (FP32).
    public var precision: Precision? = nil
    public init() {}
}

/// One experiment: train its variants, then judge and draw them from the results alone.
protocol PaperExperiment {
    associatedtype Variant: ExperimentVariant
    static func train(_ o: ExperimentOptions, data: DataSplits, log: @escaping (String) -> Void) throws -> [RunResult]
    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent
}

/// One variant of an experiment, as a value: reports find runs by it, never by a display name.
/// `name` is the display name that reports show and results.json stores; `all` holds the variants
/// of every preset, so that any results.json's names, old ones too, map back onto variants.
protocol ExperimentVariant: Equatable {
    var name: String { get }
    static var all: [Self] { get }
}

extension ExperimentVariant {
    init?(name: String) {
        guard let v = Self.all.first(where: { $0.name == name }) else { return nil }
        self = v
    }
}

extension RunResult {
    /// Which of an experiment's variants this run is.
    func variant<V: ExperimentVariant>(_: V.Type) -> V? { V(name: name) }
}

extension Array where Element == RunResult {
    /// The run of variant `v`: the first, or the only one when each variant is one (median) run.
    func run<V: ExperimentVariant>(_ v: V) -> RunResult? { first { $0.variant(V.self) == v } }
}

/// An experiment's own part of report.md: the paper's claims judged, the intro, extra charts.
struct ReportContent {
    var checks: [(String, Bool)]
    var intro: String
    var plots: [(file: String, svg: String)] = []
    var markdown = ""
    /// The seed table also counts the seeds that `trained` (runs under an epoch: see resnet-init).
    var trainedColumn = false
}

public struct ExperimentReport: Sendable {
    public var name: String
    public var table: String              // markdown
    public var results: [RunResult]
    public var checks: [(String, Bool)]   // the paper's claim, and whether this run shows it
}

/// results.json: the options and every run's condensed result.
struct SavedExperiment: Codable {
    var experiment: ExperimentName
    var options: ExperimentOptions
    var runs: [RunResult]
    var checks: [String: Bool]
}

public enum Experiments {
    /// Trains every variant of `name`, saves results.json, and writes the report.
    public static func run(_ name: ExperimentName, _ o: ExperimentOptions,
                           log: @escaping (String) -> Void) throws -> ExperimentReport {
        log("\(name.rawValue): loading \(o.data.rawValue)")
        let data = try DataSets.load(o.data, dir: o.dataDir, seed: o.seed)
        var results: [RunResult] = []
        for k in 0..<o.seeds {
            var one = o
            one.seed = o.seed &+ UInt64(k)  // wraps past UInt64.max (…, max, 0, 1): every --seed is valid
            if o.seeds > 1 {
                one.out = joinPath(o.out, "seed-\(one.seed)")
                log("seed \(one.seed) (\(k + 1) of \(o.seeds))")
            }
            results += try name.kind.train(one, data: data, log: log).map { run in
                var r = run
                r.seed = one.seed
                if o.seeds > 1 { r.folder = "seed-\(one.seed)/" + r.folder }
                return r
            }
        }
        return try finish(name, o, results: results)
    }

    /// Rebuilds report.md and the charts of an experiment folder from its results.json and run folders.
    public static func render(folder: String) throws -> ExperimentReport {
        let path = joinPath(folder, "results.json")
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, problem: "cannot read (is \(folder) an experiment's output folder?)")
        }
        let saved: SavedExperiment
        do { saved = try JSONDecoder().decode(SavedExperiment.self, from: bytes) } catch {
            throw DataError(file: path, problem: "not a GoodInit experiment's results (\(describe(error)))")
        }
        // an input file like any other: its runs' figures, curves and folders are checked before use
        guard !saved.runs.isEmpty else { throw DataError(file: path, problem: "holds no runs") }
        for (i, r) in saved.runs.enumerated() { try r.check(file: path, index: i) }
        var o = saved.options
        o.out = folder
        for r in saved.runs {   // each run's own charts, from its metrics.jsonl when it is there
            let run = try confined(r.folder, in: folder, file: path)
            if let records = try? MetricsFile.read(joinPath(run, "metrics.jsonl")) {
                try Curves.write(records, to: run, title: r.name)
            }
        }
        return try finish(saved.experiment, o, results: saved.runs)
    }

    /// `folder` joined with a run folder read from `file`, refused unless it stays inside `folder`:
    /// results.json is input, and `--render` writes charts into the folders it names.
    static func confined(_ run: String, in folder: String, file: String) throws -> String {
        func refuse(_ why: String) -> DataError { DataError(file: file, problem: "run folder '\(run)' \(why)") }
        let parts = run.split(separator: "/")
        guard !run.isEmpty, !run.hasPrefix("/"), !parts.contains("..") else {
            throw refuse("is not a path inside \(folder) (absolute, empty or with '..')")
        }
        let path = joinPath(folder, run)
        let base = resolved(folder), resolved = resolved(path)
        guard resolved.hasPrefix(base.hasSuffix("/") ? base : base + "/") else {
            throw refuse("leads outside \(folder) through a symbolic link (to \(resolved))")
        }
        return path
    }

    /// `path` with its symbolic links resolved, as far as it exists (the rest appended as it is).
    static func resolved(_ path: String) -> String {
        var head = (path as NSString).standardizingPath, tail: [String] = []
        while !head.isEmpty && head != "/" {
            if let r = realpath(head, nil) {
                defer { free(r) }
                return ([String(cString: r)] + tail.reversed()).joined(separator: "/")
            }
            tail.append((head as NSString).lastPathComponent)
            head = (head as NSString).deletingLastPathComponent
        }
        return path
    }

    /// A decoding error in one line: the key or value and where it is.
    static func describe(_ error: Error) -> String {
        func at(_ c: DecodingError.Context) -> String {
            let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "" : " at \(path.hasPrefix(".") ? String(path.dropFirst()) : path)"
        }
        switch error as? DecodingError {
        case let .keyNotFound(key, c)?: return "missing key '\(key.stringValue)'\(at(c))"
        case let .typeMismatch(_, c)?, let .valueNotFound(_, c)?: return "wrong or missing value\(at(c))"
        case let .dataCorrupted(c)?:
            return c.codingPath.isEmpty ? "not valid JSON" : "invalid value\(at(c)): \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    /// A training configuration with the experiment's shared options applied.
    static func settings(_ o: ExperimentOptions, run: String, model: ModelPreset,
                         activation: ActivationKind = .relu, initializer: Initializer) -> TrainSettings {
        var s = TrainSettings()
        s.model = .preset(model, activation: activation)
        s.initialization = InitOptions(initializer)
        s.data = DataOptions(source: o.data, dir: o.dataDir)
        s.loop.seed = o.seed; s.loop.logEvery = 5
        s.compute = ComputeOptions(workers: o.workers, threads: o.threads, flushSubnormals: o.flushSubnormals ?? false,
                                   precision: o.precision ?? .fp32)
        s.out = joinPath(o.out, folderName(run))
        return s
    }

    static func folderName(_ run: String) -> String {
        run.replacingOccurrences(of: ":", with: "-").replacingOccurrences(of: " ", with: "-")
    }

    /// Trains one variant and condenses its records; a diverging run is a result, not an error.
    static func train(_ name: String, _ settings: TrainSettings, data: DataSplits, log: @escaping (String) -> Void,
                      onLoggedStep: ((Int, Plan) -> Void)? = nil) throws -> (RunResult, TrainingLoop) {
        var s = settings
        let w = s.compute.workers
        // a variant's chunk is the preset's, not the user's: with more workers than its chunks, each
        // worker gets one (these bits then depend on W), where `train` refuses
        let shared = s.loop.chunking.shared(by: w)
        if shared.chunk != s.loop.chunk {
            s.loop.chunk = shared.chunk
            log("  \(name): chunk \(s.loop.chunk) so that \(w) workers share batch \(s.loop.batchSize)")
        }
        let loop = try TrainingLoop(s, setup: TrainingSetup(s, preloaded: data))
        let records = RecordLog()
        loop.log = { _ in }
        loop.sinks = [records]
        loop.onLoggedStep = onLoggedStep
        log("  \(name)…")
        let started = Date(), folder = (s.out as NSString).lastPathComponent
        var r: RunResult
        do {
            let summary = try loop.run()
            r = RunResult(name: name, folder: folder, records: records)
            r.steps = summary.steps; r.seconds = summary.wallSeconds; r.finalLoss = summary.finalTrainLoss
            r.testAccuracy = summary.testAccuracy; r.testLoss = summary.testLoss
        } catch let e as DivergenceError {
            // One diverging variant is a result (the LSUV paper's "did not converge"), not a reason
            // to throw away the others: record where it broke and go on.
            r = RunResult(name: name, folder: folder, records: records)
            r.steps = e.step; r.finalLoss = .nan; r.seconds = Date().timeIntervalSince(started)
            r.diverged = "step \(e.step), \(e.location)"
            log("  \(name): diverged (\(e))")
        }
        r.maxGradNorm = records.steps.map(\.gradNorm).filter(\.isFinite).max()
        r.lsuvTries = loop.lsuvReport?.map(\.tries)
        r.lsuvSeconds = loop.lsuvReport?.reduce(0) { $0 + $1.seconds }
        if r.diverged == nil {
            let acc = r.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a"
            log(String(format: "  %@: final loss %.4f, test accuracy %@ (%.1f s)", name, r.finalLoss, acc, r.seconds))
        }
        return (r, loop)
    }

    /// log10 of the output variance at initialization of each op `select` picks, [k, log10 variance]
    /// for the k-th such op, on one minibatch. IEEE even when the runs flush: he30's chart shows how far
    /// below 1e-38 N(0, 0.01²)'s signal falls.
    static func initVariances(_ s: TrainSettings, data: DataSplits,
                              select: (Op) -> Bool) throws -> [[Double]] {
        let setup = try TrainingSetup(s, preloaded: data)
        _ = try setup.initialize(s.initialization, seed: s.loop.seed)
        let b = 64, d = setup.data.train
        let plan = Plan(net: setup.net, chunking: .whole(b), workers: 1, threads: setup.threads, fused: false)
        plan.setInput(images: d.images, labels: d.labels, indices: Array(0..<b)[...])
        plan.forward(training: true)
        var points: [[Double]] = [], k = 0
        for (i, op) in setup.net.ops.enumerated() where select(op) {
            k += 1
            let v = plan.activation(i + 1, chunk: 0).meanVariance().variance
            points.append([Double(k), Foundation.log10(max(v, 1e-30))])
        }
        return points
    }

    /// Training loss against steps, one line per run (a median run's seeds as a shaded min–max
    /// band). The y axis stops at 1.5× the median first logged loss, so that a run that blows up
    /// leaves the top edge instead of flattening the rest.
    static func lossChart(_ title: String, _ runs: [RunResult]) -> String {
        let firsts = runs.compactMap { $0.losses.first?[1] }.filter(\.isFinite).sorted()
        let series = runs.map { r in
            let (lo, hi) = (r.lossMin ?? [], r.lossMax ?? [])
            let band = zip(lo, hi).map { ($0[0], $0[1], $1[1]) }
            return SVGChart.Series(name: r.name, points: r.losses.map { ($0[0], $0[1]) }, band: band)
        }
        return SVGChart.render(title: title, xLabel: "step", yLabel: "cross-entropy loss (train minibatch)",
                               series: series, yMax: firsts.isEmpty ? nil : 1.5 * firsts[firsts.count / 2])
    }

    /// Saves results.json, then writes report.md and the charts from the results. Over several
    /// seeds the experiment judges each variant's median run; the seed table gives the spread.
    static func finish(_ name: ExperimentName, _ o: ExperimentOptions,
                       results: [RunResult]) throws -> ExperimentReport {
        try FileManager.default.createDirectory(atPath: o.out, withIntermediateDirectories: true)
        let variants = SeedRuns.group(results)
        let manySeeds = variants.contains { $0.runs.count > 1 }
        let judged = manySeeds ? variants.map(\.median) : results
        let content = name.kind.report(o, judged)
        let checks = content.checks
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let saved = SavedExperiment(experiment: name, options: o, runs: results,
                                    checks: Dictionary(checks.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a }))
        try enc.encode(saved).write(to: URL(fileURLWithPath: joinPath(o.out, "results.json")), options: .atomic)
        let table = manySeeds ? seedTable(variants, trainedColumn: content.trainedColumn) : resultsTable(results)
        let title = name.rawValue
        let lossTitle = "\(title): training loss" + (manySeeds ? " (median and range over seeds)" : "")
        for (file, svg) in [("loss.svg", lossChart(lossTitle, judged))] + content.plots {
            try svg.write(toFile: joinPath(o.out, file), atomically: true, encoding: .utf8)
        }
        var testRows = "| run | test accuracy by epoch |\n|---|---|\n"
        for r in judged {
            testRows += "| \(r.name) | \(r.epochAccuracies.map { percent($0) }.joined(separator: ", ")) |\n"
        }
        var md = "# Experiment \(title)\n\n\(content.intro)\n\n"
        if o.precision == .bf16 {
            md += "Precision: bf16. Convolutions and linear layers read bf16 operands and accumulate in FP32 "
                + "(`--precision bf16`, as PyTorch's CPU autocast); weights, batch norm, the loss and the update stay "
                + "FP32.\n\n"
        }
        // said only where the figures are of this definition: --render keeps older reports as they were
        if !results.isEmpty, results.allSatisfy({ $0.finalLossDefinition == .lastEpochMean }) {
            md += "Final train loss: the last epoch's mean cross-entropy over its samples (summary.json's "
                + "finalTrainLoss); a run converged when it is below 2.0 (chance is ln 10 ≈ 2.303) and nothing "
                + "went NaN or Inf.\n\n"
        }
        md += "## Results\n\n\(table)\n\(testRows)\n![loss](loss.svg)\n\n"
        md += content.markdown
        md += "## What the papers claim, and this run\n\n"
        md += checks.map { "- \($0.1 ? "✔" : "✘") \($0.0)" }.joined(separator: "\n") + "\n\n"
        md += "Each run's metrics are in its own folder (`<run>/metrics.jsonl`, `summary.json`, curves). "
        md += "`goodinit experiment \(title) --render \(o.out)` rebuilds this report from `results.json`.\n"
        try md.write(toFile: joinPath(o.out, "report.md"), atomically: true, encoding: .utf8)
        return ExperimentReport(name: title, table: table, results: results, checks: checks)
    }

    static func resultsTable(_ results: [RunResult]) -> String {
        var table = "| run | steps | final train loss | test accuracy | test loss | seconds |\n"
        table += "|---|---|---|---|---|---|\n"
        for r in results {
            if let d = r.diverged {
                table += String(format: "| %@ | %d | NaN (diverged at %@) | – | – | %.1f |\n", r.name, r.steps, d,
                                r.seconds)
                continue
            }
            table += String(format: "| %@ | %d | %.4f | %@ | %@ | %.1f |\n", r.name, r.steps, r.finalLoss,
                            r.testAccuracy.map { percent($0) } ?? "–",
                            r.testLoss.map { String(format: "%.4f", $0) } ?? "–", r.seconds)
        }
        return table
    }

    static func percent(_ x: Double) -> String { String(format: "%.2f %%", x * 100) }
}
