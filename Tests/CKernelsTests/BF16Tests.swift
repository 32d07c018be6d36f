import CKernels
import Testing

/// Every (FP32 ISA, bf16 variant) pair this machine can run: the widening path over each FP32
/// micro-kernel, and VDPBF16PS where the CPU has it.
let bf16Variants: [(isa: Int32, bf16: Int32)] =
    kernelISAs.map { ($0, Int32(CK_BF16_WIDEN)) }
    + (ck_bf16_isa_supported(Int32(CK_BF16_AVX512)) != 0 ? [(Int32(CK_ISA_AVX512), Int32(CK_BF16_AVX512))] : [])

func withBF16Variant<T>(_ v: (isa: Int32, bf16: Int32), _ body: () throws -> T) rethrows -> T {
    try withISA(v.isa) {
        precondition(ck_set_bf16_isa(v.bf16) == 0, "bf16 variant \(v.bf16) unsupported")
        defer { ck_set_bf16_isa(-1) }
        return try body()
    }
}

func variantName(_ v: (isa: Int32, bf16: Int32)) -> String {
    "\(isaName(v.isa))/\(String(cString: ck_bf16_isa_name(v.bf16)))"
}

func bf16(_ x: [Float]) -> [UInt16] { x.map { ck_ref_f32_to_bf16($0) } }
func widened(_ x: [UInt16]) -> [Float] { x.map { ck_ref_bf16_to_f32($0) } }

@Suite("bf16") struct BF16Tests {
    // MARK: conversions

    @Test("scalar rule: nearest even, ties, NaN stays NaN, subnormals to signed zero, overflow to Inf")
    func scalarRule() {
        func conv(_ bits: UInt32) -> UInt16 { ck_ref_f32_to_bf16(Float(bitPattern: bits)) }
        #expect(conv(0x3F80_0000) == 0x3F80)           // 1
        #expect(conv(0x3F80_8000) == 0x3F80)           // tie, even stays
        #expect(conv(0x3F81_8000) == 0x3F82)           // tie, odd rounds up
        #expect(conv(0x3F80_8001) == 0x3F81)           // above the tie
        #expect(conv(0x7F7F_FFFF) == 0x7F80)           // largest float rounds to Inf
        #expect(conv(0x7F80_0000) == 0x7F80 && conv(0xFF80_0000) == 0xFF80)
        #expect(conv(0x7FFF_FFFF) == 0x7FFF)           // NaN never becomes Inf
        #expect(conv(0x7F80_0001) == 0x7FC0)           // signalling NaN made quiet
        #expect(conv(0x0000_0001) == 0x0000 && conv(0x807F_FFFF) == 0x8000) // subnormals
        #expect(conv(0x0080_0000) == 0x0080)           // smallest normal kept
        #expect(ck_ref_bf16_to_f32(0xC0A0) == -5)
    }

    @Test("vector conversions equal the scalar rule on 2²² bit patterns, every variant", arguments: bf16Variants)
    func conversions(v: (isa: Int32, bf16: Int32)) {
        let n = 1 << 22
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n { x[i] = Float(bitPattern: UInt32(truncatingIfNeeded: i &* 1031 &+ (i << 22) ^ (i >> 3))) }
        var y = [UInt16](repeating: 1, count: n), back = [Float](repeating: 1, count: n)
        withBF16Variant(v) {
            ck_f32_to_bf16(&y, x, n)
            ck_bf16_to_f32(&back, y, n)
        }
        let first = (0..<n).first { y[$0] != ck_ref_f32_to_bf16(x[$0]) }
        #expect(first == nil, "\(variantName(v)): \(first.map { String(x[$0].bitPattern, radix: 16) } ?? "")")
        let firstBack = (0..<n).first { back[$0].bitPattern != UInt32(y[$0]) << 16 }
        #expect(firstBack == nil, "\(variantName(v)) widening")
    }

    // MARK: GEMM

    func gemm(_ v: (isa: Int32, bf16: Int32), _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int,
              alpha: Float, beta: Float, a: [UInt16], b: [UInt16], c: [Float]) -> [Float] {
        let C = Buf(c), ws = Buf(ck_gemm_bf16_workspace_size(m, n, k))
        withBF16Variant(v) {
            ck_gemm_bf16(ta, tb, m, n, k, alpha, a, ta == 0 ? k : m, b, tb == 0 ? n : k, beta, C.p, n, ws.p)
        }
        return C.array
    }

