// Fully connected layers.

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
    public var flopsPerSample: Int { 2 * inFeatures * outFeatures }

    public func forward(_ ctx: OpContext) {
        Kernels.gemm(transA: false, transB: true, m: ctx.n, n: outFeatures, k: inFeatures, a: ctx.x, b: ctx.values[0],
                     beta: 0, c: ctx.y, workspace: ctx.workspace)
        if hasBias { Kernels.addBias(y: ctx.y, b: ctx.values[1], n: ctx.n, k: outFeatures, hw: 1) }
    }

    public func backward(_ ctx: OpContext) {
        // dw (out, in) += dyᵀ (out, n) · x (n, in); db += Σ_n dy; dx (n, in) += dy (n, out) · w (out, in)
        Kernels.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: ctx.n, a: ctx.dy, b: ctx.x,
                     beta: 1, c: ctx.grads[0], workspace: ctx.workspace)
        if hasBias { Kernels.biasBackward(db: ctx.grads[1], dy: ctx.dy, n: ctx.n, k: outFeatures, hw: 1) }
        if ctx.needsInputGradient {
            Kernels.gemm(transA: false, transB: false, m: ctx.n, n: inFeatures, k: outFeatures, a: ctx.dy,
                         b: ctx.values[0], beta: 1, c: ctx.dx, workspace: ctx.workspace)
        }
    }
}
