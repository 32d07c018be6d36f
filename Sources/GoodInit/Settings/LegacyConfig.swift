// GoodInit's first stored settings: one flat record, every choice as the text the CLI reads. Only
// read (checkpoints and summaries written before TrainSettings became the stored form still load);
// this is the one place that knows its keys.
import Foundation

struct LegacyConfig: Decodable {
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
    var layout: String? = nil          // nil: from before the blocked layout (they ran plain)
    var flushSubnormals: Bool? = nil   // nil: from before the option (they never flushed)
    var chunk = 128
    var seed: UInt64 = 1
    var out = "runs/latest"
    var logEvery = 20
    var evalEachEpoch = true
    var injectNaNAtStep: Int? = nil

    /// A flat record has the model as a name where TrainSettings has an object.
    static func isLegacy(_ data: Data) throws -> Bool {
        guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: data) else { return false }
        if case .string = o["model"] { return true }
        return false
    }

    /// The typed settings; throws naming the first key that does not parse.
    func settings() throws -> TrainSettings {
        func parsed<T>(_ key: String, _ text: String, _ make: (String) -> T?) throws -> T {
            guard let v = make(text) else { throw SettingError(key, "'\(text)' is not a known value") }
            return v
        }
        // every text parsed into a local first, then assigned
        let source: ModelSource
        if let modelFile {
            source = .file(modelFile)
        } else {
            let preset = try parsed("model", model, ModelPreset.init(rawValue:))
            source = .preset(preset, activation: try parsed("activation", activation, ActivationKind.init(rawValue:)))
        }
        let initializer: Initializer, schedule: Schedule
        do { initializer = try Initializer(parsing: self.initializer) } catch {
            throw SettingError("initializer", "\(error)")
        }
        do { schedule = try Schedule(parsing: self.schedule) } catch { throw SettingError("schedule", "\(error)") }
        let dataSource = try parsed("data", data, DataSource.init(rawValue:))
        let kind = try parsed("optimizer", optimizer, Optimizer.Kind.init(rawValue:))
        let layout = try parsed("layout", self.layout ?? "plain", LayoutPolicy.init(rawValue:))
        var s = TrainSettings()
        s.model = source
        s.initialization.initializer = initializer
        s.optimizer.schedule = schedule
        s.initialization.lsuv.tolVar = lsuvTolVar; s.initialization.lsuv.maxTries = lsuvMaxTries
        s.initialization.lsuv.batchSize = lsuvBatch; s.initialization.lsuv.zeroMean = lsuvZeroMean
        s.initialization.rbm.epochs = rbmEpochs; s.initialization.rbm.learningRate = Float(rbmLearningRate)
        s.initialization.rbm.samples = rbmSamples
        s.data = DataOptions(source: dataSource, dir: dataDir)
        s.data.augment = augment; s.data.trainLimit = trainLimit; s.data.testLimit = testLimit
        s.loop.epochs = epochs; s.loop.maxSteps = maxSteps; s.loop.batchSize = batchSize; s.loop.chunk = chunk
        s.loop.seed = seed; s.loop.logEvery = logEvery; s.loop.evalEachEpoch = evalEachEpoch
        s.loop.injectNaNAtStep = injectNaNAtStep
        s.optimizer.kind = kind
        s.optimizer.lr = lr; s.optimizer.momentum = momentum; s.optimizer.weightDecay = weightDecay
        s.optimizer.clipGradNorm = clipGradNorm
        s.compute = ComputeOptions(workers: workers, threads: threads,
                                   layout: layout,
                                   flushSubnormals: flushSubnormals ?? false)
        s.out = out
        return s
    }
}
