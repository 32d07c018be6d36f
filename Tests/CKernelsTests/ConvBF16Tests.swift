import CKernels
import Testing

/// The blocked bf16 convolution (forward, backward-data, backward-weights where the shape has it)
/// against its double references, across the bf16 variants and thread counts. Data are drawn in NCHW,
/// blocked, then rounded to bf16.
@Suite("Blocked convolution in bf16") struct ConvBF16Tests {
    static let shapes = ConvBlockedTests.shapes

    struct Case: ConvShaped {
        var s: ck_conv2d_shape
        let x: [UInt16], w: [UInt16], dy: [UInt16], b: [Float]

        init(_ s: ck_conv2d_shape, _ rng: inout TestRNG, integers: Bool) {
            self.s = s
            let (P, Q) = withUnsafePointer(to: s) { (ck_conv2d_out_h($0), ck_conv2d_out_w($0)) }
            func draw(_ n: Int) -> [Float] { integers ? rng.ints(n) : rng.uniform(n) }
            func blocked(_ a: [Float], _ c: Int, _ h: Int, _ w: Int) -> [UInt16] {
                let f = Buf(ck_blocked_size(s.N, c, h, w))
                ck_blocked_from_nchw(f.p, Buf(a).p, s.N, c, h, w)
                return bf16(f.array)
            }
            x = blocked(draw(s.N * s.C * s.H * s.W), s.C, s.H, s.W)
            dy = blocked(draw(s.N * s.K * P * Q), s.K, P, Q)
            let wb = Buf(ck_blocked_weights_size(s.K, s.C, s.R, s.S))
            ck_blocked_weights_from_kcrs(wb.p, Buf(draw(s.K * s.C * s.R * s.S)).p, s.K, s.C, s.R, s.S)
            var wh = [UInt16](repeating: 0, count: wb.count)
            ck_blocked_weights_to_bf16(&wh, wb.p, s.K, s.C, s.R, s.S)
            w = wh
            b = draw(s.K)
        }

        var yBlocked: Int { ck_blocked_size(s.N, s.K, P, Q) }
        var xBlocked: Int { ck_blocked_size(s.N, s.C, s.H, s.W) }
        var hasWeights: Bool { withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_weights_shape($0) != 0 } }

        /// (y, dx, dw) of the kernels on `v`; dx and dw start at 0.5 and accumulate (dw empty where the
        /// shape has no bf16 backward-weights).
        func run(_ v: (isa: Int32, bf16: Int32)) -> ([Float], [Float], [Float]) {
            let y = Buf(yBlocked, fill: .nan), dx = Buf(xBlocked, fill: 0.5)
            let dw = Buf(hasWeights ? ck_blocked_weights_size(s.K, s.C, s.R, s.S) : 0, fill: 0.5)
            let ws = Buf(withUnsafePointer(to: s) {
                max(ck_conv2d_blocked_bf16_workspace_size($0), ck_conv2d_blocked_bf16_weights_workspace_size($0))
            })
            withBF16Variant(v) {
                withUnsafePointer(to: s) { sp in
                    ck_conv2d_blocked_bf16_forward(y.p, x, w, Buf(b).p, 0, sp, ws.p)
                    ck_conv2d_blocked_bf16_backward_data(dx.p, dy, w, 1, nil, sp, ws.p)
                    if hasWeights { ck_conv2d_blocked_bf16_backward_weights(dw.p, nil, nil, dy, x, sp, ws.p) }
                }
            }
            return (y.array, dx.array, dw.array)
        }

