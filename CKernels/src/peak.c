// The machine's FP32 FMA ceiling, measured: independent accumulator chains (more than latency ×
// pipes, so the FMA units never wait on a result) in each ISA's widest registers. Every
// efficiency figure GoodInit quotes is a share of what this measures on the machine at hand.
#include "ck_internal.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// 4-wide vectors: the portable variant's width (SSE2 / NEON).
typedef float v4f __attribute__((vector_size(16)));

#define CHAINS 12 // > 2 pipes × 4 cycles; 12 ymm + 2 constants fit AVX2's 16 registers

static double chains_portable(int64_t iters) {
    v4f acc[CHAINS];
    const v4f x = {1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f}, y = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
    for (int i = 0; i < CHAINS; i++) acc[i] = (v4f){(float)i, 0, 0, 0};
    for (int64_t k = 0; k < iters; k++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * x + y;
    }
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += acc[i][0] + acc[i][3];
    return s == 12345.0f ? 0.0 : (double)CHAINS * 4 * 2 * (double)iters; // keeps the result live
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static double chains_avx2(int64_t iters) {
    __m256 acc[CHAINS];
    const __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (int64_t k = 0; k < iters; k++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    return _mm256_cvtss_f32(s) == 12345.0f ? 0.0 : (double)CHAINS * 8 * 2 * (double)iters;
}

#define CHAINS512 16 // AVX-512 has 32 zmm registers: more chains, same pipes
__attribute__((target("avx512f,avx2,fma"))) static double chains_avx512(int64_t iters) {
    __m512 acc[CHAINS512];
    const __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS512; i++) acc[i] = _mm512_set1_ps((float)i);
    for (int64_t k = 0; k < iters; k++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < CHAINS512; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS512; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s) == 12345.0f ? 0.0 : (double)CHAINS512 * 16 * 2 * (double)iters;
}
#endif

static double chains(int isa, int64_t iters) {
#if defined(__x86_64__)
    if (isa == CK_ISA_AVX512) return chains_avx512(iters);
    if (isa == CK_ISA_AVX2) return chains_avx2(iters);
#endif
    return chains_portable(iters);
}

double ck_fma_peak_probe(int isa, int threads, int64_t iters) {
    if (!ck_isa_supported(isa) || iters <= 0) return 0.0;
    double flops = 0.0;
#ifdef _OPENMP
    if (threads > 1) {
        double part[1024] = {0};
        threads = threads > 1024 ? 1024 : threads;
#pragma omp parallel num_threads(threads)
        part[omp_get_thread_num()] = chains(isa, iters);
        for (int t = 0; t < threads; t++) flops += part[t]; // in thread order
        return flops;
    }
#endif
    (void)threads;
    return chains(isa, iters);
}
