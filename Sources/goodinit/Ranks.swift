// Joining the ranks of an `mpirun` (or `srun`) job. The launcher's environment says how many
// processes it started; a build with `--traits MPI` joins them through MPI, one without says how to
// get one instead of training P independent copies that all write the same files.
import ArgumentParser
import Foundation
import GoodInit

/// The process count the launcher announced (1 when started directly or when it does not say).
func launchedRanks() -> Int {
    let env = ProcessInfo.processInfo.environment
    for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
        if let v = env[key], let n = Int(v), n > 0 { return n }
    }
    return 1
}

/// Whether a launcher (mpirun, srun) started this process: then an MPI build asks MPI the size.
func startedByLauncher() -> Bool {
    let env = ProcessInfo.processInfo.environment
    return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"].contains { env[$0] != nil }
}

/// Commands that run over ranks: the others refuse a multi-rank launch.
protocol RunsOverRanks {}

/// The run's ranks: MPI's when a launcher started more than one process.
func joinRanks() throws -> RankGroup {
    #if MPI
    guard startedByLauncher() else { return SingleRank.shared }
    let ranks = MPIRanks()
    if ranks.size == 1 { ranks.finish(); return SingleRank.shared }
    return ranks
    #else
    let n = launchedRanks()
    guard n > 1 else { return SingleRank.shared }
    throw ValidationError("started as one of \(n) ranks (by mpirun or srun), but this goodinit was built "
                          + "without MPI: build it with `swift build -c release --traits MPI` "
                          + "(scripts/setup.sh --with-mpi)")
    #endif
}

/// Runs body with the ranks. An error every rank throws at the same point ends them together: rank 0
/// reports it, all exit 1. Any other error on a rank (P > 1) is printed with the rank, then
/// MPI_Abort, since the other ranks may be waiting in an exchange this rank will never join.
func withRanks(_ body: (RankGroup) throws -> Void) throws {
    let ranks = try joinRanks()
    // a second stop signal on a rank other than 0 would kill the job while rank 0 saves: only rank 0
    // decides whether a second signal exits at once
    if !ranks.isLeader { secondStopSignalExits = false }
    do {
        try body(ranks)
    } catch {
        guard ranks.size > 1 else { throw error }
        if error is ErrorOnEveryRank {
            if ranks.isLeader {
                FileHandle.standardError.write(Data("Error: \(GoodInitCommand.describe(error))\n".utf8))
            }
            _ = ranks.anyRank(false) // rank 0's message is out before any rank ends and mpirun reports it
            ranks.finish()
            exit(1)
        }
        let text = "goodinit: rank \(ranks.rank) of \(ranks.size): error: \(GoodInitCommand.describe(error))\n"
        FileHandle.standardError.write(Data(text.utf8))
        ranks.abort(1)
    }
    ranks.finish()
}
