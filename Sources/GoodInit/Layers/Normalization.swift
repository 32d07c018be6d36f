// Batch normalization (Ioffe & Szegedy 2015), for conv (per channel over n·H·W) and fully
// connected (per feature) inputs. Training uses the whole minibatch's statistics: every chunk
// contributes partial sums, combined in chunk order, so the result does not depend on how many
// workers computed the chunks. Inference uses running averages (PyTorch convention: momentum
// 0.1, running_var holds the unbiased m/(m−1) variance, eps 1e-5).
public final class BatchNorm: SyncOp {
    public let kind = "batchnorm"
    public var name = "bn"
    public let momentum: Float
    public let eps: Float
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var channels = 0, hw = 1
    /// Running statistics (C): state, not parameters; saved in checkpoints.
    public private(set) var runningMean = Tensor(zeros: [0]), runningVar = Tensor(zeros: [0])
    // This step's statistics, shared by all chunks (C).
    var mean = Tensor(zeros: [0]), invstd = Tensor(zeros: [0])
    // Batch-wide sums (C), sized once in configure and overwritten in place: no allocation per step.
    var shift: [Double] = [], total: [Double] = [], totalDy: [Double] = [], totalDyXhat: [Double] = []
    var batchCount = 0

    final class Saved {
        let xhat: Tensor
        var sum: [Double], sumsq: [Double]
        init(count: Int, channels: Int) {
            xhat = Tensor(zeros: [count])
            sum = [Double](repeating: 0, count: channels)
            sumsq = sum
        }
    }

    public init(momentum: Float = 0.1, eps: Float = 1e-5) { self.momentum = momentum; self.eps = eps }

    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 || input.count == 1 else { throw ShapeError(name, "needs (C, H, W) or (features), got \(input)") }
        inputShape = input; outputShape = input
        channels = input[0]
        hw = input.count == 3 ? input[1] * input[2] : 1
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(zeros: [channels]); runningVar.fill(1)
        mean = Tensor(zeros: [channels]); invstd = Tensor(zeros: [channels])
        shift = [Double](repeating: 0, count: channels)
        total = shift; totalDy = shift; totalDyXhat = shift
        return input
    }

    public var paramSpecs: [ParamSpec] {
        [ParamSpec(name: "weight", shape: [channels], role: .bnGamma), ParamSpec(name: "bias", shape: [channels], role: .bnBeta)]
    }
    public func makeSaved(batch: Int) -> AnyObject? { Saved(count: batch * channels * hw, channels: channels) }
    public var flopsPerSample: Int { 4 * channels * hw }

    // MARK: forward
    public var forwardSyncPhases: Int { 2 }

    public func forwardPartial(_ phase: Int, _ c: OpContext) {
        let s = c.saved as! Saved
        Kernels.bnPartialSums(sum: &s.sum, sumsq: &s.sumsq, x: c.x, shift: phase == 0 ? nil : shift, n: c.n, c: channels, hw: hw)
    }

    public func forwardCombine(_ phase: Int, _ chunks: [OpContext]) {
        batchCount = chunks.reduce(0) { $0 + $1.n } * hw
        for i in 0..<channels { total[i] = 0 }
        for ctx in chunks { // chunk order
            let s = ctx.saved as! Saved
            for i in 0..<channels { total[i] += phase == 0 ? s.sum[i] : s.sumsq[i] }
        }
        if phase == 0 {
            for i in 0..<channels { shift[i] = total[i] / Double(batchCount) }
            return
        }
        // Second pass summed squares around the exact mean: no cancellation.
        let unbias = batchCount > 1 ? Double(batchCount) / Double(batchCount - 1) : 1
        for i in 0..<channels {
            let v = total[i] / Double(batchCount)
            mean[i] = Float(shift[i])
            invstd[i] = Float(1 / (v + Double(eps)).squareRoot())
            runningMean[i] = (1 - momentum) * runningMean[i] + momentum * Float(shift[i])
            runningVar[i] = (1 - momentum) * runningVar[i] + momentum * Float(v * unbias)
        }
    }

    public func forward(_ c: OpContext) {
        if c.training {
            Kernels.bnNormalize(y: c.y, xhat: (c.saved as! Saved).xhat, x: c.x, mean: mean, invstd: invstd,
                                gamma: c.values[0], beta: c.values[1], n: c.n, c: channels, hw: hw)
        } else {
            let inv = Tensor(zeros: [channels])
            for i in 0..<channels { inv[i] = Float(1 / (Double(runningVar[i]) + Double(eps)).squareRoot()) }
            Kernels.bnNormalize(y: c.y, xhat: nil, x: c.x, mean: runningMean, invstd: inv,
                                gamma: c.values[0], beta: c.values[1], n: c.n, c: channels, hw: hw)
        }
    }

    // MARK: backward (training statistics only)
    public func backwardPartial(_ c: OpContext) {
        let s = c.saved as! Saved
        Kernels.bnBackwardPartialSums(sumDy: &s.sum, sumDyXhat: &s.sumsq, dy: c.dy, xhat: s.xhat, n: c.n, c: channels, hw: hw)
        for i in 0..<channels { // this chunk's share of dγ and dβ, into this chunk's gradients
            c.grads[0][i] += Float(s.sumsq[i])
            c.grads[1][i] += Float(s.sum[i])
        }
    }

    public func backwardCombine(_ chunks: [OpContext]) {
        for i in 0..<channels { totalDy[i] = 0; totalDyXhat[i] = 0 }
        for ctx in chunks {
            let s = ctx.saved as! Saved
            for i in 0..<channels { totalDy[i] += s.sum[i]; totalDyXhat[i] += s.sumsq[i] }
        }
    }

    public func backward(_ c: OpContext) {
        Kernels.bnBackwardApply(dx: c.dx, dy: c.dy, xhat: (c.saved as! Saved).xhat, invstd: invstd, gamma: c.values[0],
                                sumDy: totalDy, sumDyXhat: totalDyXhat, count: batchCount, n: c.n, c: channels, hw: hw)
    }
}
