// Same bits for any thread and worker count, at sizes where the kernels really fork OpenMP teams:
// below their thresholds (a GEMM of 262,144 multiply-adds, 32,768 elements elsewhere) every
// kernel runs on the calling thread and a thread-count test proves nothing.
import CKernels
@testable import GoodInit
import Testing

/// The 64-byte aligned float buffer ck_sgemm's workspace expects.
private func withAligned<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
    defer { raw.deallocate() }
    let p = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    p.initialize(repeating: 0, count: max(count, 1))
    return body(p)
}

@Suite("The GEMM team probe", .enabled(if: ck_has_openmp() != 0, "built without OpenMP (GOODINIT_NO_OPENMP)"))
struct TeamProbeTests {
    /// One n×n×n GEMM at `threads` threads on this thread; returns what the probe saw.
    func gemmTeam(_ n: Int, threads: Int32) -> Int {
        let before = ck_get_max_threads()
        defer { ck_set_num_threads(before) }
        ck_set_num_threads(threads)
        let a = testImages(n * n, seed: 1), b = testImages(n * n, seed: 2)
        var c = [Float](repeating: 0, count: n * n)
        _ = TeamProbe.take()
        withAligned(ck_sgemm_workspace_size(n, n, n)) { ws in
            ck_sgemm(0, 0, n, n, n, 1, a, n, b, n, 0, &c, n, ws)
        }
        return TeamProbe.take()
    }

    @Test("0 without a GEMM, 1 below the threshold or at T = 1, the team size above it; reading resets")
    func probe() {
        _ = TeamProbe.take()
        #expect(TeamProbe.take() == 0)
        #expect(gemmTeam(16, threads: 2) == 1)  // 4,096 multiply-adds: stays on this thread
        #expect(gemmTeam(64, threads: 1) == 1)
        #expect(gemmTeam(64, threads: 2) == 2)  // 262,144: the first size that forks
        #expect(gemmTeam(96, threads: 3) == 3)
        #expect(TeamProbe.take() == 0)
    }
}

@Suite("Determinism at threaded sizes") struct ThreadedDeterminismTests {
    /// What one training step computes, as bits.
    struct StepBits: Equatable {
        var loss: UInt64 = 0
        var logits: [UInt32] = [], grads: [UInt32] = [], state: [UInt32] = []
    }

