// The `goodinit` command: a root with one subcommand per file.
import ArgumentParser
import Foundation
import GoodInit

@main
struct GoodInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goodinit",
        abstract: "Train deep CNNs on multicore CPUs and measure how initialization decides whether they train.",
        version: GoodInitVersion.string,
        subcommands: [Train.self, Eval.self, Models.self, InitStats.self, Experiment.self, Bench.self],
        defaultSubcommand: nil)

    /// A usage error is one line on stderr, the flag, value and rule, with exit code 64 (the help
    /// and usage block ArgumentParser adds would bury it in a script's log); the rest as it does.
    static func main() {
        do {
            var command = try parseAsRoot()
            if launchedRanks() > 1 && !(command is RunsOverRanks) {
                throw ValidationError("started as one of \(launchedRanks()) ranks, but only `goodinit train` and "
                                      + "`goodinit bench ranks` run over ranks: start this command once")
            }
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(message(for: error))\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}

/// Options every compute command shares: the thread budget and the seed.
struct ComputeFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Data-parallel Dispatch workers (W), at most 4 × the cores.",
            transform: { try Parse.threads($0, min: 1) })
    var workers = 1
    @Option(parsing: .unconditional, help: "OpenMP threads per worker (T); 0 = cores / W; at most 4 × the cores.",
            transform: { try Parse.threads($0, min: 0) })
    var threads = 0
    @Option(parsing: .unconditional, help: "Random seed: weights, data order, dropout.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Activation layout: auto (channel-blocked direct convolution where the net allows) "
                               + "or plain (NCHW, im2col). Convolutions sum in other orders: results agree to "
                               + "rounding, not bits."))
    var layout = LayoutPolicy.auto
    @Flag(help: ArgumentHelp("Flush subnormal floats to zero (x86 FTZ + DAZ): full speed when a signal decays "
                             + "into subnormals, but other bits than an IEEE run from then on."))
    var flushSubnormals = false
}

extension ComputeFlags {
    var options: ComputeOptions {
        ComputeOptions(workers: workers, threads: threads, layout: layout, flushSubnormals: flushSubnormals)
    }

    /// Runs a command's work in the subnormal mode the flags ask for.
    func inMode<T>(_ body: () throws -> T) throws -> T { try FloatMode.run(flushingSubnormals: flushSubnormals, body) }
}
