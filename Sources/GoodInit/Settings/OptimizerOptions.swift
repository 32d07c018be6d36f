// The optimizer, its learning-rate schedule and gradient clipping, and their flags.
import ArgumentParser

public struct OptimizerOptions: Sendable, Equatable, DefaultedSettings {
    public var kind: Optimizer.Kind = .sgd
    public var lr = 0.05
    public var schedule: Schedule = .constant
    public var momentum = 0.9
    public var weightDecay = 5e-4
    /// Scale the gradient down to this L2 norm when it is longer (PyTorch's clip_grad_norm_,
    /// before weight decay); nil: never.
    public var clipGradNorm: Double? = nil
    public init() {}

    func validate() throws {
        try SettingError.positive(lr, "optimizer.lr")
        // the weights are Float32: a smaller rate is 0 or subnormal there, and the run would not learn
        try SettingError.check(Float(lr) >= Float.leastNormalMagnitude && Float(lr).isFinite, "optimizer.lr",
                               "must be a normal Float32 number, at least \(Float.leastNormalMagnitude) (smaller "
                               + "rates round to 0 in the weights' precision)", lr)
        try SettingError.check(momentum.isFinite && momentum >= 0 && momentum < 1, "optimizer.momentum",
                               "must be in [0, 1)", momentum)
        try SettingError.check(weightDecay.isFinite && weightDecay >= 0, "optimizer.weightDecay",
                               "must be 0 or a positive number", weightDecay)
        if let clipGradNorm { try SettingError.positive(clipGradNorm, "optimizer.clipGradNorm") }
    }
}

extension OptimizerOptions {
    public struct Flags: ParsableArguments, Sendable {
        static let defaults = OptimizerOptions()
        @Option(name: .customLong("optimizer"), help: "Optimizer.") public var kind = defaults.kind
        @Option(parsing: .unconditional, help: .withDefault("Learning rate.", defaults.lr),
                transform: Parse.positiveDouble)
        public var lr = defaults.lr
        @Option(help: .withDefault("Schedule: constant, step:EVERY_EPOCHS[:GAMMA], cosine; warmup:STEPS[,SCHEDULE] "
                                   + "ramps lr linearly over STEPS first.", defaults.schedule), transform: Parse.text)
        public var schedule = defaults.schedule
        @Option(parsing: .unconditional, help: .withDefault("Momentum, in [0, 1).", defaults.momentum),
                transform: { try Parse.double($0, "must be in [0, 1)") { $0 >= 0 && $0 < 1 } })
        public var momentum = defaults.momentum
        @Option(parsing: .unconditional,
                help: .withDefault("Weight decay (not on biases, BN, PReLU slopes).", defaults.weightDecay),
                transform: { try Parse.double($0, "must be 0 or a positive number") { $0 >= 0 } })
        public var weightDecay = defaults.weightDecay
        @Option(parsing: .unconditional,
                help: ArgumentHelp("Scale the gradient down to this L2 norm when longer (as PyTorch's "
                    + "clip_grad_norm_, before weight decay)."), transform: Parse.positiveDouble)
        public var clipGradNorm: Double?
        public init() {}

        public var options: OptimizerOptions {
            var o = OptimizerOptions()
            o.kind = kind; o.lr = lr; o.schedule = schedule; o.momentum = momentum; o.weightDecay = weightDecay
            o.clipGradNorm = clipGradNorm
            return o
        }
    }
}
