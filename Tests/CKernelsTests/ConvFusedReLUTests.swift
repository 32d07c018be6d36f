import CKernels
import Testing

/// A ReLU fused into the blocked convolutions' stores (the fused plan) gives the ReLU kernels' bits:
/// forward with relu = 1 is ck_relu_forward of the plain forward; backward-data (and max pooling's
/// backward) with a mask is ck_relu_backward (stored) of the unmasked pass, the mask as the ReLU's output. The masks
/// hold the values a ReLU's test can get wrong: ±0, subnormals of both signs, ±Inf, NaN.
@Suite("Fused ReLU in the blocked convolutions and max pooling") struct ConvFusedReLUTests {
    static let shapes = ConvBlockedTests.shapes

    /// Values for a mask: mostly random of both signs, with the hard cases spread through.
    static func mask(_ n: Int, _ rng: inout TestRNG) -> [Float] {
        let special: [Float] = [0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                .leastNormalMagnitude, Float(bitPattern: 0x007f_ffff), .infinity, -.infinity, .nan,
                                -Float.nan]
        return rng.uniform(n, -1, 1).enumerated().map { $0.offset % 7 == 3 ? special[$0.offset / 7 % 10] : $0.element }
    }

    static func relu(_ a: Buf) -> [Float] {
        let y = Buf(a.count)
        ck_relu_forward(y.p, a.p, a.count)
        return y.array
    }

    /// ck_relu_backward storing dx = mask > 0 ? g : 0.
    static func masked(_ g: Buf, _ mask: Buf) -> [Float] {
        let dx = Buf(g.count, fill: .nan)
        ck_relu_backward(dx.p, g.p, mask.p, 0, g.count)
        return dx.array
    }

