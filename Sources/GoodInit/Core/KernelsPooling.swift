// Swift's side of pooling, one wrapper per pass for both layouts (CKernels' pooling.c and
// pooling_blocked.c): x (N, C, H, W) → y (N, C, P, Q), each in the layout given, argmax in y's;
// global pooling reads x in the layout given and writes plain y and argmax (N, C). Every buffer is
// checked against its size in its layout before C runs.
import CKernels

extension Kernels {
    /// The shape C's pooling kernels take: an r×s window.
    static func poolShape(n: Int, c: Int, h: Int, w: Int, r: Int, s: Int, stride: Int, pad: Int) -> ck_pool_shape {
        ck_pool_shape(N: n, C: c, H: h, W: w, R: r, S: s, stride: stride, pad: pad)
    }

    /// Element counts of x and y in `layout`, after checking that C can run the shape: sizes
    /// non-negative, window and stride positive, every window overlapping the input.
    static func counts(_ kernel: StaticString, _ s: ck_pool_shape, _ layout: ActivationLayout) -> (x: Int, y: Int) {
        checkSizes(kernel, s.N, s.C, s.H, s.W, s.pad)
        precondition(s.R > 0 && s.S > 0 && s.stride > 0 && s.pad < s.R && s.pad < s.S,
                     "\(kernel): window \(s.R)x\(s.S), stride \(s.stride), padding \(s.pad)")
        precondition(s.H + 2 * s.pad >= s.R && s.W + 2 * s.pad >= s.S, "\(kernel): window larger than the input")
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        withUnsafePointer(to: s) { sp in
            precondition(ck_pool_out_h(sp) == p && ck_pool_out_w(sp) == q, "\(kernel): output size")
        }
        let plain = (x: s.N * s.C * s.H * s.W, y: s.N * s.C * p * q)
        guard layout == .blocked else { return plain }
        return (blockedCount(n: s.N, c: s.C, h: s.H, w: s.W), blockedCount(n: s.N, c: s.C, h: p, w: q))
    }

    static func maxPoolForward(layout: ActivationLayout = .plain, y: Tensor, argmax: IndexBuffer, x: Tensor,
                               shape s: ck_pool_shape) {
        let kernel: StaticString = layout == .plain ? "maxPoolForward" : "maxPoolForwardBlocked"
        let n = counts(kernel, s, layout)
        check(kernel, "y", y.count, n.y)
        check(kernel, "argmax", argmax.count, n.y)
        check(kernel, "x", x.count, n.x)
        withPointers(shape: s, y, argmax, x) { sp, Y, A, X in
            switch layout {
            case .plain: ck_maxpool_forward(Y, A, X, sp)
            case .blocked: ck_maxpool_forward_blocked(Y, A, X, sp)
            }
        }
    }
    /// dx += dy at the winners, or dx = … unless `accumulate`; `reluMask`: only where that ReLU
    /// output is > 0 (the backward of a ReLU before the pooling, fused in).
    static func maxPoolBackward(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, argmax: IndexBuffer,
                                accumulate: Bool = true, reluMask: Tensor? = nil, shape s: ck_pool_shape) {
        let kernel: StaticString = layout == .plain ? "maxPoolBackward" : "maxPoolBackwardBlocked"
        let n = counts(kernel, s, layout)
        check(kernel, "dx", dx.count, n.x)
        check(kernel, "dy", dy.count, n.y)
        check(kernel, "argmax", argmax.count, n.y)
        if let reluMask { check(kernel, "relu mask", reluMask.count, n.x) }
        let acc: Int32 = accumulate ? 1 : 0
        withPointers(shape: s, dx, dy, argmax, reluMask) { sp, DX, DY, A, M in
            switch layout {
            case .plain: ck_maxpool_backward(DX, DY, A, acc, M, sp)
            case .blocked: ck_maxpool_backward_blocked(DX, DY, A, acc, M, sp)
            }
        }
    }
    static func avgPoolForward(layout: ActivationLayout = .plain, y: Tensor, x: Tensor, shape s: ck_pool_shape) {
        let kernel: StaticString = layout == .plain ? "avgPoolForward" : "avgPoolForwardBlocked"
        let n = counts(kernel, s, layout)
        check(kernel, "y", y.count, n.y)
        check(kernel, "x", x.count, n.x)
        withPointers(shape: s, y, x) { sp, Y, X in
            switch layout {
            case .plain: ck_avgpool_forward(Y, X, sp)
            case .blocked: ck_avgpool_forward_blocked(Y, X, sp)
            }
        }
    }
    static func avgPoolBackward(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, shape s: ck_pool_shape) {
        let kernel: StaticString = layout == .plain ? "avgPoolBackward" : "avgPoolBackwardBlocked"
        let n = counts(kernel, s, layout)
        check(kernel, "dx", dx.count, n.x)
        check(kernel, "dy", dy.count, n.y)
        withPointers(shape: s, dx, dy) { sp, DX, DY in
            switch layout {
            case .plain: ck_avgpool_backward(DX, DY, sp)
            case .blocked: ck_avgpool_backward_blocked(DX, DY, sp)
            }
        }
    }

