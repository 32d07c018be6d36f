import CKernels
import Testing

@Suite("Pooling") struct PoolingTests {
    static let shapes: [ck_pool_shape] = [
        .init(N: 2, C: 3, H: 28, W: 28, R: 2, S: 2, stride: 2, pad: 0),
        .init(N: 1, C: 2, H: 7, W: 9, R: 3, S: 3, stride: 2, pad: 1),
        .init(N: 3, C: 1, H: 17, W: 17, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 4, H: 33, W: 127, R: 5, S: 3, stride: 3, pad: 2),
    ]

    func outCount(_ s: ck_pool_shape) -> Int {
        withUnsafePointer(to: s) { s.N * s.C * ck_pool_out_h($0) * ck_pool_out_w($0) }
    }

    func maxpool(_ x: [Float], _ s: ck_pool_shape) -> ([Float], [Int32]) {
        let y = Buf(outCount(s)); var am = [Int32](repeating: 0, count: outCount(s))
        withUnsafePointer(to: s) { ck_maxpool_forward(y.p, &am, Buf(x).p, $0) }
        return (y.array, am)
    }
    func avgpool(_ x: [Float], _ s: ck_pool_shape) -> [Float] {
        let y = Buf(outCount(s))
        withUnsafePointer(to: s) { ck_avgpool_forward(y.p, Buf(x).p, $0) }
        return y.array
    }

    @Test("small integers: max and average pooling equal the references", arguments: shapes.indices)
    func exact(_ i: Int) {
        let s = Self.shapes[i]
        var rng = TestRNG(UInt64(i))
        // integers make max pooling exact; a mean divides by the window size, so it is compared with a tolerance
        let x = rng.ints(s.N * s.C * s.H * s.W, 50)
        let ref = Buf(outCount(s)), refAvg = Buf(outCount(s))
        withUnsafePointer(to: s) {
            ck_ref_maxpool_forward(ref.p, Buf(x).p, $0)
            ck_ref_avgpool_forward(refAvg.p, Buf(x).p, $0)
        }
        expectBitwise(maxpool(x, s).0, ref.array, "maxpool \(i)")
        expectClose(avgpool(x, s), refAvg.array, rtol: 1e-6, atol: 1e-6, "avgpool \(i)")
    }

    @Test("backward passes by central differences", arguments: shapes.indices)
    func gradients(_ i: Int) {
        let s = Self.shapes[i]
        var rng = TestRNG(UInt64(i + 5))
        let x = rng.uniform(s.N * s.C * s.H * s.W), g = rng.uniform(outCount(s))
        let (_, am) = maxpool(x, s)
        let dx = Buf(x.count), dxa = Buf(x.count)
        withUnsafePointer(to: s) {
            ck_maxpool_backward(dx.p, Buf(g).p, am, 1, nil, $0)
            ck_avgpool_backward(dxa.p, Buf(g).p, $0)
        }
        #expect(maxGradientError(x: x, eps: 1e-4, loss: { dot(maxpool($0, s).0, g) }, analytic: dx.array) < 1e-2)
        #expect(maxGradientError(x: x, eps: 1e-2, loss: { dot(avgpool($0, s), g) }, analytic: dxa.array) < 1e-3)
    }

    @Test("global average and max pooling with gradients")
    func global() {
        let (N, C, HW) = (2, 3, 49)
        var rng = TestRNG(3)
        let x = rng.uniform(N * C * HW), g = rng.uniform(N * C)
        func avg(_ x: [Float]) -> [Float] {
            let y = Buf(N * C)
            ck_global_avgpool_forward(y.p, Buf(x).p, N, C, HW)
            return y.array
        }
        func mx(_ x: [Float]) -> [Float] {
            let y = Buf(N * C); var am = [Int32](repeating: 0, count: N * C)
            ck_global_maxpool_forward(y.p, &am, Buf(x).p, N, C, HW); return y.array
        }
        for nc in 0..<N * C {
            let plane = x[nc * HW..<(nc + 1) * HW]
            #expect(abs(avg(x)[nc] - plane.reduce(0, +) / Float(HW)) < 1e-6)
            #expect(mx(x)[nc] == plane.max()!)
        }
        let dxa = Buf(x.count), dxm = Buf(x.count)
        var am = [Int32](repeating: 0, count: N * C)
        ck_global_maxpool_forward(Buf(N * C).p, &am, Buf(x).p, N, C, HW)
        ck_global_avgpool_backward(dxa.p, Buf(g).p, N, C, HW)
        ck_global_maxpool_backward(dxm.p, Buf(g).p, am, N, C, HW)
        #expect(maxGradientError(x: x, eps: 1e-2, loss: { dot(avg($0), g) }, analytic: dxa.array) < 1e-3)
        #expect(maxGradientError(x: x, eps: 1e-4, loss: { dot(mx($0), g) }, analytic: dxm.array) < 1e-2)
    }

    @Test("bitwise identical for 1-4 threads")
    func threadCounts() {
        let s = ck_pool_shape(N: 8, C: 16, H: 28, W: 28, R: 3, S: 3, stride: 2, pad: 1)
        var rng = TestRNG(4)
        let x = rng.uniform(s.N * s.C * s.H * s.W), g = Buf(rng.uniform(outCount(s)))
        expectSameForThreadCounts("pooling") {
            let (y, am) = maxpool(x, s)
            let dx = Buf(x.count)
            withUnsafePointer(to: s) {
                ck_maxpool_backward(dx.p, g.p, am, 1, nil, $0)
                ck_avgpool_backward(dx.p, g.p, $0)
            }
            return y + avgpool(x, s) + dx.array
        }
    }
}
