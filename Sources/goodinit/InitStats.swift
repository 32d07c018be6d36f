import ArgumentParser
import Foundation
import GoodInit

struct InitStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-stats",
        abstract: "Per-layer output mean/variance (forward) and gradient variance (backward) at initialization, "
            + "on one minibatch.")
    @Option(help: .withDefault("Preset.", ModelPreset.plain30.rawValue), transform: Parse.named)
    var model: ModelPreset?
    @Option(help: "A YAML/JSON model file instead of a preset (its input must be the data's).")
    var modelFile: String?
    @Option(help: "Activation for presets that take one.") var activation = ActivationKind.relu
    @Option(name: .customLong("init"), help: .withDefault("Initializer (as for train).", "he-normal"),
            transform: Parse.text)
    var initializer = Initializer.heNormal(fanOut: false)
    @Option(parsing: .unconditional, help: "Minibatch size (at most the training samples).",
            transform: Parse.positiveInt)
    var batchSize = 64
    @Option(help: "Data set.") var data = DataSource.fashionMNIST
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @OptionGroup var compute: ComputeOptions.Flags
    @Flag(help: "One JSON object per line: the run, then one per layer.") var json = false

    func validate() throws {
        if model != nil && modelFile != nil {
            throw ValidationError("--model and --model-file both given: measure a preset or a model file")
        }
    }

    var source: ModelSource { modelFile.map { .file($0) } ?? .preset(model ?? .plain30, activation: activation) }

    func run() throws {
        noteBF16Path(compute.precision)
        try compute.inMode(stats)
    }

    func stats() throws {
        let setup = try TrainingSetup(model: source,
                                      data: DataOptions(source: data, dir: dataDir), seed: compute.seed,
                                      compute: ComputeOptions(workers: 1, threads: compute.threads,
                                                               precision: compute.precision))
        let d = setup.data.train
        guard batchSize <= d.count else {
            throw TrainingError("--batch-size \(batchSize) is more than the \(d.count) training samples")
        }
        // the plan below, and LSUV's at the same batch
        let planBytes = setup.net.estimatedTrainingBytes(batch: batchSize, chunk: batchSize, optimizerStates: 0).bytes
        try MemoryLimit.check((initializer == .lsuv ? 2 : 1) * planBytes,
                              for: "init-stats of \(source.name) at --batch-size \(batchSize)")
        var init_ = InitOptions(initializer)
        init_.lsuv.batchSize = batchSize
        _ = try setup.initialize(init_, seed: compute.seed)
        let net = setup.net
        let plan = Plan(net: net, chunking: .whole(batchSize), workers: 1, threads: setup.threads, fused: false)
        plan.setInput(images: d.images, labels: d.labels, indices: Array(0..<batchSize)[...])
        plan.forward(training: true)
        let (loss, _) = plan.loss()
        plan.backward()
        if json {
            try printJSONLine(RunLine(model: net.name, initializer: "\(initializer)", batch: batchSize,
                                      loss: rounded(loss, 6)))
        } else {
            print("\(net.name), init \(initializer), batch \(batchSize): loss \(String(format: "%.4f", loss))")
            print("layer            output shape      out mean     out var      grad var (dL/d out)")
        }
        func pad(_ s: String) -> String { s.padding(toLength: 16, withPad: " ", startingAt: 0) }
        for (i, op) in net.ops.enumerated() where op.isWeighted || op is Activation || op is BatchNorm {
            let (m, v) = plan.activation(i + 1, chunk: 0).meanVariance()
            let gv = plan.gradient(i + 1, chunk: 0).meanVariance().variance
            if json {
                try printJSONLine(LayerLine(layer: op.name, kind: op.kind, shape: net.shapes[i + 1],
                                            outMean: significant(m), outVariance: significant(v),
                                            gradVariance: significant(gv)))
                continue
            }
            print("\(pad(op.name)) \(pad(String(describing: net.shapes[i + 1]))) "
                  + String(format: "%11.4g  %11.4g  %11.4g", m, v, gv))
        }
    }
}

/// init-stats --json: the first line says what was measured, the others are the table's rows.
private struct RunLine: Encodable {
    var type = "run"
    var model: String, initializer: String, batch: Int
    var loss: Double?
}

private struct LayerLine: Encodable {
    var type = "layer"
    var layer: String, kind: String, shape: [Int]
    var outMean: Double?, outVariance: Double?
    /// The variance of dL/d(output) over the minibatch.
    var gradVariance: Double?
}
