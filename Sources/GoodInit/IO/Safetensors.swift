import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A named Float32 array with its shape; `[]` is a scalar.
public struct NamedArray: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Hugging Face's safetensors layout: u64 little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`, then the raw
/// little-endian data, offsets relative to its start. Only F32 is written or read.
/// Raw bytes (outside Core) in three places only: floats copied as bytes, floats loaded from
/// unaligned bytes, and the buffer handed to write(2).
public enum Safetensors {
    /// Writes atomically: a crash leaves either the old file or the new one, never half of one.
    public static func write(_ tensors: [NamedArray], metadata: [String: String] = [:], to path: String) throws {
        try writeAtomically(encode(tensors, metadata: metadata, file: path), to: path)
    }

    /// Tensors in data-offset order, and the metadata (empty when absent).
    public static func read(_ path: String) throws -> (tensors: [NamedArray], metadata: [String: String]) {
        try decode(readFileBytes(path), file: path)
    }

    // MARK: - Encoding

    /// The file's bytes. Tensors are laid out in array order; JSON keys are sorted by UTF-8 bytes
    /// (as the Rust reference does), so equal inputs give identical files.
    public static func encode(_ tensors: [NamedArray], metadata: [String: String],
                              file: String = "safetensors") throws -> [UInt8] {
        var entries: [(key: String, json: String)] = []
        var offset = 0
        var seen = Set<String>()
        for t in tensors {
            guard t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw DataError(file: file, problem: "tensor name '\(t.name)' is reserved or used twice")
            }
            guard let n = elementCount(t.shape), n == t.values.count else {
                throw DataError(file: file,
                                problem: "tensor '\(t.name)': shape \(t.shape) does not hold \(t.values.count) values")
            }
            let end = offset + 4 * n
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append((t.name, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"F32\",\"shape\":[\(shape)]}"))
            offset = end
        }
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append(("__metadata__", "{" + pairs.joined(separator: ",") + "}"))
        }
        entries.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var header = Array(("{" + entries.map { "\(jsonString($0.key)):\($0.json)" }.joined(separator: ",") + "}").utf8)
        // Spaces up to a multiple of 8 keep the data 8-byte aligned for readers that map the file.
        header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header
        for t in tensors {
            #if _endian(little)
            t.values.withUnsafeBytes { bytes += $0 }   // memory already is the file's byte order
            #else
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            #endif
        }
        return bytes
    }

    /// A JSON string literal; only `"`, `\` and control characters need escaping.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Product of the dimensions, nil when one is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    // MARK: - Decoding

    /// Parses and checks a whole file's bytes; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String)
        throws -> (tensors: [NamedArray], metadata: [String: String])
    {
        func fail(_ problem: String) -> DataError { DataError(file: file, problem: problem) }
        guard bytes.count >= 8 else {
            throw fail("file too short (\(bytes.count) bytes) for a safetensors header length")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(bytes.count - 8) else {
            throw fail("header length \(length) larger than the file's \(bytes.count - 8) remaining bytes (truncated?)")
        }
        let dataStart = 8 + Int(length)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<dataStart]))
        } catch DecodingError.typeMismatch {
            throw fail("header is JSON but not an object")
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let metadata = header.metadata else { throw fail("__metadata__ must map strings to strings") }
        let dataCount = bytes.count - dataStart
        var spans: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, entry) in header.entries {
            guard let entry else { throw fail("tensor '\(name)': entry needs dtype, shape and two data_offsets") }
            let (dtype, shape) = (entry.dtype, entry.shape)
            guard dtype == "F32" else {
                throw fail("tensor '\(name)': dtype \(dtype) unsupported, only F32 is supported")
            }
            let (begin, end) = (entry.begin, entry.end)
            guard begin >= 0, begin <= end, end <= dataCount else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] out of range "
                           + "of the \(dataCount) data bytes (truncated?)")
            }
            guard let n = elementCount(shape), n <= Int.max / 4, n * 4 == end - begin else {
                throw fail("tensor '\(name)': shape \(shape) does not match byte span [\(begin), \(end)]")
            }
            spans.append((name, shape, begin, end))
        }
        // Names break ties between empty tensors so the order is the same on every run.
        spans.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        for s in spans {
            if s.begin < cursor { throw fail("tensor '\(s.name)': data_offsets overlap the previous tensor") }
            if s.begin > cursor { throw fail("tensor '\(s.name)': gap of \(s.begin - cursor) bytes before its data") }
            cursor = s.end
        }
        if cursor != dataCount { throw fail("\(dataCount - cursor) trailing bytes after the last tensor") }

        let tensors = bytes.withUnsafeBytes { raw in // raw bytes: unaligned loads, checked spans above
            spans.map { s in
                let values = (0..<((s.end - s.begin) / 4)).map { i in
                    let word = raw.loadUnaligned(fromByteOffset: dataStart + s.begin + 4 * i, as: UInt32.self)
                    return Float(bitPattern: UInt32(littleEndian: word))
                }
                return NamedArray(name: s.name, shape: s.shape, values: values)
            }
        }
        return (tensors, metadata)
    }

    /// The JSON header: each tensor's entry under its name (nil when it is not an object with a
    /// string dtype, an integer shape and two integer data_offsets), and the `__metadata__` string
    /// map (empty when absent, nil when not a map of strings).
    struct Header: Decodable {
        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let begin, end: Int
            enum Keys: String, CodingKey { case dtype, shape, offsets = "data_offsets" }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: Keys.self)
                dtype = try c.decode(String.self, forKey: .dtype)
                shape = try c.decode([JSONInteger].self, forKey: .shape).map(\.value)
                let offsets = try c.decode([JSONInteger].self, forKey: .offsets).map(\.value)
                guard offsets.count == 2 else {
                    throw DecodingError.dataCorruptedError(forKey: .offsets, in: c, debugDescription: "two offsets")
                }
                (begin, end) = (offsets[0], offsets[1])
            }
        }

        /// Tensor names are the header's keys, unknown in advance.
        struct Name: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        var metadata: [String: String]? = [:]
        var entries: [(name: String, entry: Entry?)] = []

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Name.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try? c.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try? c.decode(Entry.self, forKey: key)))
                }
            }
        }
    }

    /// A JSON number with an integer value, also when written as a float (`4.0`, `4e0`).
    struct JSONInteger: Decodable {
        let value: Int
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { value = i; return }
            guard let i = Int(exactly: try c.decode(Double.self)) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an integer")
            }
            value = i
        }
    }

    // MARK: - Atomic write

    /// Write "<path>.tmp-<pid>" in the same folder, fsync it, rename it over `path`, fsync the
    /// folder so the rename itself survives a power cut.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        func fail(_ what: String) -> DataError {
            DataError(file: path, problem: "cannot write: \(what) failed (\(String(cString: strerror(errno))))")
        }
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("creating \(temporary)") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw fail("write") }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw fail("fsync") }
        } catch {
            close(fd)
            throw error
        }
        // close can report a deferred write error (NFS), so it is checked too.
        guard close(fd) == 0 else { throw fail("close") }
        guard rename(temporary, path) == 0 else { throw fail("rename") }
        renamed = true
        let folder = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw fail("opening folder \(folder)") }
        defer { close(dfd) }
        // Some file systems cannot sync a folder (EINVAL); the file itself is already durable.
        guard fsync(dfd) == 0 || errno == EINVAL else { throw fail("fsync of folder \(folder)") }
    }
}

/// POSIX write(2), named apart from `Safetensors.write`; takes a raw buffer, as write(2) does.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
