// The `goodinit` command: a root with one subcommand per file.
import ArgumentParser
import GoodInit

@main
struct GoodInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goodinit",
        abstract: "Train deep CNNs on multicore CPUs and measure how initialization decides whether they train.",
        version: GoodInitVersion.string,
        subcommands: [Train.self, Eval.self, Models.self, InitStats.self, Experiment.self, Bench.self],
        defaultSubcommand: nil)
}

/// Options every compute command shares: the thread budget and the seed.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Data-parallel Dispatch workers (W).") var workers = 1
    @Option(help: "OpenMP threads per worker (T); 0 = cores / W.") var threads = 0
    @Option(help: "Random seed: weights, data order, dropout.") var seed: UInt64 = 1

    func validate() throws {
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (auto) or more") }
    }
}
