import Foundation

/// Labelled images held in memory: `images` is count × C×H×W (NCHW), scaled to [0,1] on load.
public struct Dataset: Sendable {
    public var name: String
    public var channels: Int, height: Int, width: Int
    public var classes: Int
    /// The classes' names where the data has them (image folders' subfolder names), index = label.
    public var classNames: [String]? = nil
    public var images: [Float]
    public var labels: [Int32]
    public var count: Int { labels.count }
    public var sampleSize: Int { channels * height * width }

    public init(name: String, channels: Int, height: Int, width: Int, classes: Int,
                images: [Float], labels: [Int32]) {
        precondition(channels > 0 && height > 0 && width > 0 && classes > 0, "empty sample shape")
        precondition(images.count == labels.count * channels * height * width, "images do not match labels")
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
        self.images = images
        self.labels = labels
    }

    /// The samples in `range`, same shape and classes.
    public func subset(_ range: Range<Int>) -> Dataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "subset out of range")
        var part = self
        part.images = Array(images[range.lowerBound * sampleSize ..< range.upperBound * sampleSize])
        part.labels = Array(labels[range])
        return part
    }

    /// Appends another data set of the same shape (CIFAR-10's five training batches).
    mutating func append(_ other: Dataset) {
        precondition(other.channels == channels && other.height == height && other.width == width)
        images += other.images
        labels += other.labels
    }
}

public struct DataSplits: Sendable {
    public var train: Dataset
    public var test: Dataset
    /// The share of the training set held out by `--val-fraction` (nil: none; epochs score the test set).
    public var validation: Dataset? = nil
    /// What loading wants said (skipped images, a cache that could not be written).
    public var notes: [String] = []
    /// The classes' names where the source has them (a folder per class); nil: ClassNames decides.
    public var classNames: [String]? = nil
    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }
}

// MARK: - Normalization

extension Dataset {
    /// Per-channel mean and (population) standard deviation over every sample and pixel.
    /// Sums run in Double: 47 M Fashion-MNIST pixels would lose digits in a Float sum.
    /// A constant channel reports std 1, so `normalize` maps it to 0 instead of NaN.
    public func channelMeanStd() -> (mean: [Float], std: [Float]) {
        guard count > 0 else {
            return ([Float](repeating: 0, count: channels), [Float](repeating: 1, count: channels))
        }
        let plane = height * width
        let n = Double(count * plane)
        var mean = [Double](repeating: 0, count: channels)
        var variance = [Double](repeating: 0, count: channels)
        // Two passes: the textbook E[x²]−E[x]² cancels badly once data are already centred.
        for s in 0..<count {
            for c in 0..<channels {
                let base = (s * channels + c) * plane
                var sum = 0.0
                for i in base..<(base + plane) { sum += Double(images[i]) }
                mean[c] += sum
            }
        }
        for c in 0..<channels { mean[c] /= n }
        for s in 0..<count {
            for c in 0..<channels {
                let base = (s * channels + c) * plane
                var sum = 0.0
                for i in base..<(base + plane) {
                    let d = Double(images[i]) - mean[c]
                    sum += d * d
                }
                variance[c] += sum
            }
        }
        let std = variance.map { v -> Float in
            let s = (v / n).squareRoot()
            return s > 0 ? Float(s) : 1
        }
        return (mean.map { Float($0) }, std)
    }

    /// x ← (x − mean[c]) / std[c] for every pixel of channel c.
    public mutating func normalize(mean: [Float], std: [Float]) {
        precondition(mean.count == channels && std.count == channels, "one mean and std per channel")
        let plane = height * width
        for s in 0..<count {
            for c in 0..<channels {
                let base = (s * channels + c) * plane
                let m = mean[c], sd = std[c]
                for i in base..<(base + plane) { images[i] = (images[i] - m) / sd }
            }
        }
    }
}

// MARK: - Synthetic data

/// A learnable stand-in for real data: `classes` random prototype images, each sample one
/// prototype plus noise, label = the prototype's index. Needs no files, so tests and smoke runs
/// work anywhere; the same seed gives the same bytes on every machine.
public enum Synthetic {
    /// Half-width of the per-pixel noise: large enough that one pixel says little about the class.
    public static let noise: Float = 0.5

