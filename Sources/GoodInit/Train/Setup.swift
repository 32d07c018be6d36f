// What every command that runs a network needs, built once: the data (limited, checked, and
// normalized with the training set's statistics), the network, and the thread budget. `train`,
// `eval`, `init-stats` and the experiments share it.
import Foundation

public final class TrainingSetup {
    public let data: DataSplits
    public let net: Network
    /// W and T as the run uses them (`--threads auto` resolved: `use(workers:threads:)`).
    public private(set) var compute: ComputeOptions
    /// T: OpenMP threads per worker.
    public private(set) var threads: Int
    private(set) var evaluator: Evaluator
    /// The model file's text as the network was built from it (nil for a preset): checkpoints store it.
    public let modelText: String?
    /// The training set's per-channel statistics the data were normalized with (or the stored ones given).
    public let normalization: (mean: [Float], std: [Float])
    /// One name per class (ClassNames).
    public let classNames: [String]

    /// Loads the data (or takes `preloaded`, as loaded and not yet normalized) and builds the model:
    /// a model file from `modelText` when given (a checkpoint's copy: the path is then not read).
    /// `normalization`: a checkpoint's statistics, used instead of the training set's.
    public init(model: ModelSource, data options: DataOptions, seed: UInt64, compute: ComputeOptions,
                preloaded: DataSplits? = nil, modelText: String? = nil,
                normalization: (mean: [Float], std: [Float])? = nil) throws {
        self.compute = compute
        threads = compute.threadsPerWorker
        var splits = try preloaded ?? DataSets.load(options, seed: seed)
        if let n = options.trainLimit, n < splits.train.count { splits.train = splits.train.subset(0..<n) }
        if let n = options.testLimit, n < splits.test.count { splits.test = splits.test.subset(0..<n) }
        let name = options.source.rawValue
        try Self.checkSplits(splits, name: name)
        // held out before the statistics: the validation images are as unseen as the test ones
        if options.valFraction > 0 { try splits.holdOutValidation(options.valFraction, seed: seed) }
        let (mean, std) = normalization ?? splits.train.channelMeanStd()
        guard mean.count == splits.train.channels else {
            throw TrainingError("data \(name): \(splits.train.channels) channels, the checkpoint's normalization "
                                + "has \(mean.count)")
        }
        self.normalization = (mean, std)
        classNames = ClassNames.names(classes: splits.train.classes, dataSet: name, fromData: splits.classNames)
        splits.train.normalize(mean: mean, std: std)
        splits.test.normalize(mean: mean, std: std)
        splits.validation?.normalize(mean: mean, std: std)
        data = splits
        (net, self.modelText) = try Self.network(model, input: [splits.train.channels, splits.train.height,
                                                                 splits.train.width],
                                                 classes: splits.train.classes, text: modelText)
        net.layoutPolicy = compute.layout
        net.precision = compute.precision
        guard net.classes == splits.train.classes else {
            let problem = "\(net.classes) outputs, but \(name) has \(splits.train.classes) classes"
            if case .file(let file) = model { throw DataError(file: file, problem: problem) }
            throw TrainingError("\(net.name) has \(net.classes) outputs but \(name) has "
                                + "\(splits.train.classes) classes")
        }
        evaluator = Evaluator(net: net, workers: compute.workers, threads: threads)
    }

    /// Runs with W workers × T threads from now on (a `--threads auto` choice).
    func use(workers: Int, threads: Int) {
        compute.workers = workers
        compute.threads = threads
        self.threads = threads
        let ranks = evaluator.ranks
        evaluator = Evaluator(net: net, workers: workers, threads: threads)
        evaluator.ranks = ranks
    }

    /// A fresh network of this setup's model, shape, layout and precision: for probes that train it.
    func probeNetwork(_ model: ModelSource) throws -> Network {
        let (probe, _) = try Self.network(model, input: net.inputShape, classes: net.classes, text: modelText)
        probe.layoutPolicy = net.layoutPolicy
        probe.precision = net.precision
        return probe
    }

    public convenience init(_ s: TrainSettings, preloaded: DataSplits? = nil, modelText: String? = nil) throws {
        try self.init(model: s.model, data: s.data, seed: s.loop.seed, compute: s.compute, preloaded: preloaded,
                      modelText: modelText)
    }

