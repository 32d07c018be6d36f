// How settings are stored: JSON through Codable, with a missing key taking the default. A checkpoint
// written before a setting existed then still loads, and adding a setting needs no decoding code.
import Foundation

/// A JSON value, for merging a stored record over the defaults and for naming the first field in
/// which two records differ. Integers keep all 64 bits (seeds are UInt64).
enum JSONValue: Codable, Equatable, CustomStringConvertible {
    case null, bool(Bool), int(Int64), uint(UInt64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let u = try? c.decode(UInt64.self) { self = .uint(u); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// `self` with `over`'s values in place of its own, objects merged key by key.
    func merged(with over: JSONValue) -> JSONValue {
        guard case .object(var base) = self, case .object(let top) = over else { return over }
        for (k, v) in top { base[k] = base[k].map { $0.merged(with: v) } ?? v }
        return .object(base)
    }

    /// The dotted path of the first leaf (in sorted key order) where `self` and `other` differ, with
    /// both values: what a mismatch between two ranks' records says.
    func firstDifference(_ other: JSONValue, path: String = "") -> (path: String, mine: String, theirs: String)? {
        if self == other { return nil }
        if case .object(let a) = self, case .object(let b) = other {
            for k in Set(a.keys).union(b.keys).sorted() {
                let sub = path.isEmpty ? k : "\(path).\(k)"
                if let d = (a[k] ?? .null).firstDifference(b[k] ?? .null, path: sub) { return d }
            }
        }
        return (path, description, other.description)
    }

    var description: String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}

extension JSONValue {
    /// Any Encodable as a JSON value.
    init(_ value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}

/// Codable settings whose `init()` holds the defaults: decoding fills every key the JSON lacks
/// from them, so records written before a setting existed still load. (A nil optional is not
/// written, so it reads back as its default: keep optional settings' defaults nil.)
public protocol DefaultedSettings: Codable {
    init()
}

extension DefaultedSettings {
    /// Decodes a stored record over the defaults.
    static func decodeOverDefaults(_ data: Data) throws -> Self {
        let merged = try JSONValue(Self()).merged(with: JSONDecoder().decode(JSONValue.self, from: data))
        return try JSONDecoder().decode(Self.self, from: JSONEncoder().encode(merged))
    }

    /// The stored form: JSON with sorted keys.
    func storedJSON() throws -> String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}

/// Values that read and write themselves as the text the command line takes ("he-normal:fan_out",
/// "warmup:5,cosine"): stored that way too, so a record reads like the command that made it.
public protocol TextCodable: Codable, CustomStringConvertible {
    init(parsing text: String) throws
}

extension TextCodable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
