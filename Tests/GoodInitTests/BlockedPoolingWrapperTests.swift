// The Swift wrappers of pooling and PReLU on the channel-blocked layout: through the layout
// conversions they give the NCHW wrappers' bits (the C tests cover every kernel and shape), and an
// activation buffer sized for NCHW instead of the blocked layout traps before C runs.
import CKernels
@testable import GoodInit
import Testing

@Suite("Blocked pooling wrappers") struct BlockedPoolingWrapperTests {
    static let s = ck_pool_shape(N: 2, C: 20, H: 9, W: 7, R: 3, S: 3, stride: 2, pad: 1) // P × Q = 5 × 4

    static func uniform(_ count: Int, _ seed: Int) -> Tensor {
        Tensor(shape: [count], values: (0..<count).map { Float(($0 * 7919 + seed * 104_729) % 2001) / 1000 - 1 })
    }

    @Test("max pooling forward and backward equal the NCHW wrappers' bits")
    func maxPoolMatchesNCHW() {
        let s = Self.s
        let (xn, yn) = (2 * 20 * 9 * 7, 2 * 20 * 5 * 4)
        let x = Self.uniform(xn, 1), dy = Self.uniform(yn, 2)
        let y = Tensor(zeros: [yn]), dx = Tensor(zeros: [xn]), am = IndexBuffer(count: yn)
        Kernels.maxPoolForward(y: y, argmax: am, x: x, shape: s)
        Kernels.maxPoolBackward(dx: dx, dy: dy, argmax: am, shape: s)

        let xb = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 20, h: 9, w: 7)]), dxb = Tensor(zeros: [xb.count])
        let yb = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 20, h: 5, w: 4)]), dyb = Tensor(zeros: [yb.count])
        let amb = IndexBuffer(count: yb.count)
        Kernels.toBlocked(xb, from: x, n: 2, c: 20, h: 9, w: 7)
        Kernels.toBlocked(dyb, from: dy, n: 2, c: 20, h: 5, w: 4)
        Kernels.maxPoolForward(layout: .blocked, y: yb, argmax: amb, x: xb, shape: s)
        Kernels.maxPoolBackward(layout: .blocked, dx: dxb, dy: dyb, argmax: amb, shape: s)

        let y2 = Tensor(zeros: [yn]), dx2 = Tensor(zeros: [xn])
        Kernels.fromBlocked(y2, from: yb, n: 2, c: 20, h: 5, w: 4)
        Kernels.fromBlocked(dx2, from: dxb, n: 2, c: 20, h: 9, w: 7)
        #expect(y2.array.map(\.bitPattern) == y.array.map(\.bitPattern))
        #expect(dx2.array.map(\.bitPattern) == dx.array.map(\.bitPattern))
        #expect(dx.array.contains { $0 != 0 }, "the gradient reached the input")
        // argmax: blocked (N, 2 blocks, 20 outputs, 16) back to (N, C, 20) by hand
        var am2 = [Int32](repeating: -1, count: yn)
        for n in 0..<2 { for c in 0..<20 { for i in 0..<20 {
            am2[(n * 20 + c) * 20 + i] = amb[((n * 2 + c / 16) * 20 + i) * 16 + c % 16]
        } } }
        #expect(am2 == (0..<yn).map { am[$0] })
    }

    @Test("an activation buffer sized for NCHW, not the blocked layout, traps naming the buffer")
    func nchwSizedBufferTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let s = BlockedPoolingWrapperTests.s
            let x = Tensor(zeros: [2 * 20 * 9 * 7]) // 20 channels, where the blocked layout holds 32
            let y = Tensor(zeros: [Kernels.blockedCount(n: 2, c: 20, h: 5, w: 4)])
            Kernels.avgPoolForward(layout: .blocked, y: y, x: x, shape: s)
        }
        #expect(stderr(result).contains("avgPoolForwardBlocked: x holds"), "\(stderr(result))")
    }
}
