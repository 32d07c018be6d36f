import ArgumentParser
import Foundation
import GoodInit

struct Train: ParsableCommand, RunsOverRanks {
    static let configuration = CommandConfiguration(
        abstract: "Train a model; writes metrics.jsonl, summary.json, SVG curves and checkpoints to --out.")

    @Option(help: "Preset (see `goodinit models`).", transform: Parse.preset) var model = ModelPreset.cnnSmall
    @Option(help: "A YAML/JSON model file instead of a preset.") var modelFile: String?
    @Option(help: "Activation for presets that take one (plain30/22, fitnet4).") var activation = ActivationKind.relu
    @Option(name: .customLong("init"),
            help: ArgumentHelp("Initializer: lsuv, he-normal[:fan_out], he-uniform, xavier-uniform, xavier-normal, "
                + "orthogonal[:GAIN], normal:STD, uniform:A, constant:V, zeros, pytorch-default, rbm (MLPs)."),
            transform: Parse.initializer)
    var initializer = Initializer.lsuv
    @Option(parsing: .unconditional, help: "LSUV: tolerance on |Var − 1|.", transform: Parse.positiveDouble)
    var lsuvTol = 0.1
    @Option(parsing: .unconditional, help: "LSUV: maximum tries per layer.", transform: Parse.nonNegativeInt)
    var lsuvMaxTries = 10
    @Option(parsing: .unconditional, help: "LSUV: minibatch size.", transform: Parse.positiveInt) var lsuvBatch = 128
    @Flag(help: "LSUV: also zero each layer's output mean through its bias.") var lsuvZeroMean = false
    @Option(parsing: .unconditional, help: "RBM pre-training (--init rbm): epochs per layer.",
            transform: Parse.positiveInt)
    var rbmEpochs = 1
    @Option(parsing: .unconditional, help: "RBM pre-training: learning rate.", transform: Parse.positiveDouble)
    var rbmLr = 0.01
    @Option(parsing: .unconditional, help: "RBM pre-training: training samples used.", transform: Parse.positiveInt)
    var rbmSamples = 10_000
    @Option(help: "Data set.") var data = DataSource.fashionMNIST
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @Flag(inversion: .prefixedNo, help: "Random crop (pad 4) and horizontal flip (default: on for CIFAR).")
    var augment: Bool?
    @Option(parsing: .unconditional, help: "Use only the first N training samples.", transform: Parse.positiveInt)
    var trainLimit: Int?
    @Option(parsing: .unconditional, help: "Use only the first N test samples.", transform: Parse.positiveInt)
    var testLimit: Int?
    @Option(parsing: .unconditional, help: "Epochs.", transform: Parse.positiveInt) var epochs = 2
    @Option(parsing: .unconditional, help: "Stop after this many steps (0: initialize, save and stop).",
            transform: Parse.nonNegativeInt)
    var steps: Int?
    @Option(parsing: .unconditional, help: "Minibatch size.", transform: Parse.positiveInt) var batchSize = 128
    @Option(parsing: .unconditional, help: "Learning rate.", transform: Parse.positiveDouble) var lr = 0.05
    @Option(help: ArgumentHelp("Schedule: constant, step:EVERY_EPOCHS[:GAMMA], cosine; warmup:STEPS[,SCHEDULE] "
                + "ramps lr linearly over STEPS first."), transform: Parse.schedule)
    var schedule = Schedule.constant
    @Option(parsing: .unconditional, help: "Momentum, in [0, 1).",
            transform: { try Parse.double($0, "must be in [0, 1)") { $0 >= 0 && $0 < 1 } })
    var momentum = 0.9
    @Option(parsing: .unconditional, help: "Weight decay (not on biases, BN, PReLU slopes).",
            transform: { try Parse.double($0, "must be 0 or a positive number") { $0 >= 0 } })
    var weightDecay = 5e-4
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Scale the gradient down to this L2 norm when longer (as PyTorch's "
                + "clip_grad_norm_, before weight decay)."), transform: Parse.positiveDouble)
    var clipGradNorm: Double?
    @Option(help: "Optimizer.") var optimizer = Optimizer.Kind.sgd
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Samples per chunk: the unit of data-parallel work and of gradient reduction "
                + "(W workers need batch / chunk ≥ W chunks to share)."), transform: Parse.positiveInt)
    var chunk = 128
    @Option(help: "Output folder.") var out = "runs/latest"
    @Option(parsing: .unconditional, help: "Log a metrics line every N steps.", transform: Parse.positiveInt)
    var logEvery = 20
    @Option(help: "Resume from a checkpoint.") var resume: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Testing: poison a weight at this step.", visibility: .hidden),
            transform: Parse.nonNegativeInt)
    var injectNanAtStep: Int?
    @OptionGroup var compute: ComputeFlags

    var settings: TrainSettings {
        var s = TrainSettings()
        s.model = modelFile.map { .file($0) } ?? .preset(model, activation: activation)
        s.initialization.initializer = initializer
        s.initialization.lsuv.tolVar = lsuvTol; s.initialization.lsuv.maxTries = lsuvMaxTries
        s.initialization.lsuv.batchSize = lsuvBatch; s.initialization.lsuv.zeroMean = lsuvZeroMean
        s.initialization.rbm.epochs = rbmEpochs; s.initialization.rbm.learningRate = Float(rbmLr)
        s.initialization.rbm.samples = rbmSamples
        s.data = DataOptions(source: data, dir: dataDir)
        s.data.augment = augment; s.data.trainLimit = trainLimit; s.data.testLimit = testLimit
        s.loop.epochs = epochs; s.loop.maxSteps = steps; s.loop.batchSize = batchSize; s.loop.chunk = chunk
        s.loop.seed = compute.seed; s.loop.logEvery = logEvery; s.loop.injectNaNAtStep = injectNanAtStep
        s.optimizer.kind = optimizer; s.optimizer.lr = lr; s.optimizer.schedule = schedule
        s.optimizer.momentum = momentum; s.optimizer.weightDecay = weightDecay
        s.optimizer.clipGradNorm = clipGradNorm
        s.compute = compute.options
        s.out = out
        return s
    }

    func validate() throws {
        // the library's own checks, as a backstop: every value above is already typed and in range
        do { try settings.validate() } catch { throw ValidationError("\(error)") }
        if let trainLimit, trainLimit < batchSize {
            throw ValidationError("--train-limit \(trainLimit) is less than --batch-size \(batchSize): "
                                  + "not one step fits")
        }
    }

    func run() throws {
        try withRanks { ranks in
            // before any data loads: a bad --out is a one-line error, not a Foundation dump an epoch later
            if ranks.isLeader { try OutputFolder.prepare(out) }
            installStopHandlers()
            // every rank must train the same thing (W and T may differ: they never change the bits)
            try ranks.checkSame(ConfigRecord.rankAgreement(settings, resume: resume), what: "configuration")
            let loop = try TrainingLoop(settings, cancellation: stopToken, ranks: ranks)
            // unbuffered: progress lines appear as they happen, also through a pipe
            loop.log = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
            let s = try loop.run(resume: resume)
            guard ranks.isLeader else { return }
            let acc = s.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a"
            let loss = s.finalTrainLoss.isFinite ? String(format: "%.4f", s.finalTrainLoss) : "n/a"
            print(String(format: "done: %d steps in %.1f s, %.0f img/s, final train loss %@, test accuracy %@ → "
                         + "%@/summary.json", s.steps, s.wallSeconds, s.imagesPerSecond, loss, acc, out))
        }
    }
}

