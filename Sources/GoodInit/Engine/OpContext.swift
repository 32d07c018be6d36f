// The per-(op, chunk) record the plan hands to an op's forward and backward.

/// Everything an op needs for one chunk of samples. One per (op, chunk), built by the plan once
/// per batch size and reused every step; the plan sets the per-step fields before each forward.
public final class OpContext {
    public let n: Int                  // samples in this chunk
    public let sampleOffset: Int       // first sample of this chunk within the batch
    public let x, y, dx, dy: Tensor    // (n, inputShape…), (n, outputShape…) and their gradients
    /// The activation named by the op's `skipSource` and its gradient (empty for other ops).
    public let skip, dskip: Tensor
    public let values: [Tensor]        // parameter values (shared by all chunks)
    public let grads: [Tensor]         // this chunk's parameter gradients
    public let workspace: Tensor       // scratch shared by the ops of one chunk
    public let state: OpState          // what forward keeps for backward (argmax, mask, x̂)
    /// False when only aliases precede the op: nothing consumes the network input's gradient.
    public let needsInputGradient: Bool
    /// The layouts of x (and dx) and of y (and dy).
    public let layout: OpLayout
    /// True when backward must store dx rather than add to it: the plan did not zero it, since
    /// this op is its only writer.
    public let storesInputGradient: Bool
    /// The same for dskip: this op runs first of the writers of that gradient (the skip's last reader).
    public let storesSkipGradient: Bool
    /// Backward stores the parameter gradients (`grads`) instead of adding: the plan left them
    /// unzeroed, every op with parameters storing its own (Op.storesParamGradients).
    public internal(set) var storesParamGradients = false
    public internal(set) var training = true
    public internal(set) var seed: UInt64 = 0 // per step and op (dropout)

    // The fused plan (Fusion.swift), wired once by the plan; `fusing` says, per pass, whether it runs.
    /// Whether this pass runs the fused plan.
    public internal(set) var fusing = false
    /// The output of the ReLU after this op: a fused forward stores max(y, 0) there instead of y.
    public internal(set) var fusedReLUOutput: Tensor?
    /// The input gradient and the output of the ReLU before this op: a fused backward stores
    /// mask > 0 ? dx : 0 into that gradient instead of dx into this op's.
    public internal(set) var fusedReLUGradient: (dx: Tensor, mask: Tensor)?
    /// The output gradient and the output of the ReLU after this op: a fused backward takes
    /// mask > 0 ? dy : 0 from there as its own output gradient (the ReLU's backward done here).
    public internal(set) var fusedReLUOutputGradient: (dy: Tensor, mask: Tensor)?
    /// A ReLU whose forward (backward) the op before (after) it does in a fused pass.
    public internal(set) var reluForwardFused = false, reluBackwardFused = false
    /// A batch norm's: the skip input of the residual add after it, which a fused forward adds in
    /// (storing at `fusedReLUOutput`, the output of the ReLU after that add).
    public internal(set) var fusedResidualSkip: Tensor?
    /// A residual add whose forward the batch norm before it does in a fused pass.
    public internal(set) var addForwardFused = false
    /// A blocked convolution and the batch norm after it share this: the convolution's fused forward
    /// stores each output row's Σ y and Σ y² here, (n, ⌈C/16⌉, H, 2, 16), and the batch norm adds
    /// them up instead of reading its input for its statistics.
    public internal(set) var bnRowSums: DoubleBuffer?

    /// Where this op's forward stores, and whether it applies the ReLU after it.
    var forwardTarget: (y: Tensor, relu: Bool) {
        if fusing, let out = fusedReLUOutput { return (out, true) }
        return (y, false)
    }

    init(n: Int, sampleOffset: Int, x: Tensor, y: Tensor, dx: Tensor, dy: Tensor, skip: Tensor, dskip: Tensor,
         values: [Tensor], grads: [Tensor], workspace: Tensor, state: OpState, needsInputGradient: Bool,
         layout: OpLayout = .plain, storesInputGradient: Bool = false, storesSkipGradient: Bool = false) {
        self.n = n; self.sampleOffset = sampleOffset
        self.x = x; self.y = y; self.dx = dx; self.dy = dy; self.skip = skip; self.dskip = dskip
        self.values = values; self.grads = grads; self.workspace = workspace; self.state = state
        self.needsInputGradient = needsInputGradient
        self.layout = layout
        self.storesInputGradient = storesInputGradient
        self.storesSkipGradient = storesSkipGradient
    }
}
