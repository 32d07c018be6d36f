// The ONNX export run by Python's onnxruntime: its logits on a batch must match GoodInit's own
// inference logits (Predictor, what `predict` prints) within 1e-4 relative to the batch's largest
// logit. Skipped, visibly, where python3 lacks onnxruntime (scripts/setup.sh installs it).
import Foundation
@testable import GoodInit
import Testing

enum ONNXRuntime {
    static let available: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import onnxruntime, numpy"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    static let script = """
        import sys, numpy as np, onnxruntime as ort
        x = np.fromfile(sys.argv[2], dtype='<f4').reshape([int(v) for v in sys.argv[3].split(',')])
        s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])
        s.run(['logits'], {'input': x})[0].astype('<f4').tofile(sys.argv[4])
        """

    /// onnxruntime's logits for `images` (batch × shape).
    static func run(_ model: String, images: [Float], shape: [Int]) throws -> [Float] {
        let folder = scratchFolder("ort")
        let x = folder + "/x.f32", y = folder + "/y.f32"
        try images.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: x)) }
        let p = Process(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, model, x, shape.map(String.init).joined(separator: ","), y]
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TrainingError("onnxruntime: \(message)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: y))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

@Suite("ONNX export: onnxruntime agrees with GoodInit's inference",
       .enabled(if: ONNXRuntime.available, "python3 has no onnxruntime: pip install onnxruntime"))
struct ONNXExportTests {
    /// Every op GoodInit has, in one model file (two: a network ends in one global pool kind).
    static let everyOp = """
        name: every-op
        input: [3, 12, 12]
        layers:
          - conv: {out: 8, kernel: 3, stride: 1}
          - batchnorm
          - relu
          - residual: [ {conv: {out: 8, bias: false}}, batchnorm, {leaky_relu: {slope: 0.2}} ]
          - {prelu: {shared: false}}
          - {maxpool: {window: 2}}
          - conv: {out: 8, kernel: 3, stride: 2, padding: 0}
          - tanh
          - {maxout: {pieces: 2}}
          - {avgpool: {window: 2, stride: 1}}
          - {prelu: {shared: true}}
          - dropout: {p: 0.3}
          - flatten
          - linear: {out: 12}
          - batchnorm
          - sigmoid
          - {maxout: {pieces: 2}}
          - {prelu: {shared: false}}
          - linear: {out: 5}
        """
    static let globalPools = """
        name: global-pools
        input: [2, 9, 9]
        layers:
          - conv: {out: 6, kernel: 5, padding: 1}
          - residual: [ {conv: {out: 6}}, relu ]
          - global_maxpool
          - linear: {out: 4, bias: false}
          - residual: [ {linear: {out: 4}}, tanh ]
        """
    static let globalAvg = """
        name: global-avg
        input: [1, 8, 8]
        layers:
          - conv: {out: 4}
          - global_avgpool
          - linear: {out: 3}
        """

    /// The model, its weights he-normal, its running statistics and slopes drawn away from their
    /// starting values, saved as a checkpoint with an arbitrary normalization.
    func checkpoint(_ source: ModelSource, text: String? = nil) throws -> String {
        let net: Network
        if let text {
            let m = try ModelFile.parse(text, file: "m.yaml")
            net = try Network(name: m.name, input: m.input, layers: m.layers)
        } else if case let .preset(p, a) = source {
            net = try Presets.network(p, activation: a)
        } else { throw TrainingError("no model") }
        net.initialize(.heNormal(fanOut: false), seed: 7)
        var g = SplitMix64(seed: 11)
        func draw(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(g.next() >> 40) / Float(1 << 24) }
        for op in net.ops {
            if let b = op as? BatchNorm {
                b.runningMean.assign((0..<b.runningMean.count).map { _ in draw(-0.5, 0.5) })
                b.runningVar.assign((0..<b.runningVar.count).map { _ in draw(0.5, 2) })
            }
        }
        for e in net.params.entries {
            switch e.spec.role { case .bnGamma, .bnBeta, .slope: break; default: continue }
            let v = net.params.view(e, in: net.params.values)
            v.assign((0..<v.count).map { _ in draw(0.1, 0.9) })
        }
        let c = net.inputShape[0]
        let record = CheckpointNetwork(modelText: text, input: net.inputShape, classNames: (0..<net.classes).map {
            "class \($0)" }, mean: (0..<c).map { 0.2 + 0.1 * Float($0) }, std: (0..<c).map { 0.5 + 0.2 * Float($0) },
            identity: NetworkIdentity(net))
        var s = TrainSettings()
        s.model = source
        let path = scratchFolder("onnx") + "/checkpoint.safetensors"
        try Checkpoint.save(net, optimizer: nil, position: TrainingPosition(step: 0, epoch: 0, batchInEpoch: 0),
                            config: s.stored(), network: record, to: path)
        return path
    }

    func agree(_ source: ModelSource, text: String? = nil, batch: Int = 4) throws {
        let path = try checkpoint(source, text: text)
        let p = try Predictor(checkpoint: path)
        var g = SplitMix64(seed: 5)
        let size = p.inputShape.reduce(1, *)
        let images = (0..<(batch * size)).map { _ in Float(g.next() >> 40) / Float(1 << 24) }
        let mine = try p.logits(images).flatMap { $0 }
        let file = path + ".onnx"
        try Data(ONNXExport.model(p.net, mean: p.record.mean, std: p.record.std)).write(to: URL(fileURLWithPath: file))
        let theirs = try ONNXRuntime.run(file, images: images, shape: [batch] + p.inputShape)
        #expect(theirs.count == mine.count)
        let scale = mine.map(abs).max() ?? 1
        for (i, (a, b)) in zip(mine, theirs).enumerated() {
            #expect(abs(a - b) <= 1e-4 * max(abs(a), scale), "logit \(i): GoodInit \(a), onnxruntime \(b)")
        }
    }

    // plain30 itself repeats plain30-thin's ops at 4× the width: slow in a test, and the same mapping
    @Test("presets: cnn-small, resnet-small, fitnet-small with PReLU and with maxout, plain30-thin",
          arguments: [ModelSource.preset(.cnnSmall), .preset(.resnetSmall), .preset(.fitnetSmall, activation: .prelu),
                      .preset(.fitnetSmall, activation: .maxout), .preset(.fitnetSmall, activation: .preluShared),
                      .preset(.plain30Thin, activation: .relu)])
    func presets(_ source: ModelSource) throws { try agree(source, batch: 3) }

    @Test("model files with every op", arguments: [everyOp, globalPools, globalAvg])
    func everyOpFile(_ text: String) throws { try agree(.file("m.yaml"), text: text, batch: 5) }
}
