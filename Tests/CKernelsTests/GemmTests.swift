import CKernels
import Testing

@Suite("GEMM") struct GemmTests {
    static let sizes = [1, 3, 7, 17, 33, 127]
    static let depths = [1, 17, 127, 300, 520] // 300 and 520 cross K-slice boundaries (kc = 256)
    static let transposes: [(Int32, Int32)] = [(0, 0), (0, 1), (1, 0), (1, 1)]

    /// Runs ck_sgemm and the reference on the same inputs; returns (fast, reference).
    func both(_ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, alpha: Float, beta: Float,
              a: [Float], b: [Float], c: [Float]) -> ([Float], [Float]) {
        let A = Buf(a), B = Buf(b), C1 = Buf(c), C2 = Buf(c)
        let lda = ta == 0 ? k : m, ldb = tb == 0 ? n : k
        let ws = Buf(ck_sgemm_workspace_size(m, n, k))
        ck_sgemm(ta, tb, m, n, k, alpha, A.p, lda, B.p, ldb, beta, C1.p, n, ws.p)
        ck_ref_sgemm(ta, tb, m, n, k, alpha, A.p, lda, B.p, ldb, beta, C2.p, n)
        return (C1.array, C2.array)
    }

    @Test("small integers: exact for every size, transpose and kernel variant", arguments: transposes, kernelISAs)
    func exactIntegers(t: (Int32, Int32), isa: Int32) {
        let (ta, tb) = t
        var rng = TestRNG(UInt64(ta * 2 + tb + 1))
        withISA(isa) {
            for m in Self.sizes { for n in Self.sizes { for k in Self.depths {
                let (fast, ref) = both(ta, tb, m, n, k, alpha: 1, beta: 1,
                                       a: rng.ints(m * k), b: rng.ints(k * n), c: rng.ints(m * n))
                expectBitwise(fast, ref, "sgemm \(isaName(isa)) \(ta)\(tb) \(m)x\(n)x\(k)")
            } } }
        }
    }

    @Test("wider than one N block (NC = 4096), alpha and beta = 0 over NaN", arguments: kernelISAs)
    func wideAndBetaZero(isa: Int32) {
        var rng = TestRNG(9)
        let (m, n, k) = (7, 4100, 5)
        let (fast, ref) = withISA(isa) {
            both(0, 0, m, n, k, alpha: 2, beta: 0, a: rng.ints(m * k), b: rng.ints(k * n),
                 c: [Float](repeating: .nan, count: m * n))
        }
        expectBitwise(fast, ref, "wide sgemm \(isaName(isa))")
    }

    @Test("random inputs within rtol 1e-4 / atol 1e-5 of the double reference", arguments: kernelISAs)
    func randomTolerance(isa: Int32) {
        var rng = TestRNG(3)
        for (m, n, k) in [(64, 200, 513), (129, 31, 260), (5, 1000, 9), (200, 97, 777)] {
            for (ta, tb) in Self.transposes {
                let (fast, ref) = withISA(isa) {
                    both(ta, tb, m, n, k, alpha: 0.5, beta: -1.5, a: rng.uniform(m * k),
                         b: rng.uniform(k * n), c: rng.uniform(m * n))
                }
                expectClose(fast, ref, "sgemm random \(isaName(isa)) \(ta)\(tb) \(m)x\(n)x\(k)")
            }
        }
    }

    @Test("bitwise identical for 1-4 threads, per kernel variant", arguments: kernelISAs)
    func threadCounts(isa: Int32) {
        var rng = TestRNG(4)
        let (m, n, k) = (200, 300, 517)
        let a = Buf(rng.uniform(m * k)), b = Buf(rng.uniform(k * n))
        let ws = Buf(ck_sgemm_workspace_size(m, n, k))
        withISA(isa) {
            for (ta, tb) in Self.transposes {
                expectSameForThreadCounts("sgemm \(isaName(isa)) \(ta)\(tb)") {
                    let c = Buf(m * n)
                    ck_sgemm(ta, tb, m, n, k, 1, a.p, ta == 0 ? k : m, b.p, tb == 0 ? n : k, 0, c.p, n, ws.p)
                    return c.array
                }
            }
        }
    }

