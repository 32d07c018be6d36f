// The training loop: data order from the seed, data-parallel steps through a Plan, SGD,
// evaluation each epoch, metrics, checkpoints, resume, signals, NaN/Inf detection.
import Foundation

public struct TrainConfig: Codable, Sendable {
    public var model = "cnn-small"
    public var modelFile: String? = nil
    public var activation = "relu"
    public var initializer = "lsuv"
    public var lsuvTolVar = 0.1
    public var lsuvMaxTries = 10
    public var lsuvBatch = 128
    public var lsuvZeroMean = false
    public var rbmEpochs = 1
    public var rbmLearningRate = 0.01
    public var rbmSamples = 10_000
    public var data = "fashion-mnist"
    public var dataDir: String? = nil
    public var augment: Bool? = nil      // random crop + flip; default: on for CIFAR
    public var trainLimit: Int? = nil    // use only the first N training samples
    public var testLimit: Int? = nil
    public var epochs = 2
    public var maxSteps: Int? = nil      // stop after this many steps in all
    public var batchSize = 128
    public var lr = 0.05
    public var schedule = "constant"
    public var momentum = 0.9
    public var weightDecay = 5e-4
    public var optimizer = "sgd"
    public var workers = 1
    public var threads = 0               // 0: all cores / workers
    public var chunk = 128
    public var seed: UInt64 = 1
    public var out = "runs/latest"
    public var logEvery = 20
    public var evalEachEpoch = true
    public var injectNaNAtStep: Int? = nil   // testing: poison the first weight of the first layer
    public init() {}
}

public struct TrainSummary: Codable, Sendable {
    public var model: String
    public var initializer: String
    public var steps: Int
    public var epochs: Double
    public var finalTrainLoss: Double
    public var testAccuracy: Double?
    public var testLoss: Double?
    public var imagesPerSecond: Double
    public var wallSeconds: Double
    public var peakRSSMegabytes: Double
    public var lsuv: [LSUVLayerReport]?
    public var stoppedBySignal: Bool
    public var config: TrainConfig

    enum CodingKeys: String, CodingKey {
        case model, initializer, steps, epochs, finalTrainLoss, testAccuracy, testLoss, imagesPerSecond, wallSeconds
        case peakRSSMegabytes, lsuv, stoppedBySignal, config
    }
}

