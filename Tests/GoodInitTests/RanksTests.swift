// Training over P ranks gives one process's bits: the gradient-sum tree, the rank shares, the
// reduce-scatter/all-gather, the batch-norm and loss exchanges, and the training loop, each run with
// P ranks as P threads (ThreadRanks). scripts/mpi-tests.sh runs the same promise through mpirun.
import CKernels
import Foundation
@testable import GoodInit
import Testing

/// Per-rank results written by the rank threads.
final class RankSlots<T>: @unchecked Sendable {
    private var values: [T?]
    private let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ r: Int, _ v: T) { lock.lock(); values[r] = v; lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return values.compactMap { $0 } }
}

@Suite("Ranks: P processes, one process's bits") struct RanksTests {
    /// body on one process (P = 1) or on P thread-ranks.
    func onRanks(_ p: Int, _ body: @escaping @Sendable (RankGroup) -> Void) {
        if p == 1 { body(SingleRank.shared) } else { ThreadRanks.run(p, body) }
    }

    /// The tree sum of bufs[lo, hi) at one index, written out recursively.
    func referenceTree(_ bufs: [[Float]], _ lo: Int, _ hi: Int, _ i: Int) -> Float {
        if hi - lo == 1 { return bufs[lo][i] }
        let mid = lo + (hi - lo + 1) / 2
        return referenceTree(bufs, lo, mid, i) + referenceTree(bufs, mid, hi, i)
    }

    func treeSum(_ bufs: [[Float]], threads: Int = 1) -> [Float] {
        let tensors = bufs.map { Tensor(shape: [$0.count], values: $0) }, out = Tensor(zeros: [bufs[0].count])
        Kernels.setThreads(threads)
        Kernels.sum(into: out, tensors)
        Kernels.setThreads(1)
        return out.array
    }

    @Test("the gradient sum is a fixed pairwise tree, not a left fold")
    func treeOrder() {
        // ulp(1e8) = 8: (1e8 + 1) + (−1e8 + 1) is 1e8 − 1e8 = 0, where the fold ((1e8 + 1) − 1e8) + 1 gives 1
        #expect(treeSum([[1e8], [1], [-1e8], [1]]) == [0])
        // three buffers: (0 + 1) + 2, the fold's order
        #expect(treeSum([[1e8], [1], [-1e8]]) == [0])
        #expect(ck_tree_mid(0, 3) == 2 && ck_tree_mid(4, 8) == 6 && ck_tree_mid(0, 1) == 1)
    }

