// `bench scaling`: the training step traced region by region at T = 1 and at each T (oversubscribed
// here when T exceeds the cores), and the step time predicted on W × T real cores (ScalingModel),
// beside the measured one where W × T fits this machine.
import ArgumentParser
import Foundation
import GoodInit

struct BenchScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Predicted training speed-up on many cores, from the step's parallel regions traced here.",
        discussion: """
        Per region: the one-thread CPU time × the largest share of its units a thread gets at T, or its \
        minimal traffic / --bandwidth if larger, plus --fork-join when a team forks; plus the step's time \
        outside the regions at T = 1, which does not scale. W workers divide the per-chunk regions' work. \
        Defaults for the bandwidth and the fork/join cost are probes on this machine; servers differ \
        (README, Scaling to many cores).
        """)
    @Option(help: "Presets, comma-separated.", transform: PresetList.parse) var model = PresetList([.cnnSmall])
    @Option(help: "Threads per worker to predict (any count: traced oversubscribed).",
            transform: { try CountList(parsing: $0, max: 1024) })
    var threads = CountList([1, 2, 4, 8, 16, 32, 64])
    @Option(help: "Workers to predict.", transform: { try CountList(parsing: $0, max: 1024) })
    var workers = CountList([1])
    @Option(parsing: .unconditional, help: "Minibatch size.",
            transform: { try Parse.int($0, min: 1, max: CountList.maxSize) })
    var batchSize = 128
    @Option(parsing: .unconditional, help: "Traced steps at T = 1, and timed steps per measured point.",
            transform: Parse.positiveInt)
    var steps = 5
    @Option(help: "Memory bandwidth in GB/s shared by all cores (default: a triad probe on all cores here).")
    var bandwidth: Double?
    @Option(name: .customLong("fork-join"), help: "Cost of a fork/join in µs (default: probed at the cores here).")
    var forkJoin: Double?
    @Option(help: "Activation layout: auto (channel-blocked where the net allows) or plain (NCHW, im2col).")
    var layout = LayoutPolicy.auto
    @Flag(help: "One JSON object per (model, W, T).") var json = false
    @Option(help: "Also write scaling.svg (predicted and measured speed-up against W·T) here.") var out: String?

    func validate() throws {
        if let bandwidth, !(bandwidth > 0) { throw ValidationError("--bandwidth must be positive") }
        if let forkJoin, !(forkJoin >= 0) { throw ValidationError("--fork-join must not be negative") }
        for w in workers.values where batchSize % w != 0 {
            throw ValidationError("--workers \(w): the batch (\(batchSize)) must split into \(w) equal chunks")
        }
    }

    struct Line: Encodable {
        let model: String, batch, workers, threads: Int
        let predictedImgPerS, predictedEfficiency: Double?
        let measuredImgPerS: Double?
        let bandwidthGbPerS, forkJoinUs: Double?
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let bw = (bandwidth.map { $0 * 1e9 }) ?? KernelsTrace.triadBandwidth(threads: cores)
        let fj = (forkJoin.map { $0 * 1e-6 }) ?? KernelsTrace.forkJoin(threads: cores)
        if !json {
            print(String(format: "bandwidth %.1f GB/s (%@), fork/join %.2f µs (%@); %d cores here",
                         bw / 1e9, bandwidth == nil ? "triad probe, \(cores) threads" : "given",
                         fj * 1e6, forkJoin == nil ? "empty region, \(cores) threads" : "given", cores))
        }
        var chart: [SVGChart.Series] = []
        for preset in model.presets {
            let net = try Presets.network(preset)
            net.layoutPolicy = layout
            net.initialize(.heNormal(fanOut: false), seed: 1)
            let opt = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 5e-4)
            let b = batchSize, size = net.inputShape.reduce(1, *)
            let images = Tensor.randomNormal(shape: [b * size], seed: 3).array
            let labels = (0..<b).map { Int32($0 % net.classes) }
            func plan(workers w: Int, threads t: Int) -> Plan {
                let p = Plan(net: net, chunking: Chunking(batch: b, chunk: b / w), workers: w, threads: t)
                p.setInput(images: images, labels: labels, indices: Array(0..<b)[...])
                return p
            }
            func step(_ p: Plan) { p.forward(training: true); _ = p.loss(); p.backward(); opt.step(lr: 1e-4) }
            // T = 1: the costs (after a warm-up step); each T: the units of its regions
            let one = plan(workers: 1, threads: 1)
            step(one)
            let base = (0..<steps).map { _ in TracedStep.run(one, optimizer: opt) }
            let model = try ScalingModel(net: net, batch: b, steps: base)
            var tasks: [Int: [Int]] = [:], inflation: [Int: Double] = [:]
            let baseBusy = model.regions.reduce(0) { $0 + $1.cost }
            for t in Set(threads.values + [1]).sorted() where t > 1 {
                let traced = TracedStep.run(plan(workers: 1, threads: t), optimizer: opt)
                tasks[t] = try model.tasks(in: traced)
                inflation[t] = traced.regions.reduce(0) { $0 + $1.busy } / baseBusy
            }
            let ref = model.predict(workers: 1, threads: 1, bandwidth: bw, forkJoin: fj).step
            if !json {
                print("\n\(net.name), batch \(b): \(model.regions.count) regions per step, "
                      + String(format: "%.1f ms in them at T = 1, %.1f ms outside (serial)",
                               baseBusy * 1e3, model.serial * 1e3))
                print("   W    T  predicted img/s  speed-up  efficiency  memory-bound ms  measured img/s  "
                      + "CPU time vs T=1")
            }
            var layouts: [Int: [(w: Int, t: Int, step: Double)]] = [:] // by cores W·T
            var measuredOne: Double? // images/s measured at 1 × 1: the measured speed-ups' base
            for w in workers.values {
                var points: [(Double, Double)] = [], measuredPoints: [(Double, Double)] = []
                for t in threads.values {
                    let p = model.predict(workers: w, threads: t, tasks: tasks[t], bandwidth: bw, forkJoin: fj)
                    let speedup = ref / p.step, eff = speedup / Double(w * t)
                    var measured: Double?
                    if w * t <= cores {
                        let timed = plan(workers: w, threads: t)
                        measured = Double(b) / Timing.measure(repeats: steps) { step(timed) }.median
                    }
                    points.append((Double(w * t), speedup))
                    if w == 1 && t == 1 { measuredOne = measured }
                    if let measured {
                        measuredPoints.append((Double(w * t), measured / (measuredOne ?? Double(b) / ref)))
                    }
                    layouts[w * t, default: []].append((w, t, p.step))
                    if json {
                        try printJSONLine(Line(model: preset.rawValue, batch: b, workers: w, threads: t,
                                               predictedImgPerS: rounded(Double(b) / p.step, 1),
                                               predictedEfficiency: rounded(eff, 3),
                                               measuredImgPerS: measured.flatMap { rounded($0, 1) },
                                               bandwidthGbPerS: rounded(bw / 1e9, 2), forkJoinUs: rounded(fj * 1e6, 3)))
                    } else {
                        // %@ would not pad a Swift String
                        func right(_ s: String, _ n: Int) -> String {
                            String(repeating: " ", count: max(0, n - s.count)) + s
                        }
                        print(String(format: "%4d %4d %16.1f %9.2f %11.2f %16.2f", w, t, Double(b) / p.step,
                                     speedup, eff, p.memoryBound * 1e3)
                              + right(measured.map { String(format: "%.1f", $0) } ?? "–", 16)
                              + right(inflation[t].map { String(format: "%.2f×", $0) } ?? "–", 17))
                    }
                }
                chart.append(SVGChart.Series(name: "\(preset.rawValue) W\(w) predicted", points: points))
                if !measuredPoints.isEmpty {
                    chart.append(SVGChart.Series(name: "\(preset.rawValue) W\(w) measured", points: measuredPoints))
                }
            }
            if !json {
                limits(model, net: net, tasks: tasks, bandwidth: bw, forkJoin: fj)
                for (c, l) in layouts.sorted(by: { $0.key < $1.key }) where l.count > 1 {
                    let best = l.min { $0.step < $1.step }!
                    print("  on \(c) cores: W = \(best.w) × T = \(best.t) is predicted fastest of "
                          + l.map { "\($0.w)×\($0.t)" }.joined(separator: ", "))
                }
            }
        }
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let svg = SVGChart.render(title: "Training speed-up: predicted (from the trace) and measured",
                                      xLabel: "cores (W × T)", yLabel: "speed-up over 1 thread", series: chart)
            try svg.write(toFile: (out as NSString).appendingPathComponent("scaling.svg"), atomically: true,
                          encoding: .utf8)
            if !json { print("wrote \(out)/scaling.svg") }
        }
    }

    /// The five regions that cost most at the largest T (W = 1), and those with idle threads.
    func limits(_ model: ScalingModel, net: Network, tasks: [Int: [Int]], bandwidth: Double, forkJoin: Double) {
        guard let t = threads.values.max() else { return }
        let p = model.predict(workers: 1, threads: t, tasks: tasks[t], bandwidth: bandwidth, forkJoin: forkJoin)
        func row(_ k: Int) -> String {
            let r = model.regions[k]
            let what = r.part.name(in: net).padding(toLength: 24, withPad: " ", startingAt: 0)
            let site = r.site.padding(toLength: 44, withPad: " ", startingAt: 0)
            let n = tasks[t]?[k] ?? r.units
            let memory = r.bytes / bandwidth > r.cost * Double((n + t - 1) / t) / Double(n) ? " memory-bound" : ""
            return "    \(what) \(site)" + String(format: "%8.3f ms %5.1f %%  %6d units", p.time[k] * 1e3,
                                                     100 * p.time[k] / p.step, n) + memory
        }
        let order = p.time.indices.sorted { p.time[$0] > p.time[$1] }
        print("  at T = \(t) (W = 1), \(String(format: "%.1f", p.step * 1e3)) ms per step, "
              + String(format: "%.1f ms serial; the 5 costliest regions:", model.serial * 1e3))
        for k in order.prefix(5) { print(row(k)) }
        let serial = model.serialByPart.sorted { $0.value > $1.value }.prefix(5)
        print("  the serial time's largest parts: " + serial.map {
            $0.key.name(in: net) + String(format: " %.3f ms", $0.value * 1e3)
        }.joined(separator: ", "))
        let idle = order.filter { p.idle[$0] > 0 }
        print("  regions with fewer units than \(t) threads: \(idle.count) of \(model.regions.count), "
              + String(format: "%.1f %% of the step", 100 * idle.reduce(0) { $0 + p.time[$1] } / p.step)
              + (idle.isEmpty ? "" : "; the costliest:"))
        for k in idle.prefix(5) { print(row(k)) }
    }
}
