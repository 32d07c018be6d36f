// The executor for one batch size: activations, gradients and scratch allocated once, reused
// every step. The batch is cut into fixed chunks of samples; W Dispatch workers each run T OpenMP
// threads over their share of the chunks, layer-synchronously: batch norm combines the chunks'
// partial sums in chunk order, and parameter gradients are summed chunk by chunk in index
// order. The chunking depends on the batch and chunk size only, never on W or T, so the bits of
// every result are the same for any worker and thread count.
// With P ranks (MPI processes), each rank's plan holds only its share of the chunks (a node of the
// gradient-sum tree); batch norm's per-chunk sums, the per-chunk losses and the gradient travel
// between ranks and are combined in the same order as in one process: the same bits for any P.
import Dispatch
import Foundation

public final class Plan {
    public let net: Network
    public let batch: Int
    public let chunkSize: Int
    public let workers: Int
    public let threads: Int
    /// Sample ranges of this rank's chunks (all of the batch's chunks in one process).
    public let chunks: [Range<Int>]
    /// Every chunk of the batch, and the indices among them of this rank's.
    public let allChunks: [Range<Int>]
    public let ownedChunks: Range<Int>
    /// The ranks sharing the batch (one process: SingleRank).
    public let ranks: RankGroup
    /// The input activation of each chunk, (n, input shape…): what setInput fills.
    public let inputs: [Tensor]
    /// The layout of each activation (the network's when the plan was made).
    public let layouts: [ActivationLayout]
    let acts: [[Tensor]]                    // [chunk][activation]
    let grads: [[Tensor]]                   // [chunk][activation]
    let contexts: [[OpContext]]             // [chunk][op]
    let columns: [[OpContext]]              // [op][chunk]: what a batch-wide combine reads
    let lossSums: DoubleBuffer              // [chunk] loss() scratch, written by each chunk's worker
    let lossHits: IndexBuffer               // [chunk]
    let chunkGrads: [Tensor]                // [chunk] flat, laid out like net.params.values
    /// One chunk here: its gradients are net.params.grad itself, and the sum of one buffer (a copy)
    /// is skipped: the same values without a pass over every parameter.
    let gradsInPlace: Bool
    let reduceScratch: Tensor               // TreeAllReduce's receive buffer (ranks > 1)
    let probs: [Tensor]                     // [chunk] (n, classes)
    let labels: [IndexBuffer]               // [chunk]
    let workerChunks: [Range<Int>]          // chunk indices of each worker
    /// Per activation: whether backward zeroes its gradient first (Network.gradientNeedsZeroing).
    let zeroesGradient: [Bool]
    /// Whether backward zeroes the parameter gradients first: unless every op with parameters
    /// stores its own (Op.storesParamGradients: an MLP's linear layers), all of them add.
    let zeroesParamGradients: Bool
    /// The flat gradient buffer's alignment padding between parameters (at most 15 floats each),
    /// which no op writes: zeroed every step when the rest is stored, as the optimizer and the
    /// gradient norm read the whole buffer.
    let paramPadding: [Range<Int>]
    /// When set (and W = 1), each op's time is added to it.
    public var profile: OpProfile?
    /// Which ReLUs the fused plan folds into their neighbours.
    let fusion: Fusion
    /// Whether whole-network passes run the fused plan (the same bits): what reads an activation or
    /// gradient a fused pass skips (a ReLU's input, its output's gradient) sets this false first.
    public var fuses = true

