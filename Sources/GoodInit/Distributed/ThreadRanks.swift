// P ranks as P threads of one process: the RankGroup the tests (and anyone without MPI) use to run
// the distributed code paths. Each call posts this rank's buffer, waits for all ranks, copies what
// it needs from the others' posted buffers, and waits again before anyone reuses a buffer.
import Foundation

public final class ThreadRanks: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0
    private var posted: [UnsafeMutableRawPointer?]

    init(size: Int) { self.size = size; posted = Array(repeating: nil, count: size) }

    /// Runs body(group) on P threads, one per rank, and returns when every one has finished.
    public static func run(_ ranks: Int, _ body: @escaping @Sendable (RankGroup) -> Void) {
        let shared = ThreadRanks(size: ranks), done = DispatchGroup()
        for r in 0..<ranks {
            done.enter()
            let t = Thread {
                body(ThreadRank(rank: r, shared: shared))
                done.leave()
            }
            t.stackSize = 16 << 20 // the kernels' VLAs and the test's closures
            t.start()
        }
        done.wait()
    }

    fileprivate func barrier() {
        condition.lock()
        let g = generation
        arrived += 1
        if arrived == size {
            arrived = 0; generation += 1; condition.broadcast()
        } else {
            while generation == g { condition.wait() }
        }
        condition.unlock()
    }

    fileprivate func post(_ rank: Int, _ p: UnsafeMutableRawPointer?) {
        condition.lock(); posted[rank] = p; condition.unlock()
    }
    fileprivate func buffer(of rank: Int) -> UnsafeMutableRawPointer {
        condition.lock(); defer { condition.unlock() }
        return posted[rank]!
    }
}

private final class ThreadRank: RankGroup, @unchecked Sendable {
    let rank: Int
    let shared: ThreadRanks
    var size: Int { shared.size }
    init(rank: Int, shared: ThreadRanks) { self.rank = rank; self.shared = shared }

    func allGather(_ buffer: UnsafeMutableRawPointer, counts: [Int], offsets: [Int]) {
        shared.post(rank, buffer)
        shared.barrier()
        for q in 0..<size where q != rank && counts[q] > 0 {
            (buffer + offsets[q]).copyMemory(from: shared.buffer(of: q) + offsets[q], byteCount: counts[q])
        }
        shared.barrier()
    }

    func exchange(send: UnsafeRawPointer, count: Int, receive: UnsafeMutableRawPointer, receiveCount: Int,
                  peer: Int) {
        shared.post(rank, UnsafeMutableRawPointer(mutating: send))
        shared.barrier()
        receive.copyMemory(from: shared.buffer(of: peer), byteCount: receiveCount)
        shared.barrier()
    }

    func abort(_ code: Int32) -> Never { fatalError("ThreadRanks: rank \(rank) aborted (\(code))") }
    func finish() {}
}
