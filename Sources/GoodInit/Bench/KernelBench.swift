// Timed calls of the C kernels at given shapes, with their work and traffic: what `goodinit bench
// gemm` and `bench kernels` measure. Buffers are allocated and filled here, sized by the shape, so
// a benchmark never hands C a buffer of the wrong size.
//
// FLOPs (multiply-add = 2): sgemm 2·m·n·k; each convolution pass 2·N·K·C·R·S·P·Q (bias not
// counted); batch norm 8 per element forward (Σx, Σ(x−μ)², x̂ = (x−μ)·σ⁻¹, y = γx̂ + β) and 8
// backward (Σdy, Σdy·x̂, dx += γσ⁻¹(dy − mean dy − x̂·mean dy·x̂)).
// Bytes are the call's minimal traffic, 4 per float: every input read once plus every output
// written once; an accumulated output (+=: sgemm with beta 1, backward-data's dx,
// backward-weights' dw and db, bn-backward's dx) is read and written. Per-channel vectors count
// (γ, β, μ, σ⁻¹); scratch (im2col columns) and repeated passes (bn-forward reads x three times)
// do not, so GB/s is a lower bound on what the kernel really moves.

/// One kernel call at one shape, ready to time: what it is, its work and its traffic.
public struct KernelCase {
    public let kernel: String
    public let shape: String
    /// The ops that make this call ("conv2", "linear1 backward-data", …).
    public let usedBy: [String]
    public let flops: Double
    public let bytes: Double
    let call: () -> Void

    /// Repeats for a timing: at least `atLeast`, more for small calls (up to 50) so that about
    /// `flopBudget` FLOPs are timed.
    public func repeats(atLeast: Int, flopBudget: Double) -> Int {
        Swift.max(atLeast, Swift.min(50, Int(flopBudget / Swift.max(flops, 1))))
    }

    /// Times the call on `threads` OpenMP threads (of the calling thread's ISA, see `ISA.with`).
    public func measure(threads: Int, repeats: Int) -> Timing {
        Kernels.setThreads(threads)
        return Timing.measure(repeats: repeats, call)
    }
}

public enum KernelBench {
    static func random(_ count: Int, seed: UInt64) -> Tensor {
        Tensor.randomUniform(shape: [Swift.max(count, 1)], lo: -1, hi: 1, seed: seed)
    }

