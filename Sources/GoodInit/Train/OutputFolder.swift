// The output folder, prepared before data loads or anything is written: a bad --out is refused in
// one line, and files that killed runs left behind are cleared.
import Foundation
import Synchronization
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

    /// What a run that saved leaves in its folder: a new run there would replace it. (A metrics.jsonl
    /// alone is a run killed before its first save: nothing to resume, so a new run may start over.)
    public static let runFiles = ["checkpoint.safetensors", "summary.json"]

    /// Refuses a new run into a folder that holds another run's files, unless `overwrite`: they
    /// would be replaced without asking. A resume continues them.
    public static func checkNewRun(_ path: String, resuming: Bool, overwrite: Bool) throws {
        guard !resuming, !overwrite else { return }
        let found = runFiles.filter {
            FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent($0))
        }
        guard found.isEmpty else {
            let checkpoint = (path as NSString).appendingPathComponent("checkpoint.safetensors")
            throw SettingError("out", "\(path) holds a run (\(found.joined(separator: ", "))): continue it with "
                               + "--resume \(checkpoint), or replace it with --overwrite")
        }
    }

    private static let locks = Mutex<[String: Int32]>([:])

    /// Takes an advisory lock (flock) on `<path>/.goodinit.lock` for the rest of the process, so that
    /// a second run into the same folder is refused instead of mixing its files with this one's.
    /// The kernel drops the lock when the process ends, however it ends.
    public static func lock(_ path: String) throws {
        let file = (path as NSString).appendingPathComponent(".goodinit.lock")
        let key = (file as NSString).standardizingPath
        try locks.withLock { held in
            guard held[key] == nil else { return }
            let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw SettingError("out", "\(path): cannot open \(file) (\(String(cString: strerror(errno))))")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let busy = errno == EWOULDBLOCK
                let why = String(cString: strerror(errno))
                close(fd)
                throw SettingError("out", busy ? "\(path) is in use by another goodinit run (it holds \(file)); "
                                   + "wait for it to end or choose another --out"
                                   : "\(path): cannot lock \(file) (\(why))")
            }
            held[key] = fd
        }
    }

    /// The test figures of the summary.json in `folder` when it describes the weights at `step`
    /// (a finished run that a resume continues without training a step); nil otherwise.
    public static func earlierEvaluation(in folder: String, step: Int) -> (accuracy: Double, loss: Double)? {
        struct Figures: Decodable { var steps: Int; var testAccuracy, testLoss: Double? }
        let path = (folder as NSString).appendingPathComponent("summary.json")
        guard let bytes = FileManager.default.contents(atPath: path),
              let f = try? JSONDecoder().decode(Figures.self, from: bytes), f.steps == step,
              let accuracy = f.testAccuracy, let loss = f.testLoss else { return nil }
        return (accuracy, loss)
    }
}
