// Batch norm on the channel-blocked layout: every kernel, on blocked copies of random real-valued
// data, gives bitwise the NCHW kernel's results (sums in double included), whatever the thread count;
// padding channels hold NaN on input and must neither reach a sum nor an output.
import CKernels
import Testing

/// One batch-norm shape (N, C, HW) and its two layouts.
struct BlockedBNShape: Sendable, CustomTestStringConvertible {
    let n, c, hw: Int
    var testDescription: String { "N=\(n) C=\(c) HW=\(hw)" }
    var blocks: Int { (c + 15) / 16 }
    var plainCount: Int { n * c * hw }
    var blockedCount: Int { ck_blocked_size(n, c, hw, 1) }
    /// Per-channel buffers get room for every lane: the lanes past C must stay untouched.
    var laneCount: Int { blocks * 16 }
    /// The statistics' row width: several rows where hw has a divisor (5 rows of 5 at hw = 25).
    var w: Int { (1...hw).last { hw % $0 == 0 && $0 * $0 <= hw } ?? 1 }

    /// Blocked indices of the channels ≥ C.
    var paddingIndices: [Int] {
        var out: [Int] = []
        for b in 0..<n { for i in 0..<hw { for l in (c - (blocks - 1) * 16)..<16 {
            out.append(((b * blocks + blocks - 1) * hw + i) * 16 + l)
        } } }
        return out
    }

    /// x (N, C, HW) blocked, with `padding` written into the padding lanes.
    func toBlocked(_ x: [Float], padding: Float = .nan) -> Buf {
        let b = Buf(blockedCount)
        ck_blocked_from_nchw(b.p, Buf(x).p, n, c, hw, 1)
        for j in paddingIndices { b[j] = padding }
        return b
    }

    func toPlain(_ b: Buf) -> [Float] {
        let x = Buf(plainCount)
        ck_blocked_to_nchw(x.p, b.p, n, c, hw, 1)
        return x.array
    }
}

/// Every result of the five kernels (and of the NCHW combine steps between them) as bit patterns.
struct BNResults {
    var named: [(name: String, bits: [UInt64])] = []
    /// Padding lanes that changed where they must not, or were not written as zero.
    var paddingErrors: [String] = []

    mutating func add(_ name: String, _ v: [Float]) { named.append((name, v.map { UInt64($0.bitPattern) })) }
    mutating func add(_ name: String, _ v: [Double]) { named.append((name, v.map { $0.bitPattern })) }
}

@Suite("Batch norm on the blocked layout") struct BatchNormBlockedTests {
    static let shapes: [BlockedBNShape] = [
        .init(n: 1, c: 16, hw: 49), .init(n: 2, c: 32, hw: 1), .init(n: 3, c: 48, hw: 49),
        .init(n: 2, c: 20, hw: 49), .init(n: 1, c: 20, hw: 1), .init(n: 4, c: 20, hw: 784),
        .init(n: 3, c: 16, hw: 784), .init(n: 4, c: 48, hw: 784), .init(n: 4, c: 32, hw: 1),
    ]
    static let eps: Float = 1e-5

