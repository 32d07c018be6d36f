import ArgumentParser
import Foundation
import GoodInit

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: the FMA peak, GEMM, the kernels at the presets' shapes, LSUV cost, training throughput.",
        subcommands: [BenchPeak.self, BenchGemm.self, BenchKernels.self, BenchLSUV.self, BenchTrain.self,
                      BenchRanks.self, BenchScaling.self])
}

extension ISA: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

/// `--isa`: which kernel variant a benchmark times (default: the best this machine runs).
struct ISAOption: ParsableArguments {
    @Option(help: "Kernel variant: portable, avx2 or avx512 (default: the best this machine supports).")
    var isa: ISA?

    var chosen: ISA { isa ?? .best }

    func validate() throws {
        if let isa, !isa.isSupported {
            throw ValidationError("--isa \(isa): this machine runs at most \(ISA.best) (CPU features or GOODINIT_ISA)")
        }
    }
}

/// The share of the measured FMA peak (`bench peak`) that `gflops` on `threads` threads reaches.
func peakShare(_ gflops: Double, threads: Int, isa: ISA = .current) -> (peak: Double, fraction: Double) {
    let peak = MachinePeak.gflops(isa: isa, threads: threads)
    return (peak, gflops / peak)
}


/// Says once, on stderr, that --precision bf16 runs the widening path on this CPU.
func noteBF16Path(_ precision: Precision) {
    guard precision == .bf16, let note = Precision.widenNotice else { return }
    FileHandle.standardError.write(Data((note + "\n").utf8))
}

nonisolated(unsafe) private var bf16PeakCache: [Int: Double] = [:] // (variant, threads) → GFLOP/s; CLI thread only

/// The share of the peak of `precision`: the FMA peak at fp32; at bf16 that of the calling thread's
/// bf16 variant (`bench peak`'s bf16 rows; the widening variant's peak is the FP32 FMA peak).
func peakShare(_ gflops: Double, threads: Int, precision: Precision) -> (peak: Double, fraction: Double) {
    guard precision == .bf16 else { return peakShare(gflops, threads: threads) }
    let key = Int(BF16Variant.current.rawValue) * 4096 + threads
    let peak = bf16PeakCache[key] ?? BF16Peak.measure(threads: threads)
    bf16PeakCache[key] = peak
    return (peak, gflops / peak)
}

