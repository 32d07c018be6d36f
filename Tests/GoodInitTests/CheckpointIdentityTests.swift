// Self-contained checkpoints (issue 27) and checkpoints that fit another net (issue 31): the network
// record, the identity check and --weights-only, the range checks on stored counters, non-finite
// weights, resume settings taken from the checkpoint, and the diverged run's pointer.
import Foundation
@testable import GoodInit
import Testing

@Suite("Checkpoints: self-contained, of one network, checked counters") struct CheckpointIdentityTests {
    static func model(_ activation: String, pool: String = "maxpool") -> String {
        """
        name: small
        input: [1, 28, 28]
        layers:
          - conv: {out: 4}
          - \(activation)
          - \(pool): {window: 2}
          - flatten
          - linear: {out: 10}
        """
    }

    /// A model-file run on synthetic data: its folder (with small.yaml) and settings.
    func run(_ text: String = model("relu"), steps: Int = 2) throws -> (folder: String, settings: TrainSettings) {
        let out = scratchFolder("ident")
        try text.write(toFile: out + "/small.yaml", atomically: true, encoding: .utf8)
        var c = TrainSettings()
        c.model = .file(out + "/small.yaml"); c.initialization = InitOptions(.heNormal(fanOut: false))
        c.data = DataOptions(source: .synthetic); c.data.trainLimit = 128; c.data.testLimit = 32
        c.loop.batchSize = 32; c.loop.chunk = 32; c.loop.epochs = 1; c.loop.maxSteps = steps
        c.compute = ComputeOptions(threads: 1); c.out = out
        let t = try TrainingLoop(c)
        t.log = { _ in }
        _ = try t.run()
        return (out, c)
    }

    func network(_ text: String) throws -> Network {
        let m = try ModelFile.parse(text, file: "m.yaml")
        return try Network(name: m.name, input: m.input, layers: m.layers)
    }

    @Test("the checkpoint holds the model text, input shape, class names, normalization and identity")
    func record() throws {
        let (out, _) = try run()
        let meta = try CheckpointMetadata.read(out + "/checkpoint.safetensors")
        let n = try #require(meta.network)
        #expect(n.modelText == Self.model("relu") && n.input == [1, 28, 28])
        #expect(n.classNames == (0..<10).map(String.init) && n.mean.count == 1 && n.std[0] > 0)
        #expect(n.identity == NetworkIdentity(try network(Self.model("relu"))))
        #expect(n.identity.layers[2].hasPrefix("relu") && n.identity.layers[3].hasPrefix("maxpool window=2"))
    }

