// A run's settings as stored in checkpoints and summary.json: flat, every choice as the text the
// CLI reads (the keys of GoodInit's first checkpoints, which still load). Reading one back parses
// it into TrainSettings, with the same checks as the command line.
import Foundation

public struct ConfigRecord: Codable, Sendable, Equatable {
    var model = "cnn-small"
    var modelFile: String? = nil
    var activation = "relu"
    var initializer = "lsuv"
    var lsuvTolVar = 0.1
    var lsuvMaxTries = 10
    var lsuvBatch = 128
    var lsuvZeroMean = false
    var rbmEpochs = 1
    var rbmLearningRate = 0.01
    var rbmSamples = 10_000
    var data = "fashion-mnist"
    var dataDir: String? = nil
    var augment: Bool? = nil
    var trainLimit: Int? = nil
    var testLimit: Int? = nil
    var epochs = 2
    var maxSteps: Int? = nil
    var batchSize = 128
    var lr = 0.05
    var schedule = "constant"
    var momentum = 0.9
    var weightDecay = 5e-4
    var clipGradNorm: Double? = nil
    var optimizer = "sgd"
    var workers = 1
    var threads = 0
    /// nil in checkpoints from before the blocked layout (they ran plain).
    var layout: String? = nil
    /// nil in checkpoints from before the option (they never flushed).
    var flushSubnormals: Bool? = nil
    var chunk = 128
    var seed: UInt64 = 1
    var out = "runs/latest"
    var logEvery = 20
    var evalEachEpoch = true
    var injectNaNAtStep: Int? = nil

    public init(_ s: TrainSettings) {
        switch s.model {
        case let .preset(p, act): model = p.rawValue; activation = act.rawValue
        case let .file(path): model = path; modelFile = path
        }
        let i = s.initialization
        initializer = i.initializer.description
        lsuvTolVar = i.lsuv.tolVar; lsuvMaxTries = i.lsuv.maxTries; lsuvBatch = i.lsuv.batchSize
        lsuvZeroMean = i.lsuv.zeroMean
        rbmEpochs = i.rbm.epochs; rbmLearningRate = Double("\(i.rbm.learningRate)") ?? 0.01; rbmSamples = i.rbm.samples
        data = s.data.source.rawValue; dataDir = s.data.dir; augment = s.data.augment
        trainLimit = s.data.trainLimit; testLimit = s.data.testLimit
        let l = s.loop
        epochs = l.epochs; maxSteps = l.maxSteps; batchSize = l.batchSize; chunk = l.chunk; seed = l.seed
        logEvery = l.logEvery; evalEachEpoch = l.evalEachEpoch; injectNaNAtStep = l.injectNaNAtStep
        let o = s.optimizer
        lr = o.lr; schedule = o.schedule.description; momentum = o.momentum; weightDecay = o.weightDecay
        clipGradNorm = o.clipGradNorm
        optimizer = o.kind.rawValue
        workers = s.compute.workers; threads = s.compute.threads; layout = s.compute.layout.rawValue
        flushSubnormals = s.compute.flushSubnormals
        out = s.out
    }

    /// The typed settings; throws naming the first key (by its command-line flag) that does not parse.
    public func settings() throws -> TrainSettings {
        func parsed<T>(_ flag: String, _ text: String, _ make: (String) -> T?) throws -> T {
            guard let v = make(text) else { throw TrainingError("--\(flag) '\(text)' is not a known value") }
            return v
        }
        var s = TrainSettings()
        if let modelFile {
            s.model = .file(modelFile)
        } else {
            s.model = .preset(try parsed("model", model, ModelPreset.init(rawValue:)),
                              activation: try parsed("activation", activation, ActivationKind.init(rawValue:)))
        }
        do {
            s.initialization.initializer = try Initializer(parsing: initializer)
            s.optimizer.schedule = try Schedule(parsing: schedule)
        } catch { throw TrainingError("\(error)") }
        s.initialization.lsuv.tolVar = lsuvTolVar; s.initialization.lsuv.maxTries = lsuvMaxTries
        s.initialization.lsuv.batchSize = lsuvBatch; s.initialization.lsuv.zeroMean = lsuvZeroMean
        s.initialization.rbm.epochs = rbmEpochs; s.initialization.rbm.learningRate = Float(rbmLearningRate)
        s.initialization.rbm.samples = rbmSamples
        s.data = DataOptions(source: try parsed("data", data, DataSource.init(rawValue:)), dir: dataDir)
        s.data.augment = augment; s.data.trainLimit = trainLimit; s.data.testLimit = testLimit
        s.loop.epochs = epochs; s.loop.maxSteps = maxSteps; s.loop.batchSize = batchSize; s.loop.chunk = chunk
        s.loop.seed = seed; s.loop.logEvery = logEvery; s.loop.evalEachEpoch = evalEachEpoch
        s.loop.injectNaNAtStep = injectNaNAtStep
        s.optimizer.kind = try parsed("optimizer", optimizer, Optimizer.Kind.init(rawValue:))
        s.optimizer.lr = lr; s.optimizer.momentum = momentum; s.optimizer.weightDecay = weightDecay
        s.optimizer.clipGradNorm = clipGradNorm
        s.compute = ComputeOptions(workers: workers, threads: threads,
                                   layout: try parsed("layout", layout ?? "plain", LayoutPolicy.init(rawValue:)),
                                   flushSubnormals: flushSubnormals ?? false)
        s.out = out
        try s.validate()
        return s
    }
}

extension ConfigRecord {
    /// What every rank of one run must agree on (JSON, sorted keys): the configuration without W and
    /// T, which never change the bits and may differ between hosts, and the checkpoint resumed from.
    public static func rankAgreement(_ s: TrainSettings, resume: String?) -> String {
        var r = ConfigRecord(s)
        r.workers = 0; r.threads = 0
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let json = (try? enc.encode(r)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return String(json.dropLast()) + ",\"resume\":\"\(resume ?? "")\"}"
    }
}