    @Test("the kernel's tree matches a recursive reference bit for bit, for any length and thread count",
          arguments: [1, 2, 3, 5, 8, 9])
    func treeReference(nbuf: Int) {
        for n in [1, 511, 513, 1300] {
            var bufs: [[Float]] = []
            for b in 0..<nbuf {
                let scale = Float(1 << (b % 5))
                bufs.append(testImages(n, seed: UInt64(40 + b)).map { $0 * scale })
            }
            let want = (0..<n).map { referenceTree(bufs, 0, nbuf, $0).bitPattern }
            for t in [1, 3] { #expect(treeSum(bufs, threads: t).map(\.bitPattern) == want, "n \(n) T \(t)") }
        }
    }

    @Test("rank shares are the tree's nodes: contiguous, in rank order, every chunk once, sizes within 1")
    func shares() {
        for p in [1, 2, 4, 8] { for n in p...(p + 11) {
            let s = (0..<p).map { RankShares.trainingChunks(rank: $0, ranks: p, chunks: n) }
            #expect(s.first?.lowerBound == 0 && s.last?.upperBound == n)
            #expect(zip(s, s.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            let sizes = s.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1 && sizes.min()! >= 1, "P \(p) chunks \(n): \(sizes)")
        } }
    }

    @Test("rank counts the tree cannot split are refused, with what to pass instead")
    func refused() {
        #expect(throws: SettingError.self) { try Chunking(batch: 128, chunk: 16).check(workers: 1, ranks: 3) }
        do {
            try Chunking(batch: 128, chunk: 64).check(workers: 1, ranks: 4)
            Issue.record("4 ranks over 2 chunks accepted")
        } catch let e as SettingError {
            #expect(e.setting == "loop.chunk" && e.problem.contains("use chunk 32"), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
        #expect(throws: Never.self) { try Chunking(batch: 128, chunk: 32).check(workers: 1, ranks: 4) }
    }

    @Test("TreeAllReduce gives every rank the one-process sum, bit for bit", arguments: [2, 4, 8])
    func allReduce(ranks p: Int) {
        for n in [5, 33, 37, 1001] { // 33: the upper half is the larger (16 | 17)
            let chunks = p + 3
            var bufs: [[Float]] = []
            for c in 0..<chunks {
                let scale = Float(1 + c % 4)
                bufs.append(testImages(n, seed: UInt64(7 * c + 1)).map { $0 * scale })
            }
            let want = treeSum(bufs).map(\.bitPattern), inputs = bufs
            let got = RankSlots<[UInt32]>(p)
            ThreadRanks.run(p) { group in
                let mine = RankShares.trainingChunks(rank: group.rank, ranks: p, chunks: chunks)
                let buf = Tensor(zeros: [n]), scratch = Tensor(zeros: [TreeAllReduce.scratchCount(n)])
                Kernels.sum(into: buf, mine.map { Tensor(shape: [n], values: inputs[$0]) })
                TreeAllReduce.allReduce(buf, scratch: scratch, group: group)
                got.set(group.rank, buf.array.map(\.bitPattern))
            }
            #expect(got.all.count == p)
            for (r, g) in got.all.enumerated() { #expect(g == want, "P \(p) n \(n) rank \(r)") }
        }
    }

    struct StepBits: Equatable { var loss: UInt64; var correct: Int; var grads: [UInt32]; var state: [UInt32] }

    /// One training step of a net with batch norm, dropout and a blocked conv, on P ranks.
    func planStep(ranks p: Int, layout: LayoutPolicy) throws -> [StepBits] {
        let layers: [LayerSpec] = [.conv(out: 16, kernel: 3, stride: 1, padding: 1, bias: false), .batchNorm, .relu,
                                   .dropout(0.2), .conv(out: 16, kernel: 3, stride: 2, padding: 1), .batchNorm, .tanh,
                                   .globalAvgPool, .linear(out: 3)]
        let batch = 20, size = 2 * 6 * 6 // 7 chunks of 3 (the last 2): uneven shares
        let images = testImages(batch * size, seed: 21), labels = (0..<batch).map { Int32($0 % 3) }
        let out = RankSlots<StepBits>(p)
        let body: @Sendable (RankGroup) -> Void = { group in
            do {
                let net = try Network(name: "ranks", input: [2, 6, 6], layers: layers)
                net.layoutPolicy = layout
                net.initialize(.heNormal(fanOut: false), seed: 5)
                let plan = Plan(net: net, chunking: Chunking(batch: batch, chunk: 3), workers: 1, threads: 1,
                                ranks: group)
                plan.setInput(images: images, labels: labels, indices: Array(0..<batch)[...])
                plan.forward(training: true, seed: 9)
                let (loss, correct) = plan.loss()
                plan.backward()
                out.set(group.rank, StepBits(loss: loss.bitPattern, correct: correct,
                                             grads: net.params.grad.array.map(\.bitPattern),
                                             state: net.stateTensors.flatMap { $0.1.array.map(\.bitPattern) }))
            } catch {
                Issue.record("rank \(group.rank): \(error)")
            }
        }
        onRanks(p, body)
        return out.all
    }

    @Test("a plan over P ranks: the loss, gradients and batch-norm statistics of one process",
          arguments: [LayoutPolicy.auto, .plain])
    func planSameBits(layout: LayoutPolicy) throws {
        let one = try planStep(ranks: 1, layout: layout)
        #expect(one.count == 1)
        for p in [2, 4] {
            let many = try planStep(ranks: p, layout: layout)
            #expect(many.count == p)
            for (r, s) in many.enumerated() {
                let a = one[0], where_ = "P \(p) rank \(r)"
                #expect(s.loss == a.loss && s.correct == a.correct, "\(where_)")
                #expect(zip(s.grads, a.grads).filter { $0 != $1 }.count == 0 && s.grads.count == a.grads.count,
                        "\(where_): gradients differ")
                #expect(zip(s.state, a.state).filter { $0 != $1 }.count == 0 && s.state.count == a.state.count,
                        "\(where_): running statistics differ")
            }
        }
    }

    func folder() -> String { TrainTests().folder() }

    /// TrainTests' tiny net (batch norm, dropout, 4 chunks of 8), with 3 evaluation batches: shares of
    /// 0, 1 or 2 batches per rank.
    func settings(_ out: String, steps: Int = 5) -> TrainSettings {
        var c = TrainTests().config(out, steps: steps)
        c.data.testLimit = 250
        return c
    }

    /// Trains on P thread-ranks into `out`; returns each rank's summary.
    func train(_ s: TrainSettings, ranks p: Int, stopRank: Int? = nil) throws -> [TrainSummary] {
        let out = RankSlots<TrainSummary>(p)
        let body: @Sendable (RankGroup) -> Void = { group in
            do {
                let token = CancellationToken()
                if group.rank == stopRank { token.requestStop() }
                let loop = try TrainingLoop(s, cancellation: token, ranks: group)
                loop.log = { _ in }
                out.set(group.rank, try loop.run())
            } catch {
                Issue.record("rank \(group.rank): \(error)")
            }
        }
        onRanks(p, body)
        return out.all
    }

    func file(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    /// metrics.jsonl without its timings.
    func metrics(_ out: String) -> [String] {
        String(decoding: file(out + "/metrics.jsonl"), as: UTF8.self).split(separator: "\n").map {
            String($0).replacing(/"(images_per_second|seconds)":[-0-9.e+]+,?/, with: "")
        }
    }

    @Test("training over 2 and 4 ranks writes one process's checkpoint and metrics; only rank 0 writes")
    func trainingSameBits() throws {
        let base = folder()
        let one = try train(settings(base), ranks: 1)
        let reference = file(base + "/checkpoint.safetensors"), lines = metrics(base)
        #expect(!reference.isEmpty && lines.count >= 5)
        func events() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: base).filter { $0.hasPrefix("events.out.tfevents") }
        }
        for p in [2, 4] {
            // the same --out (the checkpoint records it), emptied between runs
            for name in try events() + ["checkpoint.safetensors", "metrics.jsonl"] {
                try FileManager.default.removeItem(atPath: base + "/" + name)
            }
            let many = try train(settings(base), ranks: p)
            #expect(try events().count == 1, "P \(p): one TensorBoard file, rank 0's")
            #expect(many.count == p)
            #expect(file(base + "/checkpoint.safetensors") == reference, "P \(p) checkpoint")
            #expect(metrics(base) == lines, "P \(p) metrics")
            for s in many {
                #expect(s.finalTrainLoss.bitPattern == one[0].finalTrainLoss.bitPattern)
                #expect(s.testAccuracy == one[0].testAccuracy && s.testLoss?.bitPattern == one[0].testLoss?.bitPattern)
            }
        }
    }

