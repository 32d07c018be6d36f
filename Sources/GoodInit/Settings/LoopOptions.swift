// How long a run is and how it walks the data, and their flags.
import ArgumentParser

public struct LoopOptions: Sendable, Equatable, DefaultedSettings {
    public var epochs = 2
    public var maxSteps: Int? = nil       // stop after this many steps in all
    public var batchSize = 128
    public var chunk = 128                // samples per chunk: the unit of work and of gradient sums
    public var seed: UInt64 = 1
    public var logEvery = 20
    public var evalEachEpoch = true
    public var injectNaNAtStep: Int? = nil   // testing: poison the first weight of the first layer
    public init() {}

    /// The batch's chunks: the unit of data-parallel work and of the gradient sum's order.
    public var chunking: Chunking { Chunking(batch: batchSize, chunk: chunk) }

    func validate() throws {
        try SettingError.atLeast(1, epochs, "loop.epochs")
        try SettingError.atLeast(1, batchSize, "loop.batchSize")
        try SettingError.atLeast(1, chunk, "loop.chunk")
        try SettingError.atLeast(1, logEvery, "loop.logEvery")
        try SettingError.atLeast(0, maxSteps, "loop.maxSteps")
        try SettingError.atLeast(0, injectNaNAtStep, "loop.injectNaNAtStep")
    }
}

extension LoopOptions {
    public struct Flags: ParsableArguments, Sendable {
        static let defaults = LoopOptions()
        @Option(parsing: .unconditional, help: .withDefault("Epochs.", defaults.epochs), transform: Parse.positiveInt)
        public var epochs = defaults.epochs
        @Option(name: .customLong("steps"), parsing: .unconditional,
                help: "Stop after this many steps (0: initialize, save and stop).", transform: Parse.nonNegativeInt)
        public var maxSteps: Int?
        @Option(parsing: .unconditional, help: .withDefault("Minibatch size.", defaults.batchSize),
                transform: Parse.positiveInt)
        public var batchSize = defaults.batchSize
        @Option(parsing: .unconditional,
                help: .withDefault("Samples per chunk: the unit of data-parallel work and of gradient reduction "
                    + "(W workers need batch / chunk ≥ W chunks to share).", defaults.chunk),
                transform: Parse.positiveInt)
        public var chunk = defaults.chunk
        @Option(parsing: .unconditional, help: .withDefault("Log a metrics line every N steps.", defaults.logEvery),
                transform: Parse.positiveInt)
        public var logEvery = defaults.logEvery
        @Option(name: .customLong("inject-nan-at-step"), parsing: .unconditional,
                help: ArgumentHelp("Testing: poison a weight at this step.", visibility: .hidden),
                transform: Parse.nonNegativeInt)
        public var injectNaNAtStep: Int?
        public init() {}

        /// The loop's flags with the seed of the compute flags.
        public func options(seed: UInt64) -> LoopOptions {
            var l = LoopOptions()
            l.epochs = epochs; l.maxSteps = maxSteps; l.batchSize = batchSize; l.chunk = chunk
            l.logEvery = logEvery; l.injectNaNAtStep = injectNaNAtStep; l.seed = seed
            return l
        }
    }
}
