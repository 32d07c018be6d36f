// The PyTorch tutorial's comparison: an MLP from N(0, 1) weights against Xavier-uniform, with Adam.
import Foundation

enum XavierMLP {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let epochs = o.quick ? 1 : 15
        let data = try Experiments.loadData(o, "xavier-mlp", log: log)
        var results: [RunResult] = []
        for (model, initName) in [("mlp-xavier", "normal:1"), ("mlp-xavier", "xavier-uniform")] + (o.quick ? [] : [("mlp-deep", "xavier-uniform")]) {
            var c = Experiments.config(o, run: "\(model)-\(initName.replacingOccurrences(of: ":", with: "-"))")
            c.model = model; c.initializer = initName; c.epochs = epochs; c.maxSteps = o.steps
            c.batchSize = 100; c.optimizer = "adam"; c.lr = 1e-3; c.weightDecay = 0; c.logEvery = 20
            c.trainLimit = o.quick ? 12_000 : nil; c.testLimit = o.quick ? 2_000 : nil
            results.append(try Experiments.train("\(model) \(initName)", c, data: data, log: log).0)
        }
        let acc = { (n: String) in results.first { $0.name == n }?.testAccuracy ?? .nan }
        let checks: [(String, Bool)] = [
            ("Xavier-uniform beats N(0, 1) on mlp-xavier (test accuracy \(String(format: "%.2f %% vs %.2f %%", acc("mlp-xavier xavier-uniform") * 100, acc("mlp-xavier normal:1") * 100)); the tutorial: 98.1 % vs 94.2 % on MNIST)",
             acc("mlp-xavier xavier-uniform") > acc("mlp-xavier normal:1")),
        ]
        let intro = """
        The PyTorch tutorial's MNIST comparison: 784-256-256-10 ReLU from N(0, 1) weights against Xavier-uniform, and the \
        deeper 784-512×4-10 with Xavier; Adam lr 1e-3, batch 100, \(epochs) epoch(s)\(o.quick ? " (quick: 12,000 training images, 2,000 test images)" : ""), on \(o.data), seed \(o.seed).
        """
        return try Experiments.finish("xavier-mlp", o, results: results, checks: checks, intro: intro)
    }
}
