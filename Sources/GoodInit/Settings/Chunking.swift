// The one rule for splitting a batch into chunks. The chunks fix the order of every gradient and
// batch-norm sum, so they never depend on W, T or the rank count; workers and ranks share them.

/// A batch of `batch` samples in chunks of at most `chunk` (the last may be smaller).
public struct Chunking: Sendable, Equatable {
    public let batch: Int
    /// The requested chunk size (a chunk larger than the batch is the whole batch).
    public let chunk: Int
    public init(batch: Int, chunk: Int) {
        precondition(batch > 0 && chunk > 0, "Chunking: batch \(batch) and chunk \(chunk) must be positive")
        self.batch = batch; self.chunk = chunk
    }

    /// The batch as one chunk (inference, LSUV, statistics: no gradient sum to order).
    public static func whole(_ batch: Int) -> Chunking { Chunking(batch: batch, chunk: batch) }

    /// ⌈batch / chunk⌉, without the overflow of (batch + chunk − 1) / chunk for sizes near Int.max.
    public var count: Int { batch / chunk + (batch % chunk == 0 ? 0 : 1) }
    /// The samples of each chunk.
    public var ranges: [Range<Int>] {
        let size = min(chunk, batch)
        return stride(from: 0, to: batch, by: size).map { $0..<min($0 + size, batch) }
    }
    /// This chunking, or, when `workers` would not find a chunk each, the largest chunk that gives
    /// them one: for runs whose chunk the user did not choose (the experiments' presets).
    public func shared(by workers: Int) -> Chunking {
        count >= workers ? self : Chunking(batch: batch, chunk: largestChunk(for: workers))
    }

    /// The largest chunk that still gives every one of `sharers` a chunk.
    public func largestChunk(for sharers: Int) -> Int { max(1, batch / sharers) }

    /// Refuses W workers (per rank, on `perRank` chunks when P > 1) that would find no chunk to share:
    /// the chunking never follows W, so an idle worker would only make the run slower.
    public func check(workers: Int, ranks: Int = 1) throws {
        if ranks > 1 {
            guard ranks & (ranks - 1) == 0 else {
                throw SettingError("ranks", "\(ranks) is not a power of two (1, 2, 4, 8, …): the gradient-sum "
                                   + "tree splits the batch's chunks in halves")
            }
            guard count >= ranks else {
                throw SettingError("loop.chunk", "\(chunk) is too large: \(ranks) ranks need at least \(ranks) "
                                   + "chunks, but batch \(batch) gives \(count); use chunk \(largestChunk(for: ranks)) "
                                   + "or less")
            }
        }
        let available = ranks > 1 ? RankShares.trainingChunks(rank: ranks - 1, ranks: ranks, chunks: count).count
                                  : count
        guard workers <= available else {
            let per = ranks > 1 ? " on each of the \(ranks) ranks" : ""
            throw SettingError("loop.chunk", "\(chunk) is too large: \(workers) workers need at least \(workers) "
                               + "chunks\(per), but batch \(batch) gives \(available); use chunk "
                               + "\(largestChunk(for: workers * ranks)) or less")
        }
    }
}
