// Option values parsed into typed values at the edge: a value out of range or misspelt is refused
// while the arguments are parsed, with the flag, the value and the rule in one line (exit code 64).
// Numeric options parse `.unconditional`ly, so `--lr -0.1` reads -0.1 as the value (and refuses it
// as negative) instead of taking it for another flag. The settings' flag groups and the commands
// share these.
import ArgumentParser
import Foundation

/// Why an option's value was refused; ArgumentParser prints it after the flag and the value.
public struct ValueError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Parsers for option values, one per rule; each throws a ValueError naming the rule.
public enum Parse {
    public static func int(_ text: String, min: Int, max: Int = Int.max) throws -> Int {
        guard let v = Int(text) else { throw ValueError("not a whole number") }
        guard v >= min, v <= max else {
            throw ValueError(max == Int.max ? "must be at least \(min)" : "must be in \(min)...\(max)")
        }
        return v
    }

    @Sendable public static func positiveInt(_ text: String) throws -> Int { try int(text, min: 1) }
    @Sendable public static func nonNegativeInt(_ text: String) throws -> Int { try int(text, min: 0) }

    /// A finite number for which `ok` holds; `rule` says what that means in the message.
    public static func double(_ text: String, _ rule: String, _ ok: (Double) -> Bool) throws -> Double {
        guard let v = Double(text), v.isFinite else { throw ValueError("not a finite number") }
        guard ok(v) else { throw ValueError(rule) }
        return v
    }

    @Sendable public static func positiveDouble(_ text: String) throws -> Double {
        try double(text, "must be a positive number") { $0 > 0 }
    }

    /// Threads or workers: at most 4 × the cores and at most 1024.
    public static func threads(_ text: String, min: Int) throws -> Int {
        try int(text, min: min, max: ComputeOptions.threadLimit)
    }

    /// Any value with a parsing initializer (initializers, schedules), its error as the rule.
    @Sendable public static func text<T: TextCodable>(_ text: String) throws -> T {
        do { return try T(parsing: text) } catch { throw ValueError("\(error)") }
    }

    /// A name from a list too long for ArgumentParser's one-per-line listing: one line, names joined.
    @Sendable public static func named<T: CaseIterable & RawRepresentable<String>>(_ text: String) throws -> T {
        guard let v = T(rawValue: text) else {
            throw ValueError("one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }
}

extension ArgumentHelp {
    /// Help text that ends in "(default: …)" as ArgumentParser writes it for options it parses
    /// itself: options with a `transform` would otherwise show no default.
    public static func withDefault(_ text: String, _ value: some CustomStringConvertible) -> ArgumentHelp {
        ArgumentHelp("\(text) (default: \(value))")
    }
}

// The library's named choices, read straight from their names ("fashion-mnist", "plain30", …).
extension ModelPreset: ExpressibleByArgument {}
extension ActivationKind: ExpressibleByArgument {}
extension DataSource: ExpressibleByArgument {}
extension Optimizer.Kind: ExpressibleByArgument {}
extension ExperimentName: ExpressibleByArgument {}
extension LayoutPolicy: ExpressibleByArgument {}
