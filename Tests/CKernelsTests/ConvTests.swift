import CKernels
import Testing

@Suite("Convolution") struct ConvTests {
    /// (N, C, H, W, K, R, S, stride, pad): odd sizes, strides, paddings, 1×1 and non-square.
    static let shapes: [ck_conv2d_shape] = [
        .init(N: 2, C: 3, H: 7, W: 7, K: 5, R: 3, S: 3, stride: 1, pad: 1),
        .init(N: 1, C: 1, H: 17, W: 13, K: 3, R: 3, S: 3, stride: 2, pad: 0),
        .init(N: 3, C: 4, H: 9, W: 11, K: 7, R: 1, S: 1, stride: 1, pad: 0),
        .init(N: 2, C: 5, H: 8, W: 8, K: 4, R: 1, S: 1, stride: 2, pad: 0),
        .init(N: 1, C: 2, H: 33, W: 33, K: 17, R: 5, S: 3, stride: 3, pad: 2),
        .init(N: 2, C: 17, H: 6, W: 5, K: 33, R: 3, S: 3, stride: 1, pad: 2),
        .init(N: 1, C: 3, H: 1, W: 1, K: 2, R: 1, S: 1, stride: 1, pad: 0),
        // 7×7 outputs: groups of 21 images, the last one short; GEMM tiles straddle images
        .init(N: 23, C: 2, H: 7, W: 7, K: 9, R: 3, S: 3, stride: 1, pad: 1),
    ]

    struct Run: ConvShaped {
        var s: ck_conv2d_shape
        var ws: Buf { Buf(withUnsafePointer(to: s) { ck_conv2d_workspace_size($0) }) }

        func forward(_ x: Buf, _ w: Buf, _ b: Buf?, ref: Bool) -> [Float] {
            let y = Buf(yCount), work = ws
            withUnsafePointer(to: s) { sp in
                if ref { ck_ref_conv2d_forward(y.p, x.p, w.p, b?.p, sp) }
                else { ck_conv2d_forward(y.p, x.p, w.p, b?.p, sp, work.p) }
            }
            return y.array
        }
        func backwardData(_ dy: Buf, _ w: Buf, start: [Float], ref: Bool) -> [Float] {
            let dx = Buf(start), work = ws
            withUnsafePointer(to: s) { sp in
                if ref { ck_ref_conv2d_backward_data(dx.p, dy.p, w.p, sp) }
                else { ck_conv2d_backward_data(dx.p, dy.p, w.p, sp, work.p) }
            }
            return dx.array
        }
        func backwardWeights(_ dy: Buf, _ x: Buf, start: [Float], ref: Bool) -> [Float] {
            let dw = Buf(start + [Float](repeating: 1, count: s.K)), work = ws
            withUnsafePointer(to: s) { sp in
                let db = dw.p + wCount
                if ref { ck_ref_conv2d_backward_weights(dw.p, db, dy.p, x.p, sp) }
                else { ck_conv2d_backward_weights(dw.p, db, dy.p, x.p, sp, work.p) }
            }
            return dw.array
        }
    }

    @Test("small integers: all three passes exact, every kernel variant", arguments: shapes.indices, kernelISAs)
    func exact(_ i: Int, isa: Int32) {
        withISA(isa) { exactPasses(i) }
    }

    func exactPasses(_ i: Int) {
        let r = Run(s: Self.shapes[i])
        var rng = TestRNG(UInt64(i + 10))
        let x = Buf(rng.ints(r.xCount)), w = Buf(rng.ints(r.wCount)), b = Buf(rng.ints(r.s.K))
        let dy = Buf(rng.ints(r.yCount)), dx0 = rng.ints(r.xCount), dw0 = rng.ints(r.wCount)
        expectBitwise(r.forward(x, w, b, ref: false), r.forward(x, w, b, ref: true), "forward \(i)")
        expectBitwise(r.backwardData(dy, w, start: dx0, ref: false),
                      r.backwardData(dy, w, start: dx0, ref: true), "backward data \(i)")
        expectBitwise(r.backwardWeights(dy, x, start: dw0, ref: false),
                      r.backwardWeights(dy, x, start: dw0, ref: true), "backward weights \(i)")
    }

