// Image folders as data sets: DIR/train/<class>/* and DIR/test/<class>/*, or DIR/<class>/* split
// in two. Files decode in parallel and once: the uint8 tensor is cached next to the data, keyed
// by the files' relative names, sizes and modification times and the settings that shape it.
import Foundation

struct ImageFolder {
    /// The file names read as images (any letter case).
    static let extensions: Set<String> = ["png", "jpg", "jpeg"]
    /// The flat layout's test split is drawn with this seed, not --seed: every run of a folder tests
    /// on the same images.
    static let testSplitSeed: UInt64 = 0x5EED_F01D

    let options: DataOptions

    /// One image to read: its path relative to the data folder, its label and split.
    struct Item: Sendable {
        var relative: String
        var label: Int
        var isTest: Bool
    }

    /// Every sample decoded, in listing order (train, then test; classes in order; files by name).
    struct Decoded {
        var channels: Int, height: Int, width: Int
        var classNames: [String]
        var labels: [Int32]
        var isTest: [Bool]
        var pixels: [UInt8]      // count × C×H×W
        var skipped: Int
        var firstSkipped: String
    }

    func load(_ dir: String) throws -> DataSplits { try loadCounting(dir).splits }

    /// The splits and how many files were decoded (0 when the cache answered).
    func loadCounting(_ dir: String) throws -> (splits: DataSplits, decodedFiles: Int) {
        let (classes, items, twoSplits) = try Self.list(dir)
        var notes: [String] = []
        let key = try cacheKey(dir, items: items)
        let cache = joinPath(dir, String(format: ".goodinit-cache-%016llx.bin", key))
        var decodedFiles = 0
        var decoded: Decoded
        if let hit = ImageCache.read(cache, key: key) {
            decoded = hit
        } else {
            decoded = try decode(dir, items: items, classNames: classes)
            decodedFiles = items.count
            do {
                try ImageCache.write(decoded, key: key, to: cache)
                Self.removeStaleCaches(dir, keeping: cache)
            } catch {
                notes.append("note: could not write the decode cache \(cache) (\(error.localizedDescription)); "
                             + "the next run decodes again")
            }
        }
        if decoded.skipped > 0 {
            notes.append("skipped \(decoded.skipped) image\(decoded.skipped == 1 ? "" : "s") that do not decode "
                         + "(--skip-bad-images), the first: \(decoded.firstSkipped)")
        }
        if !twoSplits { decoded.isTest = Self.flatTestSplit(decoded.labels, classes: classes.count,
                                                             fraction: options.testFraction) }
        var splits = try dataSplits(decoded, name: DataSource.folder(dir).rawValue, dir: dir)
        splits.notes = notes
        return (splits, decodedFiles)
    }

    /// Caches of earlier contents of the folder: each is as large as the data, and none will match again.
    static func removeStaleCaches(_ dir: String, keeping current: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for n in names where n.hasPrefix(".goodinit-cache-") && n.hasSuffix(".bin") && joinPath(dir, n) != current {
            try? FileManager.default.removeItem(atPath: joinPath(dir, n))
        }
    }

    // MARK: - Listing

