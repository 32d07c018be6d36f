import ArgumentParser
import Foundation
import GoodInit

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Test accuracy and loss of a checkpoint.")
    @Option(help: "Checkpoint written by `goodinit train`.") var checkpoint: String
    @Option(help: "Data set (default: the one the checkpoint was trained on).") var data: DataSetName?
    @Option(help: "Folder with the data set's files.") var dataDir: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        // the metadata is a checked record: a configuration out of range is refused, naming the file
        var config = try CheckpointMetadata.read(checkpoint).config
        if let data { config.data = data.rawValue }
        if let dataDir { config.dataDir = dataDir }
        config.workers = compute.workers; config.threads = compute.threads
        let trainer = try Trainer(config: config)
        try Checkpoint.load(checkpoint, into: trainer.net, optimizer: nil)
        let (acc, loss) = trainer.evaluate(trainer.data.test)
        print(String(format: "%@ on %@ test (%d samples): accuracy %.4f, loss %.4f", trainer.net.name, config.data,
                     trainer.data.test.count, acc, loss))
    }
}
