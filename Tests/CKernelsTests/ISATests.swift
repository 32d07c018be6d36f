import CKernels
import Testing

@Suite("Kernel variants (ISA)") struct ISATests {
    @Test("the best variant is supported, everything above it is refused, names round-trip")
    func selection() {
        let best = ck_isa_best()
        #expect(best >= 0 && best < Int32(CK_ISA_COUNT))
        for isa in 0..<Int32(CK_ISA_COUNT) {
            #expect((ck_isa_supported(isa) != 0) == (isa <= best), "supported(\(isaName(isa)))")
            #expect(ck_isa_from_name(ck_isa_name(isa)) == isa)
            if isa > best { #expect(ck_set_isa(isa) == -1, "setting unsupported \(isaName(isa)) must fail") }
        }
        #expect(ck_isa_from_name("sse9") == -1)
        #expect(ck_set_isa(99) == -1)
        #expect(ck_isa() == best, "a refused ck_set_isa must leave the default in place")
    }

    @Test("ck_set_isa switches this thread's GEMM micro-kernel and -1 restores the default", arguments: kernelISAs)
    func switching(isa: Int32) {
        let name = withISA(isa) { () -> String in
            #expect(ck_isa() == isa)
            return String(cString: ck_gemm_kernel_name())
        }
        #expect(name.hasPrefix(isaName(isa)), "kernel \(name) for \(isaName(isa))")
        #expect(ck_isa() == ck_isa_best())
    }

    @Test("AVX2 and AVX-512 give the same bits (same FMAs, same k order); portable within tolerance")
    func variantsAgree() {
        var rng = TestRNG(77)
        for (m, n, k, tb) in [(50, 130, 600, Int32(0)), (128, 10, 520, 1), (33, 300, 257, 1)] {
            let a = Buf(rng.uniform(m * k)), b = Buf(rng.uniform(k * n)), c0 = rng.uniform(m * n)
            let ws = Buf(ck_sgemm_workspace_size(m, n, k))
            let results = kernelISAs.map { isa in
                withISA(isa) { () -> [Float] in
                    let c = Buf(c0)
                    ck_sgemm(0, tb, m, n, k, 1, a.p, k, b.p, tb == 0 ? n : k, 1, c.p, n, ws.p)
                    return c.array
                }
            }
            let shape = "\(m)x\(n)x\(k)"
            for (i, r) in results.enumerated().dropFirst() {
                expectClose(r, results[0], rtol: 1e-4, atol: 1e-4, "\(isaName(kernelISAs[i])) vs portable \(shape)")
            }
            if results.count == 3 { expectBitwise(results[1], results[2], "avx2 vs avx512 \(shape)") }
        }
    }

    @Test("the FMA probe counts its FLOPs for every supported variant and refuses the others")
    func peakProbe() {
        for isa in 0..<Int32(CK_ISA_COUNT) {
            let flops = ck_fma_peak_probe(isa, 1, 1000)
            if ck_isa_supported(isa) != 0 { #expect(flops > 0, "\(isaName(isa))") } else { #expect(flops == 0) }
        }
        let two = ck_fma_peak_probe(ck_isa_best(), 2, 1000), one = ck_fma_peak_probe(ck_isa_best(), 1, 1000)
        #expect(two == 2 * one, "two threads do twice the work of one")
    }
}
