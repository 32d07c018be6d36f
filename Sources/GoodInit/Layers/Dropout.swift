// Dropout (Srivastava et al. 2014), inverted: kept values are scaled by 1/(1 − p) in training.

/// Inverted dropout with a counter-based mask: sample i of the batch draws from counters that
/// depend on (seed, step, i) only, whatever chunk or worker computes it.
public final class Dropout: Op {
    public let kind = "dropout"
    public var name = "dropout"
    public let p: Float
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    public init(_ p: Float = 0.5) { self.p = p }
    public func configure(input: [Int]) throws -> [Int] {
        guard p >= 0, p < 1 else { throw ShapeError(name, "p must be in [0, 1), got \(p)") }
        inputShape = input; outputShape = input; return input
    }
    public func makeState(chunks: [Int]) -> [OpState] {
        chunks.map { .mask(ByteBuffer(count: $0 * inputShape.reduce(1, *))) }
    }
    /// Elementwise: any layout (a sample's mask follows its values' order in memory).
    public var blockedSupport: BlockedSupport { .keeps }
    public func forward(_ ctx: OpContext) {
        if !ctx.training || p == 0 { ctx.y.assign(ctx.x); return }
        Kernels.dropoutForward(y: ctx.y, mask: ctx.state.mask, x: ctx.x, p: p, seed: ctx.seed,
                               offset: UInt64(ctx.sampleOffset * inputShape.reduce(1, *)))
    }
    public func backward(_ ctx: OpContext) {
        if !ctx.training || p == 0 { Kernels.accumulate(y: ctx.dx, x: ctx.dy); return }
        Kernels.dropoutBackward(dx: ctx.dx, dy: ctx.dy, mask: ctx.state.mask, p: p)
    }
}
