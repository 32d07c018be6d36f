// Swift's side of 2-D convolution, one wrapper per pass for both layouts: im2col + GEMM on NCHW
// (CKernels' conv.c) and the direct kernels on the channel-blocked layout (conv_blocked*.c).
// x (N, C, H, W), w (K, C, R, S), y (N, K, P, Q), each in the layout given; every buffer is
// checked against its size in that layout before C runs.
import CKernels

extension Kernels {
    /// The shape C's convolutions take.
    static func convShape(n: Int, c: Int, h: Int, w: Int, k: Int, r: Int, s: Int, stride: Int,
                          pad: Int) -> ck_conv2d_shape {
        ck_conv2d_shape(N: n, C: c, H: h, W: w, K: k, R: r, S: s, stride: stride, pad: pad)
    }

    /// Element counts of x, w and y in `layout`, after checking that the shape is one C can run:
    /// sizes non-negative, kernel and stride positive, output at least 1×1.
    static func counts(_ kernel: StaticString, _ s: ck_conv2d_shape,
                       _ layout: ActivationLayout) -> (x: Int, w: Int, y: Int) {
        checkSizes(kernel, s.N, s.C, s.H, s.W, s.K, s.pad)
        precondition(s.R > 0 && s.S > 0 && s.stride > 0, "\(kernel): kernel \(s.R)x\(s.S), stride \(s.stride)")
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        precondition(s.H + 2 * s.pad >= s.R && s.W + 2 * s.pad >= s.S, "\(kernel): kernel larger than the input")
        withUnsafePointer(to: s) { sp in
            precondition(ck_conv2d_out_h(sp) == p && ck_conv2d_out_w(sp) == q, "\(kernel): output size")
        }
        let plain = (x: s.N * s.C * s.H * s.W, w: s.K * s.C * s.R * s.S, y: s.N * s.K * p * q)
        guard layout == .blocked else { return plain }
        return (blockedCount(n: s.N, c: s.C, h: s.H, w: s.W), blockedWeightsCount(k: s.K, c: s.C, r: s.R, s: s.S),
                blockedCount(n: s.N, c: s.K, h: p, w: q))
    }

    static func convWorkspace(_ s: ck_conv2d_shape, layout: ActivationLayout = .plain) -> Int {
        let kernel: StaticString = layout == .plain ? "convWorkspace" : "convBlockedWorkspace"
        _ = counts(kernel, s, layout)
        return withUnsafePointer(to: s) { sp in
            switch layout {
            case .plain: return ck_conv2d_workspace_size(sp)
            case .blocked: return ck_conv2d_blocked_workspace_size(sp)
            }
        }
    }

    /// `relu`: y = max(y, 0) in the store (the blocked kernel only), a following ReLU fused in.
    /// `bnRows` (blocked, no ReLU): also each output row's Σ y and Σ y² for the batch norm after,
    /// (N, ⌈K/16⌉, P, 2, 16) as `bnFoldRows` reads them.
    static func convForward(layout: ActivationLayout = .plain, y: Tensor, x: Tensor, w: Tensor, b: Tensor?,
                            relu: Bool = false, bnRows: DoubleBuffer? = nil, shape s: ck_conv2d_shape,
                            workspace: Tensor) {
        let kernel: StaticString = layout == .plain ? "convForward" : "convBlockedForward"
        precondition(!relu || layout == .blocked, "\(kernel): only the blocked kernel fuses a ReLU")
        precondition(bnRows == nil || (layout == .blocked && !relu), "\(kernel): row sums are blocked, without ReLU")
        let n = counts(kernel, s, layout)
        check(kernel, "y", y.count, n.y)
        check(kernel, "x", x.count, n.x)
        check(kernel, "w", w.count, n.w)
        if let b { check(kernel, "b", b.count, s.K) }
        if let bnRows {
            let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
            check(kernel, "bnRows", bnRows.count, bnRowSumsCount(n: s.N, c: s.K, h: p))
        }
        check(kernel, "workspace", workspace.count, convWorkspace(s, layout: layout))
        withPointers(shape: s, y, x, w, b, bnRows, workspace) { sp, Y, X, W, B, R, WS in
            switch layout {
            case .plain: ck_conv2d_forward(Y, X, W, B, sp, WS)
            case .blocked where R != nil: ck_conv2d_blocked_forward_bn_rows(Y, R, X, W, B, sp, WS)
            case .blocked: ck_conv2d_blocked_forward(Y, X, W, B, relu ? 1 : 0, sp, WS)
            }
        }
    }

