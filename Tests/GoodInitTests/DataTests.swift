import Foundation
import GoodInit
import Testing

/// A fresh folder under the system temp dir, one per test; the test removes it when done.
struct ScratchFolder {
    let folder: String
    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("goodinit-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { folder + "/" + name }
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

// MARK: - IDX fixtures: 5 gray images of 4×3 pixels

private let pixels: [UInt8] = (0..<60).map { UInt8(($0 * 37 + 11) % 256) }
private let classLabels: [UInt8] = [3, 0, 9, 1, 7]

/// An IDX file: big-endian magic and sizes, then the body.
private func idx(_ magic: UInt32, _ dims: [UInt32], _ body: [UInt8]) -> [UInt8] {
    var bytes = [UInt8]()
    for v in [magic] + dims { bytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    return bytes + body
}
private let goodImages = idx(0x803, [5, 4, 3], pixels)
private let goodLabels = idx(0x801, [5], classLabels)
private let imagesName = "img-idx3-ubyte", labelsName = "lbl-idx1-ubyte"

/// Writes the pair (nil leaves a file out), loads it and returns the DataError it must raise.
private func idxError(images: [UInt8]?, labels: [UInt8]?) throws -> DataError {
    let scratch = try ScratchFolder()
    defer { scratch.remove() }
    if let images { try scratch.write(imagesName, images) }
    if let labels { try scratch.write(labelsName, labels) }
    return try #require(throws: DataError.self) {
        try IDX.load(images: scratch.path(imagesName), labels: scratch.path(labelsName), name: "t")
    }
}

@Suite struct IDXTests {
    @Test(arguments: [false, true])
    func roundTrip(gzipped: Bool) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let images = gzipped ? try Gzip.compress(goodImages) : goodImages
        let labels = gzipped ? try Gzip.compress(goodLabels) : goodLabels
        // Neutral names: gzip must be recognised by its magic bytes, not by ".gz".
        let d = try IDX.load(images: scratch.write("a", images), labels: scratch.write("b", labels), name: "tiny")
        #expect(d.count == 5 && d.channels == 1 && d.height == 4 && d.width == 3 && d.classes == 10)
        #expect(d.images == pixels.map { Float($0) / 255 })
        #expect(d.labels == classLabels.map { Int32($0) })
    }

    @Test func wrongMagic() throws {
        let e = try idxError(images: idx(0x1234_5678, [5, 4, 3], pixels), labels: goodLabels)
        #expect(e.description.contains(imagesName) && e.problem.contains("magic"))
    }

    @Test func wrongDimensions() throws {
        let e = try idxError(images: idx(0x802, [5, 12], pixels), labels: goodLabels)
        #expect(e.description.contains(imagesName) && e.problem.contains("dimensions"))
    }

    @Test func truncatedImages() throws {
        let e = try idxError(images: Array(goodImages.dropLast()), labels: goodLabels)
        #expect(e.description.contains(imagesName) && e.problem.contains("truncated"))
    }

    @Test func extraBytes() throws {
        let e = try idxError(images: goodImages, labels: goodLabels + [0])
        #expect(e.description.contains(labelsName) && e.problem.contains("extra"))
    }

    @Test func hugeHeaderClaimIsRefusedBeforeAllocating() throws {
        let e = try idxError(images: idx(0x803, [0xffff_ffff, 0xffff_ffff, 0xffff_ffff], pixels), labels: goodLabels)
        #expect(e.description.contains(imagesName))
    }

    @Test func countMismatch() throws {
        let e = try idxError(images: goodImages, labels: idx(0x801, [4], Array(classLabels.prefix(4))))
        #expect(e.description.contains(imagesName) && e.problem.contains("mismatch"))
    }

    @Test func labelOutOfRange() throws {
        let e = try idxError(images: goodImages, labels: idx(0x801, [5], [3, 0, 10, 1, 7]))
        #expect(e.description.contains(labelsName) && e.problem.contains("out of range"))
    }

    @Test func truncatedGzip() throws {
        let gz = try Gzip.compress(goodImages)
        let e = try idxError(images: Array(gz.prefix(gz.count / 2)), labels: goodLabels)
        #expect(e.description.contains(imagesName) && e.problem.contains("truncated"))
    }

    @Test func missingFile() throws {
        let e = try idxError(images: goodImages, labels: nil)
        #expect(e.description.contains(labelsName) && e.problem.contains("missing"))
    }

    @Test func idxFilesByNamePlainOrGzipped() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        try scratch.write("train-images-idx3-ubyte", goodImages)
        try scratch.write("train-labels-idx1-ubyte.gz", Gzip.compress(goodLabels))
        try scratch.write("t10k-images-idx3-ubyte.gz", Gzip.compress(goodImages))
        try scratch.write("t10k-labels-idx1-ubyte", goodLabels)
        let splits = try DataSets.load(.mnist, dir: scratch.folder, seed: 0)
        #expect(splits.train.count == 5 && splits.test.count == 5 && splits.train.name == "mnist")
        try FileManager.default.removeItem(atPath: scratch.path("t10k-labels-idx1-ubyte"))
        let e = try #require(throws: DataError.self) { try DataSets.load(.mnist, dir: scratch.folder, seed: 0) }
        #expect(e.description.contains("t10k-labels-idx1-ubyte") && e.problem.contains("missing"))
    }
}

