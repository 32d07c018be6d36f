// Fully connected layers. At --precision bf16 (layout.bf16) forward and backward-data read bf16
// copies of x, w and dy (FP32 accumulation); the weight gradient stays FP32.

/// Fully connected. x (n, in), w (out, in), b (out), y (n, out) = x·wᵀ + b.
public final class Linear: Op {
    public let kind = "linear"
    public var name = "linear"
    public let outFeatures: Int
    public let hasBias: Bool
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var inFeatures: Int { inputShape.reduce(1, *) }

    public init(_ outFeatures: Int, bias: Bool = true) { self.outFeatures = outFeatures; hasBias = bias }

    public func configure(input: [Int]) throws -> [Int] {
        guard !input.isEmpty, outFeatures > 0 else { throw ShapeError(name, "bad input \(input)") }
        inputShape = input
        outputShape = [outFeatures]
        return outputShape
    }

    public var paramSpecs: [ParamSpec] {
        var specs = [ParamSpec(name: "weight", shape: [outFeatures, inFeatures],
                               role: .weight(fanIn: inFeatures, fanOut: outFeatures))]
        if hasBias { specs.append(ParamSpec(name: "bias", shape: [outFeatures], role: .bias)) }
        return specs
    }

    public func workspaceSize(batch: Int) -> Int {
        let (n, i, o) = (batch, inFeatures, outFeatures)
        return max(Kernels.gemmWorkspace(m: n, n: o, k: i), Kernels.gemmWorkspace(m: n, n: i, k: o),
                   Kernels.gemmWorkspace(m: o, n: i, k: n))
    }
    public func workspaceSize(batch: Int, layout: OpLayout) -> Int {
        let (n, i, o) = (batch, inFeatures, outFeatures)
        let fp32 = workspaceSize(batch: batch)
        return layout.bf16 ? max(fp32, Kernels.gemmBF16Workspace(m: n, n: o, k: i),
                                 Kernels.gemmBF16Workspace(m: n, n: i, k: o)) : fp32
    }
    public var flopsPerSample: Int { 2 * inFeatures * outFeatures }

    public func makeState(chunks: [Int], layout: OpLayout) -> [OpState] {
        guard layout.bf16 else { return makeState(chunks: chunks) }
        return chunks.map { n in
            .bf16(BF16Operands(weights: Buffer(count: outFeatures * inFeatures), input: Buffer(count: n * inFeatures),
                               outputGrad: Buffer(count: n * outFeatures)))
        }
    }

    public func forward(_ ctx: OpContext) {
        let (y, relu) = ctx.forwardTarget // a fused ReLU (Fusion.swift; with a bias only): max(y + b, 0)
        if case .bf16(let h) = ctx.state {
            Kernels.toBF16(y: h.weights, x: ctx.values[0])
            Kernels.toBF16(y: h.input, x: ctx.x)
            Kernels.gemmBF16(transA: false, transB: true, m: ctx.n, n: outFeatures, k: inFeatures, a: h.input,
                             b: h.weights, beta: 0, c: y, workspace: ctx.workspace)
        } else {
            Kernels.gemm(transA: false, transB: true, m: ctx.n, n: outFeatures, k: inFeatures, a: ctx.x,
                         b: ctx.values[0], beta: 0, c: y, workspace: ctx.workspace)
        }
        if hasBias && relu { Kernels.addBiasReLU(y: y, b: ctx.values[1], n: ctx.n, k: outFeatures) }
        else if hasBias { Kernels.addBias(y: y, b: ctx.values[1], n: ctx.n, k: outFeatures, hw: 1) }
    }

    /// dx, dw and db are stored when the plan asks (beta 0, no read of the zeroed buffers).
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { true }
    public var storesParamGradients: Bool { true }

    /// dx is written only when needsInputGradient (below), as Op.skipsUnneededInputGradient says.
    public var skipsUnneededInputGradient: Bool { true }

    public func backward(_ ctx: OpContext) {
        // dw (out, in) += dyᵀ (out, n) · x (n, in); db += Σ_n dy; dx (n, in) += dy (n, out) · w (out, in);
        // each = instead of += when the plan left it unzeroed
        let storeParams = ctx.storesParamGradients
        Kernels.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: ctx.n, a: ctx.dy, b: ctx.x,
                     beta: storeParams ? 0 : 1, c: ctx.grads[0], workspace: ctx.workspace)
        if hasBias {
            if storeParams { ctx.grads[1].fill(0) } // 1 value per output: the sum's own zero start
            Kernels.biasBackward(db: ctx.grads[1], dy: ctx.dy, n: ctx.n, k: outFeatures, hw: 1)
        }
        guard ctx.needsInputGradient else { return }
        let beta: Float = ctx.storesInputGradient ? 0 : 1
        if case .bf16(let h) = ctx.state {
            Kernels.toBF16(y: h.outputGrad, x: ctx.dy)
            Kernels.gemmBF16(transA: false, transB: false, m: ctx.n, n: inFeatures, k: outFeatures, a: h.outputGrad,
                             b: h.weights, beta: beta, c: ctx.dx, workspace: ctx.workspace)
        } else {
            Kernels.gemm(transA: false, transB: false, m: ctx.n, n: inFeatures, k: outFeatures, a: ctx.dy,
                         b: ctx.values[0], beta: beta, c: ctx.dx, workspace: ctx.workspace)
        }
    }
}
