import Foundation
@testable import GoodInit
import Testing

@Suite("Training") struct TrainTests {
    func folder() -> String {
        let name = "goodinit-train-\(UUID().uuidString)"
        let p = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// A small conv net with every kind of state: BN running statistics, biases, momentum.
    static let tinyModel = """
    name: tiny
    input: [1, 28, 28]
    layers:
      - conv: {out: 8, kernel: 3, stride: 2, bias: false}
      - batchnorm
      - relu
      - dropout: {p: 0.1}
      - conv: {out: 8, kernel: 3}
      - relu
      - maxpool: {window: 2}
      - flatten
      - linear: {out: 10}
    """

    func config(_ out: String, steps: Int = 6, workers: Int = 1, threads: Int = 1) -> TrainSettings {
        var c = TrainSettings()
        let model = out + "/tiny.yaml"
        try? Self.tinyModel.write(toFile: model, atomically: true, encoding: .utf8)
        c.model = .file(model); c.data = DataOptions(source: .synthetic); c.data.trainLimit = 256; c.data.testLimit = 64
        c.loop.batchSize = 32; c.loop.chunk = 8; c.loop.epochs = 3; c.loop.maxSteps = steps; c.optimizer.lr = 0.02
        c.compute = ComputeOptions(workers: workers, threads: threads); c.out = out; c.loop.logEvery = 1
        c.initialization = InitOptions(.lsuv); c.initialization.lsuv.batchSize = 32; c.loop.seed = 11
        return c
    }

    func train(_ c: TrainSettings, resume: String? = nil) throws -> (TrainSummary, [Float]) {
        let t = try TrainingLoop(c)
        t.log = { _ in }
        let s = try t.run(resume: resume)
        return (s, t.net.params.values.array + t.net.stateTensors.flatMap { $0.1.array })
    }

    @Test("same seed ⇒ same losses and weights for T = 1, 2 and W = 1, 2")
    func deterministic() throws {
        let (a, wa) = try train(config(folder()))
        let (b, wb) = try train(config(folder(), threads: 2))
        let (c, wc) = try train(config(folder(), workers: 2, threads: 1))
        #expect(a.finalTrainLoss.bitPattern == b.finalTrainLoss.bitPattern)
        #expect(a.finalTrainLoss.bitPattern == c.finalTrainLoss.bitPattern)
        #expect(wa.map(\.bitPattern) == wb.map(\.bitPattern))
        #expect(wa.map(\.bitPattern) == wc.map(\.bitPattern))
    }

    @Test("train 2k steps ≡ train k, stop, resume, train k (bit for bit)")
    func resume() throws {
        let whole = folder(), part = folder()
        let (_, full) = try train(config(whole, steps: 10))
        _ = try train(config(part, steps: 5))
        let (s, resumed) = try train(config(part, steps: 10), resume: part + "/checkpoint.safetensors")
        #expect(s.steps == 10)
        #expect(full.map(\.bitPattern) == resumed.map(\.bitPattern))
        // the epoch stopped at step 5 of 8 reports its whole average after the resume, not its last 3 steps
        func firstEpoch(_ out: String) throws -> [String] {
            let lines = String(decoding: FileManager.default.contents(atPath: out + "/metrics.jsonl") ?? Data(),
                               as: UTF8.self).split(separator: "\n")
            return lines.filter { $0.contains("\"type\":\"epoch\"") && $0.contains("\"step\":8,") }
                .map { String($0).replacing(/"seconds":[-0-9.e+]+,?/, with: "") }
        }
        let wholeEpoch = try firstEpoch(whole)
        #expect(wholeEpoch.count == 1 && wholeEpoch.first?.contains("train_loss") == true)
        #expect(try firstEpoch(part) == wholeEpoch)
    }

    @Test("gradient-norm clipping: the recorded norm is the step's; clipped steps move lr·c, loose ones nothing new")
    func clipGradNorm() throws {
        func oneStep(clip: Double?, steps: Int = 1) throws -> (norm: Double, weights: [Float]) {
            let out = folder()
            var c = config(out, steps: steps)
            c.optimizer.momentum = 0; c.optimizer.weightDecay = 0; c.optimizer.clipGradNorm = clip
            let t = try TrainingLoop(c)
            t.log = { _ in }
            _ = try t.run()
            let rows = steps > 0 ? RecordLog(try MetricsFile.read(out + "/metrics.jsonl")).steps : []
            return (rows.first?.gradNorm ?? .nan, t.net.params.values.array)
        }
        func distance(_ a: [Float], _ b: [Float]) -> Double {
            zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        }
        let w0 = try oneStep(clip: nil, steps: 0).weights, free = try oneStep(clip: nil)
        let lr = config(folder()).optimizer.lr
        #expect(free.norm > 0 && free.norm.isFinite)
        #expect(abs(distance(free.weights, w0) - lr * free.norm) <= 1e-3 * lr * free.norm)
        let c = free.norm / 4, tight = try oneStep(clip: c)
        #expect(tight.norm.bitPattern == free.norm.bitPattern, "the record keeps the norm before clipping")
        #expect(abs(distance(tight.weights, w0) - lr * c) <= 1e-3 * lr * c)
        let loose = try oneStep(clip: free.norm * 2)
        #expect(loose.weights.map(\.bitPattern) == free.weights.map(\.bitPattern))
        var bad = config(folder()); bad.optimizer.clipGradNorm = 0
        #expect(throws: (any Error).self) { try bad.validate() }
        var kept = config(folder()); kept.optimizer.clipGradNorm = 2.5
        #expect(try TrainSettings.stored(Data(kept.stored().utf8)).optimizer.clipGradNorm == 2.5)
    }

    @Test("writes metrics.jsonl, summary.json, SVG curves")
    func outputs() throws {
        let out = folder()
        let (s, _) = try train(config(out, steps: 16))
        let rows = RecordLog(try MetricsFile.read(out + "/metrics.jsonl"))
        #expect(rows.steps.count == 16)
        #expect((s.testAccuracy ?? 0) > 0.5, "16 steps on learnable synthetic data should beat chance by far")
        #expect(rows.epochs.contains { $0.testAccuracy != nil })
        let summaryData = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
        let summary = try JSONSerialization.jsonObject(with: summaryData) as? [String: Any]
        #expect(summary?["steps"] as? Int == 16)
        let svg = try String(contentsOfFile: out + "/loss.svg", encoding: .utf8)
        #expect(svg.contains("<polyline") && svg.contains("training loss"))
        // TensorBoard: the logged steps' loss, and every layer's variances at each logged step
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains("tfevents") }
        #expect(files.count == 1)
        let events = try TensorBoardTests.readEvents(out + "/" + (files.first ?? "none"))
        let losses = events.flatMap { e in e.values.filter { $0.tag == "train/loss" }.map { (e.step, $0.value) } }
        #expect(losses.map(\.0) == Array(1...16))
        #expect(zip(losses, rows.steps).allSatisfy { $0.1 == Float($1.loss) })
        let conv1 = events.filter { $0.values.contains { $0.tag == "gradient_variance/conv1" } }
        #expect(conv1.count == 16)
        #expect(events.contains { $0.values.contains { $0.tag == "epoch/test_accuracy" } })
    }

