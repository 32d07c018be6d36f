// Every input class that once crashed the program, or was wrongly accepted (issue 14), as one
// small case each: the library must refuse it with a message naming the file or flag.
import Foundation
@testable import GoodInit
import Testing

/// Runs `body` and returns the description of what it threw; records an issue when it does not throw.
func refusal(_ what: String, _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("\(what) was accepted")
        return ""
    } catch {
        return "\(error)"
    }
}

func scratchFolder(_ tag: String) -> String {
    let p = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-\(tag)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

@Suite("Model files and networks at the edge") struct ModelEdgeTests {
    static let head = "name: t\ninput: [1, 28, 28]\nlayers:\n"
    static let tail = "  - flatten\n  - linear: {out: 10}\n"

    func build(_ layers: String) throws {
        let m = try ModelFile.parse(Self.head + layers + Self.tail, file: "net.yaml")
        _ = try Network(name: m.name, input: m.input, layers: m.layers)
    }

    @Test("zero or negative sizes, zero strides and windows, bad dropout and slopes are refused by key path",
          arguments: [
            ("  - conv: {out: 4, stride: 0}\n", "layers[0].conv.stride"),
            ("  - conv: {out: 0}\n", "layers[0].conv.out"),
            ("  - conv: {out: 4, padding: -1}\n", "layers[0].conv.padding"),
            ("  - conv: {out: 9223372036854775807}\n", "layers[0].conv.out"),
            ("  - maxpool: {window: 0}\n", "layers[0].maxpool.window"),
            ("  - avgpool: {window: 2, stride: 0}\n", "layers[0].avgpool.stride"),
            ("  - maxout: {pieces: 0}\n", "layers[0].maxout.pieces"),
            ("  - dropout: {p: 1.5}\n", "layers[0].dropout.p"),
            ("  - leaky_relu: {slope: .nan}\n", "layers[0].leaky_relu.slope"),
            ("  - conv: {out: 4, kernel: \"3\"}\n", "layers[0].conv.kernel"),
          ])
    func badValues(_ layers: String, _ key: String) {
        let message = refusal(key) { try build(layers) }
        #expect(message.contains("net.yaml") && message.contains(key), "\(message)")
    }

    @Test("every layer kind refuses an option it does not take, naming the file, the layer, the key and what it takes",
          arguments: ModelFile.layerOptions.keys.sorted())
    func unknownOption(_ kind: String) {
        let text = Self.head + "  - relu\n  - \(kind): {nonsense: 1}\n" + Self.tail
        let message = refusal(kind) { _ = try ModelFile.parse(text, file: "net.yaml") }
        let options = ModelFile.layerOptions[kind] ?? []
        let accepted = options.isEmpty ? "\(kind) takes no options" : "allowed: " + options.joined(separator: ", ")
        #expect(message == "net.yaml: layers[1].\(kind).nonsense: unknown key (\(accepted))", "\(message)")
    }

    @Test("every layer kind the option table lists is one the parser builds, with its options or none",
          arguments: ModelFile.layerOptions.keys.sorted())
    func everyKindParses(_ kind: String) throws {
        let options = ModelFile.layerOptions[kind] ?? []
        for item in options.contains("out") ? ["\(kind): {out: 4}"] : [kind, "\(kind): {}"] {
            let m = try ModelFile.parse(Self.head + "  - \(item)\n" + Self.tail, file: "net.yaml")
            #expect(m.layers.count == 3, "\(item)")
        }
    }

    @Test("a model file's network that does not fit is refused naming the file, when built and when sized for training")
    func shapeErrorsNameTheFile() throws {
        let folder = scratchFolder("shape")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/net.yaml"
        func error(_ layers: String, batch: Int) throws -> ShapeError {
            try (Self.head + layers).write(toFile: path, atomically: true, encoding: .utf8)
            var c = TrainSettings()
            c.model = .file(path); c.data = DataOptions(source: .synthetic); c.loop.batchSize = batch
            return try #require(throws: ShapeError.self) { _ = try TrainingLoop(c) }
        }
        let window = try error("  - maxpool: {window: 30}\n" + Self.tail, batch: 32)
        #expect(window.file == path && "\(window)".hasPrefix(path + ": ")
                && "\(window)".contains("larger than the input"), "\(window)")
        // 65,536 channels of 28×28 at batch 1,024: about 420 GB of activations
        let memory = try error("  - conv: {out: 65536}\n  - gap\n  - linear: {out: 10}\n", batch: 1024)
        #expect(memory.file == path && "\(memory)".hasPrefix(path + ": ")
                && "\(memory)".contains("this machine has"), "\(memory)")
    }

    @Test("a window larger than its input is refused naming the layer, also when integer division would round it in",
          arguments: ["  - maxpool: {window: 30}\n", "  - maxpool: {window: 29, stride: 29}\n",
                      "  - conv: {out: 4, kernel: 31, padding: 0}\n"])
    func windowFits(_ layers: String) {
        let message = refusal(layers) { try build(layers) }
        #expect(message.contains("larger than the input"), "\(message)")
    }

    @Test("the same value checks apply to networks built in code (presets)")
    func specChecks() {
        let message = refusal("stride 0") {
            _ = try Network(name: "n", input: [1, 8, 8], layers: [.conv(out: 4, stride: 0), .flatten, .linear(out: 2)])
        }
        #expect(message.contains("stride"), "\(message)")
    }

    @Test("sizes whose products overflow Int or exceed the machine's memory are refused, naming the layer")
    func tooLarge() {
        let overflow = refusal("1M × 1M channels") {
            try build("  - conv: {out: 1000000}\n  - conv: {out: 1000000}\n")
        }
        #expect(overflow.contains("conv2") && overflow.contains("too many elements"), "\(overflow)")
        // 5·10⁹ outputs × 10 classes: fits in Int, not in memory
        let memory = refusal("a 460 GB linear layer") { try build("  - conv: {out: 100000, padding: 100}\n") }
        #expect(memory.contains("linear1.weight") && memory.contains("GB"), "\(memory)")
    }

    @Test("the training memory estimate names the largest part and refuses what does not fit")
    func trainingMemory() throws {
        let net = try Network(name: "wide", input: [1, 28, 28], layers: [.conv(out: 4096), .flatten, .linear(out: 10)])
        let fits = net.estimatedTrainingBytes(batch: 1, chunk: 1, optimizerStates: 1)
        #expect(fits.bytes < NetworkLimits.physicalMemory)
        let message = refusal("batch 1M") { try net.checkMemory(batch: 1_000_000, chunk: 128, optimizerStates: 1) }
        #expect(message.contains("conv1's output") && message.contains("this machine has"), "\(message)")
    }

    @Test("nesting too deep for the parser's stack is refused before parsing: block, flow and dash nesting")
    func nesting() {
        var block = Self.head, indent = "  "
        for _ in 0..<300 { block += indent + "- residual:\n"; indent += "  " }
        block += indent + "- relu\n" + Self.tail
        let flow = Self.head + "  - " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        let dashes = Self.head + "  " + String(repeating: "- ", count: 5000) + "relu\n"
        for (name, text) in [("block", block), ("flow", flow), ("dashes", dashes)] {
            let message = refusal(name) { _ = try ModelFile.parse(text, file: "deep.yaml") }
            #expect(message.contains("nested deeper than"), "\(name): \(message)")
        }
    }

    @Test("residual blocks nested past the network's limit are refused")
    func residualDepth() {
        var spec: [LayerSpec] = [.relu]
        for _ in 0..<(NetworkLimits.nesting + 2) { spec = [.residual(spec)] }
        let message = refusal("deep residuals") {
            _ = try Network(name: "n", input: [4], layers: spec + [.linear(out: 2)])
        }
        #expect(message.contains("nested deeper"), "\(message)")
    }

    @Test("YAML anchors and aliases (the alias bomb) are refused before expansion; plain text with * or & is not")
    func aliases() throws {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n", previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i", "j"] {
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
            previous = name
        }
        let message = refusal("alias bomb") { _ = try ModelFile.parse(bomb + Self.head + Self.tail, file: "bomb.yaml") }
        #expect(message.contains("aliases") && message.contains("line 1"), "\(message)")
        let text = "name: a*b&c # not *an alias\ninput: [1, 28, 28]\nlayers:\n" + Self.tail
        let m = try ModelFile.parse(text, file: "ok.yaml")
        #expect(m.name == "a*b&c")
    }

    @Test("a mapping used as a mapping key (a Yams trap the fuzzer found) is refused with its line")
    func nonScalarKey() {
        for text in ["{{\n}}", Self.head + "  - {{a: 1}: 2}\n" + Self.tail] {
            let message = refusal("non-scalar key") { _ = try ModelFile.parse(text, file: "key.yaml") }
            #expect(message.contains("key.yaml") && message.contains("plain name"), "\(message)")
        }
    }

    @Test("numbers Swift cannot read as written (YAML 1.1 sexagesimal, hex, tagged junk) and exotic types are refused",
          arguments: ["input: [1, 28, 99999999999999999999:20:30]", "input: [1, 28, 190:20:30]",
                      "input: [!!int i--rg, 28, 28]", "input: [0x1c, 28, 28]",
                      "input: [1, 28, 28]\nwhen: 2001-12-14", "input: [1, 28, !!float x]"])
    func numberFormats(line: String) {
        let text = "name: t\n" + line + "\nlayers:\n" + Self.tail
        let message = refusal(line) { _ = try ModelFile.parse(text, file: "num.yaml") }
        #expect(message.contains("num.yaml") && message.contains("line"), "\(message)")
    }

    @Test("an oversized document is refused before parsing")
    func size() {
        let text = Self.head + String(repeating: "  - relu\n", count: 200_000) + Self.tail
        let message = refusal("2 MB") { _ = try ModelFile.parse(text, file: "big.yaml") }
        #expect(message.contains("at most"), "\(message)")
    }
}

