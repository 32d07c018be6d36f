// What a resumed run trains with: the checkpoint's stored settings, so `--resume C` alone continues
// the run as it was (model, initializer, optimizer, loop, data). A flag given beside it may change
// only what does not change what a step computes (where to write, how far to go, how often to log,
// where the data live, the threads); any other flag must agree with the stored value or is refused.
import Foundation

extension TrainSettings {
    /// Settings (stored paths; a prefix covers its subtree) a resumed run may take from its flags.
    public static let changeableOnResume = ["out", "loop.maxSteps", "loop.epochs", "loop.logEvery",
                                            "loop.injectNaNAtStep", "data.dir", "compute"]

    /// `stored` (the checkpoint's settings) with what the flags may change on resume taken from `flags`.
    /// `given(path)` tells whether the flag of a stored setting path was given; the model is given when
    /// `modelGiven` (then it is `flags.model`, which the checkpoint's network identity must match).
    /// W and T and the step budget (--steps) are always the flags'. `out` not given: the checkpoint's folder.
    /// Throws a SettingError naming the first given setting that contradicts the stored one.
    public static func resumed(stored: TrainSettings, flags: TrainSettings, checkpoint: String, modelGiven: Bool,
                               given: (String) -> Bool) throws -> TrainSettings {
        let mine = try JSONValue(stored), theirs = try JSONValue(flags)
        var result = mine
        for (path, value) in theirs.leaves() where path != "model" && !path.hasPrefix("model.") && given(path) {
            let old = mine.value(at: path) ?? .null
            if changeableOnResume.contains(where: { path == $0 || path.hasPrefix($0 + ".") }) {
                result = result.merged(with: JSONValue.nested(path, value))
            } else if old != value {
                throw SettingError(path, "\(value.text) contradicts \(checkpoint), trained with \(old.text): "
                                   + "leave it out to resume as trained, or start a new run")
            }
        }
        var s = try TrainSettings.decodeOverDefaults(JSONEncoder().encode(result))
        s.compute.workers = flags.compute.workers; s.compute.threads = flags.compute.threads
        // --steps is this invocation's budget, not the run's: a run that stopped at its --steps goes on
        // to its epochs' end (or to the --steps given now), as it always has
        s.loop.maxSteps = flags.loop.maxSteps
        if modelGiven { s.model = flags.model }
        if !given("out") {
            // by hand: NSString.deletingLastPathComponent traps on a one-character path (Foundation on Linux)
            if let slash = checkpoint.lastIndex(of: "/") {
                s.out = slash == checkpoint.startIndex ? "/" : String(checkpoint[..<slash])
            } else {
                s.out = "."
            }
        }
        try s.validate()
        return s
    }

    /// Whether a flag was given, as far as values tell: it differs from its default. (A flag given
    /// at its default value shows only on the command line: the CLI adds that test.)
    public static func differsFromDefault(_ flags: TrainSettings) throws -> (String) -> Bool {
        let a = try JSONValue(flags), d = try JSONValue(TrainSettings())
        return { path in a.value(at: path) != d.value(at: path) }
    }
}

extension JSONValue {
    /// Every leaf (not an object) with its dotted path, in sorted key order.
    func leaves(_ prefix: String = "") -> [(String, JSONValue)] {
        guard case .object(let o) = self else { return [(prefix, self)] }
        return o.sorted { $0.key < $1.key }.flatMap { k, v in v.leaves(prefix.isEmpty ? k : "\(prefix).\(k)") }
    }

    /// The value at a dotted path; nil where there is none.
    func value(at path: String) -> JSONValue? {
        var v = self
        for part in path.split(separator: ".") {
            guard case .object(let o) = v, let next = o[String(part)] else { return nil }
            v = next
        }
        return v
    }

    /// A value as a flag takes it (a string without its quotes).
    var text: String { if case .string(let s) = self { return s } else { return description } }

    /// {"a": {"b": value}} for "a.b".
    static func nested(_ path: String, _ value: JSONValue) -> JSONValue {
        path.split(separator: ".").reversed().reduce(value) { .object([String($1): $0]) }
    }
}
