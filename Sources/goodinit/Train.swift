import ArgumentParser
import Foundation
import GoodInit

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model; writes metrics.jsonl, summary.json, SVG curves and checkpoints to --out.")

    @Option(help: "Preset (see `goodinit models`).") var model = "cnn-small"
    @Option(help: "A YAML/JSON model file instead of a preset.") var modelFile: String?
    @Option(help: "Activation for presets that take one (plain30/22, fitnet4): relu, vlrelu, tanh, maxout, prelu.") var activation = "relu"
    @Option(name: .customLong("init"), help: "Initializer: lsuv, he-normal[:fan_out], he-uniform, xavier-uniform, xavier-normal, orthogonal[:GAIN], normal:STD, uniform:A, constant:V, zeros, pytorch-default, rbm (MLPs).") var initializer = "lsuv"
    @Option(help: "LSUV: tolerance on |Var − 1|.") var lsuvTol = 0.1
    @Option(help: "LSUV: maximum tries per layer.") var lsuvMaxTries = 10
    @Option(help: "LSUV: minibatch size.") var lsuvBatch = 128
    @Flag(help: "LSUV: also zero each layer's output mean through its bias.") var lsuvZeroMean = false
    @Option(help: "RBM pre-training (--init rbm): epochs per layer.") var rbmEpochs = 1
    @Option(help: "RBM pre-training: learning rate.") var rbmLr = 0.01
    @Option(help: "RBM pre-training: training samples used.") var rbmSamples = 10_000
    @Option(help: "Data set: fashion-mnist, mnist, cifar10, cifar100, synthetic.") var data = "fashion-mnist"
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @Option(help: "Random crop (pad 4) and horizontal flip: on or off (default: on for CIFAR).") var augment: String?
    @Option(help: "Use only the first N training samples.") var trainLimit: Int?
    @Option(help: "Use only the first N test samples.") var testLimit: Int?
    @Option(help: "Epochs.") var epochs = 2
    @Option(help: "Stop after this many steps.") var steps: Int?
    @Option(help: "Minibatch size.") var batchSize = 128
    @Option(help: "Learning rate.") var lr = 0.05
    @Option(help: "Schedule: constant, step:EVERY_EPOCHS[:GAMMA], cosine; warmup:STEPS[,SCHEDULE] ramps lr linearly over STEPS first.") var schedule = "constant"
    @Option(help: "Momentum.") var momentum = 0.9
    @Option(help: "Weight decay (not on biases, BN, PReLU slopes).") var weightDecay = 5e-4
    @Option(help: "Optimizer: sgd or adam.") var optimizer = "sgd"
    @Option(help: "Samples per chunk: the unit of data-parallel work and of gradient reduction (W workers need batch / chunk ≥ W chunks to share).") var chunk = 128
    @Option(help: "Output folder.") var out = "runs/latest"
    @Option(help: "Log a metrics line every N steps.") var logEvery = 20
    @Option(help: "Resume from a checkpoint.") var resume: String?
    @Option(help: ArgumentHelp("Testing: poison a weight at this step.", visibility: .hidden)) var injectNanAtStep: Int?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard epochs > 0, batchSize > 0, chunk > 0, logEvery > 0 else { throw ValidationError("--epochs, --batch-size, --chunk and --log-every must be positive") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        if let augment, augment != "on", augment != "off" { throw ValidationError("--augment takes on or off") }
        _ = try Initializer(parsing: initializer)
        _ = try Schedule(parsing: schedule)
    }

    func run() throws {
        var c = TrainConfig()
        c.model = model; c.modelFile = modelFile; c.activation = activation; c.initializer = initializer
        c.lsuvTolVar = lsuvTol; c.lsuvMaxTries = lsuvMaxTries; c.lsuvBatch = lsuvBatch; c.lsuvZeroMean = lsuvZeroMean
        c.rbmEpochs = rbmEpochs; c.rbmLearningRate = rbmLr; c.rbmSamples = rbmSamples
        c.data = data; c.dataDir = dataDir; c.augment = augment.map { $0 == "on" }; c.trainLimit = trainLimit; c.testLimit = testLimit
        c.epochs = epochs; c.maxSteps = steps; c.batchSize = batchSize; c.lr = lr; c.schedule = schedule
        c.momentum = momentum; c.weightDecay = weightDecay; c.optimizer = optimizer; c.chunk = chunk
        c.workers = compute.workers; c.threads = compute.threads; c.seed = compute.seed
        c.out = out; c.logEvery = logEvery; c.injectNaNAtStep = injectNanAtStep
        installStopHandlers()
        let trainer = try Trainer(config: c)
        // unbuffered: progress lines appear as they happen, also through a pipe
        trainer.log = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        let s = try trainer.run(resume: resume)
        let acc = s.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a"
        print(String(format: "done: %d steps in %.1f s, %.0f img/s, final train loss %.4f, test accuracy %@ → %@/summary.json",
                     s.steps, s.wallSeconds, s.imagesPerSecond, s.finalTrainLoss, acc, out))
    }
}

/// SIGINT/SIGTERM set a flag (the loop saves at the next step and exits 0); a second one exits at once.
func installStopHandlers() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { _ in
            if trainingStopRequested != 0 { _exit(130) }
            trainingStopRequested = 1
        }
    }
}