// MARK: - gzip

@Suite struct GzipTests {
    @Test func roundTripAndConcatenatedMembers() throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * $0 >> 7) }
        #expect(try Gzip.decompress(Gzip.compress(data)) == data)
        #expect(try Gzip.decompress(Gzip.compress([1, 2]) + Gzip.compress([3])) == [1, 2, 3])
        #expect(try Gzip.decompress(Gzip.compress([])) == [])
    }

    @Test func capStopsDecompression() throws {
        let gz = try Gzip.compress([UInt8](repeating: 0, count: 100_000))
        let e = try #require(throws: DataError.self) { try Gzip.decompress(gz, file: "zeros.gz", cap: 1000) }
        #expect(e.description.contains("zeros.gz") && e.problem.contains("cap"))
    }

    @Test func corruptStream() throws {
        var gz = try Gzip.compress((0..<5000).map { UInt8($0 % 251) })
        for i in 12..<40 { gz[i] ^= 0xa5 }
        let e = try #require(throws: DataError.self) { try Gzip.decompress(gz, file: "bad.gz") }
        #expect(e.description.contains("bad.gz") && e.problem.contains("corrupt"))
    }
}

// MARK: - CIFAR

/// `count` records of `labels(r)` then 3072 pixel bytes derived from the record number.
private func cifarRecords(_ count: Int, labels: (Int) -> [UInt8]) -> [UInt8] {
    (0..<count).flatMap { r in labels(r) + (0..<3072).map { UInt8(($0 * 7 + r * 13) % 256) } }
}

@Suite struct CIFARTests {
    @Test func tenRecords() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let file = try scratch.write("b.bin", cifarRecords(3) { [[2, 7, 9][$0]] })
        let d = try CIFAR.readRecords(file: file, labelBytes: 1, labelIndex: 0, classes: 10)
        #expect(d.count == 3 && d.channels == 3 && d.height == 32 && d.width == 32)
        #expect(d.labels == [2, 7, 9])
        #expect(d.images[3072 + 5] == Float((5 * 7 + 13) % 256) / 255)
        #expect(d.images[2 * 3072 + 3071] == Float((3071 * 7 + 26) % 256) / 255)
    }

    @Test func wrongSizeAndEmpty() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let odd = try scratch.write("odd.bin", cifarRecords(3) { _ in [1] } + [0])
        let e = try #require(throws: DataError.self) {
            try CIFAR.readRecords(file: odd, labelBytes: 1, labelIndex: 0, classes: 10)
        }
        #expect(e.description.contains("odd.bin") && e.problem.contains("multiple"))
        let empty = try scratch.write("empty.bin", [])
        let e2 = try #require(throws: DataError.self) {
            try CIFAR.readRecords(file: empty, labelBytes: 1, labelIndex: 0, classes: 10)
        }
        #expect(e2.description.contains("empty.bin") && e2.problem.contains("empty"))
    }

    @Test func labelOutOfRange() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let file = try scratch.write("b.bin", cifarRecords(2) { [$0 == 1 ? 10 : 0] })
        let e = try #require(throws: DataError.self) {
            try CIFAR.readRecords(file: file, labelBytes: 1, labelIndex: 0, classes: 10)
        }
        #expect(e.description.contains("b.bin") && e.problem.contains("out of range"))
    }

    @Test func hundredUsesFineLabel() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path("cifar-100-binary"),
                                                withIntermediateDirectories: false)
        // Coarse label 19 first, fine label second.
        try scratch.write("cifar-100-binary/train.bin", cifarRecords(3) { [19, [42, 99, 0][$0]] })
        try scratch.write("cifar-100-binary/test.bin", cifarRecords(2) { [19, UInt8(50 + $0)] })
        let splits = try DataSets.load(.cifar100, dir: scratch.folder, seed: 0)
        #expect(splits.train.labels == [42, 99, 0] && splits.test.labels == [50, 51])
        #expect(splits.train.classes == 100 && splits.train.name == "cifar100")
    }

    @Test func tenFromFolder() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        for b in 1...5 { try scratch.write("data_batch_\(b).bin", cifarRecords(1) { _ in [UInt8(b)] }) }
        try scratch.write("test_batch.bin", cifarRecords(2) { _ in [9] })
        let splits = try DataSets.load(.cifar10, dir: scratch.folder, seed: 0)
        #expect(splits.train.labels == [1, 2, 3, 4, 5] && splits.test.count == 2)
        #expect(splits.train.images.count == 5 * 3072)
    }
}