    /// The four results of one shape, fused and not, in the calling thread's float mode.
    static func fp32(_ s: ck_conv2d_shape, seed: UInt64) -> (fused: [Float], unfused: [Float]) {
        var rng = TestRNG(seed)
        let (P, Q) = withUnsafePointer(to: s) { (ck_conv2d_out_h($0), ck_conv2d_out_w($0)) }
        let xn = ck_blocked_size(s.N, s.C, s.H, s.W), yn = ck_blocked_size(s.N, s.K, P, Q)
        let x = Buf(rng.uniform(xn)), dy = Buf(rng.uniform(yn)), b = Buf(rng.uniform(s.K))
        let w = Buf(rng.uniform(ck_blocked_weights_size(s.K, s.C, s.R, s.S)))
        let m = Buf(mask(xn, &rng))
        let ws = Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_workspace_size($0) })
        let y = Buf(yn, fill: .nan), yr = Buf(yn, fill: .nan), dx = Buf(xn, fill: .nan), dxm = Buf(xn, fill: .nan)
        withUnsafePointer(to: s) { sp in
            ck_conv2d_blocked_forward(y.p, x.p, w.p, b.p, 0, sp, ws.p)
            ck_conv2d_blocked_forward(yr.p, x.p, w.p, b.p, 1, sp, ws.p)
            ck_conv2d_blocked_backward_data(dx.p, dy.p, w.p, 0, nil, sp, ws.p)
            ck_conv2d_blocked_backward_data(dxm.p, dy.p, w.p, 0, m.p, sp, ws.p)
        }
        return (yr.array + dxm.array, relu(y) + masked(dx, m))
    }

    @Test("FP32: forward's ReLU and backward-data's mask give the ReLU kernels' bits, every variant",
          arguments: kernelISAs)
    func fp32Variants(isa: Int32) {
        withISA(isa) {
            for (i, s) in Self.shapes.enumerated() {
                let r = Self.fp32(s, seed: UInt64(300 + i))
                expectBitwise(r.fused, r.unfused, "\(isaName(isa)) shape \(i)")
            }
        }
    }

    @Test("FP32 with subnormals flushed: the ReLU's test reads them as 0, fused or not")
    func fp32Flushed() {
        let before = ck_get_flush_subnormals()
        defer { _ = ck_set_flush_subnormals(before) }
        #expect(ck_set_flush_subnormals(1) != 0)
        for (i, s) in Self.shapes.enumerated() {
            let r = Self.fp32(s, seed: UInt64(400 + i))
            expectBitwise(r.fused, r.unfused, "flushed, shape \(i)")
        }
    }

    @Test("bf16: the fused ReLU tests in the caller's mode, not the kernel's FTZ/DAZ", arguments: bf16Variants)
    func bf16(v: (isa: Int32, bf16: Int32)) {
        let before = ck_get_flush_subnormals()
        defer { _ = ck_set_flush_subnormals(before) }
        for flush in [Int32(0), 1] {
            #expect(ck_set_flush_subnormals(flush) != 0)
            for (i, s) in Self.shapes.enumerated() {
                var rng = TestRNG(UInt64(500 + i))
                let c = ConvBF16Tests.Case(s, &rng, integers: false)
                let m = Buf(Self.mask(c.xBlocked, &rng)), b = Buf(c.b)
                let ws = Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_workspace_size($0) })
                let y = Buf(c.yBlocked, fill: .nan), yr = Buf(c.yBlocked, fill: .nan)
                let dx = Buf(c.xBlocked, fill: .nan), dxm = Buf(c.xBlocked, fill: .nan)
                withBF16Variant(v) {
                    withUnsafePointer(to: s) { sp in
                        ck_conv2d_blocked_bf16_forward(y.p, c.x, c.w, b.p, 0, sp, ws.p)
                        ck_conv2d_blocked_bf16_forward(yr.p, c.x, c.w, b.p, 1, sp, ws.p)
                        ck_conv2d_blocked_bf16_backward_data(dx.p, c.dy, c.w, 0, nil, sp, ws.p)
                        ck_conv2d_blocked_bf16_backward_data(dxm.p, c.dy, c.w, 0, m.p, sp, ws.p)
                    }
                }
                let what = "\(variantName(v)) flush \(flush) shape \(i)"
                expectBitwise(yr.array, Self.relu(y), "forward \(what)")
                expectBitwise(dxm.array, Self.masked(dx, m), "backward-data \(what)")
            }
        }
    }

    /// Room for a forward's row sums, (N, ⌈K/16⌉, P, 2, 16), NaN until written.
    static func bnRows(_ s: ck_conv2d_shape) -> DoubleBuf {
        DoubleBuf(s.N * ((s.K + 15) / 16) * withUnsafePointer(to: s) { ck_conv2d_out_h($0) } * 32, fill: .nan)
    }

    /// yb (the forward with row sums) is y (without) bit for bit, and batch norm's sums folded from the
    /// rows are those it makes reading yb back.
    static func expectBNRows(y: Buf, yb: Buf, rows: DoubleBuf, _ s: ck_conv2d_shape, _ what: String) {
        expectBitwise(yb.array, y.array, "\(what): y")
        let (P, Q) = withUnsafePointer(to: s) { (ck_conv2d_out_h($0), ck_conv2d_out_w($0)) }
        var fs = [Double](repeating: .nan, count: s.K), fq = fs, rs = fs, rq = fs
        ck_bn_fold_rows_blocked(&fs, &fq, rows.p, s.N, s.K, P)
        ck_bn_partial_sums_blocked(&rs, &rq, yb.p, s.N, s.K, P * Q, Q)
        #expect((fs + fq).map(\.bitPattern) == (rs + rq).map(\.bitPattern), "\(what): sums")
        #expect((rs + rq).allSatisfy(\.isFinite) && rs.contains { $0 != 0 }, "\(what): sums of a real y")
    }

    @Test("the forward's batch-norm row sums: y is the plain forward's, the sums the batch norm's own (FP32)",
          arguments: kernelISAs)
    func bnRowsFP32(isa: Int32) {
        withISA(isa) {
            for (i, s) in Self.shapes.enumerated() {
                var rng = TestRNG(UInt64(700 + i))
                let (P, Q) = withUnsafePointer(to: s) { (ck_conv2d_out_h($0), ck_conv2d_out_w($0)) }
                let yn = ck_blocked_size(s.N, s.K, P, Q), rows = Self.bnRows(s)
                let x = Buf(rng.uniform(ck_blocked_size(s.N, s.C, s.H, s.W))), b = Buf(rng.uniform(s.K))
                let w = Buf(rng.uniform(ck_blocked_weights_size(s.K, s.C, s.R, s.S)))
                let ws = Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_workspace_size($0) })
                let y = Buf(yn, fill: .nan), yb = Buf(yn, fill: .nan)
                withUnsafePointer(to: s) { sp in
                    ck_conv2d_blocked_forward(y.p, x.p, w.p, b.p, 0, sp, ws.p)
                    ck_conv2d_blocked_forward_bn_rows(yb.p, rows.p, x.p, w.p, b.p, sp, ws.p)
                }
                Self.expectBNRows(y: y, yb: yb, rows: rows, s, "\(isaName(isa)) shape \(i)")
            }
        }
    }

    @Test("bf16 forward's batch-norm row sums: the batch norm's own in the caller's mode", arguments: bf16Variants)
    func bnRowsBF16(v: (isa: Int32, bf16: Int32)) {
        for (i, s) in Self.shapes.enumerated() {
            var rng = TestRNG(UInt64(800 + i))
            let c = ConvBF16Tests.Case(s, &rng, integers: false), rows = Self.bnRows(s)
            let b = Buf(c.b), ws = Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_workspace_size($0) })
            let y = Buf(c.yBlocked, fill: .nan), yb = Buf(c.yBlocked, fill: .nan)
            withBF16Variant(v) {
                withUnsafePointer(to: s) { sp in
                    ck_conv2d_blocked_bf16_forward(y.p, c.x, c.w, b.p, 0, sp, ws.p)
                    ck_conv2d_blocked_bf16_forward_bn_rows(yb.p, rows.p, c.x, c.w, b.p, sp, ws.p)
                }
            }
            Self.expectBNRows(y: y, yb: yb, rows: rows, s, "\(variantName(v)) shape \(i)")
        }
    }

    @Test("a mask is ignored when backward-data adds (only a stored gradient can be masked)")
    func maskNeedsStore() {
        let s = Self.shapes[0]
        var rng = TestRNG(77)
        let (P, Q) = withUnsafePointer(to: s) { (ck_conv2d_out_h($0), ck_conv2d_out_w($0)) }
        let xn = ck_blocked_size(s.N, s.C, s.H, s.W), yn = ck_blocked_size(s.N, s.K, P, Q)
        let dy = Buf(rng.uniform(yn)), w = Buf(rng.uniform(ck_blocked_weights_size(s.K, s.C, s.R, s.S)))
        let start = rng.uniform(xn), m = Buf([Float](repeating: -1, count: xn))
        let ws = Buf(withUnsafePointer(to: s) { ck_conv2d_blocked_workspace_size($0) })
        let plain = Buf(start), withMask = Buf(start)
        withUnsafePointer(to: s) { sp in
            ck_conv2d_blocked_backward_data(plain.p, dy.p, w.p, 1, nil, sp, ws.p)
            ck_conv2d_blocked_backward_data(withMask.p, dy.p, w.p, 1, m.p, sp, ws.p)
        }
        expectBitwise(withMask.array, plain.array, "accumulated dx")
        #expect(plain.array.contains { $0 != 0 }, "the mask (all negative) would have zeroed it")
    }

    /// Overlapping windows (3×3 / 2, padded), windows that leave pixels out (2×2 / 3), and windows that
    /// tile the image (2×2 / 2, stored in one pass on the blocked layout).
    static let pools: [ck_pool_shape] = [
        .init(N: 2, C: 20, H: 9, W: 7, R: 3, S: 3, stride: 2, pad: 1),
        .init(N: 1, C: 16, H: 8, W: 8, R: 2, S: 2, stride: 3, pad: 0),
        .init(N: 2, C: 20, H: 8, W: 6, R: 2, S: 2, stride: 2, pad: 0),
    ]

    @Test("max pooling's backward, stored and masked: zero planes, then the ReLU kernel's bits, both layouts")
    func maxPool() {
        for (i, s) in Self.pools.enumerated() {
            var rng = TestRNG(UInt64(700 + i))
            let (P, Q) = withUnsafePointer(to: s) { (ck_pool_out_h($0), ck_pool_out_w($0)) }
            for blocked in [false, true] {
                let xn = blocked ? ck_blocked_size(s.N, s.C, s.H, s.W) : s.N * s.C * s.H * s.W
                let yn = blocked ? ck_blocked_size(s.N, s.C, P, Q) : s.N * s.C * P * Q
                let x = Buf(rng.uniform(xn)), dy = Buf(rng.uniform(yn)), m = Buf(Self.mask(xn, &rng))
                let y = Buf(yn), sum = Buf(xn), stored = Buf(xn, fill: .nan), masked = Buf(xn, fill: .nan)
                var am = [Int32](repeating: 0, count: yn)
                withUnsafePointer(to: s) { sp in
                    if blocked {
                        ck_maxpool_forward_blocked(y.p, &am, x.p, sp)
                        ck_maxpool_backward_blocked(sum.p, dy.p, am, 1, nil, sp)
                        ck_maxpool_backward_blocked(stored.p, dy.p, am, 0, nil, sp)
                        ck_maxpool_backward_blocked(masked.p, dy.p, am, 0, m.p, sp)
                    } else {
                        ck_maxpool_forward(y.p, &am, x.p, sp)
                        ck_maxpool_backward(sum.p, dy.p, am, 1, nil, sp)
                        ck_maxpool_backward(stored.p, dy.p, am, 0, nil, sp)
                        ck_maxpool_backward(masked.p, dy.p, am, 0, m.p, sp)
                    }
                }
                let what = "pool \(i) \(blocked ? "blocked" : "NCHW")"
                expectBitwise(stored.array, sum.array, "\(what): stored = added onto zeros")
                expectBitwise(masked.array, Self.masked(sum, m), "\(what): masked")
                #expect(sum.array.contains { $0 == 0 } && sum.array.contains { $0 != 0 }, "\(what): winners and not")
            }
        }
    }

    @Test("a residual add with the ReLU after it: forward and both gradients are the unfused kernels' bits")
    func residualAdd() {
        var rng = TestRNG(800)
        let n = 50_000 // above the threading size
        let a = Buf(rng.uniform(n)), b = Buf(Self.mask(n, &rng)), dy = Buf(rng.uniform(n))
        let sum = Buf(n), fused = Buf(n, fill: .nan)
        ck_add(sum.p, a.p, b.p, n)
        ck_add_relu(fused.p, a.p, b.p, n)
        let out = Self.relu(sum)
        expectBitwise(fused.array, out, "forward")
        // backward: each side stores g (bits of g added onto +0, but the sign of a zero) or adds it
        let start = rng.uniform(n), skipStart = rng.uniform(n)
        for relu in [true, false] {
            let g = relu ? Buf(Self.masked(dy, Buf(out))) : dy
            let mask = relu ? Buf(out) : nil
            for (dxStores, skipStores) in [(false, false), (true, false), (false, true), (true, true)] {
                let dx = Buf(dxStores ? [Float](repeating: 0, count: n) : start)
                let dskip = Buf(skipStores ? [Float](repeating: 0, count: n) : skipStart)
                ck_accumulate(dx.p, g.p, n)
                ck_accumulate(dskip.p, g.p, n)
                let dxFused = Buf(dxStores ? [Float](repeating: .nan, count: n) : start)
                let dskipFused = Buf(skipStores ? [Float](repeating: .nan, count: n) : skipStart)
                ck_add_backward(dxFused.p, dskipFused.p, dy.p, mask?.p, dxStores ? 1 : 0, skipStores ? 1 : 0, n)
                let what = "relu \(relu), stores \(dxStores) \(skipStores)"
                let positive = { (a: [Float]) in a.map { $0 == 0 ? 0 : $0 } }
                expectBitwise(positive(dxFused.array), dx.array, "dx, \(what)")
                expectBitwise(positive(dskipFused.array), dskip.array, "dskip, \(what)")
            }
        }
        #expect(out.contains { $0 == 0 } && out.contains { $0 > 0 }, "both sides of the ReLU")
    }

    @Test("the plan's parallel fill and copy write every element, below and above the threading size")
    func fillAndCopy() {
        var rng = TestRNG(801)
        for n in [1, 1000, 70_001] {
            let x = Buf(rng.uniform(n)), y = Buf(n, fill: .nan), z = Buf(n, fill: .nan)
            ck_copy(y.p, x.p, n)
            ck_fill(z.p, -0.0, n)
            expectBitwise(y.array, x.array, "copy of \(n)")
            #expect(z.array.allSatisfy { $0.bitPattern == (-0.0 as Float).bitPattern }, "fill of \(n)")
        }
    }
}
