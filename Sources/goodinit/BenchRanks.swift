// `goodinit bench ranks`, run under `mpirun -np P` (or alone for P = 1): training throughput over
// the ranks on synthetic data, the gradient all-reduce on its own (GoodInit's fixed-order tree
// against MPI_Allreduce, whose order is unspecified), and the bytes each rank sends per step.
import ArgumentParser
import Foundation
import GoodInit

/// A RankGroup that counts what this rank sends: its exchanges, and for an all-gather every byte but
/// its own (a ring all-gather forwards all the others' blocks once).
final class CountingRanks: RankGroup, @unchecked Sendable {
    let inner: RankGroup
    var sentBytes = 0
    init(_ inner: RankGroup) { self.inner = inner }
    var rank: Int { inner.rank }
    var size: Int { inner.size }
    func allGather(_ buffer: UnsafeMutableRawPointer, counts: [Int], offsets: [Int]) {
        sentBytes += counts.reduce(0, +) - counts[rank]
        inner.allGather(buffer, counts: counts, offsets: offsets)
    }
    func exchange(send: UnsafeRawPointer, count: Int, receive: UnsafeMutableRawPointer, receiveCount: Int,
                  peer: Int) {
        sentBytes += count
        inner.exchange(send: send, count: count, receive: receive, receiveCount: receiveCount, peer: peer)
    }
    func abort(_ code: Int32) -> Never { inner.abort(code) }
    func finish() { inner.finish() }
}

struct BenchRanks: ParsableCommand, RunsOverRanks {
    static let configuration = CommandConfiguration(
        commandName: "ranks",
        abstract: "Training over MPI ranks (start with mpirun -np P): img/s, the gradient all-reduce's time "
            + "against MPI_Allreduce, bytes sent per rank and step.")
    @Option(help: "Presets, comma-separated.", transform: PresetList.parse)
    var model = PresetList([.plain30, .vggish, .mlpDeep])
    @Option(parsing: .unconditional, help: "Minibatch size (the whole batch, over all ranks).",
            transform: Parse.positiveInt)
    var batchSize = 128
    @Option(parsing: .unconditional, help: "Samples per chunk (the batch needs at least P chunks).",
            transform: Parse.positiveInt)
    var chunk = 32
    @Option(parsing: .unconditional, help: "OpenMP threads per rank.", transform: Parse.positiveInt) var threads = 1
    @Option(parsing: .unconditional, help: "Timed steps per model (the median counts).", transform: Parse.positiveInt)
    var steps = 5
    @Option(parsing: .unconditional, help: "Timed all-reduces per model.", transform: Parse.positiveInt)
    var reduces = 20
    @Flag(help: "One JSON object per line.") var json = false

    func run() throws {
        try withRanks { group in
            try Chunking(batch: batchSize, chunk: chunk).check(workers: 1, ranks: group.size)
            let ranks = CountingRanks(group), p = group.size
            if group.isLeader && !json {
                print("model          P  batch chunk  T     img/s   step ms  tree all-reduce ms  MPI_Allreduce ms"
                      + "  gradient MB  sent MB/step")
            }
            for preset in model.presets {
                let net = try Presets.network(preset)
                net.initialize(.heNormal(fanOut: false), seed: 1)
                let opt = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 5e-4)
                let size = net.inputShape.reduce(1, *)
                let images = Tensor.randomNormal(shape: [batchSize * size], seed: 3).array
                let labels = (0..<batchSize).map { Int32($0 % net.classes) }
                let plan = Plan(net: net, chunking: Chunking(batch: batchSize, chunk: chunk), workers: 1,
                                threads: threads,
                                ranks: ranks)
                plan.setInput(images: images, labels: labels, indices: Array(0..<batchSize)[...])
                let step = {
                    plan.forward(training: true); _ = plan.loss(); plan.backward(); opt.step(lr: 1e-4)
                }
                step() // warm-up, and one step's bytes
                ranks.sentBytes = 0
                step()
                let sent = ranks.sentBytes
                _ = group.anyRank(false) // start together
                let t = Timing.measure(repeats: steps, step)
                // the all-reduce alone, on a gradient-sized buffer
                let n = net.params.count
                let buf = Tensor.randomNormal(shape: [n], seed: 5)
                let scratch = Tensor(zeros: [TreeAllReduce.scratchCount(n)])
                _ = group.anyRank(false)
                let tree = Timing.measure(repeats: reduces) {
                    TreeAllReduce.allReduce(buf, scratch: scratch, group: group)
                }
                // the update every rank repeats whatever P (SGD with momentum over all parameters)
                let update = Timing.measure(repeats: reduces) { opt.step(lr: 1e-4) }
                var mpi: Timing? = nil
                #if MPI
                if let m = group as? MPIRanks {
                    _ = group.anyRank(false)
                    mpi = Timing.measure(repeats: reduces) { m.mpiAllReduceSum(buf) }
                }
                #endif
                guard group.isLeader else { continue }
                let ips = Double(batchSize) / t.median, mb = Double(n * 4) / 1e6, sentMB = Double(sent) / 1e6
                let name = preset.rawValue
                if json {
                    struct Line: Encodable {
                        let model: String, ranks, batch, chunk, threads: Int
                        let imgPerS, stepS, treeAllreduceS, mpiAllreduceS: Double?
                        let params, sentBytesPerStep: Int, updateS: Double?, batchnorms, flopsPerSample: Int
                    }
                    try printJSONLine(Line(model: name, ranks: p, batch: batchSize, chunk: chunk, threads: threads,
                                           imgPerS: rounded(ips, 1), stepS: significant(t.median),
                                           treeAllreduceS: significant(tree.median),
                                           mpiAllreduceS: mpi.flatMap { significant($0.median) }, params: n,
                                           sentBytesPerStep: sent, updateS: significant(update.median),
                                           batchnorms: net.ops.filter { $0 is BatchNorm }.count,
                                           flopsPerSample: net.flopsPerSample))
                } else {
                    let mpiText = mpi.map { String(format: "%16.3f", $0.median * 1e3) }
                        ?? String(repeating: " ", count: 13) + "n/a"
                    print(name.padding(toLength: 13, withPad: " ", startingAt: 0)
                          + String(format: " %2d %6d %5d %2d %9.1f %9.2f %19.3f", p, batchSize, chunk, threads, ips,
                                   t.median * 1e3, tree.median * 1e3)
                          + " " + mpiText + String(format: " %12.2f %13.2f", mb, sentMB))
                }
            }
        }
    }
}