        func reference() -> ([Float], [Float], [Float]) {
            let y = Buf(yBlocked, fill: .nan), dx = Buf(xBlocked, fill: 0.5)
            let dw = Buf(hasWeights ? ck_blocked_weights_size(s.K, s.C, s.R, s.S) : 0, fill: 0.5)
            withUnsafePointer(to: s) { sp in
                ck_ref_conv2d_blocked_bf16_forward(y.p, x, w, Buf(b).p, sp)
                ck_ref_conv2d_blocked_bf16_backward_data(dx.p, dy, w, sp)
                if hasWeights { ck_ref_conv2d_blocked_bf16_backward_weights(dw.p, dy, x, sp) }
            }
            return (y.array, dx.array, dw.array)
        }
    }

    @Test("small integers: all three passes exact on every shape and variant", arguments: bf16Variants)
    func exactIntegers(v: (isa: Int32, bf16: Int32)) {
        var rng = TestRNG(21)
        var weightShapes = 0
        for s in Self.shapes {
            let c = Case(s, &rng, integers: true)
            let (y, dx, dw) = c.run(v), (yr, dxr, dwr) = c.reference()
            expectBitwise(y, yr, "conv bf16 forward \(variantName(v)) \(s)")
            expectBitwise(dx, dxr, "conv bf16 backward-data \(variantName(v)) \(s)")
            expectBitwise(dw, dwr, "conv bf16 backward-weights \(variantName(v)) \(s)")
            if c.hasWeights { weightShapes += 1 }
        }
        #expect(weightShapes >= 3, "the shapes should exercise backward-weights")
    }

    @Test("random inputs within rtol 1e-4 / atol 1e-5 of the double reference", arguments: bf16Variants)
    func randomTolerance(v: (isa: Int32, bf16: Int32)) {
        var rng = TestRNG(22)
        for s in Self.shapes {
            let c = Case(s, &rng, integers: false)
            let (y, dx, dw) = c.run(v), (yr, dxr, dwr) = c.reference()
            expectClose(y, yr, "conv bf16 forward random \(variantName(v)) \(s)")
            expectClose(dx, dxr, "conv bf16 backward-data random \(variantName(v)) \(s)")
            expectClose(dw, dwr, "conv bf16 backward-weights random \(variantName(v)) \(s)")
        }
    }

    @Test("every variant gives the first one's bits; 1-4 threads give the same bits")
    func sameBits() {
        var rng = TestRNG(23)
        for s in Self.shapes {
            let c = Case(s, &rng, integers: false)
            let first = c.run(bf16Variants[0])
            for v in bf16Variants.dropFirst() {
                let (y, dx, dw) = c.run(v)
                expectBitwise(y, first.0, "forward \(variantName(v)) vs \(variantName(bf16Variants[0])) \(s)")
                expectBitwise(dx, first.1, "backward-data \(variantName(v)) vs \(variantName(bf16Variants[0])) \(s)")
                expectBitwise(dw, first.2, "backward-weights \(variantName(v)) vs \(variantName(bf16Variants[0])) \(s)")
            }
        }
        let big = Case(.init(N: 4, C: 32, H: 14, W: 14, K: 48, R: 3, S: 3, stride: 1, pad: 1), &rng, integers: false)
        for v in bf16Variants {
            expectSameForThreadCounts("conv bf16 \(variantName(v))") {
                let (y, dx, dw) = big.run(v)
                return y + dx + dw
            }
        }
    }

    /// 16 → 16 channels over 31 images: backward-weights' 29 image groups, two of them with two images,
    /// which a pass takes two at a time.
    @Test("backward-weights over uneven image groups: exact on integers, the same bits for 1-4 threads")
    func unevenGroups() {
        var rng = TestRNG(24)
        let s = ck_conv2d_shape(N: 31, C: 16, H: 6, W: 6, K: 16, R: 3, S: 3, stride: 1, pad: 1)
        let exact = Case(s, &rng, integers: true), random = Case(s, &rng, integers: false)
        for v in bf16Variants {
            expectBitwise(exact.run(v).2, exact.reference().2, "backward-weights \(variantName(v))")
            expectSameForThreadCounts("uneven groups \(variantName(v))") { random.run(v).2 }
        }
    }
}
