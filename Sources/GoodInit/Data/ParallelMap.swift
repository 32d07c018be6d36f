// Work spread over the cores with results placed by index, so the outcome never depends on timing.
import Dispatch

/// `body(i)` for every i in 0..<n on all cores; the results in index order.
func parallelMap<T>(_ n: Int, _ body: @Sendable (Int) -> T) -> [T] {
    guard n > 0 else { return [] }
    let slots = UnsafeMutablePointer<T?>.allocate(capacity: n)
    slots.initialize(repeating: nil, count: n)
    defer { slots.deinitialize(count: n); slots.deallocate() }
    // each index is written by exactly one iteration, and read only after all have finished
    nonisolated(unsafe) let shared = slots
    DispatchQueue.concurrentPerform(iterations: n) { i in shared[i] = body(i) }
    return (0..<n).map { i in
        guard let v = slots[i] else { preconditionFailure("parallelMap: index \(i) was not computed") }
        return v
    }
}
