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
        try int(text, min: min, max: TrainConfig.threadLimit)
    }

    static func initializer(_ text: String) throws -> Choice<Initializer> {
        do { return Choice(text: text, value: try Initializer(parsing: text)) } catch { throw ValueError("\(error)") }
    }

    static func schedule(_ text: String) throws -> Choice<Schedule> {
        do { return Choice(text: text, value: try Schedule(parsing: text)) } catch { throw ValueError("\(error)") }
    }

    static func preset(_ text: String) throws -> String {
        guard Presets.names.contains(text) else { throw ValueError("one of \(Presets.names.joined(separator: ", "))") }
        return text
    }

    static func experiment(_ text: String) throws -> String {
        guard Experiments.names.contains(text) else {
            throw ValueError("one of " + Experiments.names.joined(separator: ", "))
        }
        return text
    }
}

/// A parsed value with the text it came from: the library computes with the value, the stored
/// configuration (checkpoint metadata, summary.json) keeps the text the user wrote.
struct Choice<Value: Sendable>: Sendable {
    let text: String
    let value: Value
}

enum DataSetName: String, CaseIterable, ExpressibleByArgument {
    case fashionMNIST = "fashion-mnist", mnist, cifar10, cifar100, synthetic
}

enum ActivationName: String, CaseIterable, ExpressibleByArgument {
    case relu, vlrelu, tanh, maxout, prelu, preluShared = "prelu-shared", sigmoid
}

enum OptimizerName: String, CaseIterable, ExpressibleByArgument {
    case sgd, adam
}

enum Switch: String, CaseIterable, ExpressibleByArgument {
    case on, off
}
