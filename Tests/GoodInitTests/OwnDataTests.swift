// Your own data: image folders (PNG and JPEG through libpng and libjpeg-turbo), NumPy files, the
// decode cache, and the validation split with best.safetensors and early stopping. The fixtures
// are written here through the same libraries (ImageCodec.encode) and ZIPFoundation: no Python.
import Foundation
@testable import GoodInit
import Testing
import ZIPFoundation

// MARK: - Fixtures

/// A learnable image: class k is bright in its own third of the rows, plus a per-file pattern.
func classImage(_ k: Int, file: Int, height: Int = 12, width: Int = 10, channels: Int = 3) -> DecodedImage {
    var px = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let band = y * 3 / height == k % 3
                px.append(UInt8((band ? 170 : 20) + (x * 7 + c * 13 + file * 5 + k * 11) % 60))
            }
        }
    }
    return DecodedImage(height: height, width: width, channels: channels, pixels: px)
}

/// Writes DIR/<split>/<class>/<file>: `files` per class, PNG and JPEG alternating; returns DIR.
@discardableResult
func writeImageFolder(_ dir: String, splits: [String] = ["train", "test"], classes: [String] = ["cat", "dog", "eel"],
                      files: Int = 4, channels: Int = 3, jpeg: Bool = true) throws -> String {
    for split in splits {
        for (k, name) in classes.enumerated() {
            let folder = split.isEmpty ? dir + "/" + name : dir + "/" + split + "/" + name
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for f in 0..<files {
                let image = classImage(k, file: f + (split == "test" ? 100 : 0), channels: channels)
                let asJPEG = jpeg && f % 2 == 1
                let bytes = try ImageCodec.encode(image, as: asJPEG ? .jpeg(quality: 95) : .png)
                try Data(bytes).write(to: URL(fileURLWithPath: folder + "/img\(f).\(asJPEG ? "jpg" : "png")"))
            }
        }
    }
    return dir
}

func folderOptions(_ dir: String) -> DataOptions { DataOptions(source: .folder(dir)) }

/// A .npy file: header dictionary padded to a multiple of 64 bytes, then the body.
func npy(_ descr: String, _ shape: [Int], _ body: [UInt8], fortran: Bool = false, version: UInt8 = 1) -> [UInt8] {
    let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (\(dims)), }"
    let fixed = version == 1 ? 10 : 12
    while (fixed + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let n = header.utf8.count
    let length: [UInt8] = version == 1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8(n >> 8), 0, 0]
    return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + Array(header.utf8) + body
}

func floatBytes(_ v: [Float]) -> [UInt8] {
    v.flatMap { f in (0..<4).map { UInt8(truncatingIfNeeded: f.bitPattern >> (8 * UInt32($0))) } }
}

func int64Bytes(_ v: [Int]) -> [UInt8] { v.flatMap { x in (0..<8).map { UInt8(truncatingIfNeeded: x >> (8 * $0)) } } }

/// An .npz (a zip of name.npy members, deflated as np.savez_compressed does).
func writeNPZ(_ path: String, _ members: [String: [UInt8]]) throws {
    let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
    for (name, bytes) in members.sorted(by: { $0.key < $1.key }) {
        try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                             compressionMethod: .deflate) { position, size in
            Data(bytes[Int(position)..<(Int(position) + size)])
        }
    }
}

// MARK: - Images