    /// The forward statistics, normalization, inference and backward of one shape on one layout,
    /// each output back in NCHW order. The same seeds on both layouts.
    static func run(_ s: BlockedBNShape, blocked: Bool) -> BNResults {
        var rng = TestRNG(UInt64(s.n * 100_000 + s.c * 1000 + s.hw))
        let x = rng.uniform(s.plainCount, -3, 5), dy = rng.uniform(s.plainCount), dx0 = rng.uniform(s.plainCount)
        let gamma = Buf(rng.uniform(s.c, 0.5, 2)), beta = Buf(rng.uniform(s.c))
        let runningMean = Buf(rng.uniform(s.c)), runningVar = Buf(rng.uniform(s.c, 0.1, 3))
        let dgamma = Buf(rng.uniform(s.c)), dbeta = Buf(rng.uniform(s.c))
        let count = s.n * s.hw
        var r = BNResults(), errors: [String] = []

        let partialSums = blocked ? ck_bn_partial_sums_blocked : ck_bn_partial_sums
        let normalize = blocked ? ck_bn_normalize_blocked : ck_bn_normalize
        let infer = blocked ? ck_bn_forward_infer_blocked : ck_bn_forward_infer
        let backwardSums = blocked ? ck_bn_backward_partial_sums_blocked : ck_bn_backward_partial_sums
        let apply = blocked ? ck_bn_backward_apply_blocked : ck_bn_backward_apply
        func input(_ v: [Float], padding: Float = .nan) -> Buf { blocked ? s.toBlocked(v, padding: padding) : Buf(v) }
        func output() -> Buf { Buf(blocked ? s.blockedCount : s.plainCount, fill: 7) }
        func plain(_ b: Buf) -> [Float] { blocked ? s.toPlain(b) : b.array }
        /// Channel sums, first C values; the lanes past C must keep their sentinel.
        func sums(_ d: DoubleBuf, _ name: String) -> [Double] {
            let a = d.array
            if a[s.c...].contains(where: { $0 != -5.5 }) { errors.append("\(name): wrote past C") }
            return Array(a[..<s.c])
        }
        /// Only the blocked layout has padding lanes.
        func padding(_ b: Buf, is value: Float, _ name: String) {
            if blocked && s.paddingIndices.contains(where: { b[$0].bitPattern != value.bitPattern }) {
                errors.append("\(name): padding lanes not \(value)")
            }
        }

        // forward: the sums (rows of w pixels), the NCHW combination, then normalization
        let xb = input(x)
        let sum = DoubleBuf(s.laneCount, fill: -5.5), sumsq = DoubleBuf(s.laneCount, fill: -5.5)
        partialSums(sum.p, sumsq.p, xb.p, s.n, s.c, s.hw, s.w)
        r.add("sum", sums(sum, "sum")); r.add("sumsq", sums(sumsq, "sumsq"))
        let mean64 = DoubleBuf(s.c), variance = DoubleBuf(s.c), mean = Buf(s.c), invstd = Buf(s.c)
        ck_bn_combine_stats(mean.p, invstd.p, nil, nil, mean64.p, variance.p, sum.p, sumsq.p, eps, 0.1, 1, count, s.c)

        let y = output(), xhat = output(), yPlain = output()
        normalize(y.p, xhat.p, xb.p, mean.p, invstd.p, gamma.p, beta.p, nil, 0, s.n, s.c, s.hw)
        normalize(yPlain.p, nil, xb.p, mean.p, invstd.p, nil, nil, nil, 0, s.n, s.c, s.hw)
        r.add("y", plain(y)); r.add("xhat", plain(xhat)); r.add("y without gamma, beta", plain(yPlain))
        padding(y, is: 0, "y"); padding(xhat, is: 0, "xhat"); padding(yPlain, is: 0, "y without gamma, beta")
        /// A fused ReLU: the ReLU kernel's bits on the unfused output (x spans −3…5, so both signs occur).
        func fusedReLU(_ fused: Buf, _ unfused: Buf, _ name: String) {
            let expected = Buf(unfused.count)
            ck_relu_forward(expected.p, unfused.p, unfused.count)
            if fused.array.map(\.bitPattern) != expected.array.map(\.bitPattern) {
                errors.append("\(name) with a fused ReLU: not the ReLU kernel's bits")
            }
        }
        let yReLU = output()
        normalize(yReLU.p, nil, xb.p, mean.p, invstd.p, gamma.p, beta.p, nil, 1, s.n, s.c, s.hw)
        fusedReLU(yReLU, y, "y")
        // a residual add, then its ReLU, fused in: ck_add's bits, then the ReLU kernel's (padding lanes 0)
        let skip = input(dx0, padding: 0), added = output(), yAddReLU = output()
        ck_add(added.p, y.p, skip.p, added.count)
        normalize(yAddReLU.p, nil, xb.p, mean.p, invstd.p, gamma.p, beta.p, skip.p, 1, s.n, s.c, s.hw)
        fusedReLU(yAddReLU, added, "y + skip")
        padding(yAddReLU, is: 0, "y + skip, ReLU")

        let yInfer = output(), yInferPlain = output(), yInferReLU = output()
        infer(yInfer.p, xb.p, runningMean.p, runningVar.p, gamma.p, beta.p, nil, 0, eps, s.n, s.c, s.hw)
        infer(yInferPlain.p, xb.p, runningMean.p, runningVar.p, nil, nil, nil, 0, eps, s.n, s.c, s.hw)
        infer(yInferReLU.p, xb.p, runningMean.p, runningVar.p, gamma.p, beta.p, nil, 1, eps, s.n, s.c, s.hw)
        r.add("inference", plain(yInfer)); r.add("inference without gamma, beta", plain(yInferPlain))
        padding(yInfer, is: 0, "inference"); padding(yInferPlain, is: 0, "inference without gamma, beta")
        fusedReLU(yInferReLU, yInfer, "inference")
        let inferAdded = output(), yInferAddReLU = output()
        ck_add(inferAdded.p, yInfer.p, skip.p, inferAdded.count)
        infer(yInferAddReLU.p, xb.p, runningMean.p, runningVar.p, gamma.p, beta.p, skip.p, 1, eps, s.n, s.c, s.hw)
        fusedReLU(yInferAddReLU, inferAdded, "inference + skip")

        // backward: x̂ recomputed from x (whose padding lanes hold NaN) with mean and invstd
        let dyb = input(dy)
        let sumDy = DoubleBuf(s.laneCount, fill: -5.5), sumDyXhat = DoubleBuf(s.laneCount, fill: -5.5)
        backwardSums(sumDy.p, sumDyXhat.p, dgamma.p, dbeta.p, dyb.p, xb.p, mean.p, invstd.p, s.n, s.c, s.hw)
        r.add("sum dy", sums(sumDy, "sum dy")); r.add("sum dy·xhat", sums(sumDyXhat, "sum dy·xhat"))
        r.add("dgamma", dgamma.array); r.add("dbeta", dbeta.array)
        let sumDy2 = DoubleBuf(s.laneCount, fill: -5.5), sumDyXhat2 = DoubleBuf(s.laneCount, fill: -5.5)
        backwardSums(sumDy2.p, sumDyXhat2.p, nil, nil, dyb.p, xb.p, mean.p, invstd.p, s.n, s.c, s.hw)
        r.add("sum dy, no gradients", sums(sumDy2, "sum dy"))
        r.add("sum dy·xhat, no gradients", sums(sumDyXhat2, "sum dy·xhat"))

        let dx = input(dx0, padding: 3.25), dxPlain = input(dx0, padding: 3.25)
        apply(dx.p, dyb.p, xb.p, mean.p, invstd.p, gamma.p, sumDy.p, sumDyXhat.p, count, 1, s.n, s.c, s.hw)
        apply(dxPlain.p, dyb.p, xb.p, mean.p, invstd.p, nil, sumDy.p, sumDyXhat.p, count, 1, s.n, s.c, s.hw)
        // stored, not added: whatever dx held (NaN here) is overwritten
        let dxStored = input([Float](repeating: .nan, count: dx0.count), padding: 3.25)
        apply(dxStored.p, dyb.p, xb.p, mean.p, invstd.p, gamma.p, sumDy.p, sumDyXhat.p, count, 0, s.n, s.c, s.hw)
        r.add("dx", plain(dx)); r.add("dx without gamma", plain(dxPlain)); r.add("dx stored", plain(dxStored))
        padding(dx, is: 3.25, "dx"); padding(dxPlain, is: 3.25, "dx without gamma")
        padding(dxStored, is: 3.25, "dx stored")
        r.paddingErrors = errors
        return r
    }

