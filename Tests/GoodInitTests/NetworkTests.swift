import CKernels
import Foundation
@testable import GoodInit
import Testing

/// One training step of a plan (forward seed 5): the loss, the logits and every parameter gradient,
/// what the plan tests compare across layouts, W, T and precisions.
struct PlanStep: Equatable { var loss: Double; var logits: [Float]; var grads: [Float] }

/// The plan tests' fixture: a plan of `net` over 6 test images (labels 0, 1, 2, 0, …) in chunks of 2.
func testPlan(_ net: Network, workers: Int = 1, threads: Int = 1, imageSeed: UInt64) -> Plan {
    let batch = 6, size = net.inputShape.reduce(1, *)
    let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 2), workers: workers, threads: threads)
    plan.setInput(images: testImages(batch * size, seed: imageSeed), labels: (0..<batch).map { Int32($0 % 3) },
                  indices: Array(0..<batch)[...])
    return plan
}

func trainingStep(_ plan: Plan) -> PlanStep {
    plan.forward(training: true, seed: 5)
    let loss = plan.loss().loss
    plan.backward()
    return PlanStep(loss: loss, logits: (0..<plan.batch).flatMap { plan.logits(sample: $0) },
                    grads: plan.net.params.grad.array)
}

/// Small inputs in [-1, 1] from a fixed LCG, independent of the library's generators.
func testImages(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int(s >> 40) % 2001 - 1000) / 1000
    }
}

/// Central differences (step 1e-3) against the plan's backward for about `perParameter` values of
/// every parameter: the worst relative error and the parameter it was found in.
func worstCentralDifference(_ net: Network, _ plan: Plan, perParameter: Int) -> (error: Float, name: String) {
    func loss() -> Double { plan.forward(training: true); return plan.loss().loss }
    _ = loss()
    plan.backward()
    let analytic = net.params.grad.array, values = net.params.values
    var worst: Float = 0, worstName = ""
    for e in net.params.entries {
        for k in stride(from: e.offset, to: e.offset + e.spec.count, by: max(1, e.spec.count / perParameter)) {
            let v = values[k]
            values[k] = v + 1e-3; let lp = loss()
            values[k] = v - 1e-3; let lm = loss()
            values[k] = v
            let num = Float((lp - lm) / 2e-3)
            let err = abs(num - analytic[k]) / max(abs(num) + abs(analytic[k]), 1e-3)
            if err > worst { worst = err; worstName = e.name }
        }
    }
    return (worst, worstName)
}

@Suite("Networks end to end") struct NetworkTests {
    static let nets: [(String, [Int], [LayerSpec])] = [
        ("mlp-tanh", [1, 4, 4], [.flatten, .linear(out: 6), .tanh, .linear(out: 5), .sigmoid, .linear(out: 3)]),
        ("cnn-bn", [2, 6, 6], [.conv(out: 4, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm, .relu,
                               .maxPool(window: 2, stride: 2), .conv(out: 3, kernel: 3, stride: 1, padding: 1),
                               .leakyRelu(0.1), .flatten, .linear(out: 8, bias: false), .batchNorm, .tanh,
                               .linear(out: 3)]),
        ("residual", [3, 5, 5], [.conv(out: 4, kernel: 3, stride: 1, padding: 1), .tanh,
                                 .residual([.conv(out: 4, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm,
                                            .tanh, .conv(out: 4, kernel: 1, stride: 1, padding: 0)]),
                                 .globalAvgPool, .linear(out: 3)]),
        ("prelu-maxout", [2, 5, 5], [.conv(out: 6, kernel: 3, stride: 2, padding: 1), .prelu(shared: false),
                                     .conv(out: 4, kernel: 3, stride: 1, padding: 1), .maxout(pieces: 2),
                                     .prelu(shared: true), .avgPool(window: 2, stride: 1), .globalMaxPool,
                                     .linear(out: 3)]),
    ]

    func makePlan(_ i: Int, batch: Int = 6, chunk: Int = 2, workers: Int = 2, threads: Int = 1,
                  seed: UInt64 = 1) throws -> (Network, Plan) {
        let (name, input, layers) = Self.nets[i]
        let net = try Network(name: name, input: input, layers: layers)
        net.initialize(.xavierNormal, seed: seed)
        // biases and BN parameters away from their defaults, so their gradients are tested too
        for e in net.params.entries {
            let t = net.params.view(e, in: net.params.values)
            if e.spec.role == .bias || e.spec.role == .bnBeta {
                for k in 0..<t.count { t[k] = 0.1 * Float(k % 3) - 0.1 }
            }
            if e.spec.role == .bnGamma { for k in 0..<t.count { t[k] = 1 + 0.2 * Float(k % 2) } }
        }
        let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: chunk), workers: workers, threads: threads)
        let size = input.reduce(1, *)
        plan.setInput(images: testImages(batch * size, seed: 7), labels: (0..<batch).map { Int32($0 % 3) },
                      indices: Array(0..<batch)[...])
        return (net, plan)
    }