    /// The sgemm call `g` describes, on uniform random operands.
    public static func cases(_ u: KernelUse<GemmShape>) -> [KernelCase] {
        let g = u.shape
        let a = random(g.m * g.k, seed: 1), b = random(g.k * g.n, seed: 2), c = random(g.m * g.n, seed: 3)
        let ws = Tensor(zeros: [g.workspaceSize])
        let bytes = 4.0 * Double(g.m * g.k + g.k * g.n + g.m * g.n * (g.accumulate ? 2 : 1))
        let flops = 2.0 * Double(g.m) * Double(g.n) * Double(g.k)
        return [KernelCase(kernel: "sgemm", shape: g.description, usedBy: u.ops, flops: flops, bytes: bytes) {
            Kernels.gemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: a, b: b,
                         beta: g.accumulate ? 1 : 0, c: c, workspace: ws)
        }]
    }

    /// Forward, backward-data (unless nothing consumes the input gradient) and backward-weights.
    public static func cases(_ u: KernelUse<ConvShape>) -> [KernelCase] {
        let s = u.shape, ks = s.kernelShape
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.p * s.q)
        let x = random(xn, seed: 1), w = random(wn, seed: 2), dy = random(yn, seed: 3)
        let b = s.hasBias ? random(s.k, seed: 4) : nil
        let y = Tensor(zeros: [yn]), dx = Tensor(zeros: [xn]), dw = Tensor(zeros: [wn])
        let db = s.hasBias ? Tensor(zeros: [s.k]) : nil
        let ws = Tensor(zeros: [s.workspaceSize])
        return convPasses(u, prefix: "conv",
                          forward: { Kernels.convForward(y: y, x: x, w: w, b: b, shape: ks, workspace: ws) },
                          backwardData: { Kernels.convBackwardData(dx: dx, dy: dy, w: w, shape: ks, workspace: ws) },
                          backwardWeights: {
                              Kernels.convBackwardWeights(dw: dw, db: db, dy: dy, x: x, shape: ks, workspace: ws)
                          })
    }

    /// The same passes by the direct convolution on the channel-blocked layout (3×3, stride 1,
    /// pad 1: the shapes its micro-kernels cover), on inputs converted from NCHW. FLOPs and bytes
    /// are the NCHW pass's, so the two paths compare directly.
    public static func blockedCases(_ u: KernelUse<ConvShape>) -> [KernelCase] {
        let s = u.shape, ks = s.kernelShape
        guard s.r == 3, s.s == 3, s.stride == 1, s.pad == 1 else { return [] }
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.p * s.q)
        let xb = Tensor(zeros: [Kernels.blockedCount(n: s.n, c: s.c, h: s.h, w: s.w)])
        let yb = Tensor(zeros: [Kernels.blockedCount(n: s.n, c: s.k, h: s.p, w: s.q)])
        let wb = Tensor(zeros: [Kernels.blockedWeightsCount(k: s.k, c: s.c, r: s.r, s: s.s)])
        Kernels.toBlocked(xb, from: random(xn, seed: 1), n: s.n, c: s.c, h: s.h, w: s.w)
        Kernels.toBlockedWeights(wb, from: random(wn, seed: 2), k: s.k, c: s.c, r: s.r, s: s.s)
        let dyb = Tensor(zeros: [yb.count]), dxb = Tensor(zeros: [xb.count]), dwb = Tensor(zeros: [wb.count])
        Kernels.toBlocked(dyb, from: random(yn, seed: 3), n: s.n, c: s.k, h: s.p, w: s.q)
        let b = s.hasBias ? random(s.k, seed: 4) : nil, db = s.hasBias ? Tensor(zeros: [s.k]) : nil
        let ws = Tensor(zeros: [Kernels.convWorkspace(ks, layout: .blocked)])
        return convPasses(u, prefix: "conv-blocked",
                          forward: {
                              Kernels.convForward(layout: .blocked, y: yb, x: xb, w: wb, b: b, shape: ks, workspace: ws)
                          },
                          backwardData: {
                              Kernels.convBackwardData(layout: .blocked, dx: dxb, dy: dyb, w: wb, shape: ks,
                                                       workspace: ws)
                          },
                          backwardWeights: {
                              Kernels.convBackwardWeights(layout: .blocked, dw: dwb, db: db, dy: dyb, x: xb, shape: ks,
                                                          workspace: ws)
                          })
    }

    /// A convolution's three passes as cases, with the work and traffic of the NCHW pass whatever
    /// the layout; backward-data only where something consumes the input gradient (never for a
    /// first layer in training).
    static func convPasses(_ u: KernelUse<ConvShape>, prefix: String, forward: @escaping () -> Void,
                           backwardData: @escaping () -> Void,
                           backwardWeights: @escaping () -> Void) -> [KernelCase] {
        let s = u.shape
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.p * s.q)
        let flops = 2.0 * Double(s.n * s.k) * Double(s.c * s.r * s.s) * Double(s.p * s.q), bias = s.hasBias ? s.k : 0
        func make(_ pass: String, bytes: Int, _ call: @escaping () -> Void) -> KernelCase {
            KernelCase(kernel: "\(prefix)-\(pass)", shape: s.description, usedBy: u.ops, flops: flops,
                       bytes: 4.0 * Double(bytes), call: call)
        }
        var cases = [make("forward", bytes: xn + wn + bias + yn, forward),
                     make("backward-weights", bytes: yn + xn + 2 * (wn + bias), backwardWeights)]
        if s.needsInputGradient { cases.insert(make("backward-data", bytes: yn + wn + 2 * xn, backwardData), at: 1) }
        return cases
    }

    /// The training forward of one chunk (one statistics pass, normalize; no x̂ kept) and backward
    /// (x̂ recomputed from x in both passes), as the executor runs them for a single chunk.
    public static func cases(_ u: KernelUse<BatchNormShape>) -> [KernelCase] {
        let s = u.shape, e = s.n * s.c * s.hw, count = s.n * s.hw
        let x = random(e, seed: 1), dy = random(e, seed: 2), gamma = random(s.c, seed: 3), beta = random(s.c, seed: 4)
        let y = Tensor(zeros: [e]), dx = Tensor(zeros: [e])
        let mean = Tensor(zeros: [s.c]), invstd = Tensor(zeros: [s.c]), runMean = Tensor(zeros: [s.c])
        let runVar = Tensor(zeros: [s.c]), dgamma = Tensor(zeros: [s.c]), dbeta = Tensor(zeros: [s.c])
        let sum = DoubleBuffer(count: s.c), sumsq = DoubleBuffer(count: s.c), mean64 = DoubleBuffer(count: s.c)
        let row = (1...s.hw).first { $0 * $0 >= s.hw }.flatMap { $0 * $0 == s.hw ? $0 : nil } ?? s.hw // square images
        let variance = DoubleBuffer(count: s.c), total = DoubleBuffer(count: s.c), totalX = DoubleBuffer(count: s.c)
        let forward = KernelCase(kernel: "bn-forward", shape: s.description, usedBy: u.ops, flops: 8.0 * Double(e),
                                 bytes: 4.0 * Double(2 * e + 4 * s.c)) {
            // the training forward of one chunk: Σ x and Σ x², normalize (x̂ not stored)
            Kernels.bnPartialSums(sum: sum, sumsq: sumsq, x: x, n: s.n, c: s.c, hw: s.hw, w: row)
            Kernels.bnCombineStats(mean: mean, invstd: invstd, runningMean: runMean, runningVar: runVar,
                                   mean64: mean64, variance: variance, sum: sum, sumsq: sumsq, eps: 1e-5,
                                   momentum: 0.1, chunks: 1, count: count, c: s.c)
            Kernels.bnNormalize(y: y, xhat: nil, x: x, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                                n: s.n, c: s.c, hw: s.hw)
        }
        // 8 flops per value, and 2 + 2 for recomputing x̂ in the sums and in the apply pass
        let backward = KernelCase(kernel: "bn-backward", shape: s.description, usedBy: u.ops, flops: 12.0 * Double(e),
                                  bytes: 4.0 * Double(4 * e + 2 * s.c)) {
            Kernels.bnBackwardPartialSums(sumDy: sum, sumDyXhat: sumsq, dgamma: dgamma, dbeta: dbeta, dy: dy,
                                          x: x, mean: mean, invstd: invstd, n: s.n, c: s.c, hw: s.hw)
            Kernels.bnBackwardCombine(sumDy: total, sumDyXhat: totalX, partDy: sum, partDyXhat: sumsq, chunks: 1,
                                      c: s.c)
            Kernels.bnBackwardApply(dx: dx, dy: dy, x: x, mean: mean, invstd: invstd, gamma: gamma, sumDy: total,
                                    sumDyXhat: totalX, count: count, n: s.n, c: s.c, hw: s.hw)
        }
        return [forward, backward]
    }
}
