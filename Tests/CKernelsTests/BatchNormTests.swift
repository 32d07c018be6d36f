import CKernels
import Foundation
import Testing

/// The chunked training path exactly as the executor runs it: per-chunk sums into rows of a
/// (chunks, C) table, rows combined in chunk order, then each chunk normalized (and, backward,
/// each chunk's sums, combined, then applied). A whole batch is one chunk.
struct ChunkedBatchNorm {
    let n, c, hw: Int
    let chunks: [Range<Int>]
    var eps: Float = 1e-5, momentum: Float = 0.1
    var count: Int { n * hw }

    /// xhat: what ck_bn_normalize writes when asked for it (the executor does not ask: backward
    /// recomputes x̂ from x); kept here as the stored x̂ of the old formulation.
    struct Forward { var y, xhat, mean, invstd, runningMean, runningVar: [Float]; var variance: [Double] }

    func forward(_ x: Buf, _ gamma: Buf, _ beta: Buf, runningMean: [Float]? = nil,
                 runningVar: [Float]? = nil) -> Forward {
        let k = chunks.count, plane = c * hw
        var sum = [Double](repeating: 0, count: k * c), sq = sum
        var mean64 = [Double](repeating: 0, count: c), variance = mean64
        let y = Buf(n * plane), xhat = Buf(n * plane), mean = Buf(c), invstd = Buf(c)
        let rm = Buf(runningMean ?? [Float](repeating: 0, count: c))
        let rv = Buf(runningVar ?? [Float](repeating: 1, count: c))
        sum.withUnsafeMutableBufferPointer { s in sq.withUnsafeMutableBufferPointer { q in
            for (i, r) in chunks.enumerated() { // one pass: Σ x and Σ x², rows of one pixel
                ck_bn_partial_sums(s.baseAddress! + i * c, q.baseAddress! + i * c, x.p + r.lowerBound * plane,
                                   r.count, c, hw, 1)
            }
        } }
        ck_bn_combine_stats(mean.p, invstd.p, rm.p, rv.p, &mean64, &variance, sum, sq, eps, momentum, k, count, c)
        for r in chunks {
            let o = r.lowerBound * plane
            ck_bn_normalize(y.p + o, xhat.p + o, x.p + o, mean.p, invstd.p, gamma.p, beta.p, nil, 0, r.count, c, hw)
        }
        return Forward(y: y.array, xhat: xhat.array, mean: mean.array, invstd: invstd.array,
                       runningMean: rm.array, runningVar: rv.array, variance: variance)
    }

    /// dx (accumulated onto zeros), dγ and dβ (each chunk adding its share, as into its own gradients);
    /// x̂ recomputed by the kernels from the forward's input x and its mean and invstd.
    func backward(_ dy: Buf, _ x: Buf, _ f: Forward, _ gamma: Buf) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        let k = chunks.count, plane = c * hw
        var part = [Double](repeating: 0, count: k * c), partX = part
        var total = [Double](repeating: 0, count: c), totalX = total
        let dx = Buf(n * plane), dg = Buf(c), db = Buf(c), mean = Buf(f.mean), invstd = Buf(f.invstd)
        part.withUnsafeMutableBufferPointer { p in partX.withUnsafeMutableBufferPointer { px in
            for (i, r) in chunks.enumerated() {
                let o = r.lowerBound * plane
                ck_bn_backward_partial_sums(p.baseAddress! + i * c, px.baseAddress! + i * c, dg.p, db.p,
                                            dy.p + o, x.p + o, mean.p, invstd.p, r.count, c, hw)
            }
        } }
        ck_bn_backward_combine(&total, &totalX, part, partX, k, c)
        for r in chunks {
            let o = r.lowerBound * plane
            ck_bn_backward_apply(dx.p + o, dy.p + o, x.p + o, mean.p, invstd.p, gamma.p, total, totalX, count, 1,
                                 r.count, c, hw)
        }
        return (dx.array, dg.array, db.array)
    }
}

@Suite("Batch norm") struct BatchNormTests {
    let N = 6, C = 3, HW = 10
    let eps: Float = 1e-5
    var chunked: ChunkedBatchNorm { ChunkedBatchNorm(n: N, c: C, hw: HW, chunks: [0..<2, 2..<5, 5..<6]) }
    var whole: ChunkedBatchNorm { ChunkedBatchNorm(n: N, c: C, hw: HW, chunks: [0..<N]) }

