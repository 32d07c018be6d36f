// The checks every settings type's validate() runs: a value out of range is a SettingError naming
// the setting by its place in the stored settings.

extension SettingError {
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
