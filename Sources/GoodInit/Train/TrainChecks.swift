// The training configuration's checks, the output folder's preparation, and checkpoint
// metadata as a validated record: everything refused here is refused before data loads or
// anything is written. Messages name the command-line flag of the value.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ⌈batch / chunk⌉ without the overflow of (batch + chunk − 1) / chunk for sizes near Int.max.
func chunks(batch: Int, chunk: Int) -> Int { batch / chunk + (batch % chunk == 0 ? 0 : 1) }

extension TrainConfig {
    /// The most threads or workers accepted: far beyond that a run only thrashes (or libomp aborts).
    public static var threadLimit: Int { min(1024, 4 * ProcessInfo.processInfo.activeProcessorCount) }

    /// Throws a TrainingError naming the first flag whose value is out of range.
    public func validate() throws {
        func need(_ ok: Bool, _ flag: String, _ rule: String, _ value: Any) throws {
            guard ok else { throw TrainingError("--\(flag) \(rule), got \(value)") }
        }
        func positive(_ v: Int?, _ flag: String) throws {
            if let v { try need(v >= 1, flag, "must be at least 1", v) }
        }
        try positive(epochs, "epochs"); try positive(batchSize, "batch-size"); try positive(chunk, "chunk")
        try positive(logEvery, "log-every"); try positive(trainLimit, "train-limit")
        try positive(testLimit, "test-limit"); try positive(lsuvBatch, "lsuv-batch")
        try positive(rbmEpochs, "rbm-epochs"); try positive(rbmSamples, "rbm-samples")
        if let maxSteps { try need(maxSteps >= 0, "steps", "must be 0 or more", maxSteps) }
        if let step = injectNaNAtStep { try need(step >= 0, "inject-nan-at-step", "must be 0 or more", step) }
        try need(lsuvMaxTries >= 0, "lsuv-max-tries", "must be 0 or more", lsuvMaxTries)
        try need(lr.isFinite && lr > 0, "lr", "must be a positive number", lr)
        try need(lsuvTolVar.isFinite && lsuvTolVar > 0, "lsuv-tol", "must be a positive number", lsuvTolVar)
        try need(rbmLearningRate.isFinite && rbmLearningRate > 0, "rbm-lr", "must be a positive number",
                 rbmLearningRate)
        try need(momentum.isFinite && momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1)", momentum)
        try need(weightDecay.isFinite && weightDecay >= 0, "weight-decay", "must be 0 or a positive number",
                 weightDecay)
        let limit = Self.threadLimit
        try need(workers >= 1 && workers <= limit, "workers", "must be in 1...\(limit) (4 × the cores, at most 1024)",
                 workers)
        try need(threads >= 0 && threads <= limit, "threads",
                 "must be 0 (auto) or at most \(limit) (4 × the cores, at most 1024)", threads)
        try need(Optimizer.Kind(rawValue: optimizer) != nil, "optimizer", "must be sgd or adam", optimizer)
        try need(!out.isEmpty, "out", "must name a folder", "''")
        try need(DataSets.names.contains(data), "data", "must be one of " + DataSets.names.joined(separator: ", "),
                 data)
        if modelFile == nil {
            try need(Presets.names.contains(model), "model", "must be one of " + Presets.names.joined(separator: ", "),
                     model)
        }
        do {
            _ = try Initializer(parsing: initializer)
            _ = try Schedule(parsing: schedule)
            if modelFile == nil { _ = try Presets.activation(activation) }
        } catch { throw TrainingError("\(error)") }
    }
}

public enum OutputFolder {
    /// Creates `path` (and its parents) and checks that a file can be written in it, so that a bad
    /// `--out` is refused in one line before any data loads.
    public static func prepare(_ path: String) throws {
        func fail(_ problem: String) -> TrainingError { TrainingError("--out \(path): \(problem)") }
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

/// A checkpoint's metadata, parsed and checked: the position in the data order, the optimizer
/// state's step count and the configuration it was trained with.
public struct CheckpointMetadata: Sendable {
    public static let format = "goodinit-checkpoint-1"
    public var model: String
    public var position: TrainingPosition
    public var optimizer: Optimizer.Kind?
    public var optimizerSteps: Int
    public var config: TrainConfig

    /// Reads only what is needed to check the metadata (the whole file, as the format has it).
    public static func read(_ path: String) throws -> CheckpointMetadata {
        try CheckpointMetadata(Safetensors.read(path).metadata, file: path)
    }

    public init(_ meta: [String: String], file: String) throws {
        func fail(_ problem: String) -> DataError { DataError(file: file, problem: problem) }
        guard !meta.isEmpty else { throw fail("no metadata: not a GoodInit checkpoint") }
        guard meta["format"] == Self.format else {
            let found = meta["format"].map { "'\($0)'" } ?? "missing"
            throw fail("metadata 'format' is \(found), expected '\(Self.format)'")
        }
        func count(_ key: String) throws -> Int {
            guard let text = meta[key] else { throw fail("metadata has no '\(key)'") }
            guard let v = Int(text), v >= 0 else {
                throw fail("metadata '\(key)' must be a whole number ≥ 0, got '\(text)'")
            }
            return v
        }
        model = meta["model"] ?? ""
        position = TrainingPosition(step: try count("step"), epoch: try count("epoch"),
                                    batchInEpoch: try count("batch_in_epoch"))
        if let kind = meta["optimizer"] {
            guard let k = Optimizer.Kind(rawValue: kind) else { throw fail("metadata 'optimizer' is '\(kind)'") }
            optimizer = k
            optimizerSteps = try count("optimizer_steps")
        } else {
            optimizer = nil; optimizerSteps = 0
        }
        guard let text = meta["config"] else { throw fail("metadata has no 'config'") }
        do {
            config = try JSONDecoder().decode(TrainConfig.self, from: Data(text.utf8))
        } catch {
            throw fail("metadata 'config' is not a GoodInit training configuration")
        }
        // the thread budget is this machine's choice (eval and resume set their own), not the file's
        var stored = config
        stored.workers = 1; stored.threads = 0
        do { try stored.validate() } catch { throw fail("stored configuration: \(error)") }
    }
}
