// Swift's side of the channel-blocked layout (Engine/Layout.swift, CKernels' blocked.c):
// activations (N, ⌈C/16⌉, H, W, 16), weights (⌈K/16⌉, ⌈C/16⌉, R, S, 16, 16). The sizes each
// layout gives a buffer, which every wrapper that takes a layout checks against, and the
// conversions between the layouts.
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

    /// Floats of activations (N, C, H, W) in `layout` (sizes checked non-negative first).
    static func activationCount(_ layout: ActivationLayout, n: Int, c: Int, h: Int, w: Int) -> Int {
        switch layout {
        case .plain: return n * c * h * w
        case .blocked: return blockedCount(n: n, c: c, h: h, w: w)
        }
    }

    /// x (N, C, H, W) → xb blocked, padding channels zeroed.
    static func toBlocked(_ xb: Tensor, from x: Tensor, n: Int, c: Int, h: Int, w: Int) {
        check("toBlocked", "x", x.count, n * c * h * w)
        check("toBlocked", "xb", xb.count, blockedCount(n: n, c: c, h: h, w: w))
        withPointers(xb, x) { XB, X in ck_blocked_from_nchw(XB, X, n, c, h, w) }
    }

    /// xb blocked → x (N, C, H, W).
    static func fromBlocked(_ x: Tensor, from xb: Tensor, n: Int, c: Int, h: Int, w: Int) {
        check("fromBlocked", "x", x.count, n * c * h * w)
        check("fromBlocked", "xb", xb.count, blockedCount(n: n, c: c, h: h, w: w))
        withPointers(x, xb) { X, XB in ck_blocked_to_nchw(X, XB, n, c, h, w) }
    }

    /// w (K, C, R, S) → wb blocked, padding zeroed.
    static func toBlockedWeights(_ wb: Tensor, from w: Tensor, k: Int, c: Int, r: Int, s: Int) {
        check("toBlockedWeights", "w", w.count, k * c * r * s)
        check("toBlockedWeights", "wb", wb.count, blockedWeightsCount(k: k, c: c, r: r, s: s))
        withPointers(wb, w) { WB, W in ck_blocked_weights_from_kcrs(WB, W, k, c, r, s) }
    }

    /// w (K, C, R, S) += wb unblocked.
    static func accumulateBlockedWeights(_ w: Tensor, from wb: Tensor, k: Int, c: Int, r: Int, s: Int) {
        check("accumulateBlockedWeights", "w", w.count, k * c * r * s)
        check("accumulateBlockedWeights", "wb", wb.count, blockedWeightsCount(k: k, c: c, r: r, s: s))
        withPointers(w, wb) { W, WB in ck_blocked_weights_accumulate_kcrs(W, WB, k, c, r, s) }
    }
}
