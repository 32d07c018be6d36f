import ArgumentParser
import Foundation
import GoodInit

struct InitStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init-stats",
        abstract: "Per-layer output mean/variance (forward) and gradient variance (backward) at initialization, on one minibatch.")
    @Option(help: "Preset.", transform: Parse.preset) var model = "plain30"
    @Option(help: "Activation for presets that take one.") var activation = ActivationName.relu
    @Option(name: .customLong("init"), help: "Initializer (as for train).", transform: Parse.initializer)
    var initializer = Choice<Initializer>(text: "he-normal", value: .heNormal(fanOut: false))
    @Option(parsing: .unconditional, help: "Minibatch size (at most the training samples).",
            transform: Parse.positiveInt)
    var batchSize = 64
    @Option(help: "Data set.") var data = DataSetName.fashionMNIST
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        var c = TrainConfig()
        c.model = model; c.activation = activation.rawValue; c.initializer = initializer.text
        c.data = data.rawValue; c.dataDir = dataDir
        c.seed = compute.seed; c.workers = 1; c.threads = compute.threads; c.lsuvBatch = batchSize
        // the Trainer refuses a batch larger than the training set, naming --batch-size
        c.batchSize = batchSize; c.chunk = batchSize
        let trainer = try Trainer(config: c)
        _ = try trainer.initialize()
        let net = trainer.net, d = trainer.data.train
        let plan = Plan(net: net, batch: batchSize, chunkSize: batchSize, workers: 1, threads: max(1, compute.threads))
        plan.setInput(images: d.images, labels: d.labels, indices: Array(0..<batchSize)[...])
        plan.forward(training: true)
        let (loss, _) = plan.loss()
        plan.backward()
        print("\(net.name), init \(initializer.text), batch \(batchSize): loss \(String(format: "%.4f", loss))")
        print("layer            output shape      out mean     out var      grad var (dL/d out)")
        for (i, op) in net.ops.enumerated() where op.isWeighted || op is Activation || op is BatchNorm {
            let (m, v) = plan.activation(i + 1, chunk: 0).meanVariance()
            let gv = plan.gradient(i + 1, chunk: 0).meanVariance().variance
            print("\(op.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(describing: net.shapes[i + 1]).padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%11.4g  %11.4g  %11.4g", m, v, gv))")
        }
    }
}
