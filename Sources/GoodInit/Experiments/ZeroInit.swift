// Symmetric initializations cannot learn: with all weights equal, every unit of a layer gets the
// same gradient, so the units stay identical forever. Shown on mlp-xavier.
import Foundation

enum ZeroInit {
    static func run(_ o: ExperimentOptions, log: @escaping (String) -> Void) throws -> ExperimentReport {
        let steps = o.steps ?? (o.quick ? 40 : 600)
        let data = try Experiments.loadData(o, "zero-init", log: log)
        var results: [RunResult] = [], identical: [String: Bool] = [:], spread: [String: Double] = [:]
        for initName in ["zeros", "constant:0.05", "xavier-uniform"] {
            var c = Experiments.config(o, run: initName.replacingOccurrences(of: ":", with: "-"))
            c.model = "mlp-xavier"; c.initializer = initName; c.maxSteps = steps; c.epochs = 100
            c.batchSize = 64; c.lr = 0.05; c.weightDecay = 0
            c.trainLimit = o.quick ? 4096 : nil; c.testLimit = o.quick ? 1000 : nil
            let (r, t) = try Experiments.train(initName, c, data: data, log: log)
            results.append(r)
            // the hidden units of the first layer: rows of its (256, 784) weight matrix
            let w = t.net.values(of: t.net.ops.firstIndex { $0 is Linear }!)[0]
            let rows = w.shape[0], cols = w.shape[1]
            var maxDiff: Float = 0
            for i in 1..<rows { for j in 0..<cols { maxDiff = max(maxDiff, abs(w[i * cols + j] - w[j])) } }
            identical[initName] = maxDiff == 0
            spread[initName] = Double(maxDiff)
        }
        func loss(_ n: String) -> Double { results.first { $0.name == n }?.finalLoss ?? .nan }
        let checks: [(String, Bool)] = [
            ("zeros: all 256 units of the first hidden layer stay identical (max difference \(spread["zeros"] ?? .nan))", identical["zeros"] ?? false),
            ("constant:0.05: all units stay identical (max difference \(spread["constant:0.05"] ?? .nan))", identical["constant:0.05"] ?? false),
            ("xavier-uniform breaks the symmetry (units differ by up to \(String(format: "%.3f", spread["xavier-uniform"] ?? .nan)))", !(identical["xavier-uniform"] ?? true)),
            ("xavier-uniform trains to a lower loss than zeros (\(String(format: "%.3f vs %.3f", loss("xavier-uniform"), loss("zeros"))))", loss("xavier-uniform") < loss("zeros")),
        ]
        let intro = """
        Zero or constant weights make every unit of a layer compute the same function and receive the same gradient: \
        the symmetry is never broken, and the layer behaves like a single unit. `mlp-xavier` (784-256-256-10 ReLU), SGD \
        lr 0.05, batch 64, \(steps) steps\(o.quick ? " (quick: 4,096 training images)" : ""), seed \(o.seed); biases start at 0 (zeros) or at the constant.
        """
        return try Experiments.finish("zero-init", o, results: results, checks: checks, intro: intro)
    }
}
