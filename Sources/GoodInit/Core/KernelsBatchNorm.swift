// The batch-norm section of CKernels.h: the chunked training statistics (partial sums per chunk,
// combined in chunk order), normalization, inference, and backward. Every call checks each
// buffer against n·c·hw, c or chunks·c before C runs. Internal, as all of Kernels (the kernel
// bench calls them from the library's Bench/).
import CKernels

extension Kernels {
    // A StaticString name: the check allocates nothing on the training path.
    private static func check(_ what: StaticString, _ count: Int, _ want: Int) {
        precondition(count == want, "batch norm: \(what) holds \(count) values, needs \(want)")
    }

    // MARK: forward

    /// One chunk's sums: sum = Σ x, sumsq = Σ (x − shift)² per channel (shift nil: 0).
    static func bnPartialSums(sum: DoubleBuffer, sumsq: DoubleBuffer, x: Tensor, shift: DoubleBuffer?,
                              n: Int, c: Int, hw: Int) {
        check("x", x.count, n * c * hw); check("sum", sum.count, c); check("sumsq", sumsq.count, c)
        if let shift { check("shift", shift.count, c) }
        sum.withPointer { S in sumsq.withPointer { Q in x.withPointer { X in
            if let shift { shift.withPointer { ck_bn_partial_sums(S, Q, X, $0, n, c, hw) } } else {
                ck_bn_partial_sums(S, Q, X, nil, n, c, hw)
            }
        } } }
    }

    /// shift = the batch mean from the chunks' first-pass sums (chunks, C), added in chunk order.
    static func bnCombineMean(shift: DoubleBuffer, sum: DoubleBuffer, chunks: Int, count: Int, c: Int) {
        check("shift", shift.count, c); check("sum", sum.count, chunks * c)
        shift.withPointer { S in sum.withPointer { ck_bn_combine_mean(S, $0, chunks, count, c) } }
    }

    /// mean, invstd and the running statistics from the chunks' second-pass sums (chunks, C).
    static func bnCombineStats(mean: Tensor, invstd: Tensor, runningMean: Tensor, runningVar: Tensor,
                               variance: DoubleBuffer, shift: DoubleBuffer, sumsq: DoubleBuffer,
                               eps: Float, momentum: Float, chunks: Int, count: Int, c: Int) {
        check("mean", mean.count, c); check("invstd", invstd.count, c)
        check("running mean", runningMean.count, c); check("running var", runningVar.count, c)
        check("variance", variance.count, c); check("shift", shift.count, c); check("sumsq", sumsq.count, chunks * c)
        mean.withPointer { M in invstd.withPointer { S in runningMean.withPointer { RM in runningVar.withPointer { RV in
            variance.withPointer { V in shift.withPointer { SH in sumsq.withPointer { Q in
                ck_bn_combine_stats(M, S, RM, RV, V, SH, Q, eps, momentum, chunks, count, c)
            } } }
        } } } }
    }

    /// y = γ·(x − mean)·invstd + β, saving x̂ when given (training passes nil: backward recomputes it).
    static func bnNormalize(y: Tensor, xhat: Tensor?, x: Tensor, mean: Tensor, invstd: Tensor, gamma: Tensor,
                            beta: Tensor, n: Int, c: Int, hw: Int) {
        check("y", y.count, n * c * hw); check("x", x.count, n * c * hw)
        if let xhat { check("xhat", xhat.count, n * c * hw) }
        check("mean", mean.count, c); check("invstd", invstd.count, c)
        check("gamma", gamma.count, c); check("beta", beta.count, c)
        y.withPointer { Y in x.withPointer { X in mean.withPointer { M in invstd.withPointer { S in
            gamma.withPointer { G in beta.withPointer { B in
                if let xhat { xhat.withPointer { ck_bn_normalize(Y, $0, X, M, S, G, B, n, c, hw) } } else {
                    ck_bn_normalize(Y, nil, X, M, S, G, B, n, c, hw)
                }
            } }
        } } } }
    }

