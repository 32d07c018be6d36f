// Swift's side of pooling and PReLU on the channel-blocked layout (CKernels' pooling_blocked.c,
// prelu_blocked.c): activations (N, ⌈C/16⌉, H, W, 16). Same labels as the NCHW wrappers; every
// blocked buffer is checked against the blocked size of its shape, the plain ones (global
// pooling's y and argmax, PReLU's slopes) against the NCHW sizes, before C runs.
import CKernels

extension Kernels {
    /// Blocked counts of x and y for a pooling shape C can run.
    static func blockedCounts(_ kernel: StaticString, _ s: ck_pool_shape) -> (x: Int, y: Int) {
        _ = counts(kernel, s) // the shape itself: sizes, window, stride, output
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        return (blockedCount(n: s.N, c: s.C, h: s.H, w: s.W), blockedCount(n: s.N, c: s.C, h: p, w: q))
    }

    /// argmax has y's blocked layout.
    static func maxPoolForwardBlocked(y: Tensor, argmax: IndexBuffer, x: Tensor, shape s: ck_pool_shape) {
        let n = blockedCounts("maxPoolForwardBlocked", s)
        check("maxPoolForwardBlocked", "y", y.count, n.y)
        check("maxPoolForwardBlocked", "argmax", argmax.count, n.y)
        check("maxPoolForwardBlocked", "x", x.count, n.x)
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { X in
            withUnsafePointer(to: s) { ck_maxpool_forward_blocked(Y, A, X, $0) }
        } } }
    }
    static func maxPoolBackwardBlocked(dx: Tensor, dy: Tensor, argmax: IndexBuffer, shape s: ck_pool_shape) {
        let n = blockedCounts("maxPoolBackwardBlocked", s)
        check("maxPoolBackwardBlocked", "dx", dx.count, n.x)
        check("maxPoolBackwardBlocked", "dy", dy.count, n.y)
        check("maxPoolBackwardBlocked", "argmax", argmax.count, n.y)
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer { A in
            withUnsafePointer(to: s) { ck_maxpool_backward_blocked(DX, DY, A, $0) }
        } } }
    }
    static func avgPoolForwardBlocked(y: Tensor, x: Tensor, shape s: ck_pool_shape) {
        let n = blockedCounts("avgPoolForwardBlocked", s)
        check("avgPoolForwardBlocked", "y", y.count, n.y)
        check("avgPoolForwardBlocked", "x", x.count, n.x)
        y.withPointer { Y in x.withPointer { X in withUnsafePointer(to: s) { ck_avgpool_forward_blocked(Y, X, $0) } } }
    }
    static func avgPoolBackwardBlocked(dx: Tensor, dy: Tensor, shape s: ck_pool_shape) {
        let n = blockedCounts("avgPoolBackwardBlocked", s)
        check("avgPoolBackwardBlocked", "dx", dx.count, n.x)
        check("avgPoolBackwardBlocked", "dy", dy.count, n.y)
        dx.withPointer { DX in dy.withPointer { DY in
            withUnsafePointer(to: s) { ck_avgpool_backward_blocked(DX, DY, $0) }
        } }
    }

    /// Blocked x (N, C, HW) → plain y (N, C).
    static func globalAvgPoolForwardBlocked(y: Tensor, x: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalAvgPoolForwardBlocked", n, c, hw)
        check("globalAvgPoolForwardBlocked", "y", y.count, n * c)
        check("globalAvgPoolForwardBlocked", "x", x.count, blockedCount(n: n, c: c, h: hw, w: 1))
        y.withPointer { Y in x.withPointer { ck_global_avgpool_forward_blocked(Y, $0, n, c, hw) } }
    }
    /// Plain dy (N, C) added into blocked dx.
    static func globalAvgPoolBackwardBlocked(dx: Tensor, dy: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalAvgPoolBackwardBlocked", n, c, hw)
        check("globalAvgPoolBackwardBlocked", "dx", dx.count, blockedCount(n: n, c: c, h: hw, w: 1))
        check("globalAvgPoolBackwardBlocked", "dy", dy.count, n * c)
        dx.withPointer { DX in dy.withPointer { ck_global_avgpool_backward_blocked(DX, $0, n, c, hw) } }
    }
    /// Blocked x → plain y and argmax (N, C).
    static func globalMaxPoolForwardBlocked(y: Tensor, argmax: IndexBuffer, x: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalMaxPoolForwardBlocked", n, c, hw)
        check("globalMaxPoolForwardBlocked", "y", y.count, n * c)
        check("globalMaxPoolForwardBlocked", "argmax", argmax.count, n * c)
        check("globalMaxPoolForwardBlocked", "x", x.count, blockedCount(n: n, c: c, h: hw, w: 1))
        y.withPointer { Y in argmax.withPointer { A in x.withPointer {
            ck_global_maxpool_forward_blocked(Y, A, $0, n, c, hw)
        } } }
    }
    static func globalMaxPoolBackwardBlocked(dx: Tensor, dy: Tensor, argmax: IndexBuffer, n: Int, c: Int, hw: Int) {
        checkSizes("globalMaxPoolBackwardBlocked", n, c, hw)
        check("globalMaxPoolBackwardBlocked", "dx", dx.count, blockedCount(n: n, c: c, h: hw, w: 1))
        check("globalMaxPoolBackwardBlocked", "dy", dy.count, n * c)
        check("globalMaxPoolBackwardBlocked", "argmax", argmax.count, n * c)
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer {
            ck_global_maxpool_backward_blocked(DX, DY, $0, n, c, hw)
        } } }
    }

    static func preluForwardBlocked(y: Tensor, x: Tensor, a: Tensor, shared: Bool, n: Int, c: Int, hw: Int) {
        checkSizes("preluForwardBlocked", n, c, hw)
        check("preluForwardBlocked", "y", y.count, blockedCount(n: n, c: c, h: hw, w: 1))
        check("preluForwardBlocked", "x", x.count, blockedCount(n: n, c: c, h: hw, w: 1))
        check("preluForwardBlocked", "a", a.count, shared ? 1 : c)
        y.withPointer { Y in x.withPointer { X in a.withPointer {
            ck_prelu_forward_blocked(Y, X, $0, shared ? 1 : 0, n, c, hw)
        } } }
    }
    static func preluBackwardBlocked(dx: Tensor, da: Tensor, dy: Tensor, x: Tensor, a: Tensor, shared: Bool,
                                     n: Int, c: Int, hw: Int) {
        checkSizes("preluBackwardBlocked", n, c, hw)
        for (name, t) in [("dx", dx), ("dy", dy), ("x", x)] as [(StaticString, Tensor)] {
            check("preluBackwardBlocked", name, t.count, blockedCount(n: n, c: c, h: hw, w: 1))
        }
        check("preluBackwardBlocked", "da", da.count, shared ? 1 : c)
        check("preluBackwardBlocked", "a", a.count, shared ? 1 : c)
        dx.withPointer { DX in da.withPointer { DA in dy.withPointer { DY in x.withPointer { X in a.withPointer {
            ck_prelu_backward_blocked(DX, DA, DY, X, $0, shared ? 1 : 0, n, c, hw)
        } } } } }
    }
}
