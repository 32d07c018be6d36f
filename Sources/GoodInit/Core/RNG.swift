// Random numbers. Bulk draws (initializers, dropout) use CKernels' counter-based generator, so a
// value depends on (seed, index) only. Shuffles use this small sequential SplitMix64.
import CKernels

public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n without modulo bias (Lemire's multiply-shift with rejection).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        while true {
            let (hi, lo) = next().multipliedFullWidth(by: bound)
            if lo >= (0 &- bound) % bound { return Int(hi) }
        }
    }
    /// Fisher-Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, below(i + 1)) } }
        return p
    }
}

/// Derives independent seeds for named streams (per layer, per step) from one base seed.
public func deriveSeed(_ base: UInt64, _ a: UInt64, _ b: UInt64 = 0) -> UInt64 {
    var g = SplitMix64(seed: base ^ (a &* 0xA24B_AED4_963E_E407) ^ (b &* 0x9FB2_1C65_1E98_DF25))
    _ = g.next()
    return g.next()
}
