import ArgumentParser
import Foundation
import GoodInit

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Test accuracy and loss of a checkpoint.")
    @Option(help: "Checkpoint written by `goodinit train`.") var checkpoint: String
    @Option(help: "Data set (default: the one the checkpoint was trained on).") var data: DataSource?
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @Flag(help: "Load the weights even into another network than the checkpoint's.") var weightsOnly = false
    @OptionGroup(title: "Model (default: the checkpoint's)") var model: ModelSource.Flags
    @OptionGroup var compute: ComputeOptions.Flags

    func run() throws {
        // the metadata is a checked record: a configuration out of range is refused, naming the file
        let meta = try CheckpointMetadata.read(checkpoint)
        noteBF16Path(compute.precision)
        let trained = meta.config
        var options = trained.data
        if let data { options.source = data }
        if let dataDir { options.dir = dataDir }
        // the checkpoint's own network and normalization, unless a model is given (then checked against it)
        let setup = try withOldCheckpointHint(meta, checkpoint: checkpoint, modelGiven: model.given) {
            try TrainingSetup(model: model.given ? model.source : trained.model, data: options,
                              seed: trained.loop.seed, compute: compute.options,
                              modelText: model.given ? nil : meta.network?.modelText,
                              normalization: meta.network.map { ($0.mean, $0.std) })
        }
        try Checkpoint.load(checkpoint, into: setup.net, optimizer: nil, weightsOnly: weightsOnly)
        // a run that flushed is scored the way it scored itself
        let flush = compute.flushSubnormals || trained.compute.flushSubnormals
        let (acc, loss) = try FloatMode.run(flushingSubnormals: flush) { setup.evaluate(setup.data.test) }
        print(String(format: "%@ on %@ test (%d samples): accuracy %.4f, loss %.4f", setup.net.name,
                     options.source.rawValue, setup.data.test.count, acc, loss))
    }
}

/// Runs `body` (which builds the checkpoint's network); a checkpoint written before checkpoints held
/// their network names only its model file's path: when that cannot be read, the error says so.
func withOldCheckpointHint<T>(_ meta: CheckpointMetadata, checkpoint: String, modelGiven: Bool,
                              _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as DataError {
        guard meta.network == nil, !modelGiven, case .file(let path) = meta.config.model, e.file == path,
              e.problem == "cannot read the model file" else { throw e }
        throw DataError(file: path, problem: "cannot read the model file, and \(checkpoint) was written before "
                        + "checkpoints held their network: run from the folder it was trained in or give --model-file")
    }
}
