// Swift's side of the direct convolution on the channel-blocked layout (CKernels'
// conv_blocked*.c): activations (N, ⌈C/16⌉, H, W, 16), weights (⌈K/16⌉, ⌈C/16⌉, R, S, 16, 16).
// Each call checks every buffer against the blocked sizes of its shape before C runs.
import CKernels

extension Kernels {
    /// Channels per block of the blocked layout.
    static let channelBlock = CK_CB

    /// Floats of blocked activations (N, C, H, W) and of blocked weights (K, C, R, S).
    static func blockedCount(n: Int, c: Int, h: Int, w: Int) -> Int {
        checkSizes("blockedCount", n, c, h, w)
        return ck_blocked_size(n, c, h, w)
    }
    static func blockedWeightsCount(k: Int, c: Int, r: Int, s: Int) -> Int {
        checkSizes("blockedWeightsCount", k, c, r, s)
        return ck_blocked_weights_size(k, c, r, s)
    }

    /// Blocked counts of x, w and y for a shape the kernels can run.
    static func blockedCounts(_ kernel: StaticString, _ s: ck_conv2d_shape) -> (x: Int, w: Int, y: Int) {
        _ = counts(kernel, s) // the shape itself: sizes, kernel, stride, output
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        return (blockedCount(n: s.N, c: s.C, h: s.H, w: s.W), blockedWeightsCount(k: s.K, c: s.C, r: s.R, s: s.S),
                blockedCount(n: s.N, c: s.K, h: p, w: q))
    }

    static func convBlockedWorkspace(_ s: ck_conv2d_shape) -> Int {
        _ = counts("convBlockedWorkspace", s)
        return withUnsafePointer(to: s) { ck_conv2d_blocked_workspace_size($0) }
    }

    /// x (N, C, H, W) → xb blocked, padding channels zeroed.
    static func toBlocked(_ xb: Tensor, from x: Tensor, n: Int, c: Int, h: Int, w: Int) {
        check("toBlocked", "x", x.count, n * c * h * w)
        check("toBlocked", "xb", xb.count, blockedCount(n: n, c: c, h: h, w: w))
        xb.withPointer { XB in x.withPointer { ck_blocked_from_nchw(XB, $0, n, c, h, w) } }
    }

    /// xb blocked → x (N, C, H, W).
    static func fromBlocked(_ x: Tensor, from xb: Tensor, n: Int, c: Int, h: Int, w: Int) {
        check("fromBlocked", "x", x.count, n * c * h * w)
        check("fromBlocked", "xb", xb.count, blockedCount(n: n, c: c, h: h, w: w))
        x.withPointer { X in xb.withPointer { ck_blocked_to_nchw(X, $0, n, c, h, w) } }
    }

    /// w (K, C, R, S) → wb blocked, padding zeroed.
    static func toBlockedWeights(_ wb: Tensor, from w: Tensor, k: Int, c: Int, r: Int, s: Int) {
        check("toBlockedWeights", "w", w.count, k * c * r * s)
        check("toBlockedWeights", "wb", wb.count, blockedWeightsCount(k: k, c: c, r: r, s: s))
        wb.withPointer { WB in w.withPointer { ck_blocked_weights_from_kcrs(WB, $0, k, c, r, s) } }
    }

    /// w (K, C, R, S) += wb unblocked.
    static func accumulateBlockedWeights(_ w: Tensor, from wb: Tensor, k: Int, c: Int, r: Int, s: Int) {
        check("accumulateBlockedWeights", "w", w.count, k * c * r * s)
        check("accumulateBlockedWeights", "wb", wb.count, blockedWeightsCount(k: k, c: c, r: r, s: s))
        w.withPointer { W in wb.withPointer { ck_blocked_weights_accumulate_kcrs(W, $0, k, c, r, s) } }
    }

    static func convBlockedForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor?, shape s: ck_conv2d_shape,
                                   workspace: Tensor) {
        let n = blockedCounts("convBlockedForward", s)
        check("convBlockedForward", "y", y.count, n.y)
        check("convBlockedForward", "x", x.count, n.x)
        check("convBlockedForward", "w", w.count, n.w)
        if let b { check("convBlockedForward", "b", b.count, s.K) }
        check("convBlockedForward", "workspace", workspace.count, convBlockedWorkspace(s))
        y.withPointer { Y in x.withPointer { X in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let b {
                    b.withPointer { ck_conv2d_blocked_forward(Y, X, W, $0, sp, WS) }
                } else {
                    ck_conv2d_blocked_forward(Y, X, W, nil, sp, WS)
                }
            }
        } } } }
    }

    /// dx += the input gradient, or dx = … unless `accumulate`.
    static func convBlockedBackwardData(dx: Tensor, dy: Tensor, w: Tensor, accumulate: Bool = true,
                                        shape s: ck_conv2d_shape, workspace: Tensor) {
        let n = blockedCounts("convBlockedBackwardData", s)
        check("convBlockedBackwardData", "dx", dx.count, n.x)
        check("convBlockedBackwardData", "dy", dy.count, n.y)
        check("convBlockedBackwardData", "w", w.count, n.w)
        check("convBlockedBackwardData", "workspace", workspace.count, convBlockedWorkspace(s))
        dx.withPointer { DX in dy.withPointer { DY in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { ck_conv2d_blocked_backward_data(DX, DY, W, accumulate ? 1 : 0, $0, WS) }
        } } } }
    }

    static func convBlockedBackwardWeights(dw: Tensor, db: Tensor?, dy: Tensor, x: Tensor, shape s: ck_conv2d_shape,
                                           workspace: Tensor) {
        let n = blockedCounts("convBlockedBackwardWeights", s)
        check("convBlockedBackwardWeights", "dw", dw.count, n.w)
        check("convBlockedBackwardWeights", "dy", dy.count, n.y)
        check("convBlockedBackwardWeights", "x", x.count, n.x)
        if let db { check("convBlockedBackwardWeights", "db", db.count, s.K) }
        check("convBlockedBackwardWeights", "workspace", workspace.count, convBlockedWorkspace(s))
        dw.withPointer { DW in dy.withPointer { DY in x.withPointer { X in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let db {
                    db.withPointer { ck_conv2d_blocked_backward_weights(DW, $0, DY, X, sp, WS) }
                } else {
                    ck_conv2d_blocked_backward_weights(DW, nil, DY, X, sp, WS)
                }
            }
        } } } }
    }
}