    @Test("random inputs within tolerance of the double reference, every kernel variant",
          arguments: shapes.indices, kernelISAs)
    func random(_ i: Int, isa: Int32) {
        withISA(isa) { randomPasses(i) }
    }

    func randomPasses(_ i: Int) {
        let r = Run(s: Self.shapes[i])
        var rng = TestRNG(UInt64(i + 20))
        let x = Buf(rng.uniform(r.xCount)), w = Buf(rng.uniform(r.wCount)), b = Buf(rng.uniform(r.s.K))
        let dy = Buf(rng.uniform(r.yCount)), zx = [Float](repeating: 0, count: r.xCount)
        let zw = [Float](repeating: 0, count: r.wCount)
        expectClose(r.forward(x, w, b, ref: false), r.forward(x, w, b, ref: true), "forward \(i)")
        expectClose(r.backwardData(dy, w, start: zx, ref: false),
                    r.backwardData(dy, w, start: zx, ref: true), "backward data \(i)")
        expectClose(r.backwardWeights(dy, x, start: zw, ref: false),
                    r.backwardWeights(dy, x, start: zw, ref: true), "backward weights \(i)")
    }

    @Test("backward passes match central differences of Σ y·g")
    func gradientCheck() {
        let r = Run(s: .init(N: 2, C: 3, H: 6, W: 5, K: 4, R: 3, S: 3, stride: 2, pad: 1))
        var rng = TestRNG(31)
        let x = rng.uniform(r.xCount), w = rng.uniform(r.wCount), b = rng.uniform(r.s.K), g = rng.uniform(r.yCount)
        let G = Buf(g)
        let dx = r.backwardData(G, Buf(w), start: [Float](repeating: 0, count: r.xCount), ref: false)
        let dwb = r.backwardWeights(G, Buf(x), start: [Float](repeating: 0, count: r.wCount), ref: false)
        let dw = Array(dwb[0..<r.wCount]), db = dwb[r.wCount...].map { $0 - 1 } // db started at 1
        #expect(maxGradientError(x: x, loss: { dot(r.forward(Buf($0), Buf(w), Buf(b), ref: false), g) },
                                 analytic: dx) < 1e-2)
        #expect(maxGradientError(x: w, loss: { dot(r.forward(Buf(x), Buf($0), Buf(b), ref: false), g) },
                                 analytic: dw) < 1e-2)
        #expect(maxGradientError(x: b, loss: { dot(r.forward(Buf(x), Buf(w), Buf($0), ref: false), g) },
                                 analytic: Array(db)) < 1e-2)
    }

    @Test("bitwise identical for 1-4 threads, every pass, per kernel variant", arguments: kernelISAs)
    func threadCounts(isa: Int32) {
        withISA(isa) { threadCountPasses() }
    }

    func threadCountPasses() {
        let r = Run(s: .init(N: 3, C: 16, H: 14, W: 14, K: 32, R: 3, S: 3, stride: 1, pad: 1))
        var rng = TestRNG(41)
        let x = Buf(rng.uniform(r.xCount)), w = Buf(rng.uniform(r.wCount)), b = Buf(rng.uniform(r.s.K))
        let dy = Buf(rng.uniform(r.yCount))
        expectSameForThreadCounts("conv forward") { r.forward(x, w, b, ref: false) }
        expectSameForThreadCounts("conv backward data") {
            r.backwardData(dy, w, start: [Float](repeating: 0, count: r.xCount), ref: false)
        }
        expectSameForThreadCounts("conv backward weights") {
            r.backwardWeights(dy, x, start: [Float](repeating: 0, count: r.wCount), ref: false)
        }
    }
}
