// NumPy's .npy arrays, alone or as members of an .npz (a zip, read with ZIPFoundation). Every
// header field is checked before a byte of data is used: magic, version, header length, the
// header's dictionary (descr, fortran_order, shape) and the shape against the byte count.
import Foundation
import ZIPFoundation

/// One array as stored: element type, shape (row-major) and the raw little-endian bytes.
public struct NumPyArray: Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case uint8 = "u1", int8 = "i1", uint16 = "<u2", int16 = "<i2", uint32 = "<u4", int32 = "<i4"
        case uint64 = "<u8", int64 = "<i8", float32 = "<f4", float64 = "<f8"

        var size: Int {
            switch self {
            case .uint8, .int8: 1
            case .uint16, .int16: 2
            case .uint32, .int32, .float32: 4
            case .uint64, .int64, .float64: 8
            }
        }
        var isInteger: Bool { self != .float32 && self != .float64 }

        /// NumPy writes one-byte types with '|' and may write '<' or '=' for the rest on little-endian machines.
        init?(descr: String) {
            var d = Substring(descr)
            if let f = d.first, "|<=".contains(f) { d = d.dropFirst() }
            guard let t = DType(rawValue: d.hasSuffix("1") ? String(d) : "<" + d) else { return nil }
            self = t
        }
    }

    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]
    public var count: Int { shape.reduce(1, *) }

    /// Element `i` as an integer (integer types only).
    func integer(_ i: Int) -> Int64 {
        let o = i * dtype.size
        func le(_ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
        switch dtype {
        case .uint8: return Int64(bytes[o])
        case .int8: return Int64(Int8(bitPattern: bytes[o]))
        case .uint16: return Int64(le(2))
        case .int16: return Int64(Int16(truncatingIfNeeded: le(2)))
        case .uint32: return Int64(le(4))
        case .int32: return Int64(Int32(truncatingIfNeeded: le(4)))
        case .uint64: let v = le(8); return v > UInt64(Int64.max) ? -1 : Int64(v)
        case .int64: return Int64(bitPattern: le(8))
        case .float32, .float64: preconditionFailure("integer() on a float array")
        }
    }

    /// Element `i` as a Float (uint8 and float types).
    func float(_ i: Int) -> Float {
        let o = i * dtype.size
        switch dtype {
        case .float32:
            return Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) })
        case .float64:
            let bits = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) }
            return Float(Double(bitPattern: bits))
        default: return Float(integer(i))
        }
    }
}

public enum NumPy {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// The largest header read: NumPy's own reader stops at 10,000 bytes as well.
    static let maxHeader = 10_000

