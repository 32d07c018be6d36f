// How a run ended: its summary (summary.json) and the errors that stop it.
import Foundation

public struct TrainSummary: Codable, Sendable {
    public var model: String
    public var initializer: String
    public var steps: Int
    public var epochs: Double
    /// The last epoch's mean cross-entropy over its samples (a run stopped mid-epoch: that epoch's
    /// samples so far); the same figure as metrics.jsonl's last epoch record's train_loss.
    public var finalTrainLoss: Double
    public var testAccuracy: Double?
    public var testLoss: Double?
    /// Images over the wall time (evaluation, checkpoints and logging included).
    public var imagesPerSecond: Double
    /// Images over the training steps' time only (nil in summaries from before it, or with no step).
    public var trainImagesPerSecond: Double? = nil
    public var wallSeconds: Double
    public var peakRSSMegabytes: Double
    public var lsuv: [LSUVLayerReport]?
    public var stoppedBySignal: Bool
    /// The run's settings, in their stored form.
    public var config: TrainSettings

    enum CodingKeys: String, CodingKey {
        case model, initializer, steps, epochs, finalTrainLoss, testAccuracy, testLoss, imagesPerSecond, wallSeconds
        case peakRSSMegabytes, lsuv, stoppedBySignal, config, trainImagesPerSecond
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
        try c.encodeIfPresent(trainImagesPerSecond, forKey: .trainImagesPerSecond)
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
        trainImagesPerSecond = try c.decodeIfPresent(Double.self, forKey: .trainImagesPerSecond)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
        peakRSSMegabytes = try c.decode(Double.self, forKey: .peakRSSMegabytes)
        lsuv = try c.decodeIfPresent([LSUVLayerReport].self, forKey: .lsuv)
        stoppedBySignal = try c.decode(Bool.self, forKey: .stoppedBySignal)
        // summaries of GoodInit's first format hold a flat record: read either
        config = try TrainSettings.stored(JSONEncoder().encode(c.decode(JSONValue.self, forKey: .config)))
    }
}
