// `--threads auto`: the W × T layout of this machine's cores that the scaling model (ScalingModel,
// `bench scaling`) predicts fastest for a network at its batch, from steps traced on a copy of the
// network, so the run's own weights are never touched. W only takes values the run's chunking
// allows (a worker per chunk at most), so the chunks, and with them the bits, stay as set.
import Foundation

public enum ThreadChoice {
    public struct Candidate: Sendable, Equatable {
        public let workers, threads: Int
        public let imagesPerSecond: Double
    }

    /// W × T = cores with W dividing the cores and at most `chunks` (the chunks of one batch).
    public static func layouts(cores: Int, chunks: Int) -> [(workers: Int, threads: Int)] {
        (1...max(1, cores)).filter { cores % $0 == 0 && $0 <= max(1, chunks) }.map { ($0, cores / $0) }
    }

    /// Memory bandwidth assumed for all cores: 10 GB/s per core, a server's typical share (README,
    /// Scaling to many cores). Every layout moves the same bytes, so it rarely decides between them.
    static func bandwidth(cores: Int) -> Double { 10e9 * Double(cores) }

    /// Every allowed layout with its predicted speed, fastest first. `probe`: a network of the
    /// run's shape (not the run's own: tracing trains it), initialized here.
    public static func rank(probe: Network, batch: Int, chunks: Int, cores: Int,
                            steps: Int = 2) throws -> [Candidate] {
        // the probe runs the batch as one chunk, which can need more than the run's chunks
        try probe.checkMemory(batch: batch, chunk: batch, optimizerStates: 1)
        probe.initialize(.heNormal(fanOut: false), seed: 1)
        let optimizer = Optimizer(.sgd, store: probe.params, momentum: 0.9, weightDecay: 0)
        let size = probe.inputShape.reduce(1, *)
        let images = Tensor.randomNormal(shape: [batch * size], seed: 3).array
        let labels = (0..<batch).map { Int32($0 % probe.classes) }
        func plan(threads t: Int) -> Plan {
            let p = Plan(net: probe, chunking: Chunking(batch: batch, chunk: batch), workers: 1, threads: t)
            p.setInput(images: images, labels: labels, indices: Array(0..<batch)[...])
            return p
        }
        let one = plan(threads: 1)
        one.forward(training: true); _ = one.loss(); one.backward(); optimizer.step(lr: 1e-4) // warm-up
        let model = try ScalingModel(net: probe, batch: batch,
                                     steps: (0..<steps).map { _ in TracedStep.run(one, optimizer: optimizer) })
        let forkJoin = KernelsTrace.forkJoin(threads: cores)
        return try layouts(cores: cores, chunks: chunks).map { w, t in
            // the GEMM's tasks depend on T: its units come from a step traced at T
            let tasks = t == 1 ? nil : try model.tasks(in: TracedStep.run(plan(threads: t), optimizer: optimizer))
            let p = model.predict(workers: w, threads: t, tasks: tasks, bandwidth: bandwidth(cores: cores),
                                  forkJoin: forkJoin)
            return Candidate(workers: w, threads: t, imagesPerSecond: Double(batch) / p.step)
        }.sorted { $0.imagesPerSecond > $1.imagesPerSecond }
    }

    /// Fewer workers unless more are predicted clearly faster: each worker costs a plan's memory, and
    /// idle OpenMP threads spinning on the cores other workers need cost time the model leaves out.
    static let workerMargin = 1.05

    /// The layout to run: the fastest, or the one with the fewest workers within `workerMargin` of it.
    public static func choose(_ ranked: [Candidate]) -> Candidate? {
        guard let fastest = ranked.first else { return nil }
        return ranked.filter { $0.imagesPerSecond * workerMargin >= fastest.imagesPerSecond }
            .min { $0.workers < $1.workers }
    }

    /// The log line of a choice: the layout taken and every layout's prediction.
    public static func describe(_ ranked: [Candidate], cores: Int) -> String {
        guard let pick = choose(ranked) else { return "threads auto: nothing to choose" }
        let all = ranked.map { "\($0.workers)×\($0.threads) \(Int($0.imagesPerSecond.rounded())) img/s" }
        return "threads auto: W = \(pick.workers) × T = \(pick.threads) on \(cores) cores (predicted "
            + "\(all.joined(separator: ", "))); more workers only when 5 % faster; `goodinit bench scaling` shows why"
    }
}
