// One experiment variant's condensed result, as saved in results.json: everything its report
// needs, so a report can be rebuilt without training.
import Foundation

public struct RunResult: Codable, Sendable {
    public var name: String
    public var folder: String              // the run's folder inside the experiment's
    public var seed: UInt64 = 1
    public var steps = 0
    public var losses: [[Double]] = []     // [step, loss] per logged step
    public var finalLoss = Double.nan      // mean of the last logged losses
    public var testAccuracy: Double? = nil
    public var testLoss: Double? = nil
    public var seconds = 0.0
    public var epochAccuracies: [Double] = [] // test accuracy at the end of each epoch
    public var lsuvTries: [Int]? = nil     // per weighted layer, when LSUV ran
    public var lsuvSeconds: Double? = nil
    public var diverged: String? = nil     // "step N, <layer>" when the loss or a gradient went NaN/Inf
    /// Experiment-specific curves (name → [x, y] points) and figures, measured on the trained net.
    public var series: [String: [[Double]]] = [:]
    public var values: [String: Double] = [:]

    init(name: String, folder: String, records: RecordLog) {
        self.name = name; self.folder = folder
        losses = records.steps.map { [Double($0.step), $0.loss] }
        let tail = losses.suffix(3).map { $0[1] }
        finalLoss = tail.isEmpty ? .nan : tail.reduce(0, +) / Double(tail.count)
        epochAccuracies = records.epochs.compactMap(\.testAccuracy)
    }

    enum CodingKeys: String, CodingKey {
        case name, folder, seed, steps, losses, finalLoss, testAccuracy, testLoss, seconds, epochAccuracies
        case lsuvTries, lsuvSeconds, diverged, series, values
    }

    /// JSON has no NaN: a non-finite figure (a diverged run's loss) is written as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let finite = { (d: Double?) -> Double? in d.flatMap { $0.isFinite ? $0 : nil } }
        try c.encode(name, forKey: .name); try c.encode(folder, forKey: .folder); try c.encode(seed, forKey: .seed)
        try c.encode(steps, forKey: .steps)
        try c.encode(losses.filter { $0.allSatisfy(\.isFinite) }, forKey: .losses)
        try c.encode(finite(finalLoss), forKey: .finalLoss)
        try c.encode(finite(testAccuracy), forKey: .testAccuracy); try c.encode(finite(testLoss), forKey: .testLoss)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(epochAccuracies.filter(\.isFinite), forKey: .epochAccuracies)
        try c.encode(lsuvTries, forKey: .lsuvTries); try c.encode(finite(lsuvSeconds), forKey: .lsuvSeconds)
        try c.encode(diverged, forKey: .diverged)
        try c.encode(series.mapValues { $0.filter { $0.allSatisfy(\.isFinite) } }, forKey: .series)
        try c.encode(values.mapValues { $0.isFinite ? $0 : nil }, forKey: .values)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        folder = try c.decode(String.self, forKey: .folder)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        steps = try c.decode(Int.self, forKey: .steps)
        losses = try c.decode([[Double]].self, forKey: .losses)
        finalLoss = try c.decodeIfPresent(Double.self, forKey: .finalLoss) ?? .nan
        testAccuracy = try c.decodeIfPresent(Double.self, forKey: .testAccuracy)
        testLoss = try c.decodeIfPresent(Double.self, forKey: .testLoss)
        seconds = try c.decode(Double.self, forKey: .seconds)
        epochAccuracies = try c.decode([Double].self, forKey: .epochAccuracies)
        lsuvTries = try c.decodeIfPresent([Int].self, forKey: .lsuvTries)
        lsuvSeconds = try c.decodeIfPresent(Double.self, forKey: .lsuvSeconds)
        diverged = try c.decodeIfPresent(String.self, forKey: .diverged)
        series = try c.decodeIfPresent([String: [[Double]]].self, forKey: .series) ?? [:]
        values = (try c.decodeIfPresent([String: Double?].self, forKey: .values) ?? [:]).mapValues { $0 ?? .nan }
    }

    /// The points of one of `series` as chart points.
    func points(_ key: String) -> [(Double, Double)] { (series[key] ?? []).map { ($0[0], $0[1]) } }
}
