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
        let runs = [run("a", seed: 3, loss: 3, losses: [9, 3]), run("a", seed: 1, loss: 1, losses: [5, 1, 0.5]),
                    run("a", seed: 2, loss: .nan, losses: [7, 8])]
        let v = Variant.group(runs + [run("b", seed: 1, loss: 1.5, losses: [2])])
        #expect(v.map(\.name) == ["a", "b"] && v[0].runs.map(\.seed) == [1, 2, 3])
        let m = v[0].median
        #expect(m.finalLoss == 3)                        // NaN counts as the worst: median of 1, 3, ∞
        #expect(m.losses == [[1, 7], [2, 3]])            // the steps every seed logged
        #expect(m.series["lossMin"] == [[1, 5], [2, 1]] && m.series["lossMax"] == [[1, 9], [2, 8]])
        #expect(m.values["seeds"] == 3 && m.values["seedsConverged"] == 1)
        #expect(Variant.median([4, 1, 3, 2]) == 2.5)
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
}
