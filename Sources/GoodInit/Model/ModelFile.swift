// User-described networks in YAML or JSON (JSON is YAML):
//   name: mynet
//   input: [1, 28, 28]
//   layers:
//     - conv: {out: 32, kernel: 3, stride: 1, padding: 1, bias: false}
//     - batchnorm
//     - relu
//     - maxpool: {window: 2}
//     - residual: [ {conv: {out: 32}}, batchnorm, relu ]
//     - flatten
//     - linear: {out: 10}
// Errors name the file and the key path ("layers[3].conv.kernal: unknown key").
// Limits, checked before the YAML parser runs: at most 1 MiB, nesting at most 128 levels, no
// anchors or aliases (&, *, <<); sizes, strides and windows are integers in 1...2^20 (padding 0...).
import Foundation
import Yams

public enum ModelFile {
    public static func load(_ path: String) throws -> (name: String, input: [Int], layers: [LayerSpec]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DataError(file: path, problem: "cannot read the model file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> (name: String, input: [Int], layers: [LayerSpec]) {
        func fail(_ at: String, _ problem: String) -> DataError { DataError(file: file, problem: "\(at): \(problem)") }
        try prescan(text, file: file)
        let root: Any?
        do {
            // Composed first and checked: Yams' constructor traps on a mapping used as a key.
            if let node = try Yams.compose(yaml: text) { try requireScalarKeys(node, file: file) }
            root = try Yams.load(yaml: text)
        } catch let error as DataError { throw error } catch {
            throw DataError(file: file, problem: "not valid YAML/JSON: \(error)")
        }
        guard let doc = root as? [String: Any] else { throw fail("top level", "expected a mapping with name, input, layers") }
        for key in doc.keys where !["name", "input", "layers"].contains(key) { throw fail(key, "unknown key (name, input, layers)") }
        let name = doc["name"] as? String ?? (file as NSString).lastPathComponent
        guard let input = doc["input"] as? [Int], input.count == 3 || input.count == 1,
              input.allSatisfy({ $0 > 0 && $0 <= NetworkLimits.size }) else {
            throw fail("input", "expected [C, H, W] of integers in 1...\(NetworkLimits.size)")
        }
        guard let layers = doc["layers"] as? [Any], !layers.isEmpty else { throw fail("layers", "expected a non-empty list") }
        guard layers.count <= NetworkLimits.ops else { throw fail("layers", "more than \(NetworkLimits.ops) layers") }

        // Sizes are positive (a zero stride or window would divide by zero), padding may be 0.
        func int(_ args: [String: Any], _ key: String, _ at: String, _ d: Int?, min: Int = 1) throws -> Int {
            guard let v = args[key] else { if let d { return d }; throw fail(at, "missing '\(key)'") }
            guard let i = v as? Int, i >= min, i <= NetworkLimits.size else {
                let shown = v is String ? "'\(v)'" : "\(v)"
                throw fail("\(at).\(key)", "expected an integer in \(min)...\(NetworkLimits.size), got \(shown)")
            }
            return i
        }
        func num(_ args: [String: Any], _ key: String, _ at: String, _ d: Float,
                 valid: (Float) -> Bool = { $0.isFinite }, range: String = "a finite number") throws -> Float {
            guard let v = args[key] else { return d }
            let f: Float
            if let x = v as? Double { f = Float(x) } else if let i = v as? Int { f = Float(i) } else {
                throw fail("\(at).\(key)", "expected \(range), got \(v)")
            }
            guard valid(f) else { throw fail("\(at).\(key)", "expected \(range), got \(v)") }
            return f
        }
        func bool(_ args: [String: Any], _ key: String, _ at: String, _ d: Bool) throws -> Bool {
            guard let v = args[key] else { return d }
            guard let b = v as? Bool else { throw fail("\(at).\(key)", "expected true or false") }
            return b
        }
        func check(_ args: [String: Any], _ allowed: [String], _ at: String) throws {
            for k in args.keys where !allowed.contains(k) { throw fail("\(at).\(k)", "unknown key (allowed: \(allowed.joined(separator: ", ")))") }
        }
        func spec(_ item: Any, _ at: String) throws -> LayerSpec {
            let kind: String, value: Any?
            if let s = item as? String { kind = s; value = nil }
            else if let m = item as? [String: Any], m.count == 1 { kind = m.keys.first!; value = m.values.first! }
            else { throw fail(at, "expected a layer name or a one-key mapping") }
            let here = "\(at).\(kind)"
            if kind == "residual" {
                guard let inner = value as? [Any], !inner.isEmpty else { throw fail(here, "expected a list of layers") }
                return .residual(try inner.enumerated().map { try spec($0.element, "\(here)[\($0.offset)]") })
            }
            let args = (value as? [String: Any]) ?? [:]
            if value != nil && !(value is [String: Any]) { throw fail(here, "expected a mapping of options") }
            switch kind {
            case "conv":
                try check(args, ["out", "kernel", "stride", "padding", "bias"], here)
                let k = try int(args, "kernel", here, 3)
                return .conv(out: try int(args, "out", here, nil), kernel: k, stride: try int(args, "stride", here, 1),
                             padding: try int(args, "padding", here, k / 2, min: 0),
                             bias: try bool(args, "bias", here, true))
            case "linear":
                try check(args, ["out", "bias"], here)
                return .linear(out: try int(args, "out", here, nil), bias: try bool(args, "bias", here, true))
            case "batchnorm", "bn": try check(args, [], here); return .batchNorm
            case "relu": return .relu
            case "leaky_relu", "leakyrelu":
                try check(args, ["slope"], here); return .leakyRelu(try num(args, "slope", here, 0.01))
            case "tanh": return .tanh
            case "sigmoid": return .sigmoid
            case "prelu": try check(args, ["shared"], here); return .prelu(shared: try bool(args, "shared", here, false))
            case "maxout": try check(args, ["pieces"], here); return .maxout(pieces: try int(args, "pieces", here, 2))
            case "maxpool", "avgpool":
                try check(args, ["window", "stride"], here)
                let w = try int(args, "window", here, 2), s = try int(args, "stride", here, w)
                return kind == "maxpool" ? .maxPool(window: w, stride: s) : .avgPool(window: w, stride: s)
            case "global_avgpool", "gap": return .globalAvgPool
            case "global_maxpool", "gmp": return .globalMaxPool
            case "dropout":
                try check(args, ["p"], here)
                let p = try num(args, "p", here, 0.5, valid: { $0 >= 0 && $0 < 1 }, range: "a number in [0, 1)")
                return .dropout(p)
            case "flatten": return .flatten
            default: throw fail(at, "unknown layer '\(kind)'")
            }
        }
        let specs = try layers.enumerated().map { try spec($0.element, "layers[\($0.offset)]") }
        return (name, input, specs)
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
                    throw DataError(file: file, problem: "line \(key.mark?.line ?? 0): a mapping key must be a plain name")
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
