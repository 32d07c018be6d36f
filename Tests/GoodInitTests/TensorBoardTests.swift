import Foundation
@testable import GoodInit
import Testing

@Suite("TensorBoard event files") struct TensorBoardTests {
    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-tb-\(UUID().uuidString)").path
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    // MARK: - CRC-32C

    /// Bit by bit, no table: an oracle independent of the library's table-driven CRC.
    static func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func mask(_ crc: UInt32) -> UInt32 { (crc >> 15 | crc << 17) &+ 0xA282_EAD8 }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }

    @Test("CRC-32C check values (RFC 3720 B.4)")
    func crcCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(Self.bitwiseCRC32C(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("the table-driven CRC agrees with the bitwise one on every length up to 300")
    func crcAgainstBitwise() {
        var rng = SystemRandomNumberGenerator()
        for n in 0...300 {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.checksum(data) == Self.bitwiseCRC32C(data), "length \(n)")
        }
    }

    // MARK: - Event protocol buffers

    /// Event { wall_time: 1.5, step: 3, summary { value { tag: "loss", simple_value: 0.25 } } }, by hand.
    static let lossEvent: [UInt8] = [0x09] + le(1.5.bitPattern)   // field 1, fixed64: 0x3FF8000000000000
        + [0x10, 0x03]                                           // field 2, varint 3
        + [0x2A, 0x0D]                                           // field 5 (summary), 13 bytes
        + [0x0A, 0x0B]                                           //   value, 11 bytes
        + [0x0A, 0x04] + Array("loss".utf8)                      //     tag
        + [0x15] + le(Float(0.25).bitPattern)                    //     simple_value, fixed32: 0x3E800000

    @Test("a scalar Event's bytes, derived by hand")
    func scalarEventBytes() {
        #expect(Self.lossEvent == Self.bytes(hex: "09 000000000000f83f 1003 2a0d 0a0b 0a04 6c6f7373 15 0000803e"))
        #expect(EventProto.scalarsEvent([("loss", 0.25)], step: 3, wallTime: 1.5) == Self.lossEvent)
    }

    @Test("the file_version Event's bytes")
    func fileVersionBytes() {
        let expected: [UInt8] = [0x09] + Self.le(1.5.bitPattern) + [0x1A, 13] + Array("brain.Event:2".utf8)
        #expect(EventProto.fileVersionEvent(wallTime: 1.5) == expected)
    }

    @Test("steps as varints: 0 left out, 300 in two bytes, -1 in ten")
    func stepVarints() {
        let summary: [UInt8] = [0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x61, 0x15] + Self.le(Float(1).bitPattern)
        let time = [0x09] + Self.le(2.0.bitPattern)
        #expect(EventProto.scalarsEvent([("a", 1)], step: 0, wallTime: 2) == time + summary)
        #expect(EventProto.scalarsEvent([("a", 1)], step: 300, wallTime: 2) == time + [0x10, 0xAC, 0x02] + summary)
        let minusOne: [UInt8] = [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
        #expect(EventProto.scalarsEvent([("a", 1)], step: -1, wallTime: 2) == time + minusOne + summary)
    }

    @Test("several values in one Event, in order; 0.0 is still written (simple_value is in a oneof)")
    func severalValues() {
        let v1: [UInt8] = [0x0A, 0x01, 0x78, 0x15] + Self.le(Float(0).bitPattern)
        let tag = Array(String(repeating: "t", count: 130).utf8)  // a length that needs two varint bytes
        let v2: [UInt8] = [0x0A, 0x82, 0x01] + tag + [0x15] + Self.le(Float(-2.5).bitPattern)
        let summary: [UInt8] = [0x0A, 0x08] + v1 + [0x0A, 0x8A, 0x01] + v2
        #expect(v1.count == 8 && v2.count == 0x8A)
        let expected = [0x09] + Self.le(2.0.bitPattern) + [0x10, 0x07, 0x2A, 0x97, 0x01] + summary
        #expect(summary.count == 0x97)
        let e = EventProto.scalarsEvent([("x", 0), (String(repeating: "t", count: 130), -2.5)], step: 7, wallTime: 2)
        #expect(e == expected)
    }

    // MARK: - TFRecord framing

    @Test("the framing of a known record, byte for byte")
    func framing() {
        let record = TFRecord.frame(Self.lossEvent)
        let length = Self.le(UInt64(26))
        let expected = length + Self.le(Self.mask(Self.bitwiseCRC32C(length)))
            + Self.lossEvent + Self.le(Self.mask(Self.bitwiseCRC32C(Self.lossEvent)))
        #expect(record == expected)
        // The same record as the tensorboard Python package's own masked_crc32c frames it.
        let fromPython = Self.bytes(hex: """
            1a00000000000000 129bd82d 09000000000000f83f10032a0d0a0b0a046c6f7373150000803e d054b255
            """)
        #expect(record == fromPython)
    }

    // MARK: - Reading back

    struct ReadEvent {
        var wallTime = 0.0, step: Int64 = 0, fileVersion: String?
        var values: [(tag: String, value: Float)] = []
    }

    struct ReadError: Error, CustomStringConvertible { let description: String }

    /// A reader written from the format description alone: framing, both CRCs, then the fields.
    static func readEvents(_ path: String) throws -> [ReadEvent] {
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var at = 0, events: [ReadEvent] = []
        func u64(_ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(file[i + $1]) << (8 * $1) } }
        func u32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(file[i + $1]) << (8 * $1) } }
        while at < file.count {
            guard at + 12 <= file.count else { throw ReadError(description: "truncated header at \(at)") }
            let n = Int(u64(at))
            guard u32(at + 8) == mask(bitwiseCRC32C(Array(file[at..<at + 8]))) else {
                throw ReadError(description: "length CRC at \(at)")
            }
            guard at + 16 + n <= file.count else { throw ReadError(description: "truncated record at \(at)") }
            let data = Array(file[at + 12..<at + 12 + n])
            guard u32(at + 12 + n) == mask(bitwiseCRC32C(data)) else {
                throw ReadError(description: "data CRC at \(at)")
            }
            events.append(try decodeEvent(data))
            at += 16 + n
        }
        return events
    }

    /// Protobuf fields as (number, wire type, payload); payload is the varint's value, the fixed
    /// bytes, or the length-delimited bytes.
    static func fields(_ b: [UInt8]) throws -> [(Int, Int, UInt64, [UInt8])] {
        var i = 0, out: [(Int, Int, UInt64, [UInt8])] = []
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < b.count, shift < 64 else { throw ReadError(description: "bad varint") }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        func take(_ n: Int) throws -> [UInt8] {
            guard n >= 0, i + n <= b.count else { throw ReadError(description: "field past the end") }
            defer { i += n }
            return Array(b[i..<i + n])
        }
        while i < b.count {
            let key = try varint(), field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, wire, try varint(), []))
            case 1: out.append((field, wire, 0, try take(8)))
            case 2: out.append((field, wire, 0, try take(Int(try varint()))))
            case 5: out.append((field, wire, 0, try take(4)))
            default: throw ReadError(description: "wire type \(wire)")
            }
        }
        return out
    }

    static func fixed<T: FixedWidthInteger>(_ b: [UInt8], as: T.Type) -> T {
        b.enumerated().reduce(T.zero) { $0 | T($1.element) << (8 * $1.offset) }
    }

    static func decodeEvent(_ data: [UInt8]) throws -> ReadEvent {
        var e = ReadEvent()
        for (field, wire, v, b) in try fields(data) {
            switch (field, wire) {
            case (1, 1): e.wallTime = Double(bitPattern: fixed(b, as: UInt64.self))
            case (2, 0): e.step = Int64(bitPattern: v)
            case (3, 2): e.fileVersion = String(decoding: b, as: UTF8.self)
            case (5, 2):
                for (f, w, _, value) in try fields(b) where f == 1 && w == 2 {
                    var tag = "", simple = Float.nan
                    for (vf, vw, _, vb) in try fields(value) {
                        if vf == 1 && vw == 2 { tag = String(decoding: vb, as: UTF8.self) }
                        if vf == 2 && vw == 5 { simple = Float(bitPattern: fixed(vb, as: UInt32.self)) }
                    }
                    e.values.append((tag, simple))
                }
            default: throw ReadError(description: "unexpected field \(field) of wire type \(wire)")
            }
        }
        return e
    }

    func eventFiles(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("tfevents") }.sorted()
    }

    @Test("a written file reads back: name, file_version, steps, tags and values")
    func roundTrip() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date().timeIntervalSince1970
        let w = try TensorBoardWriter(folder: dir)
        try w.scalar("loss", 2.302585, step: 0)
        try w.scalars([("loss", 1.25), ("accuracy", 0.5), ("layers/conv1/output_variance", 1e-30)], step: 10)
        try w.scalar("lr", 0.01, step: 20, wallTime: 1_700_000_000.25)
        try w.scalar("diverged", .nan, step: 1 << 40)
        try w.scalars([], step: 30)  // nothing to write
        try w.close()
        let end = Date().timeIntervalSince1970

        let name = (w.path as NSString).lastPathComponent
        #expect(try eventFiles(dir) == [name])
        let parts = name.split(separator: ".", maxSplits: 4).map(String.init)
        #expect(parts.count == 5 && parts[0...2] == ["events", "out", "tfevents"], "\(name)")
        #expect(parts.count == 5 && Double(parts[3]).map { $0 >= start.rounded(.down) && $0 <= end } == true)
        #expect(parts.count == 5 && parts[4] == TensorBoardWriter.hostname())

        let events = try Self.readEvents(w.path)
        try #require(events.count == 5)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].values.isEmpty)
        #expect(events[0].wallTime >= start && events[0].wallTime <= end)
        #expect(events.dropFirst().allSatisfy { $0.fileVersion == nil })
        #expect(events.map(\.step) == [0, 0, 10, 20, 1 << 40])
        #expect(events[1].values.map(\.tag) == ["loss"] && events[1].values[0].value == Float(2.302585))
        #expect(events[2].values.map(\.tag) == ["loss", "accuracy", "layers/conv1/output_variance"])
        #expect(events[2].values.map(\.value) == [1.25, 0.5, Float(1e-30)])
        #expect(events[1].wallTime >= start && events[1].wallTime <= end)
        #expect(events[3].wallTime == 1_700_000_000.25 && events[3].values[0].value == Float(0.01))
        #expect(events[4].values.map(\.tag) == ["diverged"] && events[4].values[0].value.isNaN)
    }

    @Test("TensorBoard sees only flushed events; flush writes whole records")
    func flushing() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try TensorBoardWriter(folder: dir)
        #expect(try Self.readEvents(w.path).count == 1)  // file_version is on disk at once
        try w.scalar("loss", 1, step: 1)
        #expect(try Self.readEvents(w.path).count == 1)
        try w.flush()
        #expect(try Self.readEvents(w.path).count == 2)
        // Past the buffer's threshold the writer flushes by itself, at a record boundary.
        for step in 2..<3000 { try w.scalars([("loss", Double(step)), ("accuracy", 0.5)], step: step) }
        let seen = try Self.readEvents(w.path)
        #expect(seen.count > 2 && seen.count < 3000)
        try w.close()
        #expect(try Self.readEvents(w.path).count == 3000)
    }

    @Test("two writers in one folder in the same second keep separate files")
    func twoWriters() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try TensorBoardWriter(folder: dir), b = try TensorBoardWriter(folder: dir)
        #expect(a.path != b.path)
        try a.scalar("run", 1, step: 1)
        try b.scalar("run", 2, step: 1)
        try a.close(); try b.close()
        #expect(try eventFiles(dir).count == 2)
        #expect(try Self.readEvents(a.path).last?.values.first?.value == 1)
        #expect(try Self.readEvents(b.path).last?.values.first?.value == 2)
    }

    @Test("errors name the file: writing after close, a folder that cannot be made")
    func errors() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try TensorBoardWriter(folder: dir)
        try w.close()
        try w.close()
        do {
            try w.scalar("loss", 1, step: 1)
            Issue.record("a write after close() went through")
        } catch let e as DataError {
            #expect(e.file == w.path && "\(e)".contains(w.path) && "\(e)".contains("close"), "\(e)")
        }
        let blocker = dir + "/a-file"
        FileManager.default.createFile(atPath: blocker, contents: Data([1]))
        do {
            _ = try TensorBoardWriter(folder: blocker + "/run")
            Issue.record("a folder under a regular file was accepted")
        } catch let e as DataError {
            #expect("\(e)".contains(blocker + "/run"), "\(e)")
        }
    }

    // MARK: - The tensorboard Python package

    /// Whether python3 can import the tensorboard package (`python3 -m pip install tensorboard`).
    static let pythonHasTensorBoard: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import tensorboard.backend.event_processing.event_accumulator"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    static let readerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/read_tfevents.py").path

    @Test("tensorboard's own event reader and EventAccumulator read the files",
          .enabled(if: pythonHasTensorBoard, "needs python3 with tensorboard (python3 -m pip install tensorboard)"))
    func tensorboardReads() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try TensorBoardWriter(folder: dir)
        for step in stride(from: 0, through: 200, by: 50) {
            try w.scalars([("loss", 2.5 / Double(step + 1)), ("accuracy", Double(step) / 400),
                           ("variance/conv1", 1.5e-3)], step: step, wallTime: 1_700_000_000 + Double(step))
        }
        try w.scalar("lr", 0.1, step: 1_000_000_007)
        try w.close()

        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.readerScript, dir]
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "\(errText)")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])

        let files = try #require(json["files"] as? [[String: Any]])
        try #require(files.count == 1)
        #expect(files[0]["name"] as? String == (w.path as NSString).lastPathComponent)
        #expect(files[0]["complete"] as? Bool == true, "the reader stopped early: a CRC or length it rejected")
        #expect(files[0]["canonical"] as? Bool == true, "protobuf serializes the parsed events differently")
        let events = try #require(files[0]["events"] as? [[String: Any]])
        try #require(events.count == 7)
        #expect(events[0]["what"] as? String == "file_version")
        #expect(events[0]["file_version"] as? String == "brain.Event:2")
        #expect(events.dropFirst().allSatisfy { $0["what"] as? String == "summary" })
        #expect(events.compactMap { $0["step"] as? Int } == [0, 0, 50, 100, 150, 200, 1_000_000_007])
        #expect(events[2]["wall_time"] as? Double == 1_700_000_050)

        // Values compare as Float: they are float32 in the file, and Foundation's JSON parser may miss
        // the last bit of a double.
        let scalars = try #require(json["scalars"] as? [String: [[Double]]])
        #expect(Set(scalars.keys) == ["loss", "accuracy", "variance/conv1", "lr"])
        let loss = try #require(scalars["loss"])
        #expect(loss.map { $0[0] } == [0, 50, 100, 150, 200])
        for (row, step) in zip(loss, stride(from: 0, through: 200, by: 50)) {
            #expect(Float(row[1]) == Float(2.5 / Double(step + 1)), "loss at step \(step)")
            #expect(row[2] == 1_700_000_000 + Double(step))
        }
        #expect(scalars["accuracy"]?.map { Float($0[1]) } == [0, 0.125, 0.25, 0.375, 0.5])
        #expect(scalars["variance/conv1"]?.allSatisfy { Float($0[1]) == Float(1.5e-3) } == true)
        #expect(scalars["lr"]?.first?[0] == 1_000_000_007 && scalars["lr"]?.first.map { Float($0[1]) } == 0.1)

        // What `tensorboard --logdir` serves: the same series under its scalars dashboard.
        let dashboard = try #require(json["dashboard"] as? [String: [[Double]]])
        #expect(Set(dashboard.keys) == Set(scalars.keys))
        for (tag, series) in scalars {
            #expect(dashboard[tag]?.map { $0[0] } == series.map { $0[0] }, "\(tag)")
            #expect(dashboard[tag]?.map { Float($0[1]) } == series.map { Float($0[1]) }, "\(tag)")
        }
    }
}
