// He et al. 2015, Figure 3: a 30-layer plain ReLU net trains from He init and stalls from
// Xavier init; at 22 layers both train, He earlier. Also the β^L argument: each init's
// per-layer output variance at initialization.
import Foundation

enum He30: PaperExperiment {
    static let he = Initializer.heNormal(fanOut: false), xavier = Initializer.xavierUniform
    static let paperLR = 0.01

    /// The variants of either preset.
    enum Variant: ExperimentVariant {
        /// A depth and an init at the preset's setting.
        case grid(ModelPreset, Initializer)
        /// plain30 He with one 128-sample chunk: the summation order is a variable no seed controls.
        case oneChunk
        /// plain30 He without clipping: the paper's setting.
        case noClipping

        static let depths: [ModelPreset] = [.plain30, .plain22]
        static let inits: [Initializer] = [he, xavier, .normal(0.01)]
        static var all: [Variant] { depths.flatMap { m in inits.map { .grid(m, $0) } } + [.oneChunk, .noClipping] }

        var model: ModelPreset { if case .grid(let m, _) = self { m } else { .plain30 } }
        var initializer: Initializer { if case .grid(_, let i) = self { i } else { He30.he } }
        var name: String {
            let base = "\(model.rawValue) \(initializer)"
            switch self {
            case .grid: return base
            case .oneChunk: return base + " chunk 128"
            case .noClipping: return base + " no clipping"
            }
        }
    }

    /// One variant as it runs: the optimizer's lr, warm-up, gradient clipping and chunk size.
    struct Spec {
        var variant: Variant, lr: Double, warmup = 0, clip: Double?, chunk = 64
        var model: ModelPreset { variant.model }
        var initializer: Initializer { variant.initializer }
        var name: String { variant.name }
    }

    // Both presets clip the gradient at L2 norm 1 at the paper's lr 0.01; the full one runs the
    // paper's unclipped setting beside it, the quick one (120 steps) judges whether the loss leaves
    // ln 10. Why, and the sweeps this came from: docs/he30-settings.md.
    static let fullClip = 1.0
    static func lr(_ o: ExperimentOptions) -> Double { paperLR }
    static func clip(_ o: ExperimentOptions) -> Double? { fullClip }
    static func steps(_ o: ExperimentOptions) -> Int { o.steps ?? (o.quick ? 120 : 500) }

    /// The variants: every depth × init at the setting; the full preset adds plain30 He with one
    /// 128-sample chunk (only with one worker, as W workers need W chunks) and without clipping.
    static func variants(_ o: ExperimentOptions) -> [Spec] {
        let inits = o.quick ? [he, xavier] : Variant.inits
        let depths: [ModelPreset] = o.quick ? [.plain30] : Variant.depths
        var v = depths.flatMap { m in inits.map { Spec(variant: .grid(m, $0), lr: lr(o), clip: clip(o)) } }
        if !o.quick {
            if o.workers == 1 { v.insert(Spec(variant: .oneChunk, lr: lr(o), clip: clip(o), chunk: 128), at: 1) }
            v.insert(Spec(variant: .noClipping, lr: lr(o), clip: nil), at: inits.count + 1)
        }
        return v
    }

    static func train(_ o: ExperimentOptions, data: DataSplits,
                      log: @escaping (String) -> Void) throws -> [RunResult] {
        var results: [RunResult] = []
        for v in variants(o) {
            var s = Experiments.settings(o, run: v.name, model: v.model, initializer: v.initializer)
            s.loop.maxSteps = steps(o); s.loop.epochs = 100
            // the chunk is fixed whatever W (two workers share a batch of two chunks), so W never
            // changes the bits; one 128-sample chunk sums the batch's gradient in another order
            s.loop.batchSize = 128; s.loop.chunk = v.chunk
            s.optimizer.lr = v.lr; s.optimizer.momentum = 0.9; s.optimizer.weightDecay = 5e-4
            s.optimizer.clipGradNorm = v.clip
            s.optimizer.schedule = v.warmup > 0 ? .warmup(steps: v.warmup, then: .constant) : .constant
            // N(0, 0.01²) drives plain30's signal into subnormal floats, which cost 3–7× the time
            // in microcode assists; flushed to zero, every variant runs at the same speed
            s.compute.flushSubnormals = true
            s.data.testLimit = o.quick ? 1000 : nil
            var (r, loop) = try Experiments.train(v.name, s, data: data, log: log)
            r.lr = v.lr; r.warmupSteps = v.warmup; r.clipGradNorm = v.clip
            r.chunk = loop.settings.loop.chunk   // what ran: W workers may have split it
            if case .grid(.plain30, _) = v.variant {
                r.initVariance = try Experiments.initVariances(s, data: data) { $0.isWeighted }
            }
            results.append(r)
        }
        return results
    }

