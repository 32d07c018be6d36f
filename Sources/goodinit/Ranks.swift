// Joining the ranks of an `mpirun` (or `srun`) job. The launcher's environment says how many
// processes it started; a build with `--traits MPI` joins them through MPI, one without says how to
// get one instead of training P independent copies that all write the same files.
import ArgumentParser
import Foundation
import GoodInit

/// The process count the launcher announced (1 when started directly).
func launchedRanks() -> Int {
    let env = ProcessInfo.processInfo.environment
    for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"] {
        if let v = env[key], let n = Int(v), n > 0 { return n }
    }
    return 1
}

/// Commands that run over ranks: the others refuse a multi-rank launch.
protocol RunsOverRanks {}

/// The run's ranks: MPI's when a launcher started more than one process.
func joinRanks() throws -> RankGroup {
    let n = launchedRanks()
    guard n > 1 else { return SingleRank.shared }
    #if MPI
    return MPIRanks()
    #else
    throw ValidationError("started as one of \(n) ranks (by mpirun or srun), but this goodinit was built "
                          + "without MPI: build it with `swift build -c release --traits MPI` "
                          + "(scripts/setup.sh --with-mpi)")
    #endif
}

/// Runs body with the ranks; an error on any rank ends every rank (with P > 1: printed with the rank,
/// then MPI_Abort, since the other ranks may be waiting in an exchange this rank will never join).
func withRanks(_ body: (RankGroup) throws -> Void) throws {
    let ranks = try joinRanks()
    do {
        try body(ranks)
    } catch {
        guard ranks.size > 1 else { throw error }
        let text = "goodinit: rank \(ranks.rank) of \(ranks.size): error: \(GoodInitCommand.message(for: error))\n"
        FileHandle.standardError.write(Data(text.utf8))
        ranks.abort(1)
    }
    ranks.finish()
}
