// A training run's TensorBoard view: the records as scalars (loss, accuracy, lr, images/s; the
// epochs' train and test figures), and at each logged step every layer's output variance and the
// variance of the gradient reaching it (what `init-stats` prints at initialization), so the
// signal's decay with depth can be watched while a run trains.
public final class TensorBoardSink: TrainingSink {
    let writer: TensorBoardWriter

    public init(folder: String) throws { writer = try TensorBoardWriter(folder: folder) }

    public func record(_ r: TrainingRecord) throws {
        switch r {
        case .step(let s):
            try writer.scalars([("train/loss", s.loss), ("train/accuracy", s.accuracy), ("lr", s.lr),
                                ("images_per_second", s.imagesPerSecond), ("grad_norm", s.gradNorm)], step: s.step)
        case .epoch(let e):
            var values = [("epoch/train_loss", e.trainLoss), ("epoch/train_accuracy", e.trainAccuracy)]
            if let a = e.testAccuracy { values.append(("epoch/test_accuracy", a)) }
            if let l = e.testLoss { values.append(("epoch/test_loss", l)) }
            try writer.scalars(values.map { (tag: $0.0, value: $0.1) }, step: e.step)
        case .diverged:
            break
        }
        try writer.flush()
    }

    /// Per-layer statistics of the step the plan has just run (its first chunk's samples).
    public func layerStatistics(step: Int, plan: Plan) throws {
        var values: [(tag: String, value: Double)] = []
        for (i, op) in plan.net.ops.enumerated() where op.isWeighted || op is Activation || op is BatchNorm {
            values.append(("output_variance/\(op.name)", plan.activation(i + 1, chunk: 0).meanVariance().variance))
            values.append(("gradient_variance/\(op.name)", plan.gradient(i + 1, chunk: 0).meanVariance().variance))
        }
        try writer.scalars(values, step: step)
    }

    public func finish() throws { try writer.close() }
}
