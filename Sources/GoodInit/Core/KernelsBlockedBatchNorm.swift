// Batch norm on the channel-blocked layout (CKernels' batchnorm_blocked.c): the NCHW wrappers'
// labels and contracts (KernelsBatchNorm), with activations (N, ⌈C/16⌉, HW, 16). Each call checks
// every activation against the blocked count and every per-channel buffer against c before C runs;
// the chunk combination stays the NCHW one (bnCombineMean, bnCombineStats, bnBackwardCombine).
import CKernels

extension Kernels {
    // A StaticString name: the check allocates nothing on the training path.
    private static func checkBlocked(_ what: StaticString, _ count: Int, _ want: Int) {
        precondition(count == want, "blocked batch norm: \(what) holds \(count) values, needs \(want)")
    }

    private static func blockedBN(n: Int, c: Int, hw: Int) -> Int { blockedCount(n: n, c: c, h: hw, w: 1) }

    // MARK: forward

    /// One chunk's sums: sum = Σ x, sumsq = Σ (x − shift)² per channel (shift nil: 0).
    static func bnPartialSumsBlocked(sum: DoubleBuffer, sumsq: DoubleBuffer, x: Tensor, shift: DoubleBuffer?,
                                     n: Int, c: Int, hw: Int) {
        checkBlocked("x", x.count, blockedBN(n: n, c: c, hw: hw))
        checkBlocked("sum", sum.count, c); checkBlocked("sumsq", sumsq.count, c)
        if let shift { checkBlocked("shift", shift.count, c) }
        sum.withPointer { S in sumsq.withPointer { Q in x.withPointer { X in
            if let shift { shift.withPointer { ck_bn_partial_sums_blocked(S, Q, X, $0, n, c, hw) } } else {
                ck_bn_partial_sums_blocked(S, Q, X, nil, n, c, hw)
            }
        } } }
    }

    /// y = γ·(x − mean)·invstd + β, saving x̂ when given (training: nil); padding channels written as zero.
    static func bnNormalizeBlocked(y: Tensor, xhat: Tensor?, x: Tensor, mean: Tensor, invstd: Tensor, gamma: Tensor,
                                   beta: Tensor, n: Int, c: Int, hw: Int) {
        let count = blockedBN(n: n, c: c, hw: hw)
        checkBlocked("y", y.count, count); checkBlocked("x", x.count, count)
        if let xhat { checkBlocked("xhat", xhat.count, count) }
        checkBlocked("mean", mean.count, c); checkBlocked("invstd", invstd.count, c)
        checkBlocked("gamma", gamma.count, c); checkBlocked("beta", beta.count, c)
        y.withPointer { Y in x.withPointer { X in mean.withPointer { M in invstd.withPointer { S in
            gamma.withPointer { G in beta.withPointer { B in
                if let xhat { xhat.withPointer { ck_bn_normalize_blocked(Y, $0, X, M, S, G, B, n, c, hw) } } else {
                    ck_bn_normalize_blocked(Y, nil, X, M, S, G, B, n, c, hw)
                }
            } }
        } } } }
    }

    /// Inference with the running statistics: no buffer for invstd, so nothing allocated.
    static func bnForwardInferBlocked(y: Tensor, x: Tensor, runningMean: Tensor, runningVar: Tensor, gamma: Tensor,
                                      beta: Tensor, eps: Float, n: Int, c: Int, hw: Int) {
        let count = blockedBN(n: n, c: c, hw: hw)
        checkBlocked("y", y.count, count); checkBlocked("x", x.count, count)
        checkBlocked("running mean", runningMean.count, c); checkBlocked("running var", runningVar.count, c)
        checkBlocked("gamma", gamma.count, c); checkBlocked("beta", beta.count, c)
        y.withPointer { Y in x.withPointer { X in runningMean.withPointer { M in runningVar.withPointer { V in
            gamma.withPointer { G in
                beta.withPointer { ck_bn_forward_infer_blocked(Y, X, M, V, G, $0, eps, n, c, hw) }
            }
        } } } }
    }

    // MARK: backward

    /// One chunk's Σ dy and Σ dy·x̂ per channel; dγ += Σ dy·x̂ and dβ += Σ dy into this chunk's gradients.
    /// x̂ = (x − mean)·invstd is recomputed from the forward's input x, bitwise the forward's.
    static func bnBackwardPartialSumsBlocked(sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, dgamma: Tensor,
                                             dbeta: Tensor, dy: Tensor, x: Tensor, mean: Tensor, invstd: Tensor,
                                             n: Int, c: Int, hw: Int) {
        let count = blockedBN(n: n, c: c, hw: hw)
        checkBlocked("dy", dy.count, count); checkBlocked("x", x.count, count)
        checkBlocked("mean", mean.count, c); checkBlocked("invstd", invstd.count, c)
        checkBlocked("sum dy", sumDy.count, c); checkBlocked("sum dy·xhat", sumDyXhat.count, c)
        checkBlocked("dgamma", dgamma.count, c); checkBlocked("dbeta", dbeta.count, c)
        sumDy.withPointer { S in sumDyXhat.withPointer { SX in dgamma.withPointer { DG in dbeta.withPointer { DB in
            dy.withPointer { D in x.withPointer { X in mean.withPointer { M in
                invstd.withPointer { ck_bn_backward_partial_sums_blocked(S, SX, DG, DB, D, X, M, $0, n, c, hw) }
            } } }
        } } } }
    }

    /// dx += γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), the means over the batch's `count` values, x̂
    /// recomputed from x; padding channels of dx untouched (dx = … unless `accumulate`).
    static func bnBackwardApplyBlocked(dx: Tensor, dy: Tensor, x: Tensor, mean: Tensor, invstd: Tensor,
                                       gamma: Tensor, sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, count: Int,
                                       accumulate: Bool = true, n: Int, c: Int, hw: Int) {
        let blocked = blockedBN(n: n, c: c, hw: hw)
        checkBlocked("dx", dx.count, blocked); checkBlocked("dy", dy.count, blocked)
        checkBlocked("x", x.count, blocked)
        checkBlocked("mean", mean.count, c); checkBlocked("invstd", invstd.count, c)
        checkBlocked("gamma", gamma.count, c)
        checkBlocked("sum dy", sumDy.count, c); checkBlocked("sum dy·xhat", sumDyXhat.count, c)
        dx.withPointer { DX in dy.withPointer { DY in x.withPointer { X in mean.withPointer { M in
            invstd.withPointer { S in gamma.withPointer { G in sumDy.withPointer { SD in sumDyXhat.withPointer {
                ck_bn_backward_apply_blocked(DX, DY, X, M, S, G, SD, $0, count, accumulate ? 1 : 0, n, c, hw)
            } } } }
        } } } }
    }
}
