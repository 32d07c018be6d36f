// The output folder, prepared before data loads or anything is written: a bad --out is refused in
// one line, and files that killed runs left behind are cleared.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum OutputFolder {
    /// Creates `path` (and its parents) and checks that a file can be written in it, so that a bad
    /// `--out` is refused in one line before any data loads.
    public static func prepare(_ path: String) throws {
        func fail(_ problem: String) -> SettingError { SettingError("out", "\(path): \(problem)") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw fail("is a file, not a folder")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Foundation's NSError text is a dump: name the part of the path that fails instead.
            var part = path
            while !part.isEmpty, part != "/", !FileManager.default.fileExists(atPath: part) {
                part = (part as NSString).deletingLastPathComponent
            }
            let why = mkdir(path, 0o755) == 0 ? "unknown error" : String(cString: strerror(errno))
            throw fail("cannot create the folder (\(why); \(part.isEmpty ? "." : part) is the deepest existing part)")
        }
        let probe = (path as NSString).appendingPathComponent(".goodinit-write-test-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot write in the folder (\(String(cString: strerror(errno))))") }
        close(fd)
        unlink(probe)
    }

    /// Removes `<base>.tmp-<pid>` files that killed runs left behind (a checkpoint write cut off
    /// by SIGKILL); files of processes still alive are kept. Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String, base: String) -> [String] {
        let prefix = base + ".tmp-"
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid > 0 else { continue }
            let alive = pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)
            if !alive, unlink((folder as NSString).appendingPathComponent(name)) == 0 { removed.append(name) }
        }
        return removed
    }
}
