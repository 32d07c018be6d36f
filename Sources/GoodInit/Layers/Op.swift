// The layer contract. A network is a flat list of ops; op i reads activation i and writes
// activation i+1 (per-sample shapes; the batch dimension comes from the chunk).
// Forward sits beside backward in every op; backward ACCUMULATES into dx and the gradients (or
// stores dx, when the op says it can and the plan asks: nothing else writes that gradient).

/// What a parameter is, which decides its initializer and whether weight decay applies.
public enum ParamRole: Sendable, Equatable {
    case weight(fanIn: Int, fanOut: Int) // conv KCRS or linear (out, in)
    case bias
    case bnGamma, bnBeta
    case slope(initial: Float)          // PReLU a: no weight decay (He et al. 2015)

    public var isWeight: Bool { if case .weight = self { return true } else { return false } }
    public var decays: Bool { isWeight }
}

public struct ParamSpec: Sendable {
    public var name: String
    public var shape: [Int]
    public var role: ParamRole
    public var count: Int { shape.reduce(1, *) }
}

public protocol Op: AnyObject {
    /// Kind for reports and model files ("conv", "relu", …).
    var kind: String { get }
    /// Unique name in the network ("conv3"), set when the network is built.
    var name: String { get set }
    var inputShape: [Int] { get }
    var outputShape: [Int] { get }
    /// Fixes the shapes; throws when the input does not fit (the message names the op).
    func configure(input: [Int]) throws -> [Int]
    var paramSpecs: [ParamSpec] { get }
    /// Floats of workspace for `batch` samples.
    func workspaceSize(batch: Int) -> Int
    /// The same when the op runs with `layout` (blocked buffers, conversions).
    func workspaceSize(batch: Int, layout: OpLayout) -> Int
    /// What forward keeps for backward, one state per chunk of `chunks[k]` samples (the plan
    /// holds them; ops that share batch-wide state across chunks create it here).
    func makeState(chunks: [Int]) -> [OpState]
    /// The same when the op runs with `layout`.
    func makeState(chunks: [Int], layout: OpLayout) -> [OpState]
    /// Whether the op runs on the channel-blocked layout (Layout.swift).
    var blockedSupport: BlockedSupport { get }
    /// Whether backward can store dx instead of adding to it (`OpContext.storesInputGradient`):
    /// then the plan need not zero a gradient that only this op writes.
    func canStoreInputGradient(_ layout: OpLayout) -> Bool
    /// Whether backward can store dskip instead of adding to it (`OpContext.storesSkipGradient`),
    /// when the plan makes it that gradient's first writer (Network.skipGradientStorer).
    func canStoreSkipGradient(_ layout: OpLayout) -> Bool
    /// Whether backward leaves dx alone when `needsInputGradient` is false (convolution, linear):
    /// then a first op's input gradient is never written, and never zeroed.
    var skipsUnneededInputGradient: Bool { get }
    /// Whether backward can store its parameters' gradients (`OpContext.storesParamGradients`)
    /// rather than add to them: the plan then need not zero them, when every op with parameters can.
    var storesParamGradients: Bool { get }
    /// An earlier activation this op also reads (a residual block's input): the plan hands it to
    /// the op as `skip`, its gradient as `dskip`.
    var skipSource: Int? { get }
    /// Forward FLOPs per sample (multiply-add = 2).
    var flopsPerSample: Int { get }
    func forward(_ ctx: OpContext)
    func backward(_ ctx: OpContext)
}

extension Op {
    public var paramSpecs: [ParamSpec] { [] }
    public func workspaceSize(batch: Int) -> Int { 0 }
    public func makeState(chunks: [Int]) -> [OpState] { chunks.map { _ in .none } }
    public func workspaceSize(batch: Int, layout: OpLayout) -> Int { workspaceSize(batch: batch) }
    public func makeState(chunks: [Int], layout: OpLayout) -> [OpState] { makeState(chunks: chunks) }
    public var blockedSupport: BlockedSupport { .none }
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { false }
    public func canStoreSkipGradient(_ layout: OpLayout) -> Bool { false }
    public var skipsUnneededInputGradient: Bool { false }
    public var storesParamGradients: Bool { false }
    public var skipSource: Int? { nil }
    public var flopsPerSample: Int { 0 }
    /// True for convolution and fully-connected ops: the layers initializers and LSUV act on.
    public var isWeighted: Bool {
        paramSpecs.contains { if case .weight = $0.role { return true } else { return false } }
    }
}

/// Ops whose training forward/backward need statistics over the whole minibatch (batch norm):
/// each chunk computes partial sums, the op combines them in chunk order between the plan's
/// phases; `chunks` is the op's column of contexts, in chunk order.
public protocol SyncOp: Op {
    var forwardSyncPhases: Int { get }
    func forwardPartial(_ phase: Int, _ ctx: OpContext)
    func forwardCombine(_ phase: Int, _ chunks: [OpContext])
    func backwardPartial(_ ctx: OpContext)
    func backwardCombine(_ chunks: [OpContext])
    /// The (chunks of the batch, width) tables the partials write, one row per chunk: what ranks
    /// exchange before a combine.
    func chunkRows(_ chunks: [OpContext]) -> [DoubleBuffer]
}

/// Ops whose output shares the input's memory (flatten): no copy, no backward work.
public protocol AliasOp: Op {}

/// Ops that carry an activation function, so initializers can take the right gain.
public protocol Nonlinearity {
    /// PyTorch's calculate_gain for this nonlinearity.
    var gain: Double { get }
}
