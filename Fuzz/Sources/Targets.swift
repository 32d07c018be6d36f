// The parsers under fuzz, one entry per target; scripts/fuzz.sh names them on its command line.
import Foundation
import GoodInit

enum FuzzTarget: String, CaseIterable {
    case idx, gzip, cifar, safetensors, modelfile, npz, image

    /// Feeds one input to the parser. Errors are the expected outcome for junk; only a trap,
    /// a sanitizer report or a broken round trip (`fatalError`) is a finding.
    func run(_ input: [UInt8]) {
        switch self {
        case .idx: idx(input)
        case .gzip: gzip(input)
        case .cifar: cifar(input)
        case .safetensors: safetensors(input)
        case .modelfile: _ = try? ModelFile.parse(String(decoding: input, as: UTF8.self), file: "fuzz.yaml")
        case .npz: npz(input)
        case .image: image(input)
        }
    }

    /// Input: u16 little-endian length L, L bytes of a labels file, then an images file, so one
    /// input drives both headers and the count and label checks between them.
    private func idx(_ input: [UInt8]) {
        guard input.count >= 2 else { return }
        let split = min(2 + (Int(input[0]) | Int(input[1]) << 8), input.count)
        _ = try? IDX.decode(images: Array(input[split...]), labels: Array(input[2..<split]),
                            imagesFile: "images", labelsFile: "labels", name: "fuzz")
    }

    /// Inflate with a small cap (so the fuzzer can reach it), then an oracle: any bytes must
    /// survive compress → decompress unchanged.
    private func gzip(_ input: [UInt8]) {
        _ = try? Gzip.decompress(input, cap: 1 << 20)
        do {
            let back = try Gzip.decompress(Gzip.compress(input, level: 1))
            if back != input { fatalError("gzip round trip changed \(input.count) bytes") }
        } catch {
            fatalError("gzip round trip failed: \(error)")
        }
    }

    /// Both record layouts: CIFAR-10 (1 label byte) and CIFAR-100 (coarse, fine).
    private func cifar(_ input: [UInt8]) {
        _ = try? CIFAR.decodeRecords(input, file: "fuzz.bin", labelBytes: 1, labelIndex: 0, classes: 10)
        _ = try? CIFAR.decodeRecords(input, file: "fuzz.bin", labelBytes: 2, labelIndex: 1, classes: 100)
    }

    /// Decode; what decodes must encode and decode again to the same tensors, bit for bit.
    private func safetensors(_ input: [UInt8]) {
        guard let (tensors, metadata) = try? Safetensors.decode(input, file: "fuzz.safetensors") else { return }
        do {
            let again = try Safetensors.decode(Safetensors.encode(tensors, metadata: metadata), file: "again")
            let same = again.metadata == metadata && again.tensors.count == tensors.count
                && zip(again.tensors, tensors).allSatisfy { a, b in
                    a.name == b.name && a.shape == b.shape && a.values.map(\.bitPattern) == b.values.map(\.bitPattern)
                }
            if !same { fatalError("safetensors round trip changed the tensors or metadata") }
        } catch {
            fatalError("safetensors round trip failed: \(error)")
        }
    }

    /// The bytes as an .npz data set (a small inflate cap, so the fuzzer can reach it) and as one .npy.
    /// The .npz is read from a file, as the loader reads it (in shared memory where there is some).
    private func npz(_ input: [UInt8]) {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(folder)/goodinit-fuzz-\(getpid()).npz"
        guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { return }
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try? NumPyData.loadNPZ(path, layout: nil, cap: 1 << 20)
        _ = try? NumPy.decode(input, file: "fuzz.npy")
    }

    /// Decode (PNG or JPEG); what decodes must resize, and survive a PNG round trip bit for bit.
    private func image(_ input: [UInt8]) {
        guard let img = try? ImageCodec.decode(input, file: "fuzz.img") else { return }
        _ = ImageResize.bilinear(img, height: 5, width: 7)
        do {
            let back = try ImageCodec.decode(ImageCodec.encode(img, as: .png), file: "again.png")
            if back != img { fatalError("PNG round trip changed a \(img.height)×\(img.width) image") }
        } catch {
            fatalError("PNG round trip failed: \(error)")
        }
    }
}