@Suite("Configuration values at the edge") struct ConfigEdgeTests {
    /// A default configuration with one value out of range, under the setting's stored path.
    static func broken(_ setting: String) -> TrainSettings {
        var c = TrainSettings()
        c.data = DataOptions(source: .synthetic)
        switch setting {
        case "data.trainLimit": c.data.trainLimit = -1
        case "data.testLimit": c.data.testLimit = 0
        case "initialization.lsuv.batchSize": c.initialization.lsuv.batchSize = 0
        case "initialization.lsuv.tolVar": c.initialization.lsuv.tolVar = .nan
        case "optimizer.lr": c.optimizer.lr = -0.1
        case "loop.maxSteps": c.loop.maxSteps = -1
        case "compute.threads": c.compute.threads = 1025
        case "compute.workers": c.compute.workers = 0
        case "optimizer.momentum": c.optimizer.momentum = 1.5
        case "loop.batchSize": c.loop.batchSize = 0
        default: Issue.record("no case for \(setting)")
        }
        return c
    }

    @Test("each out-of-range value is refused naming its setting, by validate() and by the training loop",
          arguments: ["data.trainLimit", "data.testLimit", "initialization.lsuv.batchSize",
                      "initialization.lsuv.tolVar",
                      "optimizer.lr", "loop.maxSteps", "compute.threads", "compute.workers", "optimizer.momentum",
                      "loop.batchSize"])
    func ranges(_ setting: String) {
        let c = Self.broken(setting)
        let message = refusal(setting) { try c.validate() }
        #expect(message.hasPrefix("\(setting) "), "\(message)")
        #expect(throws: SettingError.self) { _ = try TrainingLoop(c) }
    }

