// Pooling and reshaping: max / average pooling, global average / max pooling, flatten.
import CKernels

public final class Pool2d: Op {
    public enum Mode: Sendable { case max, average }
    public let mode: Mode
    public let window, stride, padding: Int
    public var name = "pool"
    public var kind: String { mode == .max ? "maxpool" : "avgpool" }
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var shape = ck_pool_shape()

    public init(_ mode: Mode, window: Int = 2, stride: Int? = nil, padding: Int = 0) {
        self.mode = mode; self.window = window; self.stride = stride ?? window; self.padding = padding
    }
    public func configure(input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "needs a (C, H, W) input, got \(input)") }
        shape = ck_pool_shape(N: 1, C: input[0], H: input[1], W: input[2], R: window, S: window,
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
    public func forward(_ c: OpContext) {
        switch mode {
        case .max: Kernels.maxPoolForward(y: c.y, argmax: c.state.argmax, x: c.x, shape: shape(c.n))
        case .average: Kernels.avgPoolForward(y: c.y, x: c.x, shape: shape(c.n))
        }
    }
    public func backward(_ c: OpContext) {
        switch mode {
        case .max: Kernels.maxPoolBackward(dx: c.dx, dy: c.dy, argmax: c.state.argmax, shape: shape(c.n))
        case .average: Kernels.avgPoolBackward(dx: c.dx, dy: c.dy, shape: shape(c.n))
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
    public func forward(_ c: OpContext) {
        switch mode {
        case .max:
            Kernels.globalMaxPoolForward(y: c.y, argmax: c.state.argmax, x: c.x, n: c.n, c: channels, hw: hw)
        case .average: Kernels.globalAvgPoolForward(y: c.y, x: c.x, n: c.n, c: channels, hw: hw)
        }
    }
    public func backward(_ c: OpContext) {
        switch mode {
        case .max:
            Kernels.globalMaxPoolBackward(dx: c.dx, dy: c.dy, argmax: c.state.argmax, n: c.n, c: channels, hw: hw)
        case .average: Kernels.globalAvgPoolBackward(dx: c.dx, dy: c.dy, n: c.n, c: channels, hw: hw)
        }
    }
}

/// (C, H, W) → (C·H·W). NCHW is already flat per sample: the output aliases the input.
public final class Flatten: AliasOp {
    public let kind = "flatten"
    public var name = "flatten"
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    public init() {}
    public func configure(input: [Int]) throws -> [Int] {
        inputShape = input; outputShape = [input.reduce(1, *)]; return outputShape
    }
    public func forward(_ c: OpContext) {}
    public func backward(_ c: OpContext) {}
}