    /// The class names (sorted folder names) and the images; twoSplits: DIR/train and DIR/test.
    static func list(_ dir: String) throws -> ([String], [Item], twoSplits: Bool) {
        guard isFolder(dir) else { throw DataError(file: dir, problem: "not a folder of images") }
        let (train, test) = (joinPath(dir, "train"), joinPath(dir, "test"))
        switch (isFolder(train), isFolder(test)) {
        case (true, true):
            let classes = try subfolders(train)
            guard !classes.isEmpty else { throw DataError(file: train, problem: "holds no class folders") }
            for c in try subfolders(test) where !classes.contains(c) {
                throw DataError(file: joinPath(test, c), problem: "class '\(c)' has no folder in \(train)")
            }
            var items = try images("train", classes: classes, in: dir, isTest: false, requireEach: true)
            items += try images("test", classes: classes, in: dir, isTest: true, requireEach: false)
            guard items.contains(where: \.isTest) else { throw DataError(file: test, problem: "holds no images") }
            return (classes, items, true)
        case (false, false):
            let classes = try subfolders(dir)
            guard !classes.isEmpty else {
                throw DataError(file: dir, problem: "holds no class folders (expected train/ and test/, or one "
                                + "folder per class)")
            }
            return (classes, try images("", classes: classes, in: dir, isTest: false, requireEach: true), false)
        default:
            throw DataError(file: dir, problem: "has only one of train/ and test/ (give both, or neither)")
        }
    }

    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }

    static func subfolders(_ path: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw DataError(file: path, problem: "cannot list (\(error.localizedDescription))")
        }
        return names.filter { !$0.hasPrefix(".") && isFolder(joinPath(path, $0)) }.sorted()
    }

    static func images(_ split: String, classes: [String], in dir: String, isTest: Bool,
                       requireEach: Bool) throws -> [Item] {
        var items: [Item] = []
        for (label, c) in classes.enumerated() {
            let rel = split.isEmpty ? c : split + "/" + c
            let folder = joinPath(dir, rel)
            guard isFolder(folder) else { continue }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            let files = names.filter { n in
                !n.hasPrefix(".") && extensions.contains((n as NSString).pathExtension.lowercased())
            }.sorted()
            if files.isEmpty && requireEach { throw DataError(file: folder, problem: "holds no .png or .jpg images") }
            items += files.map { Item(relative: rel + "/" + $0, label: label, isTest: isTest) }
        }
        return items
    }

    // MARK: - The cache key

    /// FNV-1a (64 bits) of every file's relative name, size and modification time and of the
    /// settings that change the decoded tensor.
    func cacheKey(_ dir: String, items: [Item]) throws -> UInt64 {
        var text = "goodinit-image-cache \(ImageCache.version) size=\(options.imageSize?.description ?? "native") "
            + "skip=\(options.skipBadImages)\n"
        for item in items {
            let path = joinPath(dir, item.relative)
            let a: [FileAttributeKey: Any]
            do { a = try FileManager.default.attributesOfItem(atPath: path) } catch {
                throw DataError(file: path, problem: "unreadable (\(error.localizedDescription))")
            }
            let size = (a[.size] as? NSNumber)?.int64Value ?? -1
            let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            text += "\(item.relative)\t\(item.label)\t\(item.isTest)\t\(size)\t\(Int64(mtime * 1e9))\n"
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    // MARK: - Decoding

    /// Decodes every file on all cores, resizes if asked, and agrees on one shape and channel count.
    func decode(_ dir: String, items: [Item], classNames: [String]) throws -> Decoded {
        let size = options.imageSize
        let results: [Result<DecodedImage, DataError>] = parallelMap(items.count) { i in
            let path = joinPath(dir, items[i].relative)
            do {
                let image = try ImageCodec.decode(readFileBytes(path), file: path)
                return .success(size.map { ImageResize.bilinear(image, height: $0.height, width: $0.width) } ?? image)
            } catch let e as DataError {
                return .failure(e)
            } catch {
                return .failure(DataError(file: path, problem: "\(error)"))
            }
        }
        var kept: [(Item, DecodedImage)] = []
        var skipped = 0, firstSkipped = ""
        for (item, r) in zip(items, results) {
            switch r {
            case .success(let image): kept.append((item, image))
            case .failure(let e):
                guard options.skipBadImages else { throw e }
                if skipped == 0 { firstSkipped = e.description }
                skipped += 1
            }
        }
        guard let (firstItem, first) = kept.first else {
            throw DataError(file: dir, problem: "no image decodes (\(skipped) skipped)")
        }
        for (item, image) in kept where image.height != first.height || image.width != first.width {
            throw DataError(file: joinPath(dir, item.relative), problem: "is \(image.height)×\(image.width), but "
                            + "\(firstItem.relative) is \(first.height)×\(first.width) (all images must share one "
                            + "size, or give --image-size HxW)")
        }
        // a folder mixing grey and colour images trains in colour: grey ones repeat their one channel
        let channels = kept.contains { $0.1.channels == 3 } ? 3 : 1
        let (h, w) = (first.height, first.width), plane = h * w
        var pixels = [UInt8](repeating: 0, count: kept.count * channels * plane)
        for (n, (_, image)) in kept.enumerated() {
            let base = n * channels * plane
            for c in 0..<channels {
                let from = image.channels == 1 ? 0 : c
                for p in 0..<plane { pixels[base + c * plane + p] = image.pixels[p * image.channels + from] }
            }
        }
        return Decoded(channels: channels, height: h, width: w, classNames: classNames,
                       labels: kept.map { Int32($0.0.label) }, isTest: kept.map { $0.0.isTest }, pixels: pixels,
                       skipped: skipped, firstSkipped: firstSkipped)
    }

    // MARK: - Splits

    /// The flat layout's test set: `fraction` of each class (rounded, at least one where a class has
    /// two or more images), drawn with a fixed seed; the rest trains.
    static func flatTestSplit(_ labels: [Int32], classes: Int, fraction: Double) -> [Bool] {
        var isTest = [Bool](repeating: false, count: labels.count)
        for c in 0..<classes {
            let members = labels.indices.filter { labels[$0] == Int32(c) }
            var g = SplitMix64(seed: deriveSeed(testSplitSeed, UInt64(c)))
            let order = g.permutation(members.count)
            var held = Int((Double(members.count) * fraction).rounded())
            if members.count >= 2 { held = min(max(held, 1), members.count - 1) } else { held = 0 }
            for k in order.prefix(held) { isTest[members[k]] = true }
        }
        return isTest
    }

    func dataSplits(_ d: Decoded, name: String, dir: String) throws -> DataSplits {
        let size = d.channels * d.height * d.width
        func part(_ test: Bool) -> Dataset {
            var images = [Float](), labels = [Int32]()
            let idx = d.isTest.indices.filter { d.isTest[$0] == test }
            images.reserveCapacity(idx.count * size)
            for i in idx {
                labels.append(d.labels[i])
                for p in (i * size)..<((i + 1) * size) { images.append(Float(d.pixels[p]) / 255) }
            }
            var set = Dataset(name: name, channels: d.channels, height: d.height, width: d.width,
                              classes: d.classNames.count, images: images, labels: labels)
            set.classNames = d.classNames
            return set
        }
        let (train, test) = (part(false), part(true))
        guard train.count > 0 else { throw DataError(file: dir, problem: "no training image decodes") }
        guard test.count > 0 else { throw DataError(file: dir, problem: "no test image (the test split is empty)") }
        return DataSplits(train: train, test: test)
    }
}

/// Resizing decoded images.
public enum ImageResize {
    /// Bilinear interpolation of the whole image to exactly height × width, sampling at pixel
    /// centres (no crop, no antialiasing: the aspect ratio follows the new size).
    public static func bilinear(_ img: DecodedImage, height: Int, width: Int) -> DecodedImage {
        if img.height == height && img.width == width { return img }
        let c = img.channels
        func taps(_ out: Int, _ inSize: Int) -> [(Int, Int, Float)] {
            (0..<out).map { o in
                let s = min(max((Float(o) + 0.5) * Float(inSize) / Float(out) - 0.5, 0), Float(inSize - 1))
                let lo = Int(s)
                return (lo, min(lo + 1, inSize - 1), s - Float(lo))
            }
        }
        let ys = taps(height, img.height), xs = taps(width, img.width)
        var out = [UInt8](repeating: 0, count: height * width * c)
        for (y, (y0, y1, fy)) in ys.enumerated() {
            for (x, (x0, x1, fx)) in xs.enumerated() {
                for k in 0..<c {
                    func at(_ yy: Int, _ xx: Int) -> Float { Float(img.pixels[(yy * img.width + xx) * c + k]) }
                    let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx
                    let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx
                    out[(y * width + x) * c + k] = UInt8(min(max((top + (bottom - top) * fy).rounded(), 0), 255))
                }
            }
        }
        return DecodedImage(height: height, width: width, channels: c, pixels: out)
    }
}
