// Batch norm as training runs it: statistics summed chunk by chunk (and worker by worker) must
// give the whole batch's normalization, running statistics and gradients, as the C reference
// (double precision, whole batch at once) computes them.
import CKernels
import Foundation
@testable import GoodInit
import Testing

@Suite("Chunked batch norm against the whole-batch reference") struct BatchNormChunkTests {
    static let batch = 20, channels = 4, pixels = 32 * 32

    /// conv 1×1 → BN → flatten: BN's input is activation 1, its output activation 2. Chunks of 8
    /// (8, 8, 4) hold 32,768 values, so the threaded BN loops run too.
    func makePlan(workers: Int, threads: Int) throws -> (Network, Plan, BatchNorm) {
        let net = try Network(name: "bn", input: [3, 32, 32], layers: [
            .conv(out: Self.channels, kernel: 1, stride: 1, padding: 0), .batchNorm, .flatten,
        ])
        net.initialize(.xavierNormal, seed: 4)
        for e in net.params.entries {
            let t = net.params.view(e, in: net.params.values)
            if e.spec.role == .bnGamma { for k in 0..<t.count { t[k] = 0.5 + 0.25 * Float(k) } }
            if e.spec.role == .bnBeta { for k in 0..<t.count { t[k] = 0.1 * Float(k) - 0.2 } }
            if e.spec.role == .bias { for k in 0..<t.count { t[k] = 2 * Float(k) } } // means far from 0
        }
        let plan = Plan(net: net, chunking: Chunking(batch: Self.batch, chunk: 8), workers: workers, threads: threads)
        let size = 3 * Self.pixels
        plan.setInput(images: testImages(Self.batch * size, seed: 6),
                      labels: (0..<Self.batch).map { Int32($0 * 37 % net.classes) },
                      indices: Array(0..<Self.batch)[...])
        let bn = try #require(net.ops[1] as? BatchNorm)
        return (net, plan, bn)
    }

    func whole(_ plan: Plan, _ i: Int, gradient: Bool = false) -> [Float] {
        plan.chunks.indices.flatMap { (gradient ? plan.gradient(i, chunk: $0) : plan.activation(i, chunk: $0)).array }
    }

    /// Every value within `relative` of the reference, or within `relative` of the largest value
    /// for values near zero.
    func expectClose(_ got: [Float], _ ref: [Float], relative: Double, _ what: String) {
        #expect(got.count == ref.count)
        let scale = Double(ref.map { abs($0) }.max() ?? 0)
        #expect(scale > 0, "\(what): all zero")
        let bad = zip(got, ref).enumerated().filter {
            !isClose(Double($1.0), Double($1.1), absolute: relative * scale, relative: relative)
        }
        #expect(bad.isEmpty, "\(what): \(bad.count) values differ, first \(bad.first.map { "\($0)" } ?? "")")
    }

    @Test("forward, running statistics and backward (dx, dγ, dβ) for W = 1, 2 and T = 1, 2", arguments: [
        (1, 1), (2, 1), (1, 2), (2, 2),
    ])
    func againstReference(_ workers: Int, _ threads: Int) throws {
        let (net, plan, bn) = try makePlan(workers: workers, threads: threads)
        let (n, c, hw) = (Self.batch, Self.channels, Self.pixels)
        let gammaEntry = try #require(net.params.entries.first { $0.spec.role == .bnGamma })
        let betaEntry = try #require(net.params.entries.first { $0.spec.role == .bnBeta })
        let gamma = net.params.view(gammaEntry, in: net.params.values).array
        let beta = net.params.view(betaEntry, in: net.params.values).array
        let runningMean0 = bn.runningMean.array, runningVar0 = bn.runningVar.array

        plan.forward(training: true)
        _ = plan.loss()
        plan.backward()
        let x = whole(plan, 1), y = whole(plan, 2), dy = whole(plan, 2, gradient: true)
        let dx = whole(plan, 1, gradient: true)

        var yRef = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: c), invstd = mean
        ck_ref_bn_forward_train(&yRef, &mean, &invstd, x, gamma, beta, bn.eps, n, c, hw)
        expectClose(y, yRef, relative: 1e-5, "y")

        // running = (1 − momentum)·running + momentum·batch, the variance unbiased (m/(m − 1))
        let m = Double(n * hw), mom = Double(bn.momentum)
        for k in 0..<c {
            let variance = 1 / (Double(invstd[k]) * Double(invstd[k])) - Double(bn.eps)
            let expectedMean = (1 - mom) * Double(runningMean0[k]) + mom * Double(mean[k])
            let expectedVar = (1 - mom) * Double(runningVar0[k]) + mom * variance * m / (m - 1)
            #expect(isClose(Double(bn.runningMean[k]), expectedMean, absolute: 1e-6, relative: 1e-5), "mean[\(k)]")
            #expect(isClose(Double(bn.runningVar[k]), expectedVar, absolute: 1e-6, relative: 1e-4), "var[\(k)]")
        }
        #expect(mean.contains { abs($0) > 1 }) // the biases moved the means: a shift-free variance would show

        var dxRef = [Float](repeating: 0, count: x.count)
        var dgRef = [Float](repeating: 0, count: c), dbRef = dgRef
        ck_ref_bn_backward(&dxRef, &dgRef, &dbRef, dy, x, gamma, bn.eps, n, c, hw)
        expectClose(dx, dxRef, relative: 1e-4, "dx")
        expectClose(net.params.view(gammaEntry, in: net.params.grad).array, dgRef, relative: 1e-4, "dγ")
        expectClose(net.params.view(betaEntry, in: net.params.grad).array, dbRef, relative: 1e-4, "dβ")
    }
}
