// The library's errors, one type per kind of failure: each names what is wrong in its description,
// which is what the CLI prints (a SettingError with the flag for its setting).

/// Thrown when a data, model, checkpoint, metrics or results file cannot be read or used: the file and why.
public struct DataError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }
    public var description: String { "\(file): \(problem)" }
}

/// Thrown when a layer does not fit its input or the machine (sizes, memory); names the model file it came from.
public struct ShapeError: Error, CustomStringConvertible {
    public let op: String
    public let problem: String
    /// The model file that described the network, set where the network is built from one.
    public var file: String?
    public init(_ op: String, _ problem: String) {
        self.op = op
        self.problem = problem
    }
    public var description: String { (file.map { "\($0): " } ?? "") + "\(op): \(problem)" }
}

/// Thrown when an initializer, schedule or pre-training is asked for in a form or on a net it does not support.
public struct InitError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Thrown when the settings, data and ranks of a run do not fit together, before or at resume.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Thrown when training stopped because a loss or gradient became NaN/Inf: a property of the run (too
/// high a learning rate, a bad init), not of the input, so experiments record it instead of aborting.
/// Every rank sees it at the same step: they hold the same weights and agree on its location.
public struct DivergenceError: ErrorOnEveryRank, CustomStringConvertible {
    public let step: Int          // 1-based step whose forward or backward went non-finite
    public let location: String   // the first layer whose output or gradient is NaN/Inf
    public let checkpoint: String?
    public var description: String {
        "non-finite value at step \(step): \(location) is NaN/Inf; the last good checkpoint is "
            + (checkpoint ?? "none (no epoch finished yet)")
    }
}

/// A setting whose value is out of range, or that contradicts the data, the machine or a checkpoint.
public struct SettingError: Error, CustomStringConvertible {
    /// The setting's path in the stored settings, as `optimizer.lr` or `loop.batchSize`.
    public let setting: String
    /// What is wrong, as it follows the setting's name or its flag: "0.5 is not …", "must be …, got 0".
    public let problem: String
    public init(_ setting: String, _ problem: String) { self.setting = setting; self.problem = problem }
    public var description: String { "\(setting) \(problem)" }
}

/// An error every rank throws at the same point of the run (a configuration mismatch, a divergence
/// seen by all): the ranks can end together and normally, where an error on one rank must abort.
public protocol ErrorOnEveryRank: Error {}

/// Ranks that were started differently (checkSame).
public struct RankMismatch: ErrorOnEveryRank, CustomStringConvertible {
    public let description: String
}

/// A `bench scaling` run that cannot be modelled (no regions traced, a trace buffer too small).
public struct ScalingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