    static func report(_ o: ExperimentOptions, _ results: [RunResult]) -> ReportContent {
        func result(_ m: ModelPreset, _ i: Initializer) -> RunResult? { results.run(Variant.grid(m, i)) }
        func final(_ m: ModelPreset, _ i: Initializer) -> Double { result(m, i)?.finalLoss ?? .nan }
        func lowest(_ m: ModelPreset, _ i: Initializer) -> Double {
            result(m, i)?.losses.map { $0[1] }.filter(\.isFinite).min() ?? .nan
        }
        func seedsConverged(_ r: RunResult?) -> Int { r?.seedsConverged ?? 0 }
        let ln10 = Foundation.log(10.0), steps = steps(o)
        let f = { (x: Double) in String(format: "%.3f", x) }
        // quick: judged on the lowest logged loss, since 120 steps are part of one epoch, whose mean starts at ln 10
        let heVsXavier = o.quick
            ? ("plain30: He leaves ln 10 within \(steps) steps, Xavier does not (lowest logged loss: He "
               + "\(f(lowest(.plain30, he))), Xavier \(f(lowest(.plain30, xavier))))",
               lowest(.plain30, he) < lowest(.plain30, xavier) - 0.1)
            : ("plain30: He's training loss ends clearly below Xavier's (He \(f(final(.plain30, he))) vs Xavier "
               + "\(f(final(.plain30, xavier))))", final(.plain30, he) < final(.plain30, xavier) - 0.1)
        var checks: [(String, Bool)] = [
            heVsXavier,
            ("plain30: Xavier stalls near ln 10 = \(String(format: "%.4f", ln10)) (ends at "
             + "\(String(format: "%.4f", final(.plain30, xavier))))", abs(final(.plain30, xavier) - ln10) < 0.05),
        ]
        // over several seeds: how often, not whether once (converged: final loss below 2.0)
        if let h = result(.plain30, he), let x = result(.plain30, xavier), let n = h.seeds {
            let need = Int((0.8 * Double(n)).rounded(.up))
            if o.quick {
                // 80 steps are part of one epoch, whose mean loss starts at ln 10: judged per seed on
                // whether the loss ever left ln 10
                let (hl, xl) = (h.seedsLeftChance ?? 0, x.seedsLeftChance ?? 0)
                checks.append(("quick preset, a weaker claim: plain30 He leaves ln 10 (a logged loss below "
                               + "\(f(ln10 - 0.1))) in at least \(need)/\(n) seeds (\(hl)), Xavier in none (\(xl))",
                               hl >= need && xl == 0))
            } else {
                let (hc, xc) = (seedsConverged(h), seedsConverged(x))
                checks.append(("plain30: He converges in at least \(need)/\(n) seeds (\(hc)), Xavier in none (\(xc))",
                               hc >= need && xc == 0))
            }
            if let h128 = results.run(Variant.oneChunk) {
                let k = seedsConverged(h128)
                checks.append(("plain30: the outcome does not hinge on the summation order: He with one 128-sample "
                               + "chunk also converges in at least \(need)/\(n) seeds (\(k))", k >= need))
            }
        }
        if result(.plain22, he) != nil {
            checks.append(("plain22: both He and Xavier converge (median final loss below 2.0: He "
                           + "\(f(final(.plain22, he))), Xavier \(f(final(.plain22, xavier))))",
                           final(.plain22, he) < 2.0 && final(.plain22, xavier) < 2.0))
        }
        let varianceSeries = results.filter { $0.initVariance != nil }.map { r in
            SVGChart.Series(name: r.variant(Variant.self).map { "\($0.initializer)" } ?? r.name,
                            points: r.points(\.initVariance))
        }
        let varSVG = SVGChart.render(title: "plain30 at init: output variance per layer",
                                     xLabel: "weighted layer (1 = first conv)", yLabel: "log10 Var(layer output)",
                                     series: varianceSeries)
        let intro = intro(o, setting: result(.plain30, he), chunkVariant: results.run(Variant.oneChunk) != nil)
        return ReportContent(checks: checks, intro: intro,
                             plots: [("variance.svg", varSVG)], markdown: gradNormSection(results) + signalSection)
    }