    @Test("narrow products computed transposed give the same bits as the other orientation", arguments: kernelISAs)
    func orientation(isa: Int32) {
        var rng = TestRNG(12)
        // (M, N, K): output-layer shapes whose few columns make the kernel turn the product round
        for (m, n, k) in [(128, 10, 512), (100, 3, 77), (300, 20, 260)] {
            for (ta, tb) in Self.transposes {
                let a = Buf(rng.uniform(m * k)), b = Buf(rng.uniform(k * n)), c0 = rng.uniform(m * n)
                let ws = Buf(ck_sgemm_workspace_size(m, n, k))
                let (wide, narrow) = withISA(isa) { () -> ([Float], [Float]) in
                    let c = Buf(c0), ct = Buf(m * n)
                    for i in 0..<m { for j in 0..<n { ct[j * m + i] = c0[i * n + j] } }
                    ck_sgemm(ta, tb, m, n, k, 0.5, a.p, ta == 0 ? k : m, b.p, tb == 0 ? n : k, 2, c.p, n, ws.p)
                    // Cᵀ (n, m) = op(B)ᵀ · op(A)ᵀ, asked for directly
                    ck_sgemm(1 - tb, 1 - ta, n, m, k, 0.5, b.p, tb == 0 ? n : k, a.p, ta == 0 ? k : m, 2, ct.p, m, ws.p)
                    var back = [Float](repeating: 0, count: m * n)
                    for i in 0..<m { for j in 0..<n { back[i * n + j] = ct[j * m + i] } }
                    return (c.array, back)
                }
                expectBitwise(wide, narrow, "\(isaName(isa)) \(ta)\(tb) \(m)x\(n)x\(k)")
            }
        }
    }

    /// An FC layer's products have few N blocks; a wide team cuts their rows finer (down to one
    /// panel per task), which must not move a bit. 2–4 threads already cut them finer than one thread
    /// does; teams past 4 are left out, as in the other kernels' tests: LeakSanitizer reports the
    /// arrays libomp keeps for a grown team.
    @Test("narrow products (FC shapes): the same bits at 1–4 threads, and the reference's values")
    func narrowProductsAnyTeam() {
        var rng = TestRNG(77)
        let saved = ck_get_max_threads()
        defer { ck_set_num_threads(saved) }
        for (m, n, k) in [(128, 10, 300), (128, 100, 700), (128, 256, 513), (37, 50, 400)] {
            let a = Buf(rng.uniform(m * k)), b = Buf(rng.uniform(k * n))
            let ws = Buf(ck_sgemm_workspace_size(m, n, k))
            func run(_ t: Int32) -> [Float] {
                ck_set_num_threads(t)
                let c = Buf(m * n, fill: .nan)
                ck_sgemm(0, 0, m, n, k, 1, a.p, k, b.p, n, 0, c.p, n, ws.p)
                return c.array
            }
            let one = run(1)
            for t: Int32 in [2, 3, 4] { expectBitwise(run(t), one, "\(m)×\(n)×\(k) at \(t) threads") }
            let ref = Buf(m * n)
            ck_ref_sgemm(0, 0, m, n, k, 1, a.p, k, b.p, n, 0, ref.p, n)
            expectClose(one, ref.array, rtol: 1e-4, atol: 1e-4, "\(m)×\(n)×\(k) vs the reference")
        }
    }

    @Test("gradient identities: dA = dC·Bᵀ and dB = Aᵀ·dC match central differences")
    func gradientCheck() {
        var rng = TestRNG(5)
        let (m, n, k) = (4, 5, 6)
        let a = rng.uniform(m * k), b = rng.uniform(k * n), g = rng.uniform(m * n)
        let ws = Buf(ck_sgemm_workspace_size(16, 16, 16))
        func loss(_ a: [Float], _ b: [Float]) -> Double {
            let A = Buf(a), B = Buf(b), C = Buf(m * n)
            ck_sgemm(0, 0, m, n, k, 1, A.p, k, B.p, n, 0, C.p, n, ws.p)
            return dot(C.array, g)
        }
        let G = Buf(g), A = Buf(a), B = Buf(b), dA = Buf(m * k), dB = Buf(k * n)
        ck_sgemm(0, 1, m, k, n, 1, G.p, n, B.p, n, 0, dA.p, k, ws.p) // dA (m,k) = G (m,n) · Bᵀ
        ck_sgemm(1, 0, k, n, m, 1, A.p, k, G.p, n, 0, dB.p, n, ws.p) // dB (k,n) = Aᵀ · G
        #expect(maxGradientError(x: a, loss: { loss($0, b) }, analytic: dA.array) < 1e-2)
        #expect(maxGradientError(x: b, loss: { loss(a, $0) }, analytic: dB.array) < 1e-2)
    }
}
