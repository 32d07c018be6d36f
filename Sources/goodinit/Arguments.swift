// Option values parsed into typed values at the edge: a value out of range or misspelt is
// refused while the arguments are parsed, with the flag, the value and the rule in one line
// (exit code 64). Numeric options parse `.unconditional`ly, so `--lr -0.1` reads -0.1 as the
// value (and refuses it as negative) instead of taking it for another flag.
import ArgumentParser
import Foundation
import GoodInit

/// Why an option's value was refused; ArgumentParser prints it after the flag and the value.
struct ValueError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Parsers for option values, one per rule; each throws a ValueError naming the rule.
enum Parse {
    static func int(_ text: String, min: Int, max: Int = Int.max) throws -> Int {
        guard let v = Int(text) else { throw ValueError("not a whole number") }
        guard v >= min, v <= max else {
            throw ValueError(max == Int.max ? "must be at least \(min)" : "must be in \(min)...\(max)")
        }
        return v
    }

    static func positiveInt(_ text: String) throws -> Int { try int(text, min: 1) }
    static func nonNegativeInt(_ text: String) throws -> Int { try int(text, min: 0) }

    /// A finite number for which `ok` holds; `rule` says what that means in the message.
    static func double(_ text: String, _ rule: String, _ ok: (Double) -> Bool) throws -> Double {
        guard let v = Double(text), v.isFinite else { throw ValueError("not a finite number") }
        guard ok(v) else { throw ValueError(rule) }
        return v
    }

    static func positiveDouble(_ text: String) throws -> Double {
        try double(text, "must be a positive number") { $0 > 0 }
    }

    /// Threads or workers: at most 4 × the cores and at most 1024.
    static func threads(_ text: String, min: Int) throws -> Int {
        try int(text, min: min, max: ComputeOptions.threadLimit)
    }

    static func initializer(_ text: String) throws -> Initializer {
        do { return try Initializer(parsing: text) } catch { throw ValueError("\(error)") }
    }

    /// A name from a list too long for ArgumentParser's one-per-line listing: one line, names joined.
    static func named<T: CaseIterable & RawRepresentable<String>>(_ text: String) throws -> T {
        guard let v = T(rawValue: text) else {
            throw ValueError("one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    static func preset(_ text: String) throws -> ModelPreset { try named(text) }

    static func schedule(_ text: String) throws -> Schedule {
        do { return try Schedule(parsing: text) } catch { throw ValueError("\(error)") }
    }
}

// The library's named choices, read straight from their names ("fashion-mnist", "plain30", …).
extension ModelPreset: ExpressibleByArgument {}
extension ActivationKind: ExpressibleByArgument {}
extension DataSource: ExpressibleByArgument {}
extension Optimizer.Kind: ExpressibleByArgument {}
extension ExperimentName: ExpressibleByArgument {}
extension LayoutPolicy: ExpressibleByArgument {}
