// One experiment variant's condensed result, as saved in results.json: everything its report
// needs, so a report can be rebuilt without training.
import Foundation

public struct RunResult: Codable, Sendable {
    public var name: String                // the variant's display name (its experiment's `Variant.name`)
    public var folder: String              // the run's folder inside the experiment's
    public var seed: UInt64 = 1
    public var steps = 0
    public var losses: [[Double]] = []     // [step, loss] per logged step
    /// The final training loss: with `finalLossDefinition` .lastEpochMean the last epoch's mean over
    /// its samples (summary.json's finalTrainLoss); in results from before it (nil), the mean of the
    /// last three logged minibatch losses, which `--render` shows as stored.
    public var finalLoss = Double.nan
    public var finalLossDefinition: FinalLossDefinition? = nil
    public var testAccuracy: Double? = nil
    public var testLoss: Double? = nil
    public var seconds = 0.0
    public var epochAccuracies: [Double] = [] // test accuracy at the end of each epoch
    public var lsuvTries: [Int]? = nil     // per weighted layer, when LSUV ran
    public var lsuvSeconds: Double? = nil
    public var diverged: String? = nil     // "step N, <layer>" when the loss or a gradient went NaN/Inf

    // Experiment-specific figures; nil where an experiment does not record them.
    /// The largest L2 norm of the gradient at a logged step, before clipping (every experiment's runs).
    public var maxGradNorm: Double? = nil
    /// he30: the optimizer's setting as it ran (the chunk after W workers may have split it).
    public var lr: Double? = nil
    public var warmupSteps: Int? = nil
    public var clipGradNorm: Double? = nil
    public var chunk: Int? = nil
    /// zero-init: the largest difference between a first-layer unit's weights and the first unit's.
    public var maxUnitDifference: Double? = nil
    /// A median run over seeds: how many of its seeds converged, and of how many.
    public var seedsConverged: Int? = nil
    public var seeds: Int? = nil
    /// A median run over seeds: how many of its seeds logged a minibatch loss clearly below chance
    /// (ln 10 − 0.1) at some step, converged or not.
    public var seedsLeftChance: Int? = nil
    /// A median run over seeds: how many of its seeds trained (`trained`: the last tenth's losses).
    public var seedsTrained: Int? = nil

    // Experiment-specific curves as [x, y] points.
    /// A median run over seeds: the seeds' lowest and highest loss at each of `losses`' steps.
    public var lossMin: [[Double]]? = nil
    public var lossMax: [[Double]]? = nil
    /// he30: log10 of each weighted layer's output variance at initialization, [layer, log10 variance].
    public var initVariance: [[Double]]? = nil
    /// resnet-init: log10 of each residual block's output variance at initialization, [block, log10 variance].
    public var blockVariance: [[Double]]? = nil
    /// prelu: each PReLU layer's mean learned slope, [layer, slope].
    public var slopes: [[Double]]? = nil
    /// bn-mnist: percentiles of a last-hidden-layer sigmoid's input over the minibatch, [step, value].
    public var sigmoidInput: [Percentile: [[Double]]] = [:]

    /// Which figure `finalLoss` holds.
    public enum FinalLossDefinition: String, Codable, Sendable {
        case lastEpochMean
    }

    public enum Percentile: String, CaseIterable, Sendable {
        case p15 = "15th", p50 = "50th", p85 = "85th"
        var fraction: Double {
            switch self {
            case .p15: return 0.15
            case .p50: return 0.5
            case .p85: return 0.85
            }
        }
    }

    init(name: String, folder: String, records: RecordLog) {
        self.name = name; self.folder = folder
        losses = records.steps.map { [Double($0.step), $0.loss] }
        finalLoss = records.epochs.last?.trainLoss ?? .nan
        finalLossDefinition = .lastEpochMean
        epochAccuracies = records.epochs.compactMap(\.testAccuracy)
    }

    /// Refuses what the reports cannot draw from: a curve point that is not an [x, y] pair, a
    /// negative step count or time. `file` and `index` name the run in the message.
    func check(file: String, index: Int) throws {
        func fail(_ problem: String) -> DataError {
            DataError(file: file, problem: "runs[\(index)] (\(name)): \(problem)")
        }
        let curves = [("losses", losses)]
            + Self.curves.compactMap { key, field in self[keyPath: field].map { (key, $0) } }
        for (key, points) in curves {
            if let bad = points.firstIndex(where: { $0.count != 2 }) {
                throw fail("\(key)[\(bad)] has \(points[bad].count) numbers, not an [x, y] pair")
            }
        }
        guard steps >= 0 else { throw fail("steps \(steps) is negative") }
        guard seconds >= 0 else { throw fail("seconds \(seconds) is negative") }
    }

    /// The points of one of the curves, for a chart.
    func points(_ curve: KeyPath<RunResult, [[Double]]?>) -> [(Double, Double)] {
        (self[keyPath: curve] ?? []).map { ($0[0], $0[1]) }
    }
}

// MARK: - The stored form

