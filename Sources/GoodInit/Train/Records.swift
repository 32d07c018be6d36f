// What a training run reports, as typed records: the loop makes one per logged step, one per
// epoch and one if it diverges, and hands each to its sinks (metrics.jsonl, charts, experiment
// reports, TensorBoard). Nothing reads its own output back, except resume and `--render`, which
// decode the same records from metrics.jsonl.
import Foundation

/// A logged training step.
public struct StepRecord: Sendable, Equatable {
    public var step: Int            // 1-based steps done
    public var epoch: Int           // 1-based epoch the step belongs to
    public var loss: Double         // the minibatch's mean cross-entropy
    public var accuracy: Double     // the minibatch's accuracy
    public var lr: Double
    public var imagesPerSecond: Double
    /// The L2 norm of the step's gradient before any clipping (NaN in records from before it).
    public var gradNorm: Double
    public init(step: Int, epoch: Int, loss: Double, accuracy: Double, lr: Double, imagesPerSecond: Double,
                gradNorm: Double = .nan) {
        self.step = step; self.epoch = epoch; self.loss = loss; self.accuracy = accuracy; self.lr = lr
        self.imagesPerSecond = imagesPerSecond; self.gradNorm = gradNorm
    }
}

/// The end of an epoch (or of a run that stops mid-epoch at --steps).
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var step: Int
    public var trainLoss: Double    // mean over the epoch's samples (minibatches of one size)
    public var trainAccuracy: Double
    public var seconds: Double      // since the run (or the resumed run) started
    /// Epochs done at this record, a fraction when the run stops mid-epoch (nil in older records):
    /// `epoch` alone names three evaluations of one resumed epoch alike.
    public var epochs: Double? = nil
    public var testAccuracy: Double? = nil
    public var testLoss: Double? = nil
    /// With --val-fraction the epochs score the held-out validation set (and not the test set).
    public var valAccuracy: Double? = nil
    public var valLoss: Double? = nil
    public init(epoch: Int, step: Int, trainLoss: Double, trainAccuracy: Double, seconds: Double) {
        self.epoch = epoch; self.step = step; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.seconds = seconds
    }
}

/// Where a loss or gradient first went NaN/Inf.
public struct DivergedRecord: Sendable, Equatable {
    public var step: Int
    public var location: String
}

public enum TrainingRecord: Sendable, Equatable {
    case step(StepRecord)
    case epoch(EpochRecord)
    case diverged(DivergedRecord)
}

/// Receives a run's records as they happen; `finish` when the run ends, whichever way.
public protocol TrainingSink: AnyObject {
    func record(_ r: TrainingRecord) throws
    func finish() throws
}

extension TrainingSink {
    public func finish() throws {}
}

/// Keeps the records in memory: experiment reports and charts read them from here.
public final class RecordLog: TrainingSink {
    public private(set) var records: [TrainingRecord] = []
    public init(_ records: [TrainingRecord] = []) { self.records = records }
    public func record(_ r: TrainingRecord) { records.append(r) }

    public var steps: [StepRecord] { records.compactMap { if case .step(let s) = $0 { return s } else { return nil } } }
    public var epochs: [EpochRecord] {
        records.compactMap { if case .epoch(let e) = $0 { return e } else { return nil } }
    }
}

// MARK: - JSON lines

extension TrainingRecord: Codable {
    enum Key: String, CodingKey {
        case type, step, epoch, loss, accuracy, lr, location
        case imagesPerSecond = "images_per_second", trainLoss = "train_loss", trainAccuracy = "train_accuracy"
        case seconds, testAccuracy = "test_accuracy", testLoss = "test_loss", gradNorm = "grad_norm"
        case epochs
        case valAccuracy = "val_accuracy", valLoss = "val_loss"
    }

    /// JSON has no NaN: a non-finite figure is written as null and reads back as NaN.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        func number(_ v: Double, _ k: Key) throws { try c.encode(v.isFinite ? v : nil, forKey: k) }
        switch self {
        case .step(let s):
            try c.encode("step", forKey: .type); try c.encode(s.step, forKey: .step)
            try c.encode(s.epoch, forKey: .epoch); try number(s.loss, .loss); try number(s.accuracy, .accuracy)
            try number(s.lr, .lr); try number(s.imagesPerSecond, .imagesPerSecond)
            if !s.gradNorm.isNaN { try number(s.gradNorm, .gradNorm) }
        case .epoch(let e):
            try c.encode("epoch", forKey: .type); try c.encode(e.epoch, forKey: .epoch)
            try c.encode(e.step, forKey: .step); try number(e.trainLoss, .trainLoss)
            try number(e.trainAccuracy, .trainAccuracy); try number(e.seconds, .seconds)
            if let f = e.epochs { try number(f, .epochs) }
            if let a = e.testAccuracy { try number(a, .testAccuracy) }
            if let l = e.testLoss { try number(l, .testLoss) }
            if let a = e.valAccuracy { try number(a, .valAccuracy) }
            if let l = e.valLoss { try number(l, .valLoss) }
        case .diverged(let d):
            try c.encode("diverged", forKey: .type); try c.encode(d.step, forKey: .step)
            try c.encode(d.location, forKey: .location)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        func number(_ k: Key) throws -> Double { try c.decodeIfPresent(Double.self, forKey: k) ?? .nan }
        let step = try c.decode(Int.self, forKey: .step)
        switch try c.decode(String.self, forKey: .type) {
        case "step":
            self = .step(StepRecord(step: step, epoch: try c.decode(Int.self, forKey: .epoch), loss: try number(.loss),
                                    accuracy: try number(.accuracy), lr: try number(.lr),
                                    imagesPerSecond: try number(.imagesPerSecond), gradNorm: try number(.gradNorm)))
        case "epoch":
            var e = EpochRecord(epoch: try c.decode(Int.self, forKey: .epoch), step: step,
                                trainLoss: try number(.trainLoss), trainAccuracy: try number(.trainAccuracy),
                                seconds: try number(.seconds))
            if c.contains(.testAccuracy) { e.testAccuracy = try number(.testAccuracy) }
            if c.contains(.testLoss) { e.testLoss = try number(.testLoss) }
            e.epochs = try c.decodeIfPresent(Double.self, forKey: .epochs)
            if c.contains(.valAccuracy) { e.valAccuracy = try number(.valAccuracy) }
            if c.contains(.valLoss) { e.valLoss = try number(.valLoss) }
            self = .epoch(e)
        case "diverged":
            self = .diverged(DivergedRecord(step: step, location: try c.decode(String.self, forKey: .location)))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown type '\(other)'")
        }
    }
}
