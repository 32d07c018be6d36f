// The thin layer between Tensors and CKernels: the one place (with Tensor.swift) that hands raw
// pointers to C. Internal to the library: every wrapper traps (naming the kernel and the buffer)
// before C runs when a buffer is smaller than the sizes given, so no Swift caller can make C read
// or write past a buffer's end. Index buffers a backward pass reads (argmax) must come from the
// matching forward call, which only the library's ops make.
import CKernels

enum Kernels {
    /// Traps unless `buffer` holds `needed` elements (every size was checked non-negative first,
    /// and the products that make `needed` trap on overflow).
    @inline(__always)
    static func check(_ kernel: StaticString, _ buffer: StaticString, _ count: Int, _ needed: Int) {
        precondition(count >= needed, "\(kernel): \(buffer) holds \(count) elements, the sizes need \(needed)")
    }

    @inline(__always)
    static func checkSizes(_ kernel: StaticString, _ sizes: Int...) {
        precondition(sizes.allSatisfy { $0 >= 0 }, "\(kernel): negative size in \(sizes)")
    }

    // MARK: threads
    static func setThreads(_ n: Int) { ck_set_num_threads(Int32(clamping: n)) }
    static var maxThreads: Int { Int(ck_get_max_threads()) }
    static var hasOpenMP: Bool { ck_has_openmp() != 0 }
    static func measuredTeamSize() -> Int { Int(ck_measure_team_size()) }
    /// Whether kernels called from this thread (and their OpenMP teams) flush subnormals to zero.
    static var flushesSubnormals: Bool { ck_get_flush_subnormals() != 0 }
    /// Runs body with this thread's subnormal mode set to `flushed`, then puts the old mode back
    /// (Dispatch reuses its threads, so a mode must not outlive the work that asked for it).
    /// Throws when the CPU has no flush-to-zero mode and `flushed` is asked for.
    static func withSubnormals<T>(flushed: Bool, _ body: () throws -> T) throws -> T {
        let old = flushesSubnormals
        guard ck_set_flush_subnormals(flushed ? 1 : 0) != 0 else {
            throw TrainingError("--flush-subnormals: this CPU has no flush-to-zero mode")
        }
        defer { _ = ck_set_flush_subnormals(old ? 1 : 0) }
        return try body()
    }
    /// The GEMM micro-kernel kernels called from this thread use (see `ISA`).
    static var gemmKernelName: String { String(cString: ck_gemm_kernel_name()) }

