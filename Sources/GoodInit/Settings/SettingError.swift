// Settings that cannot work, named by their place in the stored settings ("optimizer.lr"): the
// library says what is wrong, and the command line names its own flag for the setting.

/// A setting whose value is out of range, or that contradicts the data, the machine or a checkpoint.
public struct SettingError: Error, CustomStringConvertible {
    /// The setting's path in the stored settings, as `optimizer.lr` or `loop.batchSize`.
    public let setting: String
    /// What is wrong, as it follows the setting's name or its flag: "0.5 is not …", "must be …, got 0".
    public let problem: String
    public init(_ setting: String, _ problem: String) { self.setting = setting; self.problem = problem }
    public var description: String { "\(setting) \(problem)" }

    static func check(_ ok: Bool, _ setting: String, _ rule: String, _ value: Any) throws {
        guard ok else { throw SettingError(setting, "\(rule), got \(value)") }
    }
    static func atLeast(_ minimum: Int, _ value: Int?, _ setting: String) throws {
        if let value {
            try check(value >= minimum, setting, minimum == 0 ? "must be 0 or more" : "must be at least \(minimum)",
                      value)
        }
    }
    static func positive<T: BinaryFloatingPoint>(_ value: T, _ setting: String) throws {
        try check(value.isFinite && value > 0, setting, "must be a positive number", value)
    }
}