    @Test("another activation or pooling, same parameter shapes: refused naming the layer; --weights-only loads",
          arguments: [("tanh", "maxpool", "relu", "tanh"),
                                                  ("relu", "avgpool", "maxpool", "avgpool")])
    func otherNetwork(_ activation: String, _ pool: String, _ was: String, _ now: String) throws {
        let (out, _) = try run()
        let path = out + "/checkpoint.safetensors"
        let other = try network(Self.model(activation, pool: pool))
        let before = other.params.values.array
        let message = refusal("\(activation)/\(pool)") { try Checkpoint.load(path, into: other, optimizer: nil) }
        #expect(message.hasPrefix(path) && message.contains("'\(was)") && message.contains("'\(now)")
                && message.contains("--weights-only"), "\(message)")
        #expect(other.params.values.array == before)
        try Checkpoint.load(path, into: other, optimizer: nil, weightsOnly: true)
        #expect(other.params.values.array != before)
        // the same network from an edited file (a comment) still loads
        try Checkpoint.load(path, into: network(Self.model("relu") + "\n# note"), optimizer: nil)
    }

    /// The run's checkpoint with its metadata (or tensors) edited.
    func forged(_ edit: (inout [String: String], inout [NamedArray]) -> Void) throws -> String {
        let (out, _) = try run()
        let path = out + "/checkpoint.safetensors"
        var (tensors, meta) = try Safetensors.read(path)
        edit(&meta, &tensors)
        try Safetensors.write(tensors, metadata: meta, to: path)
        return path
    }

    @Test("stored counters out of range or inconsistent are refused naming the key", arguments: [
        ("step", "9223372036854775807"), ("epoch", "5"), ("optimizer_steps", "3"), ("epoch_correct", "65"),
        ("epoch_seen", "96"), ("epoch_loss_sum", "1.25e306"), ("epoch_loss_sum", "-1"),
    ])
    func counters(_ key: String, _ value: String) throws {
        // 2 steps of a 4-batch epoch: step 2, batch 2, 64 samples seen
        let path = try forged { m, _ in m[key] = value }
        let message = refusal("\(key) \(value)") { _ = try CheckpointMetadata.read(path) }
        #expect(message.hasPrefix(path) && message.contains("'\(key)'"), "\(message)")
    }

    @Test("a run's own consistent counters load")
    func countersAccepted() throws {
        let (out, _) = try run(steps: 2)
        let p = try CheckpointMetadata.read(out + "/checkpoint.safetensors").position
        #expect(p.step == 2 && p.batchInEpoch == 2 && p.epochSeen == 64 && p.epochCorrect <= 64)
    }

    @Test("a non-finite weight is refused naming the tensor")
    func nonFinite() throws {
        let path = try forged { _, t in
            if let i = t.firstIndex(where: { $0.name == "linear1.weight" }) { t[i].values[3] = .infinity }
        }
        let net = try network(Self.model("relu"))
        let message = refusal("inf") { try Checkpoint.load(path, into: net, optimizer: nil) }
        #expect(message.contains("'linear1.weight'") && message.contains("inf"), "\(message)")
    }

    @Test("a checkpoint without the network record still loads; predict says what is missing")
    func oldCheckpoint() throws {
        let path = try forged { m, _ in m["network"] = nil }
        try Checkpoint.load(path, into: network(Self.model("tanh")), optimizer: nil) // nothing to check against
        let message = refusal("predict") { _ = try Predictor(checkpoint: path) }
        #expect(message.contains("written before checkpoints held their network"), "\(message)")
    }

    @Test("the network is rebuilt from the stored text: the model file may be gone")
    func modelFileGone() throws {
        let (out, _) = try run()
        try FileManager.default.removeItem(atPath: out + "/small.yaml")
        let p = try Predictor(checkpoint: out + "/checkpoint.safetensors")
        let logits = try p.logits([Float](repeating: 0.5, count: 2 * 784))
        #expect(logits.count == 2 && logits[0].count == 10 && logits[0] == logits[1])
        #expect(p.top(logits[0], k: 3).count == 3)
    }

    @Test("resume settings: the stored ones; flags that may change are taken, contradicting ones refused")
    func resumeSettings() throws {
        var stored = TrainSettings()
        stored.initialization = InitOptions(.orthogonal(gain: 1)); stored.model = .file("/gone/small.yaml")
        stored.data = DataOptions(source: .synthetic); stored.optimizer.lr = 0.01; stored.loop.maxSteps = 5
        var flags = TrainSettings() // nothing given: lsuv, cnn-small, fashion-mnist at their defaults
        flags.loop.maxSteps = 10; flags.compute.threads = 2
        let given: Set = ["loop.maxSteps"]
        let s = try TrainSettings.resumed(stored: stored, flags: flags, checkpoint: "runs/a/checkpoint.safetensors",
                                          modelGiven: false, given: { given.contains($0) })
        #expect(s.initialization.initializer == .orthogonal(gain: 1), "the stored initializer is not rewritten to lsuv")
        #expect(s.model == stored.model && s.data.source == .synthetic && s.optimizer.lr == 0.01)
        #expect(s.loop.maxSteps == 10 && s.compute.threads == 2 && s.out == "runs/a")
        flags.loop.maxSteps = nil
        let budget = try TrainSettings.resumed(stored: stored, flags: flags, checkpoint: "c", modelGiven: false,
                                               given: { _ in false })
        #expect(budget.loop.maxSteps == nil && budget.out == ".", "--steps is the invocation's, not restored")
        flags.optimizer.lr = 0.5
        let message = refusal("--lr 0.5") {
            _ = try TrainSettings.resumed(stored: stored, flags: flags, checkpoint: "c", modelGiven: false,
                                          given: { $0 == "optimizer.lr" })
        }
        #expect(message.hasPrefix("optimizer.lr 0.5 contradicts c, trained with 0.01"), "\(message)")
        flags.optimizer.lr = 0.01 // given, and agreeing
        #expect(throws: Never.self) {
            try TrainSettings.resumed(stored: stored, flags: flags, checkpoint: "c", modelGiven: false,
                                      given: { $0 == "optimizer.lr" })
        }
    }

    @Test("a diverged run does not point to a checkpoint it did not write")
    func divergedPointer() throws {
        let (out, c) = try run(Self.model("tanh"))
        var s = c
        s.model = .preset(.cnnSmall); s.loop.injectNaNAtStep = 0 // as TrainTests.nanStops
        let t = try TrainingLoop(s)
        t.log = { _ in }
        do {
            _ = try t.run()
            Issue.record("the poisoned run did not diverge")
        } catch let e as DivergenceError {
            #expect(e.checkpoint == nil, "points to \(e.checkpoint ?? "")")
        }
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
    }
}
