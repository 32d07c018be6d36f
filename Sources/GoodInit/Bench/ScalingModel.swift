// `goodinit bench scaling`: a training step traced region by region, and the step time it predicts
// on T real cores (W workers × T threads) from the one-thread costs:
//   step(W, T) = serial + Σ over regions [max(work, bytes / bandwidth) + fork/join if a team forks]
// - work: the region's CPU time at T = 1 × the largest share a thread gets of its units (the
//   static partition ck_share computes: ⌈n / T⌉ of n), ÷ W for the regions each worker runs on its
//   own chunks. Costs come from T = 1 because T threads oversubscribed on a small machine share its
//   cores and caches: their own CPU times say more about the machine than about T cores.
// - bytes: the minimal traffic of the op pass the region belongs to (each input read once, each
//   output written once, accumulated outputs and parameter gradients read and written, as `bench
//   kernels` counts it), shared among the pass's regions in proportion to their work.
// - serial: the step's wall time outside any region at T = 1 (Swift's op loop, small loops that
//   never fork, the batch-norm combines), taken as not scaling at all.
// The trace runs the fused forward op by op (Plan.forward(ops:fusedOpByOp:)) so each region is
// known by its op (the calls' extra cost is left out of the wall time); the backward's regions are
// placed by time against the plan's OpProfile.
import Foundation

/// What part of a step a traced region belongs to.
public enum StepPart: Hashable, Sendable {
    case forward(Int), backward(Int)
    /// The loss and its gradient, zeroing the gradients.
    case loss
    case gradientSum, optimizer

    /// Whether each worker runs it on its own chunks (the rest runs once per step on W × T threads).
    public var perChunk: Bool {
        switch self {
        case .forward, .backward, .loss: return true
        case .gradientSum, .optimizer: return false
        }
    }

    public func name(in net: Network) -> String {
        switch self {
        case .forward(let i): return "\(net.ops[i].name) forward"
        case .backward(let i): return "\(net.ops[i].name) backward"
        case .loss: return "loss"
        case .gradientSum: return "gradient sum"
        case .optimizer: return "optimizer"
        }
    }
}

/// One traced training step (W = 1, one chunk): its regions, what each belongs to, its wall time.
public struct TracedStep: Sendable {
    public let regions: [TraceRegion]
    public let parts: [StepPart]
    public let wall: Double
    /// Wall time outside every region.
    public var serial: Double { wall - regions.reduce(0) { $0 + $1.wall } }
    /// The serial time by step part: the part's wall time less its regions' (the optimizer takes the
    /// rest of the step).
    public let serialByPart: [StepPart: Double]

    /// One SGD step of `plan` (one worker) with every region traced; the plan must hold one chunk.
    public static func run(_ plan: Plan, optimizer: Optimizer) -> TracedStep {
        precondition(plan.workers == 1 && plan.chunks.count == 1, "TracedStep: one worker, one chunk")
        let net = plan.net, n = net.ops.count, profile = OpProfile(ops: n)
        plan.profile = profile
        defer { plan.profile = nil }
        var forwardEnds: [Int] = [], lossEnd = 0, backwardEnd = 0
        var backwardStart = 0.0, lossBefore = 0.0, wall = 0.0, byOp = 0.0
        let trace = KernelsTrace.record {
            let t0 = KernelsTrace.now
            for i in 0..<n {
                plan.forward(training: true, ops: i..<(i + 1), fusedOpByOp: true)
                forwardEnds.append(KernelsTrace.count)
            }
            // the calls' own cost beyond one whole-network call's is the trace's, not the step's
            // (plain30: 62 calls, about 0.1 ms)
            let calls = KernelsTrace.now - t0 - profile.forward.reduce(0, +)
            byOp = max(0, calls) * Double(n - 1) / Double(n)
            _ = plan.loss(); lossEnd = KernelsTrace.count; lossBefore = profile.loss
            backwardStart = KernelsTrace.now
            plan.backward(); backwardEnd = KernelsTrace.count
            optimizer.step(lr: 1e-4)
            wall = KernelsTrace.now - t0 - byOp
        }
        precondition(trace.dropped == 0, "TracedStep: \(trace.dropped) regions did not fit the trace")
        var parts: [StepPart] = []
        var op = 0
        for k in 0..<min(lossEnd, trace.regions.count) {
            while op < n && k >= forwardEnds[op] { op += 1 }
            parts.append(op < n ? .forward(op) : .loss)
        }
        // Backward: the zeroing and loss gradient, then each op from the last, then the gradient
        // sum, back to back; a region goes where its midpoint falls.
        var bounds: [(StepPart, Double)] = [(.loss, backwardStart + profile.loss - lossBefore)]
        for i in (0..<n).reversed() { bounds.append((.backward(i), bounds.last!.1 + profile.backward[i])) }
        var b = 0
        for k in lossEnd..<min(backwardEnd, trace.regions.count) {
            let r = trace.regions[k], mid = r.start + r.wall / 2
            while b < bounds.count && mid >= bounds[b].1 { b += 1 }
            parts.append(b < bounds.count ? bounds[b].0 : .gradientSum)
        }
        parts += Array(repeating: .optimizer, count: max(0, trace.regions.count - parts.count))
        var serial: [StepPart: Double] = [.loss: profile.loss, .gradientSum: profile.gradientSum]
        for i in 0..<n { serial[.forward(i)] = profile.forward[i]; serial[.backward(i)] = profile.backward[i] }
        serial[.optimizer] = wall - serial.values.reduce(0, +)
        for (r, p) in zip(trace.regions, parts) { serial[p, default: 0] -= r.wall }
        return TracedStep(regions: trace.regions, parts: parts, wall: wall, serialByPart: serial)
    }
}

