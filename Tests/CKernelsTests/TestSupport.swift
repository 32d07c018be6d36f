// Buffers, fills and comparisons shared by the kernel tests.
import CKernels
import Foundation
import Testing

/// A 64-byte aligned float buffer the tests hand to C. Tests own raw pointers here on purpose:
/// they exercise the C API exactly as the library's Tensor does. A buffer is never freed: Swift
/// may release a temporary right after its last use (`Buf(x).p`), before C reads it, so test
/// buffers simply live until the test process ends (a few MB in all).
final class Buf {
    let count: Int
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int, fill: Float = 0) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        p = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        p.initialize(repeating: fill, count: max(count, 1))
    }
    convenience init(_ values: [Float]) {
        self.init(values.count)
        for i in values.indices { p[i] = values[i] }
    }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    func copy() -> Buf { Buf(array) }
    subscript(i: Int) -> Float { get { p[i] } set { p[i] = newValue } }
}

/// The same for doubles (batch-norm partial sums), never freed for the same reason.
final class DoubleBuf {
    let count: Int
    let p: UnsafeMutablePointer<Double>
    init(_ count: Int, fill: Double = 0) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: fill, count: max(count, 1))
    }
    var array: [Double] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// Deterministic test data from a simple LCG (independent of the library's RNG under test).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    /// Small integers in -r...r: every product and partial sum stays exact in float32.
    mutating func ints(_ n: Int, _ r: Int = 3) -> [Float] {
        (0..<n).map { _ in Float(Int(next() % UInt64(2 * r + 1)) - r) }
    }
    mutating func uniform(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in lo + (hi - lo) * Float(next() % 1_000_000) / 1_000_000 }
    }
}

func workspace(_ n: Int) -> Buf { Buf(n) }

/// Every kernel variant (ISA) this machine can run: the GEMM and convolution tests run each one
/// against the references, so an AVX-512 machine also checks the AVX2 and portable code.
let kernelISAs: [Int32] = (0..<Int32(CK_ISA_COUNT)).filter { ck_isa_supported($0) != 0 }

/// Runs body with this thread's kernels set to `isa`, then restores the default.
func withISA<T>(_ isa: Int32, _ body: () throws -> T) rethrows -> T {
    precondition(ck_set_isa(isa) == 0, "ISA \(isa) unsupported")
    defer { ck_set_isa(-1) }
    return try body()
}

func isaName(_ isa: Int32) -> String { String(cString: ck_isa_name(isa)) }

/// Combined tolerance: |a − b| ≤ atol + rtol·|b| for every element (b the reference).
func expectClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-4, atol: Float = 1e-5,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): count", sourceLocation: sourceLocation)
    var worst = 0, worstExcess: Float = 0
    for i in 0..<min(a.count, b.count) {
        let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
        if !(excess <= 0) && (excess > worstExcess || excess.isNaN) {
            worst = i
            worstExcess = excess.isNaN ? .infinity : excess
        }
    }
    #expect(worstExcess == 0, "\(what): element \(worst) is \(a[worst]) vs reference \(b[worst])",
            sourceLocation: sourceLocation)
}

/// Bitwise equality (the exact-integer and determinism checks).
func expectBitwise(_ a: [Float], _ b: [Float], _ what: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): count", sourceLocation: sourceLocation)
    let firstDiff = (0..<min(a.count, b.count)).first { a[$0].bitPattern != b[$0].bitPattern }
    #expect(firstDiff == nil,
            "\(what): first difference at \(firstDiff ?? -1): \(firstDiff.map { "\(a[$0]) vs \(b[$0])" } ?? "")",
            sourceLocation: sourceLocation)
}

/// Runs `body` with 1, 2, 3 and 4 OpenMP threads on this thread and demands identical bits.
func expectSameForThreadCounts(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                               _ body: () -> [Float]) {
    let saved = ck_get_max_threads()
    defer { ck_set_num_threads(Int32(saved)) }
    ck_set_num_threads(1)
    let one = body()
    for t in 2...4 {
        ck_set_num_threads(Int32(t))
        expectBitwise(body(), one, "\(what) with \(t) threads vs 1", sourceLocation: sourceLocation)
    }
}

/// Central-difference gradient check of L(x) = Σ f(x)·g against the analytic dL/dx.
/// Returns the largest relative error |num − ana| / max(|num| + |ana|, floor).
func maxGradientError(x: [Float], eps: Float = 1e-3, floor: Float = 1e-2, probes: Int = 40,
                      loss: ([Float]) -> Double, analytic: [Float]) -> Float {
    var worst: Float = 0
    let stride = max(1, x.count / probes)
    for i in Swift.stride(from: 0, to: x.count, by: stride) {
        var xp = x, xm = x
        xp[i] += eps
        xm[i] -= eps
        let num = Float((loss(xp) - loss(xm)) / Double(2 * eps))
        let err = abs(num - analytic[i]) / max(abs(num) + abs(analytic[i]), floor)
        worst = max(worst, err)
    }
    return worst
}

func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}

/// A test's convolution shape with its output size (as the C kernels compute it) and the NCHW /
/// KCRS element counts of x, w and y.
protocol ConvShaped {
    var s: ck_conv2d_shape { get }
}

extension ConvShaped {
    var P: Int { withUnsafePointer(to: s) { ck_conv2d_out_h($0) } }
    var Q: Int { withUnsafePointer(to: s) { ck_conv2d_out_w($0) } }
    var xCount: Int { s.N * s.C * s.H * s.W }
    var wCount: Int { s.K * s.C * s.R * s.S }
    var yCount: Int { s.N * s.K * P * Q }
}