    @Test("gradient check of whole networks (BN synchronised over chunks and 2 workers)", arguments: 0..<4)
    func gradientCheck(_ i: Int) throws {
        let (net, plan) = try makePlan(i)
        let (worst, worstName) = worstCentralDifference(net, plan, perParameter: 6)
        #expect(worst < 2e-2, "\(Self.nets[i].0): worst relative error \(worst) at \(worstName)")
    }

    @Test("dropout's gradient: central differences through a fixed mask (same seed, same mask)")
    func dropoutGradient() throws {
        let net = try Network(name: "drop", input: [5],
                              layers: [.linear(out: 8), .tanh, .dropout(0.5), .linear(out: 3)])
        net.initialize(.xavierNormal, seed: 3)
        let plan = Plan(net: net, chunking: Chunking(batch: 4, chunk: 2), workers: 2)
        plan.setInput(images: testImages(4 * 5, seed: 9), labels: [0, 1, 2, 0], indices: Array(0..<4)[...])
        func loss() -> Double { plan.forward(training: true, seed: 42); return plan.loss().loss }
        _ = loss()
        plan.backward()
        // the mask drops some values and keeps the others scaled by 1/(1 − p) = 2
        let x = (0..<2).flatMap { plan.activation(2, chunk: $0).array }
        let y = (0..<2).flatMap { plan.activation(3, chunk: $0).array }
        #expect(zip(x, y).contains { $0 != 0 && $1 == 0 })
        #expect(zip(x, y).allSatisfy { $1 == 0 || $1 == 2 * $0 })
        // the first layer's gradients reach it only through dropout's backward
        let analytic = net.params.grad.array, values = net.params.values
        var worst: Float = 0
        for e in net.params.entries where e.op == 0 {
            for k in e.offset..<(e.offset + e.spec.count) {
                let v = values[k]
                values[k] = v + 1e-3; let lp = loss()
                values[k] = v - 1e-3; let lm = loss()
                values[k] = v
                let num = Float((lp - lm) / 2e-3)
                worst = max(worst, abs(num - analytic[k]) / max(abs(num) + abs(analytic[k]), 1e-3))
            }
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
    }

    @Test("the batch-norm layer over 3 chunks and 2 workers against the whole-batch reference")
    func batchNormLayerAgainstReference() throws {
        let (n, c, hw) = (6, 3, 4)
        let net = try Network(name: "bn", input: [c, 2, 2], layers: [.batchNorm, .flatten])
        let gamma: [Float] = [0.5, 2, -1], beta: [Float] = [0.1, -0.2, 0.3]
        net.values(of: 0)[0].assign(gamma); net.values(of: 0)[1].assign(beta)
        let plan = Plan(net: net, chunking: Chunking(batch: n, chunk: 2), workers: 2)
        var x = testImages(n * c * hw, seed: 5).map { 3 * $0 + 1 }
        plan.setInput(images: x, labels: (0..<n).map { Int32($0 % 3) }, indices: Array(0..<n)[...])
        plan.forward(training: true)
        _ = plan.loss()
        plan.backward()
        func gathered(_ t: (Int) -> Tensor) -> [Float] { (0..<plan.chunks.count).flatMap { t($0).array } }
        let y = gathered { plan.activation(1, chunk: $0) }, dy = gathered { plan.gradient(1, chunk: $0) }
        let dx = gathered { plan.gradient(0, chunk: $0) }
        let eps: Float = 1e-5
        var ry = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: c), invstd = mean
        var rdx = ry, rdg = mean, rdb = mean, g = gamma, b = beta, d = dy
        ck_ref_bn_forward_train(&ry, &mean, &invstd, &x, &g, &b, eps, n, c, hw)
        ck_ref_bn_backward(&rdx, &rdg, &rdb, &d, &x, &g, eps, n, c, hw)
        func expectClose(_ a: [Float], _ r: [Float], _ what: String) {
            let bad = zip(a, r).filter { abs($0 - $1) > 1e-5 + 1e-4 * abs($1) }
            #expect(a.count == r.count && bad.isEmpty, "\(what): \(bad.prefix(3))")
        }
        expectClose(y, ry, "y")
        expectClose(dx, rdx, "dx")
        let grads = net.params.grad
        expectClose(net.params.entries.map { e in (0..<c).map { grads[e.offset + $0] } }.flatMap { $0 }, rdg + rdb,
                    "dgamma, dbeta")
        // running averages: momentum 0.1 from (0, 1), the variance unbiased m/(m − 1)
        let bn = try #require(net.ops[0] as? BatchNorm), m = Float(n * hw)
        expectClose(bn.runningMean.array, mean.map { 0.1 * $0 }, "running mean")
        expectClose(bn.runningVar.array, invstd.map { 0.9 + 0.1 * (1 / ($0 * $0) - eps) * m / (m - 1) }, "running var")
    }

