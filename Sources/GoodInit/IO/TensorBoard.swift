// TensorBoard event files: scalars as Event protocol buffers, encoded by hand, in TFRecord framing.
import Foundation

/// Writes one `events.out.tfevents.<unix seconds>.<hostname>` file that `tensorboard --logdir` reads:
/// a first Event with `file_version = "brain.Event:2"`, then one Event per call with its scalars.
/// Events are buffered; TensorBoard sees them after `flush()` (call it at each log step) or `close()`.
/// Errors are `DataError`s that name the file. One writer per run, used from one thread:
///
///     let tb = try TensorBoardWriter(folder: runFolder)
///     try tb.scalars([("loss", loss), ("accuracy", accuracy)], step: step)
///     try tb.flush()
public final class TensorBoardWriter {
    /// The event file's full path.
    public let path: String
    private var handle: FileHandle?
    private var pending: [UInt8] = []
    /// Past this many buffered bytes the writer flushes on its own.
    private static let flushThreshold = 1 << 16

    /// Creates the event file in `folder` (and the folder if needed). A second writer started in the
    /// same second gets a `.1`, `.2`, … suffix rather than overwriting the first one's file.
    public init(folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: folder, problem: "cannot create the folder for event files (\(error))")
        }
        let now = Date().timeIntervalSince1970
        let base = (folder as NSString).appendingPathComponent(
            "events.out.tfevents.\(Int(now)).\(Self.hostname())")
        var chosen: String?
        for attempt in 0..<100 {
            let candidate = attempt == 0 ? base : "\(base).\(attempt)"
            do {
                try Data().write(to: URL(fileURLWithPath: candidate), options: .withoutOverwriting)
                chosen = candidate
                break
            } catch where FileManager.default.fileExists(atPath: candidate) {
                continue
            } catch {
                throw DataError(file: candidate, problem: "cannot create (\(error))")
            }
        }
        guard let path = chosen else { throw DataError(file: base, problem: "100 event files already exist") }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw DataError(file: path, problem: "cannot open for writing")
        }
        self.path = path
        self.handle = handle
        pending = TFRecord.frame(EventProto.fileVersionEvent(wallTime: now))
        try flush()
    }

    deinit { try? close() }

    /// One scalar at `step`.
    public func scalar(_ tag: String, _ value: Double, step: Int,
                       wallTime: Double = Date().timeIntervalSince1970) throws {
        try scalars([(tag, value)], step: step, wallTime: wallTime)
    }

    /// Several scalars of one step in one Event, in the order given. TensorBoard stores them as
    /// float32, so values beyond ±3.4e38 show as ±inf.
    public func scalars(_ values: [(tag: String, value: Double)], step: Int,
                        wallTime: Double = Date().timeIntervalSince1970) throws {
        guard handle != nil else { throw DataError(file: path, problem: "written to after close()") }
        guard !values.isEmpty else { return }
        pending += TFRecord.frame(EventProto.scalarsEvent(values, step: step, wallTime: wallTime))
        if pending.count >= Self.flushThreshold { try flush() }
    }

    /// Writes the buffered events to the file.
    public func flush() throws {
        guard let handle, !pending.isEmpty else { return }
        // Dropped even if the write fails: a retry would repeat the part that did reach the file.
        let bytes = pending
        pending.removeAll(keepingCapacity: true)
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            throw DataError(file: path, problem: "cannot write (\(error))")
        }
    }

    /// Flushes and closes the file; later writes throw. Calling it twice is harmless.
    public func close() throws {
        guard let handle else { return }
        defer { self.handle = nil }
        do { try flush() } catch { try? handle.close(); throw error }
        do { try handle.close() } catch { throw DataError(file: path, problem: "cannot close (\(error))") }
    }

    /// The host's name as gethostname(2) gives it (no DNS look-up), safe as part of a file name.
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }
}

/// TFRecord framing: length (uint64 LE), masked CRC-32C of the length bytes, data, masked CRC-32C of the data.
enum TFRecord {
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndianBytes(UInt64(data.count))
        out += length
        out += littleEndianBytes(CRC32C.masked(CRC32C.checksum(length)))
        out += data
        out += littleEndianBytes(CRC32C.masked(CRC32C.checksum(data)))
        return out
    }
}

/// The fields of tensorboard/compat/proto/event.proto and summary.proto that scalars need.
/// Encoded as proto3 serializes them (fields in number order, defaults left out) except inside a
/// oneof (file_version, summary, simple_value), where being present is the message.
enum EventProto {
    enum Event { static let wallTime = 1, step = 2, fileVersion = 3, summary = 5 }
    enum Summary { static let value = 1 }
    enum Value { static let tag = 1, simpleValue = 2 }

    static let version = "brain.Event:2"

    static func fileVersionEvent(wallTime: Double) -> [UInt8] {
        var e = ProtoWriter()
        e.double(Event.wallTime, wallTime)
        e.string(Event.fileVersion, version, always: true)
        return e.bytes
    }

    static func scalarsEvent(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double) -> [UInt8] {
        var summary = ProtoWriter()
        for (tag, value) in values {
            var v = ProtoWriter()
            v.string(Value.tag, tag)
            v.float(Value.simpleValue, Float(value))
            summary.message(Summary.value, v.bytes)
        }
        var e = ProtoWriter()
        e.double(Event.wallTime, wallTime)
        e.int64(Event.step, Int64(step))
        e.message(Event.summary, summary.bytes)
        return e.bytes
    }
}
