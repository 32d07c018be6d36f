// The training loop: data order from the seed, data-parallel steps through a Plan, the optimizer,
// evaluation each epoch, records to the sinks, checkpoints, resume, stop requests, NaN/Inf.
// With P ranks every rank runs this loop on its share of each batch and holds the same weights;
// only rank 0 logs and writes files, and a stop request on any rank stops all at the same step.
import Foundation

public final class TrainingLoop {
    public let settings: TrainSettings
    public let setup: TrainingSetup
    public let optimizer: Optimizer
    public let cancellation: CancellationToken
    /// The processes sharing each batch (one process: SingleRank).
    public let ranks: RankGroup
    /// LSUV's per-layer report from the last run (kept here too, for runs that end in an error).
    public private(set) var lsuvReport: [LSUVLayerReport]? = nil
    /// Where progress goes; only rank 0's reaches it.
    public var log: (String) -> Void {
        get { ranks.isLeader ? logSink : { _ in } }
        set { logSink = newValue }
    }
    private var logSink: (String) -> Void = { print($0) }
    /// Sinks beyond the run's own metrics.jsonl and charts (an experiment's collector, TensorBoard).
    public var sinks: [TrainingSink] = []
    /// Called after each logged step with the step number and the plan (its activations hold the
    /// step's forward pass): experiments record internal statistics here.
    public var onLoggedStep: ((Int, Plan) -> Void)? = nil
    /// events.out.tfevents.* in the output folder (scalars and per-layer variances for TensorBoard).
    public var writesTensorBoard = true
    var tensorBoard: TensorBoardSink? = nil
    /// The first record a sink could not write (a full disk): the run stops as on a stop signal,
    /// saves, and then ends with this error.
    public private(set) var writeFailure: Error? = nil
    /// Resume loads the weights even into a network other than the checkpoint's (--weights-only).
    public var resumesWeightsOnly = false
    /// Whether this run has written the checkpoint in its folder: only then does a divergence point to it.
    var wroteCheckpoint = false

    public var net: Network { setup.net }
    public var data: DataSplits { setup.data }
    var checkpointPath: String { joinPath(settings.out, "checkpoint.safetensors") }
    var metricsPath: String { joinPath(settings.out, "metrics.jsonl") }
    /// The epoch with the best validation accuracy (runs with --val-fraction).
    var bestPath: String { joinPath(settings.out, "best.safetensors") }

    /// Checks the settings against the data and the machine before any executor allocates.
    public init(_ settings: TrainSettings, setup: TrainingSetup? = nil,
                cancellation: CancellationToken = CancellationToken(), ranks: RankGroup = SingleRank.shared) throws {
        try settings.validate()
        self.ranks = ranks
        let loop = settings.loop
        try loop.chunking.check(workers: settings.compute.workers, ranks: ranks.size)
        self.settings = settings
        self.setup = try setup ?? TrainingSetup(settings)
        self.setup.evaluator.ranks = ranks
        // the same flags can still read other files on another host
        if ranks.size > 1 {
            try ranks.checkSame(self.setup.data.fingerprint, what: "data set")
        }
        self.cancellation = cancellation
        let (net, train) = (self.setup.net, self.setup.data.train)
        guard train.count >= loop.batchSize else {
            throw SettingError("loop.batchSize", "\(loop.batchSize) is more than the \(train.count) training samples")
        }
        let kind = settings.optimizer.kind
        // Before any plan allocates: the training batch, then LSUV's or evaluation's.
        do {
            try net.checkMemory(batch: loop.batchSize, chunk: loop.chunk, optimizerStates: kind == .adam ? 2 : 1)
            let lsuvBatch = max(100, min(settings.initialization.lsuv.batchSize, train.count))
            try net.checkMemory(batch: lsuvBatch, chunk: Int.max, optimizerStates: 0)
        } catch var e as ShapeError {
            if case .file(let file) = settings.model { e.file = file }
            throw e
        }
        optimizer = Optimizer(kind, store: net.params, momentum: Float(settings.optimizer.momentum),
                              weightDecay: Float(settings.optimizer.weightDecay))
        if settings.compute.threads == ComputeOptions.autoThreads {
            // after the memory checks: the probe holds a plan of the training batch for a moment
            let cores = ProcessInfo.processInfo.activeProcessorCount
            // as many workers as this rank has chunks for
            let chunks = (1...cores).last { (try? loop.chunking.check(workers: $0, ranks: ranks.size)) != nil } ?? 1
            do {
                let ranked = try ThreadChoice.rank(probe: self.setup.probeNetwork(settings.model),
                                                   batch: loop.batchSize, chunks: chunks, cores: cores)
                if let pick = ThreadChoice.choose(ranked) {
                    self.setup.use(workers: pick.workers, threads: pick.threads)
                }
                threadNote = ThreadChoice.describe(ranked, cores: cores)
            } catch {
                threadNote = "threads auto: no prediction (\(error)); W = 1 × T = \(cores)"
                self.setup.use(workers: 1, threads: cores)
            }
        }
    }
    /// How `--threads auto` chose, logged when the run starts.
    var threadNote: String? = nil

