// Symmetric initializations cannot learn: with all weights equal, every unit of a layer gets the
// same gradient, so the units stay identical forever. Shown on mlp-xavier.
import Foundation

enum ZeroInit: PaperExperiment {
    enum Variant: ExperimentVariant, CaseIterable {
        /// Two symmetric inits and one that breaks the symmetry.
        case zeros, constant, xavier
        var initializer: Initializer {
            switch self {
            case .zeros: return .zeros
            case .constant: return .constant(0.05)
            case .xavier: return .xavierUniform
            }
        }
        var name: String { initializer.description }
        static var all: [Variant] { allCases }
    }
    static func steps(_ o: ExperimentOptions) -> Int { o.steps ?? (o.quick ? 40 : 600) }

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        try Variant.allCases.map { variant in
            let name = variant.name
            var s = Experiments.settings(o, run: name, model: .mlpXavier, initializer: variant.initializer)
            s.loop.maxSteps = steps(o); s.loop.epochs = 100; s.loop.batchSize = 64
            s.optimizer.lr = 0.05; s.optimizer.weightDecay = 0
            s.data.trainLimit = o.quick ? 4096 : nil; s.data.testLimit = o.quick ? 1000 : nil
            var (r, t) = try Experiments.train(name, s, data: data, log: log)
            // the hidden units of the first layer: rows of its (256, 784) weight matrix
            if let first = t.net.ops.firstIndex(where: { $0 is Linear }) {
                let w = t.net.values(of: first)[0]
                let rows = w.shape[0], cols = w.shape[1]
                var maxDiff: Float = 0
                for i in 1..<rows { for j in 0..<cols { maxDiff = max(maxDiff, abs(w[i * cols + j] - w[j])) } }
                r.maxUnitDifference = Double(maxDiff)
            }
            return r
        }
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        func spread(_ v: Variant) -> Double { results.run(v)?.maxUnitDifference ?? .nan }
        func loss(_ v: Variant) -> Double { results.run(v)?.finalLoss ?? .nan }
        let f3 = { (x: Double) in String(format: "%.3f", x) }
        let checks: [(String, Bool)] = [
            ("zeros: all 256 units of the first hidden layer stay identical (max difference \(spread(.zeros)))",
             spread(.zeros) == 0),
            ("constant:0.05: all units stay identical (max difference \(spread(.constant)))",
             spread(.constant) == 0),
            ("xavier-uniform breaks the symmetry (units differ by up to \(f3(spread(.xavier))))",
             spread(.xavier) > 0),
            ("xavier-uniform trains to a lower loss than zeros (\(f3(loss(.xavier))) vs \(f3(loss(.zeros))))",
             loss(.xavier) < loss(.zeros)),
        ]
        let intro = """
        Zero or constant weights make every unit of a layer compute the same function and receive the same gradient: \
        the symmetry is never broken, and the layer behaves like a single unit. `mlp-xavier` (784-256-256-10 ReLU), \
        SGD lr 0.05, batch 64, \(steps(o)) steps\(o.quick ? " (quick: 4,096 training images)" : ""), seed \(o.seed); \
        biases start at 0 (zeros) or at the constant.
        """
        return ReportContent(checks: checks, intro: intro)
    }
}
