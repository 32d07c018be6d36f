// The settings' stored form: round trips, defaults for keys a record lacks, GoodInit's first flat
// records, and the one chunking rule.
import Foundation
import Testing
@testable import GoodInit

@Suite("Settings: stored form and chunking") struct SettingsTests {
    /// A configuration as GoodInit 1 stored it in checkpoints (a flat record, every choice as text).
    static let flatRecord = """
        {"activation":"prelu","batchSize":32,"chunk":16,"data":"synthetic","epochs":1,"evalEachEpoch":true,\
        "flushSubnormals":true,"initializer":"he-normal:fan_out","layout":"plain","logEvery":1,"lr":0.02,\
        "lsuvBatch":64,"lsuvMaxTries":7,"lsuvTolVar":0.2,"lsuvZeroMean":true,"maxSteps":3,"model":"plain30-thin",\
        "momentum":0.8,"optimizer":"adam","out":"old","rbmEpochs":2,"rbmLearningRate":0.03,"rbmSamples":500,\
        "schedule":"warmup:5,cosine","seed":18446744073709551615,"threads":3,"weightDecay":0.0001,"workers":2,\
        "clipGradNorm":1.5,"trainLimit":100}
        """

    @Test("a first-format flat record reads back as the same settings, every field")
    func flatRecord() throws {
        let s = try TrainSettings.stored(Data(Self.flatRecord.utf8))
        #expect(s.model == .preset(.plain30Thin, activation: .prelu))
        #expect(s.initialization.initializer == .heNormal(fanOut: true))
        let l = s.initialization.lsuv
        #expect(l.batchSize == 64 && l.maxTries == 7 && l.tolVar == 0.2 && l.zeroMean)
        let r = s.initialization.rbm
        #expect(r.epochs == 2 && r.learningRate == 0.03 && r.samples == 500)
        #expect(s.data.source == .synthetic && s.data.trainLimit == 100 && s.data.testLimit == nil)
        let o = s.optimizer
        #expect(o.kind == .adam && o.lr == 0.02 && o.momentum == 0.8 && o.weightDecay == 0.0001)
        #expect(o.schedule == .warmup(steps: 5, then: .cosine) && o.clipGradNorm == 1.5)
        #expect(s.loop.batchSize == 32 && s.loop.chunk == 16 && s.loop.maxSteps == 3 && s.loop.seed == .max)
        #expect(s.compute == ComputeOptions(layout: .plain, flushSubnormals: true), "W and T are the reader's")
        #expect(s.out == "old")
    }

    @Test("a flat record's unknown name is refused, naming its key",
          arguments: [("optimizer", "rmsprop"), ("data", "nope"), ("model", "nope"), ("activation", "swish")])
    func flatNames(_ key: String, _ value: String) {
        let text = Self.flatRecord.replacingOccurrences(of: "\"\(key)\":\"", with: "\"\(key)\":\"\(value)")
        do {
            _ = try TrainSettings.stored(Data(text.utf8))
            Issue.record("\(key) \(value) accepted")
        } catch let e as SettingError {
            #expect(e.setting == key && e.problem.hasPrefix("'\(value)"), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("a stored record without a key takes that setting's default; others keep their stored value")
    func missingKeysTakeDefaults() throws {
        let s = try TrainSettings.stored(Data(#"{"optimizer":{"lr":0.25},"loop":{"seed":7}}"#.utf8))
        var expected = TrainSettings()
        expected.optimizer.lr = 0.25; expected.loop.seed = 7
        #expect(s == expected)
    }

    @Test("the stored form is the settings' own JSON and reads back as the same settings")
    func roundTrip() throws {
        var s = TrainSettings()
        s.model = .preset(.fitnetSmall, activation: .maxout); s.loop.seed = .max; s.data.augment = true
        s.optimizer.schedule = .step(every: 3, gamma: 0.5); s.initialization.initializer = .normal(0.01)
        let text = try s.stored()
        #expect(text.contains(#""optimizer":{"kind":"sgd","lr":0.05,"#), "\(text)")
        #expect(text.contains(#""seed":18446744073709551615"#), "\(text)")
        #expect(try TrainSettings.stored(Data(text.utf8)) == s)
    }

    @Test("a stored value out of range is refused, naming the setting", arguments: [
        (#"{"loop":{"batchSize":0}}"#, "loop.batchSize"), (#"{"optimizer":{"momentum":1.5}}"#, "optimizer.momentum"),
        (#"{"initialization":{"lsuv":{"tolVar":-1}}}"#, "initialization.lsuv.tolVar"), (#"{"out":""}"#, "out"),
    ])
    func outOfRange(_ json: String, _ setting: String) {
        do {
            _ = try TrainSettings.stored(Data(json.utf8))
            Issue.record("\(json) accepted")
        } catch let e as SettingError {
            #expect(e.setting == setting, "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("chunking: ⌈batch / chunk⌉ chunks covering the batch in order, the last the rest, no overflow")
    func chunking() {
        let c = Chunking(batch: 10, chunk: 4)
        #expect(c.count == 3 && c.ranges == [0..<4, 4..<8, 8..<10])
        #expect(Chunking(batch: 8, chunk: 100).ranges == [0..<8])
        #expect(Chunking.whole(.max).count == 1)
        #expect(Chunking(batch: .max, chunk: 2).count == Int.max / 2 + 1)
    }

    @Test("W workers need W chunks, on every rank: refused naming the chunk to use, accepted at the limit")
    func workersNeedChunks() throws {
        #expect(throws: Never.self) { try Chunking(batch: 64, chunk: 32).check(workers: 2) }
        do {
            try Chunking.whole(64).check(workers: 2)
            Issue.record("2 workers on one chunk accepted")
        } catch let e as SettingError {
            #expect(e.setting == "loop.chunk" && e.problem.hasPrefix("64 ") && e.problem.contains("use chunk 32"))
        }
        #expect(throws: SettingError.self) { try Chunking(batch: 64, chunk: 16).check(workers: 3, ranks: 2) }
        #expect(throws: Never.self) { try Chunking(batch: 64, chunk: 16).check(workers: 2, ranks: 2) }
    }
}
