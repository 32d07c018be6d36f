import ArgumentParser
import Foundation
import GoodInit

/// `goodinit bench kernels`: the C kernels at the shapes the presets call, per thread count.
///
/// FLOPs (multiply-add = 2): sgemm 2·m·n·k; each convolution pass 2·N·K·C·R·S·P·Q (bias not
/// counted); batch norm 8 per element forward (Σx, Σ(x−μ)², x̂ = (x−μ)·σ⁻¹, y = γx̂ + β) and 8
/// backward (Σdy, Σdy·x̂, dx += γσ⁻¹(dy − mean dy − x̂·mean dy·x̂)).
/// Bytes are the call's minimal traffic, 4 per float: every input read once plus every output
/// written once; an accumulated output (+=: sgemm with beta 1, backward-data's dx,
/// backward-weights' dw and db, bn-backward's dx) is read and written. Per-channel vectors count
/// (γ, β, μ, σ⁻¹); scratch (im2col columns) and repeated passes (bn-forward reads x three times)
/// do not, so GB/s is a lower bound on what the kernel really moves.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "C kernels (sgemm, conv forward/backward-data/backward-weights, batch norm forward/backward) at the presets' shapes: GFLOP/s and GB/s per thread count.",
        discussion: """
        Shapes come from the presets' ops: each distinct convolution and batch norm at one chunk of \
        --batch-size samples, and the fully connected layers' GEMMs (convolutions run their GEMMs \
        inside the conv passes). GB/s counts the minimal traffic: inputs read once + outputs written \
        once (an accumulated output is read and written); scratch and repeated passes are not counted. \
        FLOPs: 2·m·n·k per GEMM, 2·N·K·C·R·S·P·Q per conv pass, 8 per element per batch-norm \
        pass. Batch norm forward is the training path (two statistics passes, normalize saving x̂).
        """)
    @Option(help: "Presets whose shapes to time, comma-separated.") var model = "cnn-small"
    @Option(help: "Samples per kernel call (a chunk).") var batchSize = 128
    @Option(help: "Thread counts.") var threads = "1,2"
    @Option(help: "Kernel families: gemm, conv, bn (comma-separated).") var kernels = "gemm,conv,bn"
    @Option(help: "Timed repeats per point, at least (small shapes repeat more, up to 50).") var repeats = 5
    @OptionGroup var variant: ISAOption
    @Flag(help: """
        One JSON object per line: kernel, shape, threads, gflops, gbps, seconds (median), peak_gflops, peak_fraction.
        """)
    var json = false

    func validate() throws {
        guard batchSize > 0, repeats > 0 else { throw ValidationError("--batch-size and --repeats must be positive") }
        _ = try parseThreadList(threads)
        let unknown = families.subtracting(["gemm", "conv", "bn"])
        guard unknown.isEmpty else { throw ValidationError("--kernels: unknown \(unknown.sorted().joined(separator: ", ")) (gemm, conv, bn)") }
        for name in model.split(separator: ",") { _ = try Parse.preset(String(name)) }
    }

    var families: Set<String> { Set(kernels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }

    /// One timed call: what it is, its work, and how to run it once.
    struct Case { let kernel: String; let shape: String; let usedBy: [String]; let flops: Double; let bytes: Double; let run: () -> Void }

    func run() throws {
        try ISA.with(variant.chosen) { try runChosen() }
    }

    func runChosen() throws {
        let counts = try parseThreadList(threads)
        var gemms: [KernelUse<GemmShape>] = [], convs: [KernelUse<ConvShape>] = [], bns: [KernelUse<BatchNormShape>] = []
        func merge<S>(_ list: inout [KernelUse<S>], _ uses: [KernelUse<S>], _ net: String) {
            for u in uses {
                let ops = u.ops.map { "\(net):\($0)" }
                if let j = list.firstIndex(where: { $0.shape == u.shape }) { list[j].ops += ops } else { list.append(KernelUse(shape: u.shape, ops: ops)) }
            }
        }
        for name in model.split(separator: ",").map(String.init) {
            let net = try Presets.network(Parse.preset(name))
            merge(&gemms, net.gemmShapes(batch: batchSize), name)
            merge(&convs, net.convShapes(batch: batchSize), name)
            merge(&bns, net.batchNormShapes(batch: batchSize), name)
        }
        var cases: [Case] = []
        if families.contains("gemm") { cases += gemms.flatMap(gemmCases) }
        if families.contains("conv") { cases += convs.flatMap(convCases) }
        if families.contains("bn") { cases += bns.flatMap(bnCases) }
        let kw = max(6, cases.map(\.kernel.count).max() ?? 0), sw = max(5, cases.map(\.shape.count).max() ?? 0)
        if !json {
            print("GEMM micro-kernel: \(Kernels.gemmKernelName) (isa \(ISA.current)), OpenMP: \(Kernels.hasOpenMP); "
                  + "batch \(batchSize); median (min-max) of the timed repeats; % of the FMA peak at T threads")
            print("kernel".padding(toLength: kw, withPad: " ", startingAt: 0) + "  "
                  + "shape".padding(toLength: sw, withPad: " ", startingAt: 0)
                  + "  T           GFLOP/s  % peak              GB/s        ms  used by")
        }
        for c in cases {
            for t in counts {
                Kernels.setThreads(t)
                let reps = max(repeats, min(50, Int(2e9 / max(c.flops, 1))))
                let r = medianSeconds(repeats: reps, c.run)
                let g = c.flops / r.median / 1e9, share = peakShare(g, threads: t)
                if json {
                    let gbps = String(format: "%.3f", c.bytes / r.median / 1e9)
                    print("{\"kernel\":\"\(c.kernel)\",\"isa\":\"\(ISA.current)\",\"shape\":\"\(c.shape)\","
                          + "\"threads\":\(t),\"gflops\":\(String(format: "%.3f", g)),\"gbps\":\(gbps),"
                          + "\"seconds\":\(String(format: "%.6g", r.median)),\(peakJSON(share))}")
                } else {
                    print(c.kernel.padding(toLength: kw, withPad: " ", startingAt: 0) + "  "
                          + c.shape.padding(toLength: sw, withPad: " ", startingAt: 0)
                          + String(format: " %2d %6.1f (%5.1f-%5.1f) %5.1f%% %5.1f (%5.1f-%5.1f) %8.3f  ", t, g,
                                   c.flops / r.max / 1e9, c.flops / r.min / 1e9, 100 * share.fraction,
                                   c.bytes / r.median / 1e9, c.bytes / r.max / 1e9, c.bytes / r.min / 1e9,
                                   r.median * 1e3)
                          + Self.usedBy(c.usedBy))
                }
            }
        }
    }

    /// "plain30: conv2, conv3, conv4, conv5 +5; vggish: conv1" from ["plain30:conv2", …]: the ops using a shape, by model.
    static func usedBy(_ ops: [String]) -> String {
        var models: [String] = [], names: [String: [String]] = [:]
        for o in ops {
            let parts = o.split(separator: ":", maxSplits: 1).map(String.init)
            if names[parts[0]] == nil { models.append(parts[0]) }
            names[parts[0], default: []].append(parts.last!)
        }
        return models.map { m in
            let n = names[m]!
            return "\(m): " + n.prefix(4).joined(separator: ", ") + (n.count > 4 ? " +\(n.count - 4)" : "")
        }.joined(separator: "; ")
    }

    func random(_ count: Int, seed: UInt64) -> Tensor {
        let t = Tensor(zeros: [max(count, 1)]); Kernels.fillUniform(t, lo: -1, hi: 1, seed: seed); return t
    }

    func gemmCases(_ u: KernelUse<GemmShape>) -> [Case] {
        let g = u.shape
        let a = random(g.m * g.k, seed: 1), b = random(g.k * g.n, seed: 2), c = random(g.m * g.n, seed: 3)
        let ws = Tensor(zeros: [g.workspaceSize])
        let bytes = 4.0 * Double(g.m * g.k + g.k * g.n + g.m * g.n * (g.accumulate ? 2 : 1))
        return [Case(kernel: "sgemm", shape: g.description, usedBy: u.ops, flops: 2.0 * Double(g.m) * Double(g.n) * Double(g.k), bytes: bytes) {
            Kernels.gemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: a, b: b, beta: g.accumulate ? 1 : 0, c: c, workspace: ws)
        }]
    }

    func convCases(_ u: KernelUse<ConvShape>) -> [Case] {
        let s = u.shape, ks = s.kernelShape
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.p * s.q)
        let x = random(xn, seed: 1), w = random(wn, seed: 2), dy = random(yn, seed: 3), b = s.hasBias ? random(s.k, seed: 4) : nil
        let y = Tensor(zeros: [yn]), dx = Tensor(zeros: [xn]), dw = Tensor(zeros: [wn]), db = s.hasBias ? Tensor(zeros: [s.k]) : nil
        let ws = Tensor(zeros: [s.workspaceSize])
        let flops = 2.0 * Double(s.n * s.k) * Double(s.c * s.r * s.s) * Double(s.p * s.q), bias = s.hasBias ? s.k : 0
        var cases = [
            Case(kernel: "conv-forward", shape: s.description, usedBy: u.ops, flops: flops, bytes: 4.0 * Double(xn + wn + bias + yn)) {
                Kernels.convForward(y: y, x: x, w: w, b: b, shape: ks, workspace: ws)
            },
            Case(kernel: "conv-backward-weights", shape: s.description, usedBy: u.ops, flops: flops, bytes: 4.0 * Double(yn + xn + 2 * (wn + bias))) {
                Kernels.convBackwardWeights(dw: dw, db: db, dy: dy, x: x, shape: ks, workspace: ws)
            },
        ]
        if s.needsInputGradient { // a first layer's backward-data never runs in training
            cases.insert(Case(kernel: "conv-backward-data", shape: s.description, usedBy: u.ops, flops: flops, bytes: 4.0 * Double(yn + wn + 2 * xn)) {
                Kernels.convBackwardData(dx: dx, dy: dy, w: w, shape: ks, workspace: ws)
            }, at: 1)
        }
        return cases
    }

    func bnCases(_ u: KernelUse<BatchNormShape>) -> [Case] {
        let s = u.shape, e = s.n * s.c * s.hw, count = s.n * s.hw
        let x = random(e, seed: 1), dy = random(e, seed: 2), gamma = random(s.c, seed: 3), beta = random(s.c, seed: 4)
        let y = Tensor(zeros: [e]), xhat = Tensor(zeros: [e]), dx = Tensor(zeros: [e])
        let mean = Tensor(zeros: [s.c]), invstd = Tensor(zeros: [s.c]), runMean = Tensor(zeros: [s.c])
        let runVar = Tensor(zeros: [s.c]), dgamma = Tensor(zeros: [s.c]), dbeta = Tensor(zeros: [s.c])
        let sum = DoubleBuffer(count: s.c), sumsq = DoubleBuffer(count: s.c), shift = DoubleBuffer(count: s.c)
        let variance = DoubleBuffer(count: s.c), total = DoubleBuffer(count: s.c), totalX = DoubleBuffer(count: s.c)
        let forward = Case(kernel: "bn-forward", shape: s.description, usedBy: u.ops, flops: 8.0 * Double(e),
                           bytes: 4.0 * Double(3 * e + 4 * s.c)) {
            // the training forward of one chunk: mean, squares around it, normalize saving x̂
            Kernels.bnPartialSums(sum: sum, sumsq: sumsq, x: x, shift: nil, n: s.n, c: s.c, hw: s.hw)
            Kernels.bnCombineMean(shift: shift, sum: sum, chunks: 1, count: count, c: s.c)
            Kernels.bnPartialSums(sum: sum, sumsq: sumsq, x: x, shift: shift, n: s.n, c: s.c, hw: s.hw)
            Kernels.bnCombineStats(mean: mean, invstd: invstd, runningMean: runMean, runningVar: runVar,
                                   variance: variance, shift: shift, sumsq: sumsq, eps: 1e-5, momentum: 0.1,
                                   chunks: 1, count: count, c: s.c)
            Kernels.bnNormalize(y: y, xhat: xhat, x: x, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                                n: s.n, c: s.c, hw: s.hw)
        }
        let backward = Case(kernel: "bn-backward", shape: s.description, usedBy: u.ops, flops: 8.0 * Double(e),
                            bytes: 4.0 * Double(4 * e + 2 * s.c)) {
            Kernels.bnBackwardPartialSums(sumDy: sum, sumDyXhat: sumsq, dgamma: dgamma, dbeta: dbeta, dy: dy,
                                          xhat: xhat, n: s.n, c: s.c, hw: s.hw)
            Kernels.bnBackwardCombine(sumDy: total, sumDyXhat: totalX, partDy: sum, partDyXhat: sumsq, chunks: 1, c: s.c)
            Kernels.bnBackwardApply(dx: dx, dy: dy, xhat: xhat, invstd: invstd, gamma: gamma, sumDy: total,
                                    sumDyXhat: totalX, count: count, n: s.n, c: s.c, hw: s.hw)
        }
        return [forward, backward]
    }
}
