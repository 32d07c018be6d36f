// metrics.jsonl: one JSON record per line, appended and flushed as training goes.
import Foundation

public final class MetricsFile: TrainingSink {
    let handle: FileHandle
    let path: String
    let encoder: JSONEncoder = {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]; return e
    }()

    /// Opens `path` for appending (a resumed run continues its file); `truncate` starts it afresh.
    public init(path: String, truncate: Bool) throws {
        let fm = FileManager.default
        // checked: a truncation that failed would append this run's records to the old ones
        if truncate || !fm.fileExists(atPath: path), !fm.createFile(atPath: path, contents: nil) {
            throw DataError(file: path, problem: "cannot create")
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw DataError(file: path, problem: "cannot open for writing")
        }
        h.seekToEndOfFile()
        handle = h
        self.path = path
    }
    deinit { try? handle.close() }

    /// Appends one record; a write that fails (a full disk) is a DataError with errno's reason.
    public func record(_ r: TrainingRecord) throws {
        var line = try encoder.encode(r)
        line.append(0x0A)
        if let code = line.withUnsafeBytes({ writeAll(handle.fileDescriptor, $0) }) {
            throw DataError(file: path, problem: "cannot write (\(WriteError(target: path, code: code).reason))")
        }
    }

    /// The records of a metrics.jsonl (resume continues its charts, `--render` redraws them).
    public static func read(_ path: String) throws -> [TrainingRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DataError(file: path, problem: "cannot read")
        }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try decoder.decode(TrainingRecord.self, from: Data(line.utf8)) } catch {
                throw DataError(file: path, problem: "line \(i + 1) is not a GoodInit metrics record")
            }
        }
    }
}
