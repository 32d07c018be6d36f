// --fixup's rescaling on the no-BN ResNets, and the resnet-init experiment's signal claims, which
// hold at initialization whatever the training does.
import Foundation
@testable import GoodInit
import Testing

@Suite("Fixup and the resnet-init experiment") struct ResNetInitTests {
    @Test("--fixup: each branch's last conv and the classifier start at zero, its first conv is scaled by L^(-1/2)")
    func fixup() throws {
        let net = try Presets.network(.resnet20NoBN), he = try Presets.network(.resnet20NoBN)
        net.initialize(.heNormal(fanOut: false), seed: 3); he.initialize(.heNormal(fanOut: false), seed: 3)
        let branches = net.residualBranches.map { b in b.filter { net.ops[$0].isWeighted } }
        #expect(branches.count == 9 && branches.allSatisfy { $0.count == 2 })
        #expect(net.fixupScale() == 9)
        let first = Set(branches.map { $0[0] }), last = Set(branches.map { $0[1] })
        let classifier = try #require(net.ops.indices.last { net.ops[$0] is Linear })
        let scale = Float(1.0 / 3.0)   // 9^(-1/(2·2−2))
        for e in net.params.entries {
            let got = net.params.view(e, in: net.params.values).array
            let was = he.params.view(e, in: he.params.values).array
            if last.contains(e.op) || e.op == classifier {
                #expect(got.allSatisfy { $0 == 0 }, "\(net.ops[e.op].name) \(e.spec.name)")
            } else if first.contains(e.op) && e.spec.role.isWeight {
                #expect(zip(got, was).allSatisfy { $0 == $1 * scale }, "\(net.ops[e.op].name)")
            } else {
                #expect(got == was, "\(net.ops[e.op].name) \(e.spec.name)")
            }
        }
        // every block starts as its shortcut: an identity block's output is its input
        let plan = Plan(net: net, chunking: .whole(2), workers: 1, threads: 1, fused: false) // reads each add's output
        plan.setInput(images: testImages(2 * 3 * 32 * 32, seed: 5), labels: [0, 1], indices: Array(0..<2)[...])
        plan.forward(training: true, seed: 1)
        for (i, op) in net.ops.enumerated() {
            guard let add = op as? ResidualAdd, add.skipShape == nil else { continue }
            #expect(plan.activation(i + 1, chunk: 0).array == plan.activation(add.source, chunk: 0).array)
        }
        #expect(try Presets.network(.cnnSmall).fixupScale() == 0)
    }

    @Test("--fixup on a net without residual blocks is refused, naming the setting")
    func fixupRefused() throws {
        var s = TrainSettings()
        s.model = .preset(.mlpXavier); s.data = DataOptions(source: .synthetic)
        s.data.trainLimit = 32; s.data.testLimit = 8
        s.initialization = InitOptions(.heNormal(fanOut: false)); s.initialization.fixup = true
        let setup = try TrainingSetup(s)
        #expect { _ = try setup.initialize(s.initialization, seed: 1) } throws: {
            "\($0)".contains("initialization.fixup") && "\($0)".contains("no residual block")
        }
    }

    @Test("resnet-init: without BN He's block variance grows by over 100×, Fixup's stays within 10×")
    func signal() throws {
        var o = ExperimentOptions()
        o.quick = true; o.steps = 1; o.data = .synthetic; o.threads = 1
        o.out = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-resnet-init-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: o.out) }
        let r = try Experiments.run(.resnetInit, o, log: { _ in })
        #expect(r.results.count == ResNetInit.Variant.allCases.count)
        for run in r.results { #expect(run.blockVariance?.count == 9, "\(run.name)") }
        func claim(_ start: String) -> Bool? { r.checks.first { $0.0.hasPrefix(start) }?.1 }
        #expect(claim("without batch norm, He's signal grows") == true, "\(r.checks)")
        #expect(claim("Fixup keeps it flat") == true, "\(r.checks)")
    }
}
