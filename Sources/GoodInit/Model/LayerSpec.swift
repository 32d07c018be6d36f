// A network as data: what presets and model files describe, turned into ops by Network.
public indirect enum LayerSpec: Sendable, Equatable {
    case conv(out: Int, kernel: Int = 3, stride: Int = 1, padding: Int? = nil, bias: Bool = true)
    case linear(out: Int, bias: Bool = true)
    case batchNorm
    case relu, leakyRelu(Float), tanh, sigmoid
    case prelu(shared: Bool)
    case maxout(pieces: Int)
    case maxPool(window: Int, stride: Int?), avgPool(window: Int, stride: Int?)
    case globalAvgPool, globalMaxPool
    case dropout(Float)
    case flatten
    /// y = S(x) + f(x), f the inner sequence; S the identity (f keeps the shape), option A's
    /// subsample-and-pad or option B's 1×1 projection + batch norm (Layers/Residual.swift).
    case residual([LayerSpec], shortcut: Shortcut = .identity)

    func makeOp() -> Op {
        switch self {
        case let .conv(out, kernel, stride, padding, bias):
            return Conv2d(out, kernel: kernel, stride: stride, padding: padding, bias: bias)
        case let .linear(out, bias): return Linear(out, bias: bias)
        case .batchNorm: return BatchNorm()
        case .relu: return Activation(.relu)
        case .leakyRelu(let a): return Activation(.leakyRelu(a))
        case .tanh: return Activation(.tanh)
        case .sigmoid: return Activation(.sigmoid)
        case .prelu(let shared): return PReLU(shared: shared)
        case .maxout(let k): return Maxout(pieces: k)
        case let .maxPool(w, s): return Pool2d(.max, window: w, stride: s)
        case let .avgPool(w, s): return Pool2d(.average, window: w, stride: s)
        case .globalAvgPool: return GlobalPool(.average)
        case .globalMaxPool: return GlobalPool(.max)
        case .dropout(let p): return Dropout(p)
        case .flatten: return Flatten()
        case .residual: fatalError("residual blocks are flattened by Network")
        }
    }
}
