// What a network may ask for, checked before any op divides by a size or any buffer is allocated:
// layer values in range, windows that fit, sizes whose Int arithmetic cannot overflow, and
// memory within the machine's.
import Foundation

public enum NetworkLimits {
    /// Residual blocks nested deeper than this are refused (model files bound it before parsing).
    public static let nesting = 32
    /// Ops in one network.
    public static let ops = 10_000
    /// Largest channel count, feature count, kernel, stride, padding or window: far above any real
    /// network, small enough that the ops' own size formulas cannot overflow Int.
    public static let size = 1 << 20
    /// Largest element count of one activation (per sample) or of all parameters; beyond it no
    /// machine has the memory, and products of such counts still fit in Int.
    public static let elements = 1 << 36

    /// The memory this process may use in bytes: the smallest of the machine's RAM, the cgroup's
    /// limit and RLIMIT_AS/RLIMIT_DATA (MemoryLimit), which every allocation check compares with.
    public static var physicalMemory: Double { MemoryLimit.current.bytes }

    /// Product of `factors`, nil on overflow or a negative factor.
    public static func product(_ factors: [Int]) -> Int? {
        var p = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (r, overflow) = p.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            p = r
        }
        return p
    }

    static func gigabytes(_ bytes: Double) -> String { String(format: "%.1f GB", bytes / 1e9) }
}

extension LayerSpec {
    /// The layer's name as model files spell it, for messages.
    var kindName: String {
        switch self {
        case .conv: "conv"
        case .linear: "linear"
        case .batchNorm: "batchnorm"
        case .relu: "relu"
        case .leakyRelu: "leaky_relu"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        case .prelu: "prelu"
        case .maxout: "maxout"
        case .maxPool: "maxpool"
        case .avgPool: "avgpool"
        case .globalAvgPool: "global_avgpool"
        case .globalMaxPool: "global_maxpool"
        case .dropout: "dropout"
        case .flatten: "flatten"
        case .residual: "residual"
        }
    }

    /// Refuses values no layer can run with (zero sizes, zero strides, NaN slopes), before an op
    /// is made from them. `at` names the layer in the message.
    func checkValues(at: String) throws {
        func size(_ v: Int, _ what: String, min: Int = 1) throws {
            guard v >= min, v <= NetworkLimits.size else {
                throw ShapeError(at, "\(what) must be in \(min)...\(NetworkLimits.size), got \(v)")
            }
        }
        switch self {
        case let .conv(out, kernel, stride, padding, _):
            try size(out, "out"); try size(kernel, "kernel"); try size(stride, "stride")
            if let padding { try size(padding, "padding", min: 0) }
        case let .linear(out, _): try size(out, "out")
        case let .leakyRelu(slope):
            guard slope.isFinite else { throw ShapeError(at, "slope must be a finite number, got \(slope)") }
        case let .maxout(pieces): try size(pieces, "pieces")
        case let .maxPool(window, stride), let .avgPool(window, stride):
            try size(window, "window")
            if let stride { try size(stride, "stride") }
        case let .dropout(p):
            guard p >= 0, p < 1 else { throw ShapeError(at, "p must be in [0, 1), got \(p)") }
        case let .residual(inner, _):
            guard !inner.isEmpty else { throw ShapeError(at, "a residual block needs at least one layer") }
        case .batchNorm, .relu, .tanh, .sigmoid, .prelu, .globalAvgPool, .globalMaxPool, .flatten: break
        }
    }
}

extension Network {
    /// Refuses an op whose window does not fit its input: the ops' integer output-size formula
    /// rounds a negative numerator up to zero and would accept it.
    static func checkWindowFits(_ op: Op, input: [Int]) throws {
        let window: Int, padding: Int
        if let conv = op as? Conv2d { (window, padding) = (conv.kernel, conv.padding) }
        else if let pool = op as? Pool2d { (window, padding) = (pool.window, pool.padding) }
        else { return }
        guard input.count == 3 else { return } // the op's configure names the wrong rank
        for (axis, extent) in [("height", input[1]), ("width", input[2])] where extent + 2 * padding < window {
            throw ShapeError(op.name, "window \(window) is larger than the input's \(axis) \(extent)"
                             + (padding > 0 ? " plus padding 2×\(padding)" : "") + " (input \(input))")
        }
    }

    /// Element count of a per-sample shape, refused when it overflows or exceeds the limit.
    static func checkedCount(_ shape: [Int], _ what: String, op: String) throws -> Int {
        guard let n = NetworkLimits.product(shape), n <= NetworkLimits.elements else {
            throw ShapeError(op, "\(what) \(shape) has too many elements (limit \(NetworkLimits.elements))")
        }
        return n
    }

    /// Bytes training would hold at this batch and chunk size: parameters with their gradients
    /// and optimizer state, and per chunk its activations, gradients, gradient buffer and scratch.
    /// Computed in Double, so it cannot overflow; `largest` names the biggest single part.
    public func estimatedTrainingBytes(batch: Int, chunk: Int, optimizerStates: Int)
        -> (bytes: Double, largest: String)
    {
        let paramCount = Double(params.count)
        let size = Double(max(1, min(chunk, batch))), chunks = (Double(batch) / size).rounded(.up)
        var largest = ("the parameters", paramCount * 4 * Double(2 + optimizerStates))
        var activations = 0.0
        for (i, shape) in shapes.enumerated() where i == 0 || !aliases(i - 1) {
            let bytes = 2 * 4 * Double(shape.reduce(1) { $0 * Double($1) }) // value and gradient
            activations += bytes
            let name = i == 0 ? "the input" : "\(ops[i - 1].name)'s output"
            if bytes * Double(batch) > largest.1 { largest = (name + " for batch \(batch)", bytes * Double(batch)) }
        }
        for e in params.entries where Double(e.spec.count) * 4 > largest.1 {
            largest = ("\(e.name) (\(e.spec.shape))", Double(e.spec.count) * 4)
        }
        var total = paramCount * (4 * Double(2 + optimizerStates) + 1) + chunks * (size * activations + paramCount * 4)
        // Scratch is asked from the ops only once the rest fits: their formulas then stay small.
        if total < NetworkLimits.physicalMemory {
            let scratch = ops.indices.map { ops[$0].workspaceSize(batch: Int(size), layout: opLayout($0)) }
            total += chunks * 4 * Double(scratch.max() ?? 0)
        }
        return (total, "\(largest.0): \(NetworkLimits.gigabytes(largest.1))")
    }

    /// Refuses a training set-up that needs more memory than the process may use, naming the largest part.
    public func checkMemory(batch: Int, chunk: Int, optimizerStates: Int) throws {
        let (bytes, largest) = estimatedTrainingBytes(batch: batch, chunk: chunk, optimizerStates: optimizerStates)
        let have = MemoryLimit.current
        guard bytes <= have.bytes else {
            throw ShapeError(name, "needs about \(NetworkLimits.gigabytes(bytes)) to train at batch \(batch) "
                             + "(largest: \(largest)), this machine has \(NetworkLimits.gigabytes(have.bytes)) "
                             + "for it (\(have.source))")
        }
    }
}
