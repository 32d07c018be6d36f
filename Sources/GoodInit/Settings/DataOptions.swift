// The data set, where its files are, how much of it a run uses, and its flags.
import ArgumentParser

public struct DataOptions: Sendable, Equatable, DefaultedSettings {
    public var source: DataSource = .fashionMNIST
    public var dir: String? = nil
    public var trainLimit: Int? = nil     // use only the first N training samples
    public var testLimit: Int? = nil
    /// Random crop (pad 4) and horizontal flip; nil: the data set's default (on for CIFAR).
    public var augment: Bool? = nil
    public var augments: Bool { augment ?? source.augmentsByDefault }
    public init() {}
    public init(source: DataSource = .fashionMNIST, dir: String? = nil) { self.source = source; self.dir = dir }

    func validate() throws {
        try SettingError.atLeast(1, trainLimit, "data.trainLimit")
        try SettingError.atLeast(1, testLimit, "data.testLimit")
    }
}

extension DataOptions {
    public struct Flags: ParsableArguments, Sendable {
        @Option(name: .customLong("data"), help: "Data set.") public var source = DataOptions().source
        @Option(name: .customLong("data-dir"), help: "Folder with the data set's files.") public var dir: String?
        @Flag(inversion: .prefixedNo, help: "Random crop (pad 4) and horizontal flip (default: on for CIFAR).")
        public var augment: Bool?
        @Option(parsing: .unconditional, help: "Use only the first N training samples.", transform: Parse.positiveInt)
        public var trainLimit: Int?
        @Option(parsing: .unconditional, help: "Use only the first N test samples.", transform: Parse.positiveInt)
        public var testLimit: Int?
        public init() {}

        public var options: DataOptions {
            var d = DataOptions(source: source, dir: dir)
            d.augment = augment; d.trainLimit = trainLimit; d.testLimit = testLimit
            return d
        }
    }
}
