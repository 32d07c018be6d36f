import ArgumentParser
import Foundation
import GoodInit

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Test accuracy and loss of a checkpoint.")
    @Option(help: "Checkpoint written by `goodinit train`.") var checkpoint: String
    @Option(help: "Data set (default: the one the checkpoint was trained on).") var data: DataSource?
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @OptionGroup var compute: ComputeOptions.Flags

    func run() throws {
        // the metadata is a checked record: a configuration out of range is refused, naming the file
        let trained = try CheckpointMetadata.read(checkpoint).config
        var options = trained.data
        if let data { options.source = data }
        if let dataDir { options.dir = dataDir }
        let setup = try TrainingSetup(model: trained.model, data: options, seed: trained.loop.seed,
                                      compute: compute.options)
        try Checkpoint.load(checkpoint, into: setup.net, optimizer: nil)
        // a run that flushed is scored the way it scored itself
        let flush = compute.flushSubnormals || trained.compute.flushSubnormals
        let (acc, loss) = try FloatMode.run(flushingSubnormals: flush) { setup.evaluate(setup.data.test) }
        print(String(format: "%@ on %@ test (%d samples): accuracy %.4f, loss %.4f", setup.net.name,
                     options.source.rawValue, setup.data.test.count, acc, loss))
    }
}
