import CKernels
import Foundation
import Testing

/// Per-channel sums over fixed groups of a chunk's images: batch norm's statistics and gradients and
/// PReLU's slope gradient (ck_image_groups in ck_internal.h: about 64 units of (group, 16-channel
/// block); a 3-channel layer of 7 images has 7 groups of one image).
/// Inputs spread over 60 binary orders of magnitude, so that double sums in another order round
/// differently: the checks see the order, not only the values.
@Suite("Channel sums over groups of images") struct ImageGroupSumTests {
    static let (n, c, hw) = (7, 3, 5)

    static func spread(_ rng: inout TestRNG, _ count: Int) -> [Float] {
        rng.uniform(count).map { $0 * Float(sign: .plus, exponent: Int(rng.next() % 61) - 30, significand: 1) }
    }

    /// Per channel: each image's sum from 0 over hw, then the images' sums added in image order.
    static func grouped(_ term: (Int, Int) -> Double) -> [Double] {
        (0..<c).map { ch in
            let parts = (0..<n).map { img in (0..<hw).reduce(0.0) { $0 + term((img * c + ch) * hw + $1, ch) } }
            return parts.dropFirst().reduce(parts[0], +)
        }
    }

    /// Per channel: every image's terms in one sequence, the order before the groups.
    static func sequential(_ term: (Int, Int) -> Double) -> [Double] {
        (0..<c).map { ch in
            (0..<n).reduce(0.0) { acc, img in (0..<hw).reduce(acc) { $0 + term((img * c + ch) * hw + $1, ch) } }
        }
    }

    /// x and dy of one test, both spread.
    static func inputs(_ seed: UInt64) -> (x: [Float], dy: [Float]) {
        var rng = TestRNG(seed)
        return (spread(&rng, n * c * hw), spread(&rng, n * c * hw))
    }

    static func blocked(_ a: [Float]) -> Buf {
        let b = Buf(ck_blocked_size(n, c, hw, 1), fill: .nan)
        ck_blocked_from_nchw(b.p, Buf(a).p, n, c, hw, 1)
        return b
    }

    func bits(_ a: [Double]) -> [UInt64] { a.map(\.bitPattern) }

    @Test("forward sums and squares: NCHW and blocked, one image per group, added in order")
    func forward() {
        typealias G = ImageGroupSumTests
        var rng = TestRNG(11)
        let x = G.spread(&rng, G.n * G.c * G.hw)
        let sq = { (i: Int, _: Int) -> Double in let v = Double(x[i]); return v * v }
        var sum = [Double](repeating: .nan, count: G.c), sumsq = sum, bsum = sum, bsumsq = sum
        ck_bn_partial_sums(&sum, &sumsq, Buf(x).p, G.n, G.c, G.hw, G.hw) // one row per image
        ck_bn_partial_sums_blocked(&bsum, &bsumsq, G.blocked(x).p, G.n, G.c, G.hw, G.hw)
        #expect(bits(sum) == bits(G.grouped { i, _ in Double(x[i]) }))
        #expect(bits(sumsq) == bits(G.grouped(sq)))
        #expect(bits(bsum) == bits(sum) && bits(bsumsq) == bits(sumsq), "blocked against NCHW")
        #expect(bits(G.sequential(sq)) != bits(G.grouped(sq)), "the inputs do not tell the orders apart")
    }

    @Test("backward sums of dy and dy·x̂, dγ and dβ from them: NCHW and blocked, grouped as forward")
    func backward() {
        typealias G = ImageGroupSumTests
        let (x, dy) = G.inputs(12)
        let mean: [Float] = [0.5, -2, 0.001], invstd: [Float] = [3, 0.25, 7]
        let dyx = { (i: Int, ch: Int) -> Double in Double(dy[i]) * Double((x[i] - mean[ch]) * invstd[ch]) }
        var s = [Double](repeating: .nan, count: G.c), sx = s, bs = s, bsx = s
        let dg = Buf(G.c), db = Buf(G.c), bdg = Buf(G.c), bdb = Buf(G.c)
        ck_bn_backward_partial_sums(&s, &sx, dg.p, db.p, Buf(dy).p, Buf(x).p, mean, invstd, G.n, G.c, G.hw)
        ck_bn_backward_partial_sums_blocked(&bs, &bsx, bdg.p, bdb.p, G.blocked(dy).p, G.blocked(x).p, mean, invstd,
                                            G.n, G.c, G.hw)
        #expect(bits(s) == bits(G.grouped { i, _ in Double(dy[i]) }))
        #expect(bits(sx) == bits(G.grouped(dyx)))
        expectBitwise(dg.array, sx.map { Float($0) }, "dγ += the grouped sum of dy·x̂")
        expectBitwise(db.array, s.map { Float($0) }, "dβ += the grouped sum of dy")
        #expect(bits(bs) == bits(s) && bits(bsx) == bits(sx), "blocked against NCHW")
        expectBitwise(bdg.array + bdb.array, dg.array + db.array, "blocked dγ, dβ")
        #expect(bits(G.sequential(dyx)) != bits(G.grouped(dyx)), "the inputs do not tell the orders apart")
    }

    @Test("PReLU's da, per channel and shared: NCHW and blocked, grouped as batch norm's sums")
    func prelu() {
        typealias G = ImageGroupSumTests
        let (x, dy) = G.inputs(13), count = x.count, a: [Float] = [0.25, 0.1, -0.3]
        let term = { (i: Int, _: Int) -> Double in x[i] > 0 ? 0 : Double(dy[i]) * Double(x[i]) }
        let perChannel = G.grouped(term)
        for shared in [false, true] {
            let da = Buf(G.c), bda = Buf(G.c), dx = Buf(count), bdx = G.blocked([Float](repeating: 0, count: count))
            ck_prelu_backward(dx.p, da.p, Buf(dy).p, Buf(x).p, a, shared ? 1 : 0, G.n, G.c, G.hw)
            ck_prelu_backward_blocked(bdx.p, bda.p, G.blocked(dy).p, G.blocked(x).p, a, shared ? 1 : 0, G.n, G.c, G.hw)
            let total = Float(perChannel.dropFirst().reduce(perChannel[0], +))
            let want = shared ? [total, 0, 0] : perChannel.map { Float($0) }
            expectBitwise(da.array, want, "da, shared \(shared)")
            expectBitwise(bda.array, da.array, "blocked da, shared \(shared)")
        }
        #expect(bits(G.sequential(term)) != bits(perChannel), "the inputs do not tell the orders apart")
    }
}
