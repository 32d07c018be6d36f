// The batch-norm section of CKernels.h: the chunked training statistics (partial sums per chunk,
// combined in chunk order), normalization, inference, and backward, each for both layouts
// (batchnorm.c on NCHW, batchnorm_blocked.c on (N, ⌈C/16⌉, HW, 16)); the chunk combination is per
// channel, the same for both. Every call checks each activation against its count in the layout
// given and each per-channel buffer against c or chunks·c before C runs. Internal, as all of
// Kernels (the kernel bench calls them from the library's Bench/).
import CKernels

extension Kernels {
    // A StaticString name: the check allocates nothing on the training path.
    private static func check(_ what: StaticString, _ count: Int, _ want: Int, _ layout: ActivationLayout = .plain) {
        precondition(count == want, "\(layout == .blocked ? "blocked " : "")batch norm: \(what) holds \(count) values, "
                                    + "needs \(want)")
    }

    // MARK: forward

    /// One chunk's sums: sum = Σ x, sumsq = Σ x² per channel, each row of `w` pixels summed alone
    /// (`hw` = H·W; fully connected: hw = w = 1).
    static func bnPartialSums(layout: ActivationLayout = .plain, sum: DoubleBuffer, sumsq: DoubleBuffer, x: Tensor,
                              n: Int, c: Int, hw: Int, w: Int) {
        check("x", x.count, activationCount(layout, n: n, c: c, h: hw, w: 1), layout)
        check("sum", sum.count, c, layout); check("sumsq", sumsq.count, c, layout)
        precondition(w > 0 && hw % w == 0, "batch norm: rows of \(w) pixels do not tile \(hw)")
        withPointers(sum, sumsq, x) { S, Q, X in
            switch layout {
            case .plain: ck_bn_partial_sums(S, Q, X, n, c, hw, w)
            case .blocked: ck_bn_partial_sums_blocked(S, Q, X, n, c, hw, w)
            }
        }
    }

    /// bnPartialSums' blocked sums from the row sums (n, ⌈c/16⌉, h, 2, 16) a convolution stored.
    static func bnFoldRows(sum: DoubleBuffer, sumsq: DoubleBuffer, rows: DoubleBuffer, n: Int, c: Int, h: Int) {
        check("sum", sum.count, c, .blocked); check("sumsq", sumsq.count, c, .blocked)
        check("rows", rows.count, bnRowSumsCount(n: n, c: c, h: h), .blocked)
        withPointers(sum, sumsq, rows) { S, Q, R in ck_bn_fold_rows_blocked(S, Q, R, n, c, h) }
    }

    /// Doubles of the row sums a convolution stores for the batch norm after it: (n, ⌈c/16⌉, h, 2, 16).
    static func bnRowSumsCount(n: Int, c: Int, h: Int) -> Int { n * ((c + 15) / 16) * h * 32 }

    /// mean, invstd and the running statistics from the chunks' sums (chunks, C), added in chunk order.
    static func bnCombineStats(mean: Tensor, invstd: Tensor, runningMean: Tensor, runningVar: Tensor,
                               mean64: DoubleBuffer, variance: DoubleBuffer, sum: DoubleBuffer, sumsq: DoubleBuffer,
                               eps: Float, momentum: Float, chunks: Int, count: Int, c: Int) {
        check("mean", mean.count, c); check("invstd", invstd.count, c)
        check("running mean", runningMean.count, c); check("running var", runningVar.count, c)
        check("mean64", mean64.count, c); check("variance", variance.count, c)
        check("sum", sum.count, chunks * c); check("sumsq", sumsq.count, chunks * c)
        withPointers(mean, invstd, runningMean, runningVar, mean64, variance, sum, sumsq) {
            M, I, RM, RV, M64, V, S, Q in
            ck_bn_combine_stats(M, I, RM, RV, M64, V, S, Q, eps, momentum, chunks, count, c)
        }
    }

    /// y = γ·(x − mean)·invstd + β, saving x̂ when given (training passes nil: backward recomputes it);
    /// blocked padding channels written as zero. `skip`: y += skip, a following residual add fused in;
    /// `relu`: then y = max(y, 0), a following ReLU fused in.
    static func bnNormalize(layout: ActivationLayout = .plain, y: Tensor, xhat: Tensor?, x: Tensor, mean: Tensor,
                            invstd: Tensor, gamma: Tensor, beta: Tensor, skip: Tensor? = nil, relu: Bool = false,
                            n: Int, c: Int, hw: Int) {
        let count = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check("y", y.count, count, layout); check("x", x.count, count, layout)
        if let xhat { check("xhat", xhat.count, count, layout) }
        if let skip { check("skip", skip.count, count, layout) }
        check("mean", mean.count, c, layout); check("invstd", invstd.count, c, layout)
        check("gamma", gamma.count, c, layout); check("beta", beta.count, c, layout)
        withPointers(y, xhat, x, mean, invstd, gamma, beta, skip) { Y, XH, X, M, S, G, B, K in
            switch layout {
            case .plain: ck_bn_normalize(Y, XH, X, M, S, G, B, K, relu ? 1 : 0, n, c, hw)
            case .blocked: ck_bn_normalize_blocked(Y, XH, X, M, S, G, B, K, relu ? 1 : 0, n, c, hw)
            }
        }
    }

