// What a training run is, as typed values: the CLI parses flags into these at the edge; past it
// no string is decoded. A few small structs, one per concern, gathered in `TrainSettings`.
import Foundation

/// Where the network comes from: a named preset (with its activation) or a model file.
public enum ModelSource: Sendable, Equatable {
    case preset(ModelPreset, activation: ActivationKind = .relu)
    case file(String)
}

/// The data set, where its files are, and how much of it a run uses.
public struct DataOptions: Sendable, Equatable {
    public var source: DataSource = .fashionMNIST
    public var dir: String? = nil
    public var trainLimit: Int? = nil     // use only the first N training samples
    public var testLimit: Int? = nil
    /// Random crop (pad 4) and horizontal flip; nil: the data set's default (on for CIFAR).
    public var augment: Bool? = nil
    public var augments: Bool { augment ?? source.augmentsByDefault }
    public init(source: DataSource = .fashionMNIST, dir: String? = nil) { self.source = source; self.dir = dir }
}

/// How the weights start.
public struct InitOptions: Sendable {
    public var initializer: Initializer = .lsuv
    public var lsuv = LSUVOptions()
    public var rbm = RBMOptions()
    public init(_ initializer: Initializer = .lsuv) { self.initializer = initializer }
}

/// The optimizer and its learning-rate schedule.
public struct OptimizerOptions: Sendable, Equatable {
    public var kind: Optimizer.Kind = .sgd
    public var lr = 0.05
    public var schedule: Schedule = .constant
    public var momentum = 0.9
    public var weightDecay = 5e-4
    /// Scale the gradient down to this L2 norm when it is longer (PyTorch's clip_grad_norm_,
    /// before weight decay); nil: never.
    public var clipGradNorm: Double? = nil
    public init() {}
}

/// How long a run is and how it walks the data.
public struct LoopOptions: Sendable, Equatable {
    public var epochs = 2
    public var maxSteps: Int? = nil       // stop after this many steps in all
    public var batchSize = 128
    public var chunk = 128                // samples per chunk: the unit of work and of gradient sums
    public var seed: UInt64 = 1
    public var logEvery = 20
    public var evalEachEpoch = true
    public var injectNaNAtStep: Int? = nil   // testing: poison the first weight of the first layer
    public init() {}
}

/// W Dispatch workers × T OpenMP threads; threads 0 means cores / W.
public struct ComputeOptions: Sendable, Equatable {
    public var workers = 1
    public var threads = 0
    /// Unlike W and T, the layout changes the bits (the convolutions' summation order).
    public var layout = LayoutPolicy.auto
    /// Subnormal floats become zero (x86 FTZ + DAZ). Off by default, as in PyTorch: a run whose
    /// signal decays into subnormals (deep nets from N(0, 0.01²)) then keeps full speed, at the
    /// price of bits that differ from an IEEE run once a subnormal appears.
    public var flushSubnormals = false
    public init(workers: Int = 1, threads: Int = 0, layout: LayoutPolicy = .auto, flushSubnormals: Bool = false) {
        self.workers = workers; self.threads = threads; self.layout = layout; self.flushSubnormals = flushSubnormals
    }

    /// The most threads or workers accepted: far beyond that a run only thrashes (or libomp aborts).
    public static var threadLimit: Int { min(1024, 4 * ProcessInfo.processInfo.activeProcessorCount) }

    /// T for each worker: the given count, or the cores shared among the workers.
    public var threadsPerWorker: Int {
        threads > 0 ? threads : max(1, ProcessInfo.processInfo.activeProcessorCount / workers)
    }
}

/// One training run, typed.
public struct TrainSettings: Sendable {
    public var model: ModelSource = .preset(.cnnSmall)
    public var data = DataOptions()
    public var initialization = InitOptions()
    public var optimizer = OptimizerOptions()
    public var loop = LoopOptions()
    public var compute = ComputeOptions()
    public var out = "runs/latest"
    public init() {}

    /// The model's name for reports: the preset's, or the file's.
    public var modelName: String {
        switch model {
        case .preset(let p, _): return p.rawValue
        case .file(let path): return path
        }
    }
}

/// ⌈batch / chunk⌉ without the overflow of (batch + chunk − 1) / chunk for sizes near Int.max.
func chunks(batch: Int, chunk: Int) -> Int { batch / chunk + (batch % chunk == 0 ? 0 : 1) }

extension TrainSettings {
    /// Throws a TrainingError naming the first flag whose value is out of range: the CLI refuses
    /// these while parsing; this is the backstop for values built in code or read from a file.
    public func validate() throws {
        func need(_ ok: Bool, _ flag: String, _ rule: String, _ value: Any) throws {
            guard ok else { throw TrainingError("--\(flag) \(rule), got \(value)") }
        }
        func positive(_ v: Int?, _ flag: String) throws {
            if let v { try need(v >= 1, flag, "must be at least 1", v) }
        }
        try positive(loop.epochs, "epochs"); try positive(loop.batchSize, "batch-size")
        try positive(loop.chunk, "chunk"); try positive(loop.logEvery, "log-every")
        try positive(data.trainLimit, "train-limit"); try positive(data.testLimit, "test-limit")
        let (lsuv, rbm) = (initialization.lsuv, initialization.rbm)
        try positive(lsuv.batchSize, "lsuv-batch")
        try positive(rbm.epochs, "rbm-epochs"); try positive(rbm.samples, "rbm-samples")
        if let s = loop.maxSteps { try need(s >= 0, "steps", "must be 0 or more", s) }
        if let s = loop.injectNaNAtStep { try need(s >= 0, "inject-nan-at-step", "must be 0 or more", s) }
        try need(lsuv.maxTries >= 0, "lsuv-max-tries", "must be 0 or more", lsuv.maxTries)
        try need(optimizer.lr.isFinite && optimizer.lr > 0, "lr", "must be a positive number", optimizer.lr)
        try need(lsuv.tolVar.isFinite && lsuv.tolVar > 0, "lsuv-tol", "must be a positive number", lsuv.tolVar)
        try need(rbm.learningRate.isFinite && rbm.learningRate > 0, "rbm-lr", "must be a positive number",
                 rbm.learningRate)
        let m = optimizer.momentum
        try need(m.isFinite && m >= 0 && m < 1, "momentum", "must be in [0, 1)", m)
        try need(optimizer.weightDecay.isFinite && optimizer.weightDecay >= 0, "weight-decay",
                 "must be 0 or a positive number", optimizer.weightDecay)
        if let c = optimizer.clipGradNorm {
            try need(c.isFinite && c > 0, "clip-grad-norm", "must be a positive number", c)
        }
        let limit = ComputeOptions.threadLimit
        try need(compute.workers >= 1 && compute.workers <= limit, "workers",
                 "must be in 1...\(limit) (4 × the cores, at most 1024)", compute.workers)
        try need(compute.threads >= 0 && compute.threads <= limit, "threads",
                 "must be 0 (auto) or at most \(limit) (4 × the cores, at most 1024)", compute.threads)
        try need(!out.isEmpty, "out", "must name a folder", "''")
    }
}