extension TrainSummary {
    /// JSON has no NaN: a run without a step (no training loss) writes null, and reads back as NaN.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model); try c.encode(initializer, forKey: .initializer)
        try c.encode(steps, forKey: .steps); try c.encode(epochs, forKey: .epochs)
        try c.encode(finalTrainLoss.isFinite ? finalTrainLoss : nil, forKey: .finalTrainLoss)
        try c.encodeIfPresent(testAccuracy, forKey: .testAccuracy); try c.encodeIfPresent(testLoss, forKey: .testLoss)
        try c.encode(imagesPerSecond, forKey: .imagesPerSecond); try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(peakRSSMegabytes, forKey: .peakRSSMegabytes); try c.encodeIfPresent(lsuv, forKey: .lsuv)
        try c.encode(stoppedBySignal, forKey: .stoppedBySignal); try c.encode(config, forKey: .config)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model); initializer = try c.decode(String.self, forKey: .initializer)
        steps = try c.decode(Int.self, forKey: .steps); epochs = try c.decode(Double.self, forKey: .epochs)
        finalTrainLoss = try c.decodeIfPresent(Double.self, forKey: .finalTrainLoss) ?? .nan
        testAccuracy = try c.decodeIfPresent(Double.self, forKey: .testAccuracy)
        testLoss = try c.decodeIfPresent(Double.self, forKey: .testLoss)
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
        peakRSSMegabytes = try c.decode(Double.self, forKey: .peakRSSMegabytes)
        lsuv = try c.decodeIfPresent([LSUVLayerReport].self, forKey: .lsuv)
        stoppedBySignal = try c.decode(Bool.self, forKey: .stoppedBySignal)
        config = try c.decode(TrainConfig.self, forKey: .config)
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Training stopped because a loss or gradient became NaN/Inf: a property of the run (too high a
/// learning rate, a bad init), not of the input, so experiments record it instead of aborting.
public struct DivergenceError: Error, CustomStringConvertible {
    public let step: Int          // 1-based step whose forward or backward went non-finite
    public let location: String   // the first layer whose output or gradient is NaN/Inf
    public let checkpoint: String?
    public var description: String {
        "non-finite value at step \(step): \(location) is NaN/Inf; the last good checkpoint is \(checkpoint ?? "none (no epoch finished yet)")"
    }
}

/// Set by SIGINT/SIGTERM; the loop saves at the next step boundary and returns.
nonisolated(unsafe) public var trainingStopRequested: Int32 = 0
/// 1 while a checkpoint is being written: a signal handler lets the write finish instead of exiting.
nonisolated(unsafe) public var checkpointSaveInProgress: Int32 = 0

public final class Trainer {
    public let config: TrainConfig
    /// LSUV's per-layer report from the last run (kept here too, for runs that end in an error).
    public private(set) var lsuvReport: [LSUVLayerReport]? = nil
    public let net: Network
    public let data: DataSplits
    public let optimizer: Optimizer
    public var log: (String) -> Void = { print($0) }
    /// Called after each logged step with the step number and the plan (its activations hold the
    /// step's forward pass): experiments record internal statistics here.
    public var onLoggedStep: ((Int, Plan) -> Void)? = nil
    let threads: Int

    public init(config: TrainConfig, data: DataSplits? = nil) throws {
        self.config = config
        try config.validate()
        // Workers share chunks; the chunking never depends on W (same bits for any W), so a batch
        // with fewer chunks than workers would leave workers idle. Say so rather than run slower.
        let chunkCount = chunks(batch: config.batchSize, chunk: config.chunk)
        guard config.workers <= chunkCount else {
            throw TrainingError("\(config.workers) workers need at least \(config.workers) chunks, but batch \(config.batchSize) / chunk \(config.chunk) gives \(chunkCount): pass --chunk \(max(1, config.batchSize / config.workers)) or less")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        threads = config.threads > 0 ? config.threads : max(1, cores / config.workers)
        var splits = try data ?? DataSets.load(name: config.data, dir: config.dataDir, seed: config.seed)
        if let n = config.trainLimit, n < splits.train.count { splits.train = splits.train.subset(0..<n) }
        if let n = config.testLimit, n < splits.test.count { splits.test = splits.test.subset(0..<n) }
        try Self.checkSplits(splits, name: config.data)
        let (mean, std) = splits.train.channelMeanStd()
        splits.train.normalize(mean: mean, std: std)
        splits.test.normalize(mean: mean, std: std)
        self.data = splits
        let input = [splits.train.channels, splits.train.height, splits.train.width]
        if let file = config.modelFile {
            let m = try ModelFile.load(file)
            guard m.input == input else { throw DataError(file: file, problem: "input \(m.input) does not match the data's \(input)") }
            do { net = try Network(name: m.name, input: m.input, layers: m.layers) } catch let e as ShapeError {
                throw DataError(file: file, problem: e.description)
            }
        } else {
            net = try Presets.network(config.model, activation: config.activation, input: input)
        }
        guard net.classes == splits.train.classes else {
            if let file = config.modelFile {
                throw DataError(file: file,
                                problem: "\(net.classes) outputs, but \(config.data) has "
                                    + "\(splits.train.classes) classes")
            }
            throw TrainingError("\(net.name) has \(net.classes) outputs but \(config.data) has \(splits.train.classes) classes")
        }
        guard splits.train.count >= config.batchSize else {
            throw TrainingError("--batch-size \(config.batchSize) is more than the \(splits.train.count) "
                                + "training samples")
        }
        guard let kind = Optimizer.Kind(rawValue: config.optimizer) else { throw TrainingError("unknown optimizer '\(config.optimizer)' (sgd, adam)") }
        // Before any plan allocates: the training batch, then LSUV's or evaluation's.
        do {
            try net.checkMemory(batch: config.batchSize, chunk: config.chunk, optimizerStates: kind == .adam ? 2 : 1)
            try net.checkMemory(batch: max(100, min(config.lsuvBatch, splits.train.count)), chunk: Int.max,
                                optimizerStates: 0)
        } catch let e as ShapeError {
            guard let file = config.modelFile else { throw e }
            throw DataError(file: file, problem: e.description)
        }
        optimizer = Optimizer(kind, store: net.params, momentum: Float(config.momentum), weightDecay: Float(config.weightDecay))
    }

    /// Train and test sets must hold samples of one shape and one set of classes: a mismatch
    /// would otherwise train a whole epoch and then fail in evaluation.
    static func checkSplits(_ s: DataSplits, name: String) throws {
        let (a, b) = (s.train, s.test)
        let shape = { (d: Dataset) in "\(d.channels)×\(d.height)×\(d.width)" }
        guard a.count > 0 else { throw TrainingError("data \(name): the training set is empty") }
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw TrainingError("data \(name): the test images are \(shape(b)), the training images \(shape(a))")
        }
        guard a.classes == b.classes else {
            throw TrainingError("data \(name): the test set has \(b.classes) classes, the training set \(a.classes)")
        }
    }

    /// Writes a checkpoint; a second stop signal arriving meanwhile lets it finish.
    func save(_ pos: TrainingPosition, to path: String) throws {
        checkpointSaveInProgress = 1
        defer { checkpointSaveInProgress = 0 }
        try Checkpoint.save(net, optimizer: optimizer, position: pos, config: configJSON, to: path)
    }

    var configJSON: String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        return String(decoding: (try? enc.encode(config)) ?? Data(), as: UTF8.self)
    }

    /// Initializes the weights (LSUV included) and returns LSUV's report if it ran.
    public func initialize() throws -> [LSUVLayerReport]? {
        let initializer = try Initializer(parsing: config.initializer)
        if initializer == .rbm {
            net.initialize(.rbm, seed: config.seed)
            var o = RBMOptions()
            o.epochs = config.rbmEpochs; o.learningRate = Float(config.rbmLearningRate); o.samples = config.rbmSamples
            let r = try RBM.pretrain(net, images: data.train.images, labels: data.train.labels, options: o, seed: config.seed, threads: threads * config.workers)
            for l in r { log("RBM \(l.layer): reconstruction error per epoch \(l.reconstructionError.map { String(format: "%.4f", $0) }.joined(separator: ", "))") }
            return nil
        }
        if initializer != .lsuv { net.initialize(initializer, seed: config.seed); return nil }
        var o = LSUVOptions()
        o.tolVar = config.lsuvTolVar; o.maxTries = config.lsuvMaxTries; o.batchSize = config.lsuvBatch; o.zeroMean = config.lsuvZeroMean
        // LSUV's minibatch: the first samples of the seeded data order
        var g = SplitMix64(seed: deriveSeed(config.seed, 77))
        let idx = g.permutation(data.train.count).prefix(min(o.batchSize, data.train.count))
        var imgs = [Float](), labels = [Int32]()
        imgs.reserveCapacity(idx.count * data.train.sampleSize)
        for i in idx { imgs += data.train.images[(i * data.train.sampleSize)..<((i + 1) * data.train.sampleSize)]; labels.append(data.train.labels[i]) }
        return LSUV.run(net, images: imgs, labels: labels, options: o, seed: config.seed, threads: threads * config.workers)
    }

    /// Accuracy and mean loss over a data set, in eval mode.
    public func evaluate(_ set: Dataset, batch: Int = 100) -> (accuracy: Double, loss: Double) {
        var plans: [Int: Plan] = [:]
        var correct = 0, loss = 0.0, start = 0
        while start < set.count {
            let b = min(batch, set.count - start)
            let plan = plans[b] ?? Plan(net: net, batch: b, chunkSize: max(1, (b + config.workers - 1) / config.workers), workers: config.workers, threads: threads)
            plans[b] = plan
            plan.setInput(images: set.images, labels: set.labels, indices: Array(start..<(start + b))[...])
            plan.forward(training: false)
            let (l, c) = plan.loss()
            loss += l * Double(b); correct += c; start += b
        }
        return (Double(correct) / Double(max(1, set.count)), loss / Double(max(1, set.count)))
    }

    /// Names the first op whose output, or parameter whose gradient, is not finite.
    func locateNonFinite(_ plan: Plan) -> String {
        for c in plan.chunks.indices {
            for (i, op) in net.ops.enumerated() where !plan.activation(i + 1, chunk: c).allFinite {
                return "the output of layer \(op.name)"
            }
        }
        for e in net.params.entries where !net.params.view(e, in: net.params.grad).allFinite { return "the gradient of \(e.name)" }
        for e in net.params.entries where !net.params.view(e, in: net.params.values).allFinite { return "the weights of \(e.name)" }
        return "the loss"
    }

    /// Trains; resumes from `resume` (a checkpoint path) when given.
    public func run(resume: String? = nil) throws -> TrainSummary {
        let fm = FileManager.default
        try OutputFolder.prepare(config.out)
        for name in OutputFolder.removeStaleTemporaries(in: config.out, base: "checkpoint.safetensors") {
            log("removed \(name), left by a run that was killed while saving")
        }
        let ckptPath = (config.out as NSString).appendingPathComponent("checkpoint.safetensors")
        lsuvReport = nil
        var pos = TrainingPosition(step: 0, epoch: 0, batchInEpoch: 0)
        let b = config.batchSize, n = data.train.count, perEpoch = n / b
        if let resume {
            pos = try Checkpoint.load(resume, into: net, optimizer: optimizer) { meta in
                // Another batch size would change the data order and what a step means.
                guard meta.config.batchSize == b else {
                    throw TrainingError("--resume \(resume): trained with --batch-size \(meta.config.batchSize), "
                                        + "not \(b); resume with --batch-size \(meta.config.batchSize)")
                }
                guard meta.position.batchInEpoch <= perEpoch else {
                    throw TrainingError("--resume \(resume): at batch \(meta.position.batchInEpoch) of an epoch, "
                                        + "but an epoch has \(perEpoch) batches here "
                                        + "(another --train-limit or data set?)")
                }
            }.position
            log("resumed from \(resume) at step \(pos.step) (epoch \(pos.epoch + 1), batch \(pos.batchInEpoch))")
        } else {
            let t0 = Date()
            lsuvReport = try initialize()
            if let r = lsuvReport {
                log(String(format: "LSUV: %d layers in %.2f s (tries %@)", r.count, Date().timeIntervalSince(t0), r.map { "\($0.tries)" }.joined(separator: ",")))
                for l in r where !l.note.isEmpty { log("  \(l.layer): \(l.note)") }
            }
        }
        let metricsPath = (config.out as NSString).appendingPathComponent("metrics.jsonl")
        if resume == nil { fm.createFile(atPath: metricsPath, contents: nil) }
        let metrics = try MetricsLog(path: metricsPath)
        // saturating: --epochs may be as large as Int allows
        let (product, overflow) = perEpoch.multipliedReportingOverflow(by: config.epochs)
        let total = min(config.maxSteps ?? Int.max, overflow ? Int.max : product)
        let plan = Plan(net: net, batch: b, chunkSize: config.chunk, workers: config.workers, threads: threads)
        let progress = Progress(total: total, log: log)
        let schedule = try Schedule(parsing: config.schedule)
        let start = Date()
        var imagesDone = 0, lastLoss = Double.nan, stopped = false, lastEval: (Double, Double)? = nil
        var trainLossSum = 0.0, trainCorrect = 0, trainSeen = 0
        log("training \(net.name) (\(net.parameterCount) parameters) on \(data.train.name): \(n) samples, batch \(b), \(total) steps, W=\(plan.workers) workers × T=\(threads) threads (measured OpenMP team per worker: \(plan.measuredTeamSizes().map(String.init).joined(separator: ", ")))")
        outer: while pos.epoch < config.epochs && pos.step < total {
            var order = SplitMix64(seed: deriveSeed(config.seed, 1000 + UInt64(pos.epoch)))
            let perm = order.permutation(n)
            while pos.batchInEpoch < perEpoch && pos.step < total {
                plan.setInput(images: data.train.images, labels: data.train.labels, indices: perm[(pos.batchInEpoch * b)..<((pos.batchInEpoch + 1) * b)])
                if config.augment ?? config.data.hasPrefix("cifar") {
                    Augment.cropFlip(plan.inputs, chunks: plan.chunks, channels: data.train.channels,
                                     height: data.train.height, width: data.train.width, pad: 4,
                                     seed: deriveSeed(config.seed, 3000, UInt64(pos.step)))
                }
                if config.injectNaNAtStep == pos.step { net.params.values[net.params.entries[0].offset] = .nan }
                plan.forward(training: true, seed: deriveSeed(config.seed, 2000, UInt64(pos.step)))
                let (loss, correct) = plan.loss()
                if loss.isFinite { plan.backward() }
                if !loss.isFinite || !net.params.grad.allFinite {
                    let e = DivergenceError(step: pos.step + 1, location: locateNonFinite(plan), checkpoint: fm.fileExists(atPath: ckptPath) ? ckptPath : nil)
                    try? metrics.write(["type": "diverged", "step": e.step, "location": e.location])
                    throw e
                }
                let lr = schedule.rate(base: config.lr, step: pos.step, totalSteps: total, stepsPerEpoch: perEpoch)
                optimizer.step(lr: Float(lr))
                pos.step += 1; pos.batchInEpoch += 1
                imagesDone += b; lastLoss = loss
                trainLossSum += loss * Double(b); trainCorrect += correct; trainSeen += b
                let elapsed = Date().timeIntervalSince(start)
                if pos.step % config.logEvery == 0 || pos.step == total {
                    onLoggedStep?(pos.step, plan)
                    try metrics.write(["type": "step", "step": pos.step, "epoch": pos.epoch + 1, "loss": loss, "accuracy": Double(correct) / Double(b),
                                       "lr": lr, "images_per_second": Double(imagesDone) / elapsed])
                }
                progress.update(step: pos.step, loss: loss, accuracy: Double(correct) / Double(b), imagesPerSecond: Double(imagesDone) / elapsed, elapsed: elapsed)
                if trainingStopRequested != 0 { stopped = true; break outer }
            }
            if pos.batchInEpoch >= perEpoch || pos.step >= total {
                progress.finishLine()
                let epochNumber = pos.epoch + 1
                if pos.batchInEpoch >= perEpoch { pos.epoch += 1; pos.batchInEpoch = 0 }
                // Saved before the evaluation: whatever happens there, the epoch's work is kept.
                try save(pos, to: ckptPath)
                var line: [String: Any] = ["type": "epoch", "epoch": epochNumber, "step": pos.step,
                                           "train_loss": trainLossSum / Double(max(1, trainSeen)), "train_accuracy": Double(trainCorrect) / Double(max(1, trainSeen)),
                                           "seconds": Date().timeIntervalSince(start)]
                if config.evalEachEpoch {
                    let (acc, loss) = evaluate(data.test)
                    lastEval = (acc, loss)
                    line["test_accuracy"] = acc; line["test_loss"] = loss
                    log(String(format: "epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f", epochNumber,
                               trainLossSum / Double(max(1, trainSeen)), Double(trainCorrect) / Double(max(1, trainSeen)), loss, acc))
                }
                try metrics.write(line)
                trainLossSum = 0; trainCorrect = 0; trainSeen = 0
            }
        }
        if pos.step >= total && imagesDone == 0 {
            log(resume == nil ? "nothing to train: --steps 0"
                              : "nothing to train: the checkpoint is at step \(pos.step) of \(total)")
            // a zero-step run still leaves its initialized weights for eval
            if resume == nil { try save(pos, to: ckptPath) }
        }
        if stopped {
            progress.finishLine()
            try save(pos, to: ckptPath)
            log("stopped by signal at step \(pos.step); checkpoint: \(ckptPath) (resume with --resume \(ckptPath))")
        }
        let wall = Date().timeIntervalSince(start)
        let summary = TrainSummary(model: net.name, initializer: config.initializer, steps: pos.step, epochs: Double(pos.step) / Double(max(1, perEpoch)),
                                   finalTrainLoss: lastLoss, testAccuracy: lastEval?.0, testLoss: lastEval?.1,
                                   imagesPerSecond: Double(imagesDone) / max(wall, 1e-9), wallSeconds: wall,
                                   peakRSSMegabytes: ProcessStats.peakRSSMegabytes(), lsuv: lsuvReport,
                                   stoppedBySignal: stopped, config: config)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(summary).write(to: URL(fileURLWithPath: (config.out as NSString).appendingPathComponent("summary.json")), options: .atomic)
        try Curves.write(metrics: metricsPath, to: config.out, title: "\(net.name), \(config.initializer)")
        return summary
    }
}