    // MARK: GEMM
    static func gemmWorkspace(m: Int, n: Int, k: Int) -> Int {
        checkSizes("gemmWorkspace", m, n, k)
        return ck_sgemm_workspace_size(m, n, k)
    }
    /// C = alpha·op(A)·op(B) + beta·C over row-major tensors with leading dimensions = row lengths.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: Tensor, b: Tensor, beta: Float, c: Tensor, workspace: Tensor) {
        checkSizes("gemm", m, n, k)
        check("gemm", "a", a.count, m * k)
        check("gemm", "b", b.count, k * n)
        check("gemm", "c", c.count, m * n)
        check("gemm", "workspace", workspace.count, ck_sgemm_workspace_size(m, n, k))
        a.withPointer { A in b.withPointer { B in c.withPointer { C in workspace.withPointer { W in
            ck_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, A, transA ? m : k, B,
                     transB ? k : n, beta, C, n, W)
        } } } }
    }

    // MARK: convolution
    /// Element counts of x (N,C,H,W), w (K,C,R,S) and y (N,K,P,Q), after checking that the shape
    /// is one C can run: sizes non-negative, kernel and stride positive, output at least 1×1.
    static func counts(_ kernel: StaticString, _ s: ck_conv2d_shape) -> (x: Int, w: Int, y: Int) {
        checkSizes(kernel, s.N, s.C, s.H, s.W, s.K, s.pad)
        precondition(s.R > 0 && s.S > 0 && s.stride > 0, "\(kernel): kernel \(s.R)x\(s.S), stride \(s.stride)")
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        precondition(s.H + 2 * s.pad >= s.R && s.W + 2 * s.pad >= s.S, "\(kernel): kernel larger than the input")
        withUnsafePointer(to: s) { sp in
            precondition(ck_conv2d_out_h(sp) == p && ck_conv2d_out_w(sp) == q, "\(kernel): output size")
        }
        return (s.N * s.C * s.H * s.W, s.K * s.C * s.R * s.S, s.N * s.K * p * q)
    }
    static func convWorkspace(_ s: ck_conv2d_shape) -> Int {
        _ = counts("convWorkspace", s)
        return withUnsafePointer(to: s) { ck_conv2d_workspace_size($0) }
    }
    static func convForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor?, shape s: ck_conv2d_shape,
                            workspace: Tensor) {
        let n = counts("convForward", s)
        check("convForward", "y", y.count, n.y)
        check("convForward", "x", x.count, n.x)
        check("convForward", "w", w.count, n.w)
        if let b { check("convForward", "b", b.count, s.K) }
        check("convForward", "workspace", workspace.count, convWorkspace(s))
        y.withPointer { Y in x.withPointer { X in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let b {
                    b.withPointer { ck_conv2d_forward(Y, X, W, $0, sp, WS) }
                } else {
                    ck_conv2d_forward(Y, X, W, nil, sp, WS)
                }
            }
        } } } }
    }
    static func convBackwardData(dx: Tensor, dy: Tensor, w: Tensor, shape s: ck_conv2d_shape, workspace: Tensor) {
        let n = counts("convBackwardData", s)
        check("convBackwardData", "dx", dx.count, n.x)
        check("convBackwardData", "dy", dy.count, n.y)
        check("convBackwardData", "w", w.count, n.w)
        check("convBackwardData", "workspace", workspace.count, convWorkspace(s))
        dx.withPointer { DX in dy.withPointer { DY in w.withPointer { W in workspace.withPointer { WS in
            withUnsafePointer(to: s) { ck_conv2d_backward_data(DX, DY, W, $0, WS) }
        } } } }
    }
    static func convBackwardWeights(dw: Tensor, db: Tensor?, dy: Tensor, x: Tensor, shape s: ck_conv2d_shape,
                                    workspace: Tensor) {
        let n = counts("convBackwardWeights", s)
        check("convBackwardWeights", "dw", dw.count, n.w)
        if let db { check("convBackwardWeights", "db", db.count, s.K) }
        check("convBackwardWeights", "dy", dy.count, n.y)
        check("convBackwardWeights", "x", x.count, n.x)
        check("convBackwardWeights", "workspace", workspace.count, convWorkspace(s))
        dw.withPointer { DW in dy.withPointer { DY in x.withPointer { X in workspace.withPointer { WS in
            withUnsafePointer(to: s) { sp in
                if let db {
                    db.withPointer { ck_conv2d_backward_weights(DW, $0, DY, X, sp, WS) }
                } else {
                    ck_conv2d_backward_weights(DW, nil, DY, X, sp, WS)
                }
            }
        } } } }
    }
    static func addBias(y: Tensor, b: Tensor, n: Int, k: Int, hw: Int) {
        checkSizes("addBias", n, k, hw)
        check("addBias", "y", y.count, n * k * hw)
        check("addBias", "b", b.count, k)
        y.withPointer { Y in b.withPointer { ck_add_bias(Y, $0, n, k, hw) } }
    }
    static func biasBackward(db: Tensor, dy: Tensor, n: Int, k: Int, hw: Int) {
        checkSizes("biasBackward", n, k, hw)
        check("biasBackward", "db", db.count, k)
        check("biasBackward", "dy", dy.count, n * k * hw)
        db.withPointer { D in dy.withPointer { ck_bias_backward(D, $0, n, k, hw) } }
    }

    // MARK: activations
    enum Unary { case relu, leaky(Float), tanh, sigmoid }
    static func unaryForward(_ f: Unary, y: Tensor, x: Tensor) {
        check("unaryForward", "y", y.count, x.count)
        y.withPointer { Y in x.withPointer { X in
            switch f {
            case .relu: ck_relu_forward(Y, X, x.count)
            case .leaky(let a): ck_leaky_relu_forward(Y, X, a, x.count)
            case .tanh: ck_tanh_forward(Y, X, x.count)
            case .sigmoid: ck_sigmoid_forward(Y, X, x.count)
            }
        } }
    }
    /// `saved` is the input for relu/leaky and the output for tanh/sigmoid; dx += …, or dx = …
    /// unless `accumulate`.
    static func unaryBackward(_ f: Unary, dx: Tensor, dy: Tensor, saved: Tensor, accumulate: Bool = true) {
        check("unaryBackward", "dy", dy.count, dx.count)
        check("unaryBackward", "saved", saved.count, dx.count)
        dx.withPointer { DX in dy.withPointer { DY in saved.withPointer { S in
            let acc: Int32 = accumulate ? 1 : 0
            switch f {
            case .relu: ck_relu_backward(DX, DY, S, acc, dx.count)
            case .leaky(let a): ck_leaky_relu_backward(DX, DY, S, a, acc, dx.count)
            case .tanh: ck_tanh_backward(DX, DY, S, acc, dx.count)
            case .sigmoid: ck_sigmoid_backward(DX, DY, S, acc, dx.count)
            }
        } } }
    }
    static func preluForward(y: Tensor, x: Tensor, a: Tensor, shared: Bool, n: Int, c: Int, hw: Int) {
        checkSizes("preluForward", n, c, hw)
        check("preluForward", "y", y.count, n * c * hw)
        check("preluForward", "x", x.count, n * c * hw)
        check("preluForward", "a", a.count, shared ? 1 : c)
        y.withPointer { Y in x.withPointer { X in a.withPointer {
            ck_prelu_forward(Y, X, $0, shared ? 1 : 0, n, c, hw)
        } } }
    }
    static func preluBackward(dx: Tensor, da: Tensor, dy: Tensor, x: Tensor, a: Tensor, shared: Bool,
                              n: Int, c: Int, hw: Int) {
        checkSizes("preluBackward", n, c, hw)
        for (name, t) in [("dx", dx), ("dy", dy), ("x", x)] as [(StaticString, Tensor)] {
            check("preluBackward", name, t.count, n * c * hw)
        }
        check("preluBackward", "da", da.count, shared ? 1 : c)
        check("preluBackward", "a", a.count, shared ? 1 : c)
        dx.withPointer { DX in da.withPointer { DA in dy.withPointer { DY in x.withPointer { X in a.withPointer {
            ck_prelu_backward(DX, DA, DY, X, $0, shared ? 1 : 0, n, c, hw)
        } } } } }
    }
    /// x (n, c·k, hw) → y and argmax (n, c, hw).
    static func maxoutForward(y: Tensor, argmax: IndexBuffer, x: Tensor, k: Int, n: Int, c: Int, hw: Int) {
        checkSizes("maxoutForward", k, n, c, hw)
        check("maxoutForward", "y", y.count, n * c * hw)
        check("maxoutForward", "argmax", argmax.count, n * c * hw)
        check("maxoutForward", "x", x.count, n * c * k * hw)
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { ck_maxout_forward(Y, A, $0, k, n, c, hw) } } }
    }
    static func maxoutBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, k: Int, n: Int, c: Int, hw: Int) {
        checkSizes("maxoutBackward", k, n, c, hw)
        check("maxoutBackward", "dx", dx.count, n * c * k * hw)
        check("maxoutBackward", "dy", dy.count, n * c * hw)
        check("maxoutBackward", "argmax", argmax.count, n * c * hw)
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer {
            ck_maxout_backward(DX, DY, $0, k, n, c, hw)
        } } }
    }

    // MARK: pooling
    /// Element counts of x (N,C,H,W) and y (N,C,P,Q), after checking that C can run the shape:
    /// sizes non-negative, window and stride positive, every window overlapping the input.
    static func counts(_ kernel: StaticString, _ s: ck_pool_shape) -> (x: Int, y: Int) {
        checkSizes(kernel, s.N, s.C, s.H, s.W, s.pad)
        precondition(s.R > 0 && s.S > 0 && s.stride > 0 && s.pad < s.R && s.pad < s.S,
                     "\(kernel): window \(s.R)x\(s.S), stride \(s.stride), padding \(s.pad)")
        precondition(s.H + 2 * s.pad >= s.R && s.W + 2 * s.pad >= s.S, "\(kernel): window larger than the input")
        let p = windowOutputExtent(s.H, window: s.R, stride: s.stride, padding: s.pad)
        let q = windowOutputExtent(s.W, window: s.S, stride: s.stride, padding: s.pad)
        withUnsafePointer(to: s) { sp in
            precondition(ck_pool_out_h(sp) == p && ck_pool_out_w(sp) == q, "\(kernel): output size")
        }
        return (s.N * s.C * s.H * s.W, s.N * s.C * p * q)
    }
    static func maxPoolForward(y: Tensor, argmax: IndexBuffer, x: Tensor, shape s: ck_pool_shape) {
        let n = counts("maxPoolForward", s)
        check("maxPoolForward", "y", y.count, n.y)
        check("maxPoolForward", "argmax", argmax.count, n.y)
        check("maxPoolForward", "x", x.count, n.x)
        y.withPointer { Y in argmax.withPointer { A in x.withPointer { X in
            withUnsafePointer(to: s) { ck_maxpool_forward(Y, A, X, $0) }
        } } }
    }
    static func maxPoolBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, shape s: ck_pool_shape) {
        let n = counts("maxPoolBackward", s)
        check("maxPoolBackward", "dx", dx.count, n.x)
        check("maxPoolBackward", "dy", dy.count, n.y)
        check("maxPoolBackward", "argmax", argmax.count, n.y)
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer { A in
            withUnsafePointer(to: s) { ck_maxpool_backward(DX, DY, A, $0) }
        } } }
    }
    static func avgPoolForward(y: Tensor, x: Tensor, shape s: ck_pool_shape) {
        let n = counts("avgPoolForward", s)
        check("avgPoolForward", "y", y.count, n.y)
        check("avgPoolForward", "x", x.count, n.x)
        y.withPointer { Y in x.withPointer { X in withUnsafePointer(to: s) { ck_avgpool_forward(Y, X, $0) } } }
    }
    static func avgPoolBackward(dx: Tensor, dy: Tensor, shape s: ck_pool_shape) {
        let n = counts("avgPoolBackward", s)
        check("avgPoolBackward", "dx", dx.count, n.x)
        check("avgPoolBackward", "dy", dy.count, n.y)
        dx.withPointer { DX in dy.withPointer { DY in withUnsafePointer(to: s) { ck_avgpool_backward(DX, DY, $0) } } }
    }
    static func globalAvgPoolForward(y: Tensor, x: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalAvgPoolForward", n, c, hw)
        check("globalAvgPoolForward", "y", y.count, n * c)
        check("globalAvgPoolForward", "x", x.count, n * c * hw)
        y.withPointer { Y in x.withPointer { ck_global_avgpool_forward(Y, $0, n, c, hw) } }
    }
    static func globalAvgPoolBackward(dx: Tensor, dy: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalAvgPoolBackward", n, c, hw)
        check("globalAvgPoolBackward", "dx", dx.count, n * c * hw)
        check("globalAvgPoolBackward", "dy", dy.count, n * c)
        dx.withPointer { DX in dy.withPointer { ck_global_avgpool_backward(DX, $0, n, c, hw) } }
    }
    static func globalMaxPoolForward(y: Tensor, argmax: IndexBuffer, x: Tensor, n: Int, c: Int, hw: Int) {
        checkSizes("globalMaxPoolForward", n, c, hw)
        check("globalMaxPoolForward", "y", y.count, n * c)
        check("globalMaxPoolForward", "argmax", argmax.count, n * c)
        check("globalMaxPoolForward", "x", x.count, n * c * hw)
        y.withPointer { Y in argmax.withPointer { A in x.withPointer {
            ck_global_maxpool_forward(Y, A, $0, n, c, hw)
        } } }
    }
    static func globalMaxPoolBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, n: Int, c: Int, hw: Int) {
        checkSizes("globalMaxPoolBackward", n, c, hw)
        check("globalMaxPoolBackward", "dx", dx.count, n * c * hw)
        check("globalMaxPoolBackward", "dy", dy.count, n * c)
        check("globalMaxPoolBackward", "argmax", argmax.count, n * c)
        dx.withPointer { DX in dy.withPointer { DY in argmax.withPointer {
            ck_global_maxpool_backward(DX, DY, $0, n, c, hw)
        } } }
    }

    // MARK: dropout, random fills
    static func dropoutForward(y: Tensor, mask: ByteBuffer, x: Tensor, p: Float, seed: UInt64, offset: UInt64) {
        check("dropoutForward", "y", y.count, x.count)
        check("dropoutForward", "mask", mask.count, x.count)
        y.withPointer { Y in mask.withPointer { M in x.withPointer {
            ck_dropout_forward(Y, M, $0, p, seed, offset, x.count)
        } } }
    }
    static func dropoutBackward(dx: Tensor, dy: Tensor, mask: ByteBuffer, p: Float) {
        check("dropoutBackward", "dy", dy.count, dx.count)
        check("dropoutBackward", "mask", mask.count, dx.count)
        dx.withPointer { DX in dy.withPointer { DY in mask.withPointer {
            ck_dropout_backward(DX, DY, $0, p, dx.count)
        } } }
    }
    static func fillNormal(_ t: Tensor, seed: UInt64) { t.withPointer { ck_fill_normal($0, seed, 0, t.count) } }
    static func fillUniform(_ t: Tensor, lo: Float, hi: Float, seed: UInt64) {
        t.withPointer { ck_fill_uniform($0, lo, hi, seed, 0, t.count) }
    }

    // MARK: loss
    /// Labels index the logits' rows, so each must be in 0..<k.
    static func checkLabels(_ kernel: StaticString, _ labels: IndexBuffer, n: Int, k: Int) {
        checkSizes(kernel, n, k)
        check(kernel, "labels", labels.count, n)
        for i in 0..<n {
            precondition(labels[i] >= 0 && labels[i] < k, "\(kernel): label \(labels[i]) not in 0..<\(k)")
        }
    }
    /// Returns (Σ loss, correct count) for logits (n, k).
    static func softmaxXentForward(probs: Tensor, logits: Tensor, labels: IndexBuffer, n: Int, k: Int)
        -> (Double, Int)
    {
        checkLabels("softmaxXentForward", labels, n: n, k: k)
        check("softmaxXentForward", "probs", probs.count, n * k)
        check("softmaxXentForward", "logits", logits.count, n * k)
        var correct = 0
        let loss = probs.withPointer { P in logits.withPointer { L in labels.withPointer {
            ck_softmax_xent_forward(P, &correct, L, $0, n, k)
        } } }
        return (loss, correct)
    }
    static func softmaxXentBackward(dlogits: Tensor, probs: Tensor, labels: IndexBuffer, scale: Float, n: Int, k: Int) {
        checkLabels("softmaxXentBackward", labels, n: n, k: k)
        check("softmaxXentBackward", "dlogits", dlogits.count, n * k)
        check("softmaxXentBackward", "probs", probs.count, n * k)
        dlogits.withPointer { D in probs.withPointer { P in labels.withPointer {
            ck_softmax_xent_backward(D, P, $0, scale, n, k)
        } } }
    }

    // MARK: elementwise, reductions, optimizers
    static func add(y: Tensor, a: Tensor, b: Tensor) {
        check("add", "a", a.count, y.count)
        check("add", "b", b.count, y.count)
        y.withPointer { Y in a.withPointer { A in b.withPointer { ck_add(Y, A, $0, y.count) } } }
    }
    static func accumulate(y: Tensor, x: Tensor) {
        check("accumulate", "x", x.count, y.count)
        y.withPointer { Y in x.withPointer { ck_accumulate(Y, $0, y.count) } }
    }
    /// out = Σ buffers in index order.
    static func sum(into out: Tensor, _ buffers: [Tensor]) {
        for b in buffers { check("sum", "buffers[i]", b.count, out.count) }
        func go(_ i: Int, _ ptrs: inout [UnsafePointer<Float>?]) {
            if i == buffers.count { out.withPointer { ck_sum_buffers($0, ptrs, buffers.count, out.count) }; return }
            buffers[i].withPointer { p in ptrs.append(UnsafePointer(p)); go(i + 1, &ptrs) }
        }
        var ptrs: [UnsafePointer<Float>?] = []
        ptrs.reserveCapacity(buffers.count)
        go(0, &ptrs)
    }
    /// Σ x² in double, the same bits for every thread count (gradient-norm clipping).
    static func sumOfSquares(_ x: Tensor) -> Double { x.withPointer { ck_sum_squares($0, x.count) } }
    static func scale(_ x: Tensor, by s: Float) { x.withPointer { ck_scale($0, s, x.count) } }
    static func sgdStep(w: Tensor, velocity: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float, momentum: Float,
                        weightDecay: Float) {
        check("sgdStep", "velocity", velocity.count, w.count)
        check("sgdStep", "grad", grad.count, w.count)
        check("sgdStep", "decayMask", decayMask.count, w.count)
        w.withPointer { W in velocity.withPointer { V in grad.withPointer { G in decayMask.withPointer { M in
            ck_sgd_step(W, V, G, M, lr, momentum, weightDecay, w.count)
        } } } }
    }
    static func adamStep(w: Tensor, m: Tensor, v: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float,
                         beta1: Float, beta2: Float, eps: Float, weightDecay: Float, t: Int) {
        for (name, x) in [("m", m), ("v", v), ("grad", grad)] as [(StaticString, Tensor)] {
            check("adamStep", name, x.count, w.count)
        }
        check("adamStep", "decayMask", decayMask.count, w.count)
        w.withPointer { W in m.withPointer { M in v.withPointer { V in grad.withPointer { G in
        decayMask.withPointer { D in
            ck_adam_step(W, M, V, G, D, lr, beta1, beta2, eps, weightDecay, Int64(t), w.count)
        } } } } }
    }
}
