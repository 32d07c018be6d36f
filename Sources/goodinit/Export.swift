import ArgumentParser
import Foundation
import GoodInit

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's network as an ONNX graph (opset 17, inference mode).",
        discussion: "Input: NCHW float pixels in [0, 1] named 'input' (the stored normalization is the graph's "
            + "first nodes, Sub and Div); output: 'logits'.")
    @Option(help: "Checkpoint written by `goodinit train`.") var checkpoint: String
    @Option(help: "The ONNX file to write.") var onnx: String
    @Flag(help: "Load the weights even into another network than the checkpoint's.") var weightsOnly = false
    @OptionGroup(title: "Model") var model: ModelSource.Flags

    func run() throws {
        let predictor = try Predictor(checkpoint: checkpoint, model: model.given ? model.source : nil,
                                      weightsOnly: weightsOnly)
        let bytes = try ONNXExport.model(predictor.net, mean: predictor.record.mean, std: predictor.record.std)
        do { try Data(bytes).write(to: URL(fileURLWithPath: onnx), options: .atomic) } catch {
            throw DataError(file: onnx, problem: "cannot write: \(error.localizedDescription)")
        }
        let shape = predictor.inputShape.map(String.init).joined(separator: ", ")
        print("\(onnx): \(predictor.net.name), input (N, \(shape)), "
              + "logits (N, \(predictor.net.classes)), \(bytes.count) bytes")
    }
}
