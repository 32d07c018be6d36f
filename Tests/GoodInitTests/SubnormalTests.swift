import Foundation
@testable import GoodInit
import Testing

/// --flush-subnormals: the mode reaches every thread that computes (OpenMP team threads, Dispatch
/// workers), leaves none behind, and keeps the bits independent of W and T.
@Suite("Subnormals") struct SubnormalTests {
    /// C = A·B with every product 1e-20 · 1e-20 = 1e-40 (subnormal) and k of them per element: the
    /// IEEE sum stays subnormal but nonzero; flushed, every product and so every sum is 0.
    func tinyProducts(threads: Int) -> (c: [Float], team: Int) {
        let m = 384, n = 384, k = 64
        let a = Tensor(shape: [m, k], values: Array(repeating: 1e-20, count: m * k))
        let b = Tensor(shape: [k, n], values: Array(repeating: 1e-20, count: k * n))
        let c = Tensor(zeros: [m, n]), ws = Tensor(zeros: [Kernels.gemmWorkspace(m: m, n: n, k: k)])
        Kernels.setThreads(threads)
        _ = TeamProbe.take()
        Kernels.gemm(transA: false, transB: false, m: m, n: n, k: k, a: a, b: b, beta: 0, c: c, workspace: ws)
        let team = TeamProbe.take()
        Kernels.setThreads(1)
        return (c.array, team)
    }

    @Test("a threaded GEMM flushes on every team thread when asked, and the next call is IEEE again")
    func teamFollowsCaller() throws {
        #expect(!Kernels.flushesSubnormals)
        let flushed = try Kernels.withSubnormals(flushed: true) { tinyProducts(threads: 2) }
        #expect(!Kernels.flushesSubnormals)   // the caller's mode came back
        #expect(flushed.team == 2)             // the team thread computed a share
        #expect(flushed.c.allSatisfy { $0 == 0 })
        // the team thread that flushed before must not keep flushing: every element, in either share
        let ieee = tinyProducts(threads: 2)
        #expect(ieee.team == 2)
        #expect(ieee.c.allSatisfy { $0 != 0 && $0.isSubnormal })
    }

    /// An MLP whose signal falls into subnormals within a few layers (N(0, 1e-6²) weights).
    static let fadingModel = "name: fading\ninput: [1, 28, 28]\nlayers:\n  - flatten\n"
        + String(repeating: "  - linear: {out: 32}\n  - relu\n", count: 7) + "  - linear: {out: 10}\n"

    func weights(flush: Bool, workers: Int, threads: Int) throws -> [UInt32] {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("goodinit-ftz-\(UUID())").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        try Self.fadingModel.write(toFile: out + "/fading.yaml", atomically: true, encoding: .utf8)
        var c = TrainSettings()
        c.model = .file(out + "/fading.yaml"); c.data = DataOptions(source: .synthetic)
        c.data.trainLimit = 128; c.data.testLimit = 32
        c.loop.batchSize = 32; c.loop.chunk = 8; c.loop.maxSteps = 4; c.loop.logEvery = 1; c.loop.seed = 3
        c.optimizer.lr = 0.1
        c.initialization = InitOptions(.normal(1e-6))
        c.compute = ComputeOptions(workers: workers, threads: threads, flushSubnormals: flush)
        c.out = out
        let t = try TrainingLoop(c)
        t.log = { _ in }
        _ = try t.run()
        #expect(!Kernels.flushesSubnormals)
        return t.net.params.values.array.map(\.bitPattern)
    }

    @Test("flushed training: same bits for W = 1, 2 and T = 1, 2, and other bits than IEEE")
    func trainingBits() throws {
        let one = try weights(flush: true, workers: 1, threads: 1)
        #expect(try weights(flush: true, workers: 2, threads: 1) == one)
        #expect(try weights(flush: true, workers: 1, threads: 2) == one)
        // subnormals did occur, so flushing them changed the run
        #expect(try weights(flush: false, workers: 1, threads: 1) != one)
    }

    @Test("the mode is part of a run's recorded settings")
    func recorded() throws {
        var s = TrainSettings()
        s.compute.flushSubnormals = true
        #expect(try TrainSettings.stored(Data(s.stored().utf8)).compute.flushSubnormals)
        s.compute.flushSubnormals = false
        #expect(try !TrainSettings.stored(Data(s.stored().utf8)).compute.flushSubnormals)
    }
}
