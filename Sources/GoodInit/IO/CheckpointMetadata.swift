// A checkpoint's metadata as a validated record: everything refused here is refused before any
// tensor is assigned.
import Foundation

/// A checkpoint's metadata, parsed and checked: the position in the data order, the optimizer
/// state's step count and the configuration it was trained with.
public struct CheckpointMetadata: Sendable {
    public static let format = "goodinit-checkpoint-1"
    public var model: String
    public var position: TrainingPosition
    public var optimizer: Optimizer.Kind?
    public var optimizerSteps: Int
    /// The settings the run was trained with (its thread budget reset: eval and resume set their own).
    public var config: TrainSettings

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
        // older checkpoints lack the epoch's running sums: the resumed epoch then averages its rest
        if meta["epoch_seen"] != nil {
            position.epochCorrect = try count("epoch_correct"); position.epochSeen = try count("epoch_seen")
            guard let text = meta["epoch_loss_sum"], let sum = Double(text), sum.isFinite else {
                throw fail("metadata 'epoch_loss_sum' must be a finite number, got '\(meta["epoch_loss_sum"] ?? "")'")
            }
            position.epochLossSum = sum
        }
        if let kind = meta["optimizer"] {
            guard let k = Optimizer.Kind(rawValue: kind) else { throw fail("metadata 'optimizer' is '\(kind)'") }
            optimizer = k
            optimizerSteps = try count("optimizer_steps")
        } else {
            optimizer = nil; optimizerSteps = 0
        }
        guard let text = meta["config"] else { throw fail("metadata has no 'config'") }
        do {
            config = try TrainSettings.stored(Data(text.utf8))
        } catch let e as SettingError {
            throw fail("stored configuration: \(e)")
        } catch {
            throw fail("metadata 'config' is not a GoodInit training configuration")
        }
    }
}
