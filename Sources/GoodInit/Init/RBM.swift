// Greedy layer-wise RBM pre-training (Hinton, Osindero & Teh 2006) for MLPs: each hidden linear
// layer in turn is trained as a restricted Boltzmann machine with one step of contrastive
// divergence (CD-1) on the activations feeding it, then frozen; the next layer trains on its
// output. The first layer's visible units are Gaussian with unit variance (the inputs are
// normalized per channel), later ones Bernoulli. The classifier layer is left to fine-tuning.
import Foundation

public struct RBMOptions: Sendable, Equatable, DefaultedSettings {
    public var epochs = 1
    public var learningRate: Float = 0.01
    public var batchSize = 64
    public var samples = 10_000
    public init() {}
}

public struct RBMLayerReport: Sendable, Codable {
    public var layer: String
    public var reconstructionError: [Double] // mean squared, per epoch
}

public enum RBM {
    @discardableResult
    public static func pretrain(_ net: Network, images: [Float], labels: [Int32], options: RBMOptions, seed: UInt64,
                                threads: Int) throws -> [RBMLayerReport] {
        let linears = net.ops.enumerated().compactMap { i, op in (op as? Linear).map { (i, $0) } }
        guard !linears.isEmpty, net.ops.allSatisfy({ !($0 is Conv2d) }) else {
            throw InitError("rbm pre-training is for MLPs (linear layers only); \(net.name) has convolutions")
        }
        let size = net.inputShape.reduce(1, *), b = options.batchSize
        let count = min(options.samples, images.count / size) / b * b
        guard count > 0 else { throw InitError("rbm needs at least one batch of \(b) samples") }
        let plan = Plan(net: net, chunking: .whole(b), workers: 1, threads: threads, fused: false)
        Kernels.setThreads(threads)
        var reports: [RBMLayerReport] = []
        for (layer, (i, lin)) in linears.dropLast().enumerated() {
            let nIn = lin.inFeatures, nOut = lin.outFeatures
            let w = net.values(of: i)[0], bh = net.values(of: i)[1]           // (out, in), (out)
            let bv = Tensor(zeros: [nIn])
            // visible data: the (frozen) layers below, forward in eval mode
            let visible = Tensor(zeros: [count, nIn])
            for start in stride(from: 0, to: count, by: b) {
                plan.setInput(images: images, labels: labels, indices: Array(start..<(start + b))[...])
                plan.forward(training: false, ops: 0..<i)
                visible.view(from: start * nIn, shape: [b * nIn])
                    .assign(plan.activation(i, chunk: 0).reshaped([b * nIn]))
            }
            let ws = Tensor(zeros: [max(Kernels.gemmWorkspace(m: b, n: nOut, k: nIn),
                                        Kernels.gemmWorkspace(m: b, n: nIn, k: nOut),
                                        Kernels.gemmWorkspace(m: nOut, n: nIn, k: b))])
            let h0 = Tensor(zeros: [b, nOut]), hs = Tensor(zeros: [b, nOut])
            let v1 = Tensor(zeros: [b, nIn]), h1 = Tensor(zeros: [b, nOut])
            let u = Tensor(zeros: [b * nOut])
            var errors: [Double] = []
            for epoch in 0..<options.epochs {
                var err = 0.0
                for (bi, start) in stride(from: 0, to: count, by: b).enumerated() {
                    let v0 = visible.view(from: start * nIn, shape: [b, nIn])
                    hidden(h0, v0, w, bh, nOut: nOut, nIn: nIn, b: b, ws: ws)
                    Kernels.fillUniform(u, lo: 0, hi: 1,
                                        seed: deriveSeed(seed, UInt64(layer * 1_000_003 + epoch), UInt64(bi)))
                    for k in 0..<hs.count { hs[k] = u[k] < h0[k] ? 1 : 0 }
                    // v1 = hs·W + b_v (Gaussian visible), then σ(·) for Bernoulli visible units
                    Kernels.gemm(transA: false, transB: false, m: b, n: nIn, k: nOut, a: hs, b: w, beta: 0, c: v1,
                                 workspace: ws)
                    Kernels.addBias(y: v1, b: bv, n: b, k: nIn, hw: 1)
                    if layer > 0 { Kernels.unaryForward(.sigmoid, y: v1, x: v1) }
                    hidden(h1, v1, w, bh, nOut: nOut, nIn: nIn, b: b, ws: ws)
                    // W += lr/b · (h0ᵀ·v0 − h1ᵀ·v1): two accumulating GEMMs
                    // Gaussian visible units take a 10× smaller step (Hinton's practical guide): their
                    // unbounded reconstructions otherwise blow up on 784 normalized inputs.
                    let s = options.learningRate * (layer == 0 ? 0.1 : 1) / Float(b)
                    Kernels.gemm(transA: true, transB: false, m: nOut, n: nIn, k: b, alpha: s, a: h0, b: v0, beta: 1,
                                 c: w, workspace: ws)
                    Kernels.gemm(transA: true, transB: false, m: nOut, n: nIn, k: b, alpha: -s, a: h1, b: v1, beta: 1,
                                 c: w, workspace: ws)
                    for j in 0..<nOut {
                        var d: Float = 0
                        for r in 0..<b { d += h0[r * nOut + j] - h1[r * nOut + j] }
                        bh[j] += s * d
                    }
                    for j in 0..<nIn {
                        var d: Float = 0
                        for r in 0..<b { let e = v0[r * nIn + j] - v1[r * nIn + j]; d += e; err += Double(e * e) }
                        bv[j] += s * d
                    }
                }
                errors.append(err / Double(count * nIn))
            }
            reports.append(RBMLayerReport(layer: lin.name, reconstructionError: errors))
        }
        return reports
    }

    /// h = σ(v·Wᵀ + b_h)
    static func hidden(_ h: Tensor, _ v: Tensor, _ w: Tensor, _ bh: Tensor, nOut: Int, nIn: Int, b: Int, ws: Tensor) {
        Kernels.gemm(transA: false, transB: true, m: b, n: nOut, k: nIn, a: v, b: w, beta: 0, c: h, workspace: ws)
        Kernels.addBias(y: h, b: bh, n: b, k: nOut, hw: 1)
        Kernels.unaryForward(.sigmoid, y: h, x: h)
    }
}