    /// Small integers whose per-channel sum is a multiple of N·HW: the mean is an integer, so
    /// every deviation, square and sum is exact in double, in any order.
    func integerInput(seed: UInt64) -> [Float] {
        var rng = TestRNG(seed)
        var x = rng.ints(N * C * HW, 4)
        let m = N * HW
        for c in 0..<C {
            var s = 0
            for n in 0..<N { for i in 0..<HW where !(n == N - 1 && i == HW - 1) { s += Int(x[(n * C + c) * HW + i]) } }
            x[((N - 1) * C + c) * HW + HW - 1] = Float(((-s) % m + m) % m) // brings the sum to a multiple of m
        }
        return x
    }

    @Test("chunked statistics equal the reference bitwise on integer inputs; y within rounding",
          arguments: [false, true])
    func chunkedForwardMatchesReference(oneChunk: Bool) {
        let x = integerInput(seed: 1)
        let gamma: [Float] = [0.5, 2, -1], beta: [Float] = [0.1, -0.2, 0.3]
        let f = (oneChunk ? whole : chunked).forward(Buf(x), Buf(gamma), Buf(beta))
        let ref = Buf(x.count), rmean = Buf(C), rinv = Buf(C)
        ck_ref_bn_forward_train(ref.p, rmean.p, rinv.p, Buf(x).p, Buf(gamma).p, Buf(beta).p, eps, N, C, HW)
        expectBitwise(f.mean, rmean.array, "mean")
        expectBitwise(f.invstd, rinv.array, "invstd")
        expectClose(f.y, ref.array, rtol: 1e-6, atol: 1e-6, "y")
        // the running update, PyTorch's formula in float: (1 − m)·r + m·batch, variance unbiased
        let m: Float = 0.1, unbias = Double(N * HW) / Double(N * HW - 1)
        expectBitwise(f.runningMean, (0..<C).map { (1 - m) * 0 + m * f.mean[$0] }, "running mean")
        expectBitwise(f.runningVar, (0..<C).map { (1 - m) * 1 + m * Float(f.variance[$0] * unbias) }, "running var")
    }