    /// Parses one .npy file's bytes; errors say `file` (and `member` inside an .npz).
    public static func decode(_ b: [UInt8], file: String, member: String? = nil) throws -> NumPyArray {
        func bad(_ p: String) -> DataError {
            DataError(file: file, problem: (member.map { "member \($0): " } ?? "") + p)
        }
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("not a .npy array (bad magic)") }
        let major = b[6], minor = b[7]
        guard (1...3).contains(major), minor == 0 else { throw bad("unsupported .npy version \(major).\(minor)") }
        let lengthBytes = major == 1 ? 2 : 4
        guard b.count >= 8 + lengthBytes else { throw bad("truncated header") }
        let length = (0..<lengthBytes).reduce(0) { $0 | Int(b[8 + $1]) << (8 * $1) }
        let start = 8 + lengthBytes
        guard length <= maxHeader else { throw bad("header length \(length) is over \(maxHeader) bytes") }
        guard b.count >= start + length else { throw bad("truncated header (\(length) bytes announced)") }
        guard let text = String(bytes: b[start..<(start + length)], encoding: major == 3 ? .utf8 : .ascii) else {
            throw bad("header is not text")
        }
        let dict: [String: HeaderValue]
        var parser = HeaderParser(text)
        do { dict = try parser.dictionary() } catch let e as ValueError { throw bad("header: \(e)") }
        guard Set(dict.keys) == ["descr", "fortran_order", "shape"] else {
            throw bad("header keys \(dict.keys.sorted()), expected descr, fortran_order, shape")
        }
        guard case .string(let descr)? = dict["descr"] else { throw bad("header: descr is not a string") }
        guard let dtype = NumPyArray.DType(descr: descr) else {
            throw bad("element type '\(descr)' is not read (little-endian integers, float32 or float64)")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw bad("header: fortran_order is not a bool")
        }
        guard !fortran else { throw bad("fortran_order is True: save a C-ordered array (np.ascontiguousarray)") }
        guard case .shape(let shape)? = dict["shape"] else { throw bad("header: shape is not a tuple of sizes") }
        var elements = 1
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw bad("shape \(shape) is too large") }
            elements = p
        }
        let (need, o) = elements.multipliedReportingOverflow(by: dtype.size)
        let have = b.count - start - length
        guard !o, need == have else {
            throw bad("shape \(shape) of \(descr) needs \(o ? "too many" : String(need)) bytes, the file holds \(have)")
        }
        return NumPyArray(dtype: dtype, shape: shape, bytes: Array(b[(start + length)...]))
    }

    /// The named members of an .npz file ("x_train" reads "x_train.npy"); the uncompressed size
    /// of each is checked against `cap` before it is inflated. Read from the file, not from bytes in
    /// memory: ZIPFoundation's in-memory archives leak their buffer (seen by the fuzzer's LeakSanitizer).
    public static func readNPZ(_ file: String, members: [String],
                               cap: UInt64 = 1 << 36) throws -> [String: NumPyArray] {
        guard isFile(file) else { throw DataError(file: file, problem: "file missing (not found)") }
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: file), accessMode: .read) } catch {
            throw DataError(file: file, problem: "not an .npz file (not a readable zip: \(error))")
        }
        var out: [String: NumPyArray] = [:]
        for name in members {
            let member = name + ".npy"
            guard let entry = archive[member] else {
                let has = archive.map(\.path).sorted().joined(separator: ", ")
                throw DataError(file: file, problem: "no member \(member) (it holds: \(has.isEmpty ? "nothing" : has))")
            }
            let size = entry.uncompressedSize
            guard size <= cap else {
                throw DataError(file: file, problem: "member \(member): \(size) bytes is over the \(cap)-byte limit")
            }
            var data = [UInt8]()
            data.reserveCapacity(Int(size))
            do {
                _ = try archive.extract(entry) { chunk in
                    // a header that understates the size must not grow the buffer without bound
                    guard UInt64(data.count + chunk.count) <= size else {
                        throw ValueError("more bytes than announced")
                    }
                    data += chunk
                }
            } catch {
                throw DataError(file: file, problem: "member \(member): cannot extract (\(error))")
            }
            guard UInt64(data.count) == size else {
                throw DataError(file: file, problem: "member \(member): \(data.count) bytes, announced \(size)")
            }
            out[name] = try decode(data, file: file, member: member)
        }
        return out
    }
}

// MARK: - The header's dictionary

enum HeaderValue: Equatable { case string(String), bool(Bool), shape([Int]) }

/// The Python literal NumPy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
struct HeaderParser {
    let chars: [Character]
    var i = 0
    init(_ text: String) { chars = Array(text) }

    mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    mutating func expect(_ c: Character) throws {
        skipSpace()
        guard i < chars.count, chars[i] == c else { throw ValueError("expected '\(c)' at character \(i)") }
        i += 1
    }

    mutating func peek() -> Character? { skipSpace(); return i < chars.count ? chars[i] : nil }

    mutating func string() throws -> String {
        skipSpace()
        guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw ValueError("expected a string") }
        let quote = chars[i]
        i += 1
        let s = i
        while i < chars.count, chars[i] != quote { i += 1 }
        guard i < chars.count else { throw ValueError("unterminated string") }
        i += 1
        return String(chars[s..<(i - 1)])
    }

    mutating func value() throws -> HeaderValue {
        switch peek() {
        case "'", "\"": return .string(try string())
        case "(":
            i += 1
            var dims: [Int] = []
            while peek() != ")" {
                let s = i
                while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
                guard i > s, i - s <= 18, let d = Int(String(chars[s..<i])) else {
                    throw ValueError("bad size in shape")
                }
                dims.append(d)
                if peek() == "," { i += 1 } else if peek() != ")" { throw ValueError("expected ',' or ')' in shape") }
            }
            i += 1
            return .shape(dims)
        default:
            for (word, v) in [("True", true), ("False", false)] where chars[i...].starts(with: word) {
                i += word.count
                return .bool(v)
            }
            throw ValueError("unexpected value at character \(i)")
        }
    }

    mutating func dictionary() throws -> [String: HeaderValue] {
        try expect("{")
        var d: [String: HeaderValue] = [:]
        while peek() != "}" {
            guard peek() != nil else { throw ValueError("unterminated dictionary") }
            let k = try string()
            try expect(":")
            guard d[k] == nil else { throw ValueError("key '\(k)' twice") }
            d[k] = try value()
            if peek() == "," { i += 1 } else if peek() != "}" { throw ValueError("expected ',' or '}'") }
        }
        i += 1
        skipSpace()
        guard i == chars.count else { throw ValueError("text after the dictionary") }
        return d
    }
}