    /// Inference with the running statistics: no buffer for invstd, so nothing allocated.
    static func bnForwardInfer(y: Tensor, x: Tensor, runningMean: Tensor, runningVar: Tensor, gamma: Tensor,
                               beta: Tensor, eps: Float, n: Int, c: Int, hw: Int) {
        check("y", y.count, n * c * hw); check("x", x.count, n * c * hw)
        check("running mean", runningMean.count, c); check("running var", runningVar.count, c)
        check("gamma", gamma.count, c); check("beta", beta.count, c)
        y.withPointer { Y in x.withPointer { X in runningMean.withPointer { M in runningVar.withPointer { V in
            gamma.withPointer { G in beta.withPointer { ck_bn_forward_infer(Y, X, M, V, G, $0, eps, n, c, hw) } }
        } } } }
    }

    // MARK: backward

    /// One chunk's Σ dy and Σ dy·x̂ per channel; dγ += Σ dy·x̂ and dβ += Σ dy into this chunk's gradients.
    /// x̂ = (x − mean)·invstd is recomputed from the forward's input x, bitwise the forward's.
    static func bnBackwardPartialSums(sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, dgamma: Tensor, dbeta: Tensor,
                                      dy: Tensor, x: Tensor, mean: Tensor, invstd: Tensor, n: Int, c: Int, hw: Int) {
        check("dy", dy.count, n * c * hw); check("x", x.count, n * c * hw)
        check("mean", mean.count, c); check("invstd", invstd.count, c)
        check("sum dy", sumDy.count, c); check("sum dy·xhat", sumDyXhat.count, c)
        check("dgamma", dgamma.count, c); check("dbeta", dbeta.count, c)
        sumDy.withPointer { S in sumDyXhat.withPointer { SX in dgamma.withPointer { DG in dbeta.withPointer { DB in
            dy.withPointer { D in x.withPointer { X in mean.withPointer { M in
                invstd.withPointer { ck_bn_backward_partial_sums(S, SX, DG, DB, D, X, M, $0, n, c, hw) }
            } } }
        } } } }
    }

    /// The batch's Σ dy and Σ dy·x̂ from the chunks' rows (chunks, C), added in chunk order.
    static func bnBackwardCombine(sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, partDy: DoubleBuffer,
                                  partDyXhat: DoubleBuffer, chunks: Int, c: Int) {
        check("sum dy", sumDy.count, c); check("sum dy·xhat", sumDyXhat.count, c)
        check("chunk sums dy", partDy.count, chunks * c); check("chunk sums dy·xhat", partDyXhat.count, chunks * c)
        sumDy.withPointer { S in sumDyXhat.withPointer { SX in partDy.withPointer { P in partDyXhat.withPointer {
            ck_bn_backward_combine(S, SX, P, $0, chunks, c)
        } } } }
    }

    /// dx += γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), the means over the batch's `count` values
    /// (dx = … unless `accumulate`); x̂ recomputed from x, mean and invstd.
    static func bnBackwardApply(dx: Tensor, dy: Tensor, x: Tensor, mean: Tensor, invstd: Tensor, gamma: Tensor,
                                sumDy: DoubleBuffer, sumDyXhat: DoubleBuffer, count: Int, accumulate: Bool = true,
                                n: Int, c: Int, hw: Int) {
        check("dx", dx.count, n * c * hw); check("dy", dy.count, n * c * hw); check("x", x.count, n * c * hw)
        check("mean", mean.count, c); check("invstd", invstd.count, c); check("gamma", gamma.count, c)
        check("sum dy", sumDy.count, c); check("sum dy·xhat", sumDyXhat.count, c)
        dx.withPointer { DX in dy.withPointer { DY in x.withPointer { X in mean.withPointer { M in
            invstd.withPointer { S in gamma.withPointer { G in sumDy.withPointer { SD in sumDyXhat.withPointer {
                ck_bn_backward_apply(DX, DY, X, M, S, G, SD, $0, count, accumulate ? 1 : 0, n, c, hw)
            } } } }
        } } } }
    }
}
