// metrics.jsonl: one JSON object per line, appended and flushed as training goes.
import Foundation

public final class MetricsLog {
    let handle: FileHandle
    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw DataError(file: path, problem: "cannot open for writing") }
        h.seekToEndOfFile()
        handle = h
    }
    deinit { try? handle.close() }
    public func write(_ object: [String: Any]) throws {
        var clean: [String: Any] = [:]
        for (k, v) in object { if let d = v as? Double, !d.isFinite { clean[k] = NSNull() } else { clean[k] = v } }
        var data = try JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys])
        data.append(0x0A)
        handle.write(data)
    }

    /// Reads the objects back (for reports and tests).
    public static func read(_ path: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw DataError(file: path, problem: "cannot read") }
        return try text.split(separator: "\n").enumerated().map { i, line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw DataError(file: path, problem: "line \(i + 1) is not a JSON object")
            }
            return o
        }
    }
}