    public static func make(count: Int, channels: Int, height: Int, width: Int,
                            classes: Int, seed: UInt64) -> Dataset {
        precondition(count >= 0 && classes > 0, "need a non-negative count and at least one class")
        var rng = SyntheticRNG(seed: seed)
        let size = channels * height * width
        let prototypes = (0..<(classes * size)).map { _ in rng.unit() }
        var images = [Float]()
        images.reserveCapacity(count * size)
        var labels = [Int32]()
        labels.reserveCapacity(count)
        for _ in 0..<count {
            let k = rng.below(classes)
            labels.append(Int32(k))
            for p in 0..<size {
                // Triangular noise (sum of two uniforms): no libm, so identical on every platform.
                let x = prototypes[k * size + p] + noise * (rng.unit() + rng.unit() - 1)
                images.append(min(max(x, 0), 1))
            }
        }
        return Dataset(name: "synthetic", channels: channels, height: height, width: width,
                       classes: classes, images: images, labels: labels)
    }
}

/// The synthetic data's own SplitMix64 stream, so it never shifts when other code draws random
/// numbers, with the two draws it needs.
private struct SyntheticRNG {
    var g: SplitMix64
    init(seed: UInt64) { g = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { g.next() }

    /// Uniform in [0,1) from the top 24 bits, exactly representable as a Float.
    mutating func unit() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in 0..<n by the high half of a 64×64 product (bias below 2⁻⁶⁰ for small n).
    mutating func below(_ n: Int) -> Int { Int(next().multipliedFullWidth(by: UInt64(n)).high) }
}

// MARK: - Reading files

/// The whole file as bytes; a missing file, a folder or a read error becomes a DataError.
func readFileBytes(_ path: String) throws -> [UInt8] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
        throw DataError(file: path, problem: "file missing (not found)")
    }
    if isFolder.boolValue { throw DataError(file: path, problem: "is a folder, expected a file") }
    do {
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
        throw DataError(file: path, problem: "unreadable: \(error.localizedDescription)")
    }
}

func isFile(_ path: String) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
}

/// `folder/name`, without doubling a trailing slash.
func joinPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}

// MARK: - Loading by name

/// The data sets GoodInit reads: the built-in ones by name, or your own files. Stored and parsed as
/// the text `--data` takes: "fashion-mnist", …, "folder:DIR", "npz:FILE", "npy:DIR".
public enum DataSource: Hashable, Sendable, CaseIterable, RawRepresentable, Codable {
    case fashionMNIST, mnist, cifar10, cifar100, synthetic
    /// DIR/train/<class>/*.png|jpg and DIR/test/<class>/*, or DIR/<class>/* split in two.
    case folder(String)
    /// np.savez(FILE, x_train=…, y_train=…, x_test=…, y_test=…).
    case npz(String)
    /// A folder holding x_train.npy, y_train.npy, x_test.npy and y_test.npy (two pairs of np.save files).
    case npy(String)

    /// The built-in sets (the names `--data` lists).
    public static let allCases: [DataSource] = [.fashionMNIST, .mnist, .cifar10, .cifar100, .synthetic]

    public init?(rawValue: String) {
        if let b = Self.allCases.first(where: { $0.rawValue == rawValue }) { self = b; return }
        guard let colon = rawValue.firstIndex(of: ":") else { return nil }
        let path = String(rawValue[rawValue.index(after: colon)...])
        guard !path.isEmpty else { return nil }
        switch rawValue[..<colon] {
        case "folder": self = .folder(path)
        case "npz": self = .npz(path)
        case "npy": self = .npy(path)
        default: return nil
        }
    }

