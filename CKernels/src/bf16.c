// bf16 ↔ float conversions and the bf16 dot-product peak probe.
// Sizes: n values. The scalar rule (ck_ref_f32_to_bf16) is VCVTNE2PS2BF16's, compared on all 2³²
// floats on a Zen 5: round to nearest even, NaN made quiet (never rounded into Inf), subnormal
// inputs to ±0. The portable loop and the AVX512-BF16 loop give the same bits.
#include "ck_internal.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);     // ±0 and subnormals
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t b) {
    const uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ck_ref_f32_to_bf16(float x) { return to_bf16(x); }
float ck_ref_bf16_to_f32(uint16_t x) { return from_bf16(x); }

#define CHUNK 4096 // values per parallel item

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void to_bf16_run_avx512(uint16_t *restrict y,
                                                                                     const float *restrict x,
                                                                                     ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512((void *)(y + i), (__m512i)v);
    }
    for (; i < n; i++) y[i] = to_bf16(x[i]);
}
#endif

static void to_bf16_run(uint16_t *restrict y, const float *restrict x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = to_bf16(x[i]);
}

void ck_f32_to_bf16(uint16_t *y, const float *x, ptrdiff_t n) {
    const int native = ck_bf16_isa() == CK_BF16_AVX512;
    CK_PARALLEL_FOR(c, ck_ceil_div(n, CHUNK), n >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t lo = c * CHUNK, len = ck_min(CHUNK, n - lo);
#if defined(__x86_64__)
        if (native) { to_bf16_run_avx512(y + lo, x + lo, len); continue; }
#endif
        (void)native;
        to_bf16_run(y + lo, x + lo, len);
    );
}

void ck_bf16_to_f32(float *y, const uint16_t *x, ptrdiff_t n) {
    CK_PARALLEL_FOR(c, ck_ceil_div(n, CHUNK), n >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t lo = c * CHUNK, hi = ck_min(n, lo + CHUNK);
        for (ptrdiff_t i = lo; i < hi; i++) y[i] = from_bf16(x[i]);
    );
}

// MARK: - Peak probe

#if defined(__x86_64__)
#define CHAINS_BF16 16 // > 2 pipes × latency, as the FP32 probe
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static double chains_bf16_avx512(int64_t iters) {
    __m512 acc[CHAINS_BF16];
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380); // 1, ~6e-8
    for (int i = 0; i < CHAINS_BF16; i++) acc[i] = _mm512_set1_ps((float)i);
    for (int64_t k = 0; k < iters; k++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < CHAINS_BF16; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS_BF16; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s) == 12345.0f ? 0.0 : (double)CHAINS_BF16 * 16 * 4 * (double)iters;
}
#endif

double ck_bf16_peak_probe(int v, int threads, int64_t iters) {
    if (!ck_bf16_isa_supported(v) || iters <= 0) return 0.0;
    if (v == CK_BF16_WIDEN) return ck_fma_peak_probe(ck_isa(), threads, iters);
#if defined(__x86_64__)
#ifdef _OPENMP
    if (threads > 1) {
        double part[1024] = {0}, flops = 0.0;
        threads = threads > 1024 ? 1024 : threads;
#pragma omp parallel num_threads(threads)
        part[omp_get_thread_num()] = chains_bf16_avx512(iters);
        for (int t = 0; t < threads; t++) flops += part[t];
        return flops;
    }
#endif
    (void)threads;
    return chains_bf16_avx512(iters);
#else
    (void)threads;
    return 0.0;
#endif
}