    /// Runs body with `threads` OpenMP threads on this thread.
    static func withThreads<T>(_ threads: Int32, _ body: () -> T) -> T {
        let saved = ck_get_max_threads()
        defer { ck_set_num_threads(Int32(saved)) }
        ck_set_num_threads(threads)
        return body()
    }

    static func expectSameBits(_ a: BNResults, _ b: BNResults, _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.named.map(\.name) == b.named.map(\.name), sourceLocation: sourceLocation)
        for (x, y) in zip(a.named, b.named) {
            #expect(x.bits.count == y.bits.count, "\(what), \(x.name): count", sourceLocation: sourceLocation)
            let first = (0..<min(x.bits.count, y.bits.count)).first { x.bits[$0] != y.bits[$0] }
            #expect(first == nil, "\(what), \(x.name): first difference at \(first ?? -1)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test("every kernel gives the NCHW kernel's bits on random reals; padding lanes ignored and zero",
          arguments: shapes, [Int32(1), 2])
    func matchesNCHW(shape: BlockedBNShape, threads: Int32) {
        let (plain, blocked) = Self.withThreads(threads) {
            (Self.run(shape, blocked: false), Self.run(shape, blocked: true))
        }
        #expect(plain.named.count == 16)
        #expect(blocked.paddingErrors.isEmpty, "\(blocked.paddingErrors)")
        Self.expectSameBits(blocked, plain, "blocked vs NCHW")
    }

    @Test("the blocked kernels give the same bits on one thread and on two",
          arguments: shapes.filter { $0.blockedCount >= 1 << 15 })
    func threadCounts(shape: BlockedBNShape) {
        let one = Self.withThreads(1) { Self.run(shape, blocked: true) }
        let two = Self.withThreads(2) { Self.run(shape, blocked: true) }
        Self.expectSameBits(two, one, "2 threads vs 1")
    }
}
