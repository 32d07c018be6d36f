// The processes of one training run (MPI ranks) as the plan and the training loop see them. Only
// two primitives move data: an in-place all-gather (bytes, no arithmetic) and a pairwise exchange.
// Every sum stays in GoodInit's own fixed order (TreeAllReduce, BatchNorm's chunk-order combine), so
// P ranks give the bits of one process; MPI's reductions, with their unspecified order, are never
// used for results.
import CKernels
import Foundation

public protocol RankGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In place: rank r's `counts[r]` bytes sit at `offsets[r]` of `buffer` (each rank fills its own
    /// before the call); afterwards every rank holds every rank's bytes. Every rank must call.
    func allGather(_ buffer: UnsafeMutableRawPointer, counts: [Int], offsets: [Int])
    /// Sends `count` bytes to `peer` and receives `receiveCount` bytes from it (the peer makes the
    /// matching call).
    func exchange(send: UnsafeRawPointer, count: Int, receive: UnsafeMutableRawPointer, receiveCount: Int,
                  peer: Int)
    /// Ends the run on every rank now: for a failure on one rank that would leave the others waiting.
    func abort(_ code: Int32) -> Never
    /// Ends the group's communication (MPI_Finalize) at the end of a run; later calls are errors.
    func finish()
}

/// One process: nothing to exchange.
public final class SingleRank: RankGroup, @unchecked Sendable {
    public static let shared = SingleRank()
    public let rank = 0, size = 1
    public func allGather(_ buffer: UnsafeMutableRawPointer, counts: [Int], offsets: [Int]) {}
    public func exchange(send: UnsafeRawPointer, count: Int, receive: UnsafeMutableRawPointer, receiveCount: Int,
                         peer: Int) {
        preconditionFailure("SingleRank has no peer \(peer)")
    }
    public func abort(_ code: Int32) -> Never { exit(code) }
    public func finish() {}
}

// MARK: typed helpers

extension RankGroup {
    public var isLeader: Bool { rank == 0 }

    /// Every rank's element range of `t` (ranges[r], rank r's filled) gathered on every rank.
    func allGather(_ t: Tensor, ranges: [Range<Int>]) {
        guard size > 1 else { return }
        t.withPointer { gatherElements(UnsafeMutableRawPointer($0), MemoryLayout<Float>.stride, ranges) }
    }
    func allGather(_ d: DoubleBuffer, ranges: [Range<Int>]) {
        guard size > 1 else { return }
        d.withPointer { gatherElements(UnsafeMutableRawPointer($0), MemoryLayout<Double>.stride, ranges) }
    }
    func allGather(_ b: IndexBuffer, ranges: [Range<Int>]) {
        guard size > 1 else { return }
        b.withPointer { gatherElements(UnsafeMutableRawPointer($0), MemoryLayout<Int32>.stride, ranges) }
    }
    private func gatherElements(_ p: UnsafeMutableRawPointer, _ stride: Int, _ ranges: [Range<Int>]) {
        precondition(ranges.count == size, "allGather: \(ranges.count) ranges for \(size) ranks")
        allGather(p, counts: ranges.map { $0.count * stride }, offsets: ranges.map { $0.lowerBound * stride })
    }

    /// Every rank's `value`, in rank order.
    public func allValues(_ value: Int64) -> [Int64] {
        guard size > 1 else { return [value] }
        var values = [Int64](repeating: 0, count: size)
        values[rank] = value
        let word = MemoryLayout<Int64>.stride
        values.withUnsafeMutableBytes {
            allGather($0.baseAddress!, counts: .init(repeating: word, count: size),
                      offsets: (0..<size).map { $0 * word })
        }
        return values
    }

    /// True on every rank when `flag` is true on any (a stop request seen by one rank stops all).
    public func anyRank(_ flag: Bool) -> Bool { allValues(flag ? 1 : 0).contains(1) }

    /// Every rank's text, in rank order (lengths first, then the bytes).
    public func allTexts(_ text: String) -> [String] {
        guard size > 1 else { return [text] }
        let counts = allValues(Int64(text.utf8.count)).map(Int.init)
        let offsets = counts.indices.map { counts[..<$0].reduce(0, +) }
        var bytes = [UInt8](repeating: 0, count: max(1, counts.reduce(0, +)))
        bytes.replaceSubrange(offsets[rank]..<(offsets[rank] + counts[rank]), with: Array(text.utf8))
        bytes.withUnsafeMutableBytes { allGather($0.baseAddress!, counts: counts, offsets: offsets) }
        return (0..<size).map { String(decoding: bytes[offsets[$0]..<(offsets[$0] + counts[$0])], as: UTF8.self) }
    }

    /// Throws on every rank (none waits for another) when any rank's `value` differs from rank 0's,
    /// naming the first rank that differs and the first field in which it does.
    public func checkSame(_ value: some Encodable, what: String) throws {
        let mine = try JSONValue(value)
        let all = try allTexts(mine.description).map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        guard let r = all.indices.first(where: { all[$0] != all[0] }),
              let d = all[0].firstDifference(all[r]) else { return }
        let field = d.path.isEmpty ? "" : "\(d.path): "
        throw RankMismatch(description: "rank \(r) of \(size) was started with another \(what) than rank 0 "
                           + "(\(field)\(d.mine) on rank 0, \(d.theirs) there): every rank must get the same arguments")
    }
}