    /// W workers need a chunk each on every rank, and P ranks a power of two: callers check the
    /// chunking first (Chunking.check), which says so to the user. `fused: false` makes an observed
    /// plan, for callers that read every activation (`fuses`).
    public init(net: Network, chunking: Chunking, workers: Int = 1, threads: Int = 1,
                ranks: RankGroup = SingleRank.shared, fused: Bool = true) {
        fuses = fused
        precondition(threads > 0)
        precondition((try? chunking.check(workers: workers, ranks: ranks.size)) != nil,
                     "Plan: \(workers) workers on \(ranks.size) ranks cannot share \(chunking.count) chunks")
        let batch = chunking.batch
        self.net = net; self.batch = batch; self.chunkSize = min(chunking.chunk, batch)
        self.threads = threads; self.ranks = ranks
        let allChunks = chunking.ranges
        let owned = ranks.size == 1 ? allChunks.indices
            : RankShares.trainingChunks(rank: ranks.rank, ranks: ranks.size, chunks: allChunks.count)
        self.allChunks = allChunks; ownedChunks = owned
        chunks = Array(allChunks[owned])
        self.workers = workers
        let w = workers, nc = chunks.count
        workerChunks = (0..<w).map { (($0 * nc) / w)..<((($0 + 1) * nc) / w) }
        // [op][chunk]: each op makes its chunks' states at once, so it can share batch-wide ones
        let sizes = allChunks.map(\.count) // batch norm's statistics count the whole batch
        layouts = net.layouts
        let opLayouts = net.ops.indices.map { net.opLayout($0) }
        let stores = net.ops.indices.map { net.storesInputGradient($0) }
        zeroesGradient = (0...net.ops.count).map { net.gradientNeedsZeroing($0) }
        zeroesParamGradients = !net.ops.allSatisfy { $0.paramSpecs.isEmpty || $0.storesParamGradients }
        let ends = net.params.entries.map { $0.offset + $0.spec.count }
        let starts = net.params.entries.dropFirst().map(\.offset) + [max(net.params.count, 1)]
        paramPadding = zip(ends, starts).map { $0..<$1 }.filter { !$0.isEmpty }
        let states = net.ops.indices.map {
            Array(net.ops[$0].makeState(chunks: sizes, layout: opLayouts[$0])[owned])
        }
        let noSkip = Tensor(zeros: [0])
        var acts: [[Tensor]] = [], grads: [[Tensor]] = [], contexts: [[OpContext]] = []
        var chunkGrads: [Tensor] = [], probs: [Tensor] = [], labels: [IndexBuffer] = []
        let inPlace = chunks.count == 1 && net.params.count > 0
        for (k, range) in chunks.enumerated() {
            let n = range.count
            var a: [Tensor] = [], g: [Tensor] = []
            for (i, shape) in net.shapes.enumerated() {
                if i > 0, net.aliases(i - 1) { // same memory as the op's input
                    a.append(a[i - 1].reshaped([n] + shape)); g.append(g[i - 1].reshaped([n] + shape))
                } else {
                    a.append(Tensor(zeros: [n] + shape)); g.append(Tensor(zeros: [n] + shape))
                }
            }
            let ws = Tensor(zeros: [net.ops.indices.map {
                net.ops[$0].workspaceSize(batch: n, layout: opLayouts[$0])
            }.max() ?? 0])
            let flat = inPlace ? net.params.grad : Tensor(zeros: [max(net.params.count, 1)])
            var ctx: [OpContext] = []
            for (i, op) in net.ops.enumerated() {
                let entries = net.opEntries[i]
                let skip = op.skipSource
                ctx.append(OpContext(n: n, sampleOffset: range.lowerBound, x: a[i], y: a[i + 1], dx: g[i], dy: g[i + 1],
                                     skip: skip.map { a[$0] } ?? noSkip, dskip: skip.map { g[$0] } ?? noSkip,
                                     values: entries.map { net.params.view($0, in: net.params.values) },
                                     grads: entries.map { net.params.view($0, in: flat) },
                                     workspace: ws, state: states[i][k],
                                     needsInputGradient: net.needsInputGradient(i),
                                     layout: opLayouts[i], storesInputGradient: stores[i],
                                     storesSkipGradient: skip.map { net.skipGradientStorer($0) == i } ?? false))
            }
            acts.append(a); grads.append(g); contexts.append(ctx); chunkGrads.append(flat)
            probs.append(Tensor(zeros: [n, net.classes])); labels.append(IndexBuffer(count: n))
        }
        fusion = Fusion(net: net)
        for ctx in contexts {
            for j in fusion.forward {
                ctx[j - 1].fusedReLUOutput = ctx[j].y; ctx[j].reluForwardFused = true
            }
            for j in fusion.backward {
                ctx[j + 1].fusedReLUGradient = (ctx[j].dx, ctx[j].y); ctx[j].reluBackwardFused = true
            }
            for i in fusion.addIntoNorm { // norm i − 1, add i, ReLU i + 1
                ctx[i - 1].fusedResidualSkip = ctx[i].skip; ctx[i - 1].fusedReLUOutput = ctx[i + 1].y
                ctx[i].addForwardFused = true
            }
            for j in fusion.backwardIntoProducer {
                ctx[j - 1].fusedReLUOutputGradient = (ctx[j].dy, ctx[j].y); ctx[j].reluBackwardFused = true
            }
            for op in ctx { op.storesParamGradients = !zeroesParamGradients }
            for j in fusion.statsIntoConv { // (C, H, W) input
                let shape = net.ops[j].inputShape
                let rows = DoubleBuffer(count: Kernels.bnRowSumsCount(n: ctx[j].n, c: shape[0], h: shape[1]))
                ctx[j - 1].bnRowSums = rows; ctx[j].bnRowSums = rows
            }
        }
        self.acts = acts; self.grads = grads; self.contexts = contexts
        inputs = acts.map { $0[0] }
        self.columns = (0..<net.ops.count).map { i in contexts.map { $0[i] } }
        lossSums = DoubleBuffer(count: allChunks.count); lossHits = IndexBuffer(count: allChunks.count)
        reduceScratch = Tensor(zeros: [ranks.size > 1 ? TreeAllReduce.scratchCount(max(net.params.count, 1)) : 0])
        self.chunkGrads = chunkGrads; self.probs = probs; self.labels = labels
        gradsInPlace = inPlace
    }

