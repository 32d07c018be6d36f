// The thin layer between Tensors and CKernels: the one place (with Tensor.swift) that touches raw
// pointers. Every function mirrors one ck_* call; sizes come from the caller.
import CKernels

public enum Kernels {
    // MARK: threads
    public static func setThreads(_ n: Int) { ck_set_num_threads(Int32(n)) }
    public static var maxThreads: Int { Int(ck_get_max_threads()) }
    public static var hasOpenMP: Bool { ck_has_openmp() != 0 }
    public static func measuredTeamSize() -> Int { Int(ck_measure_team_size()) }
    /// The GEMM micro-kernel kernels called from this thread use (see `ISA`).
    public static var gemmKernelName: String { String(cString: ck_gemm_kernel_name()) }

    // MARK: GEMM
    public static func gemmWorkspace(m: Int, n: Int, k: Int) -> Int { ck_sgemm_workspace_size(m, n, k) }
    /// C = alpha·op(A)·op(B) + beta·C over row-major tensors with leading dimensions = row lengths.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: Tensor, b: Tensor, beta: Float, c: Tensor, workspace: Tensor) {
        a.withPointer { A in b.withPointer { B in c.withPointer { C in workspace.withPointer { W in
            ck_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, A, transA ? m : k, B,
                     transB ? k : n, beta, C, n, W)
        } } } }
    }

    // MARK: convolution
    public static func convWorkspace(_ s: ck_conv2d_shape) -> Int { withUnsafePointer(to: s) { ck_conv2d_workspace_size($0) } }
    public static func convForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor?, shape s: ck_conv2d_shape, workspace: Tensor) {
        y.withPointer { Y in x.withPointer { X in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let b { b.withPointer { ck_conv2d_forward(Y, X, W, $0, sp, WS) } } else { ck_conv2d_forward(Y, X, W, nil, sp, WS) }
            }
        } } } }
    }
    public static func convBackwardData(dx: Tensor, dy: Tensor, w: Tensor, shape s: ck_conv2d_shape, workspace: Tensor) {
        dx.withPointer { DX in dy.withPointer { DY in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { ck_conv2d_backward_data(DX, DY, W, $0, WS) }
        } } } }
    }
    public static func convBackwardWeights(dw: Tensor, db: Tensor?, dy: Tensor, x: Tensor, shape s: ck_conv2d_shape, workspace: Tensor) {
        dw.withPointer { DW in dy.withPointer { DY in x.withPointer { X in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let db { db.withPointer { ck_conv2d_backward_weights(DW, $0, DY, X, sp, WS) } } else { ck_conv2d_backward_weights(DW, nil, DY, X, sp, WS) }
            }
        } } } }
    }
    public static func addBias(y: Tensor, b: Tensor, n: Int, k: Int, hw: Int) {
        y.withPointer { Y in b.withPointer { ck_add_bias(Y, $0, n, k, hw) } }
    }
    public static func biasBackward(db: Tensor, dy: Tensor, n: Int, k: Int, hw: Int) {
        db.withPointer { D in dy.withPointer { ck_bias_backward(D, $0, n, k, hw) } }
    }

    // MARK: activations
    public enum Unary { case relu, leaky(Float), tanh, sigmoid }
    public static func unaryForward(_ f: Unary, y: Tensor, x: Tensor) {
        y.withPointer { Y in x.withPointer { X in
            switch f {
            case .relu: ck_relu_forward(Y, X, x.count)
            case .leaky(let a): ck_leaky_relu_forward(Y, X, a, x.count)
            case .tanh: ck_tanh_forward(Y, X, x.count)
            case .sigmoid: ck_sigmoid_forward(Y, X, x.count)
            }
        } }
    }
    /// `saved` is the input for relu/leaky and the output for tanh/sigmoid.
    public static func unaryBackward(_ f: Unary, dx: Tensor, dy: Tensor, saved: Tensor) {
        dx.withPointer { DX in dy.withPointer { DY in saved.withPointer { S in
            switch f {
            case .relu: ck_relu_backward(DX, DY, S, dx.count)
            case .leaky(let a): ck_leaky_relu_backward(DX, DY, S, a, dx.count)
            case .tanh: ck_tanh_backward(DX, DY, S, dx.count)
            case .sigmoid: ck_sigmoid_backward(DX, DY, S, dx.count)
            }
        } } }
    }
    public static func preluForward(y: Tensor, x: Tensor, a: Tensor, shared: Bool, n: Int, c: Int, hw: Int) {
        y.withPointer { Y in x.withPointer { X in a.withPointer { ck_prelu_forward(Y, X, $0, shared ? 1 : 0, n, c, hw) } } }
    }
    public static func preluBackward(dx: Tensor, da: Tensor, dy: Tensor, x: Tensor, a: Tensor, shared: Bool, n: Int, c: Int, hw: Int) {
        dx.withPointer { DX in da.withPointer { DA in dy.withPointer { DY in x.withPointer { X in a.withPointer {
            ck_prelu_backward(DX, DA, DY, X, $0, shared ? 1 : 0, n, c, hw)
        } } } } }
    }
    public static func maxoutForward(y: Tensor, argmax: IndexBuffer, x: Tensor, k: Int, n: Int, c: Int, hw: Int) {
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { ck_maxout_forward(Y, A, $0, k, n, c, hw) } } }
    }
    public static func maxoutBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, k: Int, n: Int, c: Int, hw: Int) {
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer { ck_maxout_backward(DX, DY, $0, k, n, c, hw) } } }
    }

    // MARK: pooling
    public static func maxPoolForward(y: Tensor, argmax: IndexBuffer, x: Tensor, shape s: ck_pool_shape) {
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { X in withUnsafePointer(to: s) { ck_maxpool_forward(Y, A, X, $0) } } } }
    }
    public static func maxPoolBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, shape s: ck_pool_shape) {
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer { A in withUnsafePointer(to: s) { ck_maxpool_backward(DX, DY, A, $0) } } } }
    }
    public static func avgPoolForward(y: Tensor, x: Tensor, shape s: ck_pool_shape) {
        y.withPointer { Y in x.withPointer { X in withUnsafePointer(to: s) { ck_avgpool_forward(Y, X, $0) } } }
    }
    public static func avgPoolBackward(dx: Tensor, dy: Tensor, shape s: ck_pool_shape) {
        dx.withPointer { DX in dy.withPointer { DY in withUnsafePointer(to: s) { ck_avgpool_backward(DX, DY, $0) } } }
    }
    public static func globalAvgPoolForward(y: Tensor, x: Tensor, n: Int, c: Int, hw: Int) {
        y.withPointer { Y in x.withPointer { ck_global_avgpool_forward(Y, $0, n, c, hw) } }
    }
    public static func globalAvgPoolBackward(dx: Tensor, dy: Tensor, n: Int, c: Int, hw: Int) {
        dx.withPointer { DX in dy.withPointer { ck_global_avgpool_backward(DX, $0, n, c, hw) } }
    }
    public static func globalMaxPoolForward(y: Tensor, argmax: IndexBuffer, x: Tensor, n: Int, c: Int, hw: Int) {
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { ck_global_maxpool_forward(Y, A, $0, n, c, hw) } } }
    }
    public static func globalMaxPoolBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, n: Int, c: Int, hw: Int) {
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer { ck_global_maxpool_backward(DX, DY, $0, n, c, hw) } } }
    }

    // MARK: dropout, random fills
    public static func dropoutForward(y: Tensor, mask: ByteBuffer, x: Tensor, p: Float, seed: UInt64, offset: UInt64) {
        y.withPointer { Y in mask.withPointer { M in x.withPointer { ck_dropout_forward(Y, M, $0, p, seed, offset, x.count) } } }
    }
    public static func dropoutBackward(dx: Tensor, dy: Tensor, mask: ByteBuffer, p: Float) {
        dx.withPointer { DX in dy.withPointer { DY in mask.withPointer { ck_dropout_backward(DX, DY, $0, p, dx.count) } } }
    }
    public static func fillNormal(_ t: Tensor, seed: UInt64) { t.withPointer { ck_fill_normal($0, seed, 0, t.count) } }
    public static func fillUniform(_ t: Tensor, lo: Float, hi: Float, seed: UInt64) { t.withPointer { ck_fill_uniform($0, lo, hi, seed, 0, t.count) } }

    // MARK: loss
    /// Returns (Σ loss, correct count) for logits (n, k).
    public static func softmaxXentForward(probs: Tensor, logits: Tensor, labels: IndexBuffer, n: Int, k: Int) -> (Double, Int) {
        var correct = 0
        let loss = probs.withPointer { P in logits.withPointer { L in labels.withPointer { ck_softmax_xent_forward(P, &correct, L, $0, n, k) } } }
        return (loss, correct)
    }
    public static func softmaxXentBackward(dlogits: Tensor, probs: Tensor, labels: IndexBuffer, scale: Float, n: Int, k: Int) {
        dlogits.withPointer { D in probs.withPointer { P in labels.withPointer { ck_softmax_xent_backward(D, P, $0, scale, n, k) } } }
    }

    // MARK: elementwise, reductions, optimizers
    public static func add(y: Tensor, a: Tensor, b: Tensor) {
        y.withPointer { Y in a.withPointer { A in b.withPointer { ck_add(Y, A, $0, y.count) } } }
    }
    public static func accumulate(y: Tensor, x: Tensor) { y.withPointer { Y in x.withPointer { ck_accumulate(Y, $0, y.count) } } }
    /// out = Σ buffers in index order.
    public static func sum(into out: Tensor, _ buffers: [Tensor]) {
        func go(_ i: Int, _ ptrs: inout [UnsafePointer<Float>?]) {
            if i == buffers.count { out.withPointer { ck_sum_buffers($0, ptrs, buffers.count, out.count) }; return }
            buffers[i].withPointer { p in ptrs.append(UnsafePointer(p)); go(i + 1, &ptrs) }
        }
        var ptrs: [UnsafePointer<Float>?] = []
        ptrs.reserveCapacity(buffers.count)
        go(0, &ptrs)
    }
    public static func sgdStep(w: Tensor, velocity: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float, momentum: Float, weightDecay: Float) {
        w.withPointer { W in velocity.withPointer { V in grad.withPointer { G in decayMask.withPointer { M in
            ck_sgd_step(W, V, G, M, lr, momentum, weightDecay, w.count)
        } } } }
    }
    public static func adamStep(w: Tensor, m: Tensor, v: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, t: Int) {
        w.withPointer { W in m.withPointer { M in v.withPointer { V in grad.withPointer { G in decayMask.withPointer { D in
            ck_adam_step(W, M, V, G, D, lr, beta1, beta2, eps, weightDecay, Int64(t), w.count)
        } } } } }
    }
}
