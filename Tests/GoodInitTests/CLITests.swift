// The shipped commands end to end through the built `goodinit` binary: training gives the same
// records for any thread and worker count; a run stopped and resumed equals one run; eval reports
// what training reported; models, init-stats and experiment print what they compute.
import Foundation
@testable import GoodInit
import Testing

/// cnn-small on 64 synthetic samples, batch 32 in chunks of 8: 2 steps an epoch, and layers large
/// enough that every conv's GEMM forks an OpenMP team (ThreadedDeterminismTests checks these sizes).
func trainArguments(_ out: String, _ extra: [String] = []) -> [String] {
    ["train", "--data", "synthetic", "--model", "cnn-small", "--init", "he-normal", "--train-limit", "64",
     "--test-limit", "32", "--batch-size", "32", "--chunk", "8", "--epochs", "2", "--lr", "0.01",
     "--log-every", "1", "--augment", "--seed", "3", "--out", out] + extra
}

/// Runs `goodinit train`, expecting success.
func train(_ out: String, _ extra: [String] = []) throws {
    let (status, stderr) = try GoodInitBinary.run(trainArguments(out, extra))
    #expect(status == 0, "train \(extra): \(stderr)")
}

/// metrics.jsonl's records, each re-serialized without the fields that measure time.
func recordsWithoutTiming(_ out: String) throws -> [String] {
    let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        guard var record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DataError(file: out + "/metrics.jsonl", problem: "a line that is not a JSON object")
        }
        record["images_per_second"] = nil; record["seconds"] = nil
        let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        return String(decoding: json, as: UTF8.self)
    }
}

/// The tensor bytes of a checkpoint (weights, optimizer state, BN statistics), after the header
/// whose metadata names the run's own flags.
func checkpointTensors(_ out: String) throws -> Data {
    let file = try Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))
    let headerLength = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    return file.dropFirst(8 + headerLength)
}

/// Run folders hold checkpoints of several MB: not left behind in the temporary folder.
func remove(_ folders: String...) {
    for f in folders { try? FileManager.default.removeItem(atPath: f) }
}

