// bf16 kernels: conversions, the bf16 GEMM and the bf16 peak probe. bf16 values live in
// Buffer<UInt16> (the top 16 bits of a float32); accumulation and outputs are Float Tensors.
import CKernels
import Dispatch

extension Kernels {
    // MARK: conversions
    /// y = x rounded to nearest even (subnormals to ±0, NaN kept), over x's elements.
    static func toBF16(y: Buffer<UInt16>, x: Tensor) {
        check("toBF16", "y", y.count, x.count)
        withPointers(y, x) { Y, X in ck_f32_to_bf16(Y, X, x.count) }
    }
    /// y = x widened, over x's elements.
    static func fromBF16(y: Tensor, x: Buffer<UInt16>) {
        check("fromBF16", "y", y.count, x.count)
        withPointers(y, x) { Y, X in ck_bf16_to_f32(Y, X, x.count) }
    }

    // MARK: GEMM
    static func gemmBF16Workspace(m: Int, n: Int, k: Int) -> Int {
        checkSizes("gemmBF16Workspace", m, n, k)
        return ck_gemm_bf16_workspace_size(m, n, k)
    }
    /// C = alpha·op(A)·op(B) + beta·C with bf16 A, B and float C, leading dimensions = row lengths.
    static func gemmBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                         a: Buffer<UInt16>, b: Buffer<UInt16>, beta: Float, c: Tensor, workspace: Tensor) {
        checkSizes("gemmBF16", m, n, k)
        check("gemmBF16", "a", a.count, m * k)
        check("gemmBF16", "b", b.count, k * n)
        check("gemmBF16", "c", c.count, m * n)
        check("gemmBF16", "workspace", workspace.count, ck_gemm_bf16_workspace_size(m, n, k))
        withPointers(a, b, c, workspace) { A, B, C, W in
            ck_gemm_bf16(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, A, transA ? m : k, B,
                         transB ? k : n, beta, C, n, W)
        }
    }

    // MARK: blocked convolution in bf16 (x, w bf16; y, dx float; layouts as CKernels.h says)
    /// wh (bf16 pairs) from blocked FP32 weights wb, rounded to nearest even.
    static func blockedWeightsToBF16(wh: Buffer<UInt16>, wb: Tensor, k: Int, c: Int, r: Int, s: Int) {
        checkSizes("blockedWeightsToBF16", k, c, r, s)
        let n = blockedWeightsCount(k: k, c: c, r: r, s: s)
        check("blockedWeightsToBF16", "wh", wh.count, n)
        check("blockedWeightsToBF16", "wb", wb.count, n)
        withPointers(wh, wb) { WH, WB in ck_blocked_weights_to_bf16(WH, WB, k, c, r, s) }
    }

    static func convBF16Workspace(_ s: ck_conv2d_shape) -> Int {
        _ = counts("convBF16Workspace", s, .blocked)
        return withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_workspace_size($0) }
    }

    static func convBF16Forward(y: Tensor, x: Buffer<UInt16>, w: Buffer<UInt16>, b: Tensor?, relu: Bool = false,
                                bnRows: DoubleBuffer? = nil, shape s: ck_conv2d_shape, workspace: Tensor) {
        precondition(bnRows == nil || !relu, "convBF16Forward: row sums come without a ReLU")
        let n = counts("convBF16Forward", s, .blocked)
        check("convBF16Forward", "y", y.count, n.y)
        check("convBF16Forward", "x", x.count, n.x)
        check("convBF16Forward", "w", w.count, n.w)
        if let b { check("convBF16Forward", "b", b.count, s.K) }
        if let bnRows {
            let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
            check("convBF16Forward", "bnRows", bnRows.count, bnRowSumsCount(n: s.N, c: s.K, h: p))
        }
        withPointers(shape: s, y, x, w, b, bnRows, workspace) { sp, Y, X, W, B, R, WS in
            if let R { ck_conv2d_blocked_bf16_forward_bn_rows(Y, R, X, W, B, sp, WS) }
            else { ck_conv2d_blocked_bf16_forward(Y, X, W, B, relu ? 1 : 0, sp, WS) }
        }
    }

    /// dx += conv_transpose(dy, w), or dx = … unless `accumulate`; `reluMask` as convBackwardData's.
    static func convBF16BackwardData(dx: Tensor, dy: Buffer<UInt16>, w: Buffer<UInt16>, accumulate: Bool,
                                     reluMask: Tensor? = nil, shape s: ck_conv2d_shape, workspace: Tensor) {
        precondition(reluMask == nil || !accumulate, "convBF16BackwardData: a ReLU mask needs a stored dx")
        if let reluMask { check("convBF16BackwardData", "relu mask", reluMask.count, dx.count) }
        let n = counts("convBF16BackwardData", s, .blocked)
        check("convBF16BackwardData", "dx", dx.count, n.x)
        check("convBF16BackwardData", "dy", dy.count, n.y)
        check("convBF16BackwardData", "w", w.count, n.w)
        check("convBF16BackwardData", "workspace", workspace.count, convBF16Workspace(s))
        withPointers(shape: s, dx, dy, w, reluMask, workspace) { sp, DX, DY, W, M, WS in
            ck_conv2d_blocked_bf16_backward_data(DX, DY, W, accumulate ? 1 : 0, M, sp, WS)
        }
    }

    /// Backward-weights in bf16 runs 3×3 / stride 1 / pad 1 convolutions of whole input blocks; the
    /// others (first layers, strided) keep the FP32 kernel.
    static func convBF16HasBackwardWeights(_ s: ck_conv2d_shape) -> Bool {
        withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_weights_shape($0) != 0 }
    }
    static func convBF16WeightsWorkspace(_ s: ck_conv2d_shape) -> Int {
        _ = counts("convBF16WeightsWorkspace", s, .blocked)
        return withUnsafePointer(to: s) { ck_conv2d_blocked_bf16_weights_workspace_size($0) }
    }

    /// dw (blocked FP32) += Σ x·dyh over images and pixels (bf16 operands); db += Σ dy (FP32).
    static func convBF16BackwardWeights(dw: Tensor, db: Tensor?, dy: Tensor, dyh: Buffer<UInt16>,
                                        x: Buffer<UInt16>, shape s: ck_conv2d_shape, workspace: Tensor) {
        let n = counts("convBF16BackwardWeights", s, .blocked)
        precondition(convBF16HasBackwardWeights(s), "convBF16BackwardWeights: 3×3 / stride 1 / pad 1, C % 16 == 0")
        check("convBF16BackwardWeights", "dw", dw.count, n.w)
        if let db { check("convBF16BackwardWeights", "db", db.count, s.K) }
        check("convBF16BackwardWeights", "dy", dy.count, n.y)
        check("convBF16BackwardWeights", "dyh", dyh.count, n.y)
        check("convBF16BackwardWeights", "x", x.count, n.x)
        check("convBF16BackwardWeights", "workspace", workspace.count, convBF16WeightsWorkspace(s))
        withPointers(shape: s, dw, db, dy, dyh, x, workspace) { sp, DW, DB, DY, DYH, X, WS in
            ck_conv2d_blocked_bf16_backward_weights(DW, DB, DY, DYH, X, sp, WS)
        }
    }

    // MARK: peak
    /// FLOPs of `iters` rounds of bf16 dot-product chains on `threads` threads (0 if unsupported).
    static func bf16PeakProbe(_ variant: BF16Variant, threads: Int, iters: Int64) -> Double {
        ck_bf16_peak_probe(variant.rawValue, Int32(clamping: threads), iters)
    }
}

/// The bf16 dot-product ceiling of this machine, measured like `MachinePeak` (the FP32 one): the
/// share of it is what `% of peak` means at `--precision bf16`. The widening variant's peak is the
/// FP32 FMA peak of the thread's ISA.
public enum BF16Peak {
    public static func measure(_ variant: BF16Variant = .current, threads: Int, runs: Int = 7) -> Double {
        guard variant.isSupported else { return 0 }
        let iters: Int64 = 2_000_000 // about 25 ms per run at 250+ GFLOP/s per thread
        _ = Kernels.bf16PeakProbe(variant, threads: threads, iters: iters / 10) // wakes the team and the units
        var best = 0.0
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            let flops = Kernels.bf16PeakProbe(variant, threads: threads, iters: iters)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, flops / seconds / 1e9)
        }
        return best
    }
}
