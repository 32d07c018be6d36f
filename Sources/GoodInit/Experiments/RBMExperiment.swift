// Hinton 2006: greedy RBM pre-training, then fine-tuning, against the same net from random init.
import Foundation

enum RBMExperiment {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let epochs = o.quick ? 1 : 5
        let data = try Experiments.loadData(o, "rbm", log: log)
        var results: [RunResult] = []
        for initName in ["rbm", "normal:0.01", "xavier-uniform"] {
            var c = Experiments.config(o, run: initName.replacingOccurrences(of: ":", with: "-"))
            c.model = "mlp-sigmoid"; c.initializer = initName; c.epochs = epochs; c.maxSteps = o.steps
            c.batchSize = 64; c.lr = 0.1; c.weightDecay = 0; c.logEvery = 20
            c.rbmEpochs = o.quick ? 2 : 5; c.rbmSamples = o.quick ? 10_000 : 60_000; c.rbmLearningRate = 0.05
            c.trainLimit = o.quick ? 20_000 : nil; c.testLimit = o.quick ? 2_000 : nil
            results.append(try Experiments.train(initName, c, data: data, log: log).0)
        }
        let loss = { (n: String) in results.first { $0.name == n }?.losses.prefix(5).map { $0[1] }.reduce(0, +) ?? .nan }
        let acc = { (n: String) in results.first { $0.name == n }?.testAccuracy ?? .nan }
        let checks: [(String, Bool)] = [
            ("RBM pre-training starts fine-tuning from a lower loss than N(0, 0.01²) (first logged losses summed: \(String(format: "%.3f vs %.3f", loss("rbm"), loss("normal:0.01"))))",
             loss("rbm") < loss("normal:0.01")),
            ("RBM ends at least as accurate as N(0, 0.01²) (\(String(format: "%.2f %% vs %.2f %%", acc("rbm") * 100, acc("normal:0.01") * 100)))", acc("rbm") >= acc("normal:0.01")),
        ]
        let intro = """
        Greedy layer-wise RBM pre-training (CD-1, Hinton 2006) of mlp-sigmoid's three hidden layers, then fine-tuning with SGD \
        (lr 0.1, momentum 0.9, batch 64, \(epochs) epoch(s)), against N(0, 0.01²) — the small random init pre-training starts \
        from — and Xavier-uniform, the simple init that replaced it. On \(o.data), seed \(o.seed).
        """
        return try Experiments.finish("rbm", o, results: results, checks: checks, intro: intro)
    }
}