@Suite("Image codecs and folders") struct ImageFolderTests {
    @Test("PNG round trip is exact, JPEG keeps size and channels (grey and RGB)")
    func codecs() throws {
        for c in [1, 3] {
            let img = classImage(1, file: 2, channels: c)
            #expect(try ImageCodec.decode(ImageCodec.encode(img, as: .png), file: "x.png") == img)
            let j = try ImageCodec.decode(ImageCodec.encode(img, as: .jpeg(quality: 95)), file: "x.jpg")
            #expect(j.height == img.height && j.width == img.width && j.channels == c)
            let err = zip(j.pixels, img.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(err < 40)
        }
        #expect(throws: DataError.self) { try ImageCodec.decode(Array("GIF89a".utf8), file: "x.gif") }
    }

    @Test("train/ and test/ with 3 classes, RGB, PNG and JPEG: sorted class names, labels, exact PNG pixels")
    func threeClasses() throws {
        let dir = scratchFolder("folder")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, classes: ["eel", "cat", "dog"])
        let d = try DataSets.load(folderOptions(dir), seed: 1)
        #expect(d.train.classNames == ["cat", "dog", "eel"] && d.train.classes == 3)
        #expect(d.train.count == 12 && d.test.count == 12)
        #expect(d.train.channels == 3 && d.train.height == 12 && d.train.width == 10)
        #expect(d.train.labels == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        // the first sample is cat/img0.png: "cat" was written as class index 1
        let png = classImage(1, file: 0)
        let plane = 12 * 10
        for c in 0..<3 {
            for p in 0..<plane {
                #expect(d.train.images[c * plane + p] == Float(png.pixels[p * 3 + c]) / 255)
            }
        }
    }

    @Test("greyscale folders load with one channel; mixed grey and RGB train in RGB")
    func greyscale() throws {
        let dir = scratchFolder("grey")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, channels: 1)
        let d = try DataSets.load(folderOptions(dir), seed: 1)
        #expect(d.train.channels == 1 && d.test.channels == 1)
        // one colour image among the grey ones: every image becomes RGB, grey ones repeated
        let colour = try ImageCodec.encode(classImage(0, file: 9, channels: 3), as: .png)
        try Data(colour).write(to: URL(fileURLWithPath: dir + "/train/cat/zz.png"))
        let mixed = try DataSets.load(folderOptions(dir), seed: 1)
        #expect(mixed.train.channels == 3 && mixed.train.count == 13)
        let plane = 12 * 10
        let first = Array(mixed.train.images[0..<(3 * plane)])
        #expect(first[0..<plane] == first[plane..<(2 * plane)] && first[0..<plane] == first[(2 * plane)...])
    }

    @Test("a size mismatch names the file; --image-size resizes every image")
    func sizes() throws {
        let dir = scratchFolder("sizes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, files: 2)
        let odd = try ImageCodec.encode(classImage(0, file: 0, height: 9, width: 10), as: .png)
        try Data(odd).write(to: URL(fileURLWithPath: dir + "/train/dog/odd.png"))
        do {
            _ = try DataSets.load(folderOptions(dir), seed: 1)
            Issue.record("a 9×10 image among 12×10 ones loaded")
        } catch let e as DataError {
            #expect(e.file.hasSuffix("train/dog/odd.png") && e.problem.contains("--image-size"), "\(e)")
        }
        var o = folderOptions(dir)
        o.imageSize = ImageSize(height: 6, width: 8)
        let d = try DataSets.load(o, seed: 1)
        #expect(d.train.height == 6 && d.train.width == 8 && d.train.count == 7)
        #expect(try ImageSize(parsing: "28x32") == ImageSize(height: 28, width: 32))
        #expect(throws: ValueError.self) { try ImageSize(parsing: "28") }
    }

    @Test("bilinear resize: a constant image stays constant, a 2× downscale averages pixel pairs")
    func resize() {
        let flat = DecodedImage(height: 4, width: 4, channels: 1, pixels: [UInt8](repeating: 77, count: 16))
        #expect(ImageResize.bilinear(flat, height: 3, width: 5).pixels.allSatisfy { $0 == 77 })
        let ramp = DecodedImage(height: 1, width: 4, channels: 1, pixels: [0, 100, 200, 250])
        #expect(ImageResize.bilinear(ramp, height: 1, width: 2).pixels == [50, 225])
    }

    @Test("a truncated image is an error naming it; --skip-bad-images skips and counts it")
    func truncated() throws {
        for ext in ["png", "jpg"] {
            let dir = scratchFolder("bad")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try writeImageFolder(dir, files: 2)
            let whole = try ImageCodec.encode(classImage(2, file: 1), as: ext == "png" ? .png : .jpeg(quality: 90))
            try Data(whole.prefix(whole.count / 2)).write(to: URL(fileURLWithPath: dir + "/train/eel/bad.\(ext)"))
            do {
                _ = try DataSets.load(folderOptions(dir), seed: 1)
                Issue.record("a truncated .\(ext) loaded")
            } catch let e as DataError {
                #expect(e.file.hasSuffix("train/eel/bad.\(ext)"), "\(e)")
            }
            var o = folderOptions(dir)
            o.skipBadImages = true
            let d = try DataSets.load(o, seed: 1)
            #expect(d.train.count == 6)
            #expect(d.notes.contains { $0.contains("skipped 1 image") && $0.contains("bad.\(ext)") }, "\(d.notes)")
        }
    }

    @Test("the second load reads the cache (no decoding, same tensors); a changed file decodes again")
    func cache() throws {
        let dir = scratchFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, files: 3)
        let loader = ImageFolder(options: folderOptions(dir))
        let (first, decoded) = try loader.loadCounting(dir)
        #expect(decoded == 18)
        func caches() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".goodinit-cache-") }
        }
        #expect(try caches().count == 1)
        let (second, again) = try loader.loadCounting(dir)
        #expect(again == 0)
        #expect(second.train.images == first.train.images && second.test.images == first.test.images)
        #expect(second.train.labels == first.train.labels && second.train.classNames == first.train.classNames)
        // another image in place of one: its size or time differs, so the key does
        let other = try ImageCodec.encode(classImage(0, file: 50), as: .png)
        try Data(other + [0]).write(to: URL(fileURLWithPath: dir + "/train/cat/img0.png"))
        #expect(try loader.loadCounting(dir).decodedFiles == 18)
        #expect(try caches().count == 1) // the stale one is gone
        // a damaged cache is ignored, not trusted, and written anew
        let path = dir + "/" + (try caches()[0])
        var bytes = try #require(FileManager.default.contents(atPath: path).map([UInt8].init))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try loader.loadCounting(dir).decodedFiles == 18)
        #expect(try loader.loadCounting(dir).decodedFiles == 0)
    }

    @Test("one folder of classes: a fixed per-class test share, the same every load")
    func flatFolder() throws {
        let dir = scratchFolder("flat")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, splits: [""], files: 10)
        var o = folderOptions(dir)
        o.testFraction = 0.3
        let a = try DataSets.load(o, seed: 1), b = try DataSets.load(o, seed: 2)
        #expect(a.test.count == 9 && a.train.count == 21)
        #expect(a.test.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2])
        #expect(a.test.images == b.test.images)
        #expect(throws: DataError.self) {
            try FileManager.default.createDirectory(atPath: dir + "/train", withIntermediateDirectories: true)
            _ = try DataSets.load(o, seed: 1)
        }
    }
}

