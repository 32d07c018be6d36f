// Hinton 2006: greedy RBM pre-training, then fine-tuning, against the same net from random init.
import Foundation

enum RBMExperiment: PaperExperiment {
    enum Variant: ExperimentVariant, CaseIterable {
        /// RBM pre-training, the small random init it starts from, and the scaled init that replaced it.
        case rbm, smallNormal, xavier
        var initializer: Initializer {
            switch self {
            case .rbm: return .rbm
            case .smallNormal: return .normal(0.01)
            case .xavier: return .xavierUniform
            }
        }
        var name: String { initializer.description }
        static var all: [Variant] { allCases }
    }
    static func epochs(_ o: ExperimentOptions) -> Int { o.quick ? 1 : 5 }

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        try Variant.allCases.map { variant in
            let name = variant.name
            var s = Experiments.settings(o, run: name, model: .mlpSigmoid, initializer: variant.initializer)
            s.loop.epochs = epochs(o); s.loop.maxSteps = o.steps; s.loop.batchSize = 64; s.loop.logEvery = 20
            s.optimizer.lr = 0.1; s.optimizer.weightDecay = 0
            s.initialization.rbm.epochs = o.quick ? 2 : 5; s.initialization.rbm.samples = o.quick ? 10_000 : 60_000
            s.initialization.rbm.learningRate = 0.05
            s.data.trainLimit = o.quick ? 20_000 : nil; s.data.testLimit = o.quick ? 2_000 : nil
            return try Experiments.train(name, s, data: data, log: log).0
        }
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        let loss = { (v: Variant) in results.run(v)?.losses.prefix(5).map { $0[1] }.reduce(0, +) ?? .nan }
        let acc = { (v: Variant) in results.run(v)?.testAccuracy ?? .nan }
        let small = Variant.smallNormal
        let checks: [(String, Bool)] = [
            ("RBM pre-training starts fine-tuning from a lower loss than N(0, 0.01²) (first logged losses summed: "
             + "\(String(format: "%.3f vs %.3f", loss(.rbm), loss(small))))", loss(.rbm) < loss(small)),
            ("RBM ends at least as accurate as N(0, 0.01²) (\(Experiments.percent(acc(.rbm))) vs "
             + "\(Experiments.percent(acc(small))))", acc(.rbm) >= acc(small)),
        ]
        let intro = """
        Greedy layer-wise RBM pre-training (CD-1, Hinton 2006) of mlp-sigmoid's three hidden layers, then fine-tuning \
        with SGD (lr 0.1, momentum 0.9, batch 64, \(epochs(o)) epoch(s)), against N(0, 0.01²) — the small random \
        init pre-training starts from — and Xavier-uniform, the simple init that replaced it. On \(o.data.rawValue), \
        seed \(o.seed).
        """
        return ReportContent(checks: checks, intro: intro)
    }
}