    /// Inference with the running statistics: no buffer for invstd, so nothing allocated.
    static func bnForwardInfer(layout: ActivationLayout = .plain, y: Tensor, x: Tensor, runningMean: Tensor,
                               runningVar: Tensor, gamma: Tensor, beta: Tensor, skip: Tensor? = nil,
                               relu: Bool = false, eps: Float, n: Int, c: Int, hw: Int) {
        let count = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check("y", y.count, count, layout); check("x", x.count, count, layout)
        check("running mean", runningMean.count, c, layout); check("running var", runningVar.count, c, layout)
        check("gamma", gamma.count, c, layout); check("beta", beta.count, c, layout)
        if let skip { check("skip", skip.count, count, layout) }
        withPointers(y, x, runningMean, runningVar, gamma, beta, skip) { Y, X, M, V, G, B, K in
            switch layout {
            case .plain: ck_bn_forward_infer(Y, X, M, V, G, B, K, relu ? 1 : 0, eps, n, c, hw)
            case .blocked: ck_bn_forward_infer_blocked(Y, X, M, V, G, B, K, relu ? 1 : 0, eps, n, c, hw)
            }
        }
    }

    // MARK: backward

    /// One chunk's Σ dy and Σ dy·x̂ per channel; dγ += Σ dy·x̂ and dβ += Σ dy into this chunk's gradients.
    /// x̂ = (x − mean)·invstd is recomputed from the forward's input x, bitwise the forward's.
    static func bnBackwardPartialSums(layout: ActivationLayout = .plain, sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer,
                                      dgamma: Tensor, dbeta: Tensor, dy: Tensor, x: Tensor, mean: Tensor,
                                      invstd: Tensor, n: Int, c: Int, hw: Int) {
        let count = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check("dy", dy.count, count, layout); check("x", x.count, count, layout)
        check("mean", mean.count, c, layout); check("invstd", invstd.count, c, layout)
        check("sum dy", sumDy.count, c, layout); check("sum dy·xhat", sumDyXhat.count, c, layout)
        check("dgamma", dgamma.count, c, layout); check("dbeta", dbeta.count, c, layout)
        withPointers(sumDy, sumDyXhat, dgamma, dbeta, dy, x, mean, invstd) { S, SX, DG, DB, D, X, M, IS in
            switch layout {
            case .plain: ck_bn_backward_partial_sums(S, SX, DG, DB, D, X, M, IS, n, c, hw)
            case .blocked: ck_bn_backward_partial_sums_blocked(S, SX, DG, DB, D, X, M, IS, n, c, hw)
            }
        }
    }

    /// The batch's Σ dy and Σ dy·x̂ from the chunks' rows (chunks, C), added in chunk order.
    static func bnBackwardCombine(sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, partDy: DoubleBuffer,
                                  partDyXhat: DoubleBuffer, chunks: Int, c: Int) {
        check("sum dy", sumDy.count, c); check("sum dy·xhat", sumDyXhat.count, c)
        check("chunk sums dy", partDy.count, chunks * c); check("chunk sums dy·xhat", partDyXhat.count, chunks * c)
        withPointers(sumDy, sumDyXhat, partDy, partDyXhat) { S, SX, P, PX in
            ck_bn_backward_combine(S, SX, P, PX, chunks, c)
        }
    }

    /// dx += γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), the means over the batch's `count` values
    /// (dx = … unless `accumulate`); x̂ recomputed from x, mean and invstd; blocked padding
    /// channels of dx untouched.
    static func bnBackwardApply(layout: ActivationLayout = .plain, dx: Tensor, dy: Tensor, x: Tensor, mean: Tensor,
                                invstd: Tensor, gamma: Tensor, sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer,
                                count: Int, accumulate: Bool = true, n: Int, c: Int, hw: Int) {
        let values = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check("dx", dx.count, values, layout); check("dy", dy.count, values, layout)
        check("x", x.count, values, layout)
        check("mean", mean.count, c, layout); check("invstd", invstd.count, c, layout)
        check("gamma", gamma.count, c, layout)
        check("sum dy", sumDy.count, c, layout); check("sum dy·xhat", sumDyXhat.count, c, layout)
        let acc: Int32 = accumulate ? 1 : 0
        withPointers(dx, dy, x, mean, invstd, gamma, sumDy, sumDyXhat) { DX, DY, X, M, S, G, SD, SX in
            switch layout {
            case .plain: ck_bn_backward_apply(DX, DY, X, M, S, G, SD, SX, count, acc, n, c, hw)
            case .blocked: ck_bn_backward_apply_blocked(DX, DY, X, M, S, G, SD, SX, count, acc, n, c, hw)
            }
        }
    }
}