// MARK: - NumPy

@Suite("NumPy files") struct NumPyTests {
    @Test("npz uint8 N×H×W and N×H×W×3, float32 N×C×H×W; the layout hint overrides the guess")
    func layouts() throws {
        let dir = scratchFolder("npz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let y = npy("<i8", [4], int64Bytes([0, 1, 2, 1])), yt = npy("<i4", [2], [1, 0, 0, 0, 2, 0, 0, 0])
        // uint8 N×H×W: 4 images of 2×3
        let x8 = npy("|u1", [4, 2, 3], (0..<24).map { UInt8($0 * 10) })
        let xt8 = npy("|u1", [2, 2, 3], [UInt8](repeating: 255, count: 12))
        try writeNPZ(dir + "/a.npz", ["x_train": x8, "y_train": y, "x_test": xt8, "y_test": yt])
        let a = try DataSets.load(DataOptions(source: .npz(dir + "/a.npz")), seed: 1)
        #expect(a.train.channels == 1 && a.train.height == 2 && a.train.width == 3 && a.train.classes == 3)
        #expect(a.train.images[7] == Float(70) * (1.0 / 255) && a.test.images.allSatisfy { $0 == 1 })
        #expect(a.train.labels == [0, 1, 2, 1] && a.test.labels == [1, 2])
        // uint8 NHWC, 3 channels: pixel (0,0) of image 0 is (0, 1, 2)
        let nhwc = npy("|u1", [4, 2, 2, 3], (0..<48).map { UInt8($0) })
        try writeNPZ(dir + "/b.npz", ["x_train": nhwc, "y_train": y, "x_test": npy("|u1", [2, 2, 2, 3], [UInt8](
            repeating: 0, count: 24)), "y_test": yt])
        let b = try DataSets.load(DataOptions(source: .npz(dir + "/b.npz")), seed: 1)
        #expect(b.train.channels == 3 && b.train.height == 2 && b.train.width == 2)
        #expect([b.train.images[0], b.train.images[4], b.train.images[8]] == [0, 1, 2].map { Float($0) * (1.0 / 255) })
        // float32 NCHW taken as it is
        let values = (0..<(4 * 3 * 4 * 5)).map { Float($0) / 7 }
        let nchw = npy("<f4", [4, 3, 4, 5], floatBytes(values))
        try writeNPZ(dir + "/c.npz", ["x_train": nchw, "y_train": y,
                                      "x_test": npy("<f4", [2, 3, 4, 5], floatBytes(.init(repeating: 0.5, count: 120))),
                                      "y_test": yt])
        let c = try DataSets.load(DataOptions(source: .npz(dir + "/c.npz")), seed: 1)
        #expect(c.train.channels == 3 && c.train.height == 4 && c.train.width == 5 && c.train.images == values)
        // the same bytes read as NHWC: 4 × 3×4 images of 5 channels is refused (5 is no channel count)
        var o = DataOptions(source: .npz(dir + "/c.npz"))
        o.layoutHint = .nhwc
        #expect(throws: DataError.self) { try DataSets.load(o, seed: 1) }
        // npy:DIR reads the four files
        for (name, bytes) in ["x_train": x8, "y_train": y, "x_test": xt8, "y_test": yt] {
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name + ".npy"))
        }
        let n = try DataSets.load(DataOptions(source: .npy(dir)), seed: 1)
        #expect(n.train.images == a.train.images && n.test.labels == a.test.labels)
    }

    @Test("every bad header or member is a DataError naming the file and the member", arguments: [
        ("magic", [UInt8](repeating: 0, count: 80), "bad magic"),
        ("version", Array(npy("|u1", [1, 2, 2], [1, 2, 3, 4]).enumerated().map { $0 == 6 ? 9 : $1 }), "version"),
        ("header length", Array(npy("|u1", [1, 2, 2], [1, 2, 3, 4]).enumerated().map { $0 == 9 ? 0x7f : $1 }),
         "header length"),
        ("fortran", npy("|u1", [1, 2, 2], [1, 2, 3, 4], fortran: true), "fortran_order"),
        ("byte count", npy("|u1", [1, 2, 2], [1, 2, 3]), "needs 4 bytes"),
        ("big-endian", npy(">f4", [1, 1, 1], [0, 0, 0, 0]), "element type"),
        ("shape", npy("|u1", [2], [1, 2]), "N×H×W"),
    ])
    func badHeaders(_ what: String, _ xTrain: [UInt8], _ says: String) throws {
        let dir = scratchFolder("npzbad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.npz"
        try writeNPZ(file, ["x_train": xTrain, "y_train": npy("|u1", [1], [0]),
                            "x_test": npy("|u1", [1, 2, 2], [1, 2, 3, 4]), "y_test": npy("|u1", [1], [0])])
        do {
            _ = try DataSets.load(DataOptions(source: .npz(file)), seed: 1)
            Issue.record("\(what): loaded")
        } catch let e as DataError {
            #expect(e.file == file && e.problem.contains("x_train") && e.problem.contains(says), "\(what): \(e)")
        }
    }

    @Test("not a zip, a missing member and float labels are errors naming the file")
    func badFiles() throws {
        let dir = scratchFolder("npzbad2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let junk = dir + "/junk.npz"
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: junk))
        #expect { try DataSets.load(DataOptions(source: .npz(junk)), seed: 1) } throws: {
            ($0 as? DataError)?.file == junk
        }
        let missing = dir + "/missing.npz"
        try writeNPZ(missing, ["x_train": npy("|u1", [1, 2, 2], [1, 2, 3, 4])])
        #expect { try DataSets.load(DataOptions(source: .npz(missing)), seed: 1) } throws: {
            ($0 as? DataError).map { $0.file == missing && $0.problem.contains("y_train.npy") } ?? false
        }
        let floats = dir + "/floats.npz"
        let x = npy("|u1", [1, 2, 2], [1, 2, 3, 4])
        try writeNPZ(floats, ["x_train": x, "y_train": npy("<f4", [1], floatBytes([0])), "x_test": x,
                              "y_test": npy("|u1", [1], [0])])
        #expect { try DataSets.load(DataOptions(source: .npz(floats)), seed: 1) } throws: {
            ($0 as? DataError).map { $0.file == floats && $0.problem.contains("y_train") } ?? false
        }
    }
}