// MARK: - Synthetic data, normalization, loading by name

@Suite struct SyntheticAndNormalizeTests {
    @Test func deterministicInSeed() {
        let a = Synthetic.make(count: 64, channels: 2, height: 5, width: 5, classes: 7, seed: 42)
        let b = Synthetic.make(count: 64, channels: 2, height: 5, width: 5, classes: 7, seed: 42)
        let c = Synthetic.make(count: 64, channels: 2, height: 5, width: 5, classes: 7, seed: 43)
        #expect(a.images == b.images && a.labels == b.labels)
        #expect(a.images != c.images)
        #expect(a.labels.allSatisfy { (0..<7).contains($0) })
        #expect(Set(a.labels).count > 1)
        #expect(a.images.allSatisfy { (0...1).contains($0) })
    }

    @Test func normalizeGivesZeroMeanUnitStd() {
        var d = Synthetic.make(count: 200, channels: 3, height: 6, width: 6, classes: 4, seed: 5)
        // Give the channels clearly different statistics first.
        for i in d.images.indices { d.images[i] = d.images[i] * Float(1 + (i / 36) % 3) + Float((i / 36) % 3) }
        let (mean, std) = d.channelMeanStd()
        d.normalize(mean: mean, std: std)
        let after = d.channelMeanStd()
        for c in 0..<3 {
            #expect(abs(after.mean[c]) < 1e-4)
            #expect(abs(after.std[c] - 1) < 1e-4)
        }
    }

    @Test func syntheticSource() throws {
        let splits = try DataSets.load(.synthetic, dir: nil, seed: 3)
        #expect(splits.train.count == 2048 && splits.test.count == 512)
        #expect(splits.train.channels == 1 && splits.train.height == 28 && splits.train.width == 28)
        #expect(splits.train.classes == 10)
    }

    static let hasFashionMNIST = FileManager.default.fileExists(
        atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")

    /// Runs only where the real data are installed (reported as skipped elsewhere).
    @Test(.enabled(if: hasFashionMNIST, "needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)"))
    func realFashionMNIST() throws {
        let splits = try DataSets.load(.fashionMNIST, dir: nil, seed: 1)
        #expect(splits.train.count == 60000 && splits.test.count == 10000)
        #expect(splits.train.height == 28 && splits.train.width == 28 && splits.train.channels == 1)
        #expect(splits.train.labels.allSatisfy { (0..<10).contains($0) })
        #expect(splits.test.labels.allSatisfy { (0..<10).contains($0) })
    }
}

@Suite("Augmentation") struct AugmentTests {
    @Test("crop+flip moves pixels by at most the pad, keeps values, is reproducible")
    func cropFlip() {
        let (c, h, w) = (2, 6, 5)
        let src = (0..<(c * h * w)).map { Float($0 + 1) }
        let a = Tensor(shape: [c * h * w], values: src), b = Tensor(shape: [c * h * w], values: src)
        Augment.cropFlip(a, channels: c, height: h, width: w, pad: 2, seed: 9)
        Augment.cropFlip(b, channels: c, height: h, width: w, pad: 2, seed: 9)
        #expect(a.array == b.array)
        // every non-zero output value is a pixel of the same channel
        for ch in 0..<c {
            let plane = Set(src[(ch * h * w)..<((ch + 1) * h * w)])
            for v in a.array[(ch * h * w)..<((ch + 1) * h * w)] where v != 0 { #expect(plane.contains(v)) }
        }
        var changed = false
        for s in 0..<20 {
            let t = Tensor(shape: [c * h * w], values: src)
            Augment.cropFlip(t, channels: c, height: h, width: w, pad: 2, seed: UInt64(s))
            if t.array != src { changed = true }
        }
        #expect(changed)
    }
}
