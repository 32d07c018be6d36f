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
    public func forward(_ c: OpContext) {
        if !c.training || p == 0 { c.y.assign(c.x); return }
        Kernels.dropoutForward(y: c.y, mask: c.state.mask, x: c.x, p: p, seed: c.seed,
                               offset: UInt64(c.sampleOffset * inputShape.reduce(1, *)))
    }
    public func backward(_ c: OpContext) {
        if !c.training || p == 0 { Kernels.accumulate(y: c.dx, x: c.dy); return }
        Kernels.dropoutBackward(dx: c.dx, dy: c.dy, mask: c.state.mask, p: p)
    }
}
