// Several seeds per variant: a finding should say how often it happens, not whether it happened
// once. The runs of one variant (same name, different seeds) condense into a median run, which the
// experiments' checks judge, and into the counts, medians and ranges of the report's seed table.
import Foundation

/// A run converged when its final training loss is clearly off ln 10 ≈ 2.303 (below 2.0) and it
/// never went NaN/Inf.
func converged(_ r: RunResult) -> Bool { r.diverged == nil && r.finalLoss.isFinite && r.finalLoss < 2.0 }

/// A run left chance when some logged minibatch loss fell clearly below ln 10 (by 0.1), whatever
/// happened after: the quick he30 preset's weaker claim, since 80 steps are too few for an epoch mean.
func leftChance(_ r: RunResult) -> Bool {
    r.losses.contains { $0[1].isFinite && $0[1] < Foundation.log(10.0) - 0.1 }
}

/// A run trained when the logged losses over its last tenth of steps average below 2.0 and it never
/// went NaN/Inf: for runs shorter than an epoch, whose final loss is the whole run's mean and so
/// is held up by a high start (resnet-init's nets without batch norm start above 100).
func trained(_ r: RunResult) -> Bool {
    let tail = r.losses.suffix(Swift.max(1, r.losses.count / 10)).map { $0[1] }
    let mean = tail.reduce(0, +) / Double(Swift.max(1, tail.count))
    return r.diverged == nil && !tail.isEmpty && mean.isFinite && mean < 2.0
}

/// The runs of one variant over the seeds, in seed order.
struct SeedRuns {
    let name: String
    let runs: [RunResult]

    /// Variants in the order their first run appears.
    static func group(_ results: [RunResult]) -> [SeedRuns] {
        var order: [String] = [], byName: [String: [RunResult]] = [:]
        for r in results {
            if byName[r.name] == nil { order.append(r.name) }
            byName[r.name, default: []].append(r)
        }
        return order.map { SeedRuns(name: $0, runs: byName[$0]!.sorted { $0.seed < $1.seed }) }
    }

    var convergedCount: Int { runs.filter(converged).count }
    var leftChanceCount: Int { runs.filter(leftChance).count }
    var trainedCount: Int { runs.filter(trained).count }

    /// The variant as one run: medians of its figures and, at each logged step all seeds reached,
    /// the median loss, with the seeds' lowest and highest as `lossMin`/`lossMax`.
    var median: RunResult {
        var m = runs[0]
        guard runs.count > 1 else { return m }
        m.seed = 0
        m.finalLoss = Self.median(runs.map(\.finalLoss).map { $0.isFinite ? $0 : .infinity })
        // as the seed table: the median of the seeds that reached an evaluation (a diverged seed has none)
        m.testAccuracy = runs.allSatisfy { $0.testAccuracy == nil } ? nil : Self.median(runs.compactMap(\.testAccuracy))
        m.testLoss = runs.allSatisfy { $0.testLoss == nil } ? nil : Self.median(runs.compactMap(\.testLoss))
        m.seconds = Self.median(runs.map(\.seconds))
        m.diverged = runs.allSatisfy { $0.diverged != nil } ? runs[0].diverged : nil
        let common = runs.map { $0.losses.count }.min() ?? 0
        var lo: [[Double]] = [], hi: [[Double]] = []
        m.losses = (0..<common).map { i in
            let values = runs.map { $0.losses[i][1] }
            lo.append([runs[0].losses[i][0], values.min()!]); hi.append([runs[0].losses[i][0], values.max()!])
            return [runs[0].losses[i][0], Self.median(values)]
        }
        m.lossMin = lo; m.lossMax = hi
        for (_, f) in RunResult.figures where runs[0][keyPath: f] != nil {
            m[keyPath: f] = Self.median(runs.compactMap { $0[keyPath: f] })
        }
        // a whole-number figure is a setting, the same in every seed, so its median is that value
        for (_, f) in RunResult.wholeFigures where runs[0][keyPath: f] != nil {
            m[keyPath: f] = Int(Self.median(runs.compactMap { $0[keyPath: f] }.map(Double.init)).rounded(.down))
        }
        m.seedsConverged = convergedCount; m.seeds = runs.count; m.seedsLeftChance = leftChanceCount
        m.seedsTrained = trainedCount
        return m
    }

    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return .nan }
        let s = v.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

extension Experiments {
    /// The seed table: per variant, how many seeds converged, and the median and range of the final
    /// loss and the test accuracy; with `trainedColumn`, how many trained by their last tenth's loss.
    static func seedTable(_ variants: [SeedRuns], trainedColumn: Bool = false) -> String {
        func range(_ v: [Double], _ f: (Double) -> String) -> String {
            let finite = v.filter(\.isFinite)
            guard !finite.isEmpty else { return "–" }
            let nan = finite.count < v.count ? " (\(v.count - finite.count) NaN)" : ""
            return "\(f(SeedRuns.median(finite))) [\(f(finite.min()!)), \(f(finite.max()!))]\(nan)"
        }
        var t = "| variant | seeds converged (final loss < 2.0) | "
        t += trainedColumn ? "seeds trained (last tenth's loss < 2.0) | " : ""
        t += "final train loss: median [min, max] | test accuracy: median [min, max] |\n|---|---|---|---|"
        t += trainedColumn ? "---|\n" : "\n"
        for v in variants {
            let loss = range(v.runs.map(\.finalLoss)) { String(format: "%.4f", $0) }
            let acc = range(v.runs.map { $0.testAccuracy ?? .nan }) { percent($0) }
            let tail = trainedColumn ? " \(v.trainedCount)/\(v.runs.count) |" : ""
            t += "| \(v.name) | \(v.convergedCount)/\(v.runs.count) |\(tail) \(loss) | \(acc) |\n"
        }
        return t
    }
}
