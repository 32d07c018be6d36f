// Pooling and reshaping: max / average pooling, global average / max pooling, flatten.
import CKernels

public final class Pool2d: Op {
    public enum Mode: Sendable { case max, average }
    public let mode: Mode
    public let window, stride, padding: Int
    public var name = "pool"
    public var kind: String { mode == .max ? "maxpool" : "avgpool" }
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    /// One sample's shape (N = 1); the input's C, H and W are 0 until `configure`.
    var shape: ck_pool_shape

    public init(_ mode: Mode, window: Int = 2, stride: Int? = nil, padding: Int = 0) {
        self.mode = mode; self.window = window; self.stride = stride ?? window; self.padding = padding
        shape = Kernels.poolShape(n: 1, c: 0, h: 0, w: 0, r: window, s: window, stride: self.stride, pad: padding)
    }
    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "needs a (C, H, W) input, got \(input)") }
        shape = Kernels.poolShape(n: 1, c: input[0], h: input[1], w: input[2], r: window, s: window,
                                  stride: stride, pad: padding)
        let p = windowOutputExtent(input[1], window: window, stride: stride, padding: padding)
        let q = windowOutputExtent(input[2], window: window, stride: stride, padding: padding)
        guard p > 0, q > 0, padding < window else { throw ShapeError(name, "window \(window) does not fit \(input)") }
        inputShape = input; outputShape = [input[0], p, q]
        return outputShape
    }
    public func makeState(chunks: [Int]) -> [OpState] {
        chunks.map { mode == .max ? .argmax(IndexBuffer(count: $0 * outputShape.reduce(1, *))) : .none }
    }
    private func shape(_ n: Int) -> ck_pool_shape { var s = shape; s.N = n; return s }
    public var blockedSupport: BlockedSupport { .keeps }
    /// Max pooling's backward zeroes each plane itself before adding (in cache, not a pass of its own).
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { mode == .max }
    public func forward(_ ctx: OpContext) {
        let (s, layout) = (shape(ctx.n), ctx.layout.input)
        switch mode {
        case .max: Kernels.maxPoolForward(layout: layout, y: ctx.y, argmax: ctx.state.argmax, x: ctx.x, shape: s)
        case .average: Kernels.avgPoolForward(layout: layout, y: ctx.y, x: ctx.x, shape: s)
        }
    }
    public func backward(_ ctx: OpContext) {
        let (s, layout) = (shape(ctx.n), ctx.layout.input)
        switch mode {
        case .max:
            if ctx.fusing, let f = ctx.fusedReLUGradient { // the ReLU before: its input gradient, masked
                Kernels.maxPoolBackward(layout: layout, dx: f.dx, dy: ctx.dy, argmax: ctx.state.argmax,
                                        accumulate: false, reluMask: f.mask, shape: s)
            } else {
                Kernels.maxPoolBackward(layout: layout, dx: ctx.dx, dy: ctx.dy, argmax: ctx.state.argmax,
                                        accumulate: !ctx.storesInputGradient, shape: s)
            }
        case .average: Kernels.avgPoolBackward(layout: layout, dx: ctx.dx, dy: ctx.dy, shape: s)
        }
    }
}

/// (C, H, W) → (C): the mean or the max of each channel.
public final class GlobalPool: Op {
    public let mode: Pool2d.Mode
    public var name = "gpool"
    public var kind: String { mode == .max ? "global_maxpool" : "global_avgpool" }
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var channels = 0, hw = 0
    public init(_ mode: Pool2d.Mode = .average) { self.mode = mode }
    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "needs a (C, H, W) input, got \(input)") }
        inputShape = input; channels = input[0]; hw = input[1] * input[2]; outputShape = [channels]
        return outputShape
    }
    public func makeState(chunks: [Int]) -> [OpState] {
        chunks.map { mode == .max ? .argmax(IndexBuffer(count: $0 * channels)) : .none }
    }
    /// Reads either layout; the (C) output is plain.
    public var blockedSupport: BlockedSupport { .consumes }
    public func forward(_ ctx: OpContext) {
        let (n, ch, layout) = (ctx.n, channels, ctx.layout.input)
        switch mode {
        case .max:
            Kernels.globalMaxPoolForward(layout: layout, y: ctx.y, argmax: ctx.state.argmax, x: ctx.x, n: n,
                                         c: ch, hw: hw)
        case .average: Kernels.globalAvgPoolForward(layout: layout, y: ctx.y, x: ctx.x, n: n, c: ch, hw: hw)
        }
    }
    public func backward(_ ctx: OpContext) {
        let (n, ch, layout) = (ctx.n, channels, ctx.layout.input)
        switch mode {
        case .max:
            Kernels.globalMaxPoolBackward(layout: layout, dx: ctx.dx, dy: ctx.dy, argmax: ctx.state.argmax, n: n, c: ch,
                                          hw: hw)
        case .average: Kernels.globalAvgPoolBackward(layout: layout, dx: ctx.dx, dy: ctx.dy, n: n, c: ch, hw: hw)
        }
    }
}

/// (C, H, W) → (C·H·W) in NCHW order. A plain input is already flat per sample: the output
/// aliases it (Network.aliases). A blocked input is converted, and its gradient converted back.
public final class Flatten: AliasOp {
    public let kind = "flatten"
    public var name = "flatten"
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    public init() {}
    public func configure(input: [Int]) throws -> [Int] {
        inputShape = input; outputShape = [input.reduce(1, *)]; return outputShape
    }
    public var blockedSupport: BlockedSupport { .consumes }
    public func workspaceSize(batch: Int, layout: OpLayout) -> Int {
        layout.inputBlocked ? batch * outputShape[0] : 0
    }
    public func forward(_ ctx: OpContext) {
        guard ctx.layout.inputBlocked else { return }
        Kernels.fromBlocked(ctx.y, from: ctx.x, n: ctx.n, c: inputShape[0], h: inputShape[1], w: inputShape[2])
    }
    public func backward(_ ctx: OpContext) {
        guard ctx.layout.inputBlocked else { return }
        // dx accumulates: convert into scratch, then add
        Kernels.toBlocked(ctx.workspace, from: ctx.dy, n: ctx.n, c: inputShape[0], h: inputShape[1], w: inputShape[2])
        Kernels.accumulate(y: ctx.dx, x: ctx.workspace)
    }
}