    // MARK: running work on the chunks

    /// Runs body, timed into `profile` when one is set and a single worker runs the chunks.
    @inline(__always)
    func timed(_ slot: OpProfile.Slot, _ body: () -> Void) {
        if let profile, workers == 1 { profile.time(slot, body) } else { body() }
    }

    /// Runs body(chunk) for every chunk: W workers, each with T OpenMP threads, each over a
    /// fixed contiguous share of the chunks.
    func eachChunk(_ body: (Int) -> Void) {
        if workers == 1 {
            Kernels.setThreads(threads)
            for c in chunks.indices { body(c) }
            return
        }
        onEachWorker { w in for c in workerChunks[w] { body(c) } }
    }

    /// Runs body(w) on W concurrent Dispatch workers, each set to T OpenMP threads.
    /// The body only touches worker- or chunk-owned buffers (or index-w slots): safe to share.
    /// Workers run in the caller's subnormal mode, so W never changes the bits.
    func onEachWorker(_ body: (Int) -> Void) {
        let threads = threads, flush = Kernels.flushesSubnormals
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                Kernels.setThreads(threads)
                // the caller's thread could set this mode, so this one can: a failure is a bug, not a skip
                do { try Kernels.withSubnormals(flushed: flush) { body(w) } } catch {
                    preconditionFailure("worker \(w) cannot take its caller's float mode: \(error)")
                }
            }
        }
    }

    /// The OpenMP team size each worker gets, measured from inside a parallel region on each
    /// worker: shows that W workers × T threads stay within the budget.
    public func measuredTeamSizes() -> [Int] {
        let sizes = IndexBuffer(count: workers) // slot w written by worker w
        onEachWorker { w in sizes[w] = Int32(Kernels.measuredTeamSize()) }
        return (0..<workers).map { Int(sizes[$0]) }
    }

    // MARK: input

    /// Copies samples `indices` of a data set (flat images, labels) into the batch.
    public func setInput(images: [Float], labels src: [Int32], indices: ArraySlice<Int>) {
        precondition(indices.count == batch,
                     "setInput: \(indices.count) samples for a batch of \(batch)")
        let size = net.inputShape.reduce(1, *)
        let idx = Array(indices)
        for (c, range) in chunks.enumerated() {
            for (j, s) in range.enumerated() {
                acts[c][0].copy(from: images, at: idx[s] * size, count: size, to: j * size)
                labels[c][j] = src[idx[s]]
            }
        }
    }

    /// The input tensor of a chunk (for tests and LSUV).
    public func input(chunk c: Int) -> Tensor { acts[c][0] }
    public func activation(_ i: Int, chunk c: Int) -> Tensor { acts[c][i] }
    public func gradient(_ i: Int, chunk c: Int) -> Tensor { grads[c][i] }

    // MARK: forward

    /// Forward through ops in `range` (all by default). `seed` varies dropout masks per step.
    /// Fused (`fuses`) over all ops only: a part's last op would leave its output to a ReLU not run.
    /// `fusedOpByOp`: the caller runs every op in order, one range at a time (a traced step), so
    /// the fused plan holds; else only a whole-network pass is fused.
    public func forward(training: Bool, seed: UInt64 = 0, ops range: Range<Int>? = nil, fusedOpByOp: Bool = false) {
        let range = range ?? 0..<net.ops.count
        let fused = fuses && (range == 0..<net.ops.count || fusedOpByOp)
        for c in chunks.indices { for i in range {
            contexts[c][i].training = training
            contexts[c][i].seed = deriveSeed(seed, UInt64(i))
            contexts[c][i].fusing = fused
        } }
        var start = range.lowerBound
        while start < range.upperBound {
            // the longest run of ops without a batch-wide synchronisation
            var end = start
            while end < range.upperBound, !(training && net.ops[end] is SyncOp) { end += 1 }
            if end > start {
                let seg = start..<end
                eachChunk { c in for i in seg { timed(.forward(i)) { net.ops[i].forward(contexts[c][i]) } } }
            }
            if end < range.upperBound, let op = net.ops[end] as? SyncOp {
                let column = columns[end]
                timed(.forward(end)) {
                    for phase in 0..<op.forwardSyncPhases {
                        eachChunk { c in op.forwardPartial(phase, contexts[c][end]) }
                        exchangeRows(op.chunkRows(column))
                        op.forwardCombine(phase, column)
                    }
                    eachChunk { c in op.forward(contexts[c][end]) }
                }
                end += 1
            }
            start = end
        }
    }

    /// Softmax cross-entropy of the last forward: mean loss over the batch and correct count.
    public func loss() -> (loss: Double, correct: Int) {
        let k = net.classes
        let first = ownedChunks.lowerBound
        timed(.loss) { eachChunk { c in
            let (l, n) = Kernels.softmaxXentForward(probs: probs[c], logits: acts[c][net.ops.count],
                                                    labels: labels[c], n: chunks[c].count, k: k)
            lossSums[first + c] = l; lossHits[first + c] = Int32(n)
        } }
        if ranks.size > 1 {
            let shares = rankChunkRanges()
            ranks.allGather(lossSums, ranges: shares); ranks.allGather(lossHits, ranges: shares)
        }
        // in chunk order: the same sum for any worker or rank count
        let sum = allChunks.indices.reduce(0.0) { $0 + lossSums[$1] }
        return (sum / Double(batch), allChunks.indices.reduce(0) { $0 + Int(lossHits[$1]) })
    }

    /// Class scores of sample j of the batch (after forward).
    public func logits(sample j: Int) -> [Float] {
        let c = j / chunkSize - ownedChunks.lowerBound, k = net.classes
        precondition(c >= 0 && c < chunks.count, "logits: sample \(j) is in another rank's chunk")
        let t = acts[c][net.ops.count]
        return (0..<k).map { t[(j - chunks[c].lowerBound) * k + $0] }
    }

    // MARK: backward

    /// Backward of the mean softmax cross-entropy through every op; leaves Σ over chunks of the
    /// parameter gradients in net.params.grad. Call after forward(training: true) and loss().
    public func backward() {
        let k = net.classes, last = net.ops.count
        timed(.loss) { eachChunk { c in
            for (i, g) in grads[c].enumerated() where zeroesGradient[i] { Kernels.fill(g, 0) }
            if zeroesParamGradients { Kernels.fill(chunkGrads[c], 0) }
            else { for r in paramPadding { for i in r { chunkGrads[c][i] = 0 } } }
            Kernels.softmaxXentBackward(dlogits: grads[c][last], probs: probs[c], labels: labels[c],
                                        scale: 1 / Float(batch), n: chunks[c].count, k: k)
        } }
        for c in chunks.indices { for ctx in contexts[c] { ctx.fusing = fuses } }
        var end = net.ops.count
        while end > 0 {
            var start = end
            while start > 0, !(net.ops[start - 1] is SyncOp) { start -= 1 }
            if start < end {
                let seg = start..<end
                eachChunk { c in
                    for i in seg.reversed() { timed(.backward(i)) { net.ops[i].backward(contexts[c][i]) } }
                }
            }
            if start > 0, let op = net.ops[start - 1] as? SyncOp {
                let i = start - 1
                timed(.backward(i)) {
                    eachChunk { c in op.backwardPartial(contexts[c][i]) }
                    exchangeRows(op.chunkRows(columns[i]))
                    op.backwardCombine(columns[i])
                    eachChunk { c in op.backward(contexts[c][i]) }
                }
                start -= 1
            }
            end = start
        }
        Kernels.setThreads(threads * workers)
        timed(.gradientSum) {
            if !gradsInPlace { Kernels.sum(into: net.params.grad, chunkGrads) } // this rank's subtree of the sum
            TreeAllReduce.allReduce(net.params.grad, scratch: reduceScratch, group: ranks)
        }
    }

    // MARK: between ranks

    /// The chunk indices each rank holds.
    func rankChunkRanges() -> [Range<Int>] {
        (0..<ranks.size).map { RankShares.trainingChunks(rank: $0, ranks: ranks.size, chunks: allChunks.count) }
    }

    /// Gives every rank every chunk's row of per-chunk tables ((chunks, width), this rank's rows filled).
    func exchangeRows(_ tables: [DoubleBuffer]) {
        guard ranks.size > 1 else { return }
        let shares = rankChunkRanges()
        for t in tables {
            let width = t.count / allChunks.count
            ranks.allGather(t, ranges: shares.map { ($0.lowerBound * width)..<($0.upperBound * width) })
        }
    }

    /// Peak bytes this plan holds (activations, gradients, scratch, per-chunk gradients).
    public var bytes: Int {
        var floats = 0
        for c in chunks.indices {
            for (i, a) in acts[c].enumerated() where i == 0 || !net.aliases(i - 1) {
                floats += 2 * a.count
            }
            floats += (gradsInPlace ? 0 : chunkGrads[c].count) + (contexts[c].first.map { $0.workspace.count } ?? 0)
            for (i, ctx) in contexts[c].enumerated() where net.ops[i] is BatchNorm { // doubles, held by two ops
                floats += 2 * (ctx.bnRowSums?.count ?? 0)
            }
        }
        return floats * 4
    }
}