    @Test("typed settings survive the stored record: every field, for presets and model files")
    func recordRoundTrip() throws {
        var s = TrainSettings()
        s.model = .preset(.plain22Thin, activation: .preluShared)
        s.initialization = InitOptions(.orthogonal(gain: Double(Float(1.4142)))); s.initialization.lsuv.zeroMean = true
        s.initialization.rbm.learningRate = 0.05; s.data = DataOptions(source: .cifar100, dir: "/x")
        s.data.augment = false; s.data.trainLimit = 7; s.optimizer.kind = .adam
        s.optimizer.schedule = .warmup(steps: 3, then: .step(every: 2, gamma: 0.5)); s.loop.seed = 99
        s.loop.maxSteps = 5; s.compute = ComputeOptions(workers: 2, threads: 1); s.out = "o"
        s.compute = ComputeOptions(layout: .plain, flushSubnormals: true) // W and T are not read back
        #expect(try TrainSettings.stored(Data(s.stored().utf8)) == s)
        s.model = .file("m.yaml")
        #expect(try TrainSettings.stored(Data(s.stored().utf8)) == s)
    }

    @Test("schedules and initializers with trailing junk or non-finite numbers are refused",
          arguments: ["cosine:junk", "constant:1", "step:1:nan", "step:1:-0.5", "step:1:0.1:3", "warmup:3,step:0"])
    func schedules(_ text: String) {
        #expect(throws: InitError.self) { try Schedule(parsing: text) }
    }