    /// Trains; resumes from `resume` (a checkpoint path) when given.
    public func run(resume: String? = nil) throws -> TrainSummary {
        // initialization, training and evaluation all in the run's subnormal mode
        try Kernels.withSubnormals(flushed: settings.compute.flushSubnormals) { try runInMode(resume: resume) }
    }

    private func runInMode(resume: String?) throws -> TrainSummary {
        let leader = ranks.isLeader
        if let threadNote { log(threadNote) }
        if leader {
            try OutputFolder.prepare(settings.out)
            for name in OutputFolder.removeStaleTemporaries(in: settings.out, base: "checkpoint.safetensors")
                + OutputFolder.removeStaleTemporaries(in: settings.out, base: "best.safetensors") {
                log("removed \(name), left by a run that was killed while saving")
            }
        }
        var run = try RunState(position: start(resume: resume), loop: settings.loop, trainCount: data.train.count)
        // another host's copy of the --resume file, or an initialization that differs, would make the
        // ranks train apart without any error: they compare what they start from
        if ranks.size > 1 { try ranks.checkSame(startingPoint(run.pos), what: "starting point (weights, step)") }
        let earlier = resume == nil ? [] : ((try? MetricsFile.read(metricsPath)) ?? [])
        run.recallValidation(earlier)
        let title = "\(net.name), \(settings.initialization.initializer)"
        tensorBoard = writesTensorBoard && leader ? try TensorBoardSink(folder: settings.out) : nil
        let all: [TrainingSink] = !leader ? [] : [try MetricsFile(path: metricsPath, truncate: resume == nil),
                                                  CurvesSink(folder: settings.out, title: title, earlier: earlier)]
            + (tensorBoard.map { [$0] } ?? []) + sinks
        let plan = Plan(net: net, chunking: settings.loop.chunking,
                        workers: setup.compute.workers, threads: setup.threads, ranks: ranks)
        let progress = Progress(total: run.total, log: log, shown: leader)
        let teams = plan.measuredTeamSizes().map(String.init).joined(separator: ", ")
        let perRank = ranks.size > 1 ? "\(ranks.size) ranks, each " : ""
        if case let .preset(p, activation) = settings.model,
           let note = Presets.adaptationNote(p, activation: activation, input: net.inputShape) { log(note) }
        for note in data.notes { log(note) }
        log("training \(net.name) (\(net.parameterCount) parameters) on \(data.train.name): \(data.train.count) "
            + "samples, batch \(plan.batch), \(run.total) steps, \(perRank)W=\(plan.workers) workers × "
            + "T=\(setup.threads) threads (measured OpenMP team per worker: \(teams))")
        do {
            try train(&run, plan: plan, progress: progress, sinks: all)
        } catch let e as DivergenceError {
            progress.finishLine()
            for s in all { try? s.finish() }
            throw e
        }
        do { try finishRun(&run, resume: resume, progress: progress) } catch {
            // the disk that refused a record may refuse the checkpoint too: say both
            guard let cause = writeFailure else { throw error }
            throw StoppedByWriteFailure(cause: cause, step: run.pos.step, checkpoint: nil, notSaved: error)
        }
        try scoreTestOnce(&run)
        for s in all { try s.finish() }
        let summary = try writeSummary(run)
        if let e = writeFailure {
            throw StoppedByWriteFailure(cause: e, step: run.pos.step, checkpoint: leader ? checkpointPath : nil)
        }
        return summary
    }

    /// Hands a record to every sink; one that cannot write stops the run at this step's end.
    func record(_ r: TrainingRecord, to sinks: [TrainingSink]) {
        for s in sinks {
            do { try s.record(r) } catch { failedWrite(error) }
        }
    }

    func failedWrite(_ e: Error) {
        if writeFailure == nil { writeFailure = e }
        cancellation.requestStop()
    }