// MARK: - Settings, class counts, the validation split

@Suite("Own data in settings and training") struct OwnDataTrainingTests {
    @Test("data sources read and write as --data's text; old names still decode")
    func sources() throws {
        for text in ["fashion-mnist", "mnist", "cifar10", "cifar100", "synthetic", "folder:/d/x", "npz:a.npz",
                     "npy:/n"] {
            let s = try #require(DataSource(rawValue: text))
            #expect(s.rawValue == text)
            let json = try JSONEncoder().encode(s)
            #expect(String(decoding: json, as: UTF8.self) == "\"\(text.replacingOccurrences(of: "/", with: "\\/"))\"")
            #expect(try JSONDecoder().decode(DataSource.self, from: json) == s)
        }
        #expect(DataSource(rawValue: "folder:") == nil && DataSource(rawValue: "imagenet") == nil)
        #expect(DataSource.npz("rel/a.npz").absolute == .npz(FileManager.default.currentDirectoryPath + "/rel/a.npz"))
        var o = DataOptions()
        o.valFraction = 0.1; o.earlyStop = 2; o.imageSize = ImageSize(height: 8, width: 8); o.source = .folder("/f")
        var t = TrainSettings(); t.data = o
        let back = try TrainSettings.decodeOverDefaults(Data(t.storedJSON().utf8))
        #expect(back.data == o)
        o.valFraction = 0
        #expect(throws: SettingError.self) { try o.validate() }
    }

