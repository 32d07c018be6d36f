// Residual connections (He et al. 2016): the add that closes a block, and its shortcuts when the
// branch changes the shape: option A (subsample, zero-pad the channels) inside the add, option B
// (1×1 strided convolution + batch norm) as ordinary ops fed by a SkipRoute (Network builds both).

/// What a residual block's skip path does with the block's input (He et al. 2016, section 4.2).
public enum Shortcut: String, Sendable, Codable, CaseIterable {
    /// x as it is: the branch must keep the input's shape.
    case identity
    /// Option A: x subsampled by the branch's stride, its channels zero-padded (half before, half
    /// after, as the common CIFAR implementations): no parameters.
    case pad
    /// Option B: a 1×1 convolution with the branch's stride, no bias, then batch norm (torchvision's
    /// `downsample`).
    case projection
}

/// The end of a residual block: y = x + P(activation[source]) (the block's input, or its
/// projection). P is the identity when the shapes match, else option A's subsample-and-pad.
/// Backward sends dy both ways: into dx and (through Pᵀ) into the gradient of the skip input.
public final class ResidualAdd: Op {
    public let kind = "residual_add"
    public var name = "add"
    public let source: Int
    /// The skip input's shape when it differs from the branch's (option A), else nil.
    public let skipShape: [Int]?
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    /// Option A's subsampling stride and the first output channel the skip's channels land on.
    public private(set) var stride = 1, channelOffset = 0

    public init(source: Int, skipShape: [Int]? = nil) { self.source = source; self.skipShape = skipShape }

    public func configure(input: [Int]) throws -> [Int] {
        inputShape = input; outputShape = input
        guard let skip = skipShape, skip != input else { return input }
        guard skip.count == 3, input.count == 3, input[0] >= skip[0], input[1] > 0, input[2] > 0 else {
            throw ShapeError(name, "a padded shortcut maps \(skip) to \(input): it needs (C, H, W) shapes and "
                             + "at least as many channels out as in")
        }
        stride = (skip[1] + input[1] - 1) / input[1]
        let fits = windowOutputExtent(skip[1], window: 1, stride: stride, padding: 0) == input[1]
            && windowOutputExtent(skip[2], window: 1, stride: stride, padding: 0) == input[2]
        guard fits else {
            throw ShapeError(name, "no stride subsamples \(skip) to the branch's \(input)")
        }
        channelOffset = (input[0] - skip[0]) / 2
        return input
    }

    public var flopsPerSample: Int { inputShape.reduce(1, *) }
    /// The block's input, wired by the plan as `skip` / `dskip`.
    public var skipSource: Int? { source }
    /// Elementwise: any layout, the same for both inputs (Layout.swift checks).
    public var blockedSupport: BlockedSupport { .keeps }
    var padded: Bool { skipShape.map { $0 != inputShape } ?? false }

    public func forward(_ ctx: OpContext) {
        if ctx.fusing && ctx.addForwardFused { return } // the batch norm before stored relu(its y + skip)
        let (y, relu) = ctx.forwardTarget // a fused ReLU: unpadded adds only (Fusion.swift)
        guard padded else {
            if relu { Kernels.addReLU(y: y, a: ctx.x, b: ctx.skip) } else { Kernels.add(y: y, a: ctx.x, b: ctx.skip) }
            return
        }
        ctx.y.assign(ctx.x)
        eachPair(ctx) { out, inp in ctx.y[out] += ctx.skip[inp] }
    }

    /// dx = dy: it is the add's alone. dskip = dy where the skip input's shape is kept.
    public func canStoreInputGradient(_ layout: OpLayout) -> Bool { true }
    public func canStoreSkipGradient(_ layout: OpLayout) -> Bool { !padded }

    public func backward(_ ctx: OpContext) {
        guard padded else {
            // with the ReLU after fused, that ReLU's backward first: its output gradient, masked
            let f = ctx.fusing ? ctx.fusedReLUOutputGradient : nil
            Kernels.addBackward(dx: ctx.dx, dskip: ctx.dskip, dy: f?.dy ?? ctx.dy, reluOutput: f?.mask,
                                dxStores: ctx.storesInputGradient, dskipStores: ctx.storesSkipGradient)
            return
        }
        if ctx.storesInputGradient {
            Kernels.copy(y: ctx.dx, x: ctx.dy)
        } else {
            Kernels.accumulate(y: ctx.dx, x: ctx.dy)
        }
        eachPair(ctx) { out, inp in ctx.dskip[inp] += ctx.dy[out] }
    }

    /// Calls body(output index, skip index) for each skip value option A keeps, in either layout
    /// (blocked activations hold whole 16-channel blocks: Conv2d only produces those).
    private func eachPair(_ ctx: OpContext, _ body: (Int, Int) -> Void) {
        guard let skip = skipShape else { return }
        let (c, h, w) = (skip[0], skip[1], skip[2]), (k, p, q) = (inputShape[0], inputShape[1], inputShape[2])
        let blocked = ctx.layout.inputBlocked, cb = Kernels.channelBlock
        func index(_ n: Int, _ ch: Int, _ y: Int, _ x: Int, channels: Int, height: Int, width: Int) -> Int {
            guard blocked else { return ((n * channels + ch) * height + y) * width + x }
            return (((n * (channels / cb) + ch / cb) * height + y) * width + x) * cb + ch % cb
        }
        for n in 0..<ctx.n { for ch in 0..<c { for y in 0..<p { for x in 0..<q {
            body(index(n, ch + channelOffset, y, x, channels: k, height: p, width: q),
                 index(n, ch, y * stride, x * stride, channels: c, height: h, width: w))
        } } } }
    }
}

/// The start of a projection shortcut: y = activation[source] (the block's input), so the 1×1
/// convolution and batch norm after it read the block's input while the branch's output waits
/// for the add. Its own input (the branch's output) is not read; backward sends dy to the source.
public final class SkipRoute: Op {
    public let kind = "route"
    public var name = "route"
    public let source: Int
    public let sourceShape: [Int]
    public private(set) var inputShape: [Int] = [], outputShape: [Int] = []
    public init(source: Int, shape: [Int]) { self.source = source; sourceShape = shape }
    public func configure(input: [Int]) throws -> [Int] {
        inputShape = input; outputShape = sourceShape; return sourceShape
    }
    public var skipSource: Int? { source }
    /// A copy: any layout, the source's (Layout.swift checks it is the input's too).
    public var blockedSupport: BlockedSupport { .keeps }
    public func forward(_ ctx: OpContext) { ctx.y.assign(ctx.skip) }
    public func canStoreSkipGradient(_ layout: OpLayout) -> Bool { true }
    public func backward(_ ctx: OpContext) {
        if ctx.storesSkipGradient {
            Kernels.copy(y: ctx.dskip, x: ctx.dy)
        } else {
            Kernels.accumulate(y: ctx.dskip, x: ctx.dy)
        }
    }
}
