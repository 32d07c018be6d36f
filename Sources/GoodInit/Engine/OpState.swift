// What an op keeps between its forward and its backward, per chunk of samples.
//
// One enum of the few kinds of state, chosen by the op in `makeState`: ops are stored as
// existentials (`[any Op]`), so a per-op associated type or generic context could only be
// reached through casts; a closed enum keeps the plan's tables homogeneous and each op reads
// the one case it asked for by name.

public enum OpState {
    case none
    /// Max pooling, maxout: the input index that won, per output value.
    case argmax(IndexBuffer)
    /// Dropout: 1 where the input was kept.
    case mask(ByteBuffer)
    /// Batch norm: this chunk's x̂ and partial sums, and the statistics its chunks share.
    case batchNorm(BatchNormState)
    /// A convolution on the blocked layout: its blocked weights and input.
    case convBlocked(ConvBlockedState)
    /// A linear layer at --precision bf16.
    case bf16(BF16Operands)

    /// The case an op created in makeState; another case is a wiring bug in the plan.
    var argmax: IndexBuffer {
        guard case .argmax(let b) = self else { preconditionFailure("op state: expected argmax, got \(self)") }
        return b
    }
    var mask: ByteBuffer {
        guard case .mask(let b) = self else { preconditionFailure("op state: expected a mask, got \(self)") }
        return b
    }
    var convBlocked: ConvBlockedState {
        guard case .convBlocked(let s) = self else {
            preconditionFailure("op state: expected a blocked convolution, got \(self)")
        }
        return s
    }
    var batchNorm: BatchNormState {
        guard case .batchNorm(let s) = self else { preconditionFailure("op state: expected batch norm, got \(self)") }
        return s
    }
}

/// The batch-wide statistics of one batch-norm op in one plan, shared by its chunks. Held by the
/// plan, not the layer: the layer keeps only its running averages (checkpointed), so two plans
/// over one network never share a step's statistics.
public struct BatchNormStatistics {
    let chunks: Int
    /// Values per channel in the batch (batch · H·W): the statistics' denominator.
    let count: Int
    /// (chunks, C): each chunk's forward sums (Σ x, Σ x²), then its backward sums (Σ dy, Σ dy·x̂);
    /// each chunk writes its own row.
    let sum, sumsq: DoubleBuffer
    /// (C) the batch mean and biased variance in double; the batch's Σ dy and Σ dy·x̂.
    let mean64, variance, sumDy, sumDyXhat: DoubleBuffer
    /// (C) this step's mean and 1/√(var + eps), read by every chunk's normalize and backward.
    let mean, invstd: Tensor

    init(channels c: Int, chunks: Int, count: Int) {
        self.chunks = chunks; self.count = count
        sum = DoubleBuffer(count: chunks * c); sumsq = DoubleBuffer(count: chunks * c)
        mean64 = DoubleBuffer(count: c); variance = DoubleBuffer(count: c)
        sumDy = DoubleBuffer(count: c); sumDyXhat = DoubleBuffer(count: c)
        mean = Tensor(zeros: [c]); invstd = Tensor(zeros: [c])
    }
}

/// One chunk's share of a batch-norm op's state. No x̂ buffer: backward recomputes x̂ from the
/// op's input with `batch.mean` and `batch.invstd`, bitwise the forward's.
public struct BatchNormState {
    /// (C) this chunk's rows of `batch.sum` and `batch.sumsq`.
    let sum, sumsq: DoubleBuffer
    let batch: BatchNormStatistics

    init(chunk k: Int, channels c: Int, batch: BatchNormStatistics) {
        sum = batch.sum.row(k, width: c); sumsq = batch.sumsq.row(k, width: c)
        self.batch = batch
    }
}

/// One chunk's buffers for a convolution on the blocked layout. The weights are converted from
/// (K, C, R, S) by each chunk into its own copy (a few KB), so chunks never share a write.
public struct ConvBlockedState {
    /// (K/16, C/16, R, S, 16, 16) this step's weights, and the chunk's weight gradient before it is
    /// added into the (K, C, R, S) gradient.
    let weights, weightGrad: Tensor
    /// Only when the op's input is plain (the network's first convolution): (n, C/16, H, W, 16)
    /// the input converted for forward and backward, its gradient, and that gradient back in
    /// (n, C, H, W) before it is added to dx.
    let input, inputGrad, plainGrad: Tensor?
    /// Only at --precision bf16: the bf16 copies the convolution reads (forward: weights and input;
    /// backward-data: the weights and dy). Layouts as the FP32 ones, as CKernels.h's bf16 section says.
    var bf16: BF16Operands? = nil
}

/// The bf16 copies an op reads at --precision bf16, rounded each step from the FP32 values: a blocked
/// convolution's wh (⌈K/16⌉, ⌈C/16⌉, R, S, 8, 16, 2), xh (n, ⌈C/16⌉, H, W, 16),
/// dyh (n, ⌈K/16⌉, P, Q, 16);
/// a linear layer's wh (out, in), xh (n, in), dyh (n, out).
public struct BF16Operands {
    let weights, input, outputGrad: Buffer<UInt16>
}
