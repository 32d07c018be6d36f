import CKernels
import Dispatch

/// The FP32 FMA ceiling of this machine, measured, not looked up: every efficiency figure the
/// benchmarks quote is a share of it. Independent FMA chains in the ISA's widest registers on T
/// OpenMP threads, timed; the best of several runs, since a busy or throttled core only ever
/// makes a run slower.
public enum MachinePeak {
    /// GFLOP/s of `threads` threads running `isa`'s FMA chains (best of `runs` timings).
    public static func measure(isa: ISA = .current, threads: Int, runs: Int = 7) -> Double {
        let iters: Int64 = 4_000_000 // about 25 ms per run at 100+ GFLOP/s per thread
        _ = ck_fma_peak_probe(isa.rawValue, Int32(threads), iters / 10) // wakes the team and the FMA units
        var best = 0.0
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            let flops = ck_fma_peak_probe(isa.rawValue, Int32(threads), iters)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, flops / seconds / 1e9)
        }
        return best
    }

    nonisolated(unsafe) private static var cache: [Int: Double] = [:] // (isa, threads) → GFLOP/s; CLI thread only
    /// `measure` once per (ISA, thread count) in this process: benchmarks divide by it.
    public static func gflops(isa: ISA = .current, threads: Int) -> Double {
        let key = Int(isa.rawValue) * 4096 + threads
        if let v = cache[key] { return v }
        let v = measure(isa: isa, threads: threads)
        cache[key] = v
        return v
    }
}
