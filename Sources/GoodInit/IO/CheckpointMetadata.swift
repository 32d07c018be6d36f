// A checkpoint's metadata as a validated record: everything refused here is refused before any
// tensor is assigned. Every stored counter is range-checked and the epoch's sums checked against
// each other, so no later arithmetic on them can trap or report garbage.
import Foundation

/// What makes a checkpoint self-contained (stored under the metadata key "network", as JSON):
/// the network itself, what an input must look like, and what the outputs mean. `eval`, `predict`,
/// `export` and `--resume` need nothing else. Checkpoints written before it have none.
public struct CheckpointNetwork: Codable, Sendable, Equatable {
    /// The model file's text (nil for a preset: the stored settings name it and its activation).
    public var modelText: String?
    /// (C, H, W) of one sample.
    public var input: [Int]
    /// One name per output, in output order.
    public var classNames: [String]
    /// Per-channel normalization of the [0, 1] pixels: x' = (x − mean) / std.
    public var mean: [Float], std: [Float]
    /// The network's ops, to refuse loading the weights into another one.
    public var identity: NetworkIdentity

    public init(modelText: String?, input: [Int], classNames: [String], mean: [Float], std: [Float],
                identity: NetworkIdentity) {
        self.modelText = modelText; self.input = input; self.classNames = classNames
        self.mean = mean; self.std = std; self.identity = identity
    }

    /// The record's own consistency: what a hand-edited record could break.
    func check(file: String) throws {
        func fail(_ problem: String) -> DataError { DataError(file: file, problem: "metadata 'network': \(problem)") }
        guard !input.isEmpty, input.count <= 3, input.allSatisfy({ $0 > 0 && $0 <= NetworkLimits.size }) else {
            throw fail("input shape \(input) is not (C, H, W) of sizes in 1...\(NetworkLimits.size)")
        }
        guard mean.count == input[0], std.count == input[0] else {
            throw fail("\(mean.count) means and \(std.count) standard deviations for \(input[0]) channels")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("normalization mean \(mean), std \(std): must be finite, std > 0")
        }
        guard !classNames.isEmpty, classNames.count <= NetworkLimits.elements else {
            throw fail("no class names")
        }
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
    /// The settings the run was trained with (its thread budget reset: eval and resume set their own).
    public var config: TrainSettings
    /// The network, its input and its outputs' names (nil in checkpoints written before they were stored).
    public var network: CheckpointNetwork?

    /// Steps a real run can reach: 2^40, twelve days at a million steps a second. Larger stored
    /// counts are edits or corruption, and products with them (steps × batch) could overflow.
    public static let maxSteps = 1 << 40

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
        network = nil
        if let text = meta["network"] {
            guard let n = try? JSONDecoder().decode(CheckpointNetwork.self, from: Data(text.utf8)) else {
                throw fail("metadata 'network' is not a GoodInit network record")
            }
            try n.check(file: file)
            network = n
        }
        try checkCounters(fail)
    }

    /// Counters in the range a real run reaches, and consistent with each other and the settings.
    func checkCounters(_ fail: (String) -> DataError) throws {
        let p = position, batch = config.loop.batchSize
        guard p.step <= Self.maxSteps else {
            throw fail("metadata 'step' is \(p.step), more than a run reaches (\(Self.maxSteps))")
        }
        // every finished epoch and every batch of this one took a step
        guard p.epoch <= p.step, p.batchInEpoch <= p.step else {
            throw fail("metadata 'epoch' \(p.epoch) or 'batch_in_epoch' \(p.batchInEpoch) exceeds 'step' \(p.step)")
        }
        guard optimizerSteps <= p.step else {
            throw fail("metadata 'optimizer_steps' is \(optimizerSteps), more than 'step' \(p.step)")
        }
        let (seenBound, overflow) = p.batchInEpoch.multipliedReportingOverflow(by: batch)
        guard p.epochSeen <= (overflow ? Int.max : seenBound) else {
            throw fail("metadata 'epoch_seen' is \(p.epochSeen), more than the \(p.batchInEpoch) batches of "
                       + "\(batch) this epoch has had")
        }
        guard p.epochCorrect <= p.epochSeen else {
            throw fail("metadata 'epoch_correct' \(p.epochCorrect) exceeds 'epoch_seen' \(p.epochSeen)")
        }
        // a sample's cross-entropy from Float logits is below twice the largest Float
        let lossBound = Double(p.epochSeen) * 2 * Double(Float.greatestFiniteMagnitude)
        guard p.epochLossSum >= 0, p.epochLossSum <= lossBound else {
            throw fail("metadata 'epoch_loss_sum' is \(p.epochLossSum), not a sum of \(p.epochSeen) "
                       + "cross-entropies")
        }
    }
}
