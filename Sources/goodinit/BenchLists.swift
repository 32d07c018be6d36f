// The benchmarks' comma-separated options as typed values, parsed and range-checked while the
// arguments are parsed (as Arguments.swift does for `train`): a bad list is refused with the
// flag, the value and the rule in one line (exit code 64).
import ArgumentParser
import Foundation
import GoodInit

/// The items of a comma-separated list; an empty list or item ("", ",,,", "a,,b") is refused: it
/// would measure nothing, or less than asked.
func listItems(_ text: String) throws -> [Substring] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false)
    guard !items.contains(where: { $0.allSatisfy(\.isWhitespace) }) else {
        throw ValueError(text.allSatisfy { $0 == "," || $0.isWhitespace } ? "an empty list: name at least one item"
                                                                            : "'\(text)' has an empty item")
    }
    return items
}

/// "1,2,4" → [1, 2, 4]: every item an integer in 1...max, no empty items.
struct CountList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let values: [Int]
    let description: String

    /// Largest size a list of sizes takes (batch sizes, GEMM dimensions).
    static let maxSize = 65536
    /// Threads and workers: at most 4 × the cores (and 1024), as `train` allows.
    static var maxThreads: Int { ComputeOptions.threadLimit }

    init(_ values: [Int]) {
        self.values = values
        description = values.map(String.init).joined(separator: ",")
    }

    init(parsing text: String, max: Int) throws {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        let v = items.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.count == items.count, v.allSatisfy({ $0 > 0 && $0 <= max }) else {
            throw ValueError("not a comma-separated list of integers in 1...\(max)")
        }
        values = v
        description = text
    }

    /// A list of sizes (the default reading).
    init?(argument: String) { try? self.init(parsing: argument, max: Self.maxSize) }

    /// Transforms for `@Option`: they say why a list was refused.
    static func sizes(_ text: String) throws -> CountList { try CountList(parsing: text, max: maxSize) }
    static func threads(_ text: String) throws -> CountList { try CountList(parsing: text, max: maxThreads) }
}

/// `bench gemm --sizes`: "256,512x128x64" → square N×N×N or M×N×K shapes, each size in 1...65536.
struct GemmSizeList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let shapes: [(m: Int, n: Int, k: Int)]
    let description: String

    init(parsing text: String) throws {
        shapes = try listItems(text).map { item in
            let parts = item.split(separator: "x", omittingEmptySubsequences: false)
            let dims = parts.compactMap { Int($0) }
            guard dims.count == parts.count, dims.count == 1 || dims.count == 3,
                  dims.allSatisfy({ $0 > 0 && $0 <= CountList.maxSize }) else {
                throw ValueError("'\(item)': use N or MxNxK with each size in 1...\(CountList.maxSize)")
            }
            return dims.count == 1 ? (dims[0], dims[0], dims[0]) : (dims[0], dims[1], dims[2])
        }
        description = text
    }

    init(squares: [Int]) {
        shapes = squares.map { ($0, $0, $0) }
        description = squares.map(String.init).joined(separator: ",")
    }

    init?(argument: String) { try? self.init(parsing: argument) }
    static func parse(_ text: String) throws -> GemmSizeList { try GemmSizeList(parsing: text) }
}

/// "cnn-small,plain30" → presets, in the order given.
struct PresetList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let presets: [ModelPreset]
    var description: String { presets.map(\.rawValue).joined(separator: ",") }

    init(_ presets: [ModelPreset]) { self.presets = presets }

    init(parsing text: String) throws {
        presets = try listItems(text).map { item in
            guard let p = ModelPreset(rawValue: String(item)) else {
                throw ValueError("'\(item)': one of \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return p
        }
    }

    init?(argument: String) { try? self.init(parsing: argument) }
    static func parse(_ text: String) throws -> PresetList { try PresetList(parsing: text) }
}

/// `bench kernels --kernels`: which kernel families to time.
enum KernelFamily: String, CaseIterable, Sendable {
    case gemm, conv, convBlocked = "conv-blocked", bn
}

/// "gemm,bn" → {gemm, bn}: every item a kernel family (spaces around items allowed).
struct KernelFamilyList: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let families: Set<KernelFamily>
    let description: String

    init(parsing text: String) throws {
        // a trailing comma is allowed here ("gemm,"), an empty list is not
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValueError("an empty list: name at least one kernel family") }
        let unknown = Set(names.filter { KernelFamily(rawValue: $0) == nil })
        guard unknown.isEmpty else {
            let all = KernelFamily.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValueError("unknown \(unknown.sorted().joined(separator: ", ")) (\(all))")
        }
        families = Set(names.compactMap(KernelFamily.init(rawValue:)))
        description = text
    }

    init(_ families: [KernelFamily]) {
        self.families = Set(families)
        description = families.map(\.rawValue).joined(separator: ",")
    }

    init?(argument: String) { try? self.init(parsing: argument) }
    static func parse(_ text: String) throws -> KernelFamilyList { try KernelFamilyList(parsing: text) }
    func contains(_ f: KernelFamily) -> Bool { families.contains(f) }
}
