import CKernels
import Foundation
import Testing

@Suite("Batch norm") struct BatchNormTests {
    let N = 6, C = 3, HW = 10
    let eps: Float = 1e-5

    func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> (y: [Float], xhat: [Float], mean: [Float], varB: [Float], invstd: [Float]) {
        let y = Buf(x.count), xh = Buf(x.count), m = Buf(C), v = Buf(C), s = Buf(C)
        ck_bn_forward_train(y.p, xh.p, m.p, v.p, s.p, Buf(x).p, Buf(gamma).p, Buf(beta).p, eps, N, C, HW)
        return (y.array, xh.array, m.array, v.array, s.array)
    }

    @Test("training forward matches the formula; output per channel has mean 0, variance 1")
    func trainForward() {
        var rng = TestRNG(1)
        let x = rng.uniform(N * C * HW, -3, 5)
        let ones = [Float](repeating: 1, count: C), zeros = [Float](repeating: 0, count: C)
        let out = forward(x, ones, zeros)
        let ref = Buf(x.count)
        ck_ref_bn_forward_train(ref.p, nil, nil, Buf(x).p, Buf(ones).p, Buf(zeros).p, eps, N, C, HW)
        expectClose(out.y, ref.array, "bn forward")
        for c in 0..<C {
            var vals: [Double] = []
            for n in 0..<N { for i in 0..<HW { vals.append(Double(out.y[(n * C + c) * HW + i])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4) // 1 − eps/σ² ≈ 1 within float rounding
        }
    }

    @Test("inference uses running statistics with the unbiased m/(m−1) variance")
    func inference() {
        var rng = TestRNG(2)
        let x = rng.uniform(N * C * HW, -2, 2)
        let out = forward(x, [1, 1, 1], [0, 0, 0])
        let rm = Buf(C, fill: 0), rv = Buf(C, fill: 1)
        ck_bn_update_running(rm.p, rv.p, Buf(out.mean).p, Buf(out.varB).p, 1.0, N * HW, C) // momentum 1: take the batch
        let m = Double(N * HW)
        for c in 0..<C {
            #expect(abs(Double(rv[c]) - Double(out.varB[c]) * m / (m - 1)) < 1e-6)
            #expect(rm[c] == out.mean[c])
        }
        let gamma: [Float] = [0.5, 2, -1], beta: [Float] = [0.1, -0.2, 0.3]
        let y = Buf(x.count)
        ck_bn_forward_infer(y.p, Buf(x).p, rm.p, rv.p, Buf(gamma).p, Buf(beta).p, eps, N, C, HW)
        for n in 0..<N { for c in 0..<C { for i in 0..<HW {
            let j = (n * C + c) * HW + i
            let want = Double(gamma[c]) * (Double(x[j]) - Double(rm[c])) / (Double(rv[c]) + Double(eps)).squareRoot() + Double(beta[c])
            #expect(abs(Double(y[j]) - want) < 1e-5)
        } } }
        // Momentum 0.1 blends as PyTorch does.
        let rm2 = Buf(C, fill: 1), rv2 = Buf(C, fill: 1)
        ck_bn_update_running(rm2.p, rv2.p, Buf(out.mean).p, Buf(out.varB).p, 0.1, N * HW, C)
        #expect(abs(rm2[0] - (0.9 + 0.1 * out.mean[0])) < 1e-6)
    }

    @Test("backward matches the textbook chain rule and central differences")
    func backward() {
        var rng = TestRNG(3)
        let x = rng.uniform(N * C * HW, -2, 3), g = rng.uniform(N * C * HW)
        let gamma: [Float] = [0.7, 1.3, -0.4], beta: [Float] = [0.1, 0, -0.3]
        let out = forward(x, gamma, beta)
        let dx = Buf(x.count), dg = Buf(C), db = Buf(C)
        ck_bn_backward(dx.p, dg.p, db.p, Buf(g).p, Buf(out.xhat).p, Buf(out.invstd).p, Buf(gamma).p, N, C, HW)
        let rdx = Buf(x.count), rdg = Buf(C), rdb = Buf(C)
        ck_ref_bn_backward(rdx.p, rdg.p, rdb.p, Buf(g).p, Buf(x).p, Buf(gamma).p, eps, N, C, HW)
        expectClose(dx.array, rdx.array, rtol: 1e-3, atol: 1e-5, "bn dx vs reference")
        expectClose(dg.array, rdg.array, "bn dgamma")
        expectClose(db.array, rdb.array, "bn dbeta")
        let errX = maxGradientError(x: x, loss: { dot(forward($0, gamma, beta).y, g) }, analytic: dx.array)
        let errG = maxGradientError(x: gamma, loss: { dot(forward(x, $0, beta).y, g) }, analytic: dg.array)
        #expect(errX < 1e-2)
        #expect(errG < 1e-2)
    }

    @Test("partial sums over shards give the whole-batch statistics")
    func shardedStatistics() {
        var rng = TestRNG(4)
        let x = Buf(rng.uniform(N * C * HW, -1, 4))
        var sum = [Double](repeating: 0, count: C), sq = [Double](repeating: 0, count: C)
        for shard in [0..<2, 2..<5, 5..<6] {
            var s = [Double](repeating: 0, count: C), q = [Double](repeating: 0, count: C)
            ck_bn_partial_sums(&s, &q, x.p + shard.lowerBound * C * HW, nil, shard.count, C, HW)
            for c in 0..<C { sum[c] += s[c]; sq[c] += q[c] }
        }
        var mean = [Float](repeating: 0, count: C), v = mean, inv = mean
        ck_bn_finish_stats(&mean, &v, &inv, sum, sq, nil, N * HW, eps, C)
        let whole = forward(x.array, [1, 1, 1], [0, 0, 0])
        expectClose(mean, whole.mean, rtol: 1e-6, atol: 1e-6, "sharded mean")
        expectClose(v, whole.varB, rtol: 1e-5, atol: 1e-6, "sharded variance")
    }

    @Test("bitwise identical for 1-4 threads")
    func threadCounts() {
        let (n, c, hw) = (8, 16, 28 * 28)
        var rng = TestRNG(5)
        let x = Buf(rng.uniform(n * c * hw)), g = Buf(rng.uniform(n * c * hw))
        let gamma = Buf(rng.uniform(c)), beta = Buf(rng.uniform(c))
        expectSameForThreadCounts("bn forward + backward") {
            let y = Buf(n * c * hw), xh = Buf(n * c * hw), m = Buf(c), v = Buf(c), s = Buf(c)
            ck_bn_forward_train(y.p, xh.p, m.p, v.p, s.p, x.p, gamma.p, beta.p, 1e-5, n, c, hw)
            let dx = Buf(n * c * hw), dg = Buf(c), db = Buf(c)
            ck_bn_backward(dx.p, dg.p, db.p, g.p, xh.p, s.p, gamma.p, n, c, hw)
            return y.array + dx.array + dg.array + db.array + m.array + v.array
        }
    }
}