    @Test("chunked forward on real-valued inputs: within rounding of the reference, mean 0 variance 1")
    func chunkedForwardReal() {
        var rng = TestRNG(2)
        let x = rng.uniform(N * C * HW, -3, 5)
        let ones = [Float](repeating: 1, count: C), zeros = [Float](repeating: 0, count: C)
        let f = chunked.forward(Buf(x), Buf(ones), Buf(zeros))
        let ref = Buf(x.count), rmean = Buf(C), rinv = Buf(C)
        ck_ref_bn_forward_train(ref.p, rmean.p, rinv.p, Buf(x).p, Buf(ones).p, Buf(zeros).p, eps, N, C, HW)
        expectClose(f.y, ref.array, rtol: 1e-5, atol: 1e-6, "y")
        expectClose(f.mean, rmean.array, rtol: 1e-6, atol: 1e-7, "mean")
        expectClose(f.invstd, rinv.array, rtol: 1e-6, atol: 0, "invstd")
        for c in 0..<C {
            var vals: [Double] = []
            for n in 0..<N { for i in 0..<HW { vals.append(Double(f.y[(n * C + c) * HW + i])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4) // 1 − eps/σ² ≈ 1 within float rounding
        }
    }

    @Test("inference uses the running statistics with the unbiased m/(m−1) variance")
    func inference() {
        var rng = TestRNG(3)
        let x = rng.uniform(N * C * HW, -2, 2)
        var bn = chunked
        bn.momentum = 1 // take the batch's statistics
        let f = bn.forward(Buf(x), Buf([1, 1, 1]), Buf([0, 0, 0]))
        let m = Double(N * HW)
        for c in 0..<C {
            #expect(f.runningVar[c] == Float(f.variance[c] * (m / (m - 1))))
            #expect(f.runningMean[c] == f.mean[c])
        }
        let gamma: [Float] = [0.5, 2, -1], beta: [Float] = [0.1, -0.2, 0.3]
        let y = Buf(x.count)
        ck_bn_forward_infer(y.p, Buf(x).p, Buf(f.runningMean).p, Buf(f.runningVar).p, Buf(gamma).p, Buf(beta).p,
                            nil, 0, eps, N, C, HW)
        for n in 0..<N { for c in 0..<C { for i in 0..<HW {
            let j = (n * C + c) * HW + i
            let sd = (Double(f.runningVar[c]) + Double(eps)).squareRoot()
            let want = Double(gamma[c]) * (Double(x[j]) - Double(f.runningMean[c])) / sd + Double(beta[c])
            #expect(abs(Double(y[j]) - want) < 1e-5)
        } } }
        // inference is normalize with invstd from the running variance: the same bits
        let inv = Buf((0..<C).map { Float(1 / (Double(f.runningVar[$0]) + Double(eps)).squareRoot()) })
        let y2 = Buf(x.count)
        ck_bn_normalize(y2.p, nil, Buf(x).p, Buf(f.runningMean).p, inv.p, Buf(gamma).p, Buf(beta).p, nil, 0, N, C, HW)
        expectBitwise(y.array, y2.array, "infer vs normalize")
    }

    @Test("chunked backward matches the textbook chain rule and central differences")
    func backward() {
        var rng = TestRNG(4)
        let x = rng.uniform(N * C * HW, -2, 3), g = rng.uniform(N * C * HW)
        let gamma: [Float] = [0.7, 1.3, -0.4], beta: [Float] = [0.1, 0, -0.3]
        let bn = chunked
        let f = bn.forward(Buf(x), Buf(gamma), Buf(beta))
        let (dx, dg, db) = bn.backward(Buf(g), Buf(x), f, Buf(gamma))
        let rdx = Buf(x.count), rdg = Buf(C), rdb = Buf(C)
        ck_ref_bn_backward(rdx.p, rdg.p, rdb.p, Buf(g).p, Buf(x).p, Buf(gamma).p, eps, N, C, HW)
        expectClose(dx, rdx.array, rtol: 1e-3, atol: 1e-5, "bn dx vs reference")
        expectClose(dg, rdg.array, "bn dgamma")
        expectClose(db, rdb.array, "bn dbeta")
        let errX = maxGradientError(x: x, loss: { dot(bn.forward(Buf($0), Buf(gamma), Buf(beta)).y, g) }, analytic: dx)
        let errG = maxGradientError(x: gamma, loss: { dot(bn.forward(Buf(x), Buf($0), Buf(beta)).y, g) }, analytic: dg)
        #expect(errX < 1e-2)
        #expect(errG < 1e-2)
    }

    @Test("chunked backward on integer inputs: the combined sums equal the reference's bitwise")
    func backwardSumsExact() {
        let x = integerInput(seed: 5)
        var rng = TestRNG(6)
        let g = rng.ints(N * C * HW, 3), gamma: [Float] = [1, 1, 1]
        let f = chunked.forward(Buf(x), Buf(gamma), Buf([0, 0, 0]))
        let (_, dg, db) = chunked.backward(Buf(g), Buf(x), f, Buf(gamma))
        let wf = whole.forward(Buf(x), Buf(gamma), Buf([0, 0, 0]))
        let (_, wdg, wdb) = whole.backward(Buf(g), Buf(x), wf, Buf(gamma))
        expectBitwise(db, wdb, "dbeta: integer sums, any chunking") // Σ dy exact
        expectClose(dg, wdg, rtol: 1e-6, atol: 1e-6, "dgamma")
    }

    @Test("bitwise identical for 1-4 threads")
    func threadCounts() {
        let (n, c, hw) = (8, 16, 28 * 28)
        var rng = TestRNG(7)
        let x = Buf(rng.uniform(n * c * hw)), g = Buf(rng.uniform(n * c * hw))
        let gamma = Buf(rng.uniform(c)), beta = Buf(rng.uniform(c))
        let bn = ChunkedBatchNorm(n: n, c: c, hw: hw, chunks: [0..<3, 3..<8])
        expectSameForThreadCounts("bn forward + backward") {
            let f = bn.forward(x, gamma, beta)
            let b = bn.backward(g, x, f, gamma)
            return f.y + b.dx + b.dgamma + b.dbeta + f.mean + f.invstd + f.runningMean + f.runningVar
        }
    }

    /// The backward of the old formulation, which read a stored x̂, in Swift: the kernels' float and
    /// double operations one by one on the x̂ ck_bn_normalize wrote, dx accumulated onto zeros.
    /// Products of two floats are exact in double, so the sums have one rounding per step either way;
    /// `fused`: dy − mean(dy) − x̂·mean(dy·x̂) rounded once for the last two terms, as an FMA does
    /// (the kernels are built with -ffp-contract=on: fused where the target has FMA).
    static func storedXhatBackward(_ bn: ChunkedBatchNorm, dy: [Float], xhat: [Float], invstd: [Float],
                                   gamma: [Float], fused: Bool) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        let (c, hw) = (bn.c, bn.hw)
        var dg = [Float](repeating: 0, count: c), db = dg, dx = [Float](repeating: 0, count: dy.count)
        var total = [Double](repeating: 0, count: c), totalX = total
        for r in bn.chunks { // each chunk's sums, dγ and dβ added per chunk, rows combined in chunk order
            for ch in 0..<c {
                var sum = 0.0, sumX = 0.0
                for n in r { for i in 0..<hw {
                    let j = (n * c + ch) * hw + i
                    sum += Double(dy[j])
                    sumX += Double(dy[j]) * Double(xhat[j])
                } }
                dg[ch] += Float(sumX); db[ch] += Float(sum)
                total[ch] += sum; totalX[ch] += sumX
            }
        }
        for n in 0..<bn.n { for ch in 0..<c {
            let k = gamma[ch] * invstd[ch]
            let mdy = Float(total[ch] / Double(bn.count)), mdyh = Float(totalX[ch] / Double(bn.count))
            for i in 0..<hw {
                let j = (n * c + ch) * hw + i, a = dy[j] - mdy
                let t = fused ? a.addingProduct(-xhat[j], mdyh) : a - xhat[j] * mdyh
                dx[j] += k * t // onto 0: one rounding, fused or not
            }
        } }
        return (dx, dg, db)
    }

    @Test("backward recomputing x̂ from x, mean, invstd gives the stored-x̂ formulation's bits")
    func recomputedXhatMatchesStored() {
        let shapes = [chunked, ChunkedBatchNorm(n: 5, c: 4, hw: 37, chunks: [0..<2, 2..<5]),
                      ChunkedBatchNorm(n: 3, c: 2, hw: 1, chunks: [0..<1, 1..<3])]
        var roundingsDiffer = 0
        for (s, bn) in shapes.enumerated() {
            var rng = TestRNG(UInt64(40 + s))
            let count = bn.n * bn.c * bn.hw
            let x = rng.uniform(count, -3, 5), dy = rng.uniform(count), gamma = rng.uniform(bn.c, 0.5, 2)
            let f = bn.forward(Buf(x), Buf(gamma), Buf(rng.uniform(bn.c)))
            // the stored x̂ is the forward's: y = γ·x̂ + β from the same x̂ (γ = 1, β = 0 gives x̂ itself)
            let unit = bn.forward(Buf(x), Buf([Float](repeating: 1, count: bn.c)),
                                  Buf([Float](repeating: 0, count: bn.c)))
            expectBitwise(unit.y, f.xhat, "shape \(s): x̂ as normalize writes it")
            let got = bn.backward(Buf(dy), Buf(x), f, Buf(gamma))
            let fused = Self.storedXhatBackward(bn, dy: dy, xhat: f.xhat, invstd: f.invstd, gamma: gamma, fused: true)
            let plain = Self.storedXhatBackward(bn, dy: dy, xhat: f.xhat, invstd: f.invstd, gamma: gamma, fused: false)
            expectBitwise(got.dgamma, fused.dgamma, "shape \(s): dgamma")
            expectBitwise(got.dbeta, fused.dbeta, "shape \(s): dbeta")
            let bits = got.dx.map(\.bitPattern)
            #expect(bits == fused.dx.map(\.bitPattern) || bits == plain.dx.map(\.bitPattern),
                    "shape \(s): dx differs from the stored-x̂ formulation")
            if fused.dx.map(\.bitPattern) != plain.dx.map(\.bitPattern) { roundingsDiffer += 1 }
        }
        #expect(roundingsDiffer > 0, "the fused and unfused references never differ: the dx check proves little")
    }
}
