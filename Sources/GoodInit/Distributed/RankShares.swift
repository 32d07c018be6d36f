// Which chunks each rank trains and which evaluation batches it scores. Training shares are nodes of
// the gradient-sum tree (Kernels.sum): rank r of P holds node r at depth log2 P, so its local sum
// is a subtree of the one-process sum and the ranks finish it with one addition per level.

public enum RankShares {
    /// The chunk indices rank r of P trains (P a power of two, at most the chunk count).
    public static func trainingChunks(rank r: Int, ranks p: Int, chunks n: Int) -> Range<Int> {
        precondition(p > 0 && p & (p - 1) == 0 && r >= 0 && r < p && n >= p)
        var lo = 0, hi = n, bit = p >> 1
        while bit > 0 {
            let mid = Kernels.treeMid(lo, hi)
            if r & bit == 0 { hi = mid } else { lo = mid }
            bit >>= 1
        }
        return lo..<hi
    }

    /// Contiguous, nearly equal shares of `count` items (evaluation batches); some may be empty.
    public static func contiguous(rank r: Int, ranks p: Int, count n: Int) -> Range<Int> {
        (r * n / p)..<((r + 1) * n / p)
    }
}