/// The step-time model of one network at one batch size, from traced one-thread steps.
public struct ScalingModel: Sendable {
    public struct Region: Sendable {
        public let site: String
        public let part: StepPart
        /// Median CPU seconds at T = 1, the iterations, and the minimal traffic in bytes.
        public let cost: Double
        public let units: Int
        public let bytes: Double
    }

    public let regions: [Region]
    /// Median seconds per step outside the regions at T = 1.
    public let serial: Double
    /// The serial seconds by step part (medians over the traced steps).
    public let serialByPart: [StepPart: Double]
    public let batch: Int

    public init(regions: [Region], serial: Double, batch: Int, serialByPart: [StepPart: Double] = [:]) {
        self.regions = regions; self.serial = serial; self.batch = batch; self.serialByPart = serialByPart
    }

    /// From steps traced at T = 1 (the same regions in the same order in each).
    public init(net: Network, batch: Int, steps: [TracedStep]) throws {
        guard let first = steps.first else { throw ScalingError("no traced steps") }
        for s in steps where s.regions.map(\.site) != first.regions.map(\.site) {
            throw ScalingError("the traced steps ran different regions")
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        let costs = first.regions.indices.map { k in median(steps.map { $0.regions[k].busy }) }
        // each part's traffic, shared among its regions by their cost
        var partCost: [StepPart: Double] = [:]
        for (k, p) in first.parts.enumerated() { partCost[p, default: 0] += costs[k] }
        regions = first.regions.indices.map { k in
            let p = first.parts[k], total = partCost[p] ?? 0
            let share = total > 0 ? costs[k] / total : 0
            return Region(site: first.regions[k].site, part: p, cost: costs[k], units: first.regions[k].units,
                          bytes: share * Self.bytes(p, net: net, batch: batch))
        }
        serial = max(0, median(steps.map(\.serial)))
        serialByPart = Dictionary(uniqueKeysWithValues: first.serialByPart.keys.map { part in
            (part, median(steps.map { $0.serialByPart[part] ?? 0 }))
        })
        self.batch = batch
    }

    /// Minimal traffic of a step part over `batch` samples, 4 bytes per float.
    static func bytes(_ part: StepPart, net: Network, batch: Int) -> Double {
        func size(_ i: Int) -> Double { Double(batch * net.shapes[i].reduce(1, *)) }
        func params(_ i: Int) -> Double { Double(net.ops[i].paramSpecs.reduce(0) { $0 + $1.count }) }
        let p = Double(net.params.count)
        switch part {
        case .forward(let i):
            let skip = net.ops[i].skipSource.map(size) ?? 0
            return 4 * (size(i) + size(i + 1) + skip + params(i))
        case .backward(let i):
            // dy and x read, dx written (if anything consumes it), weights read and gradients updated
            let dx = net.needsInputGradient(i) ? size(i) : 0, skip = net.ops[i].skipSource.map(size) ?? 0
            return 4 * (size(i + 1) + size(i) + dx + 2 * skip + 3 * params(i))
        case .loss: return 4 * 3 * size(net.ops.count)
        case .gradientSum: return 4 * 2 * p
        case .optimizer: return 4 * 5 * p
        }
    }

    /// A prediction for W workers × T threads.
    public struct Prediction: Sendable {
        public let workers, threads: Int
        public let step: Double
        /// Per region: predicted seconds (fork/join included) and threads left without units.
        public let time: [Double]
        public let idle: [Int]
        /// Seconds the bandwidth bound added over the regions' work.
        public let memoryBound: Double
    }

    /// The step time on W × T cores. `tasks`: the units of each region at T (from a step traced at
    /// T, aligned with this model's regions): the GEMM's tasks depend on T; nil takes the T = 1 units.
    public func predict(workers w: Int, threads t: Int, tasks: [Int]? = nil, bandwidth: Double,
                        forkJoin: Double) -> Prediction {
        var time: [Double] = [], idle: [Int] = [], step = serial, bound = 0.0
        for (k, r) in regions.enumerated() {
            let team = r.part.perChunk ? t : w * t
            let n = max(1, r.part.perChunk ? (tasks?[k] ?? r.units) : r.units)
            let share = Double((n + team - 1) / team) / Double(n)
            let work = r.cost * share / (r.part.perChunk ? Double(w) : 1)
            let memory = r.bytes / bandwidth
            let s = max(work, memory) + (team > 1 ? forkJoin : 0)
            bound += max(0, memory - work)
            time.append(s); idle.append(max(0, team - n)); step += s
        }
        return Prediction(workers: w, threads: t, step: step, time: time, idle: idle, memoryBound: bound)
    }

    /// The units of each region in a step traced at some T, checked against this model's regions.
    public func tasks(in step: TracedStep) throws -> [Int] {
        guard step.regions.map(\.site) == regions.map(\.site) else {
            throw ScalingError("the step traced at \(step.regions.first?.threads ?? 0) threads ran other regions "
                               + "than at 1 thread (\(step.regions.count) vs \(regions.count))")
        }
        return step.regions.map(\.units)
    }
}