    @Test("an injected NaN stops training with the layer named")
    func nanStops() throws {
        var c = config(folder(), steps: 6)
        c.loop.injectNaNAtStep = 2
        do {
            _ = try train(c)
            Issue.record("training went on past a NaN weight")
        } catch let e as DivergenceError {
            #expect(e.location.contains("conv1"), "\(e)")
            #expect(e.step == 3, "\(e)")
            #expect("\(e)".contains("conv1") && "\(e)".contains("step 3"), "\(e)")
        }
    }

    /// Whether python3 can import safetensors.numpy (scripts/setup.sh installs it).
    static let pythonHasSafetensors: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import safetensors.numpy, numpy"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    @Test("a checkpoint loads in Python's safetensors.numpy with the same values",
          .enabled(if: pythonHasSafetensors, "needs python3 with safetensors and numpy (scripts/setup.sh)"))
    func pythonInterop() throws {
        let out = folder()
        let c = config(out, steps: 2)
        let t = try TrainingLoop(c)
        t.log = { _ in }
        _ = try t.run()
        let w = t.net.params.view(t.net.params.entries[0], in: t.net.params.values).array
        let script = """
        import sys, numpy as np
        from safetensors.numpy import load_file
        d = load_file(sys.argv[1])
        w = d["conv1.weight"]
        print(w.shape, float(np.float64(w.astype(np.float64).sum())), float(w.flat[0]), float(w.flat[-1]))
        """
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, out + "/checkpoint.safetensors"]
        p.standardOutput = pipe
        try p.run(); p.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let sum = w.reduce(0.0) { $0 + Double($1) }
        #expect(p.terminationStatus == 0)
        #expect(text.hasPrefix("(8, 1, 3, 3)"), "\(text)")
        let fields = text.split(separator: ")").last!
            .split(whereSeparator: { $0 == " " || $0 == "\n" })
            .compactMap { Double($0) }
        #expect(fields.count == 3)
        #expect(abs(fields[0] - sum) < 1e-9 * max(1, abs(sum)) + 1e-12)
        #expect(Float(fields[1]) == w.first! && Float(fields[2]) == w.last!)
    }

    @Test("model files: parsed, and errors name the key")
    func modelFile() throws {
        let yaml = """
        name: tiny
        input: [1, 28, 28]
        layers:
          - conv: {out: 4, kernel: 3}
          - batchnorm
          - relu
          - residual: [{conv: {out: 4}}, relu]
          - maxpool: {window: 2}
          - flatten
          - linear: {out: 10}
        """
        let m = try ModelFile.parse(yaml, file: "tiny.yaml")
        let net = try Network(name: m.name, input: m.input, layers: m.layers)
        #expect(net.ops.contains { $0 is ResidualAdd })
        #expect(net.classes == 10)
        do {
            _ = try ModelFile.parse(yaml.replacingOccurrences(of: "kernel: 3", with: "kernal: 3"), file: "bad.yaml")
            Issue.record("a misspelt key was accepted")
        } catch { #expect("\(error)".contains("layers[0].conv.kernal"), "\(error)") }
        #expect(throws: DataError.self) {
            try ModelFile.parse("{\"name\": 3, \"input\": [1], \"layers\": []}", file: "x.json")
        }
    }
}

