import Foundation
@testable import GoodInit
import Testing

@Suite("Experiments over several seeds") struct ExperimentSeedTests {
    func run(_ name: String, seed: UInt64, loss: Double, losses: [Double]) -> RunResult {
        var r = RunResult(name: name, folder: name, records: RecordLog())
        r.seed = seed; r.finalLoss = loss; r.steps = losses.count; r.testAccuracy = 1 - loss / 10
        r.losses = losses.enumerated().map { [Double($0.offset + 1), $0.element] }
        return r
    }

    @Test("a variant's median run: medians of the figures, the pointwise median loss and its range")
    func median() {
        var diverged = run("a", seed: 2, loss: .nan, losses: [7, 8])
        diverged.testAccuracy = nil   // a diverged seed is never evaluated
        var runs = [run("a", seed: 3, loss: 3, losses: [9, 3]), run("a", seed: 1, loss: 1, losses: [5, 1, 0.5]),
                    diverged]
        for (i, norm) in [4.0, 1, 2].enumerated() { runs[i].maxGradNorm = norm; runs[i].chunk = 64 }
        runs[2].lr = 0.5   // the seed-1 run, the median's template, has none: not medianed, as before
        let v = SeedRuns.group(runs + [run("b", seed: 1, loss: 1.5, losses: [2])])
        #expect(v.map(\.name) == ["a", "b"] && v[0].runs.map(\.seed) == [1, 2, 3])
        let m = v[0].median
        #expect(m.finalLoss == 3)                        // NaN counts as the worst: median of 1, 3, ∞
        #expect(m.testAccuracy.map { abs($0 - 0.8) < 1e-12 } == true) // the evaluated seeds' median, as the seed table
        #expect(m.losses == [[1, 7], [2, 3]])            // the steps every seed logged
        #expect(m.lossMin == [[1, 5], [2, 1]] && m.lossMax == [[1, 9], [2, 8]])
        #expect(m.seeds == 3 && m.seedsConverged == 1)
        #expect(m.seedsLeftChance == 1)                  // only seed 1 logged a loss below ln 10 − 0.1
        #expect(m.maxGradNorm == 2 && m.chunk == 64 && m.lr == nil)   // every figure the first seed has, medianed
        #expect(SeedRuns.median([4, 1, 3, 2]) == 2.5)
    }

    @Test("a seed trained when its last tenth's losses average below 2.0, whatever its whole-run mean")
    func trainedTail() {
        // 20 logged losses: the last tenth is the last two
        let late = run("a", seed: 1, loss: 40, losses: [200] + Array(repeating: 2.3, count: 17) + [1.5, 2.4])
        let stalled = run("a", seed: 2, loss: 2.3, losses: Array(repeating: 2.3, count: 18) + [1.9, 2.2])
        var nan = run("a", seed: 3, loss: .nan, losses: Array(repeating: 1, count: 20))
        nan.diverged = "step 20, conv1"
        #expect(trained(late) && !converged(late))      // (1.5 + 2.4) / 2 < 2 though the whole run's mean is 40
        #expect(!trained(stalled))                       // (1.9 + 2.2) / 2 ≥ 2
        #expect(!trained(nan) && !trained(run("a", seed: 4, loss: 1, losses: [])))
        #expect(SeedRuns(name: "a", runs: [late, stalled, nan]).median.seedsTrained == 1)
    }

    @Test("--seeds 2: every variant runs seed and seed + 1 in folders of their own; the report counts and renders")
    func seeds() throws {
        var o = ExperimentOptions()
        o.quick = true; o.steps = 4; o.data = .synthetic; o.threads = 1; o.seed = 5; o.seeds = 2
        o.out = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-seeds-\(UUID())").path
        let r = try Experiments.run(.zeroInit, o, log: { _ in })
        #expect(r.results.count == 6 && Set(r.results.map(\.seed)) == [5, 6])
        for run in r.results {
            #expect(FileManager.default.fileExists(atPath: o.out + "/" + run.folder + "/metrics.jsonl"))
        }
        #expect(r.table.contains("| zeros | 0/2 |"), "\(r.table)")
        let report = try String(contentsOfFile: o.out + "/report.md", encoding: .utf8)
        try FileManager.default.removeItem(atPath: o.out + "/report.md")
        _ = try Experiments.render(folder: o.out)
        #expect(try String(contentsOfFile: o.out + "/report.md", encoding: .utf8) == report)
    }

    @Test("he30's full preset: chunk 128 and no-clipping variants, and the chunk check judged on seed counts")
    func he30Chunks() {
        var o = ExperimentOptions()
        let v = He30.variants(o)
        let base = v.filter { $0.name == "plain30 he-normal" }
        #expect(base.count == 1 && base.first?.chunk == 64 && base.first?.clip == He30.fullClip)
        #expect(v.contains { $0.name == "plain30 he-normal chunk 128" && $0.chunk == 128 && $0.clip == He30.fullClip })
        #expect(v.contains { $0.name.hasSuffix("no clipping") && $0.clip == nil && $0.lr == He30.paperLR })
        #expect(v.allSatisfy { $0.lr == He30.paperLR && $0.warmup == 0 })
        #expect(v.allSatisfy { ($0.clip == nil) == $0.name.hasSuffix("no clipping") })
        var quick = o
        quick.quick = true
        #expect(He30.variants(quick).map(\.clip) == [He30.fullClip, He30.fullClip])   // both presets clip
        #expect(Set(v.map(\.name)).count == v.count && v.count == 8)
        var two = o
        two.workers = 2   // two workers need two chunks: no one-chunk variant rather than a mislabelled one
        #expect(He30.variants(two).count == 7 && !He30.variants(two).contains { $0.chunk != 64 })
        // five seeds per variant: He converges in 5 at chunk 64 but only 2 at chunk 128 → the chunk check fails
        o.seeds = 5
        var runs: [RunResult] = []
        for variant in v {
            for seed in 1...5 {
                let he = variant.initializer == He30.he && variant.clip != nil
                let ok = he && (variant.chunk == 64 || seed <= 2)
                var r = run(variant.name, seed: UInt64(seed), loss: ok ? 1.0 : log(10), losses: [2.3, ok ? 1.0 : 2.3])
                r.lr = variant.lr; r.warmupSteps = variant.warmup; r.chunk = variant.chunk
                r.clipGradNorm = variant.clip
                r.maxGradNorm = variant.clip == nil ? 250 : 0.5
                runs.append(r)
            }
        }
        let medians = SeedRuns.group(runs).map(\.median)
        let content = He30.report(o, medians)
        let chunk = content.checks.first { $0.0.contains("summation order") }
        #expect(chunk?.1 == false && chunk?.0.contains("(2)") == true)
        #expect(content.checks.first { $0.0.contains("at least 4/5 seeds (5)") }?.1 == true)
        #expect(content.intro.contains("lr \(He30.paperLR), no warm-up, gradient clipped at L2 norm \(He30.fullClip)"))
        #expect(content.markdown.contains("| plain30 he-normal no clipping | 250 |"))
    }
}
