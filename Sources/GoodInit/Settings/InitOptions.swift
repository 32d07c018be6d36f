// How the weights start (the initializer, LSUV's and RBM pre-training's knobs), and their flags.
import ArgumentParser

public struct InitOptions: Sendable, Equatable, DefaultedSettings {
    public var initializer: Initializer = .lsuv
    public var lsuv = LSUVOptions()
    public var rbm = RBMOptions()
    /// γ = 0 in each residual branch's last batch norm, after the initializer (and LSUV).
    public var zeroInitResidual = false
    /// Fixup's rescaling of the residual branches (Zhang et al. 2019), after the initializer.
    public var fixup = false
    public init() {}
    public init(_ initializer: Initializer) { self.initializer = initializer }

    func validate() throws {
        try SettingError.positive(lsuv.tolVar, "initialization.lsuv.tolVar")
        try SettingError.atLeast(0, lsuv.maxTries, "initialization.lsuv.maxTries")
        try SettingError.atLeast(1, lsuv.batchSize, "initialization.lsuv.batchSize")
        try SettingError.atLeast(1, rbm.epochs, "initialization.rbm.epochs")
        try SettingError.positive(rbm.learningRate, "initialization.rbm.learningRate")
        try SettingError.atLeast(1, rbm.samples, "initialization.rbm.samples")
    }
}

extension Initializer: TextCodable {}

extension InitOptions {
    public struct Flags: ParsableArguments, Sendable {
        static let defaults = InitOptions()
        @Option(name: .customLong("init"),
                help: .withDefault("Initializer: lsuv, he-normal[:fan_out], he-uniform, xavier-uniform, xavier-normal, "
                    + "orthogonal[:GAIN], normal:STD, uniform:A, constant:V, zeros, pytorch-default, rbm (MLPs).",
                    defaults.initializer), transform: Parse.text)
        public var initializer = defaults.initializer
        @Option(parsing: .unconditional, help: .withDefault("LSUV: tolerance on |Var − 1|.", defaults.lsuv.tolVar),
                transform: Parse.positiveDouble)
        public var lsuvTol = defaults.lsuv.tolVar
        @Option(parsing: .unconditional, help: .withDefault("LSUV: maximum tries per layer.", defaults.lsuv.maxTries),
                transform: Parse.nonNegativeInt)
        public var lsuvMaxTries = defaults.lsuv.maxTries
        @Option(parsing: .unconditional, help: .withDefault("LSUV: minibatch size.", defaults.lsuv.batchSize),
                transform: Parse.positiveInt)
        public var lsuvBatch = defaults.lsuv.batchSize
        @Flag(help: "LSUV: also zero each layer's output mean through its bias.")
        public var lsuvZeroMean = defaults.lsuv.zeroMean
        @Option(parsing: .unconditional,
                help: .withDefault("RBM pre-training (--init rbm): epochs per layer.", defaults.rbm.epochs),
                transform: Parse.positiveInt)
        public var rbmEpochs = defaults.rbm.epochs
        @Option(parsing: .unconditional,
                help: .withDefault("RBM pre-training: learning rate.", defaults.rbm.learningRate),
                transform: Parse.positiveDouble)
        public var rbmLr = Double(defaults.rbm.learningRate)
        @Option(parsing: .unconditional,
                help: .withDefault("RBM pre-training: training samples used.", defaults.rbm.samples),
                transform: Parse.positiveInt)
        public var rbmSamples = defaults.rbm.samples
        @Flag(help: ArgumentHelp("Zero the γ of each residual branch's last batch norm after initializing "
                                 + "(torchvision's zero_init_residual): every block starts as its shortcut."))
        public var zeroInitResidual = defaults.zeroInitResidual
        @Flag(help: ArgumentHelp("Fixup (Zhang et al. 2019) after initializing, for residual nets without batch "
                                 + "norm: each branch's last layer and the last linear layer start at zero, the "
                                 + "branch's other layers are scaled by L^(-1/(2m-2)) (L branches of m layers)."))
        public var fixup = defaults.fixup
        public init() {}

        public var options: InitOptions {
            var i = InitOptions(initializer)
            i.lsuv.tolVar = lsuvTol; i.lsuv.maxTries = lsuvMaxTries; i.lsuv.batchSize = lsuvBatch
            i.lsuv.zeroMean = lsuvZeroMean
            i.rbm.epochs = rbmEpochs; i.rbm.learningRate = Float(rbmLr); i.rbm.samples = rbmSamples
            i.zeroInitResidual = zeroInitResidual; i.fixup = fixup
            return i
        }
    }
}
