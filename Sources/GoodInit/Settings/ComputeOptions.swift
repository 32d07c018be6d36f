// W Dispatch workers × T OpenMP threads, the layout and the float mode, and the flags every compute
// command shares (with the seed).
import ArgumentParser
import Foundation

public struct ComputeOptions: Sendable, Equatable, DefaultedSettings {
    public var workers = 1
    /// T per worker; 0 means cores / W; `autoThreads` (`--threads auto`): `train` picks W × T for
    /// the cores from the scaling model (ThreadChoice), other commands take cores / W.
    public var threads = 0
    public static let autoThreads = -1
    /// Unlike W and T, the layout changes the bits (the convolutions' summation order).
    public var layout = LayoutPolicy.auto
    /// Subnormal floats become zero (x86 FTZ + DAZ). Off by default, as in PyTorch: a run whose
    /// signal decays into subnormals (deep nets from N(0, 0.01²)) then keeps full speed, at the
    /// price of bits that differ from an IEEE run once a subnormal appears.
    public var flushSubnormals = false
    /// bf16 operands in the blocked convolutions (PyTorch's CPU autocast); FP32 keeps the bits it had.
    public var precision = Precision.fp32
    public init() {}
    public init(workers: Int = 1, threads: Int = 0, layout: LayoutPolicy = .auto, flushSubnormals: Bool = false,
                precision: Precision = .fp32) {
        self.workers = workers; self.threads = threads; self.layout = layout; self.flushSubnormals = flushSubnormals
        self.precision = precision
    }

    /// The most threads or workers accepted: far beyond that a run only thrashes (or libomp aborts).
    public static var threadLimit: Int { min(1024, 4 * ProcessInfo.processInfo.activeProcessorCount) }

    /// T for each worker: the given count, or the cores shared among the workers.
    public var threadsPerWorker: Int {
        threads > 0 ? threads : max(1, ProcessInfo.processInfo.activeProcessorCount / workers)
    }

    func validate() throws {
        let limit = Self.threadLimit
        try SettingError.check(workers >= 1 && workers <= limit, "compute.workers",
                               "must be in 1...\(limit) (4 × the cores, at most 1024)", workers)
        try SettingError.check(threads >= Self.autoThreads && threads <= limit, "compute.threads",
                               "must be auto, 0 (cores / W) or at most \(limit) (4 × the cores, at most 1024)",
                               threads)
    }
}

extension ComputeOptions {
    /// Options every compute command shares: the thread budget, the layout, the float mode, the seed.
    public struct Flags: ParsableArguments, Sendable {
        @Option(parsing: .unconditional,
                help: .withDefault("Data-parallel Dispatch workers (W), at most 4 × the cores.",
                                   ComputeOptions().workers),
                transform: { try Parse.threads($0, min: 1) })
        public var workers = ComputeOptions().workers
        @Option(parsing: .unconditional,
                help: .withDefault("OpenMP threads per worker (T); 0 = cores / W; at most 4 × the cores; auto: "
                                   + "train picks W × T for the cores from the scaling model (bench scaling), "
                                   + "keeping the chunks.", ComputeOptions().threads),
                transform: { $0 == "auto" ? ComputeOptions.autoThreads : try Parse.threads($0, min: 0) })
        public var threads = ComputeOptions().threads
        @Option(parsing: .unconditional, help: "Random seed: weights, data order, dropout.")
        public var seed = LoopOptions().seed
        @Option(help: ArgumentHelp("Activation layout: auto (channel-blocked direct convolution where the net allows) "
                                   + "or plain (NCHW, im2col). Convolutions sum in other orders: results agree to "
                                   + "rounding, not bits."))
        public var layout = ComputeOptions().layout
        @Flag(help: ArgumentHelp("Flush subnormal floats to zero (x86 FTZ + DAZ): full speed when a signal decays "
                                 + "into subnormals, but other bits than an IEEE run from then on."))
        public var flushSubnormals = ComputeOptions().flushSubnormals
        @Option(help: .withDefault("Arithmetic of convolutions and linear layers: fp32, or bf16 operands with "
                                   + "FP32 accumulation (PyTorch's CPU autocast); weights, BN, loss and the update "
                                   + "stay FP32.",
                                   ComputeOptions().precision.rawValue))
        public var precision = ComputeOptions().precision
        public init() {}

        public var options: ComputeOptions {
            ComputeOptions(workers: workers, threads: threads, layout: layout, flushSubnormals: flushSubnormals,
                           precision: precision)
        }

        /// Runs a command's work in the subnormal mode the flags ask for.
        public func inMode<T>(_ body: () throws -> T) throws -> T {
            try FloatMode.run(flushingSubnormals: flushSubnormals, body)
        }
    }
}

/// The arithmetic of convolutions and linear layers: FP32, or bf16 operands with FP32 accumulation
/// (PyTorch's CPU autocast). At bf16 the blocked convolutions' and the linear layers' forward and
/// backward-data read bf16 copies of their input, weights and dy; their weight gradients, every other
/// op, the master weights, the update, batch-norm statistics and the loss stay FP32 (so do
/// convolutions on the plain layout: im2col has no bf16 path yet).
public enum Precision: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    case fp32, bf16

    /// Said once at start where bf16 runs its widening path: correct, but not faster than FP32.
    public static var widenNotice: String? {
        BF16Variant.best == .widen
            ? "note: this CPU has no AVX512-BF16 (or GOODINIT_ISA/GOODINIT_BF16 caps it): --precision bf16 runs "
              + "the widening path (bf16 rounded, FP32 FMAs), the same bits but not faster than fp32"
            : nil
    }
}
