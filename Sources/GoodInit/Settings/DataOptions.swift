// The data set, where its files are, how much of it a run uses, how your own files are read,
// the held-out validation share (and early stopping on it), and their flags.
import ArgumentParser

public struct DataOptions: Sendable, Equatable, DefaultedSettings {
    public var source: DataSource = .fashionMNIST
    public var dir: String? = nil
    public var trainLimit: Int? = nil     // use only the first N training samples
    public var testLimit: Int? = nil
    /// Random crop (pad 4) and horizontal flip; nil: the data set's default (on for CIFAR).
    public var augment: Bool? = nil
    /// Image folders: resize every image to this size (nil: all must share one size).
    public var imageSize: ImageSize? = nil
    /// Image folders: skip (and count) images that do not decode instead of stopping.
    public var skipBadImages = false
    /// NumPy images of rank 4: NHWC or NCHW (nil: told apart by the sizes, see NumPyData).
    public var layoutHint: ArrayLayout? = nil
    /// Image folders without train/ and test/: the share of each class held out as the test set.
    public var testFraction = 0.2
    /// The share of the training set held out for per-epoch validation (0: none, epochs score the test set).
    public var valFraction = 0.0
    /// Stop after this many epochs without a better validation accuracy (needs valFraction > 0).
    public var earlyStop: Int? = nil
    public var augments: Bool { augment ?? source.augmentsByDefault }
    public init() {}
    public init(source: DataSource = .fashionMNIST, dir: String? = nil) { self.source = source; self.dir = dir }

    func validate() throws {
        try SettingError.atLeast(1, trainLimit, "data.trainLimit")
        try SettingError.atLeast(1, testLimit, "data.testLimit")
        try SettingError.check(valFraction >= 0 && valFraction < 1, "data.valFraction", "must be in [0, 1)",
                               valFraction)
        try SettingError.check(testFraction > 0 && testFraction < 1, "data.testFraction", "must be in (0, 1)",
                               testFraction)
        try SettingError.atLeast(1, earlyStop, "data.earlyStop")
        if earlyStop != nil && valFraction == 0 {
            throw SettingError("data.earlyStop", "needs a validation set (--val-fraction above 0)")
        }
    }
}

/// An image size, written "HxW" ("28x28").
public struct ImageSize: Sendable, Hashable, TextCodable {
    public var height: Int, width: Int
    public init(height: Int, width: Int) { self.height = height; self.width = width }
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), (1...4096).contains(h),
              (1...4096).contains(w) else {
            throw ValueError("expected HxW with sizes 1...4096, as 28x28")
        }
        self.init(height: h, width: w)
    }
    public var description: String { "\(height)x\(width)" }
}

/// How a rank-4 image array is laid out.
public enum ArrayLayout: String, Sendable, Codable, CaseIterable, ExpressibleByArgument {
    case nhwc, nchw
}

extension DataSource {
    /// `--data`'s value; a refusal names every form on one line.
    @Sendable static func parse(_ text: String) throws -> DataSource {
        guard let s = DataSource(rawValue: text) else {
            let forms = allCases.map(\.rawValue) + ["folder:DIR", "npz:FILE", "npy:DIR"]
            throw ValueError("one of \(forms.joined(separator: ", "))")
        }
        return s
    }
}

extension DataOptions {
    public struct Flags: ParsableArguments, Sendable {
        static let defaults = DataOptions()
        @Option(name: .customLong("data"), help: ArgumentHelp(
            "Data set: a built-in name, or your own files: folder:DIR (DIR/train/<class>/*.png|jpg and "
            + "DIR/test/<class>/*, or DIR/<class>/* with --test-fraction of each class held out by a fixed "
            + "seed), npz:FILE (np.savez with x_train, y_train, x_test, y_test) or npy:DIR (x_train.npy, "
            + "y_train.npy, x_test.npy, y_test.npy in DIR). Class names are the folder names, sorted. "
            + "(default: \(defaults.source.rawValue))"), transform: DataSource.parse)
        public var source = defaults.source
        @Option(name: .customLong("data-dir"), help: "Folder with the data set's files.") public var dir: String?
        @Flag(inversion: .prefixedNo, help: "Random crop (pad 4) and horizontal flip (default: on for CIFAR).")
        public var augment: Bool?
        @Option(parsing: .unconditional, help: "Use only the first N training samples.", transform: Parse.positiveInt)
        public var trainLimit: Int?
        @Option(parsing: .unconditional, help: "Use only the first N test samples.", transform: Parse.positiveInt)
        public var testLimit: Int?
        @Option(help: ArgumentHelp(
            "Image folders: resize every image to HxW by bilinear interpolation of the whole image (no crop; "
            + "the aspect ratio follows). Without it all images must share one size.", valueName: "HxW"),
                transform: Parse.text)
        public var imageSize: ImageSize?
        @Flag(help: "Image folders: skip images that do not decode (and count them) instead of stopping.")
        public var skipBadImages = false
        @Option(help: ArgumentHelp("NumPy rank-4 images: nhwc or nchw (default: last size 1 or 3 → NHWC, else "
                + "second size 1 or 3 → NCHW)."))
        public var layoutHint: ArrayLayout?
        @Option(parsing: .unconditional, help: .withDefault(
            "Image folders without train/ and test/: the share of each class held out as the test set.",
            defaults.testFraction), transform: { try Parse.double($0, "must be in (0, 1)") { $0 > 0 && $0 < 1 } })
        public var testFraction = defaults.testFraction
        @Option(parsing: .unconditional, help: .withDefault(
            "Hold out this share of the training set (seeded by --seed, the same for any W and T): epochs "
            + "score it, the test set is scored once at the end, and best.safetensors keeps the best epoch.",
            defaults.valFraction), transform: { try Parse.double($0, "must be in [0, 1)") { $0 >= 0 && $0 < 1 } })
        public var valFraction = defaults.valFraction
        @Option(parsing: .unconditional,
                help: "Stop after N epochs without a better validation accuracy (needs --val-fraction).",
                transform: Parse.positiveInt)
        public var earlyStop: Int?
        public init() {}

        public var options: DataOptions {
            var d = DataOptions(source: source.absolute, dir: dir)
            d.augment = augment; d.trainLimit = trainLimit; d.testLimit = testLimit
            d.imageSize = imageSize; d.skipBadImages = skipBadImages; d.layoutHint = layoutHint
            d.testFraction = testFraction; d.valFraction = valFraction; d.earlyStop = earlyStop
            return d
        }
    }
}
