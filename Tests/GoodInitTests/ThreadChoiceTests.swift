import Foundation
@testable import GoodInit
import Testing

@Suite("--threads auto") struct ThreadChoiceTests {
    @Test("layouts: W divides the cores and has a chunk each, T the rest")
    func layouts() {
        func pairs(_ cores: Int, _ chunks: Int) -> [[Int]] {
            ThreadChoice.layouts(cores: cores, chunks: chunks).map { [$0.workers, $0.threads] }
        }
        #expect(pairs(64, 4) == [[1, 64], [2, 32], [4, 16]])
        #expect(pairs(6, 8) == [[1, 6], [2, 3], [3, 2], [6, 1]])
        #expect(pairs(2, 1) == [[1, 2]])
    }

    @Test("the choice: the fastest layout, unless one with fewer workers is within 5 % of it")
    func choose() {
        func c(_ w: Int, _ t: Int, _ speed: Double) -> ThreadChoice.Candidate {
            ThreadChoice.Candidate(workers: w, threads: t, imagesPerSecond: speed)
        }
        #expect(ThreadChoice.choose([c(2, 1, 1000), c(1, 2, 960)]) == c(1, 2, 960))
        #expect(ThreadChoice.choose([c(2, 1, 1000), c(1, 2, 940)]) == c(2, 1, 1000))
        #expect(ThreadChoice.choose([c(4, 16, 1000), c(2, 32, 990), c(1, 64, 900)]) == c(2, 32, 990))
        #expect(ThreadChoice.choose([]) == nil)
    }

    @Test("train resolves auto to a layout of all the cores, logs it, and keeps the bits of W = T = 1")
    func train() throws {
        let t = TrainTests()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let auto = t.config(t.folder(), threads: ComputeOptions.autoThreads)
        let loop = try TrainingLoop(auto)
        var lines: [String] = []
        loop.log = { lines.append($0) }
        let s = try loop.run()
        let (one, w1) = try t.train(t.config(t.folder()))
        #expect(loop.setup.compute.workers * loop.setup.threads == cores)
        #expect(ThreadChoice.layouts(cores: cores, chunks: auto.loop.chunking.count)
            .contains { $0.workers == loop.setup.compute.workers && $0.threads == loop.setup.threads })
        let note = lines.first { $0.hasPrefix("threads auto: W = \(loop.setup.compute.workers) × T = ") }
        #expect(note != nil, "\(lines.prefix(5))")
        #expect(lines.contains { $0.contains("W=\(loop.setup.compute.workers) workers × T=\(loop.setup.threads)") })
        let weights = loop.net.params.values.array + loop.net.stateTensors.flatMap { $0.1.array }
        #expect(s.finalTrainLoss.bitPattern == one.finalTrainLoss.bitPattern)
        #expect(weights.map(\.bitPattern) == w1.map(\.bitPattern), "the probe must not touch the run's network")
    }

    @Test("the flag: `--threads auto` parses, any other word is refused")
    func flag() throws {
        let f = try ComputeOptions.Flags.parse(["--threads", "auto"])
        #expect(f.options.threads == ComputeOptions.autoThreads)
        #expect(throws: (any Error).self) { try ComputeOptions.Flags.parse(["--threads", "many"]) }
    }
}