@Suite("Learning-rate schedules") struct ScheduleTests {
    func rates(_ text: String, total: Int = 20, perEpoch: Int = 5) throws -> [Double] {
        let s = try Schedule(parsing: text)
        return (0..<total).map { s.rate(base: 0.1, step: $0, totalSteps: total, stepsPerEpoch: perEpoch) }
    }

    @Test("constant, step and cosine by their formulas")
    func basic() throws {
        #expect(try rates("constant").allSatisfy { $0 == 0.1 })
        let st = try rates("step:2:0.5") // epochs of 5 steps: halves every 10 steps
        #expect(st[9] == 0.1 && st[10] == 0.05)
        let c = try rates("cosine")
        #expect(c[0] == 0.1 && abs(c[10] - 0.05) < 1e-12 && c[19] < 0.002
                && zip(c, c.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test("warm-up ramps linearly, then runs the next schedule from the warm-up's end")
    func warmup() throws {
        let w = try rates("warmup:4,cosine")
        #expect(abs(w[0] - 0.025) < 1e-12 && abs(w[3] - 0.1) < 1e-12)
        #expect(w[4] == 0.1 && abs(w[12] - 0.05) < 1e-12) // cosine over the remaining 16 steps
        #expect(try rates("warmup:4").dropFirst(4).allSatisfy { $0 == 0.1 })
        for bad in ["warmup:0,cosine", "warmup:x", "warmup:3,warmup:2", "warmup:3,sine", "linear"] {
            #expect(throws: (any Error).self, "\(bad)") { try Schedule(parsing: bad) }
        }
    }
}

@Suite("Experiments (quick presets on small data)") struct ExperimentTests {
    @Test("zero-init: symmetric inits keep every unit identical; Xavier breaks the symmetry")
    func zeroInit() throws {
        var o = ExperimentOptions()
        o.quick = true; o.steps = 10; o.data = .synthetic; o.threads = 1
        o.out = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-exp-\(UUID().uuidString)").path
        let r = try Experiments.run(.zeroInit, o, log: { _ in })
        #expect(r.checks.count == 4)
        for (claim, ok) in r.checks.prefix(3) { #expect(ok, "\(claim)") }
        let report = try String(contentsOfFile: o.out + "/report.md", encoding: .utf8)
        #expect(FileManager.default.fileExists(atPath: o.out + "/results.json"))
        // --render: the same report again from results.json alone, without training
        try FileManager.default.removeItem(atPath: o.out + "/report.md")
        try FileManager.default.removeItem(atPath: o.out + "/loss.svg")
        let again = try Experiments.render(folder: o.out)
        #expect(try String(contentsOfFile: o.out + "/report.md", encoding: .utf8) == report)
        #expect(FileManager.default.fileExists(atPath: o.out + "/loss.svg"))
        #expect(again.checks.map(\.1) == r.checks.map(\.1) && again.table == r.table)
    }
}

extension ExperimentTests {
    @Test("a diverging variant is recorded as diverged, not fatal, and its results.json has null for the loss")
    func divergedRunRecorded() throws {
        var o = ExperimentOptions()
        o.data = .synthetic; o.threads = 1
        o.out = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-exp-\(UUID().uuidString)").path
        let data = try DataSets.load(.synthetic, dir: nil, seed: o.seed)
        var c = Experiments.settings(o, run: "nan", model: .mlpSigmoid, initializer: .xavierUniform)
        c.loop.maxSteps = 6; c.loop.batchSize = 32; c.loop.logEvery = 1; c.loop.injectNaNAtStep = 3
        let (bad, _) = try Experiments.train("nan", c, data: data, log: { _ in })
        #expect(bad.diverged?.contains("step 4") == true, "\(bad.diverged ?? "nil")")
        #expect(bad.finalLoss.isNaN && bad.testAccuracy == nil && bad.losses.count == 3)
        c = Experiments.settings(o, run: "ok", model: .mlpSigmoid, initializer: .xavierUniform)
        c.loop.maxSteps = 4; c.loop.batchSize = 32
        let (good, _) = try Experiments.train("ok", c, data: data, log: { _ in })
        #expect(good.diverged == nil && good.finalLoss.isFinite)
        _ = try Experiments.finish(.zeroInit, o, results: [bad, good])
        let resultsData = try Data(contentsOf: URL(fileURLWithPath: o.out + "/results.json"))
        let json = try JSONSerialization.jsonObject(with: resultsData) as? [String: Any]
        let runs = json?["runs"] as? [[String: Any]] ?? []
        #expect(runs.count == 2 && runs[0]["finalLoss"] is NSNull && runs[0]["diverged"] is String)
        #expect((runs[1]["finalLoss"] as? Double)?.isFinite == true)
        #expect(try String(contentsOfFile: o.out + "/report.md", encoding: .utf8).contains("diverged at step 4"))
    }
}

@Suite("Experiments on Fashion-MNIST (quick presets)", .serialized) struct PaperDirectionTests {
    static var hasData: Bool {
        FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    }

    func run(_ name: ExperimentName) throws -> ExperimentReport {
        var o = ExperimentOptions()
        o.quick = true; o.threads = 2
        if name == .he30 { o.workers = 2; o.threads = 1 } // data-parallel plain30 scales better on 2 cores
        let folder = "goodinit-\(name)-\(UUID().uuidString)"
        o.out = FileManager.default.temporaryDirectory.appendingPathComponent(folder).path
        return try Experiments.run(name, o, log: { _ in })
    }

    @Test("""
          the papers' robust directions hold: He trains plain30 where Xavier stalls at ln 10; \
          LSUV converges for ReLU and tanh; BN ahead and steadier; Xavier beats N(0,1); RBM beats N(0,0.01); \
          PReLU at least matches ReLU; symmetric inits stay symmetric
          """,
          .enabled(if: hasData, "needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)"),
          arguments: [ExperimentName.he30, .lsuv, .bnMnist, .xavierMLP, .rbm, .prelu, .zeroInit])
    func direction(_ name: ExperimentName) throws {
        let r = try run(name)
        for (claim, ok) in r.checks { #expect(ok, "\(name): \(claim)") }
    }
}
