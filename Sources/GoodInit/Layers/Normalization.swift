// Batch normalization (Ioffe & Szegedy 2015), for conv (per channel over n·H·W) and fully
// connected (per feature) inputs. Training uses the whole minibatch's statistics: every chunk
// contributes partial sums, combined in chunk order by the C kernels, so the result does not
// depend on how many workers computed the chunks. Inference uses running averages (PyTorch
// convention: momentum 0.1, running_var holds the unbiased m/(m−1) variance, eps 1e-5).
public final class BatchNorm: SyncOp {
    public let kind = "batchnorm"
    public var name = "bn"
    public let momentum: Float
    public let eps: Float
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var channels = 0, hw = 1, rowWidth = 1 // rowWidth: the statistics' rows (W, or 1 after a linear layer)
    /// Running statistics (C): state, not parameters; saved in checkpoints. This step's
    /// statistics live in the plan (`BatchNormStatistics`).
    public private(set) var runningMean = Tensor(zeros: [0]), runningVar = Tensor(zeros: [0])

    public init(momentum: Float = 0.1, eps: Float = 1e-5) { self.momentum = momentum; self.eps = eps }

    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 || input.count == 1 else {
            throw ShapeError(name, "needs (C, H, W) or (features), got \(input)")
        }
        inputShape = input; outputShape = input
        channels = input[0]
        hw = input.count == 3 ? input[1] * input[2] : 1
        rowWidth = input.count == 3 ? input[2] : 1
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(zeros: [channels]); runningVar.fill(1)
        return input
    }

    public var paramSpecs: [ParamSpec] {
        [ParamSpec(name: "weight", shape: [channels], role: .bnGamma),
         ParamSpec(name: "bias", shape: [channels], role: .bnBeta)]
    }
    public func makeState(chunks: [Int]) -> [OpState] {
        let batch = BatchNormStatistics(channels: channels, chunks: chunks.count, count: chunks.reduce(0, +) * hw)
        return chunks.indices.map { .batchNorm(BatchNormState(chunk: $0, channels: channels, batch: batch)) }
    }
    public var flopsPerSample: Int { 4 * channels * hw }
    /// Per channel either way; the blocked kernels give the plain ones' bits.
    public var blockedSupport: BlockedSupport { .keeps }
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { true }

    // MARK: forward
    // One pass over the batch: Σ x and Σ x² per channel, row by row in double (then E[x²] − mean²,
    // whose cancellation double leaves far below float's resolution).
    public var forwardSyncPhases: Int { 1 }

    public func forwardPartial(_ phase: Int, _ ctx: OpContext) {
        let s = ctx.state.batchNorm
        if ctx.fusing, let rows = ctx.bnRowSums { // the convolution before stored its rows' sums: the same bits
            Kernels.bnFoldRows(sum: s.sum, sumsq: s.sumsq, rows: rows, n: ctx.n, c: channels, h: hw / rowWidth)
            return
        }
        Kernels.bnPartialSums(layout: ctx.layout.input, sum: s.sum, sumsq: s.sumsq, x: ctx.x, n: ctx.n, c: channels,
                              hw: hw, w: rowWidth)
    }

    public func forwardCombine(_ phase: Int, _ chunks: [OpContext]) {
        guard let b = chunks.first?.state.batchNorm.batch else { return }
        Kernels.bnCombineStats(mean: b.mean, invstd: b.invstd, runningMean: runningMean, runningVar: runningVar,
                               mean64: b.mean64, variance: b.variance, sum: b.sum, sumsq: b.sumsq, eps: eps,
                               momentum: momentum, chunks: b.chunks, count: b.count, c: channels)
    }

    public func forward(_ ctx: OpContext) {
        let (y, relu) = ctx.forwardTarget
        let skip = ctx.fusing ? ctx.fusedResidualSkip : nil // the residual add after, fused in
        if ctx.training {
            let s = ctx.state.batchNorm
            Kernels.bnNormalize(layout: ctx.layout.input, y: y, xhat: nil, x: ctx.x, mean: s.batch.mean,
                                invstd: s.batch.invstd, gamma: ctx.values[0], beta: ctx.values[1], skip: skip,
                                relu: relu, n: ctx.n, c: channels, hw: hw)
        } else {
            Kernels.bnForwardInfer(layout: ctx.layout.input, y: y, x: ctx.x, runningMean: runningMean,
                                   runningVar: runningVar, gamma: ctx.values[0], beta: ctx.values[1], skip: skip,
                                   relu: relu, eps: eps, n: ctx.n, c: channels, hw: hw)
        }
    }

    // MARK: backward (training statistics only)
    // No x̂ is kept from forward: the kernels recompute it from the input ctx.x (the previous op's
    // output, untouched until this backward) with the batch mean and invstd, in the forward's
    // float expression, so the gradients keep their bits and no activation-sized buffer is stored.
    public func backwardPartial(_ ctx: OpContext) {
        let s = ctx.state.batchNorm
        // this chunk's share of dγ and dβ goes into this chunk's gradients
        Kernels.bnBackwardPartialSums(layout: ctx.layout.input, sumDy: s.sum, sumDyXhat: s.sumsq, dgamma: ctx.grads[0],
                                      dbeta: ctx.grads[1], dy: ctx.dy, x: ctx.x, mean: s.batch.mean,
                                      invstd: s.batch.invstd, n: ctx.n, c: channels, hw: hw)
    }

    public func backwardCombine(_ chunks: [OpContext]) {
        guard let b = chunks.first?.state.batchNorm.batch else { return }
        Kernels.bnBackwardCombine(sumDy: b.sumDy, sumDyXhat: b.sumDyXhat, partDy: b.sum, partDyXhat: b.sumsq,
                                  chunks: b.chunks, c: channels)
    }

    public func chunkRows(_ chunks: [OpContext]) -> [DoubleBuffer] {
        chunks.first.map { [$0.state.batchNorm.batch.sum, $0.state.batchNorm.batch.sumsq] } ?? []
    }

    public func backward(_ ctx: OpContext) {
        let s = ctx.state.batchNorm
        Kernels.bnBackwardApply(layout: ctx.layout.input, dx: ctx.dx, dy: ctx.dy, x: ctx.x, mean: s.batch.mean,
                                invstd: s.batch.invstd, gamma: ctx.values[0], sumDy: s.batch.sumDy,
                                sumDyXhat: s.batch.sumDyXhat, count: s.batch.count,
                                accumulate: !ctx.storesInputGradient, n: ctx.n, c: channels, hw: hw)
    }
}