func summary(_ out: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Suite("goodinit train, eval, resume end to end",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct TrainCommandTests {
    @Test("--threads 1, --threads 2, --workers 2: the same metrics.jsonl (but timing) and checkpoint")
    func threadsAndWorkers() throws {
        let one = scratchFolder("t1"), two = scratchFolder("t2"), workers = scratchFolder("w2")
        defer { remove(one, two, workers) }
        try train(one, ["--threads", "1"])
        try train(two, ["--threads", "2"])
        try train(workers, ["--workers", "2", "--threads", "1"])
        let ref = try recordsWithoutTiming(one)
        #expect(ref.count == 6 && ref.filter { $0.contains("\"type\":\"step\"") }.count == 4, "\(ref)")
        #expect(try recordsWithoutTiming(two) == ref)
        let w2 = try recordsWithoutTiming(workers)
        // evaluation runs each batch as one chunk on all W·T threads: test_loss too is the same bits
        #expect(w2 == ref)
        let tensors = try checkpointTensors(one)
        #expect(tensors.count > 4 * 870_000) // the weights at least
        #expect(try checkpointTensors(two) == tensors)
        #expect(try checkpointTensors(workers) == tensors)
    }

    @Test("4 steps in one run ≡ 2 steps, then --resume to 4 (at an epoch's end): same records, checkpoint, eval")
    func resumeAtEpochEnd() throws {
        let whole = scratchFolder("whole"), part = scratchFolder("part")
        defer { remove(whole, part) }
        try train(whole)
        try train(part, ["--steps", "2"])
        #expect(try recordsWithoutTiming(part).count == 3) // two steps and the first epoch
        try train(part, ["--resume", part + "/checkpoint.safetensors"])
        #expect(try recordsWithoutTiming(part) == recordsWithoutTiming(whole))
        #expect(try checkpointTensors(part) == checkpointTensors(whole))
        #expect(try summary(part)["steps"] as? Int == 4)
        let a = try GoodInitBinary.capture(["eval", "--checkpoint", whole + "/checkpoint.safetensors"])
        let b = try GoodInitBinary.capture(["eval", "--checkpoint", part + "/checkpoint.safetensors"])
        #expect(a.status == 0 && !a.stdout.isEmpty && a.stdout == b.stdout, "\(a.stdout) vs \(b.stdout)")
    }

    @Test("3 steps, then --resume mid-epoch to 4: the same step records, test metrics and checkpoint")
    func resumeMidEpoch() throws {
        let whole = scratchFolder("whole"), part = scratchFolder("mid")
        defer { remove(whole, part) }
        try train(whole)
        try train(part, ["--steps", "3"])
        try train(part, ["--resume", part + "/checkpoint.safetensors"])
        let steps = { (out: String) throws -> [String] in
            try recordsWithoutTiming(out).filter { $0.contains("\"type\":\"step\"") }
        }
        #expect(try steps(part).count == 4)
        #expect(try steps(part) == steps(whole))
        #expect(try checkpointTensors(part) == checkpointTensors(whole))
        let (s, w) = (try summary(part), try summary(whole))
        #expect(s["testAccuracy"] as? Double == w["testAccuracy"] as? Double && s["testAccuracy"] is Double)
        #expect(s["testLoss"] as? Double == w["testLoss"] as? Double && s["testLoss"] is Double)
    }

    @Test("eval prints the test accuracy and loss summary.json reports, for any W and T")
    func evalMatchesTraining() throws {
        let out = scratchFolder("eval")
        defer { remove(out) }
        try train(out)
        let s = try summary(out)
        let accuracy = try #require(s["testAccuracy"] as? Double), loss = try #require(s["testLoss"] as? Double)
        let expected = String(format: "cnn-small on synthetic test (32 samples): accuracy %.4f, loss %.4f\n",
                              accuracy, loss)
        for compute in [["--threads", "1"], ["--threads", "2"], ["--workers", "2", "--threads", "1"]] {
            let r = try GoodInitBinary.capture(["eval", "--checkpoint", out + "/checkpoint.safetensors"] + compute)
            #expect(r.status == 0 && r.stdout == expected, "\(compute): \(r.stdout) \(r.stderr)")
        }
    }
}

@Suite("goodinit models, init-stats, experiment",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct OtherCommandTests {
    @Test("models: one row per preset with its parameter count; --show lists the layers")
    func models() throws {
        let r = try GoodInitBinary.capture(["models"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ") }
        #expect(rows.map { String($0[0]) } == ModelPreset.allCases.map(\.rawValue))
        for row in rows {
            guard let preset = ModelPreset(rawValue: String(row[0])) else { continue }
            #expect(Int(row[2]) == (try Presets.network(preset).parameterCount), "\(row)")
        }
        let show = try GoodInitBinary.capture(["models", "--show", "resnet-small"])
        let net = try Presets.network(.resnetSmall)
        #expect(show.status == 0 && net.ops.allSatisfy { show.stdout.contains($0.name) }, "\(show.stdout)")
    }

    @Test("init-stats: a row per conv, BN and activation; BN outputs have mean 0 and variance 1")
    func initStats() throws {
        let r = try GoodInitBinary.capture(["init-stats", "--data", "synthetic", "--model", "resnet-small",
                                            "--batch-size", "16", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("resnet-small, init he-normal, batch 16: loss ") == true, "\(r.stdout)")
        let rows = lines.dropFirst(2).map { $0.split(separator: " ") }
        #expect(rows.count == 16, "\(r.stdout)") // 5 conv, 5 BN, 5 ReLU, 1 linear
        let bn = rows.filter { $0[0].hasPrefix("batchnorm") }
        #expect(bn.count == 5)
        for row in bn {
            // columns: name, shape ("[16," "28," "28]"), mean, variance, gradient variance
            let mean = try #require(Double(row[row.count - 3])), variance = try #require(Double(row[row.count - 2]))
            #expect(abs(mean) < 1e-4 && abs(variance - 1) < 1e-3, "\(row)")
        }
    }

    @Test("experiment zero-init --quick: 2 seeds by default; the seed table, the four claims, report.md, results.json")
    func experiment() throws {
        let out = scratchFolder("experiment")
        defer { remove(out) }
        let r = try GoodInitBinary.capture(["experiment", "zero-init", "--quick", "--steps", "3", "--data",
                                            "synthetic", "--threads", "1", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        for run in ["zeros", "constant:0.05", "xavier-uniform"] {
            #expect(r.stdout.contains("| \(run) | ") && r.stdout.contains("/2 |"), "\(r.stdout)")
        }
        let claims = r.stdout.split(separator: "\n").filter { $0.hasPrefix("✔") || $0.hasPrefix("✘") }
        #expect(claims.count == 4 && claims.prefix(3).allSatisfy { $0.hasPrefix("✔") }, "\(claims)")
        let json = try Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))
        let results = try JSONSerialization.jsonObject(with: json)
        #expect(((results as? [String: Any])?["runs"] as? [Any])?.count == 6)
        #expect(try String(contentsOfFile: out + "/report.md", encoding: .utf8).contains("xavier-uniform"))
    }
}
