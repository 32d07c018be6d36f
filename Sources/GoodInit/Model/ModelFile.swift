// User-described networks in YAML or JSON (JSON is YAML):
//   name: mynet
//   input: [1, 28, 28]
//   layers:
//     - conv: {out: 32, kernel: 3, stride: 1, padding: 1, bias: false}
//     - batchnorm
//     - relu
//     - maxpool: {window: 2}
//     - residual: [ {conv: {out: 32}}, batchnorm, relu ]
//     - residual: {shortcut: projection, layers: [ {conv: {out: 64, stride: 2}}, batchnorm ]}
//     - flatten
//     - linear: {out: 10}
// Errors name the file and the key path ("layers[3].conv.kernal: unknown key").
// Limits, checked before the YAML parser runs: at most 1 MiB, nesting at most 128 levels, no
// anchors or aliases (&, *, <<); sizes, strides and windows are integers in 1...2^20 (padding 0...).
import Foundation
import Yams

public enum ModelFile {
    public static func load(_ path: String) throws -> (name: String, input: [Int], layers: [LayerSpec]) {
        try parse(read(path), file: path)
    }

    /// The file's text (checkpoints keep it, so a network is rebuilt without the file).
    public static func read(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DataError(file: path, problem: "cannot read the model file")
        }
        return text
    }

    public static func parse(_ text: String, file: String) throws -> (name: String, input: [Int], layers: [LayerSpec]) {
        func fail(_ at: String, _ problem: String) -> DataError { DataError(file: file, problem: "\(at): \(problem)") }
        try prescan(text, file: file)
        let root: Node?
        do {
            // Checked before any value is read: Yams' constructors trap on some scalars.
            root = try Yams.compose(yaml: text)
            if let root { try requireScalarKeys(root, file: file) }
        } catch let error as DataError { throw error } catch {
            throw DataError(file: file, problem: "not valid YAML/JSON: \(error)")
        }
        guard let root, case .map(let doc) = Value(root) else {
            throw fail("top level", "expected a mapping with name, input, layers")
        }
        for key in doc.keys where !["name", "input", "layers"].contains(key) {
            throw fail(key, "unknown key (name, input, layers)")
        }
        var name = (file as NSString).lastPathComponent
        if let node = doc["name"], case .string(let s) = Value(node) { name = s }
        guard let node = doc["input"], case .list(let items) = Value(node), items.count == 3 || items.count == 1,
              case let input = items.compactMap({ if case .int(let i) = Value($0) { i } else { nil } }),
              input.count == items.count, input.allSatisfy({ $0 > 0 && $0 <= NetworkLimits.size }) else {
            throw fail("input", "expected [C, H, W] of integers in 1...\(NetworkLimits.size)")
        }
        guard let node = doc["layers"], case .list(let layers) = Value(node), !layers.isEmpty else {
            throw fail("layers", "expected a non-empty list")
        }
        guard layers.count <= NetworkLimits.ops else { throw fail("layers", "more than \(NetworkLimits.ops) layers") }

        // Sizes are positive (a zero stride or window would divide by zero), padding may be 0.
        func int(_ args: Fields, _ key: String, _ at: String, _ d: Int?, min: Int = 1) throws -> Int {
            guard let node = args[key] else { if let d { return d }; throw fail(at, "missing '\(key)'") }
            let v = Value(node)
            guard case .int(let i) = v, i >= min, i <= NetworkLimits.size else {
                let shown = if case .string(let s) = v { "'\(s)'" } else { v.description }
                throw fail("\(at).\(key)", "expected an integer in \(min)...\(NetworkLimits.size), got \(shown)")
            }
            return i
        }
        func num(_ args: Fields, _ key: String, _ at: String, _ d: Float,
                 valid: (Float) -> Bool = { $0.isFinite }, range: String = "a finite number") throws -> Float {
            guard let node = args[key] else { return d }
            let v = Value(node), f: Float
            switch v {
            case .double(let x): f = Float(x)
            case .int(let i): f = Float(i)
            default: throw fail("\(at).\(key)", "expected \(range), got \(v)")
            }
            guard valid(f) else { throw fail("\(at).\(key)", "expected \(range), got \(v)") }
            return f
        }
        func bool(_ args: Fields, _ key: String, _ at: String, _ d: Bool) throws -> Bool {
            guard let node = args[key] else { return d }
            guard case .bool(let b) = Value(node) else { throw fail("\(at).\(key)", "expected true or false") }
            return b
        }
        func check(_ args: Fields, _ kind: String, _ at: String) throws {
            guard let allowed = layerOptions[kind] else { throw fail(at, "unknown layer '\(kind)'") }
            for k in args.keys where !allowed.contains(k) {
                let accepted = allowed.isEmpty ? "\(kind) takes no options"
                    : "allowed: \(allowed.joined(separator: ", "))"
                throw fail("\(at).\(kind).\(k)", "unknown key (\(accepted))")
            }
        }
        func spec(_ item: Node, _ at: String) throws -> LayerSpec {
            let kind: String, value: Value?
            switch Value(item) {
            case .string(let s): kind = s; value = nil
            case .map(let m) where m.keys.count == 1: kind = m.keys[0]; value = m[kind].map(Value.init)
            default: throw fail(at, "expected a layer name or a one-key mapping")
            }
            let here = "\(at).\(kind)"
            if kind == "residual" {
                // a bare list, or {layers: [...], shortcut: identity|pad|projection}
                var layers = value, shortcut = Shortcut.identity, at = here
                if case .map(let m) = value {
                    for k in m.keys where !residualOptions.contains(k) {
                        throw fail("\(here).\(k)", "unknown key (allowed: \(residualOptions.joined(separator: ", ")))")
                    }
                    if let node = m["shortcut"] {
                        let names = Shortcut.allCases.map(\.rawValue).joined(separator: ", ")
                        guard case .string(let s) = Value(node), let parsed = Shortcut(rawValue: s) else {
                            throw fail("\(here).shortcut", "expected one of \(names), got \(Value(node))")
                        }
                        shortcut = parsed
                    }
                    layers = m["layers"].map(Value.init); at = "\(here).layers"
                }
                guard case .list(let inner) = layers, !inner.isEmpty else {
                    throw fail(at, "expected a list of layers")
                }
                return .residual(try inner.enumerated().map { try spec($0.element, "\(at)[\($0.offset)]") },
                                 shortcut: shortcut)
            }
            var args = Fields()
            switch value {
            case nil: break
            case .map(let m): args = m
            default: throw fail(here, "expected a mapping of options")
            }
            try check(args, kind, at)  // before the switch, so no layer kind can skip it
            switch kind {
            case "conv":
                let k = try int(args, "kernel", here, 3)
                return .conv(out: try int(args, "out", here, nil), kernel: k, stride: try int(args, "stride", here, 1),
                             padding: try int(args, "padding", here, k / 2, min: 0),
                             bias: try bool(args, "bias", here, true))
            case "linear":
                return .linear(out: try int(args, "out", here, nil), bias: try bool(args, "bias", here, true))
            case "batchnorm", "bn": return .batchNorm
            case "relu": return .relu
            case "leaky_relu", "leakyrelu": return .leakyRelu(try num(args, "slope", here, 0.01))
            case "tanh": return .tanh
            case "sigmoid": return .sigmoid
            case "prelu": return .prelu(shared: try bool(args, "shared", here, false))
            case "maxout": return .maxout(pieces: try int(args, "pieces", here, 2))
            case "maxpool", "avgpool":
                let w = try int(args, "window", here, 2), s = try int(args, "stride", here, w)
                return kind == "maxpool" ? .maxPool(window: w, stride: s) : .avgPool(window: w, stride: s)
            case "global_avgpool", "gap": return .globalAvgPool
            case "global_maxpool", "gmp": return .globalMaxPool
            case "dropout":
                let p = try num(args, "p", here, 0.5, valid: { $0 >= 0 && $0 < 1 }, range: "a number in [0, 1)")
                return .dropout(p)
            case "flatten": return .flatten
            default: throw fail(at, "unknown layer '\(kind)'")  // check refused it already
            }
        }
        let specs = try layers.enumerated().map { try spec($0.element, "layers[\($0.offset)]") }
        return (name, input, specs)
    }

    /// Every layer kind a model file may name (residual aside: it takes a list of layers), with the
    /// options it takes; any other key is refused, so a misspelt option never passes unseen. The
    /// parser's switch builds the same kinds (a test parses each one).
    static let layerOptions: [String: [String]] = [
        "conv": ["out", "kernel", "stride", "padding", "bias"], "linear": ["out", "bias"],
        "batchnorm": [], "bn": [], "relu": [], "leaky_relu": ["slope"], "leakyrelu": ["slope"],
        "tanh": [], "sigmoid": [], "prelu": ["shared"], "maxout": ["pieces"],
        "maxpool": ["window", "stride"], "avgpool": ["window", "stride"],
        "global_avgpool": [], "gap": [], "global_maxpool": [], "gmp": [], "dropout": ["p"], "flatten": [],
    ]

    /// The options of a residual block written as a mapping (its bare form is the list of layers).
    static let residualOptions = ["layers", "shortcut"]

    /// A mapping's keys in document order with their values; of repeated keys the last counts,
    /// as in Yams' dictionaries.
    struct Fields {
        private(set) var keys: [String] = []
        private var values: [String: Node] = [:]
        init() {}
        init(_ mapping: Node.Mapping) {
            for (key, value) in mapping {
                let k = key.scalar?.string ?? ""  // requireScalarKeys made every key a scalar
                if values.updateValue(value, forKey: k) == nil { keys.append(k) }
            }
        }
        subscript(key: String) -> Node? { values[key] }
    }

    /// A composed node read with Yams' own scalar constructors, so each value is what `Yams.load`
    /// would give (`010` is octal 8; a tagged scalar it cannot construct stays a string).
    enum Value: CustomStringConvertible {
        case string(String), int(Int), double(Double), bool(Bool), null
        case list([Node]), map(Fields)
        case other  // sets, ordered maps and pairs: never part of a model file

        init(_ node: Node) {
            let tag = node.tag.description
            switch node {
            case .scalar(let scalar):
                let text = Value.string(scalar.string)
                switch tag {
                case Tag.Name.int.rawValue: self = Int.construct(from: scalar).map(Value.int) ?? text
                case Tag.Name.float.rawValue: self = Double.construct(from: scalar).map(Value.double) ?? text
                case Tag.Name.bool.rawValue: self = Bool.construct(from: scalar).map(Value.bool) ?? text
                case Tag.Name.null.rawValue: self = NSNull.construct(from: scalar) != nil ? .null : text
                default: self = text
                }
            case .mapping(let mapping): self = tag == Tag.Name.set.rawValue ? .other : .map(Fields(mapping))
            case .sequence(let items):
                self = [Tag.Name.omap.rawValue, Tag.Name.pairs.rawValue].contains(tag) ? .other : .list(Array(items))
            }
        }

        /// As Swift prints the loaded value, for messages.
        var description: String { describe(quoted: false) }

        private func describe(quoted: Bool) -> String {
            switch self {
            case .string(let s): return quoted ? s.debugDescription : s
            case .int(let i): return "\(i)"
            case .double(let d): return "\(d)"
            case .bool(let b): return "\(b)"
            case .null: return "\(NSNull())"
            case .list(let items):
                return "[" + items.map { Value($0).describe(quoted: true) }.joined(separator: ", ") + "]"
            case .map(let m):
                guard !m.keys.isEmpty else { return "[:]" }
                let pairs = m.keys.map { key in
                    "AnyHashable(\(key.debugDescription)): " + (m[key].map { Value($0).describe(quoted: true) } ?? "")
                }
                return "[" + pairs.joined(separator: ", ") + "]"
            case .other: return "(unsupported YAML type)"
            }
        }
    }

    /// Largest model file read, in bytes.
    public static let maxBytes = 1 << 20
    /// Deepest YAML nesting accepted: residual blocks nested NetworkLimits.nesting deep, with room.
    public static let maxDepth = 4 * NetworkLimits.nesting

    /// Refuses, before the YAML parser sees it, a document that could exhaust the stack (deep
    /// nesting) or the memory (alias expansion) while parsing: a size limit, a nesting limit
    /// counted from indentation, sequence dashes and brackets, and no anchors or aliases at all
    /// (a model file never needs them). Errors name the line.
    /// Every mapping key a plain scalar (`{a: 1}: 2` is YAML, but no model file's), and every
    /// scalar a string, boolean, null or a number Swift reads as written: Yams' constructor traps
    /// on both a mapping key and an overflowing sexagesimal integer (`!!int 1:99…`), both found by
    /// the fuzzer. Depth is bounded by the prescan, so the recursion is too.
    static func requireScalarKeys(_ node: Node, file: String) throws {
        func fail(_ problem: String) -> DataError {
            DataError(file: file, problem: "line \(node.mark?.line ?? 0): \(problem)")
        }
        switch node {
        case .scalar(let scalar):
            let tag = node.tag.description, text = scalar.string
            switch tag {
            case Tag.Name.str.rawValue, Tag.Name.bool.rawValue, Tag.Name.null.rawValue: break
            case Tag.Name.int.rawValue:
                guard Int(text) != nil else { throw fail("'\(text.prefix(40))' is not a plain decimal integer") }
            case Tag.Name.float.rawValue:
                let special = [".nan", ".inf", "+.inf", "-.inf"].contains(text.lowercased()) // range-checked later
                guard Double(text) != nil || special else {
                    throw fail("'\(text.prefix(40))' is not a plain decimal number")
                }
            default:
                throw fail("values of type \(tag) are not supported in model files")
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else {
                    throw DataError(file: file,
                                    problem: "line \(key.mark?.line ?? 0): a mapping key must be a plain name")
                }
                try requireScalarKeys(value, file: file)
            }
        case .sequence(let sequence):
            for item in sequence { try requireScalarKeys(item, file: file) }
        default:
            break
        }
    }

    static func prescan(_ text: String, file: String) throws {
        func fail(_ line: Int, _ problem: String) -> DataError {
            DataError(file: file, problem: "line \(line): \(problem)")
        }
        guard text.utf8.count <= maxBytes else {
            throw DataError(file: file, problem: "\(text.utf8.count) bytes; a model file may have at most \(maxBytes)")
        }
        var indents: [Int] = []  // columns of the open block levels
        var flow = 0             // open [ and { (they may span lines)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let chars = Array(line.utf8)
            var i = 0
            while i < chars.count, chars[i] == UInt8(ascii: " ") { i += 1 }
            guard i < chars.count, chars[i] != UInt8(ascii: "#"), chars[i] != UInt8(ascii: "\r") else { continue }
            if flow == 0 {
                while let last = indents.last, last >= i { indents.removeLast() }
                indents.append(i)
            }
            var depth = indents.count, quote: UInt8? = nil, previous = UInt8(ascii: " ")
            while i < chars.count {
                let c = chars[i]
                if let q = quote {
                    if c == q { quote = nil }
                } else {
                    let tokenStart = previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t")
                        || "[{,".utf8.contains(previous)
                    switch c {
                    case UInt8(ascii: "\""), UInt8(ascii: "'"): if tokenStart { quote = c }
                    case UInt8(ascii: "#") where tokenStart: i = chars.count; continue
                    case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1
                    case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
                    case UInt8(ascii: "-")
                        where tokenStart && (i + 1 == chars.count || chars[i + 1] == UInt8(ascii: " ")):
                        depth += 1 // "- - x" nests a sequence in a sequence on one line
                    case UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "<"):
                        if tokenStart && (c != UInt8(ascii: "<") || (i + 1 < chars.count && chars[i + 1] == c)) {
                            throw fail(number + 1, "YAML anchors, aliases and merge keys (&, *, <<) are not supported "
                                       + "in model files; write each layer out")
                        }
                    default: break
                    }
                }
                if depth + flow > maxDepth {
                    throw fail(number + 1, "nested deeper than \(maxDepth) levels")
                }
                previous = c
                i += 1
            }
        }
    }
}
