// Residual blocks that change the shape (option A: subsample and pad; option B: 1×1 projection + BN),
// in model files, on both layouts, and the ResNet presets built from them.
import Foundation
@testable import GoodInit
import Testing

@Suite("Residual shortcuts") struct ResidualShortcutTests {
    static func block(_ out: Int, stride: Int, _ shortcut: Shortcut, act: LayerSpec = .tanh) -> LayerSpec {
        .residual([.conv(out: out, kernel: 3, stride: stride, padding: 1, bias: false), .batchNorm, act,
                   .conv(out: out, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm], shortcut: shortcut)
    }

    /// Smooth nets (tanh) for central differences: few channels (plain layout) and 16 → 32 channels
    /// (the blocked layout), each with a shortcut that halves the size and doubles the channels.
    static let nets: [(String, [Int], [LayerSpec])] = [
        ("pad-plain", [2, 6, 6], [.conv(out: 4, kernel: 3, stride: 1, padding: 1), .tanh,
                                   block(6, stride: 2, .pad), .tanh, .globalAvgPool, .linear(out: 3)]),
        ("projection-plain", [2, 6, 6], [.conv(out: 4, kernel: 3, stride: 1, padding: 1), .tanh,
                                          block(6, stride: 2, .projection), .tanh, .globalAvgPool, .linear(out: 3)]),
        ("pad-blocked", [2, 8, 8], [.conv(out: 16, kernel: 3, stride: 1, padding: 1), .tanh,
                                     block(32, stride: 2, .pad), .tanh, .globalAvgPool, .linear(out: 3)]),
        ("projection-blocked", [2, 8, 8], [.conv(out: 16, kernel: 3, stride: 1, padding: 1), .tanh,
                                            block(32, stride: 2, .projection), .tanh, block(32, stride: 1, .identity),
                                            .globalAvgPool, .linear(out: 3)]),
    ]

    func makePlan(_ i: Int, layout: LayoutPolicy = .auto, workers: Int = 2,
                  threads: Int = 1) throws -> (Network, Plan) {
        let (name, input, layers) = Self.nets[i]
        let net = try Network(name: name, input: input, layers: layers)
        net.layoutPolicy = layout
        net.initialize(.xavierNormal, seed: 7)
        for e in net.params.entries {
            let t = net.params.view(e, in: net.params.values)
            if e.spec.role == .bias || e.spec.role == .bnBeta {
                for k in 0..<t.count { t[k] = 0.1 * Float(k % 3) - 0.1 }
            }
            if e.spec.role == .bnGamma { for k in 0..<t.count { t[k] = 1 + 0.2 * Float(k % 2) } }
        }
        return (net, testPlan(net, workers: workers, threads: threads, imageSeed: 13))
    }

    @Test("--zero-init-residual: each branch's last BN gets γ = 0, so every block starts as its shortcut")
    func zeroInitResidual() throws {
        let r20 = try Presets.network(.resnet20)
        #expect(r20.residualBranchNorms.count == 9 && r20.residualBranchNorms.allSatisfy { r20.ops[$0] is BatchNorm })
        #expect(try Presets.network(.cnnSmall).zeroResidualGammas() == 0)
        for (name, input, layers) in Self.nets {
            let net = try Network(name: name, input: input, layers: layers)
            net.initialize(.xavierNormal, seed: 7)
            let adds = net.ops.indices.filter { net.ops[$0] is ResidualAdd }
            #expect(net.zeroResidualGammas() == adds.count, "\(name)")
            let zeroGammas = net.params.entries.filter {
                $0.spec.role == .bnGamma && net.params.view($0, in: net.params.values).array.allSatisfy { $0 == 0 }
            }
            #expect(zeroGammas.map(\.op) == net.residualBranchNorms.sorted(), "\(name)")
            let plan = Plan(net: net, chunking: .whole(4), workers: 1, threads: 1, fused: false)
            plan.setInput(images: testImages(4 * input.reduce(1, *), seed: 13), labels: [0, 1, 2, 0],
                          indices: Array(0..<4)[...])
            plan.forward(training: true, seed: 5)
            for i in adds {
                let add = try #require(net.ops[i] as? ResidualAdd)
                let projected = net.ops[i - 3] is SkipRoute
                // the branch's output (β = 0, γ = 0) is zero; with a projection the block is its shortcut
                let branch = plan.activation(projected ? add.source : i, chunk: 0).array
                #expect(branch.allSatisfy { $0 == 0 }, "\(name) \(add.name)")
                if projected { #expect(plan.activation(i + 1, chunk: 0).array == plan.activation(i, chunk: 0).array) }
            }
        }
    }

    @Test("the shortcuts' shapes and ops: option A has no parameters, option B a 1×1 strided conv and a BN")
    func structure() throws {
        let pad = try Network(name: "a", input: Self.nets[2].1, layers: Self.nets[2].2)
        let add = try #require(pad.ops.compactMap { $0 as? ResidualAdd }.first)
        #expect(add.stride == 2 && add.channelOffset == 8 && add.skipShape == [16, 8, 8])
        #expect(pad.layouts.contains(.blocked))
        let proj = try Network(name: "b", input: Self.nets[3].1, layers: Self.nets[3].2)
        let route = try #require(proj.ops.firstIndex { $0 is SkipRoute })
        let conv = try #require(proj.ops[route + 1] as? Conv2d)
        #expect(conv.kernel == 1 && conv.stride == 2 && conv.padding == 0 && !conv.hasBias)
        #expect(proj.ops[route + 2] is BatchNorm && proj.ops[route + 3] is ResidualAdd)
        #expect(proj.shapes[route + 1] == [16, 8, 8] && proj.shapes[route + 4] == [32, 4, 4])
        // option B adds exactly the projection's weights and its BN's γ and β to the blocked net's
        // first block; the identity block after it adds two 3×3 convs and two BNs
        #expect(proj.parameterCount - pad.parameterCount == 16 * 32 + 2 * 32 + 2 * (32 * 32 * 9 + 2 * 32))
    }

    @Test("gradient check through each shortcut (plain and blocked layouts, BN over chunks, 2 workers)",
          arguments: 0..<4)
    func gradientCheck(_ i: Int) throws {
        let (net, plan) = try makePlan(i)
        #expect(net.layouts.contains(.blocked) == (i >= 2), "\(Self.nets[i].0)")
        if i < 2 {
            let (worst, worstName) = worstCentralDifference(net, plan, perParameter: 6)
            #expect(worst < 2e-2, "\(Self.nets[i].0): worst relative error \(worst) at \(worstName)")
        }
        // At 16 and 32 channels some BN gradients are ~1e-4, where float32's rounding in the loss
        // differences (measured ~5e-5) decides the relative error alone: a combined tolerance.
        func loss() -> Double { plan.forward(training: true); return plan.loss().loss }
        _ = loss()
        plan.backward()
        let analytic = net.params.grad.array, values = net.params.values
        var misses: [String] = [], checked = 0
        for e in net.params.entries {
            for k in stride(from: e.offset, to: e.offset + e.spec.count, by: max(1, e.spec.count / 8)) {
                let v = values[k]
                values[k] = v + 1e-3; let lp = loss()
                values[k] = v - 1e-3; let lm = loss()
                values[k] = v
                let num = Float((lp - lm) / 2e-3), a = analytic[k]
                checked += 1
                if abs(num - a) > 2e-4 + 2e-2 * max(abs(num), abs(a)) { misses.append("\(e.name): \(num) vs \(a)") }
            }
        }
        #expect(checked > 50 && misses.isEmpty, "\(Self.nets[i].0): \(misses)")
    }

    @Test("blocked and plain plans agree through the shortcuts", arguments: 2..<4)
    func agreesWithPlain(_ i: Int) throws {
        let b = trainingStep(try makePlan(i, layout: .auto).1), p = trainingStep(try makePlan(i, layout: .plain).1)
        #expect(abs(b.loss - p.loss) <= 1e-5 * max(1, abs(p.loss)), "\(Self.nets[i].0)")
        let scale = p.grads.map { abs($0) }.max() ?? 0
        let worst = zip(b.grads, p.grads).map { abs($0 - $1) }.max() ?? 0
        #expect(scale > 0 && worst <= 1e-4 * scale, "\(Self.nets[i].0): gradients differ by \(worst) of \(scale)")
    }

    @Test("the same bits for W = 1, 2 and T = 1, 2, and with NaN left in every gradient buffer",
          arguments: 0..<4, LayoutPolicy.allCases)
    func sameBits(_ i: Int, _ layout: LayoutPolicy) throws {
        let (net, plan) = try makePlan(i, layout: layout, workers: 1, threads: 1)
        let ref = trainingStep(plan)
        for (w, t) in [(1, 2), (2, 1), (2, 2)] {
            let got = trainingStep(try makePlan(i, layout: layout, workers: w, threads: t).1)
            #expect(got == ref, "\(Self.nets[i].0) \(layout) W=\(w) T=\(t)")
        }
        for c in plan.chunks.indices { for a in 0...net.ops.count { plan.gradient(a, chunk: c).fill(.nan) } }
        let dirty = trainingStep(plan)
        #expect(dirty.grads.map(\.bitPattern) == ref.grads.map(\.bitPattern), "\(Self.nets[i].0) \(layout)")
    }

    @Test("ReLU blocks, fused: a skip gradient is stored by its last reader; NaN in gradient buffers changes no bit")
    func storedSkipGradients() throws {
        let net = try Network(name: "relu-shortcuts", input: [2, 8, 8], layers: [
            .conv(out: 16, kernel: 3, stride: 1, padding: 1), .relu, Self.block(32, stride: 2, .projection, act: .relu),
            .relu, Self.block(32, stride: 1, .identity, act: .relu), .relu, Self.block(48, stride: 2, .pad, act: .relu),
            .relu, .globalAvgPool, .linear(out: 3)])
        net.initialize(.heNormal(fanOut: false), seed: 5)
        var stored = 0
        for s in Set(net.ops.compactMap(\.skipSource)) {
            let last = net.ops.indices.last { net.ops[$0].skipSource == s }!
            let padded = (net.ops[last] as? ResidualAdd)?.padded ?? false
            #expect(net.skipGradientStorer(s) == (padded ? nil : last), "activation \(s)")
            #expect(net.gradientNeedsZeroing(s) == padded, "activation \(s)")
            if !padded { stored += 1 }
        }
        #expect(stored >= 3) // the projection's route, its add, the identity add
        let plan = testPlan(net, workers: 2, threads: 1, imageSeed: 13)
        let clean = trainingStep(plan)
        for c in plan.chunks.indices { for a in 0...net.ops.count { plan.gradient(a, chunk: c).fill(.nan) } }
        let dirty = trainingStep(plan)
        #expect(dirty.grads.map(\.bitPattern) == clean.grads.map(\.bitPattern))
        #expect(dirty.loss == clean.loss)
    }

    @Test("an identity block that changes the shape is refused, naming the shortcuts that fit")
    func identityRefused() {
        let e = #expect(throws: ShapeError.self) {
            _ = try Network(name: "x", input: [4, 8, 8], layers: [Self.block(8, stride: 2, .identity), .flatten,
                                                                    .linear(out: 2)])
        }
        #expect(e.map { "\($0)".contains("pad or projection") } == true, "\(String(describing: e))")
    }

    @Test("model files: residual as a list or as {layers, shortcut}; unknown keys and shortcuts refused")
    func modelFile() throws {
        let head = "name: r\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 4}\n"
        let tail = "  - gap\n  - linear: {out: 10}\n"
        let block = "[{conv: {out: 8, stride: 2}}, bn]"
        for (shortcut, ops) in [("pad", 0), ("projection", 3)] {
            let text = head + "  - residual: {shortcut: \(shortcut), layers: \(block)}\n" + tail
            let m = try ModelFile.parse(text, file: "r.yaml")
            let net = try Network(name: m.name, input: m.input, layers: m.layers)
            #expect(net.ops.count == 1 + 2 + ops + 1 + 2, "\(shortcut): \(net.ops.map(\.name))")
            #expect(net.shapes.last == [10])
        }
        let plain = try ModelFile.parse(head + "  - residual: [{conv: {out: 4}}]\n" + tail, file: "r.yaml")
        #expect(plain.layers[1] == .residual([.conv(out: 4, kernel: 3, stride: 1, padding: 1, bias: true)]))
        func refusal(_ layer: String) -> String {
            do { _ = try ModelFile.parse(head + layer + tail, file: "r.yaml"); return "" } catch { return "\(error)" }
        }
        #expect(refusal("  - residual: {shortcut: pad, layer: \(block)}\n")
                == "r.yaml: layers[1].residual.layer: unknown key (allowed: layers, shortcut)")
        #expect(refusal("  - residual: {shortcut: conv, layers: \(block)}\n")
                == "r.yaml: layers[1].residual.shortcut: expected one of identity, pad, projection, got conv")
        #expect(refusal("  - residual: {shortcut: pad}\n")
                == "r.yaml: layers[1].residual.layers: expected a list of layers")
    }
}