/// The process's stop token: the signal handlers below ask, the training loop listens.
let stopToken = CancellationToken()

/// SIGINT/SIGTERM/SIGUSR1 ask the stop token: the loop saves at the next step boundary and exits 0. A second
/// signal exits at once (130), except while a checkpoint is being written (the write finishes,
/// then the run stops as asked) and except within half a second of the first: `timeout -s INT`
/// and a terminal's Ctrl-C can deliver one request twice (to the process and to its group).
func installStopHandlers() {
    _ = stopToken // created here, not lazily inside a handler (swift_once is not async-signal-safe)
    // A parent may start us with these signals blocked (a test runner's Process does): unblock them.
    var set = sigset_t()
    sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM); sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    // SIGUSR1 too: mpirun forwards it to every rank as is, where its SIGINT/SIGTERM become a SIGTERM
    // followed by SIGKILL a second later, too soon for a slow step and a checkpoint
    for sig in [SIGINT, SIGTERM, SIGUSR1] {
        signal(sig) { _ in
            let now = monotonicNanoseconds()
            if !stopToken.isStopRequested {
                firstStopSignalAt = now
                stopToken.requestStop()
                return
            }
            if !secondStopSignalExits || stopToken.isSavingCheckpoint || now - firstStopSignalAt < 500_000_000 {
                return
            }
            _exit(130)
        }
    }
}

nonisolated(unsafe) private var firstStopSignalAt: Int64 = 0
/// False on MPI ranks other than 0 (withRanks): their second signal waits for rank 0's checkpoint.
nonisolated(unsafe) var secondStopSignalExits = true

/// clock_gettime is async-signal-safe, so the handler may call it.
private func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