struct BenchPeak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak",
        abstract: "The FP32 FMA peak of this machine per kernel variant and thread count (best of several runs), "
            + "and the bf16 dot-product (VDPBF16PS) peak where the CPU has it.",
        discussion: """
        Independent fused multiply-add chains (more than FMA pipes × latency) in each variant's widest \
        registers, on T OpenMP threads; the best of --runs timings, since interference only slows a run. \
        Every "% of peak" figure the other benchmarks print divides by this.
        """)
    @Option(help: "Thread counts (default: 1 up to the cores).", transform: CountList.threads) var threads: CountList?
    @Option(help: "Timed runs per point; the best counts.") var runs = 7
    @Flag(help: "One JSON object per line.") var json = false

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        let counts = threads?.values ?? Array(1...ProcessInfo.processInfo.activeProcessorCount)
        if !json {
            print("best ISA here: \(ISA.best) (GEMM micro-kernel \(ISA.best.gemmKernelName)); "
                  + "OpenMP: \(OpenMP.isAvailable)")
            print("isa       threads  GFLOP/s  per thread  vs 1 thread")
        }
        for isa in ISA.supported.reversed() {
            var one: Double?
            for t in counts {
                let g = MachinePeak.measure(isa: isa, threads: t, runs: runs)
                if t == 1 { one = g }
                let scale = one.map { g / $0 } ?? .nan
                if json {
                    struct Line: Encodable {
                        let kernel = "fma-peak", isa: String, gemmKernel: String, threads: Int
                        let gflops: Double?, vsOneThread: Double?
                    }
                    try printJSONLine(Line(isa: isa.description, gemmKernel: isa.gemmKernelName, threads: t,
                                           gflops: rounded(g, 2), vsOneThread: rounded(scale, 3)))
                } else {
                    print(isa.description.padding(toLength: 9, withPad: " ", startingAt: 0)
                          + String(format: " %7d %8.1f %11.1f %12.2f", t, g, g / Double(t), scale))
                }
            }
        }
        try runBF16(counts)
    }

    /// The bf16 rows: VDPBF16PS chains (2 products per lane each); the widening variant runs the FP32
    /// chains above, so it has no row of its own.
    func runBF16(_ counts: [Int]) throws {
        guard BF16Variant.avx512bf16.isSupported else {
            if !json { print("bf16: no AVX512-BF16 here; bf16 runs the widening path at the FP32 peak") }
            return
        }
        var one: Double?
        for t in counts {
            let g = BF16Variant.with(.avx512bf16) { BF16Peak.measure(.avx512bf16, threads: t, runs: runs) }
            if t == 1 { one = g }
            let scale = one.map { g / $0 } ?? .nan
            if json {
                struct Line: Encodable {
                    let kernel = "bf16-peak", variant: String, gemmKernel: String, threads: Int
                    let gflops: Double?, vsOneThread: Double?
                }
                let kernel = BF16Variant.with(.avx512bf16) { BF16Variant.gemmKernelName }
                try printJSONLine(Line(variant: BF16Variant.avx512bf16.description, gemmKernel: kernel, threads: t,
                                       gflops: rounded(g, 2), vsOneThread: rounded(scale, 3)))
            } else {
                print("avx512bf16" + String(format: "%6d %8.1f %11.1f %12.2f", t, g, g / Double(t), scale))
            }
        }
    }
}

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "SGEMM GFLOP/s and share of the FMA peak per size and thread count (median of repeats).")
    @Option(help: "Square sizes, or MxNxK shapes, comma-separated (default: 256,512,1024,2048).",
            transform: GemmSizeList.parse)
    var sizes = GemmSizeList(squares: [256, 512, 1024, 2048])
    @Option(help: "Thread counts (default: 1,2).", transform: CountList.threads) var threads = CountList([1, 2])
    @Option(help: "Timed repeats per point.") var repeats = 5
    @OptionGroup var variant: ISAOption
    @Option(help: "fp32 (SGEMM), or bf16 (bf16 A and B, FP32 C; shares of the bf16 peak).")
    var precision = Precision.fp32
    @Flag(help: "One JSON object per line.") var json = false

    func validate() throws {
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
    }

    func run() throws {
        let isa = variant.chosen, bf16 = precision == .bf16
        // one shape's operands at a time
        if let (m, n, k) = sizes.shapes.max(by: { Self.bytes($0) < Self.bytes($1) }) {
            try MemoryLimit.check(Self.bytes((m, n, k)), for: "bench gemm at \(m)x\(n)x\(k)")
        }
        try ISA.with(isa) {
            if !json {
                print("GEMM micro-kernel: \(bf16 ? BF16Variant.gemmKernelName : isa.gemmKernelName) (isa \(isa)), "
                      + "OpenMP: \(OpenMP.isAvailable)")
                print("     M      N      K  threads   GFLOP/s (median, min-max)   % of \(bf16 ? "bf16" : "FMA") peak")
            }
            for (m, n, k) in sizes.shapes {
                let shape = GemmShape(transA: false, transB: false, m: m, n: n, k: k, accumulate: false)
                let use = KernelUse(shape: shape, ops: [])
                let call = (bf16 ? KernelBench.bf16Cases(use) : KernelBench.cases(use))[0], flops = call.flops
                for t in threads.values {
                    let r = call.measure(threads: t, repeats: call.repeats(atLeast: repeats, flopBudget: 2e10))
                    let g = flops / r.median / 1e9
                    let share = peakShare(g, threads: t, precision: precision)
                    if json {
                        struct Line: Encodable {
                            let kernel: String, isa: String, m, n, k, threads: Int
                            let gflops, peakGflops, peakFraction: Double?
                        }
                        let peak = peakFields(share)
                        try printJSONLine(Line(kernel: bf16 ? "gemm-bf16" : "sgemm", isa: isa.description,
                                               m: m, n: n, k: k, threads: t,
                                               gflops: rounded(g, 2), peakGflops: peak.gflops,
                                               peakFraction: peak.fraction))
                    } else {
                        print(String(format: "%6d %6d %6d  %7d  %8.1f (%.1f-%.1f)  %5.1f %% of %.1f", m, n, k, t, g,
                                     flops / r.max / 1e9, flops / r.min / 1e9, 100 * share.fraction, share.peak))
                    }
                }
            }
        }
    }
}