@Suite("ResNet and VGG presets") struct ResNetPresetTests {
    /// bench/pytorch_param_counts.json: the PyTorch twins' counts, written by
    /// bench/pytorch_param_counts.py --write (committed, so this runs without torch).
    static func twinCounts() throws -> [String: Int] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/pytorch_param_counts.json")
        struct File: Decodable { var counts: [String: Int] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).counts
    }

    @Test("parameter counts equal the PyTorch twins' (torchvision's BasicBlock order), and He et al.'s 0.27 M / 0.85 M")
    func counts() throws {
        let twins = try Self.twinCounts()
        var ours: [String: Int] = [:]
        for p in [ModelPreset.resnet20, .resnet56, .resnet20MNIST, .vgg11BN] {
            ours[p.rawValue] = try Presets.network(p).parameterCount
        }
        ours["resnet20-projection"] = try Network(name: "p", input: [3, 32, 32],
                                                  layers: Presets.cifarResNet(blocks: 3, shortcut: .projection))
            .parameterCount
        #expect(ours == twins)
        #expect((265_000...275_000).contains(ours["resnet20"] ?? 0)
                && (845_000...855_000).contains(ours["resnet56"] ?? 0))
        let r20 = try Presets.network(.resnet20)
        #expect(r20.ops.filter { $0 is Conv2d }.count == 19 && r20.ops.filter { $0 is Linear }.count == 1)
        #expect(r20.ops.compactMap { $0 as? ResidualAdd }.filter { $0.stride == 2 }.count == 2)
    }

    @Test("a CIFAR preset on 1×28×28 says it was adapted and with which count; vgg11-bn does not fit there")
    func adapted() throws {
        let note = try #require(Presets.adaptationNote(.resnet20, input: [1, 28, 28]))
        #expect(note.contains("3×32×32") && note.contains("269722") && note.contains("1×28×28"), "\(note)")
        #expect(Presets.adaptationNote(.resnet20, input: [3, 32, 32]) == nil)
        #expect(throws: ShapeError.self) { _ = try Presets.network(.vgg11BN, input: [1, 28, 28]) }
    }

    func train(_ preset: ModelPreset, data: DataOptions, out: String) throws -> (TrainSummary, [String]) {
        var c = TrainSettings()
        c.model = .preset(preset, activation: .relu); c.data = data
        c.loop.batchSize = 16; c.loop.chunk = 8; c.loop.epochs = 1; c.loop.maxSteps = 3; c.loop.logEvery = 1
        c.optimizer.lr = 0.05; c.out = out
        let t = try TrainingLoop(c)
        var lines: [String] = []
        t.log = { lines.append($0) }
        return (try t.run(), lines)
    }

    @Test("resnet20 trains a few steps on CIFAR-10 binary files, and on synthetic 28×28 data (adapted, said)")
    func trains() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        func records(_ count: Int, _ salt: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            for r in 0..<count {
                bytes.append(UInt8(r % 10))
                for i in 0..<3072 { bytes.append(UInt8((i * 7 + r * 13 + salt) % 256)) }
            }
            return bytes
        }
        for b in 1...5 { try scratch.write("data_batch_\(b).bin", records(10, b)) }
        try scratch.write("test_batch.bin", records(8, 0))
        let (cifar, cifarLog) = try train(.resnet20, data: DataOptions(source: .cifar10, dir: scratch.folder),
                                          out: scratch.path("out-cifar"))
        #expect(cifar.steps == 3 && cifar.finalTrainLoss.isFinite, "\(cifar)")
        #expect(!cifarLog.contains { $0.contains("adapted") })
        var synthetic = DataOptions(source: .synthetic)
        synthetic.trainLimit = 64; synthetic.testLimit = 16
        let (fashion, log) = try train(.resnet20, data: synthetic, out: scratch.path("out-28"))
        #expect(fashion.steps == 3 && fashion.finalTrainLoss.isFinite, "\(fashion)")
        #expect(log.contains { $0.contains("adapted from its 3×32×32 input (269722 parameters there) to 1×28×28") },
                "\(log)")
        let (mnist, _) = try train(.resnet20MNIST, data: synthetic, out: scratch.path("out-mnist"))
        #expect(mnist.steps == 3 && mnist.finalTrainLoss.isFinite)
    }
}
