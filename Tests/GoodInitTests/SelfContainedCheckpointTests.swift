// The built executable with only a checkpoint (issue 27): resume a model-file run from another
// folder with the model file gone, bit for bit; eval, predict and export from the checkpoint alone;
// flags and model files that contradict the checkpoint refused in one line.
import Foundation
@testable import GoodInit
import Testing

@Suite("The goodinit executable: self-contained checkpoints", .serialized,
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct SelfContainedCheckpointTests {
    static let model = "name: small\ninput: [1, 28, 28]\nlayers:\n  - conv: {out: 4}\n  - relu\n"
        + "  - maxpool: {window: 2}\n  - flatten\n  - linear: {out: 10}\n"

    /// Runs the binary in `folder`; both outputs.
    func run(_ arguments: [String], in folder: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try GoodInitBinary.capture(arguments, in: folder)
    }

    func train(_ out: String, steps: Int, in folder: String) -> [String] {
        ["train", "--data", "synthetic", "--model-file", "small.yaml", "--init", "he-normal", "--train-limit", "128",
         "--test-limit", "32", "--batch-size", "32", "--epochs", "3", "--steps", "\(steps)", "--threads", "1",
         "--out", out]
    }

    // eval, predict and export then run from that folder with only the checkpoint
    @Test("--resume C alone continues a model-file run bit for bit from another folder, the model file deleted")
    func resumeBitForBit() throws {
        let a = scratchFolder("selfA"), b = scratchFolder("selfB")
        try Self.model.write(toFile: a + "/small.yaml", atomically: true, encoding: .utf8)
        let full = try run(train("full", steps: 10, in: a), in: a)
        #expect(full.status == 0, "\(full.stderr)")
        let half = try run(train("half", steps: 5, in: a), in: a)
        #expect(half.status == 0, "\(half.stderr)")
        try FileManager.default.removeItem(atPath: a + "/small.yaml")
        let checkpoint = a + "/half/checkpoint.safetensors"
        let resumed = try run(["train", "--resume", checkpoint, "--steps", "10", "--threads", "1"], in: b)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let (x, mx) = try Safetensors.read(a + "/full/checkpoint.safetensors")
        let (y, my) = try Safetensors.read(checkpoint)
        #expect(mx["step"] == "10" && my["step"] == "10")
        #expect(x.map(\.name) == y.map(\.name))
        for (s, t) in zip(x, y) {
            #expect(s.values.map(\.bitPattern) == t.values.map(\.bitPattern), "\(s.name) differs")
        }
        #expect(try CheckpointMetadata.read(checkpoint).config.initialization.initializer == .heNormal(fanOut: false))

        let eval = try run(["eval", "--checkpoint", checkpoint, "--threads", "1"], in: b)
        #expect(eval.status == 0 && eval.stdout.contains("accuracy"), "\(eval.stderr)")
        let predict = try run(["predict", "--checkpoint", checkpoint, "--test-index", "0..2", "--json"], in: b)
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = predict.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect((o?["file"] as? String)?.hasPrefix("synthetic test[") == true)
            #expect((o?["top"] as? [[String: Any]])?.count == 3 && (o?["logits"] as? [Double])?.count == 10, "\(line)")
        }
        let text = try run(["predict", "--checkpoint", checkpoint, "--test-index", "4", "--top", "2"], in: b)
        #expect(text.status == 0 && text.stdout.hasPrefix("synthetic test[4]: "), "\(text.stdout)\(text.stderr)")
        let export = try run(["export", "--checkpoint", checkpoint, "--onnx", "m.onnx"], in: b)
        #expect(export.status == 0 && FileManager.default.fileExists(atPath: b + "/m.onnx"), "\(export.stderr)")
    }

    @Test("a flag that contradicts the checkpoint, or another network's model file, is one line and exit 1")
    func contradictions() throws {
        let a = scratchFolder("selfC")
        try Self.model.write(toFile: a + "/small.yaml", atomically: true, encoding: .utf8)
        #expect(try run(train("run", steps: 2, in: a), in: a).status == 0)
        let checkpoint = a + "/run/checkpoint.safetensors"
        let lr = try run(["train", "--resume", checkpoint, "--lr", "0.5", "--threads", "1"], in: a)
        #expect(lr.status == 1 && lr.stderr.hasPrefix("Error: --lr 0.5 contradicts ")
                && lr.stderr.split(separator: "\n").count == 1, "\(lr.stderr)")
        // an explicit --init at its default value still contradicts the stored he-normal
        let initFlag = try run(["train", "--resume", checkpoint, "--init", "lsuv", "--threads", "1"], in: a)
        #expect(initFlag.status == 1 && initFlag.stderr.hasPrefix("Error: --init lsuv contradicts "),
                "\(initFlag.stderr)")
        try Self.model.replacingOccurrences(of: "relu", with: "tanh")
            .write(toFile: a + "/tanh.yaml", atomically: true, encoding: .utf8)
        for command in [["eval", "--checkpoint", checkpoint], ["train", "--resume", checkpoint, "--steps", "3"]] {
            let r = try run(command + ["--model-file", "tanh.yaml", "--threads", "1"], in: a)
            #expect(r.status == 1 && r.stderr.contains("'relu") && r.stderr.contains("'tanh")
                    && r.stderr.split(separator: "\n").count == 1, "\(command): \(r.stderr)")
        }
        let anyway = try run(["eval", "--checkpoint", checkpoint, "--model-file", "tanh.yaml", "--weights-only",
                              "--threads", "1"], in: a)
        #expect(anyway.status == 0, "\(anyway.stderr)")
    }

    @Test("a checkpoint written before the network record: eval says what is missing, or takes --model-file")
    func oldCheckpoint() throws {
        let a = scratchFolder("selfOld"), b = scratchFolder("selfOldB")
        try Self.model.write(toFile: a + "/small.yaml", atomically: true, encoding: .utf8)
        #expect(try run(train("run", steps: 2, in: a), in: a).status == 0)
        let checkpoint = a + "/run/checkpoint.safetensors"
        let (tensors, stored) = try Safetensors.read(checkpoint)
        var meta = stored
        meta["network"] = nil
        try Safetensors.write(tensors, metadata: meta, to: checkpoint)
        let missing = try run(["eval", "--checkpoint", checkpoint, "--threads", "1"], in: b)
        #expect(missing.status == 1 && missing.stderr.contains("written before checkpoints held their network"),
                "\(missing.stderr)")
        let given = try run(["eval", "--checkpoint", checkpoint, "--model-file", a + "/small.yaml", "--threads", "1"],
                            in: b)
        #expect(given.status == 0, "\(given.stderr)")
    }
}