    func setup(_ dir: String, model: ModelSource, val: Double = 0, seed: UInt64 = 1,
               compute: ComputeOptions = ComputeOptions(workers: 1, threads: 1)) throws -> TrainingSetup {
        var o = folderOptions(dir)
        o.valFraction = val
        return try TrainingSetup(model: model, data: o, seed: seed, compute: compute)
    }

    @Test("presets take the data's class count; a model file must match it")
    func classCount() throws {
        let dir = scratchFolder("classes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, files: 2)
        #expect(try setup(dir, model: .preset(.cnnSmall)).net.classes == 3)
        #expect(try setup(dir, model: .preset(.plain22Thin)).net.classes == 3)
        let yaml = dir + "/four.yaml"
        try "name: four\ninput: [3, 12, 10]\nlayers:\n  - flatten\n  - linear: {out: 4}\n"
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(throws: DataError.self) { try setup(dir, model: .file(yaml)) }
        try "name: three\ninput: [3, 12, 10]\nlayers:\n  - flatten\n  - linear: {out: 3}\n"
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(try setup(dir, model: .file(yaml)).net.classes == 3)
    }

    @Test("the validation split: the seed alone fixes it (any W and T), another seed moves it")
    func validationSplit() throws {
        let dir = scratchFolder("val")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeImageFolder(dir, files: 8)
        let model = ModelSource.preset(.mlpXavier)
        let a = try setup(dir, model: model, val: 0.25)
        let b = try setup(dir, model: model, val: 0.25, compute: ComputeOptions(workers: 2, threads: 2))
        let c = try setup(dir, model: model, val: 0.25, seed: 9)
        let va = try #require(a.data.validation), vb = try #require(b.data.validation)
        #expect(va.count == 6 && a.data.train.count == 18 && a.data.test.count == 24)
        #expect(va.images == vb.images)
        #expect(va.labels == vb.labels)
        #expect(a.data.train.images == b.data.train.images)
        #expect(c.data.validation?.images != va.images)
        #expect(try setup(dir, model: model).data.validation == nil)
    }

    func run(_ dir: String, out: String, epochs: Int, earlyStop: Int?,
             lr: Double) throws -> (TrainSummary, [EpochRecord]) {
        var c = TrainSettings()
        c.model = .preset(.mlpXavier)
        c.data = folderOptions(dir); c.data.valFraction = 0.25; c.data.earlyStop = earlyStop
        c.loop.batchSize = 6; c.loop.chunk = 6; c.loop.epochs = epochs; c.optimizer.lr = lr
        c.compute = ComputeOptions(workers: 1, threads: 1); c.out = out
        c.initialization = InitOptions(.heNormal(fanOut: false))
        let t = try TrainingLoop(c)
        t.log = { _ in }
        t.writesTensorBoard = false
        let s = try t.run()
        let records = try MetricsFile.read(out + "/metrics.jsonl")
        return (s, records.compactMap { if case .epoch(let e) = $0 { return e } else { return nil } })
    }

    @Test("with --val-fraction: epochs score validation, the test set once; best.safetensors; --early-stop")
    func bestAndEarlyStop() throws {
        let dir = scratchFolder("early"), out = scratchFolder("early-out")
        defer { for p in [dir, out] { try? FileManager.default.removeItem(atPath: p) } }
        try writeImageFolder(dir, files: 8)
        // a rate too small to move any prediction: no epoch after the first is better
        let (s, epochs) = try run(dir, out: out, epochs: 6, earlyStop: 2, lr: 1e-12)
        #expect(epochs.count == 3, "\(epochs.map(\.valAccuracy))")
        #expect(epochs.allSatisfy { $0.valAccuracy != nil && $0.valLoss != nil && $0.testAccuracy == nil })
        #expect(s.testAccuracy != nil)
        #expect(FileManager.default.fileExists(atPath: out + "/best.safetensors"))
        let best = try CheckpointMetadata.read(out + "/best.safetensors")
        #expect(best.position.epoch == 1)
        // without --early-stop every epoch runs
        let out2 = scratchFolder("early-out2")
        defer { try? FileManager.default.removeItem(atPath: out2) }
        #expect(try run(dir, out: out2, epochs: 4, earlyStop: nil, lr: 1e-12).1.count == 4)
    }
}

// MARK: - The executable

@Suite("The goodinit executable: your own data",
       .enabled(if: GoodInitBinary.found, "goodinit not built: run swift build"))
struct OwnDataExecutableTests {
    @Test("goodinit train --data folder:DIR (PNG and JPEG, 3 classes, RGB) trains and exits 0")
    func trainsOnAFolder() throws {
        let dir = scratchFolder("exe-folder"), out = scratchFolder("exe-out") + "/run"
        defer { for p in [dir, out] { try? FileManager.default.removeItem(atPath: p) } }
        try writeImageFolder(dir, files: 6)
        let (status, stdout, stderr) = try GoodInitBinary.capture([
            "train", "--data", "folder:" + dir, "--model", "cnn-small", "--epochs", "2", "--batch-size", "6",
            "--chunk", "6", "--val-fraction", "0.2", "--image-size", "16x16", "--out", out, "--threads", "1"])
        #expect(status == 0, "\(stderr)")
        #expect(stdout.contains("val loss") && stdout.contains("test (scored once"), "\(stdout)")
        #expect(FileManager.default.fileExists(atPath: out + "/best.safetensors"))
        let meta = try CheckpointMetadata.read(out + "/checkpoint.safetensors")
        #expect(meta.config.data.source == .folder(dir))
        #expect(meta.config.data.imageSize == ImageSize(height: 16, width: 16))
        // a bad --data is one line naming the flag
        let bad = try GoodInitBinary.run(["train", "--data", "folder:" + dir + "/nothing", "--out", out + "2"])
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }
}