    @Test("initializers", arguments: ["lsuv:3", "xavier-uniform:2", "normal:nan", "constant", "he-normal:fan_sideways"])
    func initializers(_ text: String) {
        #expect(throws: InitError.self) { try Initializer(parsing: text) }
    }

    @Test("--out: a file, a path under a file, an unwritable place give one line naming the setting and path")
    func outFolder() throws {
        let folder = scratchFolder("out")
        let file = folder + "/plain"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        for path in [file, file + "/sub", "/proc/goodinit-cannot-be-here"] {
            let message = refusal(path) { try OutputFolder.prepare(path) }
            #expect(message.hasPrefix("out \(path): ") && !message.contains("\n") && !message.contains("NSError"),
                    "\(message)")
        }
        try OutputFolder.prepare(folder + "/new/deeper")
        #expect(FileManager.default.fileExists(atPath: folder + "/new/deeper"))
    }
}

@Suite("Training edges: data, checkpoints, nothing lost") struct TrainEdgeTests {
    func config(_ out: String, steps: Int? = 4) -> TrainSettings {
        var c = TrainSettings()
        c.model = .preset(.mlpXavier); c.initialization = InitOptions(.heNormal(fanOut: false))
        c.data = DataOptions(source: .synthetic); c.data.trainLimit = 128; c.data.testLimit = 32
        c.loop.batchSize = 32; c.loop.chunk = 32; c.loop.epochs = 2; c.loop.maxSteps = steps
        c.compute = ComputeOptions(threads: 1); c.out = out; c.loop.logEvery = 1
        return c
    }

    func quiet(_ c: TrainSettings, data: DataSplits? = nil) throws -> TrainingLoop {
        let t = try TrainingLoop(c, setup: TrainingSetup(c, preloaded: data))
        t.log = { _ in }
        return t
    }

    func splits(trainSide: Int, testSide: Int, testClasses: Int = 10) -> DataSplits {
        let a = Synthetic.make(count: 64, channels: 1, height: trainSide, width: trainSide, classes: 10, seed: 1)
        let b = Synthetic.make(count: 16, channels: 1, height: testSide, width: testSide, classes: testClasses, seed: 2)
        return DataSplits(train: a, test: b)
    }

    @Test("a test set of another image size or class count is refused before training, not after an epoch")
    func splitMismatch() {
        let out = scratchFolder("split")
        var c = config(out)
        c.data.trainLimit = nil; c.data.testLimit = nil
        let size = refusal("28 vs 32") { _ = try quiet(c, data: splits(trainSide: 28, testSide: 32)) }
        #expect(size.contains("1×32×32") && size.contains("1×28×28"), "\(size)")
        let classes = refusal("10 vs 3 classes") {
            _ = try quiet(c, data: splits(trainSide: 28, testSide: 28, testClasses: 3))
        }
        #expect(classes.contains("3 classes"), "\(classes)")
        #expect(!FileManager.default.fileExists(atPath: out + "/metrics.jsonl"))
    }

    @Test("the epoch's checkpoint is on disk before its evaluation starts")
    func checkpointBeforeEvaluation() throws {
        let out = scratchFolder("order")
        let t = try quiet(config(out, steps: nil))
        var seenAtEvaluation: [Int] = []
        t.log = { line in
            if line.hasPrefix("epoch ") {
                let meta = try? CheckpointMetadata.read(out + "/checkpoint.safetensors")
                seenAtEvaluation.append(meta?.position.epoch ?? -1)
            }
        }
        _ = try t.run()
        #expect(seenAtEvaluation == [1, 2])
    }

