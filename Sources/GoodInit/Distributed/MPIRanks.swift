// The ranks of an `mpirun` job (Open MPI through the CMPI system library; built only with
// `--traits MPI`). Only the main thread talks to MPI (MPI_THREAD_FUNNELED): the Dispatch workers and
// OpenMP threads compute between the exchanges, never during them. Open MPI's default error handler
// is fatal and its runtime ends the whole job when one rank dies, so no call here waits forever on
// a rank that is gone. Every return code is still checked: under a handler that returns, a failed
// call would otherwise go on with a buffer MPI never filled.
#if MPI
import CMPI
import Foundation

public final class MPIRanks: RankGroup, @unchecked Sendable {
    public let rank: Int, size: Int
    let comm: MPI_Comm
    private var finished = false

    /// MPI_Init_thread once per process.
    public init() {
        var provided: Int32 = 0
        Self.check(MPI_Init_thread(nil, nil, gi_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        comm = gi_mpi_comm_world()
        var r: Int32 = 0, s: Int32 = 0
        Self.check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        Self.check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r); size = Int(s)
    }

    /// The RankGroup calls cannot throw, and a rank that stops here ends the whole job (mpirun
    /// aborts the others): a clear stop naming the call, as for a message too large.
    private static func check(_ code: Int32, _ call: String) {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING)), length: Int32 = 0
        let known = MPI_Error_string(code, &text, &length) == MPI_SUCCESS
        let reason = known ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "no description"
        fatalError("MPIRanks: \(call) failed with error \(code) (\(reason))")
    }

    /// MPI counts are 32-bit: a larger message is a clear stop, not a wrapped count.
    private func count32(_ n: Int, _ what: String) -> Int32 {
        guard let c = Int32(exactly: n) else {
            fatalError("MPIRanks: \(what) of \(n) bytes is more than one MPI message holds (2 GiB)")
        }
        return c
    }

    public func allGather(_ buffer: UnsafeMutableRawPointer, counts: [Int], offsets: [Int]) {
        let c = counts.map { count32($0, "all-gather") }, o = offsets.map { count32($0, "all-gather offset") }
        Self.check(MPI_Allgatherv(gi_mpi_in_place(), 0, gi_mpi_datatype_null(), buffer, c, o, gi_mpi_byte(), comm),
                   "MPI_Allgatherv")
    }

    public func exchange(send: UnsafeRawPointer, count: Int, receive: UnsafeMutableRawPointer, receiveCount: Int,
                         peer: Int) {
        Self.check(MPI_Sendrecv(send, count32(count, "exchange"), gi_mpi_byte(), Int32(peer), 7,
                                receive, count32(receiveCount, "exchange"), gi_mpi_byte(), Int32(peer), 7, comm,
                                gi_mpi_status_ignore()), "MPI_Sendrecv")
    }

    /// MPI's own all-reduce (its order is unspecified): only for the benchmark's comparison.
    public func mpiAllReduceSum(_ t: Tensor) {
        t.withPointer { p in
            Self.check(MPI_Allreduce(gi_mpi_in_place(), p, count32(t.count, "all-reduce"), gi_mpi_float(),
                                     gi_mpi_sum(), comm), "MPI_Allreduce")
        }
    }

    public func barrier() { Self.check(MPI_Barrier(comm), "MPI_Barrier") }

    public func abort(_ code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    public func finish() {
        guard !finished else { return }
        finished = true
        Self.check(MPI_Finalize(), "MPI_Finalize")
    }
}
#endif
