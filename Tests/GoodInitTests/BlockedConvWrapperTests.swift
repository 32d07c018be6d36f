// The Swift wrappers of the blocked direct convolution: through the layout conversions they give
// the im2col path's results (the C tests compare the kernels with the references bitwise), and a
// buffer sized for NCHW instead of the blocked layout traps before C runs.
import CKernels
@testable import GoodInit
import Testing

@Suite("Blocked convolution wrappers") struct BlockedConvWrapperTests {
    static let s = ck_conv2d_shape(N: 2, C: 3, H: 7, W: 6, K: 20, R: 3, S: 3, stride: 1, pad: 1)

    /// Small integers: every sum is exact, so the two paths agree to the bit.
    static func ints(_ count: Int, _ seed: Int) -> Tensor {
        Tensor(shape: [count], values: (0..<count).map { Float(($0 * 7 + seed * 13) % 5 - 2) })
    }

    @Test("forward, backward-data and backward-weights equal the NCHW path's on small integers")
    func matchesIm2col() {
        let s = Self.s
        let (xn, wn, yn) = (2 * 3 * 7 * 6, 20 * 3 * 9, 2 * 20 * 7 * 6)
        let x = Self.ints(xn, 1), w = Self.ints(wn, 2), dy = Self.ints(yn, 3), b = Self.ints(20, 4)
        let ws = Tensor(zeros: [Kernels.convWorkspace(s)])
        let bws = Tensor(zeros: [Kernels.convWorkspace(s, layout: .blocked)])
        let y = Tensor(zeros: [yn]), dx = Tensor(zeros: [xn]), dw = Tensor(zeros: [wn]), db = Tensor(zeros: [20])
        Kernels.convForward(y: y, x: x, w: w, b: b, shape: s, workspace: ws)
        Kernels.convBackwardData(dx: dx, dy: dy, w: w, shape: s, workspace: ws)
        Kernels.convBackwardWeights(dw: dw, db: db, dy: dy, x: x, shape: s, workspace: ws)

        let xb = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 3, h: 7, w: 6)])
        let yb = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 20, h: 7, w: 6)]), dyb = Tensor(zeros: [yb.count])
        let wb = Tensor(zeros: [Kernels.blockedWeightsCount(k: 20, c: 3, r: 3, s: 3)])
        Kernels.toBlocked(xb, from: x, n: 2, c: 3, h: 7, w: 6)
        Kernels.toBlocked(dyb, from: dy, n: 2, c: 20, h: 7, w: 6)
        Kernels.toBlockedWeights(wb, from: w, k: 20, c: 3, r: 3, s: 3)
        let dxb = Tensor(zeros: [xb.count]), dwb = Tensor(zeros: [wb.count]), bdb = Tensor(zeros: [20])
        Kernels.convForward(layout: .blocked, y: yb, x: xb, w: wb, b: b, shape: s, workspace: bws)
        Kernels.convBackwardData(layout: .blocked, dx: dxb, dy: dyb, w: wb, shape: s, workspace: bws)
        Kernels.convBackwardWeights(layout: .blocked, dw: dwb, db: bdb, dy: dyb, x: xb, shape: s, workspace: bws)

        let y2 = Tensor(zeros: [yn]), dx2 = Tensor(zeros: [xn])
        Kernels.fromBlocked(y2, from: yb, n: 2, c: 20, h: 7, w: 6)
        Kernels.fromBlocked(dx2, from: dxb, n: 2, c: 3, h: 7, w: 6)
        #expect(y2.array == y.array)
        #expect(dx2.array == dx.array)
        #expect(bdb.array == db.array)
        // weights: blocked (K/16, C/16, R, S, 16c, 16k) back to KCRS by hand
        var dw2 = [Float](repeating: 0, count: wn)
        for k in 0..<20 { for c in 0..<3 { for t in 0..<9 {
            dw2[(k * 3 + c) * 9 + t] = dwb[((k / 16) * 9 + t) * 256 + c * 16 + k % 16]
        } } }
        #expect(dw2 == dw.array)
    }

    @Test("an activation buffer sized for NCHW, not the blocked layout, traps naming the buffer")
    func nchwSizedBufferTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let s = BlockedConvWrapperTests.s
            let x = Tensor(zeros: [2 * 3 * 7 * 6]) // 3 channels, where the blocked layout holds 16
            let y = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 20, h: 7, w: 6)])
            let w = Tensor(zeros: [Kernels.blockedWeightsCount(k: 20, c: 3, r: 3, s: 3)])
            Kernels.convForward(layout: .blocked, y: y, x: x, w: w, b: nil, shape: s,
                                workspace: Tensor(zeros: [Kernels.convWorkspace(s, layout: .blocked)]))
        }
        #expect(stderr(result).contains("convBlockedForward: x holds"), "\(stderr(result))")
    }
}