    func reference(_ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, alpha: Float, beta: Float,
                   a: [UInt16], b: [UInt16], c: [Float]) -> [Float] {
        let C = Buf(c)
        ck_ref_gemm_bf16(ta, tb, m, n, k, alpha, a, ta == 0 ? k : m, b, tb == 0 ? n : k, beta, C.p, n)
        return C.array
    }

    @Test("small integers: exact for every size, transpose and variant (K odd, across slices)",
          arguments: bf16Variants)
    func exactIntegers(v: (isa: Int32, bf16: Int32)) {
        var rng = TestRNG(11)
        for (ta, tb) in GemmTests.transposes {
            for m in [1, 7, 17, 33] { for n in [1, 8, 17, 49] { for k in [1, 2, 17, 300, 521] {
                let a = bf16(rng.ints(m * k)), b = bf16(rng.ints(k * n)), c = rng.ints(m * n)
                expectBitwise(gemm(v, ta, tb, m, n, k, alpha: 1, beta: 1, a: a, b: b, c: c),
                              reference(ta, tb, m, n, k, alpha: 1, beta: 1, a: a, b: b, c: c),
                              "gemm_bf16 \(variantName(v)) \(ta)\(tb) \(m)x\(n)x\(k)")
            } } }
        }
    }

    @Test("random inputs within rtol 1e-4 / atol 1e-5 of the double reference; beta = 0 over NaN",
          arguments: bf16Variants)
    func randomTolerance(v: (isa: Int32, bf16: Int32)) {
        var rng = TestRNG(12)
        for (m, n, k) in [(64, 200, 513), (129, 31, 260), (5, 1000, 9), (9, 4100, 3)] {
            for (ta, tb) in GemmTests.transposes {
                let a = bf16(rng.uniform(m * k)), b = bf16(rng.uniform(k * n)), c = rng.uniform(m * n)
                let beta: Float = m == 9 ? 0 : -1.5, c0 = m == 9 ? [Float](repeating: .nan, count: m * n) : c
                expectClose(gemm(v, ta, tb, m, n, k, alpha: 0.5, beta: beta, a: a, b: b, c: c0),
                            reference(ta, tb, m, n, k, alpha: 0.5, beta: beta, a: a, b: b, c: c0),
                            "gemm_bf16 random \(variantName(v)) \(ta)\(tb) \(m)x\(n)x\(k)")
            }
        }
    }

    /// Values whose products and partial sums are often subnormal: only VDPBF16PS's exact order
    /// with DAZ + FTZ makes the variants agree here.
    func tiny(_ rng: inout TestRNG, _ n: Int) -> [UInt16] {
        rng.uniform(n).map { ck_ref_f32_to_bf16($0 * Float(sign: .plus, exponent: -60 - Int(rng.next() % 10),
                                                                    significand: 1)) }
    }

    @Test("every variant gives the same bits as the first, on normal and subnormal-range data")
    func sameBitsAcrossVariants() {
        var rng = TestRNG(13)
        let (m, n, k) = (37, 101, 530)
        let sets: [([UInt16], [UInt16])] = [(bf16(rng.uniform(m * k)), bf16(rng.uniform(k * n))),
                                            (tiny(&rng, m * k), tiny(&rng, k * n))]
        for (a, b) in sets {
            let c = rng.uniform(m * n).map { $0 * 1e-36 }
            let first = gemm(bf16Variants[0], 0, 1, m, n, k, alpha: 1, beta: 1, a: a, b: b, c: c)
            for v in bf16Variants.dropFirst() {
                expectBitwise(gemm(v, 0, 1, m, n, k, alpha: 1, beta: 1, a: a, b: b, c: c), first,
                              "gemm_bf16 \(variantName(v)) vs \(variantName(bf16Variants[0]))")
            }
        }
    }

    @Test("bitwise identical for 1-4 threads, per variant", arguments: bf16Variants)
    func threadCounts(v: (isa: Int32, bf16: Int32)) {
        var rng = TestRNG(14)
        let (m, n, k) = (300, 257, 600)
        let a = bf16(rng.uniform(m * k)), b = bf16(rng.uniform(k * n)), c = rng.uniform(m * n)
        expectSameForThreadCounts("gemm_bf16 \(variantName(v))") {
            gemm(v, 0, 0, m, n, k, alpha: 1, beta: 1, a: a, b: b, c: c)
        }
    }

    @Test("the peak probe counts FLOPs for each supported variant", arguments: bf16Variants)
    func peakProbe(v: (isa: Int32, bf16: Int32)) {
        let flops = withBF16Variant(v) { ck_bf16_peak_probe(v.bf16, 1, 100) }
        #expect(flops > 0)
    }
}
