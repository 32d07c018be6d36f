// A network: the flat op list, its activation shapes, and its parameters in one flat buffer.
import Foundation

/// All trainable values in one buffer, with named views (llm.c style): zero-grad is one fill,
/// the optimizer one loop, the data-parallel gradient sum one pass.
public final class ParameterStore {
    public struct Entry: Sendable {
        public let op: Int
        public let name: String       // "conv3.weight"
        public let spec: ParamSpec
        public let offset: Int
    }
    public let entries: [Entry]
    public let count: Int
    public let values: Tensor         // (count)
    public let grad: Tensor           // (count)
    public let decayMask: ByteBuffer  // 1 where weight decay applies

    init(entries: [Entry], count: Int) {
        self.entries = entries
        self.count = count
        values = Tensor(zeros: [max(count, 1)])
        grad = Tensor(zeros: [max(count, 1)])
        decayMask = ByteBuffer(count: max(count, 1))
        for e in entries where e.spec.role.decays {
            for i in e.offset..<(e.offset + e.spec.count) { decayMask[i] = 1 }
        }
    }

    /// The view of one parameter inside a flat buffer laid out like `values`.
    public func view(_ e: Entry, in flat: Tensor) -> Tensor { flat.view(from: e.offset, shape: e.spec.shape) }
}

public final class Network {
    public let name: String
    public let inputShape: [Int]
    public let ops: [Op]
    /// Per-sample shape of activation i (the input of op i); shapes.count == ops.count + 1.
    public let shapes: [[Int]]
    public let params: ParameterStore
    /// Entries of each op, in its paramSpecs order.
    public let opEntries: [[ParameterStore.Entry]]
    /// Which layouts plans made from now on use; `layouts` follows it.
    /// The arithmetic of the blocked convolutions and the linear layers; FP32 everywhere else.
    public var precision = Precision.fp32
    public var layoutPolicy = LayoutPolicy.auto { didSet { layouts = activationLayouts(layoutPolicy) } }
    /// The layout of each activation (Layout.swift).
    public private(set) var layouts: [ActivationLayout] = []

    public var classes: Int { shapes.last!.reduce(1, *) }
    public var parameterCount: Int { params.entries.reduce(0) { $0 + $1.spec.count } }
    public var flopsPerSample: Int { ops.reduce(0) { $0 + $1.flopsPerSample } }

