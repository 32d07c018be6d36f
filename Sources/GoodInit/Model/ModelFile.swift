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
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw DataError(file: file, problem: "not valid YAML/JSON: \(error)") }
        guard let doc = root as? [String: Any] else { throw fail("top level", "expected a mapping with name, input, layers") }
        for key in doc.keys where !["name", "input", "layers"].contains(key) { throw fail(key, "unknown key (name, input, layers)") }
        let name = doc["name"] as? String ?? (file as NSString).lastPathComponent
        guard let input = doc["input"] as? [Int], input.count == 3 || input.count == 1, input.allSatisfy({ $0 > 0 }) else {
            throw fail("input", "expected [C, H, W] of positive integers")
        }
        guard let layers = doc["layers"] as? [Any], !layers.isEmpty else { throw fail("layers", "expected a non-empty list") }

        func int(_ args: [String: Any], _ key: String, _ at: String, _ d: Int?) throws -> Int {
            guard let v = args[key] else { if let d { return d }; throw fail(at, "missing '\(key)'") }
            guard let i = v as? Int, i >= 0 else { throw fail("\(at).\(key)", "expected a non-negative integer, got \(v)") }
            return i
        }
        func num(_ args: [String: Any], _ key: String, _ at: String, _ d: Float) throws -> Float {
            guard let v = args[key] else { return d }
            if let f = v as? Double { return Float(f) }
            if let i = v as? Int { return Float(i) }
            throw fail("\(at).\(key)", "expected a number, got \(v)")
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
                             padding: try int(args, "padding", here, k / 2), bias: try bool(args, "bias", here, true))
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
            case "dropout": try check(args, ["p"], here); return .dropout(try num(args, "p", here, 0.5))
            case "flatten": return .flatten
            default: throw fail(at, "unknown layer '\(kind)'")
            }
        }
        let specs = try layers.enumerated().map { try spec($0.element, "layers[\($0.offset)]") }
        return (name, input, specs)
    }
}
