// Stopping a run from outside: the CLI's SIGINT/SIGTERM handler asks, the training loop checks at
// each step boundary, saves a checkpoint and returns. Lock-free atomics, so a signal handler may
// call `requestStop()` and read `isSavingCheckpoint`.
import Synchronization

public final class CancellationToken: Sendable {
    private let stop = Atomic<Bool>(false)
    private let saving = Atomic<Bool>(false)
    public init() {}

    public func requestStop() { stop.store(true, ordering: .sequentiallyConsistent) }
    public var isStopRequested: Bool { stop.load(ordering: .sequentiallyConsistent) }

    /// True while a checkpoint is being written: a second signal then lets the write finish.
    public var isSavingCheckpoint: Bool { saving.load(ordering: .sequentiallyConsistent) }

    /// Runs `body` (a checkpoint write) with `isSavingCheckpoint` set.
    func whileSaving<T>(_ body: () throws -> T) rethrows -> T {
        saving.store(true, ordering: .sequentiallyConsistent)
        defer { saving.store(false, ordering: .sequentiallyConsistent) }
        return try body()
    }
}
