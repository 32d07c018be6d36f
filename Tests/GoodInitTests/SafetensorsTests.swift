import Foundation
import GoodInit
import Testing

private let sample = [
    NamedArray(name: "conv1.weight", shape: [2, 1, 3, 3], values: (0..<18).map { Float($0) * 0.5 - 3 }),
    NamedArray(name: "scale", shape: [], values: [3.25]),
    NamedArray(name: "fc.bias", shape: [3, 4], values: (0..<12).map { Float($0) / 7 }),
]
private let sampleMetadata = ["step": "10", "init": "he \"quoted\"\n", "ünï": "ç"]

/// A safetensors file from a hand-written header (padded as the writer pads) and raw data bytes.
private func rawFile(header: String, data: [UInt8]) -> [UInt8] {
    var json = Array(header.utf8)
    json += repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
    return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + data
}

/// A broken file for `malformed`, shown in test output by its name only.
struct MalformedSafetensors: Sendable, CustomTestStringConvertible {
    let name: String, bytes: [UInt8], word: String
    init(_ name: String, _ bytes: [UInt8], _ word: String) { (self.name, self.bytes, self.word) = (name, bytes, word) }
    var testDescription: String { name }
}

private let zeros8 = [UInt8](repeating: 0, count: 8)

/// Each malformed file, and a word its error must contain.
private let malformedCases = [
    MalformedSafetensors("short", [1, 0, 0], "short"),
    MalformedSafetensors("hugeheader", [0xff, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d], "larger"),
    MalformedSafetensors("notjson", rawFile(header: #"{"a": [1,"#, data: []), "JSON"),
    MalformedSafetensors("array", rawFile(header: "[1, 2]", data: []), "object"),
    MalformedSafetensors("f16", rawFile(header: #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#,
                                        data: [0, 0, 0, 0]), "only F32"),
    MalformedSafetensors("shape", rawFile(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                                          data: zeros8), "shape"),
    MalformedSafetensors("range", rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
                                          data: zeros8), "out of range"),
    MalformedSafetensors("overlap", rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                                                + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                            data: zeros8), "overlap"),
    MalformedSafetensors("trailing", rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                                             data: zeros8), "trailing"),
    MalformedSafetensors("metadata", rawFile(header: #"{"__metadata__":{"a":1}}"#, data: []), "metadata"),
]

@Suite struct SafetensorsTests {
    @Test func roundTripAndLayout() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let path = scratch.path("model.safetensors")
        try Safetensors.write(sample, metadata: sampleMetadata, to: path)
        let back = try Safetensors.read(path)
        #expect(back.tensors == sample)   // array order is data order
        #expect(back.metadata == sampleMetadata)

        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        #expect(n % 8 == 0)
        #expect(bytes.count == 8 + n + 4 * (18 + 1 + 12))
        #expect(bytes[8] == UInt8(ascii: "{"))

        // Equal inputs give identical bytes.
        let again = scratch.path("again.safetensors")
        try Safetensors.write(sample, metadata: sampleMetadata, to: again)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: again))) == bytes)
    }

    @Test func overwritesAtomicallyWithoutLeftovers() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let path = scratch.path("ckpt.safetensors")
        try Safetensors.write(sample, metadata: [:], to: path)
        try Safetensors.write(Array(sample.prefix(1)), metadata: [:], to: path)
        #expect(try Safetensors.read(path).tensors == Array(sample.prefix(1)))
        #expect(try Safetensors.read(path).metadata.isEmpty)
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.folder)
        #expect(names == ["ckpt.safetensors"])
        #expect(!names.contains { $0.contains(".tmp-") })
    }

    @Test func writeRefusesInconsistentTensors() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let path = scratch.path("bad.safetensors")
        #expect(throws: DataError.self) {
            try Safetensors.write([NamedArray(name: "w", shape: [2, 2], values: [1, 2, 3])], metadata: [:], to: path)
        }
        #expect(throws: DataError.self) {
            try Safetensors.write([sample[1], sample[1]], metadata: [:], to: path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.folder).isEmpty)
    }

    @Test func truncatedData() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let good = scratch.path("good.safetensors")
        try Safetensors.write(sample, metadata: [:], to: good)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        let cut = try scratch.write("cut.safetensors", Array(bytes.dropLast(4)))
        let e = try #require(throws: DataError.self) { try Safetensors.read(cut) }
        #expect(e.description.contains("cut.safetensors") && e.problem.contains("truncated"))
    }

    @Test(arguments: malformedCases)
    func malformed(_ c: MalformedSafetensors) throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let file = try scratch.write("\(c.name).safetensors", c.bytes)
        let e = try #require(throws: DataError.self) { try Safetensors.read(file) }
        #expect(e.description.contains("\(c.name).safetensors"))
        #expect(e.problem.contains(c.word), "\(e)")
    }

    @Test func integersWrittenAsFloatsAndUnknownKeys() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8e0],"extra":1},"__metadata__":{"k":"v"}}"#
        let (tensors, metadata) = try Safetensors.decode(rawFile(header: header, data: zeros8), file: "f")
        #expect(tensors == [NamedArray(name: "a", shape: [2], values: [0, 0])] && metadata == ["k": "v"])
        for bad in ["[2.5]", "[\"2\"]", "[true]", "2"] {
            let text = #"{"a":{"dtype":"F32","shape":"# + bad + #","data_offsets":[0,8]}}"#
            let e = try #require(throws: DataError.self) {
                try Safetensors.decode(rawFile(header: text, data: zeros8), file: "f")
            }
            #expect(e.problem.contains("entry needs dtype, shape and two data_offsets"), "\(bad): \(e)")
        }
    }

    @Test func missingFile() throws {
        let e = try #require(throws: DataError.self) { try Safetensors.read("/nonexistent/x.safetensors") }
        #expect(e.description.contains("x.safetensors") && e.problem.contains("missing"))
    }
}