// results.json keeps the figures in one `values` object and the curves in one `series` object, as
// every results.json has so far (the committed docs/results, and bench/pytorch_he30_odds.py reads
// `values`): new files and old ones have one shape. These tables are the only place that maps the
// stored keys onto the typed fields; the seed median reads them too.
extension RunResult {
    static var figures: [(key: String, field: WritableKeyPath<RunResult, Double?>)] {
        [("maxGradNorm", \.maxGradNorm), ("lr", \.lr), ("clipGradNorm", \.clipGradNorm),
         ("maxUnitDifference", \.maxUnitDifference)]
    }
    /// Whole numbers, stored as JSON numbers in `values` like the other figures.
    static var wholeFigures: [(key: String, field: WritableKeyPath<RunResult, Int?>)] {
        [("warmupSteps", \.warmupSteps), ("chunk", \.chunk), ("seedsConverged", \.seedsConverged),
         ("seeds", \.seeds), ("seedsLeftChance", \.seedsLeftChance),
         ("seedsTrained", \.seedsTrained)]
    }
    static var curves: [(key: String, field: WritableKeyPath<RunResult, [[Double]]?>)] {
        [("lossMin", \.lossMin), ("lossMax", \.lossMax), ("initVariance", \.initVariance), ("slopes", \.slopes),
         ("blockVariance", \.blockVariance)]
            + Percentile.allCases.map { ($0.rawValue, \RunResult.sigmoidInput[$0]) }
    }

    struct StoredKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    enum CodingKeys: String, CodingKey {
        case name, folder, seed, steps, losses, finalLoss, testAccuracy, testLoss, seconds, epochAccuracies
        case lsuvTries, lsuvSeconds, diverged, series, values, finalLossDefinition
    }

    /// JSON has no NaN: a non-finite figure (a diverged run's loss) is written as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let finite = { (d: Double?) -> Double? in d.flatMap { $0.isFinite ? $0 : nil } }
        try c.encode(name, forKey: .name); try c.encode(folder, forKey: .folder); try c.encode(seed, forKey: .seed)
        try c.encode(steps, forKey: .steps)
        try c.encode(losses.filter { $0.allSatisfy(\.isFinite) }, forKey: .losses)
        try c.encode(finite(finalLoss), forKey: .finalLoss)
        try c.encodeIfPresent(finalLossDefinition, forKey: .finalLossDefinition)
        try c.encode(finite(testAccuracy), forKey: .testAccuracy); try c.encode(finite(testLoss), forKey: .testLoss)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(epochAccuracies.filter(\.isFinite), forKey: .epochAccuracies)
        try c.encode(lsuvTries, forKey: .lsuvTries); try c.encode(finite(lsuvSeconds), forKey: .lsuvSeconds)
        try c.encode(diverged, forKey: .diverged)
        var series = c.nestedContainer(keyedBy: StoredKey.self, forKey: .series)
        for (key, field) in Self.curves {
            if let points = self[keyPath: field] {
                try series.encode(points.filter { $0.allSatisfy(\.isFinite) }, forKey: StoredKey(key))
            }
        }
        var values = c.nestedContainer(keyedBy: StoredKey.self, forKey: .values)
        for (key, field) in Self.figures {
            if let v = self[keyPath: field] { try values.encode(finite(v), forKey: StoredKey(key)) }
        }
        for (key, field) in Self.wholeFigures {
            if let v = self[keyPath: field] { try values.encode(v, forKey: StoredKey(key)) }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        folder = try c.decode(String.self, forKey: .folder)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        steps = try c.decode(Int.self, forKey: .steps)
        losses = try c.decode([[Double]].self, forKey: .losses)
        finalLoss = try c.decodeIfPresent(Double.self, forKey: .finalLoss) ?? .nan
        finalLossDefinition = try c.decodeIfPresent(FinalLossDefinition.self, forKey: .finalLossDefinition)
        testAccuracy = try c.decodeIfPresent(Double.self, forKey: .testAccuracy)
        testLoss = try c.decodeIfPresent(Double.self, forKey: .testLoss)
        seconds = try c.decode(Double.self, forKey: .seconds)
        epochAccuracies = try c.decode([Double].self, forKey: .epochAccuracies)
        lsuvTries = try c.decodeIfPresent([Int].self, forKey: .lsuvTries)
        lsuvSeconds = try c.decodeIfPresent(Double.self, forKey: .lsuvSeconds)
        diverged = try c.decodeIfPresent(String.self, forKey: .diverged)
        func object(_ key: CodingKeys) throws -> KeyedDecodingContainer<StoredKey>? {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
            return try c.nestedContainer(keyedBy: StoredKey.self, forKey: key)
        }
        if let series = try object(.series) {
            for (key, field) in Self.curves {
                self[keyPath: field] = try series.decodeIfPresent([[Double]].self, forKey: StoredKey(key))
            }
        }
        if let values = try object(.values) {
            for (key, field) in Self.figures where values.contains(StoredKey(key)) {
                // null is a figure that was not finite (see encode)
                let k = StoredKey(key)
                self[keyPath: field] = try values.decodeNil(forKey: k) ? .nan : values.decode(Double.self, forKey: k)
            }
            for (key, field) in Self.wholeFigures {
                guard let v = try values.decodeIfPresent(Double.self, forKey: StoredKey(key)) else { continue }
                guard let n = Int(exactly: v) else {
                    throw DecodingError.dataCorruptedError(forKey: StoredKey(key), in: values,
                                                           debugDescription: "\(v) is not a whole number")
                }
                self[keyPath: field] = n
            }
        }
    }
}