    /// x (N, C, HW) in `layout` → plain y (N, C).
    static func globalAvgPoolForward(layout: ActivationLayout = .plain, y: Tensor, x: Tensor, n: Int, c: Int, hw: Int) {
        let kernel: StaticString = layout == .plain ? "globalAvgPoolForward" : "globalAvgPoolForwardBlocked"
        checkSizes(kernel, n, c, hw)
        check(kernel, "y", y.count, n * c)
        check(kernel, "x", x.count, activationCount(layout, n: n, c: c, h: hw, w: 1))
        withPointers(y, x) { Y, X in
            switch layout {
            case .plain: ck_global_avgpool_forward(Y, X, n, c, hw)
            case .blocked: ck_global_avgpool_forward_blocked(Y, X, n, c, hw)
            }
        }
    }
    /// Plain dy (N, C) added into dx in `layout`.
    static func globalAvgPoolBackward(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, n: Int, c: Int,
                                      hw: Int) {
        let kernel: StaticString = layout == .plain ? "globalAvgPoolBackward" : "globalAvgPoolBackwardBlocked"
        checkSizes(kernel, n, c, hw)
        check(kernel, "dx", dx.count, activationCount(layout, n: n, c: c, h: hw, w: 1))
        check(kernel, "dy", dy.count, n * c)
        withPointers(dx, dy) { DX, DY in
            switch layout {
            case .plain: ck_global_avgpool_backward(DX, DY, n, c, hw)
            case .blocked: ck_global_avgpool_backward_blocked(DX, DY, n, c, hw)
            }
        }
    }
    /// x in `layout` → plain y and argmax (N, C).
    static func globalMaxPoolForward(layout: ActivationLayout = .plain, y: Tensor, argmax: IndexBuffer, x: Tensor,
                                     n: Int, c: Int, hw: Int) {
        let kernel: StaticString = layout == .plain ? "globalMaxPoolForward" : "globalMaxPoolForwardBlocked"
        checkSizes(kernel, n, c, hw)
        check(kernel, "y", y.count, n * c)
        check(kernel, "argmax", argmax.count, n * c)
        check(kernel, "x", x.count, activationCount(layout, n: n, c: c, h: hw, w: 1))
        withPointers(y, argmax, x) { Y, A, X in
            switch layout {
            case .plain: ck_global_maxpool_forward(Y, A, X, n, c, hw)
            case .blocked: ck_global_maxpool_forward_blocked(Y, A, X, n, c, hw)
            }
        }
    }
    static func globalMaxPoolBackward(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, argmax: IndexBuffer,
                                      n: Int, c: Int, hw: Int) {
        let kernel: StaticString = layout == .plain ? "globalMaxPoolBackward" : "globalMaxPoolBackwardBlocked"
        checkSizes(kernel, n, c, hw)
        check(kernel, "dx", dx.count, activationCount(layout, n: n, c: c, h: hw, w: 1))
        check(kernel, "dy", dy.count, n * c)
        check(kernel, "argmax", argmax.count, n * c)
        withPointers(dx, dy, argmax) { DX, DY, A in
            switch layout {
            case .plain: ck_global_maxpool_backward(DX, DY, A, n, c, hw)
            case .blocked: ck_global_maxpool_backward_blocked(DX, DY, A, n, c, hw)
            }
        }
    }
}