    /// Where a run stands: its position in the data order and what the epoch has seen so far.
    struct RunState {
        var pos: TrainingPosition
        let total: Int, perEpoch: Int
        let start = Date()
        var imagesDone = 0, lastLoss = Double.nan, lastAccuracy = 0.0, stopped = false
        var lastEval: (accuracy: Double, loss: Double)? = nil
        /// Validation: the best accuracy so far (this process), epochs since it, and an early stop.
        var bestValidation: Double? = nil, epochsSinceBest = 0, earlyStopped = false
        var epochLoss = 0.0, epochCorrect = 0, epochSeen = 0
        /// The final training loss, GoodInit's one definition: the last epoch's (or, for a run
        /// stopped in an epoch's middle, that epoch's so far) mean cross-entropy over its samples.
        var lastEpochLoss = Double.nan
        /// Seconds spent in training steps only (no evaluation, checkpoints or logging).
        var stepSeconds = 0.0
        var finalTrainLoss: Double { epochSeen > 0 ? epochLoss / Double(epochSeen) : lastEpochLoss }

        init(position: TrainingPosition, loop: LoopOptions, trainCount: Int) {
            pos = position
            epochLoss = position.epochLossSum; epochCorrect = position.epochCorrect; epochSeen = position.epochSeen
            perEpoch = trainCount / loop.batchSize
            // saturating: --epochs may be as large as Int allows
            let (product, overflow) = perEpoch.multipliedReportingOverflow(by: loop.epochs)
            total = min(loop.maxSteps ?? Int.max, overflow ? Int.max : product)
        }
        var elapsed: Double { Date().timeIntervalSince(start) }

        /// A resumed run's best validation accuracy and the epochs since it, from its earlier records,
        /// so best.safetensors and --early-stop carry on.
        mutating func recallValidation(_ earlier: [TrainingRecord]) {
            let scores = earlier.compactMap { r -> Double? in if case .epoch(let e) = r { e.valAccuracy } else { nil } }
            guard let best = scores.max(), let at = scores.firstIndex(of: best) else { return }
            bestValidation = best; epochsSinceBest = scores.count - 1 - at
        }
    }

    /// Loads the checkpoint to resume from, or initializes the weights; returns the position.
    func start(resume: String?) throws -> TrainingPosition {
        lsuvReport = nil
        guard let resume else {
            let t0 = Date()
            lsuvReport = try setup.initialize(settings.initialization, seed: settings.loop.seed, log: log)
            if let r = lsuvReport {
                let tries = r.map { "\($0.tries)" }.joined(separator: ",")
                let seconds = Date().timeIntervalSince(t0)
                log(String(format: "LSUV: %d layers in %.2f s (tries %@)", r.count, seconds, tries))
                for l in r where !l.note.isEmpty { log("  \(l.layer): \(l.note)") }
            }
            return TrainingPosition(step: 0, epoch: 0, batchInEpoch: 0)
        }
        let b = settings.loop.batchSize, perEpoch = data.train.count / b
        let only = resumesWeightsOnly
        let pos = try Checkpoint.load(resume, into: net, optimizer: optimizer, weightsOnly: only) { meta in
            // Another batch size would change the data order and what a step means.
            let trained = meta.config.loop.batchSize
            guard trained == b else {
                throw SettingError("loop.batchSize", "\(b) is not the batch size \(resume) was trained with: "
                                   + "resume with \(trained)")
            }
            guard meta.position.batchInEpoch <= perEpoch else {
                throw DataError(file: resume, problem: "at batch \(meta.position.batchInEpoch) of an epoch, but "
                                + "an epoch has \(perEpoch) batches here (another training-sample limit or data set?)")
            }
            if meta.config.compute.flushSubnormals != settings.compute.flushSubnormals {
                let (was, now) = settings.compute.flushSubnormals ? ("IEEE", "flushed") : ("flushed", "IEEE")
                log("note: \(resume) trained with subnormals \(was); from here they are \(now) "
                    + "(--flush-subnormals), so the bits differ from an uninterrupted run")
            }
        }.position
        log("resumed from \(resume) at step \(pos.step) (epoch \(pos.epoch + 1), batch \(pos.batchInEpoch))")
        return pos
    }

