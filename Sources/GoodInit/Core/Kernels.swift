// The thin layer between Tensors and CKernels: with the other Kernels*.swift files, the one place
// that calls C. Internal to the library: every wrapper traps (naming the kernel and the buffer)
// before C runs when a buffer is smaller than the sizes given, so no Swift caller can make C read
// or write past a buffer's end. Index buffers a backward pass reads (argmax) must come from the
// matching forward call, which only the library's ops make. A kernel with a channel-blocked twin
// has one wrapper that takes the layout (Engine/Layout.swift) and calls the twin it names.
// Here: threads, GEMM, activations, dropout, loss, elementwise; convolution, pooling, batch norm
// and the layout conversions have a file each.
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
            throw SettingError("compute.flushSubnormals", "cannot be had: this CPU has no flush-to-zero mode")
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
        withPointers(a, b, c, workspace) { A, B, C, W in
            ck_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, A, transA ? m : k, B,
                     transB ? k : n, beta, C, n, W)
        }
    }


    // MARK: activations
    enum Unary { case relu, leaky(Float), tanh, sigmoid }
    static func unaryForward(_ f: Unary, y: Tensor, x: Tensor) {
        check("unaryForward", "y", y.count, x.count)
        withPointers(y, x) { Y, X in
            switch f {
            case .relu: ck_relu_forward(Y, X, x.count)
            case .leaky(let a): ck_leaky_relu_forward(Y, X, a, x.count)
            case .tanh: ck_tanh_forward(Y, X, x.count)
            case .sigmoid: ck_sigmoid_forward(Y, X, x.count)
            }
        }
    }
    /// `saved` is the input for relu/leaky and the output for tanh/sigmoid; dx += …, or dx = …
    /// unless `accumulate`.
    static func unaryBackward(_ f: Unary, dx: Tensor, dy: Tensor, saved: Tensor, accumulate: Bool = true) {
        check("unaryBackward", "dy", dy.count, dx.count)
        check("unaryBackward", "saved", saved.count, dx.count)
        let acc: Int32 = accumulate ? 1 : 0
        withPointers(dx, dy, saved) { DX, DY, S in
            switch f {
            case .relu: ck_relu_backward(DX, DY, S, acc, dx.count)
            case .leaky(let a): ck_leaky_relu_backward(DX, DY, S, a, acc, dx.count)
            case .tanh: ck_tanh_backward(DX, DY, S, acc, dx.count)
            case .sigmoid: ck_sigmoid_backward(DX, DY, S, acc, dx.count)
            }
        }
    }
    /// x and y (n, c, hw) in `layout`, slopes a (c), or (1) when `shared`.
    static func preluForward(layout: ActivationLayout = .plain, y: Tensor, x: Tensor, a: Tensor, shared: Bool,
                             n: Int, c: Int, hw: Int) {
        let kernel: StaticString = layout == .plain ? "preluForward" : "preluForwardBlocked"
        checkSizes(kernel, n, c, hw)
        let count = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check(kernel, "y", y.count, count)
        check(kernel, "x", x.count, count)
        check(kernel, "a", a.count, shared ? 1 : c)
        let sh: Int32 = shared ? 1 : 0
        withPointers(y, x, a) { Y, X, A in
            switch layout {
            case .plain: ck_prelu_forward(Y, X, A, sh, n, c, hw)
            case .blocked: ck_prelu_forward_blocked(Y, X, A, sh, n, c, hw)
            }
        }
    }
    static func preluBackward(layout: ActivationLayout = .plain, dx: Tensor, da: Tensor, dy: Tensor, x: Tensor,
                              a: Tensor, shared: Bool, n: Int, c: Int, hw: Int) {
        let kernel: StaticString = layout == .plain ? "preluBackward" : "preluBackwardBlocked"
        checkSizes(kernel, n, c, hw)
        let count = activationCount(layout, n: n, c: c, h: hw, w: 1)
        check(kernel, "dx", dx.count, count)
        check(kernel, "dy", dy.count, count)
        check(kernel, "x", x.count, count)
        check(kernel, "da", da.count, shared ? 1 : c)
        check(kernel, "a", a.count, shared ? 1 : c)
        let sh: Int32 = shared ? 1 : 0
        withPointers(dx, da, dy, x, a) { DX, DA, DY, X, A in
            switch layout {
            case .plain: ck_prelu_backward(DX, DA, DY, X, A, sh, n, c, hw)
            case .blocked: ck_prelu_backward_blocked(DX, DA, DY, X, A, sh, n, c, hw)
            }
        }
    }
    /// x (n, c·k, hw) → y and argmax (n, c, hw).
    static func maxoutForward(y: Tensor, argmax: IndexBuffer, x: Tensor, k: Int, n: Int, c: Int, hw: Int) {
        checkSizes("maxoutForward", k, n, c, hw)
        check("maxoutForward", "y", y.count, n * c * hw)
        check("maxoutForward", "argmax", argmax.count, n * c * hw)
        check("maxoutForward", "x", x.count, n * c * k * hw)
        withPointers(y, argmax, x) { Y, A, X in ck_maxout_forward(Y, A, X, k, n, c, hw) }
    }
    static func maxoutBackward(dx: Tensor, dy: Tensor, argmax: IndexBuffer, k: Int, n: Int, c: Int, hw: Int) {
        checkSizes("maxoutBackward", k, n, c, hw)
        check("maxoutBackward", "dx", dx.count, n * c * k * hw)
        check("maxoutBackward", "dy", dy.count, n * c * hw)
        check("maxoutBackward", "argmax", argmax.count, n * c * hw)
        withPointers(dx, dy, argmax) { DX, DY, A in ck_maxout_backward(DX, DY, A, k, n, c, hw) }
    }

    // MARK: dropout, random fills
    static func dropoutForward(y: Tensor, mask: ByteBuffer, x: Tensor, p: Float, seed: UInt64, offset: UInt64) {
        check("dropoutForward", "y", y.count, x.count)
        check("dropoutForward", "mask", mask.count, x.count)
        withPointers(y, mask, x) { Y, M, X in ck_dropout_forward(Y, M, X, p, seed, offset, x.count) }
    }
    static func dropoutBackward(dx: Tensor, dy: Tensor, mask: ByteBuffer, p: Float) {
        check("dropoutBackward", "dy", dy.count, dx.count)
        check("dropoutBackward", "mask", mask.count, dx.count)
        withPointers(dx, dy, mask) { DX, DY, M in ck_dropout_backward(DX, DY, M, p, dx.count) }
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
        let loss = withPointers(probs, logits, labels) { P, L, Y in
            ck_softmax_xent_forward(P, &correct, L, Y, n, k)
        }
        return (loss, correct)
    }
    static func softmaxXentBackward(dlogits: Tensor, probs: Tensor, labels: IndexBuffer, scale: Float, n: Int, k: Int) {
        checkLabels("softmaxXentBackward", labels, n: n, k: k)
        check("softmaxXentBackward", "dlogits", dlogits.count, n * k)
        check("softmaxXentBackward", "probs", probs.count, n * k)
        withPointers(dlogits, probs, labels) { D, P, Y in ck_softmax_xent_backward(D, P, Y, scale, n, k) }
    }

    // MARK: elementwise, reductions, optimizers
    /// y = a + b; y may be a or b.
    static func add(y: Tensor, a: Tensor, b: Tensor) {
        check("add", "a", a.count, y.count)
        check("add", "b", b.count, y.count)
        withPointers(y, a, b) { Y, A, B in ck_add(Y, A, B, y.count) }
    }
    static func accumulate(y: Tensor, x: Tensor) {
        check("accumulate", "x", x.count, y.count)
        withPointers(y, x) { Y, X in ck_accumulate(Y, X, y.count) }
    }
    /// y = max(a + b, 0).
    static func addReLU(y: Tensor, a: Tensor, b: Tensor) {
        check("addReLU", "a", a.count, y.count)
        check("addReLU", "b", b.count, y.count)
        withPointers(y, a, b) { Y, A, B in ck_add_relu(Y, A, B, y.count) }
    }
    /// The residual add's backward: g = dy (reluOutput nil) or reluOutput > 0 ? dy : 0; dx and dskip
    /// each store g or add it.
    static func addBackward(dx: Tensor, dskip: Tensor, dy: Tensor, reluOutput: Tensor?, dxStores: Bool,
                            dskipStores: Bool) {
        check("addBackward", "dy", dy.count, dx.count)
        check("addBackward", "dskip", dskip.count, dx.count)
        if let m = reluOutput { check("addBackward", "relu output", m.count, dx.count) }
        withPointers(dx, dskip, dy, reluOutput) { X, S, D, M in
            ck_add_backward(X, S, D, M, dxStores ? 1 : 0, dskipStores ? 1 : 0, dx.count)
        }
    }
    /// y = x, in parallel.
    static func copy(y: Tensor, x: Tensor) {
        check("copy", "x", x.count, y.count)
        withPointers(y, x) { Y, X in ck_copy(Y, X, y.count) }
    }
    /// x = v on every element, in parallel.
    static func fill(_ x: Tensor, _ v: Float) { x.withPointer { ck_fill($0, v, x.count) } }
    /// out = Σ buffers in index order.
    static func sum(into out: Tensor, _ buffers: [Tensor]) {
        for b in buffers { check("sum", "buffers[i]", b.count, out.count) }
        withExtendedLifetime(buffers) {
            let ptrs: [UnsafePointer<Float>?] = buffers.map { UnsafePointer($0.basePointer) }
            out.withPointer { ck_sum_buffers($0, ptrs, buffers.count, out.count) }
        }
    }
    /// Where `sum` splits buffers [lo, hi) into two subtrees: [lo, mid) and [mid, hi).
    static func treeMid(_ lo: Int, _ hi: Int) -> Int {
        precondition(lo >= 0 && lo <= hi, "treeMid: range \(lo)..<\(hi)")
        return ck_tree_mid(lo, hi)
    }
    static func allFinite(_ x: Tensor) -> Bool { x.withPointer { ck_all_finite($0, x.count) != 0 } }
    /// Σ x² in double, the same bits for every thread count (gradient-norm clipping).
    static func sumOfSquares(_ x: Tensor) -> Double { x.withPointer { ck_sum_squares($0, x.count) } }
    /// Orthonormalizes the `columns` columns (each `rows` long, contiguous) of a in place.
    static func gramSchmidt(_ a: inout [Double], rows m: Int, columns n: Int) {
        precondition(m >= n && a.count == m * n, "gramSchmidt: \(a.count) values for \(m) × \(n), rows ≥ columns")
        a.withUnsafeMutableBufferPointer { ck_gram_schmidt($0.baseAddress, m, n) }
    }
    /// The mean and population variance of all of x (the same bits for every thread count).
    static func meanVariance(_ x: Tensor) -> (mean: Double, variance: Double) {
        var mean = 0.0, variance = 0.0
        x.withPointer { ck_mean_var(&mean, &variance, $0, x.count) }
        return (mean, variance)
    }
    static func scale(_ x: Tensor, by s: Float) { x.withPointer { ck_scale($0, s, x.count) } }
    static func sgdStep(w: Tensor, velocity: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float, momentum: Float,
                        weightDecay: Float) {
        check("sgdStep", "velocity", velocity.count, w.count)
        check("sgdStep", "grad", grad.count, w.count)
        check("sgdStep", "decayMask", decayMask.count, w.count)
        withPointers(w, velocity, grad, decayMask) { W, V, G, M in
            ck_sgd_step(W, V, G, M, lr, momentum, weightDecay, w.count)
        }
    }
    static func adamStep(w: Tensor, m: Tensor, v: Tensor, grad: Tensor, decayMask: ByteBuffer, lr: Float,
                         beta1: Float, beta2: Float, eps: Float, weightDecay: Float, t: Int) {
        for (name, x) in [("m", m), ("v", v), ("grad", grad)] as [(StaticString, Tensor)] {
            check("adamStep", name, x.count, w.count)
        }
        check("adamStep", "decayMask", decayMask.count, w.count)
        withPointers(w, m, v, grad, decayMask) { W, M, V, G, D in
            ck_adam_step(W, M, V, G, D, lr, beta1, beta2, eps, weightDecay, Int64(t), w.count)
        }
    }
}
