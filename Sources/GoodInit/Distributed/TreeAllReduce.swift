// The gradient sum across ranks in the tree's order. Each rank holds the sum of its subtree of
// chunks; level s pairs rank r with r ^ 2^s (sibling subtrees), and each of the two keeps half of
// its current segment: it receives the peer's half and adds (left + right; IEEE addition commutes,
// so either side gets the tree's bits). After log2 P levels rank r holds one segment of the whole
// tree's sum; an all-gather (bytes only) gives everyone all of it. Bytes sent per rank and step:
// 2 · (1 − 1/P) · 4 · n, the same as a ring all-reduce, in 2·log2 P messages (recursive halving).

public enum TreeAllReduce {
    /// A segment cut in two at a multiple of 16 values (whole cache lines).
    static func halves(_ s: Range<Int>) -> (Range<Int>, Range<Int>) {
        let mid = s.lowerBound + min(s.count, (s.count / 2 + 15) & ~15)
        return (s.lowerBound..<mid, mid..<s.upperBound)
    }

    /// The segment rank r holds after the reduce-scatter levels.
    static func segment(rank r: Int, ranks p: Int, count n: Int) -> Range<Int> {
        var seg = 0..<n, bit = 1
        while bit < p {
            let (lower, upper) = halves(seg)
            seg = r & bit == 0 ? lower : upper
            bit <<= 1
        }
        return seg
    }

    /// Floats of scratch `allReduce` needs for n values.
    public static func scratchCount(_ n: Int) -> Int {
        let (lower, upper) = halves(0..<n) // either may be the larger (33 values: 16 and 17)
        return max(lower.count, upper.count)
    }

    /// buf: on entry this rank's subtree sum, on return the whole tree's sum (on every rank).
    public static func allReduce(_ buf: Tensor, scratch: Tensor, group: RankGroup) {
        let p = group.size, r = group.rank, n = buf.count
        guard p > 1 else { return }
        precondition(p & (p - 1) == 0, "TreeAllReduce: \(p) ranks is not a power of two")
        precondition(scratch.count >= scratchCount(n), "TreeAllReduce: scratch of \(scratch.count) for \(n) values")
        var seg = 0..<n, bit = 1
        while bit < p {
            let (lower, upper) = halves(seg)
            let (keep, give) = r & bit == 0 ? (lower, upper) : (upper, lower)
            let kept = buf.view(from: keep.lowerBound, shape: [keep.count])
            let received = scratch.view(from: 0, shape: [keep.count])
            exchange(group, send: buf.view(from: give.lowerBound, shape: [give.count]), receive: received,
                     peer: r ^ bit)
            Kernels.add(y: kept, a: kept, b: received)
            seg = keep; bit <<= 1
        }
        let segments = (0..<p).map { segment(rank: $0, ranks: p, count: n) }
        group.allGather(buf, ranges: segments)
    }

    /// Sends `send` to `peer` and receives its values into `receive`, whole tensors each way.
    private static func exchange(_ group: RankGroup, send: Tensor, receive: Tensor, peer: Int) {
        let f = MemoryLayout<Float>.stride
        Kernels.withPointers(send, receive) { s, r in
            group.exchange(send: s, count: send.count * f, receive: r, receiveCount: receive.count * f, peer: peer)
        }
    }
}