    /// The epochs: steps until the epoch's batches or the run's steps run out, or a stop request.
    func train(_ run: inout RunState, plan: Plan, progress: Progress, sinks: [TrainingSink]) throws {
        let loop = settings.loop
        while run.pos.epoch < loop.epochs && run.pos.step < run.total && !run.earlyStopped {
            var order = SplitMix64(seed: deriveSeed(loop.seed, 1000 + UInt64(run.pos.epoch)))
            let perm = order.permutation(data.train.count)
            while run.pos.batchInEpoch < run.perEpoch && run.pos.step < run.total {
                let b = loop.batchSize, first = run.pos.batchInEpoch * b
                plan.setInput(images: data.train.images, labels: data.train.labels, indices: perm[first..<(first + b)])
                let stepStart = Date()
                try step(&run, plan: plan, sinks: sinks)
                run.stepSeconds += Date().timeIntervalSince(stepStart)
                progress.update(step: run.pos.step, loss: run.lastLoss, accuracy: run.lastAccuracy,
                                imagesPerSecond: Double(run.imagesDone) / run.elapsed, elapsed: run.elapsed)
                // one rank's request stops every rank after the same step
                if ranks.anyRank(cancellation.isStopRequested) { run.stopped = true; return }
            }
            if run.pos.batchInEpoch >= run.perEpoch || run.pos.step >= run.total {
                progress.finishLine()
                try endEpoch(&run, sinks: sinks)
            }
        }
    }

    /// One step on the batch already in the plan: forward, loss, backward, optimizer.
    func step(_ run: inout RunState, plan: Plan, sinks: [TrainingSink]) throws {
        let loop = settings.loop, step = UInt64(run.pos.step)
        if settings.data.augments {
            let d = data.train
            Augment.cropFlip(plan.inputs, chunks: plan.chunks, channels: d.channels, height: d.height,
                             width: d.width, pad: 4, seed: deriveSeed(loop.seed, 3000, step))
        }
        if loop.injectNaNAtStep == run.pos.step { net.params.values[net.params.entries[0].offset] = .nan }
        let logs = (run.pos.step + 1) % loop.logEvery == 0 || run.pos.step + 1 == run.total
        // a logged step that reads every layer's output and gradient runs the observed plan (same bits)
        plan.fuses = !(logs && (tensorBoard != nil || onLoggedStep != nil))
        let seed = deriveSeed(loop.seed, 2000, step)
        plan.forward(training: true, seed: seed)
        let (loss, correct) = plan.loss()
        if loss.isFinite { plan.backward() }
        if !loss.isFinite || !net.params.grad.allFinite {
            // never an older run's checkpoint (of another network, perhaps) left in the folder
            let saved = wroteCheckpoint && FileManager.default.fileExists(atPath: checkpointPath)
                ? checkpointPath : nil
            let e = DivergenceError(step: run.pos.step + 1, location: locateNonFinite(plan, seed: seed),
                                    checkpoint: saved)
            for s in sinks { try? s.record(.diverged(DivergedRecord(step: e.step, location: e.location))) }
            throw e
        }
        // one norm of the summed gradient, the same on every rank and for every W and T; only
        // where a clip or a logged step needs it
        let clip = settings.optimizer.clipGradNorm
        let gradNorm = clip != nil || logs ? Kernels.sumOfSquares(net.params.grad).squareRoot() : .nan
        if let c = clip, gradNorm > c {
            Kernels.scale(net.params.grad, by: Float(c / (gradNorm + 1e-6)))
        }
        let lr = settings.optimizer.schedule.rate(base: settings.optimizer.lr, step: run.pos.step,
                                                   totalSteps: run.total, stepsPerEpoch: run.perEpoch)
        let before = run.imagesDone == 0 ? net.params.values.array : nil  // this process's first step
        optimizer.step(lr: Float(lr))
        if let before { warnIfUpdatesVanish(before, lr: lr) }
        let b = loop.batchSize
        run.pos.step += 1; run.pos.batchInEpoch += 1
        run.imagesDone += b; run.lastLoss = loss; run.lastAccuracy = Double(correct) / Double(b)
        run.epochLoss += loss * Double(b); run.epochCorrect += correct; run.epochSeen += b
        if logs {
            onLoggedStep?(run.pos.step, plan)
            do { try tensorBoard?.layerStatistics(step: run.pos.step, plan: plan) } catch { failedWrite(error) }
            let r = StepRecord(step: run.pos.step, epoch: run.pos.epoch + 1, loss: loss, accuracy: run.lastAccuracy,
                               lr: lr, imagesPerSecond: Double(run.imagesDone) / run.elapsed, gradNorm: gradNorm)
            record(.step(r), to: sinks)
        }
    }

