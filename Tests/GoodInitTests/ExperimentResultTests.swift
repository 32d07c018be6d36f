import Foundation
@testable import GoodInit
import Testing

@Suite("Experiment results: typed fields over results.json's values/series, variants by value")
struct ExperimentResultTests {
    /// One run as results.json has stored it since figures and curves were added: `values` and
    /// `series` objects under string keys, null for a figure that was not finite.
    static let oldRun = """
        {"name": "plain30 he-normal", "folder": "seed-1/plain30-he-normal", "seed": 1, "steps": 500,
         "losses": [[5, 2.30], [10, 2.29]], "finalLoss": 0.68, "testAccuracy": 0.74, "testLoss": 0.7,
         "seconds": 90.5, "epochAccuracies": [0.74], "lsuvTries": null, "lsuvSeconds": null, "diverged": null,
         "series": {"initVariance": [[1, -0.1], [2, -0.25]], "slopes": [[1, 0.2]],
                    "15th": [[10, -1.5]], "50th": [[10, 0.1]], "85th": [[10, 1.25]]},
         "values": {"lr": 0.01, "warmupSteps": 200, "clipGradNorm": 1, "chunk": 64, "maxGradNorm": 96.5,
                    "maxUnitDifference": null}}
        """

    @Test("an old results.json run decodes into the typed fields")
    func oldFormat() throws {
        let r = try JSONDecoder().decode(RunResult.self, from: Data(Self.oldRun.utf8))
        #expect(r.lr == 0.01 && r.warmupSteps == 200 && r.clipGradNorm == 1 && r.chunk == 64)
        #expect(r.maxGradNorm == 96.5)
        #expect(r.maxUnitDifference?.isNaN == true)   // null: stored, but not finite
        #expect(r.seeds == nil && r.seedsConverged == nil && r.lossMin == nil && r.lossMax == nil)
        #expect(r.initVariance == [[1, -0.1], [2, -0.25]] && r.slopes == [[1, 0.2]])
        #expect(r.sigmoidInput == [.p15: [[10, -1.5]], .p50: [[10, 0.1]], .p85: [[10, 1.25]]])
        #expect(r.points(\.sigmoidInput[.p50]).map(\.1) == [0.1])
        // a run without any of them (zero-init's old runs had empty objects)
        let bare = Self.oldRun.replacingOccurrences(of: #""series": {"#, with: #""unused": {"#)
            .replacingOccurrences(of: #""values": {"#, with: #""unused2": {"#)
        let b = try JSONDecoder().decode(RunResult.self, from: Data(bare.utf8))
        #expect(b.lr == nil && b.chunk == nil && b.initVariance == nil && b.sigmoidInput.isEmpty)
        // a whole-number figure that is not whole is refused, not rounded
        let half = Self.oldRun.replacingOccurrences(of: #""chunk": 64"#, with: #""chunk": 64.5"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RunResult.self, from: Data(half.utf8)) }
    }

    @Test("a typed result round-trips, stored in the old values/series shape")
    func roundTrip() throws {
        var r = RunResult(name: "relu lsuv", folder: "relu-lsuv", records: RecordLog())
        r.steps = 3; r.losses = [[1, 2.3], [2, .nan], [3, 1.9]]; r.finalLoss = 1.9; r.seconds = 4
        r.maxGradNorm = 0.75; r.lr = 0.005; r.warmupSteps = 200; r.clipGradNorm = nil; r.chunk = 128
        r.maxUnitDifference = .infinity; r.seeds = 5; r.seedsConverged = 4
        r.lossMin = [[1, 2.2], [2, .nan]]; r.lossMax = [[1, 2.4]]; r.initVariance = [[1, -3]]; r.slopes = []
        r.sigmoidInput = [.p50: [[10, 0.5]]]
        let data = try JSONEncoder().encode(r)
        let back = try JSONDecoder().decode(RunResult.self, from: data)
        #expect(back.maxGradNorm == 0.75 && back.lr == 0.005 && back.warmupSteps == 200 && back.chunk == 128)
        #expect(back.clipGradNorm == nil && back.seeds == 5 && back.seedsConverged == 4)
        #expect(back.maxUnitDifference?.isNaN == true)   // JSON has no infinity: null, read back as NaN
        #expect(back.lossMin == [[1, 2.2]] && back.lossMax == [[1, 2.4]])   // non-finite points dropped
        #expect(back.initVariance == [[1, -3]] && back.slopes == [] && back.sigmoidInput == [.p50: [[10, 0.5]]])
        #expect(back.losses == [[1, 2.3], [3, 1.9]])
        // the stored shape is the one the committed docs/results and bench/pytorch_he30_odds.py read
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let values = json?["values"] as? [String: Any], series = json?["series"] as? [String: Any]
        #expect(Set(values?.keys.map { $0 } ?? [])
                == ["maxGradNorm", "lr", "warmupSteps", "chunk", "maxUnitDifference", "seeds", "seedsConverged"])
        #expect(values?["chunk"] as? Int == 128 && values?["maxUnitDifference"] is NSNull)
        #expect(Set(series?.keys.map { $0 } ?? []) == ["lossMin", "lossMax", "initVariance", "slopes", "50th"])
    }

    @Test("each experiment's variants have distinct names that map back onto them")
    func variantNames() {
        func check<E: PaperExperiment>(_: E.Type) {
            let names = E.Variant.all.map(\.name)
            #expect(Set(names).count == names.count, "\(E.self)")
            #expect(E.Variant.all.allSatisfy { E.Variant(name: $0.name) == $0 }, "\(E.self)")
        }
        for e in ExperimentName.allCases { check(e.kind) }
        #expect(He30.Variant(name: "plain30 he-normal chunk 128") == .oneChunk)
        #expect(He30.Variant(name: "plain22 xavier-uniform") == .grid(.plain22, .xavierUniform))
        #expect(LSUVExperiment.Variant(name: "maxout orthogonal:1.4142")?.activation == .maxout)
        #expect(He30.Variant(name: "plain30 he-normal chunk 64") == nil)
        let full = He30.variants(ExperimentOptions())
        #expect(full.first { $0.variant == .oneChunk }?.chunk == 128)
        #expect(full.contains { $0.variant == .noClipping && $0.clip == nil })
    }

    static let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/results").standardized

    @Test("every run in the committed docs/results maps onto its experiment's variants")
    func committedResults() throws {
        func known<E: PaperExperiment>(_: E.Type, _ name: String) -> Bool { E.Variant(name: name) != nil }
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.committed.path)
        var files = 0
        for folder in folders.sorted() {
            let url = Self.committed.appendingPathComponent(folder).appendingPathComponent("results.json")
            guard let data = try? Data(contentsOf: url) else { continue }
            // quick folders predate `options`, so read the names without the rest of the format
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let experiment = try #require(ExperimentName(rawValue: json?["experiment"] as? String ?? ""), "\(folder)")
            let runs = try #require(json?["runs"] as? [[String: Any]], "\(folder)")
            #expect(!runs.isEmpty)
            for run in runs {
                let name = run["name"] as? String ?? ""
                let mapped = known(experiment.kind, name)   // the existential opens outside the macro
                #expect(mapped, "\(folder): \(name)")
            }
            files += 1
        }
        #expect(files >= 14)   // the 7 full presets and their quick runs
    }
}
