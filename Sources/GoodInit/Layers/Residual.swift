// Residual connections (He et al. 2016): the add that closes a block.

/// The end of a residual block: y = x + activation[source] (the block's input). Backward sends
/// dy both ways: into dx and into the gradient of the block's input.
public final class ResidualAdd: Op {
    public let kind = "residual_add"
    public var name = "add"
    public let source: Int
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    public init(source: Int) { self.source = source }
    public func configure(input: [Int]) throws -> [Int] { inputShape = input; outputShape = input; return input }
    public var flopsPerSample: Int { inputShape.reduce(1, *) }
    /// The block's input, wired by the plan as `skip` / `dskip`.
    public var skipSource: Int? { source }
    /// Elementwise: any layout, the same for both inputs (Layout.swift checks).
    public var blockedSupport: BlockedSupport { .keeps }
    public func forward(_ ctx: OpContext) { Kernels.add(y: ctx.y, a: ctx.x, b: ctx.skip) }
    public func backward(_ ctx: OpContext) {
        Kernels.accumulate(y: ctx.dx, x: ctx.dy)
        Kernels.accumulate(y: ctx.dskip, x: ctx.dy)
    }
}
