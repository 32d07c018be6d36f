// 2-D convolution. x (n, C, H, W), w (K, C, R, S), b (K), y (n, K, P, Q).
// Two paths with the same maths: im2col + GEMM on plain activations, and direct kernels on the
// channel-blocked layout (Layout.swift) when the plan runs it; the output's layout picks the path.
// The weights stay (K, C, R, S) in the parameters (initializers, LSUV, checkpoints); the blocked
// path converts them each step, and a plain input with them. At bf16 (layout.bf16, blocked only)
// forward, backward-data and (3×3 / stride 1 / pad 1, whole input blocks) backward-weights read bf16
// copies of x, w and dy.
import CKernels

public final class Conv2d: Op {
    public let kind = "conv"
    public var name = "conv"
    public let outChannels, kernel, stride, padding: Int
    public let hasBias: Bool
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    /// One sample's shape (N = 1); the input's C, H and W are 0 until `configure`.
    var shape: ck_conv2d_shape

    public init(_ outChannels: Int, kernel: Int = 3, stride: Int = 1, padding: Int? = nil,
                bias: Bool = true) {
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        self.padding = padding ?? kernel / 2; hasBias = bias
        shape = Kernels.convShape(n: 1, c: 0, h: 0, w: 0, k: outChannels, r: kernel, s: kernel, stride: stride,
                                  pad: self.padding)
    }

    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "needs a (C, H, W) input, got \(input)") }
        shape = Kernels.convShape(n: 1, c: input[0], h: input[1], w: input[2], k: outChannels, r: kernel,
                                  s: kernel, stride: stride, pad: padding)
        let p = windowOutputExtent(input[1], window: kernel, stride: stride, padding: padding)
        let q = windowOutputExtent(input[2], window: kernel, stride: stride, padding: padding)
        guard p > 0, q > 0, kernel > 0, stride > 0 else {
            throw ShapeError(name, "kernel \(kernel) does not fit input \(input)")
        }
        inputShape = input
        outputShape = [outChannels, p, q]
        return outputShape
    }

    public var paramSpecs: [ParamSpec] {
        let c = inputShape[0], rs = kernel * kernel
        var specs = [ParamSpec(name: "weight", shape: [outChannels, c, kernel, kernel],
                               role: .weight(fanIn: c * rs, fanOut: outChannels * rs))]
        if hasBias { specs.append(ParamSpec(name: "bias", shape: [outChannels], role: .bias)) }
        return specs
    }

    /// Blocked output only when it needs no padding channels: every blocked activation then holds
    /// exactly C·H·W values per sample, like its plain twin.
    public var blockedSupport: BlockedSupport { outChannels % Kernels.channelBlock == 0 ? .produces : .none }

    /// The blocked backward-data can store dx (the im2col path adds).
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { layout.output == .blocked && layout.inputBlocked }
    public var skipsUnneededInputGradient: Bool { true }

    public func workspaceSize(batch: Int) -> Int { workspaceSize(batch: batch, layout: .plain) }
    public func workspaceSize(batch: Int, layout: OpLayout) -> Int {
        let fp32 = Kernels.convWorkspace(shape(batch), layout: layout.output)
        guard runsBF16(layout) else { return fp32 }
        let s = shape(batch)
        return max(fp32, Kernels.convBF16Workspace(s),
                   Kernels.convBF16HasBackwardWeights(s) ? Kernels.convBF16WeightsWorkspace(s) : 0)
    }

    private func runsBF16(_ layout: OpLayout) -> Bool { layout.bf16 && layout.output == .blocked }

    public func makeState(chunks: [Int], layout: OpLayout) -> [OpState] {
        guard layout.output == .blocked else { return makeState(chunks: chunks) }
        let s = shape, w = Kernels.blockedWeightsCount(k: s.K, c: s.C, r: s.R, s: s.S)
        return chunks.map { n in
            let plainInput = layout.input == .plain
            let x = Kernels.blockedCount(n: n, c: s.C, h: s.H, w: s.W)
            let y = Kernels.blockedCount(n: n, c: s.K, h: outputShape[1], w: outputShape[2])
            let bf16 = runsBF16(layout)
                ? BF16Operands(weights: Buffer(count: w), input: Buffer(count: x), outputGrad: Buffer(count: y))
                : nil
            return .convBlocked(ConvBlockedState(
                weights: Tensor(zeros: [w]), weightGrad: Tensor(zeros: [w]),
                input: plainInput ? Tensor(zeros: [x]) : nil, inputGrad: plainInput ? Tensor(zeros: [x]) : nil,
                plainGrad: plainInput ? Tensor(zeros: [n * s.C * s.H * s.W]) : nil, bf16: bf16))
        }
    }

    public var flopsPerSample: Int {
        2 * outChannels * inputShape[0] * kernel * kernel * outputShape[1] * outputShape[2]
    }

    private func shape(_ n: Int) -> ck_conv2d_shape { var s = shape; s.N = n; return s }

    public func forward(_ ctx: OpContext) {
        let s = shape(ctx.n), layout = ctx.layout.output
        let (y, relu) = ctx.forwardTarget // a fused ReLU: blocked only (Fusion.swift)
        let bnRows = ctx.fusing ? ctx.bnRowSums : nil // the batch norm after: its statistics' row sums
        var x = ctx.x, w = ctx.values[0]
        if layout == .blocked {
            let st = ctx.state.convBlocked
            Kernels.toBlockedWeights(st.weights, from: w, k: s.K, c: s.C, r: s.R, s: s.S)
            w = st.weights
            if let xb = st.input {
                Kernels.toBlocked(xb, from: x, n: s.N, c: s.C, h: s.H, w: s.W)
                x = xb
            }
            if let h = st.bf16 {
                Kernels.blockedWeightsToBF16(wh: h.weights, wb: w, k: s.K, c: s.C, r: s.R, s: s.S)
                Kernels.toBF16(y: h.input, x: x)
                Kernels.convBF16Forward(y: y, x: h.input, w: h.weights, b: hasBias ? ctx.values[1] : nil,
                                        relu: relu, bnRows: bnRows, shape: s, workspace: ctx.workspace)
                return
            }
        }
        Kernels.convForward(layout: layout, y: y, x: x, w: w, b: hasBias ? ctx.values[1] : nil, relu: relu,
                            bnRows: bnRows, shape: s, workspace: ctx.workspace)
    }

    public func backward(_ ctx: OpContext) {
        let s = shape(ctx.n), layout = ctx.layout.output
        let db = hasBias ? ctx.grads[1] : nil
        guard layout == .blocked else {
            Kernels.convBackwardWeights(layout: .plain, dw: ctx.grads[0], db: db, dy: ctx.dy, x: ctx.x, shape: s,
                                        workspace: ctx.workspace)
            if ctx.needsInputGradient {
                Kernels.convBackwardData(layout: .plain, dx: ctx.dx, dy: ctx.dy, w: ctx.values[0], shape: s,
                                         workspace: ctx.workspace)
            }
            return
        }
        // blocked: dw goes through blocked weights; a plain input's dx through a blocked buffer, then a plain one
        let st = ctx.state.convBlocked
        st.weightGrad.fill(0)
        // dy in bf16 once, for backward-weights and backward-data (when either reads it)
        let bf16Weights = st.bf16 != nil && Kernels.convBF16HasBackwardWeights(s)
        if let h = st.bf16, bf16Weights || ctx.needsInputGradient { Kernels.toBF16(y: h.outputGrad, x: ctx.dy) }
        if let h = st.bf16, bf16Weights {
            Kernels.convBF16BackwardWeights(dw: st.weightGrad, db: db, dy: ctx.dy, dyh: h.outputGrad, x: h.input,
                                            shape: s, workspace: ctx.workspace)
        } else {
            Kernels.convBackwardWeights(layout: .blocked, dw: st.weightGrad, db: db, dy: ctx.dy,
                                        x: st.input ?? ctx.x, shape: s, workspace: ctx.workspace)
        }
        Kernels.accumulateBlockedWeights(ctx.grads[0], from: st.weightGrad, k: s.K, c: s.C, r: s.R, s: s.S)
        guard ctx.needsInputGradient else { return }
        if let dxb = st.inputGrad, let plain = st.plainGrad {
            dxb.fill(0)
            backwardData(ctx, dx: dxb, accumulate: true, state: st, shape: s)
            Kernels.fromBlocked(plain, from: dxb, n: s.N, c: s.C, h: s.H, w: s.W)
            Kernels.accumulate(y: ctx.dx, x: plain)
        } else if ctx.fusing, let f = ctx.fusedReLUGradient { // the ReLU before: its input gradient, masked
            backwardData(ctx, dx: f.dx, accumulate: false, mask: f.mask, state: st, shape: s)
        } else {
            backwardData(ctx, dx: ctx.dx, accumulate: !ctx.storesInputGradient, state: st, shape: s)
        }
    }

    /// Blocked backward-data in the op's precision: dx (+)= conv_transpose(dy, w), masked by `mask` > 0.
    private func backwardData(_ ctx: OpContext, dx: Tensor, accumulate: Bool, mask: Tensor? = nil,
                              state st: ConvBlockedState, shape s: ck_conv2d_shape) {
        if let h = st.bf16 {
            Kernels.convBF16BackwardData(dx: dx, dy: h.outputGrad, w: h.weights, accumulate: accumulate,
                                         reluMask: mask, shape: s, workspace: ctx.workspace)
        } else {
            Kernels.convBackwardData(layout: .blocked, dx: dx, dy: ctx.dy, w: st.weights, accumulate: accumulate,
                                     reluMask: mask, shape: s, workspace: ctx.workspace)
        }
    }
}
