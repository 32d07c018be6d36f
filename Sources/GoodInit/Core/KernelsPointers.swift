// One call that hands the wrappers the pointers of several buffers at once, instead of one
// `withPointer` closure nested inside the next for each buffer a kernel reads or writes.

/// A buffer the kernels read or write through one pointer: Tensor, DoubleBuffer, the integer
/// Buffers, and an optional one of these (nil goes to C as a null pointer).
protocol KernelBuffer {
    associatedtype Pointer
    /// The first element. Valid only while the buffer is alive: read it inside `withPointers`.
    var basePointer: Pointer { get }
}

extension Tensor: KernelBuffer {
    var basePointer: UnsafeMutablePointer<Float> { storage.base + offset }
}

extension DoubleBuffer: KernelBuffer {
    var basePointer: UnsafeMutablePointer<Double> { storage.base + offset }
}

extension Buffer: KernelBuffer {
    var basePointer: UnsafeMutablePointer<Element> { storage.base }
}

extension Optional: KernelBuffer where Wrapped: KernelBuffer {
    var basePointer: Wrapped.Pointer? { self?.basePointer }
}

extension Kernels {
    /// Runs body with the pointers of `buffers`, in order; every buffer's storage lives for the
    /// whole call, as with each buffer's own `withPointer`.
    @inline(__always)
    static func withPointers<each B: KernelBuffer, R>(
        _ buffers: repeat each B, body: (repeat (each B).Pointer) throws -> R
    ) rethrows -> R {
        try withExtendedLifetime((repeat each buffers)) { try body(repeat (each buffers).basePointer) }
    }

    /// The same, with a pointer to a C shape struct (ck_conv2d_shape, ck_pool_shape) first.
    @inline(__always)
    static func withPointers<Shape, each B: KernelBuffer, R>(
        shape: Shape, _ buffers: repeat each B, body: (UnsafePointer<Shape>, repeat (each B).Pointer) throws -> R
    ) rethrows -> R {
        try withUnsafePointer(to: shape) { sp in
            try withExtendedLifetime((repeat each buffers)) { try body(sp, repeat (each buffers).basePointer) }
        }
    }
}