    /// Batch 32 in chunks of 8: the convolutions fork, blocked or im2col (cnn-small's conv1, 32
    /// filters of 9 taps over 8 28×28 images, is 1.8 M multiply-adds; resnet-small's 3×3 16→16 convs
    /// 3.6 M), and BN, ReLU and pooling see over 32,768 elements per chunk. Returns the bits and the
    /// largest GEMM or blocked-convolution team on this thread (W = 1 runs on the calling thread;
    /// W = 2 on Dispatch workers, which the probe here cannot see).
    func step(_ preset: ModelPreset, workers: Int, threads: Int,
              layout: LayoutPolicy = .auto, fused: Bool = true) throws -> (StepBits, team: Int) {
        let net = try Presets.network(preset)
        net.layoutPolicy = layout
        net.initialize(.heNormal(fanOut: false), seed: 5)
        let batch = 32, size = net.inputShape.reduce(1, *)
        let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 8), workers: workers, threads: threads,
                        fused: fused)
        plan.setInput(images: testImages(batch * size, seed: 3), labels: (0..<batch).map { Int32($0 * 7 % 10) },
                      indices: Array(0..<batch)[...])
        _ = TeamProbe.take()
        plan.forward(training: true, seed: 9)
        let loss = plan.loss().loss
        plan.backward()
        let team = TeamProbe.take()
        var bits = StepBits()
        bits.loss = loss.bitPattern
        bits.logits = (0..<batch).flatMap { plan.logits(sample: $0) }.map(\.bitPattern)
        bits.grads = net.params.grad.array.map(\.bitPattern)
        bits.state = net.stateTensors.flatMap { $0.1.array }.map(\.bitPattern) // BN running statistics
        return (bits, team)
    }

    @Test("the convolutions run on a team of T threads at W = 1, T = 2 and 3, in both layouts",
          .enabled(if: ck_has_openmp() != 0, "built without OpenMP (GOODINIT_NO_OPENMP)"),
          arguments: [ModelPreset.cnnSmall, .resnetSmall], LayoutPolicy.allCases)
    func teams(_ preset: ModelPreset, _ layout: LayoutPolicy) throws {
        for t in 1...3 {
            #expect(try step(preset, workers: 1, threads: t, layout: layout).team == t, "\(preset) \(layout) T=\(t)")
        }
    }

    @Test("logits, loss, every parameter gradient and BN statistics: same bits for T = 1, 2, 3 and W = 1, 2",
          arguments: [ModelPreset.cnnSmall, .resnetSmall], LayoutPolicy.allCases)
    func sameBits(_ preset: ModelPreset, _ layout: LayoutPolicy) throws {
        let (ref, _) = try step(preset, workers: 1, threads: 1, layout: layout)
        #expect(ref.grads.contains { $0 != 0 } && ref.state.contains { $0 != 0 })
        for (w, t) in [(1, 2), (1, 3), (2, 1), (2, 2), (2, 3)] {
            let (got, _) = try step(preset, workers: w, threads: t, layout: layout)
            #expect(got.loss == ref.loss, "\(preset) W=\(w) T=\(t): loss")
            #expect(got.logits == ref.logits, "\(preset) W=\(w) T=\(t): logits")
            #expect(got.grads == ref.grads, "\(preset) W=\(w) T=\(t): gradients")
            #expect(got.state == ref.state, "\(preset) W=\(w) T=\(t): BN running statistics")
        }
    }

    @Test("the fused plan (ReLUs in convolutions and batch norms, BN sums in convolutions): the observed plan's bits",
          arguments: [ModelPreset.cnnSmall, .vggish, .plain30, .resnetSmall, .mlpDeep])
    func fusedSameBits(_ preset: ModelPreset) throws {
        let net = try Presets.network(preset)
        let fusion = Fusion(net: net), conv = preset != .mlpDeep
        #expect(!fusion.forward.isEmpty, "\(preset): some ReLU is fused into its producer")
        if conv && preset != .resnetSmall { #expect(!fusion.backward.isEmpty, "\(preset): a ReLU backward fused") }
        if conv && preset != .plain30 { #expect(!fusion.statsIntoConv.isEmpty, "\(preset): a conv sums for a BN") }
        if preset == .resnetSmall {
            #expect(!fusion.backwardIntoProducer.isEmpty, "a ReLU's backward in its add")
            #expect(!fusion.addIntoNorm.isEmpty, "an add (and its ReLU) in the batch norm before it")
        }
        let (ref, _) = try step(preset, workers: 1, threads: 1, fused: false)
        for (w, t) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            let (got, _) = try step(preset, workers: w, threads: t, fused: true)
            #expect(got == ref, "\(preset) fused, W=\(w) T=\(t)")
        }
    }

    @Test("a fused pass leaves a fused ReLU's input unwritten; an observed pass writes it, the same output")
    func fusedSkipsReLUInput() throws {
        let net = try Presets.network(.cnnSmall)
        net.initialize(.heNormal(fanOut: false), seed: 5)
        let j = try #require(Fusion(net: net).forward.min())
        let batch = 8, size = net.inputShape.reduce(1, *)
        let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 8))
        plan.setInput(images: testImages(batch * size, seed: 3), labels: (0..<batch).map { Int32($0) },
                      indices: Array(0..<batch)[...])
        plan.forward(training: true, seed: 9)
        #expect(plan.activation(j, chunk: 0).array.allSatisfy { $0 == 0 }, "fused: the ReLU's input is not written")
        let fusedOut = plan.activation(j + 1, chunk: 0).array.map(\.bitPattern)
        plan.fuses = false
        plan.forward(training: true, seed: 9)
        #expect(plan.activation(j, chunk: 0).array.contains { $0 < 0 }, "observed: the ReLU's input, both signs")
        #expect(plan.activation(j + 1, chunk: 0).array.map(\.bitPattern) == fusedOut, "the same ReLU output")
    }

    @Test("inference (running statistics): the fused plan's logits are the observed plan's bits",
          arguments: [ModelPreset.cnnSmall, .resnetSmall])
    func fusedInference(_ preset: ModelPreset) throws {
        let net = try Presets.network(preset)
        net.initialize(.heNormal(fanOut: false), seed: 5)
        let batch = 16, size = net.inputShape.reduce(1, *)
        func logits(fused: Bool) -> [UInt32] {
            let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 8), workers: 1, threads: 2, fused: fused)
            plan.setInput(images: testImages(batch * size, seed: 4), labels: (0..<batch).map { Int32($0 % 10) },
                          indices: Array(0..<batch)[...])
            plan.forward(training: false)
            return (0..<batch).flatMap { plan.logits(sample: $0) }.map(\.bitPattern)
        }
        let observed = logits(fused: false)
        #expect(observed.contains { $0 != 0 })
        #expect(logits(fused: true) == observed, "\(preset)")
    }
}
