// The Swift wrappers of batch norm on the blocked layout: through the layout conversions they give
// the NCHW wrappers' bits (the C tests compare every kernel with its NCHW twin).
import CKernels
@testable import GoodInit
import Testing

@Suite("Blocked batch norm wrappers") struct BlockedBatchNormWrapperTests {
    @Test("partial sums and normalize equal the NCHW wrappers' bits on random reals, 20 channels")
    func matchesNCHW() {
        let (n, c, hw) = (3, 20, 25)
        let values = (0..<n * c * hw).map { Float(($0 * 7919) % 1000) / 137 - 3 }
        let x = Tensor(shape: [values.count], values: values)
        let gamma = Tensor(shape: [c], values: (0..<c).map { 0.5 + Float($0) / 16 })
        let beta = Tensor(shape: [c], values: (0..<c).map { Float($0) / 8 - 1 })
        let xb = Tensor(zeros: [Kernels.blockedCount(n: n, c: c, h: hw, w: 1)])
        Kernels.toBlocked(xb, from: x, n: n, c: c, h: hw, w: 1)

        let sum = DoubleBuffer(count: c), sumsq = DoubleBuffer(count: c)
        let bsum = DoubleBuffer(count: c), bsumsq = DoubleBuffer(count: c)
        Kernels.bnPartialSums(sum: sum, sumsq: sumsq, x: x, n: n, c: c, hw: hw, w: 5)
        Kernels.bnPartialSums(layout: .blocked, sum: bsum, sumsq: bsumsq, x: xb, n: n, c: c, hw: hw, w: 5)
        #expect((0..<c).map { bsum[$0].bitPattern } == (0..<c).map { sum[$0].bitPattern })
        #expect((0..<c).map { bsumsq[$0].bitPattern } == (0..<c).map { sumsq[$0].bitPattern })

        // mean and invstd from the sums, in the wrapper test's own (any) way: both paths take them
        let mean = Tensor(shape: [c], values: (0..<c).map { Float(sum[$0] / Double(n * hw)) })
        let invstd = Tensor(shape: [c], values: (0..<c).map { 1 / (1 + Float($0) / 10) })
        let y = Tensor(zeros: [n * c * hw]), xhat = Tensor(zeros: [n * c * hw])
        Kernels.bnNormalize(y: y, xhat: xhat, x: x, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                            n: n, c: c, hw: hw)
        let yb = Tensor(zeros: [xb.count]), xhatb = Tensor(zeros: [xb.count])
        Kernels.bnNormalize(layout: .blocked, y: yb, xhat: xhatb, x: xb, mean: mean, invstd: invstd, gamma: gamma,
                            beta: beta, n: n, c: c, hw: hw)
        let y2 = Tensor(zeros: [n * c * hw]), xhat2 = Tensor(zeros: [n * c * hw])
        Kernels.fromBlocked(y2, from: yb, n: n, c: c, h: hw, w: 1)
        Kernels.fromBlocked(xhat2, from: xhatb, n: n, c: c, h: hw, w: 1)
        let (a, b, h, h2) = (y.array, y2.array, xhat.array, xhat2.array)
        #expect(a.indices.first { a[$0].bitPattern != b[$0].bitPattern } == nil, "y: first difference")
        #expect(h.indices.first { h[$0].bitPattern != h2[$0].bitPattern } == nil, "xhat: first difference")
        #expect(a.contains { $0 != $0.rounded() }) // real values, not only integers
    }

    @Test("backward sums and apply, x̂ recomputed from x: the NCHW wrappers' bits, 20 channels")
    func backwardMatchesNCHW() {
        let (n, c, hw) = (3, 20, 25)
        let e = n * c * hw, blocked = Kernels.blockedCount(n: n, c: c, h: hw, w: 1)
        let x = Tensor(shape: [e], values: (0..<e).map { Float(($0 * 7919) % 1000) / 137 - 3 })
        let dy = Tensor(shape: [e], values: (0..<e).map { Float(($0 * 104_729) % 997) / 311 - 1.5 })
        let mean = Tensor(shape: [c], values: (0..<c).map { Float($0) / 7 - 1 })
        let invstd = Tensor(shape: [c], values: (0..<c).map { 1 / (1 + Float($0) / 10) })
        let gamma = Tensor(shape: [c], values: (0..<c).map { 0.5 + Float($0) / 16 })
        let xb = Tensor(zeros: [blocked]), dyb = Tensor(zeros: [blocked])
        Kernels.toBlocked(xb, from: x, n: n, c: c, h: hw, w: 1)
        Kernels.toBlocked(dyb, from: dy, n: n, c: c, h: hw, w: 1)

        var results: [[UInt64]] = []
        for isBlocked in [false, true] {
            let sumDy = DoubleBuffer(count: c), sumDyXhat = DoubleBuffer(count: c)
            let dgamma = Tensor(zeros: [c]), dbeta = Tensor(zeros: [c])
            let dx = Tensor(zeros: [isBlocked ? blocked : e]), dxPlain = Tensor(zeros: [e])
            if isBlocked {
                Kernels.bnBackwardPartialSums(layout: .blocked, sumDy: sumDy, sumDyXhat: sumDyXhat, dgamma: dgamma,
                                              dbeta: dbeta, dy: dyb, x: xb, mean: mean, invstd: invstd, n: n, c: c,
                                              hw: hw)
                Kernels.bnBackwardApply(layout: .blocked, dx: dx, dy: dyb, x: xb, mean: mean, invstd: invstd,
                                        gamma: gamma, sumDy: sumDy, sumDyXhat: sumDyXhat, count: n * hw,
                                        accumulate: false, n: n, c: c, hw: hw)
                Kernels.fromBlocked(dxPlain, from: dx, n: n, c: c, h: hw, w: 1)
            } else {
                Kernels.bnBackwardPartialSums(sumDy: sumDy, sumDyXhat: sumDyXhat, dgamma: dgamma, dbeta: dbeta,
                                              dy: dy, x: x, mean: mean, invstd: invstd, n: n, c: c, hw: hw)
                Kernels.bnBackwardApply(dx: dxPlain, dy: dy, x: x, mean: mean, invstd: invstd, gamma: gamma,
                                        sumDy: sumDy, sumDyXhat: sumDyXhat, count: n * hw, accumulate: false,
                                        n: n, c: c, hw: hw)
            }
            results.append((0..<c).map { sumDy[$0].bitPattern } + (0..<c).map { sumDyXhat[$0].bitPattern }
                           + (dgamma.array + dbeta.array + dxPlain.array).map { UInt64($0.bitPattern) })
        }
        #expect(results[1].count == results[0].count)
        #expect(results[0].indices.first { results[0][$0] != results[1][$0] } == nil, "first difference")
        #expect(Set(results[0]).count > c) // not all zero or constant
    }
}
