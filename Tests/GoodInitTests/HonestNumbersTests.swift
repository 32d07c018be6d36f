// Numbers that say what they mean: one final training loss in summary.json, metrics.jsonl, the
// terminal and experiment results; benchmarks that warn on a busy machine; init-stats --json.
import Foundation
@testable import GoodInit
import Testing

@Suite("One final training loss") struct FinalLossTests {
    @Test("summary.json, the last epoch record of metrics.jsonl and an experiment's result hold the same figure")
    func oneDefinition() throws {
        let folder = scratchFolder("loss")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var c = TrainSettings()
        c.model = .preset(.mlpXavier, activation: .relu); c.data = DataOptions(source: .synthetic)
        c.data.trainLimit = 96; c.data.testLimit = 32
        c.loop.batchSize = 32; c.loop.chunk = 16; c.loop.epochs = 2; c.loop.maxSteps = 5; c.loop.logEvery = 1
        c.out = folder + "/run"
        let loop = try TrainingLoop(c)
        loop.log = { _ in }
        let s = try loop.run()
        let lines = try String(contentsOfFile: c.out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONDecoder().decode(TrainingRecord.self, from: Data($0.utf8)) }
        let epochs = records.compactMap { if case .epoch(let e) = $0 { e } else { nil } }
        let steps = records.compactMap { if case .step(let r) = $0 { r } else { nil } }
        // 3 steps in epoch 1, 2 in the second (stopped at --steps): its mean over its 64 samples
        #expect(epochs.map(\.step) == [3, 5] && epochs.map(\.epochs) == [1, 5.0 / 3])
        let last = try #require(epochs.last)
        let mean = steps.suffix(2).map(\.loss).reduce(0, +) / 2
        #expect(abs(last.trainLoss - mean) <= 1e-12 * mean, "\(last.trainLoss) vs \(mean)")
        #expect(s.finalTrainLoss == last.trainLoss && s.finalTrainLoss != steps.last!.loss)
        let stored = try JSONDecoder().decode(TrainSummary.self,
                                              from: Data(contentsOf: URL(fileURLWithPath: c.out + "/summary.json")))
        #expect(stored.finalTrainLoss == s.finalTrainLoss)
        #expect((stored.trainImagesPerSecond ?? 0) >= stored.imagesPerSecond, "\(stored)")
        var e = c
        e.out = folder + "/experiment"
        // experiments take the data as loaded (loop.data is normalized already)
        let raw = try DataSets.load(c.data, seed: c.loop.seed)
        let (r, _) = try Experiments.train("run", e, data: raw, log: { _ in })
        #expect(r.finalLoss == s.finalTrainLoss && r.finalLossDefinition == .lastEpochMean,
                "\(r.finalLoss) vs \(s.finalTrainLoss), \(r.steps) steps")
    }

    @Test("a report says its loss criterion only for results that record the new definition")
    func criterionSentence() throws {
        var r = RunResult(name: "a", folder: "a", records: RecordLog())
        #expect(r.finalLossDefinition == .lastEpochMean)
        let coded = try JSONDecoder().decode(RunResult.self, from: JSONEncoder().encode(r))
        #expect(coded.finalLossDefinition == .lastEpochMean)
        r.finalLossDefinition = nil
        let old = try JSONDecoder().decode(RunResult.self, from: JSONEncoder().encode(r))
        #expect(old.finalLossDefinition == nil)
    }
}

@Suite("Benchmarks that warn and init-stats --json",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct BenchWarningTests {
    @Test("bench train on a machine kept busy (one spinning thread per core, at most 60 s) warns, and says contended")
    func busyMachine() throws {
        // Spinning threads in this process, not child processes: a child started from a test's
        // worker thread inherits its blocked signals (SIGTERM included) and this process's stdout,
        // so a leftover spinner outlived the run and held `swift test`'s output pipe open.
        let busy = Spinners(count: ProcessInfo.processInfo.activeProcessorCount, seconds: 60)
        defer { busy.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        let r = try GoodInitBinary.capture(["bench", "train", "--model", "mlp-sigmoid", "--batch-size", "32",
                                            "--chunk", "32", "--threads", "1", "--workers", "1", "--steps", "3",
                                            "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: the machine was busy, these figures cannot be trusted"), "\(r.stderr)")
        let machine = try #require(r.stdout.split(separator: "\n").last)
        #expect(machine.contains("\"type\":\"machine\"") && machine.contains("\"contended\":true"), "\(machine)")
    }

    @Test("bench train with W × T above the cores runs and warns")
    func oversubscribed() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let r = try GoodInitBinary.capture(["bench", "train", "--model", "mlp-sigmoid", "--batch-size", "32",
                                            "--chunk", "16", "--threads", "\(cores)", "--workers", "2", "--steps", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: W × T = \(2 * cores) threads on \(cores) cores"), "\(r.stderr)")
    }

    @Test("init-stats --json: a run line, then one line per layer; --model-file works")
    func initStatsJSON() throws {
        let folder = scratchFolder("initstats")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/net.yaml"
        try """
        name: tiny
        input: [1, 28, 28]
        layers:
          - conv: {out: 4}
          - relu
          - residual: {shortcut: pad, layers: [{conv: {out: 8, stride: 2}}, bn]}
          - gap
          - linear: {out: 10}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try GoodInitBinary.capture(["init-stats", "--data", "synthetic", "--model-file", file,
                                            "--batch-size", "16", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        struct Line: Decodable { var type: String; var model: String?; var layer: String? }
        let decoded = try lines.map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        #expect(decoded.first?.type == "run" && decoded.first?.model == "tiny")
        #expect(decoded.dropFirst().map { $0.layer ?? "" } == ["conv1", "relu1", "conv2", "batchnorm1", "linear1"],
                "\(lines)")
        let both = try GoodInitBinary.capture(["init-stats", "--model", "plain30", "--model-file", file])
        #expect(both.status == 64 && both.stderr.contains("--model and --model-file"), "\(both.stderr)")
    }
}

/// Threads that burn a core each until stopped or until their deadline passes.
final class Spinners: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    init(count: Int, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        for _ in 0..<count {
            Thread.detachNewThread { [self] in
                var x = 0.0
                while Date() < deadline && !isStopped {
                    for i in 0..<10_000 { x += Double(i) }
                }
                if x < 0 { print(x) }  // keeps the loop from being optimized away
            }
        }
    }
    var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func stop() { lock.lock(); stopped = true; lock.unlock() }
}
