// Checkpoints in safetensors: every parameter by name ("conv1.weight"), batch-norm running
// statistics, optimizer state ("optimizer.state1.conv1.weight"), and in the metadata the step,
// the position in the data order, the configuration, and the network record that makes the file
// self-contained (CheckpointNetwork: the model, input shape, class names, normalization). PyTorch
// users read the weights with safetensors.numpy / safetensors.torch. Written atomically by Safetensors.write.
import Foundation

public struct TrainingPosition: Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    public var batchInEpoch: Int
    /// The unfinished epoch's running sums (Σ loss·batch, correct, samples), so that an epoch
    /// resumed in its middle still reports its whole average; zeros at an epoch's start.
    public var epochLossSum = 0.0, epochCorrect = 0, epochSeen = 0
    public init(step: Int, epoch: Int, batchInEpoch: Int) {
        self.step = step
        self.epoch = epoch
        self.batchInEpoch = batchInEpoch
    }
}

public enum Checkpoint {
    public static func save(_ net: Network, optimizer: Optimizer?, position: TrainingPosition, config: String,
                            network: CheckpointNetwork? = nil, to path: String) throws {
        var tensors: [NamedArray] = []
        for e in net.params.entries {
            let values = net.params.view(e, in: net.params.values).array
            tensors.append(NamedArray(name: e.name, shape: e.spec.shape, values: values))
        }
        for (name, t) in net.stateTensors { tensors.append(NamedArray(name: name, shape: t.shape, values: t.array)) }
        if let optimizer {
            for e in net.params.entries {
                let state1 = net.params.view(e, in: optimizer.state1).array
                tensors.append(NamedArray(name: "optimizer.state1.\(e.name)", shape: e.spec.shape, values: state1))
                if optimizer.kind == .adam {
                    let state2 = net.params.view(e, in: optimizer.state2).array
                    tensors.append(NamedArray(name: "optimizer.state2.\(e.name)", shape: e.spec.shape, values: state2))
                }
            }
        }
        var meta = ["format": "goodinit-checkpoint-1", "model": net.name,
                    "step": "\(position.step)", "epoch": "\(position.epoch)",
                    "batch_in_epoch": "\(position.batchInEpoch)", "config": config,
                    // Swift prints a Double with the digits that read back to the same bits
                    "epoch_loss_sum": "\(position.epochLossSum)", "epoch_correct": "\(position.epochCorrect)",
                    "epoch_seen": "\(position.epochSeen)"]
        if let optimizer { meta["optimizer"] = optimizer.kind.rawValue; meta["optimizer_steps"] = "\(optimizer.steps)" }
        if let network {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            meta["network"] = String(decoding: try enc.encode(network), as: UTF8.self)
        }
        try Safetensors.write(tensors, metadata: meta, to: path)
    }

    /// Loads weights, running statistics and (when given) optimizer state into `net`. The metadata
    /// is parsed and checked, `check` sees it, and every tensor is found with the right shape,
    /// all before anything is assigned: a refused checkpoint leaves `net` as it was. A checkpoint
    /// that names its network is refused by another network, however alike its parameter shapes,
    /// unless `weightsOnly`; weights and running statistics must be finite.
    @discardableResult
    public static func load(_ path: String, into net: Network, optimizer: Optimizer?, weightsOnly: Bool = false,
                            check: (CheckpointMetadata) throws -> Void = { _ in }) throws -> CheckpointMetadata {
        let (tensors, meta) = try Safetensors.read(path)
        let record = try CheckpointMetadata(meta, file: path)
        if !weightsOnly, let stored = record.network?.identity,
           let difference = stored.firstDifference(NetworkIdentity(net)) {
            throw DataError(file: path, problem: "trained another network (\(stored.hash)): \(difference) "
                            + "(--weights-only loads its weights anyway)")
        }
        try check(record)
        if let optimizer, record.optimizer != optimizer.kind {
            throw SettingError("optimizer.kind", "\(optimizer.kind.rawValue) is not the optimizer whose state \(path) "
                               + "holds (\(record.optimizer?.rawValue ?? "none"))")
        }
        var byName: [String: NamedArray] = [:]
        for t in tensors { byName[t.name] = t }
        var pending: [(NamedArray, Tensor)] = []
        func take(_ name: String, _ into: Tensor) throws {
            guard let t = byName[name] else {
                throw DataError(file: path, problem: "missing tensor '\(name)' (is this a checkpoint of \(net.name)?)")
            }
            guard t.shape == into.shape else {
                throw DataError(file: path,
                                problem: "tensor '\(name)' has shape \(t.shape), the model needs \(into.shape)")
            }
            pending.append((t, into))
        }
        for e in net.params.entries { try take(e.name, net.params.view(e, in: net.params.values)) }
        for (name, t) in net.stateTensors { try take(name, t) }
        if let optimizer {
            for e in net.params.entries {
                try take("optimizer.state1.\(e.name)", net.params.view(e, in: optimizer.state1))
                if optimizer.kind == .adam {
                    try take("optimizer.state2.\(e.name)", net.params.view(e, in: optimizer.state2))
                }
            }
        }
        // Optimizer state may hold anything a run produced; weights and statistics must be numbers.
        for (t, _) in pending where !t.name.hasPrefix("optimizer.") {
            if let i = t.values.firstIndex(where: { !$0.isFinite }) {
                throw DataError(file: path, problem: "tensor '\(t.name)' holds \(t.values[i]) at index \(i): "
                                + "the weights are not finite")
            }
        }
        for (t, into) in pending { into.assign(t.values) }
        optimizer?.steps = record.optimizerSteps
        return record
    }
}