extension BenchGemm {
    static func bytes(_ s: (m: Int, n: Int, k: Int)) -> Double {
        GemmShape(transA: false, transB: false, m: s.m, n: s.n, k: s.k, accumulate: false).benchBytes
    }
}

struct BenchLSUV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lsuv", abstract: "LSUV time relative to one forward pass of the same batch.")
    @Option(help: .withDefault("Preset.", ModelPreset.plain30.rawValue), transform: Parse.named)
    var model = ModelPreset.plain30
    @Option(parsing: .unconditional, help: "Minibatch size.",
            transform: { try Parse.int($0, min: 1, max: CountList.maxSize) })
    var batchSize = 128
    @Option(parsing: .unconditional, help: "Timed repeats.", transform: Parse.positiveInt) var repeats = 5
    @OptionGroup var compute: ComputeOptions.Flags
    @Flag(help: "One JSON object per line.") var json = false

    func run() throws { try compute.inMode(measure) }

    func measure() throws {
        let net = try Presets.network(model)
        // the timed plan, and LSUV's own at the same batch, and the images twice
        let planBytes = net.estimatedTrainingBytes(batch: batchSize, chunk: batchSize, optimizerStates: 0).bytes
        let imageBytes = 8 * Double(batchSize) * Double(net.inputShape.reduce(1, *))
        try MemoryLimit.check(2 * planBytes + imageBytes,
                              for: "bench lsuv of \(model.rawValue) at --batch-size \(batchSize)")
        let threads = compute.threads > 0 ? compute.threads : ProcessInfo.processInfo.activeProcessorCount
        let size = net.inputShape.reduce(1, *)
        let x = Tensor.randomNormal(shape: [batchSize * size], seed: compute.seed)
        let images = x.array, labels = [Int32](repeating: 0, count: batchSize)
        var opts = LSUVOptions(); opts.batchSize = batchSize
        net.initialize(.orthogonal(gain: 1), seed: compute.seed)
        let plan = Plan(net: net, chunking: .whole(batchSize), workers: 1, threads: threads)
        plan.setInput(images: images, labels: labels, indices: Array(0..<batchSize)[...])
        let fwd = Timing.measure(repeats: repeats) { plan.forward(training: true) }
        var tries = 0
        let lsuv = Timing.measure(repeats: repeats) {
            let report = LSUV.run(net, images: images, labels: labels, options: opts, seed: compute.seed,
                                  threads: threads)
            tries = report.reduce(0) { $0 + $1.tries }
        }
        let pre = Timing.measure(repeats: repeats) { net.initialize(.orthogonal(gain: 1), seed: compute.seed) }
        let passes = lsuv.median / fwd.median, withoutPre = (lsuv.median - pre.median) / fwd.median
        let name = model.rawValue
        if json {
            struct Line: Encodable {
                let kernel = "lsuv", model: String, batch, threads: Int
                let forwardS, lsuvS, preinitS: Double?, tries: Int, forwardPasses, forwardPassesWithoutPreinit: Double?
            }
            try printJSONLine(Line(model: name, batch: batchSize, threads: threads, forwardS: significant(fwd.median),
                                   lsuvS: significant(lsuv.median), preinitS: significant(pre.median), tries: tries,
                                   forwardPasses: rounded(passes, 3),
                                   forwardPassesWithoutPreinit: rounded(withoutPre, 3)))
        } else {
            print(String(format: "%@ batch %d, %d threads: forward %.4f s, LSUV %.4f s (orthogonal pre-init %.4f s, "
                         + "%d tries in all) = %.2f forward passes (%.2f without the pre-init)",
                         name, batchSize, threads, fwd.median, lsuv.median, pre.median, tries, passes, withoutPre))
        }
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training throughput on synthetic data: images/s, GFLOP/s, speed-up and efficiency per thread count.")
    @Option(help: "Presets, comma-separated.", transform: PresetList.parse) var model = PresetList([.cnnSmall])
    @Option(help: "Batch sizes.", transform: CountList.sizes) var batchSize = CountList([128])
    @Option(help: "Threads per worker.", transform: CountList.threads) var threads = CountList([1, 2])
    @Option(help: "Workers.", transform: CountList.threads) var workers = CountList([1])
    @Option(parsing: .unconditional, help: "Timed steps per point.", transform: Parse.positiveInt) var steps = 5
    @Option(parsing: .unconditional, help: "Samples per chunk (W workers need batch / chunk ≥ W).",
            transform: Parse.positiveInt)
    var chunk = 128
    @Option(help: "Activation layout: auto (channel-blocked where the net allows) or plain (NCHW, im2col).")
    var layout = LayoutPolicy.auto
    @Option(help: "fp32, or bf16 operands in the blocked convolutions (% peak is then of the bf16 peak).")
    var precision = Precision.fp32
    @Flag(help: "After each 1-worker point, where the step's time goes, op by op and by kind.") var profile = false
    @Flag(help: "One JSON object per line.") var json = false
    @Option(help: "Also write throughput.svg, efficiency.svg (against W·T) and throughput.md here.") var out: String?

    func validate() throws {
        for b in batchSize.values {
            for w in workers.values { try checkChunking(Chunking(batch: b, chunk: chunk), workers: w) }
        }
    }

    func run() throws {
        noteBF16Path(precision)
        let mw = max(13, model.presets.map(\.rawValue.count).max() ?? 0)
        func pad(_ s: String) -> String { s.padding(toLength: mw, withPad: " ", startingAt: 0) }
        if !json {
            print(pad("model") + "  batch  W  T   img/s (train)          (min-max)"
                  + "  GFLOP/s  % peak  speed-up  efficiency  img/s (inference)")
        }
        // every point's plan, parameters and images, before the first is timed (one at a time is held)
        for preset in model.presets {
            let net = try Presets.network(preset)
            net.layoutPolicy = layout; net.precision = precision
            for b in batchSize.values {
                let planBytes = net.estimatedTrainingBytes(batch: b, chunk: chunk, optimizerStates: 1).bytes
                let imageBytes = 8 * Double(b) * Double(net.inputShape.reduce(1, *))
                try MemoryLimit.check(planBytes + imageBytes, for: "bench train of \(preset.rawValue) at batch \(b)")
            }
        }
        var points: [ThroughputPoint] = []
        // the machine's load before and after: figures from a busy machine say so
        var load = MachineLoad.start()
        let widest = workers.values.max()! * threads.values.max()!
        if widest > LoadSample.cores { load.oversubscribed = widest }
        for preset in model.presets {
            let name = preset.rawValue
            let net = try Presets.network(preset)
            net.layoutPolicy = layout; net.precision = precision
            net.initialize(.heNormal(fanOut: false), seed: 1)
            let opt = Optimizer(.sgd, store: net.params, momentum: 0.9, weightDecay: 5e-4)
            let size = net.inputShape.reduce(1, *)
            for b in batchSize.values {
                let x = Tensor.randomNormal(shape: [b * size], seed: 3)
                let images = x.array, labels = (0..<b).map { Int32($0 % net.classes) }
                var base: Double? = nil
                for w in workers.values { for t in threads.values {
                    let plan = Plan(net: net, chunking: Chunking(batch: b, chunk: chunk), workers: w, threads: t)
                    plan.setInput(images: images, labels: labels, indices: Array(0..<b)[...])
                    let r = Timing.measure(repeats: steps) {
                        plan.forward(training: true); _ = plan.loss(); plan.backward(); opt.step(lr: 1e-4)
                    }
                    let inf = Timing.measure(repeats: steps) { plan.forward(training: false) }
                    load.note(slowest: r.max, fastest: r.min, median: r.median)
                    let ips = Double(b) / r.median
                    if base == nil { base = ips / Double(w * t) }
                    let speedup = ips / base!, eff = speedup / Double(w * t)
                    let gf = 3.0 * Double(net.flopsPerSample) * ips / 1e9
                    let share = peakShare(gf, threads: w * t, precision: precision)
                    var p = ThroughputPoint(model: name, batch: b, workers: w, threads: t, imgPerS: ips,
                                            minImgPerS: Double(b) / r.max, maxImgPerS: Double(b) / r.min, gflops: gf,
                                            speedup: speedup, efficiency: eff, inferenceImgPerS: Double(b) / inf.median,
                                            peakRSSMB: ProcessStats.peakRSSMegabytes())
                    p.peakFraction = share.fraction
                    points.append(p)
                    if json {
                        struct Line: Encodable {
                            let model, layout, precision: String, batch, threads, workers: Int
                            let imgPerS, gflops, speedup, efficiency, peakGflops, peakFraction, peakRssMb: Double?
                            let inferenceImgPerS: Double?
                            /// the load so far (before the run, the repeats' spread) says not to trust it
                            let contended: Bool
                        }
                        let peak = peakFields(share)
                        try printJSONLine(Line(model: name, layout: layout.rawValue, precision: precision.rawValue,
                                               batch: b, threads: t, workers: w,
                                               imgPerS: rounded(ips, 1), gflops: rounded(gf, 2),
                                               speedup: rounded(speedup, 3), efficiency: rounded(eff, 3),
                                               peakGflops: peak.gflops, peakFraction: peak.fraction,
                                               peakRssMb: rounded(p.peakRSSMB, 1),
                                               inferenceImgPerS: rounded(p.inferenceImgPerS, 1),
                                               contended: load.contended))
                    } else {
                        // %@ would not pad a Swift String
                        let spread = String(format: "(%.1f-%.1f)", p.minImgPerS, p.maxImgPerS)
                        print(pad(name) + String(format: " %6d %2d %2d %15.1f ", b, w, t, ips)
                              + String(repeating: " ", count: max(0, 18 - spread.count)) + spread
                              + String(format: " %8.2f %6.1f%% %9.2f %11.2f %18.1f", gf, 100 * share.fraction,
                                       speedup, eff, p.inferenceImgPerS))
                    }
                    if profile && w == 1 && !json {
                        StepProfileReport.run(plan, optimizer: opt, steps: steps, threads: t, precision: precision)
                    }
                } }
            }
        }
        load.finish()
        load.warn()
        if json { try printJSONLine(load.line) }
        if let out {
            let command = "goodinit bench train --model \(model) --batch-size \(batchSize) --threads \(threads) "
                + "--workers \(workers) --steps \(steps) --chunk \(chunk) --layout \(layout)"
            try ThroughputReport.write(points, to: out, command: command, steps: steps,
                                       warning: load.contended ? load.reasons.joined(separator: "; ") : nil)
            if !json { print("wrote \(out)/throughput.svg, efficiency.svg, throughput.md") }
        }
    }
}
