// One training run as typed values, and its stored form. The CLI parses flags into these at the edge
// (each sub-struct's `Flags`); past it no string is decoded. Checkpoints and summary.json store the
// settings as this type's JSON; GoodInit's first, flat records read back through LegacyConfig.
import Foundation

public struct TrainSettings: Sendable, Equatable, DefaultedSettings {
    public var model: ModelSource = .default
    public var data = DataOptions()
    public var initialization = InitOptions()
    public var optimizer = OptimizerOptions()
    public var loop = LoopOptions()
    public var compute = ComputeOptions()
    public var out = "runs/latest"
    public init() {}

    public init(model: ModelSource, data: DataOptions, initialization: InitOptions, optimizer: OptimizerOptions,
                loop: LoopOptions, compute: ComputeOptions, out: String) {
        self.model = model; self.data = data; self.initialization = initialization; self.optimizer = optimizer
        self.loop = loop; self.compute = compute; self.out = out
    }

    /// The model's name for reports: the preset's, or the file's.
    public var modelName: String { model.name }

    /// Throws a SettingError naming the first setting whose value is out of range: the CLI refuses
    /// these while parsing; this is the check for values built in code or read from a file.
    public func validate() throws {
        try loop.validate(); try data.validate(); try initialization.validate(); try optimizer.validate()
        try compute.validate()
        try SettingError.check(!out.isEmpty, "out", "must name a folder", "''")
    }
}

extension TrainSettings {
    /// Reads stored settings: this type's JSON (keys it lacks take their defaults) or a first-format
    /// flat record, with the thread budget reset (it is the reading machine's choice, not the file's).
    /// Checked: a value out of range throws.
    public static func stored(_ data: Data) throws -> TrainSettings {
        var s = try LegacyConfig.isLegacy(data) ? JSONDecoder().decode(LegacyConfig.self, from: data).settings()
                                                 : decodeOverDefaults(data)
        s.compute.workers = 1; s.compute.threads = 0
        try s.validate()
        return s
    }

    /// The stored form (sorted keys).
    public func stored() throws -> String { try storedJSON() }
}

extension TrainSettings {
    /// What every rank of one run must agree on: the settings without W and T, which never change
    /// the bits and may differ between hosts, and the checkpoint resumed from.
    public struct RankAgreement: Codable, Equatable {
        public var settings: TrainSettings
        public var resume: String?
    }

    public func rankAgreement(resume: String?) -> RankAgreement {
        var s = self
        s.compute.workers = 0; s.compute.threads = 0
        return RankAgreement(settings: s, resume: resume)
    }
}
