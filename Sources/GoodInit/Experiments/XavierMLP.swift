// The PyTorch tutorial's comparison: an MLP from N(0, 1) weights against Xavier-uniform, with Adam.
import Foundation

enum XavierMLP: PaperExperiment {
    enum Variant: ExperimentVariant, CaseIterable {
        /// mlp-xavier from N(0, 1) and from Xavier-uniform; the deeper mlp-deep from Xavier-uniform.
        case normal, xavier, deepXavier
        var model: ModelPreset { self == .deepXavier ? .mlpDeep : .mlpXavier }
        var initializer: Initializer { self == .normal ? .normal(1) : .xavierUniform }
        var name: String { "\(model.rawValue) \(initializer)" }
        static var all: [Variant] { allCases }
    }

    static func epochs(_ o: ExperimentOptions) -> Int { o.quick ? 1 : 15 }

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        let variants: [Variant] = o.quick ? [.normal, .xavier] : Variant.allCases
        return try variants.map { variant in
            let name = variant.name
            var s = Experiments.settings(o, run: name, model: variant.model, initializer: variant.initializer)
            s.loop.epochs = epochs(o); s.loop.maxSteps = o.steps; s.loop.batchSize = 100; s.loop.logEvery = 20
            s.optimizer.kind = .adam; s.optimizer.lr = 1e-3; s.optimizer.weightDecay = 0
            s.data.trainLimit = o.quick ? 12_000 : nil; s.data.testLimit = o.quick ? 2_000 : nil
            return try Experiments.train(name, s, data: data, log: log).0
        }
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        let acc = { (v: Variant) in results.run(v)?.testAccuracy ?? .nan }
        let (xavier, normal) = (acc(.xavier), acc(.normal))
        let checks: [(String, Bool)] = [
            ("Xavier-uniform beats N(0, 1) on mlp-xavier (test accuracy \(Experiments.percent(xavier)) vs "
             + "\(Experiments.percent(normal)); the tutorial: 98.1 % vs 94.2 % on MNIST)", xavier > normal),
        ]
        let quick = o.quick ? " (quick: 12,000 training images, 2,000 test images)" : ""
        let intro = """
        The PyTorch tutorial's MNIST comparison: 784-256-256-10 ReLU from N(0, 1) weights against Xavier-uniform, and \
        the deeper 784-512×4-10 with Xavier; Adam lr 1e-3, batch 100, \(epochs(o)) epoch(s)\(quick), on \
        \(o.data.rawValue), seed \(o.seed).
        """
        return ReportContent(checks: checks, intro: intro)
    }
}
