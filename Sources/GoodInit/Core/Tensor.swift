// Tensor: aligned float32 storage with a shape. The home of raw memory in the library, with the
// Kernels*.swift wrappers, the thin layer that hands these pointers to CKernels; elsewhere only the
// byte readers of file formats (Gzip, Safetensors) touch raw bytes, each saying where.
import Foundation

/// Owns one 64-byte aligned allocation. Never resized; freed with the last Tensor that views it.
/// @unchecked: its fields are constants; the elements are shared memory, and the executor never
/// lets two threads write the same elements at once (each worker owns its chunk's buffers).
///
/// Buffers of a megabyte or more are anonymous mappings: the kernel hands out zeroed pages on first
/// touch, so a plan's buffers cost nothing until used (LSUV's forward-only plan never touches the
/// gradients, and a first layer's input gradient is never written), and those of 2 MB or more ask
/// for transparent huge pages (one fault and one TLB entry per 2 MB). Smaller ones are zero-filled.
final class Storage<Element>: @unchecked Sendable {
    let count: Int
    let base: UnsafeMutablePointer<Element>
    private let mappedBytes: Int   // 0: from the allocator
    static var mapFrom: Int { 1 << 20 }

    init(count: Int, zero: Element) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        if bytes >= Self.mapFrom, let p = Self.map(bytes) {
            mappedBytes = bytes
            base = p.bindMemory(to: Element.self, capacity: max(count, 1))
            // the kernel's pages are all-zero bytes: only a zero whose bits are not is written out
            if !Self.isZeroBits(zero) { base.initialize(repeating: zero, count: max(count, 1)) }
            return
        }
        mappedBytes = 0
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        base.initialize(repeating: zero, count: max(count, 1))
    }

    deinit {
        if mappedBytes > 0 { munmap(UnsafeMutableRawPointer(base), mappedBytes) } else {
            UnsafeMutableRawPointer(base).deallocate()
        }
    }

    /// A zeroed, page-aligned anonymous mapping, or nil when the system refuses one (the allocator
    /// then serves). Huge pages are a request: refused, small pages serve.
    private static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        #if os(Linux)
        if bytes >= 2 << 20 { _ = madvise(p, bytes, Int32(MADV_HUGEPAGE)) }
        #endif
        return p
    }

    private static func isZeroBits(_ v: Element) -> Bool {
        withUnsafeBytes(of: v) { $0.allSatisfy { $0 == 0 } }
    }
}

/// A float32 tensor: a shape over a window of shared storage. Copies of a Tensor share their
/// storage (a handle, like a PyTorch tensor); `clone()` makes an independent copy.
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    let storage: Storage<Float>
    let offset: Int

    /// A new zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        count = shape.reduce(1, *)
        storage = Storage(count: count, zero: 0)
        offset = 0
    }

    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "Tensor: \(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        assign(values)
    }

    init(storage: Storage<Float>, offset: Int, shape: [Int]) {
        precondition(offset + shape.reduce(1, *) <= storage.count, "Tensor view out of range")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        count = shape.reduce(1, *)
    }

    /// A view of `shape` starting `start` elements in, sharing this tensor's storage.
    public func view(from start: Int, shape: [Int]) -> Tensor {
        precondition(start >= 0 && start + shape.reduce(1, *) <= count, "view out of range")
        return Tensor(storage: storage, offset: offset + start, shape: shape)
    }

    /// The same values under another shape with the same element count.
    public func reshaped(_ shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == count, "reshape \(self.shape) → \(shape)")
        return Tensor(storage: storage, offset: offset, shape: shape)
    }

    /// Pointer access for the Kernels wrappers; the storage lives for the whole call.
    func withPointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.base + offset) }
    }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count); return storage.base[offset + i] }
        nonmutating set { precondition(i >= 0 && i < count); storage.base[offset + i] = newValue }
    }

    public var array: [Float] { withPointer { Array(UnsafeBufferPointer(start: $0, count: count)) } }

    public func assign(_ values: [Float]) {
        precondition(values.count == count, "assign: \(values.count) values into \(count)")
        withPointer { p in values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: count) } }
    }

    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.count) values into \(count)")
        withPointer { p in other.withPointer { p.update(from: $0, count: count) } }
    }

    /// Copies `n` values from `source` starting at `from` into this tensor starting at `to`.
    public func copy(from source: [Float], at from: Int, count n: Int, to: Int = 0) {
        precondition(from >= 0 && from + n <= source.count && to >= 0 && to + n <= count)
        withPointer { p in source.withUnsafeBufferPointer { (p + to).update(from: $0.baseAddress! + from, count: n) } }
    }

    public func fill(_ v: Float) { withPointer { $0.update(repeating: v, count: count) } }

    public func clone() -> Tensor { let t = Tensor(zeros: shape); t.assign(self); return t }

    /// Standard normal values from the kernels' counter-based generator: same seed, same bits.
    public static func randomNormal(shape: [Int], seed: UInt64) -> Tensor {
        let t = Tensor(zeros: shape); Kernels.fillNormal(t, seed: seed); return t
    }

    /// Uniform values in [lo, hi) from the kernels' counter-based generator: same seed, same bits.
    public static func randomUniform(shape: [Int], lo: Float, hi: Float, seed: UInt64) -> Tensor {
        let t = Tensor(zeros: shape); Kernels.fillUniform(t, lo: lo, hi: hi, seed: seed); return t
    }

    public var description: String { "Tensor\(shape)" }

    /// Mean and (biased) variance over all elements: two passes in double (exact mean first).
    public func meanVariance() -> (mean: Double, variance: Double) { Kernels.meanVariance(self) }

    public var allFinite: Bool { Kernels.allFinite(self) }
}

/// An integer buffer (argmax indices and labels as Int32, masks as UInt8), zero-filled, with
/// the same ownership rules as Tensor.
public struct Buffer<Element: FixedWidthInteger & Sendable>: Sendable {
    public let count: Int
    let storage: Storage<Element>
    public init(count: Int) { self.count = count; storage = Storage(count: count, zero: 0) }
    func withPointer<R>(_ body: (UnsafeMutablePointer<Element>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.base) }
    }
    public subscript(i: Int) -> Element {
        get { precondition(i >= 0 && i < count); return storage.base[i] }
        nonmutating set { precondition(i >= 0 && i < count); storage.base[i] = newValue }
    }
}

/// Argmax indices and labels.
public typealias IndexBuffer = Buffer<Int32>
/// Dropout and weight-decay masks.
public typealias ByteBuffer = Buffer<UInt8>