    /// Logs a warning when the first step left most weights that had a gradient unchanged: their
    /// updates are below Float32's precision at this learning rate, and the run would barely learn.
    func warnIfUpdatesVanish(_ before: [Float], lr: Double) {
        let after = net.params.values.array, grad = net.params.grad.array
        var moved = 0, unchanged = 0
        for i in before.indices where grad[i] != 0 {
            if before[i] == after[i] { unchanged += 1 } else { moved += 1 }
        }
        if unchanged > moved {
            log("warning: at learning rate \(lr) the first step left \(unchanged) of \(unchanged + moved) weights "
                + "unchanged (their updates are below Float32's precision): the run will barely learn")
        }
    }

    /// The end of an epoch (or of the run's steps): checkpoint, evaluation, the epoch's record.
    func endEpoch(_ run: inout RunState, sinks: [TrainingSink]) throws {
        let epochNumber = run.pos.epoch + 1
        if run.pos.batchInEpoch >= run.perEpoch { run.pos.epoch += 1; run.pos.batchInEpoch = 0 }
        // Saved before the evaluation: whatever happens there, the epoch's work is kept.
        try save(run)
        let seen = Double(max(1, run.epochSeen))
        var r = EpochRecord(epoch: epochNumber, step: run.pos.step, trainLoss: run.epochLoss / seen,
                            trainAccuracy: Double(run.epochCorrect) / seen, seconds: run.elapsed)
        r.epochs = Double(run.pos.step) / Double(max(1, run.perEpoch))
        if run.epochSeen > 0 { run.lastEpochLoss = r.trainLoss }
        if let validation = data.validation {
            let (acc, loss) = setup.evaluate(validation)
            r.valAccuracy = acc; r.valLoss = loss
            log(String(format: "epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f", epochNumber,
                       r.trainLoss, r.trainAccuracy, loss, acc))
            try keepBest(&run, accuracy: acc)
        } else if settings.loop.evalEachEpoch {
            let (acc, loss) = setup.evaluate(data.test)
            run.lastEval = (acc, loss)
            r.testAccuracy = acc; r.testLoss = loss
            log(String(format: "epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f", epochNumber,
                       r.trainLoss, r.trainAccuracy, loss, acc))
        }
        record(.epoch(r), to: sinks)
        run.epochLoss = 0; run.epochCorrect = 0; run.epochSeen = 0
    }

    /// best.safetensors when the validation accuracy improves; an early stop after
    /// `data.earlyStop` epochs without improvement.
    func keepBest(_ run: inout RunState, accuracy: Double) throws {
        if run.bestValidation.map({ accuracy > $0 }) ?? true {
            run.bestValidation = accuracy; run.epochsSinceBest = 0
            try save(run, to: bestPath)
        } else {
            run.epochsSinceBest += 1
        }
        if let patience = settings.data.earlyStop, run.epochsSinceBest >= patience {
            run.earlyStopped = true
            log(String(format: "early stop: %d epochs without a better validation accuracy than %.4f (%@)",
                       run.epochsSinceBest, run.bestValidation ?? 0, bestPath))
        }
    }

    /// With a validation set the epochs never looked at the test set: it is scored once, here, with
    /// the final weights (best.safetensors holds the best validation epoch's).
    func scoreTestOnce(_ run: inout RunState) throws {
        guard data.validation != nil, !run.stopped, run.imagesDone > 0 else { return }
        let (acc, loss) = setup.evaluate(data.test)
        run.lastEval = (acc, loss)
        log(String(format: "test (scored once, final weights): loss %.4f acc %.4f", loss, acc))
    }

    /// A run with nothing to train still leaves its weights; a stopped one saves where it stopped.
    func finishRun(_ run: inout RunState, resume: String?, progress: Progress) throws {
        if run.pos.step >= run.total && run.imagesDone == 0 {
            log(resume == nil ? "nothing to train: --steps 0"
                              : "nothing to train: the checkpoint is at step \(run.pos.step) of \(run.total)")
            // a zero-step run still leaves its initialized weights for eval
            if resume == nil { try save(run) }
        }
        if run.stopped {
            progress.finishLine()
            try save(run)
            let why = writeFailure.map { "after a failed write (\($0))" } ?? "by signal"
            log("stopped \(why) at step \(run.pos.step); checkpoint: \(checkpointPath) "
                + "(resume with --resume \(checkpointPath))")
        }
    }