    /// The network for data of shape `input` (a preset's last layer gets `classes` outputs), and the
    /// model file's text it was built from.
    static func network(_ model: ModelSource, input: [Int], classes: Int? = nil,
                        text: String? = nil) throws -> (Network, String?) {
        switch model {
        case let .preset(p, activation):
            return (try Presets.network(p, activation: activation, input: input, classes: classes), nil)
        case .file(let file):
            // not `try text ?? …`: a throw inside the ?? autoclosure crashed the debug build (LegacyConfig)
            let source: String
            if let text { source = text } else { source = try ModelFile.read(file) }
            let m = try ModelFile.parse(source, file: file)
            guard m.input == input else {
                throw DataError(file: file, problem: "input \(m.input) does not match the data's \(input)")
            }
            do {
                return (try Network(name: m.name, input: m.input, layers: m.layers), source)
            } catch var e as ShapeError {
                e.file = file
                throw e
            }
        }
    }

    /// What a checkpoint of this setup's network stores to be self-contained.
    public var checkpointNetwork: CheckpointNetwork {
        CheckpointNetwork(modelText: modelText, input: net.inputShape, classNames: classNames,
                          mean: normalization.mean, std: normalization.std, identity: NetworkIdentity(net))
    }

    /// Train and test sets must hold samples of one shape and one set of classes: a mismatch
    /// would otherwise train a whole epoch and then fail in evaluation.
    static func checkSplits(_ s: DataSplits, name: String) throws {
        let (a, b) = (s.train, s.test)
        let shape = { (d: Dataset) in "\(d.channels)×\(d.height)×\(d.width)" }
        guard a.count > 0 else { throw TrainingError("data \(name): the training set is empty") }
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw TrainingError("data \(name): the test images are \(shape(b)), the training images \(shape(a))")
        }
        guard a.classes == b.classes else {
            throw TrainingError("data \(name): the test set has \(b.classes) classes, the training set \(a.classes)")
        }
    }

    /// Initializes the weights (LSUV and RBM pre-training included, then --zero-init-residual and --fixup);
    /// returns LSUV's report if it ran.
    public func initialize(_ o: InitOptions, seed: UInt64,
                           log: (String) -> Void = { _ in }) throws -> [LSUVLayerReport]? {
        let report = try initializeWeights(o, seed: seed, log: log)
        if o.zeroInitResidual {
            let zeroed = net.zeroResidualGammas()
            guard zeroed > 0 else {
                throw SettingError("initialization.zeroInitResidual",
                                   "\(net.name) has no residual block ending in batch norm")
            }
            log("zero-init-residual: γ = 0 in \(zeroed) residual branches' last batch norm")
        }
        if o.fixup {
            let branches = net.fixupScale()
            guard branches > 0 else {
                throw SettingError("initialization.fixup", "\(net.name) has no residual block with a weighted layer")
            }
            log("fixup: \(branches) residual branches rescaled, their last layers and the classifier zeroed")
        }
        return report
    }

    private func initializeWeights(_ o: InitOptions, seed: UInt64,
                                   log: (String) -> Void) throws -> [LSUVLayerReport]? {
        let all = threads * compute.workers
        switch o.initializer {
        case .rbm:
            net.initialize(.rbm, seed: seed)
            let r = try RBM.pretrain(net, images: data.train.images, labels: data.train.labels, options: o.rbm,
                                     seed: seed, threads: all)
            for l in r {
                let errors = l.reconstructionError.map { String(format: "%.4f", $0) }.joined(separator: ", ")
                log("RBM \(l.layer): reconstruction error per epoch \(errors)")
            }
            return nil
        case .lsuv:
            // LSUV's minibatch: the first samples of the seeded data order
            let train = data.train, size = train.sampleSize
            var g = SplitMix64(seed: deriveSeed(seed, 77))
            let idx = g.permutation(train.count).prefix(min(o.lsuv.batchSize, train.count))
            var images = [Float](), labels = [Int32]()
            images.reserveCapacity(idx.count * size)
            for i in idx { images += train.images[(i * size)..<((i + 1) * size)]; labels.append(train.labels[i]) }
            return LSUV.run(net, images: images, labels: labels, options: o.lsuv, seed: seed, threads: all)
        default:
            net.initialize(o.initializer, seed: seed)
            return nil
        }
    }

    /// Accuracy and mean loss over a data set, in eval mode.
    public func evaluate(_ set: Dataset) -> (accuracy: Double, loss: Double) { evaluator.evaluate(set) }
}
