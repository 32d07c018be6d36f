// DoubleBuffer: float64 accumulators for statistics summed in double (batch norm's per-chunk
// partial sums and their totals), with Tensor's ownership rules: copies and views share storage.

/// Zero-filled doubles. A view (`row`) lets each chunk's worker write its own row of a shared
/// (rows, C) table while the others write theirs.
public struct DoubleBuffer {
    let count: Int
    let storage: Storage<Double>
    let offset: Int

    init(count: Int) { self.count = count; storage = Storage(count: count, zero: 0); offset = 0 }
    private init(storage: Storage<Double>, offset: Int, count: Int) {
        self.storage = storage; self.offset = offset; self.count = count
    }

    /// Row r of this buffer read as (rows, width).
    func row(_ r: Int, width: Int) -> DoubleBuffer {
        precondition(r >= 0 && width >= 0 && (r + 1) * width <= count, "row \(r) × \(width) out of range")
        return DoubleBuffer(storage: storage, offset: offset + r * width, count: width)
    }

    /// Pointer access for the Kernels wrappers; the storage lives for the whole call.
    func withPointer<R>(_ body: (UnsafeMutablePointer<Double>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.base + offset) }
    }

    subscript(i: Int) -> Double {
        get { precondition(i >= 0 && i < count); return storage.base[offset + i] }
        nonmutating set { precondition(i >= 0 && i < count); storage.base[offset + i] = newValue }
    }
}