    /// Rank 0 writes summary.json; every rank returns the summary.
    func writeSummary(_ run: RunState) throws -> TrainSummary {
        let wall = run.elapsed
        var lastEval = run.lastEval
        // a resume that trained no step holds the weights the folder's summary evaluated: keep its figures
        if lastEval == nil && run.imagesDone == 0 {
            lastEval = OutputFolder.earlierEvaluation(in: settings.out, step: run.pos.step)
        }
        var summary = TrainSummary(
            model: net.name, initializer: settings.initialization.initializer.description, steps: run.pos.step,
            epochs: Double(run.pos.step) / Double(max(1, run.perEpoch)), finalTrainLoss: run.finalTrainLoss,
            testAccuracy: lastEval?.accuracy, testLoss: lastEval?.loss,
            imagesPerSecond: Double(run.imagesDone) / max(wall, 1e-9), wallSeconds: wall,
            peakRSSMegabytes: ProcessStats.peakRSSMegabytes(), lsuv: lsuvReport, stoppedBySignal: run.stopped,
            config: settings)
        summary.trainImagesPerSecond = run.stepSeconds > 0 ? Double(run.imagesDone) / run.stepSeconds : nil
        guard ranks.isLeader else { return summary }
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(summary).write(to: URL(fileURLWithPath: joinPath(settings.out, "summary.json")),
                                      options: .atomic)
        return summary
    }

    /// Writes a checkpoint (rank 0: every rank holds the same weights); a second stop signal
    /// arriving meanwhile lets it finish.
    func save(_ run: RunState, to path: String? = nil) throws {
        guard ranks.isLeader else { return }
        var pos = run.pos
        if pos.batchInEpoch > 0 { // in an epoch's middle: its sums so far
            pos.epochLossSum = run.epochLoss; pos.epochCorrect = run.epochCorrect; pos.epochSeen = run.epochSeen
        }
        let config = try settings.stored()
        try cancellation.whileSaving {
            try Checkpoint.save(net, optimizer: optimizer, position: pos, config: config,
                                network: setup.checkpointNetwork, to: path ?? checkpointPath)
        }
        wroteCheckpoint = true
    }

    /// What ranks compare before the first step: the position and CRC-32C checksums of the weights,
    /// running statistics and optimizer state.
    struct StartingPoint: Codable, Equatable {
        var step, epoch, batch: Int
        var weights: UInt32
        var statistics, optimizer: [UInt32]
    }

    func startingPoint(_ pos: TrainingPosition) -> StartingPoint {
        func crc(_ t: Tensor) -> UInt32 {
            t.withPointer { CRC32C.checksum(UnsafeRawBufferPointer(start: $0, count: t.count * 4)) }
        }
        return StartingPoint(step: pos.step, epoch: pos.epoch, batch: pos.batchInEpoch, weights: crc(net.params.values),
                             statistics: net.stateTensors.map { crc($0.1) },
                             optimizer: [optimizer.state1, optimizer.state2].map(crc))
    }

    /// Names the first op whose output (first chunk of the batch, then first op), or parameter whose
    /// gradient, is not finite. The ranks each look at their chunks and agree on the first. The
    /// step's forward runs again observed (a fused ReLU leaves its input unwritten), the batch-norm
    /// running statistics put back as they were; on every rank, whatever mode its step ran (only the
    /// leader writes TensorBoard), since the forward exchanges batch-norm sums between the ranks.
    func locateNonFinite(_ plan: Plan, seed: UInt64) -> String {
        let statistics = net.stateTensors.map { ($0.1, $0.1.clone()) }
        plan.fuses = false
        plan.forward(training: true, seed: seed)
        for (t, copy) in statistics { t.assign(copy) }
        let ops = net.ops.count
        var first = Int64.max
        search: for c in plan.chunks.indices {
            for i in 0..<ops where !plan.activation(i + 1, chunk: c).allFinite {
                first = Int64((plan.ownedChunks.lowerBound + c) * ops + i)
                break search
            }
        }
        first = ranks.allValues(first).min() ?? first
        if first != .max { return "the output of layer \(net.ops[Int(first % Int64(ops))].name)" }
        let p = net.params
        for e in p.entries where !p.view(e, in: p.grad).allFinite { return "the gradient of \(e.name)" }
        for e in p.entries where !p.view(e, in: p.values).allFinite { return "the weights of \(e.name)" }
        return "the loss"
    }
}