    @Test("same bits for any worker and thread count (W = 1, 2, 3; T = 1, 2)")
    func determinismAcrossWorkersAndThreads() throws {
        func run(workers: Int, threads: Int) throws -> [Float] {
            let (net, plan) = try makePlan(1, batch: 8, chunk: 2, workers: workers, threads: threads)
            plan.forward(training: true)
            let l = plan.loss().loss
            plan.backward()
            return [Float(l)] + net.params.grad.array + plan.logits(sample: 5)
        }
        let ref = try run(workers: 1, threads: 1)
        for (w, t) in [(2, 1), (1, 2), (3, 2), (2, 2)] {
            let got = try run(workers: w, threads: t)
            #expect(got.map(\.bitPattern) == ref.map(\.bitPattern), "W=\(w) T=\(t) differs from W=1 T=1")
        }
    }

    @Test("one chunk: the gradients are written in place, stale values change no bit, 3 chunks agree",
          arguments: 0..<4)
    func oneChunkInPlace(_ i: Int) throws {
        let (net, plan) = try makePlan(i, chunk: 6, workers: 1)
        #expect(plan.gradsInPlace && plan.chunkGrads[0].storage === net.params.grad.storage)
        let clean = trainingStep(plan)
        net.params.grad.fill(.nan)
        let stale = trainingStep(plan) // and a second step must not add onto the first
        #expect(stale.grads.map(\.bitPattern) == clean.grads.map(\.bitPattern), "\(Self.nets[i].0)")
        let (_, split) = try makePlan(i, chunk: 2, workers: 1)
        #expect(!split.gradsInPlace)
        let three = trainingStep(split).grads, scale = three.map { abs($0) }.max() ?? 0
        let worst = zip(clean.grads, three).map { abs($0 - $1) }.max() ?? .infinity
        #expect(scale > 0 && worst <= 1e-5 * scale, "\(Self.nets[i].0): \(worst) of \(scale)")
    }

    @Test("shape errors name the layer")
    func shapeErrors() {
        #expect(throws: ShapeError.self) {
            try Network(name: "bad", input: [1, 4, 4],
                        layers: [.conv(out: 2, kernel: 7, stride: 1, padding: 0, bias: true), .flatten,
                                 .linear(out: 2)])
        }
        do {
            _ = try Network(name: "bad", input: [1, 4, 4], layers: [.maxout(pieces: 3), .flatten, .linear(out: 2)])
            Issue.record("maxout with 1 channel in groups of 3 should fail")
        } catch { #expect("\(error)".contains("maxout1")) }
    }

    @Test("every preset builds; plain30 has 29 conv + 1 FC")
    func presets() throws {
        for name in ModelPreset.allCases {
            let net = try Presets.network(name)
            #expect(net.parameterCount > 0)
            #expect(net.classes == 10)
        }
        let p30 = try Presets.network(.plain30)
        #expect(p30.ops.filter { $0 is Conv2d }.count == 29)
        #expect(p30.ops.filter { $0 is Linear }.count == 1)
        let p22 = try Presets.network(.plain22)
        #expect(p22.ops.filter(\.isWeighted).count == 22)
    }
}

@Suite("Thread budget") struct ThreadBudgetTests {
    @Test("each of W workers runs an OpenMP team of exactly T threads")
    func teams() throws {
        let net = try Presets.network(.mlpSigmoid)
        for (w, t) in [(1, 2), (2, 1), (2, 2)] {
            let plan = Plan(net: net, chunking: Chunking(batch: 64, chunk: 16), workers: w, threads: t)
            let sizes = plan.measuredTeamSizes()
            #expect(sizes.count == w)
            #expect(sizes.allSatisfy { $0 == (OpenMP.isAvailable ? t : 1) }, "W=\(w) T=\(t): \(sizes)")
        }
    }
}
