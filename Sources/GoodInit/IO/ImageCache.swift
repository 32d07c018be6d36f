// The decoded image folder, stored next to the data so the next run skips decoding. Layout (little
// endian): "GICACHE" + version byte, the key (u64), count (u64), channels, height, width, classes
// (u32 each), the class names (u32 length + UTF-8 each), labels (u32 each), the test flags (u8
// each), skipped (u64) and the first skipped file's message, the pixels (count × C×H×W bytes), and
// a CRC-32C of all that. A cache that does not match in any way is ignored and written anew.
import Foundation

enum ImageCache {
    static let version: UInt8 = 1
    static let magic = Array("GICACHE".utf8) + [version]

    static func write(_ d: ImageFolder.Decoded, key: UInt64, to path: String) throws {
        var b = magic
        func u64(_ v: UInt64) { for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        func u32(_ v: Int) { for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
        func text(_ s: String) { u32(s.utf8.count); b += Array(s.utf8) }
        u64(key); u64(UInt64(d.labels.count))
        u32(d.channels); u32(d.height); u32(d.width); u32(d.classNames.count)
        for name in d.classNames { text(name) }
        for l in d.labels { u32(Int(l)) }
        b += d.isTest.map { $0 ? 1 : 0 }
        u64(UInt64(d.skipped)); text(d.firstSkipped)
        b += d.pixels
        let crc = CRC32C.checksum(b)
        u32(Int(crc))
        // atomic: a run killed while writing, or two runs at once, never leave half a cache
        try Data(b).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The cached decode if `path` holds one for `key`, whole and consistent; else nil.
    static func read(_ path: String, key: UInt64) -> ImageFolder.Decoded? {
        guard let data = FileManager.default.contents(atPath: path), data.count >= magic.count + 4 else { return nil }
        let b = [UInt8](data)
        let body = b[0..<(b.count - 4)]
        guard Array(b[0..<magic.count]) == magic else { return nil }
        var r = Reader(bytes: b, at: magic.count, end: b.count - 4)
        guard r.u64() == key, let count = r.u64().map(Int.init), let c = r.u32(), let h = r.u32(), let w = r.u32(),
              let classes = r.u32(), c <= 4, h <= 1 << 16, w <= 1 << 16, classes <= 1 << 20 else { return nil }
        var names: [String] = []
        for _ in 0..<classes { guard let n = r.text() else { return nil }; names.append(n) }
        guard count <= b.count, let labels = r.bytes(count * 4), let flags = r.bytes(count),
              let skipped = r.u64(), let first = r.text(), let pixels = r.bytes(count * c * h * w), r.at == r.end else {
            return nil
        }
        var crcReader = Reader(bytes: b, at: b.count - 4, end: b.count)
        guard crcReader.u32() == Int(CRC32C.checksum(body)) else { return nil }
        let labelValues = (0..<count).map { i in
            Int32(truncatingIfNeeded: (0..<4).reduce(0) { $0 | Int(labels[i * 4 + $1]) << (8 * $1) })
        }
        guard labelValues.allSatisfy({ $0 >= 0 && Int($0) < classes }) else { return nil }
        return ImageFolder.Decoded(channels: c, height: h, width: w, classNames: names, labels: labelValues,
                                   isTest: flags.map { $0 != 0 }, pixels: pixels, skipped: Int(skipped),
                                   firstSkipped: first)
    }

    /// Bounds-checked little-endian reads.
    struct Reader {
        let bytes: [UInt8]
        var at: Int
        let end: Int
        mutating func bytes(_ n: Int) -> [UInt8]? {
            guard n >= 0, n <= end - at else { return nil }
            defer { at += n }
            return Array(bytes[at..<(at + n)])
        }
        mutating func u64() -> UInt64? {
            bytes(8).map { b in (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) } }
        }
        mutating func u32() -> Int? { bytes(4).map { b in (0..<4).reduce(0) { $0 | Int(b[$1]) << (8 * $1) } } }
        mutating func text() -> String? {
            guard let n = u32(), let b = bytes(n) else { return nil }
            return String(bytes: b, encoding: .utf8)
        }
    }
}