    @Test("a stop request on one rank stops every rank after the same step, with one checkpoint")
    func stopOnOneRank() throws {
        let out = folder()
        let summaries = try train(settings(out, steps: 5), ranks: 2, stopRank: 1)
        #expect(summaries.count == 2)
        #expect(summaries.allSatisfy { $0.steps == 1 && $0.stoppedBySignal })
        let path = out + "/checkpoint.safetensors"
        let meta = try CheckpointMetadata(try Safetensors.read(path).1, file: path)
        #expect(meta.position.step == 1)
    }

    @Test("a divergence over 2 ranks: every rank stops at the step and place one process names")
    func divergence() throws {
        func run(_ p: Int) -> [String] {
            var c = settings(folder()); c.loop.injectNaNAtStep = 2
            let errors = RankSlots<String>(p), s = c
            let body: @Sendable (RankGroup) -> Void = { group in
                do {
                    let loop = try TrainingLoop(s, ranks: group)
                    loop.log = { _ in }
                    _ = try loop.run()
                    errors.set(group.rank, "no error")
                } catch {
                    errors.set(group.rank, "\(error is ErrorOnEveryRank) \(error)")
                }
            }
            onRanks(p, body)
            return errors.all
        }
        let one = run(1)
        #expect(one.count == 1 && one[0].hasPrefix("true non-finite value at step 3"), "\(one)")
        #expect(run(2) == [one[0], one[0]])
    }

    @Test("a rank that read another data set: every rank's training loop refuses to start")
    func otherData() {
        let out = folder(), errors = RankSlots<String>(2)
        var other = settings(out)
        other.data.trainLimit = 224
        let theirs = other, mine = settings(out)
        ThreadRanks.run(2) { group in
            do {
                _ = try TrainingLoop(group.rank == 1 ? theirs : mine, ranks: group)
                errors.set(group.rank, "no error")
            } catch {
                errors.set(group.rank, "\(error)")
            }
        }
        #expect(errors.all.count == 2)
        for e in errors.all { #expect(e.contains("rank 1 of 2 was started with another data set"), "\(e)") }
    }

    @Test("a rank with another configuration: every rank throws, naming the rank and the setting")
    func mismatch() {
        let errors = RankSlots<String>(3)
        ThreadRanks.run(3) { group in
            var s = TrainSettings()
            s.optimizer.lr = group.rank == 2 ? 0.1 : 0.05
            s.compute.workers = group.rank + 1 // W and T may differ: the agreement leaves them out
            do {
                try group.checkSame(s.rankAgreement(resume: nil), what: "configuration")
                errors.set(group.rank, "no error")
            } catch {
                errors.set(group.rank, "\(error)")
            }
        }
        #expect(errors.all.count == 3)
        for e in errors.all {
            #expect(e.contains("rank 2 of 3") && e.contains("settings.optimizer.lr: 0.05 on rank 0, 0.1 there"), "\(e)")
        }
    }
}
