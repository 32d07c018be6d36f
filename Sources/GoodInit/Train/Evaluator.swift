// Accuracy and loss over a data set in eval mode (batch norm's running statistics, no dropout),
// in batches of 100, each one chunk run by all W·T threads: the loss sums in one order whatever W
// (chunks per worker would make its last bit depend on W). One executor per batch size.
// With P ranks each scores a contiguous share of the batches; the per-batch results are gathered
// and summed in batch order, so the figures are the one-process ones, bit for bit.
public final class Evaluator {
    let net: Network
    let workers: Int, threads: Int
    var plans: [Int: Plan] = [:]
    public let batch: Int
    /// The ranks sharing the batches (set by the training loop).
    public var ranks: RankGroup = SingleRank.shared

    public init(net: Network, workers: Int, threads: Int, batch: Int = 100) {
        self.net = net; self.workers = workers; self.threads = threads; self.batch = batch
    }

    public func evaluate(_ set: Dataset) -> (accuracy: Double, loss: Double) {
        let batches = (set.count + batch - 1) / batch
        // (batch, 2): each batch's mean loss and correct count, filled for this rank's batches
        let results = DoubleBuffer(count: 2 * max(batches, 1))
        let share = RankShares.contiguous(rank: ranks.rank, ranks: ranks.size, count: batches)
        for i in share {
            let start = i * batch, b = min(batch, set.count - start)
            let plan = plans[b] ?? Plan(net: net, chunking: .whole(b), workers: 1, threads: threads * workers)
            plans[b] = plan
            plan.setInput(images: set.images, labels: set.labels, indices: Array(start..<(start + b))[...])
            plan.forward(training: false)
            let (l, c) = plan.loss()
            results[2 * i] = l; results[2 * i + 1] = Double(c)
        }
        ranks.allGather(results, ranges: (0..<ranks.size).map {
            let s = RankShares.contiguous(rank: $0, ranks: ranks.size, count: batches)
            return (2 * s.lowerBound)..<(2 * s.upperBound)
        })
        var correct = 0, loss = 0.0
        for i in 0..<batches {
            loss += results[2 * i] * Double(min(batch, set.count - i * batch)); correct += Int(results[2 * i + 1])
        }
        return (Double(correct) / Double(max(1, set.count)), loss / Double(max(1, set.count)))
    }
}