    public var rawValue: String {
        switch self {
        case .fashionMNIST: "fashion-mnist"
        case .mnist: "mnist"
        case .cifar10: "cifar10"
        case .cifar100: "cifar100"
        case .synthetic: "synthetic"
        case .folder(let p): "folder:" + p
        case .npz(let p): "npz:" + p
        case .npy(let p): "npy:" + p
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let s = DataSource(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown data source '\(text)'"))
        }
        self = s
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// CIFAR trains with random crops and flips unless told otherwise; the 28×28 sets without.
    public var augmentsByDefault: Bool { self == .cifar10 || self == .cifar100 }

    /// The same source with a relative path made absolute against the working folder, so a stored
    /// run reads the same files when started from another folder.
    public var absolute: DataSource {
        func abs(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: p).standardizedFileURL.path
        }
        switch self {
        case .folder(let p): return .folder(abs(p))
        case .npz(let p): return .npz(abs(p))
        case .npy(let p): return .npy(abs(p))
        default: return self
        }
    }
}

public enum DataSets {
    public static let defaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

    /// Train and test splits, pixels in [0,1] (not yet normalized: the caller picks the statistics).
    /// `dir` is required for mnist and the CIFARs; `seed` only matters for synthetic.
    public static func load(_ source: DataSource, dir: String?, seed: UInt64) throws -> DataSplits {
        try load(DataOptions(source: source, dir: dir), seed: seed)
    }

    /// The data `options` name, with their image size, bad-image and layout settings (the validation
    /// share is taken later, by TrainingSetup, after the limits).
    public static func load(_ options: DataOptions, seed: UInt64) throws -> DataSplits {
        let (source, dir) = (options.source, options.dir)
        let name = source.rawValue
        switch source {
        case .fashionMNIST:
            return try loadIDX(dir: dir ?? defaultFashionMNISTDir, name: name)
        case .mnist, .cifar10, .cifar100:
            guard let dir else { throw DataError(file: name, problem: "needs a data folder (dir)") }
            switch source {
            case .mnist: return try loadIDX(dir: dir, name: name)
            case .cifar10: return try CIFAR.load10(dir: dir)
            default: return try CIFAR.load100(dir: dir)
            }
        case .synthetic:
            // One draw split in two, so train and test share the class prototypes.
            let all = Synthetic.make(count: 2048 + 512, channels: 1, height: 28, width: 28,
                                     classes: 10, seed: seed)
            return DataSplits(train: all.subset(0..<2048), test: all.subset(2048..<2560))
        case .folder(let path):
            return try ImageFolder(options: options).load(path)
        case .npz(let path):
            return try NumPyData.loadNPZ(path, layout: options.layoutHint)
        case .npy(let path):
            return try NumPyData.loadNPY(folder: path, layout: options.layoutHint)
        }
    }

    static func loadIDX(dir: String, name: String) throws -> DataSplits {
        let train = try IDX.load(images: idxFile(dir, "train-images-idx3-ubyte"),
                                 labels: idxFile(dir, "train-labels-idx1-ubyte"), name: name)
        let test = try IDX.load(images: idxFile(dir, "t10k-images-idx3-ubyte"),
                                labels: idxFile(dir, "t10k-labels-idx1-ubyte"), name: name)
        return DataSplits(train: train, test: test)
    }

    /// The plain file if present, else the .gz one (IDX itself tells them apart by content).
    static func idxFile(_ dir: String, _ base: String) throws -> String {
        let plain = joinPath(dir, base)
        if isFile(plain) { return plain }
        if isFile(plain + ".gz") { return plain + ".gz" }
        throw DataError(file: plain, problem: "file missing (neither \(base) nor \(base).gz in \(dir))")
    }
}

extension DataSplits {
    /// Sample counts and sums of one split's (normalized) images and labels, in a fixed order.
    struct Fingerprint: Codable, Equatable {
        var samples: Int, imageSum: Double, labelSum: Int
        init(_ d: Dataset) {
            var x = 0.0, y = 0
            for v in d.images { x += Double(v) }
            for l in d.labels { y += Int(l) }
            samples = d.count; imageSum = x; labelSum = y
        }
    }

    /// What ranks compare to find one that read other files.
    var fingerprint: [String: Fingerprint] { ["train": Fingerprint(train), "test": Fingerprint(test)] }
}
