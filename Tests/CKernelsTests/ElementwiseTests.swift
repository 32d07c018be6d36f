import CKernels
import Foundation
import Testing

@Suite("Activations, loss, dropout, optimizer") struct ElementwiseTests {
    typealias Fwd = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void
    typealias Bwd = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int32, Int) -> Void

    /// name, forward, backward, and whether backward reads the output (tanh, sigmoid) or the input.
    nonisolated(unsafe) static let unary: [(String, Fwd, Bwd, Bool)] = [
        ("relu", { ck_relu_forward($0, $1, $2) }, { ck_relu_backward($0, $1, $2, $3, $4) }, false),
        ("leaky", { ck_leaky_relu_forward($0, $1, 0.1, $2) },
         { ck_leaky_relu_backward($0, $1, $2, 0.1, $3, $4) }, false),
        ("tanh", { ck_tanh_forward($0, $1, $2) }, { ck_tanh_backward($0, $1, $2, $3, $4) }, true),
        ("sigmoid", { ck_sigmoid_forward($0, $1, $2) }, { ck_sigmoid_backward($0, $1, $2, $3, $4) }, true),
    ]

    @Test("unary activations: gradient check (smooth ones < 1e-4 in double-checked form)", arguments: 0..<4)
    func unaryGradients(_ i: Int) {
        let (name, fwd, bwd, usesOutput) = Self.unary[i]
        var rng = TestRNG(UInt64(i))
        // keep away from the kink at 0, where a central difference is not a derivative
        let x = rng.uniform(64, -3, 3).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }, g = rng.uniform(64)
        func f(_ x: [Float]) -> [Float] { let y = Buf(x.count); fwd(y.p, Buf(x).p, x.count); return y.array }
        let y = f(x), dx = Buf(64, fill: 0.5)
        bwd(dx.p, Buf(g).p, Buf(usesOutput ? y : x).p, 1, 64)
        let ana = dx.array.map { $0 - 0.5 } // backward accumulates
        let smooth = usesOutput
        let err = maxGradientError(x: x, eps: smooth ? 1e-2 : 1e-3, loss: { dot(f($0), g) }, analytic: ana)
        #expect(err < (smooth ? 1e-3 : 1e-2), "\(name): relative error \(err)")
    }

    @Test("unary backward with accumulate = 0 stores exactly what accumulate = 1 adds to zeros", arguments: 0..<4)
    func unaryStore(_ i: Int) {
        let (name, _, bwd, _) = Self.unary[i]
        var rng = TestRNG(UInt64(40 + i))
        let saved = Buf(rng.uniform(50_000, -2, 2)), g = Buf(rng.uniform(50_000)) // above the threading size
        let added = Buf(50_000), stored = Buf(50_000, fill: .nan)
        bwd(added.p, g.p, saved.p, 1, 50_000)
        bwd(stored.p, g.p, saved.p, 0, 50_000)
        #expect(stored.array.map(\.bitPattern) == added.array.map(\.bitPattern), "\(name)")
        #expect(added.array.contains { $0 != 0 })
    }

    @Test("""
          tanh and sigmoid forward: within 2e-6 relative (plus 1e-30 absolute) of double-precision libm, \
          NaN passes through
          """)
    func smoothForwardAgainstLibm() {
        var rng = TestRNG(21)
        // wide, tiny (the Taylor branch), around the 1/8 switch, saturating, and exact integers
        let x: [Float] = rng.uniform(4000, -12, 12) + rng.uniform(1000, -0.14, 0.14) + rng.uniform(200, -1e-6, 1e-6)
            + [0, -0.125, 0.125, 0.12499, -0.12501, 20, -20, 50, -50, 88, -88, 100, -100, 1e-30, -1e-30]
            + (-9...9).map(Float.init)
        let n = x.count, y = Buf(n)
        let functions: [(String, Fwd, (Double) -> Double)] = [
            ("tanh", Self.unary[2].1, { Foundation.tanh($0) }),
            ("sigmoid", Self.unary[3].1, { 1 / (1 + Foundation.exp(-$0)) }),
        ]
        for (name, fwd, ref) in functions {
            fwd(y.p, Buf(x).p, n)
            var worst = 0.0, at: Float = 0
            for i in 0..<n {
                let want = ref(Double(x[i])), err = abs(Double(y[i]) - want) / max(abs(want), 1e-30)
                if abs(Double(y[i]) - want) > 1e-30, err > worst { worst = err; at = x[i] }
            }
            #expect(worst < 2e-6, "\(name): relative error \(worst) at x = \(at)")
            let nan = Buf([Float.nan, 1]); let out = Buf(2)
            fwd(out.p, nan.p, 2)
            #expect(out.array[0].isNaN, "\(name) must keep NaN (training stops on it)")
        }
    }

    @Test("PReLU channel-wise and shared: dx and da by central differences", arguments: [false, true])
    func prelu(shared: Bool) {
        let (N, C, HW) = (3, 4, 5)
        var rng = TestRNG(7)
        let x = rng.uniform(N * C * HW, -2, 2).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }, g = rng.uniform(N * C * HW)
        let a: [Float] = shared ? [0.25] : [0.25, 0.1, -0.2, 0.5]
        func f(_ x: [Float], _ a: [Float]) -> [Float] {
            let y = Buf(x.count); ck_prelu_forward(y.p, Buf(x).p, Buf(a).p, shared ? 1 : 0, N, C, HW); return y.array
        }
        let dx = Buf(x.count), da = Buf(a.count)
        ck_prelu_backward(dx.p, da.p, Buf(g).p, Buf(x).p, Buf(a).p, shared ? 1 : 0, N, C, HW)
        #expect(maxGradientError(x: x, loss: { dot(f($0, a), g) }, analytic: dx.array) < 1e-2)
        #expect(maxGradientError(x: a, loss: { dot(f(x, $0), g) }, analytic: da.array) < 1e-2)
    }

    @Test("maxout picks the max of k channels; gradient goes to the winner")
    func maxout() {
        let (N, C, k, HW) = (2, 3, 3, 4)
        var rng = TestRNG(8)
        let x = rng.uniform(N * C * k * HW), g = rng.uniform(N * C * HW)
        func f(_ x: [Float]) -> [Float] {
            let y = Buf(N * C * HW), am = [Int32](repeating: 0, count: N * C * HW)
            var amv = am
            ck_maxout_forward(y.p, &amv, Buf(x).p, k, N, C, HW); return y.array
        }
        let y = f(x)
        for n in 0..<N { for c in 0..<C { for i in 0..<HW {
            let cands = (0..<k).map { x[((n * C * k) + c * k + $0) * HW + i] }
            #expect(y[(n * C + c) * HW + i] == cands.max()!)
        } } }
        var am = [Int32](repeating: 0, count: N * C * HW)
        ck_maxout_forward(Buf(N * C * HW).p, &am, Buf(x).p, k, N, C, HW)
        let dx = Buf(x.count)
        ck_maxout_backward(dx.p, Buf(g).p, am, k, N, C, HW)
        #expect(maxGradientError(x: x, loss: { dot(f($0), g) }, analytic: dx.array) < 1e-2)
    }

    @Test("softmax cross-entropy: loss by formula, gradient by central differences")
    func softmaxXent() {
        let (N, K) = (5, 7)
        var rng = TestRNG(9)
        // one large logit: stability
        let z = rng.uniform(N * K, -4, 4).enumerated().map { $0.offset == 3 ? 80 : $0.element }
        let labels: [Int32] = [0, 3, 6, 2, 2]
        func loss(_ z: [Float]) -> Double {
            let p = Buf(N * K); var c = 0
            return ck_softmax_xent_forward(p.p, &c, Buf(z).p, labels, N, K)
        }
        var want = 0.0
        for n in 0..<N {
            let row = z[n * K..<(n + 1) * K].map(Double.init), mx = row.max()!
            want += log(row.map { exp($0 - mx) }.reduce(0, +)) + mx - row[Int(labels[n])]
        }
        let probs = Buf(N * K); var correct = 0
        let got = ck_softmax_xent_forward(probs.p, &correct, Buf(z).p, labels, N, K)
        #expect(abs(got - want) < 1e-6 * max(1, abs(want)))
        let argmaxHits = (0..<N).filter { n in
            let row = Array(z[n * K..<(n + 1) * K]); return row.firstIndex(of: row.max()!)! == Int(labels[n])
        }.count
        #expect(correct == argmaxHits)
        let dz = Buf(N * K)
        ck_softmax_xent_backward(dz.p, probs.p, labels, 1, N, K)
        #expect(maxGradientError(x: z, eps: 1e-2, loss: loss, analytic: dz.array) < 1e-3)
    }

    @Test("dropout: counter-based, reproducible, rate close to p, backward uses the mask")
    func dropout() {
        let n = 100_000
        let x = Buf(n, fill: 1), y1 = Buf(n), y2 = Buf(n)
        var m1 = [UInt8](repeating: 0, count: n), m2 = m1
        ck_dropout_forward(y1.p, &m1, x.p, 0.3, 42, 0, n)
        ck_set_num_threads(2)
        ck_dropout_forward(y2.p, &m2, x.p, 0.3, 42, 0, n)
        ck_set_num_threads(1)
        expectBitwise(y1.array, y2.array, "dropout across thread counts")
        let dropped = Double(m1.filter { $0 == 0 }.count) / Double(n)
        #expect(abs(dropped - 0.3) < 0.01)
        #expect(y1.array.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        // a shifted offset reproduces the tail of the stream: element i depends on offset+i only
        let y3 = Buf(10); var m3 = [UInt8](repeating: 0, count: 10)
        ck_dropout_forward(y3.p, &m3, x.p, 0.3, 42, 500, 10)
        #expect(Array(m1[500..<510]) == m3)
        let dx = Buf(n)
        ck_dropout_backward(dx.p, x.p, m1, 0.3, n)
        expectBitwise(dx.array, y1.array, "dropout backward of ones equals forward of ones")
    }

    @Test("normal fill: mean 0, std 1, same seed same bits")
    func normalFill() {
        let n = 200_000
        let a = Buf(n), b = Buf(n)
        ck_fill_normal(a.p, 7, 0, n)
        ck_set_num_threads(3)
        ck_fill_normal(b.p, 7, 0, n)
        ck_set_num_threads(1)
        expectBitwise(a.array, b.array, "normal fill")
        let v = a.array.map(Double.init), mean = v.reduce(0, +) / Double(n)
        let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
        #expect(abs(mean) < 0.01)
        #expect(abs(sd - 1) < 0.01)
    }

    @Test("SGD with momentum and masked weight decay matches the reference")
    func sgd() {
        var rng = TestRNG(10)
        let n = 1000
        let w = rng.uniform(n), g = rng.uniform(n)
        let mask = (0..<n).map { UInt8($0 % 3 == 0 ? 0 : 1) }
        let w1 = Buf(w), v1 = Buf(n), w2 = Buf(w), v2 = Buf(n)
        for _ in 0..<3 {
            ck_sgd_step(w1.p, v1.p, Buf(g).p, mask, 0.1, 0.9, 5e-4, n)
            ck_ref_sgd_step(w2.p, v2.p, Buf(g).p, mask, 0.1, 0.9, 5e-4, n)
        }
        expectClose(w1.array, w2.array, rtol: 1e-6, atol: 1e-7, "sgd weights")
        // a masked value moves by the gradient alone: 3 steps of momentum → lr·g·(1 + 1.9 + 2.71)
        #expect(abs(w1[0] - (w[0] - 0.1 * g[0] * 5.61)) < 1e-5)
    }

    @Test("gradient sum adds buffers in index order")
    func sumBuffers() {
        // 1e8 + 1 − 1e8: in index order (1e8 + 1) rounds to 1e8, so the result is 0, not 1.
        let a = Buf([1e8]), b = Buf([1]), c = Buf([-1e8]), out = Buf(1)
        let ptrs: [UnsafePointer<Float>?] = [UnsafePointer(a.p), UnsafePointer(b.p), UnsafePointer(c.p)]
        ck_sum_buffers(out.p, ptrs, 3, 1)
        #expect(out[0] == 0)
        #expect(ck_all_finite(a.p, 1) == 1)
        let bad = Buf([1, .nan, 2])
        #expect(ck_all_finite(bad.p, 3) == 0)
    }

    @Test("sum of squares: exact on integers, the same bits for 1–3 threads, close to the reference; scale")
    func sumOfSquares() {
        let n = 100_003 // several 16,384-value blocks and a ragged tail, past the parallel threshold
        var rng = TestRNG(7)
        let ints = Buf((0..<n).map { Float($0 % 201 - 100) }), reals = Buf(rng.uniform(n, -2, 2))
        #expect(ck_sum_squares(ints.p, n) == ck_ref_sum_squares(ints.p, n))
        var bits: [UInt64] = []
        for t in 1...3 {
            ck_set_num_threads(Int32(t))
            bits.append(ck_sum_squares(reals.p, n).bitPattern)
        }
        ck_set_num_threads(1)
        #expect(Set(bits).count == 1, "bits differ between thread counts")
        let ref = ck_ref_sum_squares(reals.p, n)
        #expect(abs(Double(bitPattern: bits[0]) - ref) <= 1e-12 * ref)
        #expect(ck_sum_squares(ints.p, 0) == 0)
        let x = Buf([1, -2, 3.5]); ck_scale(x.p, 0.5, 3)
        #expect(x.array == [0.5, -1, 1.75])
    }

    @Test("mean and variance: exact on integers, the same bits for 1-3 threads, near the reference")
    func meanVariance() {
        let n = 100_003 // several blocks, a ragged tail of lanes, past the parallel threshold
        var rng = TestRNG(8)
        // symmetric integers around 7: the mean is exactly 7, every deviation and square exact
        let ints = Buf((0..<n).map { (i: Int) -> Float in
            let d = Float(i / 2 % 50)
            return i % 2 == 0 ? 7 + d : 7 - d
        })
        var m = 0.0, v = 0.0, rm = 0.0, rv = 0.0
        ck_mean_var(&m, &v, ints.p, n - 1); ck_ref_mean_var(&rm, &rv, ints.p, n - 1)
        #expect(m == rm && v == rv && m == 7, "\(m) \(v) vs \(rm) \(rv)")
        let reals = Buf(rng.uniform(n, -2, 3))
        var bits: [[UInt64]] = []
        for t in 1...3 {
            ck_set_num_threads(Int32(t))
            ck_mean_var(&m, &v, reals.p, n)
            bits.append([m.bitPattern, v.bitPattern])
        }
        ck_set_num_threads(1)
        #expect(Set(bits).count == 1, "bits differ between thread counts")
        ck_ref_mean_var(&rm, &rv, reals.p, n)
        #expect(abs(m - rm) <= 1e-12 * abs(rm) && abs(v - rv) <= 1e-12 * rv, "\(m) \(v) vs \(rm) \(rv)")
        ck_mean_var(&m, &v, reals.p, 0)
        #expect(m == 0 && v == 0)
        ck_mean_var(&m, &v, reals.p, 5) // fewer values than lanes
        ck_ref_mean_var(&rm, &rv, reals.p, 5)
        #expect(abs(m - rm) <= 1e-15 * abs(rm) + 1e-15 && abs(v - rv) <= 1e-14 * rv)
    }


    @Test("Gram-Schmidt: orthonormal columns, the same bits as the loops written out in Swift (8-lane dots)")
    func gramSchmidt() {
        let m = 37, n = 11
        var rng = TestRNG(9)
        let start = rng.uniform(m * n, -1, 1).map(Double.init)
        var a = start
        a.withUnsafeMutableBufferPointer { ck_gram_schmidt($0.baseAddress, m, n) }
        // the oracle: modified Gram-Schmidt twice, dot products in 8 lanes (lane i mod 8, index
        // order within a lane, then the lanes pairwise as the header says), no fused multiply-adds
        func dot(_ x: Int, _ y: Int) -> Double {
            var lane = [Double](repeating: 0, count: 8)
            for i in 0..<m { lane[i % 8] += r[x * m + i] * r[y * m + i] }
            return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]))
        }
        var r = start
        for j in 0..<n {
            for _ in 0..<2 {
                for k in 0..<j {
                    let d = dot(k, j)
                    for i in 0..<m { r[j * m + i] -= d * r[k * m + i] }
                }
                let norm = dot(j, j).squareRoot()
                let inv = norm > 0 ? 1 / norm : 0
                for i in 0..<m { r[j * m + i] *= inv }
            }
        }
        #expect(a.map(\.bitPattern) == r.map(\.bitPattern))
        for j in 0..<n { for k in 0...j {
            let dot = (0..<m).reduce(0.0) { $0 + a[j * m + $1] * a[k * m + $1] }
            #expect(abs(dot - (j == k ? 1 : 0)) < 1e-12, "columns \(j), \(k): \(dot)")
        } }
    }
    @Test("bias add and bias gradient: the per-channel loops' bits (linear rows and image planes), 1–4 threads")
    func biasKernels() {
        var rng = TestRNG(77)
        // (N, K, HW): rows under and over the fork size, strips of 64 with a partial last one, planes
        for (n, k, hw) in [(5, 10, 1), (128, 513, 1), (300, 130, 1), (7, 3, 5), (64, 40, 20)] {
            let y0 = rng.uniform(n * k * hw, -3, 3), b = rng.uniform(k, -2, 2), db0 = rng.uniform(k)
            var yRef = y0, dbRef = db0
            for i in 0..<(n * k * hw) { yRef[i] += b[i / hw % k] }
            for c in 0..<k {
                var acc = 0.0
                for img in 0..<n { for p in 0..<hw { acc += Double(y0[(img * k + c) * hw + p]) } }
                dbRef[c] += Float(acc)
            }
            expectSameForThreadCounts("add_bias \(n)×\(k)×\(hw)") {
                let y = Buf(y0)
                ck_add_bias(y.p, Buf(b).p, n, k, hw)
                expectBitwise(y.array, yRef, "add_bias \(n)×\(k)×\(hw)")
                return y.array
            }
            expectSameForThreadCounts("bias_backward \(n)×\(k)×\(hw)") {
                let db = Buf(db0)
                ck_bias_backward(db.p, Buf(y0).p, n, k, hw)
                expectBitwise(db.array, dbRef, "bias_backward \(n)×\(k)×\(hw)")
                return db.array
            }
        }
    }
}
