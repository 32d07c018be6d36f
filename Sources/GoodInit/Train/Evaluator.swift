// Accuracy and loss over a data set in eval mode (batch norm's running statistics, no dropout),
// in batches of 100, each one chunk run by all W·T threads: the loss sums in one order whatever W
// (chunks per worker would make its last bit depend on W). One executor per batch size.
public final class Evaluator {
    let net: Network
    let workers: Int, threads: Int
    var plans: [Int: Plan] = [:]
    public let batch: Int

    public init(net: Network, workers: Int, threads: Int, batch: Int = 100) {
        self.net = net; self.workers = workers; self.threads = threads; self.batch = batch
    }

    public func evaluate(_ set: Dataset) -> (accuracy: Double, loss: Double) {
        var correct = 0, loss = 0.0, start = 0
        while start < set.count {
            let b = min(batch, set.count - start)
            let plan = plans[b] ?? Plan(net: net, batch: b, chunkSize: b, workers: 1, threads: threads * workers)
            plans[b] = plan
            plan.setInput(images: set.images, labels: set.labels, indices: Array(start..<(start + b))[...])
            plan.forward(training: false)
            let (l, c) = plan.loss()
            loss += l * Double(b); correct += c; start += b
        }
        return (Double(correct) / Double(max(1, set.count)), loss / Double(max(1, set.count)))
    }
}