    @Test("zero steps and a finished resume write a valid summary.json (null loss) and a checkpoint")
    func zeroSteps() throws {
        let out = scratchFolder("zero")
        let s = try quiet(config(out, steps: 0)).run()
        #expect(s.steps == 0 && s.finalTrainLoss.isNaN)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
        #expect((json as? [String: Any])?["finalTrainLoss"] is NSNull)
        _ = try CheckpointMetadata.read(out + "/checkpoint.safetensors")

        let done = scratchFolder("done")
        let first = try quiet(config(done, steps: 3)).run()
        let again = try quiet(config(done, steps: 3)).run(resume: done + "/checkpoint.safetensors")
        #expect(again.steps == 3)
        let written = try Data(contentsOf: URL(fileURLWithPath: done + "/summary.json"))
        let decoded = try JSONDecoder().decode(TrainSummary.self, from: written)
        // no step taken: the final loss is still the epoch-so-far mean the checkpoint carries
        #expect(decoded.steps == 3 && first.finalTrainLoss.isFinite && decoded.finalTrainLoss == first.finalTrainLoss)
    }

    /// A real checkpoint with its metadata edited.
    func forged(_ edit: (inout [String: String]) -> Void) throws -> String {
        let out = scratchFolder("forge")
        _ = try quiet(config(out, steps: 2)).run()
        let path = out + "/checkpoint.safetensors"
        var (tensors, meta) = try Safetensors.read(path)
        edit(&meta)
        try Safetensors.write(tensors, metadata: meta, to: path)
        return path
    }

    @Test("checkpoint metadata is a checked record: missing, non-numeric, negative values and bad stored configs",
          arguments: ["no metadata", "metadata has no 'step'", "'step' must be", "'epoch' must be",
                      "'batch_in_epoch' must be", "'format'", "stored configuration: data.testLimit"])
    func metadata(_ expected: String) throws {
        let path = try forged { m in
            switch expected {
            case "no metadata": m = [:]
            case "metadata has no 'step'": m["step"] = nil
            case "'step' must be": m["step"] = "twelve"
            case "'epoch' must be": m["epoch"] = "-1"
            case "'batch_in_epoch' must be": m["batch_in_epoch"] = "-3"
            case "'format'": m["format"] = "other"
            default: m["config"] = m["config"]!.replacingOccurrences(of: "\"testLimit\":32", with: "\"testLimit\":-5")
            }
        }
        let out = scratchFolder("resume")
        let t = try quiet(config(out))
        let before = t.net.params.values.array
        let message = refusal(expected) { _ = try t.run(resume: path) }
        #expect(message.contains(path) && message.contains(expected), "\(message)")
        #expect(t.net.params.values.array == before, "a refused checkpoint must leave the weights as they were")
        #expect(throws: DataError.self) { _ = try CheckpointMetadata.read(path) }
    }

    @Test("resuming with another batch size or optimizer is refused, naming the setting")
    func resumeMismatch() throws {
        let out = scratchFolder("mismatch")
        _ = try quiet(config(out, steps: 2)).run()
        var c = config(scratchFolder("mismatch2"))
        c.loop.batchSize = 16; c.loop.chunk = 16
        let batch = refusal("batch 16") { _ = try quiet(c).run(resume: out + "/checkpoint.safetensors") }
        #expect(batch.hasPrefix("loop.batchSize 16 ") && batch.contains("resume with 32"), "\(batch)")
        c = config(scratchFolder("mismatch3")); c.optimizer.kind = .adam
        let adam = refusal("adam") { _ = try quiet(c).run(resume: out + "/checkpoint.safetensors") }
        #expect(adam.hasPrefix("optimizer.kind adam ") && adam.contains("(sgd)"), "\(adam)")
    }

    @Test("sizes as large as Int allows (--chunk, --epochs, --batch-size) do not overflow the step arithmetic")
    func intMax() throws {
        var c = config(scratchFolder("intmax"), steps: 1)
        c.loop.chunk = Int.max; c.loop.epochs = Int.max
        #expect(try quiet(c).run().steps == 1)
        c.loop.batchSize = Int.max
        let message = refusal("batch Int.max") { _ = try quiet(c) }
        #expect(message.hasPrefix("loop.batchSize "), "\(message)")
    }

    @Test("temp files of dead processes are removed at start; a live process's are kept")
    func staleTemporaries() throws {
        let out = scratchFolder("stale")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        let dead = out + "/checkpoint.safetensors.tmp-\(p.processIdentifier)"
        let live = out + "/checkpoint.safetensors.tmp-1" // init never exits
        for f in [dead, live] { FileManager.default.createFile(atPath: f, contents: Data(count: 16)) }
        _ = try quiet(config(out, steps: 1)).run()
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live))
    }
}
