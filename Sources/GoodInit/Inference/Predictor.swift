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
    public init(checkpoint: String, model: ModelSource? = nil, weightsOnly: Bool = false, threads: Int = 1,
                precision: Precision = .fp32) throws {
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
        net.precision = precision
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
    /// per image, named FILE[i]; a PNG or JPEG one sample, a folder every PNG/JPEG below it (sorted
    /// paths); an .npz its x_test array, an .npy its array (NumPy data sources' layouts), FILE[i].
    /// Given `shape` (C, H, W), images are resized to H × W (bilinear, as --image-size) and grey
    /// ones widened to RGB where C is 3.
    public static func load(paths: [String], shape: [Int]? = nil) throws -> PredictInputs {
        var all = PredictInputs(names: [], images: [], shape: [])
        for path in paths {
            let part = try decode(path, shape: shape)
            if !all.shape.isEmpty && part.shape != all.shape {
                throw DataError(file: path, problem: "samples of shape \(part.shape), the earlier ones \(all.shape)")
            }
            all.shape = part.shape; all.names += part.names; all.images += part.images
        }
        return all
    }

    /// One file's (or folder's) samples.
    static func decode(_ path: String, shape: [Int]?) throws -> PredictInputs {
        let lower = path.lowercased()
        if isDirectory(path) {
            let files = try imageFiles(in: path)
            guard !files.isEmpty else { throw DataError(file: path, problem: "no PNG or JPEG file in the folder") }
            var all = PredictInputs(names: [], images: [], shape: [])
            for f in files {
                let one = try decode(f, shape: shape)
                guard all.shape.isEmpty || one.shape == all.shape else {
                    throw DataError(file: f, problem: "size \(one.shape), the folder's earlier images \(all.shape) "
                                    + "(the checkpoint's input size resizes them)")
                }
                all.shape = one.shape; all.names += one.names; all.images += one.images
            }
            return all
        }
        if [".png", ".jpg", ".jpeg"].contains(where: { lower.hasSuffix($0) }) {
            var image = try ImageCodec.decode(readFileBytes(path), file: path)
            if let shape, shape.count == 3 {
                if shape[0] == 3 && image.channels == 1 {
                    image = DecodedImage(height: image.height, width: image.width, channels: 3,
                                         pixels: image.pixels.flatMap { [$0, $0, $0] })
                }
                guard image.channels == shape[0] else {
                    throw DataError(file: path, problem: "\(image.channels) channels, the network takes \(shape[0])")
                }
                if image.height != shape[1] || image.width != shape[2] {
                    image = ImageResize.bilinear(image, height: shape[1], width: shape[2])
                }
            }
            // HWC bytes to CHW pixels in [0, 1], as the image folders load them
            let (h, w, c) = (image.height, image.width, image.channels)
            var pixels = [Float](repeating: 0, count: c * h * w)
            for y in 0..<h { for x in 0..<w { for k in 0..<c {
                pixels[(k * h + y) * w + x] = Float(image.pixels[(y * w + x) * c + k]) / 255
            } } }
            return PredictInputs(names: [path], images: pixels, shape: [c, h, w])
        }
        if lower.hasSuffix(".npz") || lower.hasSuffix(".npy") {
            let member = lower.hasSuffix(".npz") ? "x_test" : "array"
            let array = lower.hasSuffix(".npz") ? try NumPy.readNPZ(path, members: [member])[member]
                                                : try NumPy.decode(readFileBytes(path), file: path)
            guard let array else { throw DataError(file: path, problem: "no x_test array in the archive") }
            let (s, images) = try NumPyData.images(array, file: path, member: member, layout: nil)
            return PredictInputs(names: (0..<s.n).map { "\(path)[\($0)]" }, images: images, shape: [s.c, s.h, s.w])
        }
        let (dims, bytes, start) = try IDX.read(path, dimensions: 3, what: "images")
        let n = dims[0], size = dims[1] * dims[2]
        let scale = (0..<256).map { Float($0) / 255 } // as the IDX data set loads them
        return PredictInputs(names: (0..<n).map { "\(path)[\($0)]" },
                             images: bytes[start..<(start + n * size)].map { scale[Int($0)] },
                             shape: [1, dims[1], dims[2]])
    }

    /// The PNG and JPEG files below `folder`, by sorted path.
    static func imageFiles(in folder: String) throws -> [String] {
        guard let walk = FileManager.default.enumerator(atPath: folder) else {
            throw DataError(file: folder, problem: "cannot list the folder")
        }
        let names = walk.compactMap { $0 as? String }.filter {
            let l = $0.lowercased()
            return !$0.hasPrefix(".") && (l.hasSuffix(".png") || l.hasSuffix(".jpg") || l.hasSuffix(".jpeg"))
        }
        return names.sorted().map { joinPath(folder, $0) }
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
