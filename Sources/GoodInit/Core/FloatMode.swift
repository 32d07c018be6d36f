// Subnormal floats for work outside a TrainingLoop (which sets the mode itself): evaluation,
// init statistics, benchmarks. The CLI's one door to Kernels.withSubnormals.
public enum FloatMode {
    /// Runs body with subnormals flushed to zero (or not) on this thread, its Dispatch workers and
    /// its kernels' OpenMP teams, then puts the thread's old mode back.
    public static func run<T>(flushingSubnormals flush: Bool, _ body: () throws -> T) throws -> T {
        try Kernels.withSubnormals(flushed: flush, body)
    }
}
