import CKernels

/// The vector instruction set the C kernels run. They carry a micro-kernel for each and choose from
/// CPUID at run time (one binary for AVX2-only and AVX-512 machines). The choice is per thread, like
/// the OpenMP thread count; `GOODINIT_ISA` caps it for the whole process. The variants sum every
/// element with the same FMAs in the same order: AVX2 and AVX-512 machines get the same bits.
public enum ISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case portable = 0, avx2 = 1, avx512 = 2

    public var description: String { String(cString: ck_isa_name(rawValue)) }

    public init?(name: String) {
        let raw = ck_isa_from_name(name)
        guard raw >= 0 else { return nil }
        self.init(rawValue: raw)
    }

    /// The best this process may use (the default): the CPU's best, capped by GOODINIT_ISA.
    public static var best: ISA { ISA(rawValue: ck_isa_best()) ?? .portable }
    /// What kernels called from this thread use.
    public static var current: ISA { ISA(rawValue: ck_isa()) ?? .portable }
    /// Every variant this process can run, narrowest first.
    public static var supported: [ISA] { allCases.filter(\.isSupported) }

    public var isSupported: Bool { ck_isa_supported(rawValue) != 0 }
    /// The GEMM micro-kernel this variant uses ("avx512 8x48", …).
    public var gemmKernelName: String { ISA.with(self) { String(cString: ck_gemm_kernel_name()) } }

    /// Runs body with this thread's kernels set to `isa` (which must be supported).
    public static func with<T>(_ isa: ISA, _ body: () throws -> T) rethrows -> T {
        precondition(isa.isSupported, "ISA \(isa) is not supported here")
        let saved = current
        ck_set_isa(isa.rawValue)
        defer { ck_set_isa(saved.rawValue) }
        return try body()
    }
}

/// The bf16 kernel variant: VDPBF16PS where the CPU has AVX512-BF16 and the thread's ISA is AVX-512,
/// else bf16 widened to float through the thread's FP32 micro-kernels. Both give the same bits.
public enum BF16Variant: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case widen = 0, avx512bf16 = 1

    public var description: String { String(cString: ck_bf16_isa_name(rawValue)) }
    /// The best this process may use (GOODINIT_ISA and GOODINIT_BF16=widen cap it).
    public static var best: BF16Variant { BF16Variant(rawValue: ck_bf16_isa_best()) ?? .widen }
    /// What bf16 kernels called from this thread use.
    public static var current: BF16Variant { BF16Variant(rawValue: ck_bf16_isa()) ?? .widen }
    public var isSupported: Bool { ck_bf16_isa_supported(rawValue) != 0 }
    /// The bf16 GEMM micro-kernel the calling thread uses ("avx512bf16 8x48", "widen avx2+fma 6x16").
    public static var gemmKernelName: String { String(cString: ck_gemm_bf16_kernel_name()) }

    /// Runs body with this thread's bf16 kernels set to `variant` (which must be supported).
    public static func with<T>(_ variant: BF16Variant, _ body: () throws -> T) rethrows -> T {
        precondition(variant.isSupported, "bf16 variant \(variant) is not supported here")
        ck_set_bf16_isa(variant.rawValue)
        defer { ck_set_bf16_isa(-1) }
        return try body()
    }
}
