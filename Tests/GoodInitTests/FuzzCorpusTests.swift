import Foundation
import GoodInit
import Testing

/// The fuzz seeds in Fuzz/corpus must stay valid inputs: a seed the parser rejects starts the
/// fuzzer in front of the header checks instead of past them.
@Suite("Fuzz seed corpus") struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    func seeds(_ target: String) throws -> [(String, [UInt8])] {
        let folder = Self.corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        return try names.map { ($0, [UInt8](try Data(contentsOf: folder.appendingPathComponent($0)))) }
    }

    @Test func idx() throws {
        for (name, bytes) in try seeds("idx") {
            // The target's layout: u16 little-endian length of the labels file, labels, images.
            let split = 2 + (Int(bytes[0]) | Int(bytes[1]) << 8)
            let d = try IDX.decode(images: Array(bytes[split...]), labels: Array(bytes[2..<split]),
                                   imagesFile: name, labelsFile: name, name: name)
            #expect(d.count > 0, "\(name)")
        }
    }

    @Test func gzip() throws {
        for (name, bytes) in try seeds("gzip") { #expect(throws: Never.self, "\(name)") { try Gzip.decompress(bytes) } }
    }

    @Test func cifar() throws {
        for (name, bytes) in try seeds("cifar") {
            let layout = name.hasPrefix("cifar100") ? (2, 1, 100) : (1, 0, 10)
            let d = try CIFAR.decodeRecords(bytes, file: name, labelBytes: layout.0, labelIndex: layout.1,
                                            classes: layout.2)
            #expect(d.count == bytes.count / (layout.0 + 3072), "\(name)")
        }
    }

    @Test func safetensors() throws {
        for (name, bytes) in try seeds("safetensors") {
            #expect(throws: Never.self, "\(name)") { try Safetensors.decode(bytes, file: name) }
        }
    }

    @Test func modelFiles() throws {
        for (name, bytes) in try seeds("modelfile") {
            let (_, _, layers) = try ModelFile.parse(String(decoding: bytes, as: UTF8.self), file: name)
            #expect(!layers.isEmpty, "\(name)")
        }
    }
}
