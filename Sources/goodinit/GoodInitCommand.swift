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
        subcommands: [Train.self, Eval.self, Predict.self, Export.self, Models.self, InitStats.self, Experiment.self,
                      Bench.self],
        defaultSubcommand: nil)

    /// A usage error is one line on stderr, the flag, value and rule, with exit code 64 (the help
    /// and usage block ArgumentParser adds would bury it in a script's log); the rest as it does.
    static func main() {
        // A closed pipe is a write error (EPIPE, "the reader is gone"), not a silent kill.
        signal(SIGPIPE, SIG_IGN)
        // Before anything can start the OpenMP runtime, which reads these at its first use.
        if let problem = OpenMPEnvironment.problem(in: ProcessInfo.processInfo.environment) {
            FileHandle.standardError.write(Data("Error: \(problem)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot()
            if launchedRanks() > 1 && !(command is RunsOverRanks) {
                throw ValidationError("started as one of \(launchedRanks()) ranks, but only `goodinit train` and "
                                      + "`goodinit bench ranks` run over ranks: start this command once")
            }
            try command.run()
            // output lost to a full disk or a closed pipe fails the command, as any other error
            if let failure = StandardOutput.failure { throw failure }
            try StandardOutput.flushPrinted()
        } catch let e as SettingError {
            FileHandle.standardError.write(Data("Error: \(describe(e))\n".utf8))
            Foundation.exit(EXIT_FAILURE)
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(message(for: error))\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }

    /// An error's one-line text, a setting named by its flag.
    static func describe(_ error: Error) -> String {
        guard let e = error as? SettingError else { return message(for: error) }
        return flag(for: e.setting).map { "\($0) \(e.problem)" } ?? e.description
    }

    /// The flag of a stored setting's path ("optimizer.lr" → "--lr"): its last name in kebab case,
    /// LSUV's and RBM's with their prefix, and the few flags named otherwise; nil for what no flag sets.
    static func flag(for setting: String) -> String? {
        let renamed = ["optimizer.kind": "optimizer", "loop.maxSteps": "steps", "loop.injectNaNAtStep":
                       "inject-nan-at-step", "data.source": "data", "data.dir": "data-dir",
                       "initialization.initializer": "init", "initialization.lsuv.tolVar": "lsuv-tol",
                       "initialization.lsuv.batchSize": "lsuv-batch", "initialization.rbm.learningRate": "rbm-lr"]
        if let name = renamed[setting] { return "--" + name }
        let parts = setting.split(separator: ".").map(String.init)
        guard let last = parts.last, parts.count > 1 || setting == "out" else { return nil }
        let kebab = last.reduce(into: "") { s, ch in
            if ch.isUppercase { s += "-" + ch.lowercased() } else { s.append(ch) }
        }
        let prefix = parts.count > 2 ? parts[parts.count - 2] + "-" : ""
        return "--" + prefix + kebab
    }
}

/// The chunking rule as a usage error (exit 64), naming --chunk.
func checkChunking(_ chunking: Chunking, workers: Int) throws {
    do { try chunking.check(workers: workers) } catch { throw ValidationError(GoodInitCommand.describe(error)) }
}