    /// dx += the input gradient, or dx = … unless `accumulate` (the blocked kernel only: the plain
    /// one always adds). `reluMask` (stored dx only): dx = mask > 0 ? dx : 0, the backward of the
    /// ReLU before the convolution (its output, laid out like dx) fused into the store.
    static func convBackwardData(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, w: Tensor,
                                 accumulate: Bool = true, reluMask: Tensor? = nil, shape s: ck_conv2d_shape,
                                 workspace: Tensor) {
        let kernel: StaticString = layout == .plain ? "convBackwardData" : "convBlockedBackwardData"
        precondition(accumulate || layout == .blocked, "\(kernel): the NCHW kernel only accumulates")
        precondition(reluMask == nil || !accumulate, "\(kernel): a ReLU mask needs a stored dx")
        if let reluMask { check(kernel, "relu mask", reluMask.count, dx.count) }
        let n = counts(kernel, s, layout)
        check(kernel, "dx", dx.count, n.x)
        check(kernel, "dy", dy.count, n.y)
        check(kernel, "w", w.count, n.w)
        check(kernel, "workspace", workspace.count, convWorkspace(s, layout: layout))
        withPointers(shape: s, dx, dy, w, reluMask, workspace) { sp, DX, DY, W, M, WS in
            switch layout {
            case .plain: ck_conv2d_backward_data(DX, DY, W, sp, WS)
            case .blocked: ck_conv2d_blocked_backward_data(DX, DY, W, accumulate ? 1 : 0, M, sp, WS)
            }
        }
    }

    static func convBackwardWeights(layout: ActivationLayout = .plain, dw: Tensor, db: Tensor?, dy: Tensor, x: Tensor,
                                    shape s: ck_conv2d_shape, workspace: Tensor) {
        let kernel: StaticString = layout == .plain ? "convBackwardWeights" : "convBlockedBackwardWeights"
        let n = counts(kernel, s, layout)
        check(kernel, "dw", dw.count, n.w)
        if let db { check(kernel, "db", db.count, s.K) }
        check(kernel, "dy", dy.count, n.y)
        check(kernel, "x", x.count, n.x)
        check(kernel, "workspace", workspace.count, convWorkspace(s, layout: layout))
        withPointers(shape: s, dw, db, dy, x, workspace) { sp, DW, DB, DY, X, WS in
            switch layout {
            case .plain: ck_conv2d_backward_weights(DW, DB, DY, X, sp, WS)
            case .blocked: ck_conv2d_blocked_backward_weights(DW, DB, DY, X, sp, WS)
            }
        }
    }

    static func addBias(y: Tensor, b: Tensor, n: Int, k: Int, hw: Int) {
        checkSizes("addBias", n, k, hw)
        check("addBias", "y", y.count, n * k * hw)
        check("addBias", "b", b.count, k)
        withPointers(y, b) { Y, B in ck_add_bias(Y, B, n, k, hw) }
    }
    /// y (n, k) = max(y + b, 0): a linear layer's bias with the ReLU after it fused in.
    static func addBiasReLU(y: Tensor, b: Tensor, n: Int, k: Int) {
        checkSizes("addBiasReLU", n, k, 1)
        check("addBiasReLU", "y", y.count, n * k)
        check("addBiasReLU", "b", b.count, k)
        withPointers(y, b) { Y, B in ck_add_bias_relu(Y, B, n, k) }
    }
    static func biasBackward(db: Tensor, dy: Tensor, n: Int, k: Int, hw: Int) {
        checkSizes("biasBackward", n, k, hw)
        check("biasBackward", "db", db.count, k)
        check("biasBackward", "dy", dy.count, n * k * hw)
        withPointers(db, dy) { DB, DY in ck_bias_backward(DB, DY, n, k, hw) }
    }
}
