// The channel-blocked layout end to end: which activations a network keeps blocked, and that a
// blocked plan computes what the plain (NCHW, im2col) plan computes.
import Foundation
@testable import GoodInit
import Testing

@Suite("Blocked layout through the executor") struct LayoutTests {
    static let conv16: LayerSpec = .conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: true)
    static let noBias16: LayerSpec = .conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false)

    /// Nets at 16 and 32 channels touching every op that runs blocked.
    static let nets: [(String, [Int], [LayerSpec])] = [
        ("conv-pool", [1, 8, 8], [conv16, .relu, .maxPool(window: 2, stride: 2),
                                   .conv(out: 32, kernel: 3, stride: 2, padding: 1), .leakyRelu(0.1),
                                   .avgPool(window: 2, stride: 1), .flatten, .linear(out: 3)]),
        ("bn-prelu", [3, 6, 6], [.conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm,
                                  .prelu(shared: false), .conv(out: 16, kernel: 1, stride: 1, padding: 0), .tanh,
                                  .prelu(shared: true), .globalMaxPool, .linear(out: 3)]),
        ("residual", [2, 6, 6], [conv16, .sigmoid,
                                  .residual([.conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false),
                                             .batchNorm, .relu, conv16]),
                                  .relu, .maxPool(window: 3, stride: 2), .globalAvgPool, .linear(out: 3)]),
        // dropout's mask follows the values' order in memory, so this one differs from its plain twin
        ("dropout", [1, 6, 6], [conv16, .relu, .dropout(0.3), .conv(out: 32, kernel: 3, stride: 1, padding: 1),
                                .batchNorm, .relu, .globalAvgPool, .linear(out: 3)]),
    ]

    /// Smooth nets for central differences (a ReLU or max kink crossed by the step spoils them):
    /// first-layer conversion, flatten's conversion, BN over chunks, a residual on the blocked layout.
    static let smoothNets: [(String, [Int], [LayerSpec])] = [
        ("smooth-flatten", [1, 8, 8], [conv16, .tanh, .avgPool(window: 2, stride: 2),
                                        .conv(out: 32, kernel: 3, stride: 2, padding: 1), .sigmoid, .flatten,
                                        .linear(out: 3)]),
        ("smooth-residual", [3, 6, 6], [noBias16, .batchNorm, .tanh,
                                         .residual([noBias16, .batchNorm, .tanh,
                                                    .conv(out: 16, kernel: 1, stride: 1, padding: 0)]),
                                         .avgPool(window: 3, stride: 1), .globalAvgPool, .linear(out: 3)]),
    ]

    func makePlan(_ i: Int, layout: LayoutPolicy, workers: Int = 2, threads: Int = 1,
                  smooth: Bool = false) throws -> (Network, Plan) {
        let (name, input, layers) = smooth ? Self.smoothNets[i] : Self.nets[i]
        let net = try Network(name: name, input: input, layers: layers)
        net.layoutPolicy = layout
        net.initialize(.heNormal(fanOut: false), seed: 3)
        for e in net.params.entries where e.spec.role == .bias || e.spec.role == .bnBeta {
            let t = net.params.view(e, in: net.params.values)
            for k in 0..<t.count { t[k] = 0.1 * Float(k % 3) - 0.1 }
        }
        return (net, testPlan(net, workers: workers, threads: threads, imageSeed: 11))
    }

    @Test("which activations are blocked: from the first 16-channel conv to flatten or global pooling")
    func layouts() throws {
        let plain30 = try Presets.network(.plain30)
        #expect(plain30.layouts.first == .plain && plain30.layouts.last == .plain)
        let convs = plain30.ops.indices.filter { plain30.ops[$0] is Conv2d }
        #expect(convs.allSatisfy { plain30.layouts[$0 + 1] == .blocked })
        let pool = try #require(plain30.ops.firstIndex { $0 is GlobalPool })
        #expect(plain30.layouts[pool] == .blocked && plain30.layouts[pool + 1] == .plain)
        let cnn = try Presets.network(.cnnSmall)
        let flatten = try #require(cnn.ops.firstIndex { $0 is Flatten })
        #expect(cnn.layouts[flatten] == .blocked && !cnn.aliases(flatten) && cnn.layouts[flatten + 1] == .plain)
        // maxout needs plain input: all plain
        let maxout = try Presets.network(.fitnetSmall, activation: .maxout)
        #expect(maxout.layouts.allSatisfy { $0 == .plain })
        // 8-channel convs would need padding: those stay plain, the 16- and 32-channel ones go blocked
        let thin = try Presets.network(.plain30Thin)
        for (i, op) in thin.ops.enumerated() {
            guard let conv = op as? Conv2d else { continue }
            #expect(thin.layouts[i + 1] == (conv.outChannels % 16 == 0 ? .blocked : .plain), "\(conv.name)")
        }
        #expect(thin.layouts.contains(.blocked))
        plain30.layoutPolicy = .plain
        #expect(plain30.layouts.allSatisfy { $0 == .plain })
        // a residual whose two inputs would differ keeps the whole network plain
        let skipPlain = try Network(name: "skip", input: [16, 4, 4], layers: [.residual([Self.conv16]), .flatten,
                                                                              .linear(out: 2)])
        #expect(skipPlain.layouts.allSatisfy { $0 == .plain })
    }

    @Test("blocked and plain plans agree: loss, logits and every gradient", arguments: 0..<3)
    func agreesWithPlain(_ i: Int) throws {
        let (blockedNet, blocked) = try makePlan(i, layout: .auto)
        #expect(blockedNet.layouts.contains(.blocked))
        let (_, plain) = try makePlan(i, layout: .plain)
        let b = trainingStep(blocked), p = trainingStep(plain)
        #expect(abs(b.loss - p.loss) <= 1e-5 * max(1, abs(p.loss)), "\(Self.nets[i].0): loss \(b.loss) vs \(p.loss)")
        let scale = p.grads.map { abs($0) }.max() ?? 0
        #expect(scale > 0)
        let worstGrad = zip(b.grads, p.grads).map { abs($0 - $1) }.max() ?? 0
        #expect(worstGrad <= 1e-4 * scale, "\(Self.nets[i].0): gradients differ by \(worstGrad) of \(scale)")
        let worstLogit = zip(b.logits, p.logits).map { abs($0 - $1) }.max() ?? 0
        #expect(worstLogit <= 1e-4, "\(Self.nets[i].0): logits differ by \(worstLogit)")
        // inference: batch norm from its running statistics, which the step just moved
        blocked.forward(training: false); plain.forward(training: false)
        let inferred = (0..<blocked.batch).map { zip(blocked.logits(sample: $0), plain.logits(sample: $0)) }
        let worstInferred = inferred.flatMap { $0.map { abs($0 - $1) } }.max() ?? 0
        #expect(worstInferred <= 1e-4, "\(Self.nets[i].0): inference logits differ by \(worstInferred)")
    }

    @Test("central differences through the blocked layout (first-layer conversion, BN over chunks, residual)",
          arguments: 0..<2)
    func gradientCheck(_ i: Int) throws {
        let (net, plan) = try makePlan(i, layout: .auto, smooth: true)
        #expect(net.layouts.contains(.blocked))
        let (worst, worstName) = worstCentralDifference(net, plan, perParameter: 5)
        #expect(worst < 2e-2, "\(Self.smoothNets[i].0): worst relative error \(worst) at \(worstName)")
    }

    @Test("gradients the plan does not zero are stored whole: NaN left in every gradient buffer changes no bit",
          arguments: 0..<4, LayoutPolicy.allCases)
    func storedGradients(_ i: Int, _ layout: LayoutPolicy) throws {
        let (net, plan) = try makePlan(i, layout: layout)
        #expect(net.ops.indices.contains { net.storesInputGradient($0) })
        let clean = trainingStep(plan)
        for c in plan.chunks.indices { for a in 0...net.ops.count { plan.gradient(a, chunk: c).fill(.nan) } }
        let dirty = trainingStep(plan)
        #expect(dirty.grads.map(\.bitPattern) == clean.grads.map(\.bitPattern), "\(Self.nets[i].0) \(layout)")
        #expect(dirty.loss == clean.loss)
    }

    @Test("blocked plans: the same bits for W = 1, 2 and T = 1, 2 (dropout included)", arguments: 0..<4)
    func sameBits(_ i: Int) throws {
        let ref = trainingStep(try makePlan(i, layout: .auto, workers: 1, threads: 1).1)
        for (w, t) in [(1, 2), (2, 1), (2, 2)] {
            let got = trainingStep(try makePlan(i, layout: .auto, workers: w, threads: t).1)
            #expect(got == ref, "\(Self.nets[i].0) W=\(w) T=\(t)")
        }
    }
}