    public init(name: String, input: [Int], layers: [LayerSpec]) throws {
        self.name = name
        inputShape = input
        var ops: [Op] = [], shapes: [[Int]] = [input]
        var counts: [String: Int] = [:]
        var flops = 0
        func add(_ specs: [LayerSpec], depth: Int) throws {
            guard depth <= NetworkLimits.nesting else {
                throw ShapeError(name, "residual blocks nested deeper than \(NetworkLimits.nesting)")
            }
            for spec in specs {
                try spec.checkValues(at: "\(name): layer \(ops.count + 1) (\(spec.kindName))")
                if case .residual(let inner, let shortcut) = spec {
                    let source = shapes.count - 1
                    try add(inner, depth: depth + 1)
                    try close(source: source, shortcut)
                    continue
                }
                try append(spec.makeOp())
            }
        }
        /// The skip path and the add that end a block whose input is activation `source`.
        func close(source: Int, _ shortcut: Shortcut) throws {
            let branch = shapes.count - 1, from = shapes[source], to = shapes[branch]
            switch shortcut {
            case .identity:
                guard to == from else {
                    throw ShapeError("residual block", "the branch maps \(from) to \(to); they must match "
                                     + "(or give the block a shortcut: pad or projection)")
                }
                try append(ResidualAdd(source: source))
            case .pad:
                try append(ResidualAdd(source: source, skipShape: from))
            case .projection:
                guard from.count == 3, to.count == 3, to[1] > 0 else {
                    throw ShapeError("residual block", "a projection shortcut maps (C, H, W) to (C, H, W), "
                                     + "not \(from) to \(to)")
                }
                try append(SkipRoute(source: source, shape: from))
                try append(Conv2d(to[0], kernel: 1, stride: (from[1] + to[1] - 1) / to[1], padding: 0, bias: false))
                try append(BatchNorm())
                guard shapes.last! == to else {
                    throw ShapeError("residual block", "no 1×1 strided projection maps \(from) to the branch's \(to)")
                }
                try append(ResidualAdd(source: branch))
            }
        }
        func append(_ op: Op) throws {
            guard ops.count < NetworkLimits.ops else { throw ShapeError(name, "more than \(NetworkLimits.ops) layers") }
            let k = counts[op.kind, default: 0] + 1
            counts[op.kind] = k
            op.name = "\(op.kind)\(k)"
            let input = shapes.last!
            _ = try Self.checkedCount(input, "input", op: op.name)
            try Self.checkWindowFits(op, input: input)
            let output = try op.configure(input: input)
            let outCount = try Self.checkedCount(output, "output", op: op.name)
            // Every size an op later multiplies out (parameter counts, FLOPs) is bounded here, in
            // checked arithmetic, so no later product can trap.
            var weights = 0
            for spec in op.paramSpecs {
                let n = try Self.checkedCount(spec.shape, spec.name, op: op.name)
                weights = weights.addingReportingOverflow(n).partialValue
            }
            guard let bound = NetworkLimits.product([2, max(1, weights), max(1, outCount), 2]),
                  weights <= NetworkLimits.elements,
                  case (let total, false) = flops.addingReportingOverflow(bound) else {
                throw ShapeError(op.name, "too large: its parameter or FLOP count overflows")
            }
            flops = total
            shapes.append(output)
            ops.append(op)
        }
        try add(layers, depth: 0)
        guard shapes.last!.count == 1 else {
            throw ShapeError(name, "the last layer must give class scores (features), got shape \(shapes.last!)")
        }
        self.ops = ops
        self.shapes = shapes
        var entries: [ParameterStore.Entry] = [], perOp: [[ParameterStore.Entry]] = [], offset = 0
        for (i, op) in ops.enumerated() {
            var mine: [ParameterStore.Entry] = []
            for spec in op.paramSpecs {
                let e = ParameterStore.Entry(op: i, name: "\(op.name).\(spec.name)", spec: spec, offset: offset)
                offset += (spec.count + 15) / 16 * 16 // 64-byte aligned views
                mine.append(e)
            }
            entries += mine
            perOp.append(mine)
        }
        guard offset <= NetworkLimits.elements else {
            throw ShapeError(name, "\(offset) parameters, more than the limit \(NetworkLimits.elements)")
        }
        // values and gradients (4 bytes each) and the decay mask are allocated right here
        let bytes = Double(offset) * 9
        guard bytes <= NetworkLimits.physicalMemory else {
            let big = entries.max { $0.spec.count < $1.spec.count }.map { "\($0.name) \($0.spec.shape)" } ?? "?"
            throw ShapeError(name, "its \(offset) parameters need \(NetworkLimits.gigabytes(bytes)) (largest: \(big)), "
                             + "this machine has \(NetworkLimits.gigabytes(NetworkLimits.physicalMemory))")
        }
        params = ParameterStore(entries: entries, count: offset)
        opEntries = perOp
        layouts = activationLayouts(.auto)
    }

    /// Parameter value views of op i.
    public func values(of i: Int) -> [Tensor] { opEntries[i].map { params.view($0, in: params.values) } }

    /// The op index whose output feeds a nonlinearity's gain: the first activation after op i,
    /// looking past batch norm, pooling and dropout; nil when another weighted op or the end comes first.
    public func followingNonlinearity(of i: Int) -> Nonlinearity? {
        for j in (i + 1)..<ops.count {
            if let n = ops[j] as? Nonlinearity { return n }
            if ops[j].isWeighted || ops[j] is ResidualAdd || ops[j] is SkipRoute { return nil }
        }
        return nil
    }

    /// Whether a batch norm follows weighted op i before the next weighted op.
    public func followedByBatchNorm(_ i: Int) -> Bool {
        for j in (i + 1)..<ops.count {
            if ops[j] is BatchNorm { return true }
            if ops[j].isWeighted { return false }
        }
        return false
    }

    /// Batch-norm running statistics, by name, for checkpoints.
    public var stateTensors: [(String, Tensor)] {
        ops.compactMap { $0 as? BatchNorm }.flatMap {
            [("\($0.name).running_mean", $0.runningMean), ("\($0.name).running_var", $0.runningVar)]
        }
    }

    public var summary: String {
        let mflops = String(format: "%.1f", Double(flopsPerSample) / 1e6)
        var lines = ["\(name): input \(inputShape), \(parameterCount) parameters, \(mflops) MFLOP/sample forward"]
        for (i, op) in ops.enumerated() {
            let p = opEntries[i].reduce(0) { $0 + $1.spec.count }
            let opName = op.name.padding(toLength: 16, withPad: " ", startingAt: 0)
            let shape = String(describing: shapes[i + 1]).padding(toLength: 16, withPad: " ", startingAt: 0)
            lines.append("  \(opName) \(shape) \(p > 0 ? "\(p) params" : "")")
        }
        return lines.joined(separator: "\n")
    }
}
