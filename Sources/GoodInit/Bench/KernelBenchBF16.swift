// The bf16 kernels as benchmark cases (`bench kernels --precision bf16`): the bf16 GEMM at the GEMM
// shapes and the blocked convolution's bf16 forward and backward-data at the 3×3 / stride 1 / pad 1
// shapes. FLOPs as the FP32 cases; bytes count 2 per bf16 operand and 4 per float output.
import CKernels

extension KernelBench {
    static func randomBF16(_ count: Int, seed: UInt64) -> Buffer<UInt16> {
        let h = Buffer<UInt16>(count: Swift.max(count, 1))
        Kernels.toBF16(y: h, x: random(count, seed: seed))
        return h
    }

    /// The GEMM `g` describes with bf16 operands and a float C.
    public static func bf16Cases(_ u: KernelUse<GemmShape>) -> [KernelCase] {
        let g = u.shape
        let a = randomBF16(g.m * g.k, seed: 1), b = randomBF16(g.k * g.n, seed: 2), c = random(g.m * g.n, seed: 3)
        let ws = Tensor(zeros: [Kernels.gemmBF16Workspace(m: g.m, n: g.n, k: g.k)])
        let bytes = 2.0 * Double(g.m * g.k + g.k * g.n) + 4.0 * Double(g.m * g.n * (g.accumulate ? 2 : 1))
        let flops = 2.0 * Double(g.m) * Double(g.n) * Double(g.k)
        return [KernelCase(kernel: "gemm-bf16", shape: g.description, usedBy: u.ops, flops: flops, bytes: bytes) {
            Kernels.gemmBF16(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: a, b: b,
                             beta: g.accumulate ? 1 : 0, c: c, workspace: ws)
        }]
    }

    /// Forward, backward-data (where something consumes the input gradient) and backward-weights (whole
    /// input blocks; a first layer's few channels keep the FP32 kernel) of the blocked convolution in bf16.
    public static func bf16BlockedCases(_ u: KernelUse<ConvShape>) -> [KernelCase] {
        let s = u.shape, ks = s.kernelShape
        guard s.r == 3, s.s == 3, s.stride == 1, s.pad == 1 else { return [] }
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.p * s.q)
        let xb = Tensor(zeros: [Kernels.blockedCount(n: s.n, c: s.c, h: s.h, w: s.w)])
        let yb = Tensor(zeros: [Kernels.blockedCount(n: s.n, c: s.k, h: s.p, w: s.q)])
        let wb = Tensor(zeros: [Kernels.blockedWeightsCount(k: s.k, c: s.c, r: s.r, s: s.s)])
        Kernels.toBlocked(xb, from: random(xn, seed: 1), n: s.n, c: s.c, h: s.h, w: s.w)
        Kernels.toBlockedWeights(wb, from: random(wn, seed: 2), k: s.k, c: s.c, r: s.r, s: s.s)
        let dyb = Tensor(zeros: [yb.count])
        Kernels.toBlocked(dyb, from: random(yn, seed: 3), n: s.n, c: s.k, h: s.p, w: s.q)
        let xh = Buffer<UInt16>(count: xb.count), dyh = Buffer<UInt16>(count: yb.count)
        let wh = Buffer<UInt16>(count: wb.count)
        Kernels.toBF16(y: xh, x: xb)
        Kernels.toBF16(y: dyh, x: dyb)
        Kernels.blockedWeightsToBF16(wh: wh, wb: wb, k: s.k, c: s.c, r: s.r, s: s.s)
        let b = s.hasBias ? random(s.k, seed: 4) : nil, dxb = Tensor(zeros: [xb.count])
        let ws = Tensor(zeros: [Kernels.convBF16Workspace(ks)])
        let flops = 2.0 * Double(s.n * s.k) * Double(s.c * s.r * s.s) * Double(s.p * s.q)
        var cases = [KernelCase(kernel: "conv-blocked-bf16-forward", shape: s.description, usedBy: u.ops, flops: flops,
                                bytes: 2.0 * Double(xn + wn) + 4.0 * Double(yn + (s.hasBias ? s.k : 0))) {
            Kernels.convBF16Forward(y: yb, x: xh, w: wh, b: b, shape: ks, workspace: ws)
        }]
        if s.needsInputGradient {
            cases.append(KernelCase(kernel: "conv-blocked-bf16-backward-data", shape: s.description, usedBy: u.ops,
                                    flops: flops, bytes: 2.0 * Double(yn + wn) + 8.0 * Double(xn)) {
                Kernels.convBF16BackwardData(dx: dxb, dy: dyh, w: wh, accumulate: true, shape: ks, workspace: ws)
            })
        }
        if Kernels.convBF16HasBackwardWeights(ks) {
            let dw = Tensor(zeros: [wb.count]), db = s.hasBias ? Tensor(zeros: [s.k]) : nil
            let wws = Tensor(zeros: [Kernels.convBF16WeightsWorkspace(ks)])
            // dy read as bf16 and (for the bias) as float; dw and db read and written
            let bytes = 2.0 * Double(yn + xn) + 4.0 * Double(yn) + 8.0 * Double(wn + (s.hasBias ? s.k : 0))
            cases.append(KernelCase(kernel: "conv-blocked-bf16-backward-weights", shape: s.description, usedBy: u.ops,
                                    flops: flops, bytes: bytes) {
                Kernels.convBF16BackwardWeights(dw: dw, db: db, dy: dyb, dyh: dyh, x: xh, shape: ks, workspace: wws)
            })
        }
        return cases
    }
}
