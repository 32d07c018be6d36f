// A trained network applied to new inputs, from its checkpoint alone: the network rebuilt from the
// stored model (the model file's text, or the preset), the weights loaded, the stored normalization
// applied, and the forward pass in inference mode (batch norm's running statistics, no dropout).
import Foundation

public final class Predictor {
    public let net: Network
    public let metadata: CheckpointMetadata
    public let record: CheckpointNetwork
    let threads: Int
    var plans: [Int: Plan] = [:]

    /// `model`: another model than the stored one (refused by the checkpoint's identity unless `weightsOnly`).
    public init(checkpoint: String, model: ModelSource? = nil, weightsOnly: Bool = false, threads: Int = 1) throws {
        metadata = try CheckpointMetadata.read(checkpoint)
        guard let record = metadata.network else {
            throw DataError(file: checkpoint, problem: "written before checkpoints held their network, input shape, "
                            + "class names and normalization: predict and export need them (retrain, or resume it "
                            + "for a step to write a new checkpoint)")
        }
        self.record = record
        (net, _) = try TrainingSetup.network(model ?? metadata.config.model, input: record.input,
                                             text: model == nil ? record.modelText : nil)
        guard net.classes == record.classNames.count else {
            throw DataError(file: checkpoint, problem: "\(record.classNames.count) class names for a network with "
                            + "\(net.classes) outputs")
        }
        try Checkpoint.load(checkpoint, into: net, optimizer: nil, weightsOnly: weightsOnly)
        self.threads = max(1, threads)
    }

    /// The sample shape inputs must have.
    public var inputShape: [Int] { record.input }

    /// Logits of `images` (count × C×H×W pixels in [0, 1], NCHW), normalized with the stored statistics,
    /// in batches of up to `batch`, in the run's subnormal mode.
    public func logits(_ images: [Float], batch: Int = 100) throws -> [[Float]] {
        let size = record.input.reduce(1, *), count = images.count / size
        precondition(images.count == count * size, "images are not whole samples")
        var x = images
        let channels = record.input.count == 3 ? record.input[0] : 1, plane = size / channels
        for s in 0..<count {
            for c in 0..<channels {
                let (m, sd) = (record.mean[min(c, record.mean.count - 1)], record.std[min(c, record.std.count - 1)])
                for i in (s * size + c * plane)..<(s * size + (c + 1) * plane) { x[i] = (x[i] - m) / sd }
            }
        }
        return try FloatMode.run(flushingSubnormals: metadata.config.compute.flushSubnormals) {
            var out: [[Float]] = []
            out.reserveCapacity(count)
            var start = 0
            while start < count {
                let b = min(batch, count - start)
                let plan = plans[b] ?? Plan(net: net, chunking: .whole(b), workers: 1, threads: threads)
                plans[b] = plan
                plan.setInput(images: x, labels: [Int32](repeating: 0, count: count),
                              indices: Array(start..<(start + b))[...])
                plan.forward(training: false)
                for j in 0..<b { out.append(plan.logits(sample: j)) }
                start += b
            }
            return out
        }
    }

    /// The `k` most probable classes (softmax of the logits), highest first.
    public func top(_ logits: [Float], k: Int) -> [(name: String, probability: Double)] {
        let m = logits.max() ?? 0
        let e = logits.map { exp(Double($0 - m)) }
        let sum = e.reduce(0, +)
        return e.indices.sorted { e[$0] > e[$1] || (e[$0] == e[$1] && $0 < $1) }.prefix(k)
            .map { (record.classNames[$0], e[$0] / sum) }
    }
}

/// What `predict` reads: named samples of one shape, pixels in [0, 1].
public struct PredictInputs {
    public var names: [String]
    public var images: [Float]
    /// (C, H, W) of each sample.
    public var shape: [Int]

    /// Every sample of every file: an IDX image file (idx3-ubyte, plain or gzipped) gives one sample
    /// per image, named FILE[i].
    /// PNG/JPEG files, folders of them and .npz/.npy arrays go through the data readers' decoders:
    /// `decode(_:)` below is where they are wired in (it refuses them until then).
    public static func load(paths: [String]) throws -> PredictInputs {
        var all = PredictInputs(names: [], images: [], shape: [])
        for path in paths {
            let part = try decode(path)
            if !all.shape.isEmpty && part.shape != all.shape {
                throw DataError(file: path, problem: "samples of shape \(part.shape), the earlier ones \(all.shape)")
            }
            all.shape = part.shape; all.names += part.names; all.images += part.images
        }
        return all
    }

    /// One file's samples.
    static func decode(_ path: String) throws -> PredictInputs {
        let lower = path.lowercased()
        let imageOrArray = [".png", ".jpg", ".jpeg", ".npz", ".npy"].contains { lower.hasSuffix($0) }
        if imageOrArray || isDirectory(path) {
            // MERGE POINT: the data readers' PNG/JPEG and .npz/.npy decoders (issue 27 parts 1-2) plug in here
            throw DataError(file: path, problem: "images, folders and NumPy arrays are read once the image and "
                            + "NumPy data sources are in; an IDX image file or --test-index works now")
        }
        let (dims, bytes, start) = try IDX.read(path, dimensions: 3, what: "images")
        let n = dims[0], size = dims[1] * dims[2]
        let scale = (0..<256).map { Float($0) / 255 } // as the IDX data set loads them
        return PredictInputs(names: (0..<n).map { "\(path)[\($0)]" },
                             images: bytes[start..<(start + n * size)].map { scale[Int($0)] },
                             shape: [1, dims[1], dims[2]])
    }

    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    /// Samples `indices` of the checkpoint's data set's test split (as loaded, before normalization).
    public static func testSet(_ options: DataOptions, seed: UInt64, indices: [Int]) throws -> PredictInputs {
        let test = try DataSets.load(options.source, dir: options.dir, seed: seed).test
        let size = test.sampleSize
        var images: [Float] = []
        for i in indices {
            guard i >= 0 && i < test.count else {
                throw DataError(file: options.source.rawValue, problem: "test index \(i) is outside 0..<\(test.count)")
            }
            images += test.images[(i * size)..<((i + 1) * size)]
        }
        return PredictInputs(names: indices.map { "\(options.source.rawValue) test[\($0)]" }, images: images,
                             shape: [test.channels, test.height, test.width])
    }
}
