import ArgumentParser
import Foundation
import GoodInit

struct Train: ParsableCommand, RunsOverRanks {
    static let configuration = CommandConfiguration(
        abstract: "Train a model; writes metrics.jsonl, summary.json, SVG curves and checkpoints to --out.")

    // Each group mirrors one part of TrainSettings; its defaults are the settings type's own.
    @OptionGroup(title: "Model") var model: ModelSource.Flags
    @OptionGroup(title: "Initialization") var initialization: InitOptions.Flags
    @OptionGroup(title: "Data") var data: DataOptions.Flags
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions.Flags
    @OptionGroup(title: "Loop") var loop: LoopOptions.Flags
    @Option(help: "Output folder.") var out = TrainSettings().out
    @Option(help: ArgumentHelp("Resume from a checkpoint: its settings, network and data; flags beside it may "
                               + "change the output, steps, epochs, logging, data folder and threads, others must "
                               + "agree."))
    var resume: String?
    @Flag(help: "With --resume: load the weights even into another network than the checkpoint's.")
    var weightsOnly = false
    @Flag(help: "Replace the run already in --out (without it, a new run there is refused).") var overwrite = false
    @OptionGroup(title: "Compute") var compute: ComputeOptions.Flags

    var settings: TrainSettings {
        TrainSettings(model: model.source, data: data.options, initialization: initialization.options,
                      optimizer: optimizer.options, loop: loop.options(seed: compute.seed),
                      compute: compute.options, out: out)
    }

    /// The settings to run: the flags', or on --resume the checkpoint's with the flags that may change
    /// (TrainSettings.resumed), and the checkpoint's model file text when the model is the stored one.
    func resolved() throws -> (settings: TrainSettings, modelText: String?) {
        let flags = settings
        guard let resume else { return (flags, nil) }
        let meta = try CheckpointMetadata.read(resume)
        let differs = try TrainSettings.differsFromDefault(flags)
        let s = try TrainSettings.resumed(stored: meta.config, flags: flags, checkpoint: resume,
                                          modelGiven: model.given, given: { differs($0) || Self.flagGiven($0) })
        return (s, model.given ? nil : meta.network?.modelText)
    }

    /// Whether the flag of a stored setting path is among the arguments (given at its default value
    /// too, which the settings' values cannot tell): `--flag`, `--flag=…` or `--no-flag`.
    static func flagGiven(_ path: String) -> Bool {
        guard let flag = GoodInitCommand.flag(for: path) else { return false }
        let negated = "--no-" + flag.dropFirst(2)
        return CommandLine.arguments.dropFirst().contains { $0 == flag || $0.hasPrefix(flag + "=") || $0 == negated }
    }

    func validate() throws {
        if weightsOnly && resume == nil { throw ValidationError("--weights-only needs --resume") }
        if let limit = data.trainLimit, limit < loop.batchSize {
            throw ValidationError("--train-limit \(limit) is less than --batch-size \(loop.batchSize): "
                                  + "not one step fits")
        }
        try checkChunking(settings.loop.chunking, workers: compute.workers)
    }

    func run() throws {
        try withRanks { ranks in
            let (settings, modelText) = try resolved()
            if ranks.isLeader { noteBF16Path(settings.compute.precision) }
            let out = settings.out
            // before any data loads: a bad --out is a one-line error, not a Foundation dump an epoch later
            if ranks.isLeader {
                try OutputFolder.prepare(out)
                // one run per folder at a time, and never over another run's files unasked
                try OutputFolder.lock(out)
                try OutputFolder.checkNewRun(out, resuming: resume != nil, overwrite: overwrite)
            }
            installStopHandlers()
            // every rank must train the same thing (W and T may differ: they never change the bits)
            try ranks.checkSame(settings.rankAgreement(resume: resume), what: "configuration")
            let setup = try resume.map { r in
                try withOldCheckpointHint(CheckpointMetadata.read(r), checkpoint: r, modelGiven: model.given) {
                    try TrainingSetup(settings, modelText: modelText)
                }
            }
            let loop = try TrainingLoop(settings, setup: setup, cancellation: stopToken, ranks: ranks)
            loop.resumesWeightsOnly = weightsOnly
            // unbuffered: progress lines appear as they happen, also through a pipe; a failed write
            // asks the stop token (installStopHandlers), so the run saves and ends with the reason
            loop.log = { StandardOutput.writeOrRecord($0 + "\n") }
            let s = try loop.run(resume: resume)
            guard ranks.isLeader else { return }
            if let failure = StandardOutput.failure {
                let checkpoint = (out as NSString).appendingPathComponent("checkpoint.safetensors")
                throw StoppedByWriteFailure(cause: failure, step: s.steps, checkpoint: checkpoint)
            }
            let acc = s.testAccuracy.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a"
            let loss = s.finalTrainLoss.isFinite ? String(format: "%.4f", s.finalTrainLoss) : "n/a"
            // training speed over the steps alone; the wall time includes evaluation and checkpoints
            let speed = s.trainImagesPerSecond.map { String(format: "%.0f img/s training", $0) } ?? "no step timed"
            try StandardOutput.write(String(format: "done: %d steps, %@, %.1f s wall; final train loss %@ (last "
                                            + "epoch's mean), test accuracy %@ → %@/summary.json\n", s.steps, speed,
                                            s.wallSeconds, loss, acc, out))
        }
    }
}

/// The process's stop token: the signal handlers below ask, the training loop listens.
let stopToken = CancellationToken()

/// SIGINT/SIGTERM/SIGUSR1 ask the stop token: the loop saves at the next step boundary and exits 0. A second
/// signal exits at once (130), except while a checkpoint is being written (the write finishes,
/// then the run stops as asked) and except within half a second of the first: `timeout -s INT`
/// and a terminal's Ctrl-C can deliver one request twice (to the process and to its group).
func installStopHandlers() {
    _ = stopToken // created here, not lazily inside a handler (swift_once is not async-signal-safe)
    // A parent may start us with these signals blocked (a test runner's Process does): unblock them.
    var set = sigset_t()
    sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM); sigaddset(&set, SIGUSR1)
    sigaddset(&set, SIGHUP)  // as SIGTERM: a closed SSH session sends it
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    // SIGUSR1 too: mpirun forwards it to every rank as is, where its SIGINT/SIGTERM become a SIGTERM
    // followed by SIGKILL a second later, too soon for a slow step and a checkpoint
    // a failed write to standard output (a closed pipe, a full disk) stops the run as a signal does;
    // the run then exits non-zero with the reason
    StandardOutput.onFailure { _ in stopToken.requestStop() }
    for sig in [SIGINT, SIGTERM, SIGUSR1, SIGHUP] {
        signal(sig) { _ in
            let now = monotonicNanoseconds()
            if !stopToken.isStopRequested {
                firstStopSignalAt = now
                stopToken.requestStop()
                return
            }
            if !secondStopSignalExits || stopToken.isSavingCheckpoint || now - firstStopSignalAt < 500_000_000 {
                return
            }
            _exit(130)
        }
    }
}

nonisolated(unsafe) private var firstStopSignalAt: Int64 = 0
/// False on MPI ranks other than 0 (withRanks): their second signal waits for rank 0's checkpoint.
nonisolated(unsafe) var secondStopSignalExits = true

/// clock_gettime is async-signal-safe, so the handler may call it.
private func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
