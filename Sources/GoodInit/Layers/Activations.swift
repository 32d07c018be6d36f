// Activations: ReLU, leaky ReLU, tanh, sigmoid (elementwise), PReLU (learned slopes), maxout.
import Foundation

/// Elementwise activations. Backward reads the saved input (ReLU, leaky) or output (tanh, sigmoid).
public final class Activation: Op, Nonlinearity {
    public enum Function: Sendable, Equatable { case relu, leakyRelu(Float), tanh, sigmoid }
    public let function: Function
    public var name = "act"
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []

    public init(_ f: Function) { function = f }
    public var kind: String {
        switch function {
        case .relu: return "relu"
        case .leakyRelu: return "leaky_relu"
        case .tanh: return "tanh"
        case .sigmoid: return "sigmoid"
        }
    }
    public var gain: Double {
        switch function {
        case .relu: return 2.0.squareRoot()
        case .leakyRelu(let a): return (2.0 / (1 + Double(a) * Double(a))).squareRoot()
        case .tanh: return 5.0 / 3.0
        case .sigmoid: return 1
        }
    }
    var kernel: Kernels.Unary {
        switch function {
        case .relu: return .relu
        case .leakyRelu(let a): return .leaky(a)
        case .tanh: return .tanh
        case .sigmoid: return .sigmoid
        }
    }
    public func configure(input: [Int]) throws -> [Int] { inputShape = input; outputShape = input; return input }
    public var flopsPerSample: Int { inputShape.reduce(1, *) }
    /// Elementwise: any layout.
    public var blockedSupport: BlockedSupport { .keeps }
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { true }
    public func forward(_ ctx: OpContext) {
        if ctx.fusing && ctx.reluForwardFused { return } // the op before stored max(y, 0) in ctx.y
        Kernels.unaryForward(kernel, y: ctx.y, x: ctx.x)
    }
    /// ReLU reads its output (y > 0 exactly where x > 0, NaN included), as a fused backward does:
    /// a fused forward leaves x unwritten.
    public func backward(_ ctx: OpContext) {
        if ctx.fusing && ctx.reluBackwardFused { return } // the convolution after stored dx masked
        let usesOutput = function == .tanh || function == .sigmoid || function == .relu
        Kernels.unaryBackward(kernel, dx: ctx.dx, dy: ctx.dy, saved: usesOutput ? ctx.y : ctx.x,
                              accumulate: !ctx.storesInputGradient)
    }
}

/// PReLU (He et al. 2015): f(y) = max(0, y) + a·min(0, y); a per channel or one shared, starting
/// at 0.25, learned with momentum and no weight decay.
public final class PReLU: Op, Nonlinearity {
    public let kind = "prelu"
    public var name = "prelu"
    public let shared: Bool
    public let initial: Float
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var channels = 1, hw = 1

    public init(shared: Bool = false, initial: Float = 0.25) { self.shared = shared; self.initial = initial }
    public var gain: Double { (2.0 / (1 + Double(initial) * Double(initial))).squareRoot() }
    public func configure(input: [Int]) throws -> [Int] {
        inputShape = input; outputShape = input
        channels = input[0]
        hw = input.dropFirst().reduce(1, *)
        return input
    }
    public var paramSpecs: [ParamSpec] {
        [ParamSpec(name: "slope", shape: [shared ? 1 : channels], role: .slope(initial: initial))]
    }
    public var flopsPerSample: Int { inputShape.reduce(1, *) }
    public var blockedSupport: BlockedSupport { .keeps }
    public func forward(_ ctx: OpContext) {
        Kernels.preluForward(layout: ctx.layout.input, y: ctx.y, x: ctx.x, a: ctx.values[0], shared: shared, n: ctx.n,
                             c: channels, hw: hw)
    }
    public func backward(_ ctx: OpContext) {
        Kernels.preluBackward(layout: ctx.layout.input, dx: ctx.dx, da: ctx.grads[0], dy: ctx.dy, x: ctx.x,
                              a: ctx.values[0],
                              shared: shared, n: ctx.n, c: channels, hw: hw)
    }
}

/// Maxout (Goodfellow et al. 2013): the max over groups of k consecutive channels (or features).
public final class Maxout: Op, Nonlinearity {
    public let kind = "maxout"
    public var name = "maxout"
    public let pieces: Int
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    var groups = 1, hw = 1
    public init(pieces: Int = 2) { self.pieces = pieces }
    public var gain: Double { 1 }
    public func configure(input: [Int]) throws -> [Int] {
        guard pieces > 0, input[0] % pieces == 0 else {
            throw ShapeError(name, "\(input[0]) channels do not split into groups of \(pieces)")
        }
        inputShape = input
        groups = input[0] / pieces
        hw = input.dropFirst().reduce(1, *)
        outputShape = [groups] + input.dropFirst()
        return outputShape
    }
    public func makeState(chunks: [Int]) -> [OpState] { chunks.map { .argmax(IndexBuffer(count: $0 * groups * hw)) } }
    public func forward(_ ctx: OpContext) {
        Kernels.maxoutForward(y: ctx.y, argmax: ctx.state.argmax, x: ctx.x, k: pieces, n: ctx.n, c: groups, hw: hw)
    }
    public func backward(_ ctx: OpContext) {
        Kernels.maxoutBackward(dx: ctx.dx, dy: ctx.dy, argmax: ctx.state.argmax, k: pieces, n: ctx.n, c: groups, hw: hw)
    }
}