    /// The set-up as the runs recorded it (lr, warm-up, clipping), so `--render` describes what ran.
    static func intro(_ o: ExperimentOptions, setting r: RunResult?, chunkVariant: Bool) -> String {
        let steps = steps(o)
        // runs from before the warm-up preset recorded neither; the quick preset's have not changed
        let runLR = r?.lr ?? (o.quick ? paperLR : nil)
        let runWarmup = r?.warmupSteps ?? (o.quick ? 0 : nil)
        let runClip = r?.clipGradNorm
        let lrText = runLR.map { "lr \($0)" } ?? "lr (not recorded by this older run)"
        let warmupText = runWarmup.map { $0 > 0 ? ", linear warm-up over the first \($0) steps" : ", no warm-up" } ?? ""
        let clipText = runClip.map { ", gradient clipped at L2 norm \($0)" } ?? ""
        let quickNote = o.quick ? " (quick preset: plain30 only, 1,000 test images)" : ""
        let chunkText = !chunkVariant ? "" : " The chunk size is a variable no seed controls (it changes the order "
            + "in which the batch's gradient is summed), so plain30 He also runs with one 128-sample chunk."
        let why: String
        if o.quick, runClip != nil {
            why = "The quick preset clips as the full one does and judges the lowest logged loss, and per seed "
                + "whether the loss left ln 10: \(steps) steps are part of one epoch, whose mean loss still holds "
                + "the first steps at ln 10, so the full preset's convergence test does not apply."
        } else if o.quick {   // quick runs from before it clipped
            why = "The quick preset uses the paper's lr 0.01 without warm-up or clipping and judges the lowest logged "
                + "loss: within \(steps) steps He leaves ln 10 and Xavier does not, but at this lr He's run often "
                + "collapses back to ln 10 soon after (see the full preset)."
        } else if let clip = runClip {
            // the committed docs/results/he30 report prints this paragraph; the sweeps behind it, and the
            // settings tried before, are in docs/he30-settings.md
            why = "Why this setting: at the paper's lr 0.01 unclipped, plain30 He converged in 1 of seeds 1–5 "
                + "(2026-11-30): as a run leaves ln 10 its gradient's norm climbs from about 0.2 to units or tens "
                + "(lr 0.005 after a warm-up, seed 1: 0.2–0.6 to step 95, 27 at 115, 138 at 130, loss 7.0), "
                + "one large step lands the net on a constant prediction, and it never leaves ln 10 again. "
                + "A smaller lr with a warm-up only postpones that step (lr 0.005 after a 200-step warm-up: "
                + "4 of 5 seeds with two 64-sample chunks, 2 of 5 with one 128-sample chunk). Clipping the "
                + "gradient's L2 norm at \(clip) (PyTorch's `clip_grad_norm_`, before weight decay; "
                + "not in the paper) bounds every step. It is no light touch: once He's net leaves ln 10 its "
                + "gradient norm stays at 10–100, so nearly every later step is clipped and SGD moves by lr × "
                + "\(clip) (times momentum's sum) whatever the gradient's size. The variant "
                + "`… no clipping` is the paper's setting, run beside it; the largest norms are below." + chunkText
                + " Subnormal floats are flushed to zero (`--flush-subnormals`): N(0, 0.01²) drives plain30's "
                + "signal into them, and they would make those runs 3–7× slower without changing where they end."
        } else {
            // a run from before the clipped preset
            why = "Why this setting: this run is from before the full preset clipped the gradient; the settings "
                + "tried without clipping, and how often each converged, are in GoodInit's docs/he30-settings.md."
                + chunkText
                + (r?.lr == nil ? "" : " Subnormal floats are flushed to zero (`--flush-subnormals`).")
        }
        return """
        He et al. 2015 ("Delving Deep into Rectifiers", Fig. 3): a 30-layer plain ReLU network (no batch norm) trains \
        from He initialization and stalls completely from Xavier initialization; at 22 layers both train, He earlier. \
        Here: `plain30`/`plain22` (3×3 convs at 16/32/64 channels on 28×28 Fashion-MNIST), \
        SGD \(lrText)\(warmupText)\(clipText), momentum 0.9, weight decay 5e-4, batch 128 (two 64-sample chunks), \
        \(steps) steps\(quickNote), first seed \
        \(o.seed). \(why)
        """
    }

    /// Each variant's largest logged gradient norm (before clipping), the median over its seeds.
    static func gradNormSection(_ results: [RunResult]) -> String {
        let rows = results.compactMap { r in
            r.maxGradNorm.map { "| \(r.name) | \(String(format: "%.3g", $0)) |" }
        }
        if rows.isEmpty { return "" }
        return "## Largest gradient norm\n\nThe largest L2 norm of the gradient at a logged step (every 5th), before "
            + "clipping; over several seeds, the median of the seeds' largest.\n\n"
            + "| variant | largest norm |\n|---|---|\n" + rows.joined(separator: "\n") + "\n\n"
    }

    static let signalSection = "## Signal at initialization\n\nLayer output variance on one minibatch, by layer "
        + "(He's β^L argument: with Xavier the signal shrinks by a constant factor per layer).\n\n"
        + "![variance](variance.svg)\n\n"
}
