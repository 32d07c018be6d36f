// Where the channel-blocked layout runs. A convolution's direct kernels want their activations as
// (n, C/16, H, W, 16); batch norm, pooling, elementwise ops and residual adds work on that layout as
// well, so once a convolution has produced it, it is kept until flatten or global pooling turns the
// activation back into features. The network input stays (n, C, H, W): the first convolution
// converts it. Tensors keep their logical shapes; the layout is a property of the plan's buffers.
// Also here, since they follow from the layouts: which buffers alias, which gradients are needed,
// and which are stored by their only writer instead of zeroed and added to.

/// How an activation's values are laid out in its tensor.
public enum ActivationLayout: String, Sendable, Codable {
    /// (n, C, H, W): PyTorch's NCHW, and every 1-D (features) activation.
    case plain
    /// (n, C/16, H, W, 16): 16 channels innermost.
    case blocked
}

/// Which layouts a network may use. `auto` runs the blocked layout wherever every op between two
/// convolutions supports it; `plain` keeps NCHW and the im2col convolution everywhere.
public enum LayoutPolicy: String, Sendable, Codable, CaseIterable {
    case auto, plain
}

/// The layouts of one op's input and output activations.
public struct OpLayout: Sendable, Equatable {
    public let input, output: ActivationLayout
    /// bf16 operands with FP32 accumulation for the ops that have such kernels (--precision bf16).
    public var bf16 = false
    public static let plain = OpLayout(input: .plain, output: .plain)
    public var inputBlocked: Bool { input == .blocked }
}

/// What an op can do with the blocked layout.
public enum BlockedSupport: Sendable {
    /// Needs a plain input (maxout, linear).
    case none
    /// Runs on either layout and keeps it (batch norm, pooling, activations, dropout, residual).
    case keeps
    /// Reads either layout and writes a blocked output (convolution).
    case produces
    /// Reads either layout and writes plain features (flatten, global pooling).
    case consumes
}

extension Network {
    /// The layout of every activation under `policy`: all plain unless the whole network can run
    /// blocked from its first convolution on (an op that needs plain input after a convolution,
    /// or a residual whose two inputs would differ, keeps the whole network plain).
    func activationLayouts(_ policy: LayoutPolicy) -> [ActivationLayout] {
        let allPlain = [ActivationLayout](repeating: .plain, count: shapes.count)
        guard policy == .auto else { return allPlain }
        var layouts: [ActivationLayout] = [.plain]
        for (i, op) in ops.enumerated() {
            let input = layouts[i]
            let spatial = shapes[i + 1].count == 3
            var output = ActivationLayout.plain
            switch op.blockedSupport {
            case .none: if input == .blocked { return allPlain }
            case .keeps: output = spatial ? input : .plain
            case .produces: output = spatial ? .blocked : .plain
            case .consumes: output = .plain
            }
            if let s = op.skipSource, layouts[s] != input { return allPlain }
            layouts.append(output)
        }
        return layouts
    }

    /// The layouts of op i's input and output.
    public func opLayout(_ i: Int) -> OpLayout {
        OpLayout(input: layouts[i], output: layouts[i + 1], bf16: precision == .bf16)
    }

    /// True when op i's output shares its input's memory (flatten of a plain activation).
    public func aliases(_ i: Int) -> Bool { ops[i] is AliasOp && layouts[i] == .plain }

    /// Whether op i's input gradient is used: the plan skips it when only aliases come before op i.
    public func needsInputGradient(_ i: Int) -> Bool { !ops.indices[0..<i].allSatisfy { aliases($0) } }

    /// True when op i stores its input gradient instead of adding to it: it is the only writer of
    /// that gradient (no alias shares the buffer, no residual sends its skip gradient there) and
    /// it can. The plan then skips zeroing that buffer before backward.
    public func storesInputGradient(_ i: Int) -> Bool {
        guard i > 0, needsInputGradient(i), !aliases(i - 1), !aliases(i) else { return false }
        guard !ops.contains(where: { $0.skipSource == i }) else { return false }
        return ops[i].canStoreInputGradient(opLayout(i))
    }

    /// The op that stores activation i's gradient as its skip gradient: of the ops that read
    /// activation i as a skip, the last, which backward runs first (op i, which also writes that
    /// gradient, runs after it and adds). Nil when it cannot store or an alias shares the buffer.
    public func skipGradientStorer(_ i: Int) -> Int? {
        guard i < ops.count, !aliases(i), i == 0 || !aliases(i - 1),
              let j = ops.indices.last(where: { ops[$0].skipSource == i }),
              ops[j].canStoreSkipGradient(opLayout(j)) else { return nil }
        return j
    }

    /// Whether backward must zero activation i's gradient (0...ops.count) before the ops add into
    /// it: false when its first writer stores it, when nothing writes it, and for a buffer an
    /// alias shares with the activation before (zeroed, or not, as that one).
    public func gradientNeedsZeroing(_ i: Int) -> Bool {
        guard i < ops.count else { return true } // the loss gradient: the softmax backward adds into it
        if i > 0 && aliases(i - 1) { return false }
        if storesInputGradient(i) || skipGradientStorer(i) != nil { return false }
        let skipped = !ops.contains { $0.skipSource == i }
        return !(i == 0 && ops[0].skipsUnneededInputGradient && skipped)
    }
}
