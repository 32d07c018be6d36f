// LSUV (Mishkin & Matas 2016, Algorithm 1): orthonormal pre-init, then for each conv / FC layer
// in execution order, scale W by 1/√Var(output) on one minibatch until |Var − 1| < Tol_var or
// T_max tries. Fast: the network runs forward once, op by op; each layer's input is kept from
// the previous op, and a try rescales that layer's kept output (the layer is linear in W)
// instead of re-running anything: the whole procedure costs about one forward pass.
import Foundation

public struct LSUVOptions: Sendable, Equatable, DefaultedSettings {
    public var tolVar = 0.1
    public var maxTries = 10
    public var batchSize = 128
    /// Weights before scaling (the paper: orthonormal).
    public var preInit: Initializer = .orthogonal(gain: 1)
    /// Also zero each layer's output mean through its bias (fastai's variant).
    public var zeroMean = false
    public init() {}
}

public struct LSUVLayerReport: Sendable, Codable {
    public var layer: String
    public var varianceBefore: Double
    public var varianceAfter: Double
    public var tries: Int
    public var seconds: Double
    /// "", "followed by batch norm", or why it was skipped.
    public var note: String
}

public enum LSUV {
    /// Runs LSUV on `net` using the first `options.batchSize` samples in `images` (flat, NCHW).
    /// Batch-norm running statistics are restored afterwards: LSUV only sets weights.
    @discardableResult
    public static func run(_ net: Network, images: [Float], labels: [Int32], options: LSUVOptions,
                           seed: UInt64, threads: Int) -> [LSUVLayerReport] {
        net.initialize(options.preInit, seed: seed)
        let size = net.inputShape.reduce(1, *)
        let b = min(options.batchSize, images.count / size)
        precondition(b > 0, "LSUV needs at least one sample")
        let plan = Plan(net: net, chunking: .whole(b), workers: 1, threads: threads, fused: false)
        plan.setInput(images: images, labels: labels, indices: Array(0..<b)[...])
        let saved = net.stateTensors.map { ($0.1, $0.1.clone()) }
        defer { for (t, copy) in saved { t.assign(copy) } }
        var reports: [LSUVLayerReport] = []
        var done = 0 // ops forwarded so far
        for (i, op) in net.ops.enumerated() where op.isWeighted {
            plan.forward(training: true, ops: done..<i) // bring layer i's input up to date
            let start = Date()
            let w = net.values(of: i)[0]
            let bias = net.opEntries[i].count > 1 ? net.values(of: i)[1] : nil
            plan.forward(training: true, ops: i..<(i + 1))
            var (mean, variance) = plan.activation(i + 1, chunk: 0).meanVariance()
            let before = variance
            var tries = 0, note = net.followedByBatchNorm(i) ? "followed by batch norm" : ""
            let y = plan.activation(i + 1, chunk: 0)
            let channels = op.outputShape[0], perChannel = op.outputShape.dropFirst().reduce(1, *)
            while abs(variance - 1) >= options.tolVar && tries < options.maxTries {
                if variance.squareRoot() < 1e-7 { note = "skipped: output variance \(variance) ≈ 0"; break }
                let s = Float(1 / variance.squareRoot())
                for k in 0..<w.count { w[k] *= s }
                let oldBias = bias?.array
                if options.zeroMean, let bias { for k in 0..<bias.count { bias[k] = (bias[k] - Float(mean)) * s } }
                tries += 1
                // The layer is linear in W: y' = s·(y − b) + b' is its new output, exact up to
                // rounding, so a try costs one pass over y instead of re-running the layer.
                let b0 = Tensor(shape: [channels], values: oldBias ?? [Float](repeating: 0, count: channels))
                let b1 = bias ?? Tensor(zeros: [channels])
                let scale = Tensor(shape: [channels], values: [Float](repeating: s, count: channels))
                let ones = Tensor(shape: [channels], values: [Float](repeating: 1, count: channels))
                Kernels.bnNormalize(y: y, xhat: nil, x: y, mean: b0, invstd: scale, gamma: ones,
                                    beta: b1, n: y.count / (channels * perChannel), c: channels, hw: perChannel)
                (mean, variance) = y.meanVariance()
            }
            // at bf16 the layer reads bf16(s·w), not s·bf16(w): its output is measured again, not extrapolated
            if tries > 0 && net.precision == .bf16 {
                plan.forward(training: true, ops: i..<(i + 1))
                (mean, variance) = y.meanVariance()
            }
            if tries == options.maxTries && abs(variance - 1) >= options.tolVar && note.isEmpty {
                note = "did not reach tolerance"
            }
            reports.append(LSUVLayerReport(layer: op.name, varianceBefore: before, varianceAfter: variance,
                                           tries: tries, seconds: Date().timeIntervalSince(start), note: note))
            done = i + 1
        }
        return reports
    }
}
