import ArgumentParser
import Foundation
import GoodInit

/// `goodinit bench kernels`: the C kernels at the shapes the presets call, per thread count.
/// The cases and their FLOP and byte counts come from the library's `KernelBench`; this command
/// picks them and prints the table.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "C kernels (sgemm, conv forward/backward-data/backward-weights, batch norm forward/backward) "
            + "at the presets' shapes: GFLOP/s and GB/s per thread count.",
        discussion: """
        Shapes come from the presets' ops: each distinct convolution and batch norm at one chunk of \
        --batch-size samples, and the fully connected layers' GEMMs (convolutions run their GEMMs \
        inside the conv passes). GB/s counts the minimal traffic: inputs read once + outputs written \
        once (an accumulated output is read and written); scratch and repeated passes are not counted. \
        FLOPs: 2·m·n·k per GEMM, 2·N·K·C·R·S·P·Q per conv pass, 8 per element per batch-norm \
        pass. Batch norm forward is the training path (two statistics passes, normalize saving x̂).
        """)
    @Option(help: "Presets whose shapes to time, comma-separated (default: cnn-small).", transform: PresetList.parse)
    var model = PresetList([.cnnSmall])
    @Option(help: "Samples per kernel call (a chunk), at most 65536.") var batchSize = 128
    @Option(help: "Thread counts (default: 1,2).", transform: CountList.threads) var threads = CountList([1, 2])
    @Option(help: ArgumentHelp("Kernel families: gemm, conv (im2col), conv-blocked (direct, channel-blocked), bn "
                + "(comma-separated; default: all)."), transform: KernelFamilyList.parse)
    var kernels = KernelFamilyList(KernelFamily.allCases)
    @Option(help: "Timed repeats per point, at least (small shapes repeat more, up to 50).") var repeats = 5
    @OptionGroup var variant: ISAOption
    @Option(help: ArgumentHelp("fp32, or bf16: the bf16 GEMM and blocked convolution (bf16 operands, FP32 "
                               + "accumulation), as shares of the bf16 peak; im2col convolutions and batch norm "
                               + "are left out."))
    var precision = Precision.fp32
    @Flag(help: """
        One JSON object per line: kernel, shape, threads, gflops, gbps, seconds (median), peak_gflops, peak_fraction.
        """)
    var json = false

    func validate() throws {
        guard batchSize > 0, repeats > 0 else { throw ValidationError("--batch-size and --repeats must be positive") }
        guard batchSize <= CountList.maxSize else {
            throw ValidationError("--batch-size must be at most \(CountList.maxSize), got \(batchSize)")
        }
    }

    func run() throws {
        try ISA.with(variant.chosen) { try runChosen() }
    }

    func runChosen() throws {
        let counts = threads.values
        var gemms: [KernelUse<GemmShape>] = [], convs: [KernelUse<ConvShape>] = []
        var bns: [KernelUse<BatchNormShape>] = []
        func merge<S>(_ list: inout [KernelUse<S>], _ uses: [KernelUse<S>], _ net: String) {
            for u in uses {
                let ops = u.ops.map { "\(net):\($0)" }
                if let j = list.firstIndex(where: { $0.shape == u.shape }) {
                    list[j].ops += ops
                } else {
                    list.append(KernelUse(shape: u.shape, ops: ops))
                }
            }
        }
        for preset in model.presets {
            let net = try Presets.network(preset), name = preset.rawValue
            merge(&gemms, net.gemmShapes(batch: batchSize), name)
            merge(&convs, net.convShapes(batch: batchSize), name)
            merge(&bns, net.batchNormShapes(batch: batchSize), name)
        }
        // every case's buffers are allocated before the first is timed
        var need = 0.0
        if kernels.contains(.gemm) { need += gemms.reduce(0) { $0 + $1.shape.benchBytes } }
        if kernels.contains(.conv) { need += convs.reduce(0) { $0 + $1.shape.benchBytes } }
        if kernels.contains(.convBlocked) { need += convs.reduce(0) { $0 + $1.shape.benchBytes } }
        if kernels.contains(.bn) { need += bns.reduce(0) { $0 + 16 * Double($1.shape.n * $1.shape.c * $1.shape.hw) } }
        try MemoryLimit.check(need, for: "bench kernels at --batch-size \(batchSize)")
        var cases: [KernelCase] = []
        let bf16 = precision == .bf16
        if bf16 {
            if kernels.contains(.gemm) { cases += gemms.flatMap(KernelBench.bf16Cases) }
            if kernels.contains(.convBlocked) { cases += convs.flatMap(KernelBench.bf16BlockedCases) }
        }
        if !bf16 && kernels.contains(.gemm) { cases += gemms.flatMap(KernelBench.cases) }
        if !bf16 && kernels.contains(.conv) { cases += convs.flatMap(KernelBench.cases) }
        if !bf16 && kernels.contains(.convBlocked) { cases += convs.flatMap(KernelBench.blockedCases) }
        if !bf16 && kernels.contains(.bn) { cases += bns.flatMap(KernelBench.cases) }
        let kw = max(6, cases.map(\.kernel.count).max() ?? 0), sw = max(5, cases.map(\.shape.count).max() ?? 0)
        if !json {
            print("GEMM micro-kernel: \(ISA.current.gemmKernelName) (isa \(ISA.current)), "
                  + "OpenMP: \(OpenMP.isAvailable); "
                  + (bf16 ? "bf16 kernels: \(BF16Variant.gemmKernelName) (\(BF16Variant.current)); " : "")
                  + "batch \(batchSize); median (min-max) of the timed repeats; "
                  + "% of the \(bf16 ? "bf16" : "FMA") peak at T threads")
            print("kernel".padding(toLength: kw, withPad: " ", startingAt: 0) + "  "
                  + "shape".padding(toLength: sw, withPad: " ", startingAt: 0)
                  + "  T           GFLOP/s  % peak              GB/s        ms  used by")
        }
        for c in cases {
            for t in counts {
                let r = c.measure(threads: t, repeats: c.repeats(atLeast: repeats, flopBudget: 2e9))
                let g = c.flops / r.median / 1e9
                let share = peakShare(g, threads: t, precision: precision)
                if json {
                    struct Line: Encodable {
                        let kernel, isa, precision, shape: String, threads: Int
                        let gflops, gbps, seconds, peakGflops, peakFraction: Double?
                    }
                    let peak = peakFields(share)
                    try printJSONLine(Line(kernel: c.kernel, isa: ISA.current.description,
                                           precision: precision.rawValue, shape: c.shape, threads: t,
                                           gflops: rounded(g, 3), gbps: rounded(c.bytes / r.median / 1e9, 3),
                                           seconds: significant(r.median), peakGflops: peak.gflops,
                                           peakFraction: peak.fraction))
                } else {
                    print(c.kernel.padding(toLength: kw, withPad: " ", startingAt: 0) + "  "
                          + c.shape.padding(toLength: sw, withPad: " ", startingAt: 0)
                          + String(format: " %2d %6.1f (%5.1f-%5.1f) %5.1f%% %5.1f (%5.1f-%5.1f) %8.3f  ", t, g,
                                   c.flops / r.max / 1e9, c.flops / r.min / 1e9, 100 * share.fraction,
                                   c.bytes / r.median / 1e9, c.bytes / r.max / 1e9, c.bytes / r.min / 1e9,
                                   r.median * 1e3)
                          + Self.usedBy(c.usedBy))
                }
            }
        }
    }

    /// "plain30: conv2, conv3, conv4, conv5 +5; vggish: conv1" from ["plain30:conv2", …]: the ops
    /// using a shape, by model.
    static func usedBy(_ ops: [String]) -> String {
        var models: [String] = [], names: [String: [String]] = [:]
        for o in ops {
            let parts = o.split(separator: ":", maxSplits: 1).map(String.init)
            if names[parts[0]] == nil { models.append(parts[0]) }
            names[parts[0], default: []].append(parts.last!)
        }
        return models.map { m in
            let n = names[m]!
            return "\(m): " + n.prefix(4).joined(separator: ", ") + (n.count > 4 ? " +\(n.count - 4)" : "")
        }.joined(separator: "; ")
    }
}

/// Bytes of the buffers a benchmark case of this shape holds (KernelBench's cases).
extension GemmShape {
    var benchBytes: Double {
        4 * (Double(m) * Double(k) + Double(k) * Double(n) + Double(m) * Double(n) + Double(workspaceSize))
    }
}

extension ConvShape {
    /// x, w, y and their gradients, and the workspace.
    var benchBytes: Double {
        let (x, w, y) = (Double(n * c * h * self.w), Double(k * c * r * s), Double(n * k * p * q))
        return 4 * (2 * (x + w + y) + Double(workspaceSize))
    }
}
