import ArgumentParser
import Foundation
import GoodInit

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply a checkpoint to inputs: the top classes with their probabilities, one line per input.",
        discussion: "Needs only the checkpoint (its network, normalization and class names). Inputs: IDX image "
            + "files, or --test-index to score entries of the checkpoint's own test set.")
    @Option(help: "Checkpoint written by `goodinit train`.") var checkpoint: String
    @Argument(help: "Input files.") var paths: [String] = []
    @Option(help: "Entries of the checkpoint's test set, as I or FIRST..LAST (inclusive).",
            transform: Predict.indexRange)
    var testIndex: [Int]?
    @Option(help: "Folder with the test set's files (default: the checkpoint's).") var dataDir: String?
    @Option(help: "Classes shown per input.", transform: Parse.positiveInt) var top = 3
    @Flag(help: "One JSON object per input: file, top (class, probability) and logits.") var json = false
    @Flag(help: "Load the weights even into another network than the checkpoint's.") var weightsOnly = false
    @OptionGroup(title: "Model") var model: ModelSource.Flags
    @OptionGroup var compute: ComputeOptions.Flags

    static func indexRange(_ text: String) throws -> [Int] {
        let parts = text.components(separatedBy: "..")
        guard (1...2).contains(parts.count), let first = Int(parts[0]), let last = Int(parts.last ?? ""),
              first >= 0, first <= last, last - first < 1_000_000 else {
            throw ValidationError("'\(text)' is not an index I or a range FIRST..LAST of indices ≥ 0")
        }
        return Array(first...last)
    }

    func validate() throws {
        if paths.isEmpty && testIndex == nil { throw ValidationError("no inputs: give files or --test-index") }
    }

    /// A JSON line: the input's name, its top classes and all its logits.
    struct Line: Encodable {
        struct Class: Encodable { var `class`: String; var probability: Double }
        var file: String
        var top: [Class]
        var logits: [Float]
    }

    func run() throws {
        let predictor = try Predictor(checkpoint: checkpoint, model: model.given ? model.source : nil,
                                      weightsOnly: weightsOnly, threads: compute.options.threadsPerWorker,
                                      precision: compute.precision)
        noteBF16Path(compute.precision)
        var inputs = try PredictInputs.load(paths: paths, shape: predictor.inputShape)
        if let testIndex {
            var options = predictor.metadata.config.data
            if let dataDir { options.dir = dataDir }
            let test = try PredictInputs.testSet(options, seed: predictor.metadata.config.loop.seed,
                                                 indices: testIndex)
            if !inputs.shape.isEmpty && inputs.shape != test.shape {
                throw ValidationError("the files' samples are \(inputs.shape), the test set's \(test.shape)")
            }
            inputs.names += test.names; inputs.images += test.images; inputs.shape = test.shape
        }
        guard inputs.shape == predictor.inputShape else {
            throw DataError(file: inputs.names.first ?? checkpoint,
                            problem: "samples of shape \(inputs.shape), the network takes \(predictor.inputShape)")
        }
        let logits = try predictor.logits(inputs.images)
        for (name, l) in zip(inputs.names, logits) {
            let best = predictor.top(l, k: top)
            if json {
                let classes = best.map { Line.Class(class: $0.name, probability: $0.probability) }
                try printJSONLine(Line(file: name, top: classes, logits: l))
            } else {
                print("\(name): " + best.map { String(format: "%@ %.4f", $0.name, $0.probability) }
                    .joined(separator: ", "))
            }
        }
    }
}
