// AVX-512 micro-kernel: an 8 × 48 tile, 24 zmm accumulators (two FMA pipes × 4-cycle latency
// need at least 8 in flight), 3 B̃ vectors per k, A̅ broadcast from memory into each FMA. Eight
// rows waste nothing at 16/32/64 output channels. Compiled for AVX-512 by the target attribute
// alone; only reached when CPUID and the OS say AVX-512 is usable (isa.c).
#include "gemm_ukernel.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), \
                             apply_to = function)

#define UK_MR 8
#define UK_NV 3
#define UK_NR (16 * UK_NV)
#ifndef UK_KC
#define UK_KC 256
#endif // Ã panel 256 × 8 floats = 8 KB stays in L1; B̃ slivers (48 KB each) stream from L2
#define UK_SUFFIX avx512
#define UK_TRANSPOSE8
#include "transpose8.h"
#include "gemm_pack.inc"

// One k step: acc[i][·] += a[p·mr + i] · b[p·nr + ·].
static inline void step_avx512(__m512 acc[UK_MR][UK_NV], const float *restrict a, const float *restrict b,
                               ptrdiff_t p) {
    __m512 bv[UK_NV];
#pragma clang loop unroll(full)
    for (int j = 0; j < UK_NV; j++) bv[j] = _mm512_load_ps(b + p * UK_NR + 16 * j);
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++) {
        const __m512 ai = _mm512_set1_ps(a[p * UK_MR + i]);
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);
    }
}

// Prefetches the (mr, nr) block of C at c: every line its rows touch, aligned or not.
static inline void prefetch_c_avx512(const float *c, ptrdiff_t ldc) {
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j <= UK_NV; j++)
            _mm_prefetch((const char *)(c + i * ldc + ck_min(16 * j, UK_NR - 1)), _MM_HINT_T0);
}

static void tile_avx512(ptrdiff_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                        ptrdiff_t ldc, float alpha, float beta) {
    __m512 acc[UK_MR][UK_NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm512_setzero_ps();
    prefetch_c_avx512(c, ldc);
#pragma clang loop unroll_count(2)
    for (ptrdiff_t p = 0; p < kc; p++) step_avx512(acc, a, b, p);
    // All loads of C before any store: rows ldc apart alias in the store buffer when ldc is a
    // multiple of 4 KB (1024 floats), and a load behind an aliasing store waits for it.
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) {
            acc[i][j] = _mm512_mul_ps(va, acc[i][j]);
            if (beta != 0.0f) acc[i][j] = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc + 16 * j), acc[i][j]);
        }
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) _mm512_storeu_ps(c + i * ldc + 16 * j, acc[i][j]);
}
#pragma clang attribute pop

const ck_gemm_ukernel ck_gemm_ukernel_avx512 = {"avx512 8x48", UK_MR, UK_NR, UK_KC,
                                                pack_a_avx512, pack_b_avx512, tile_avx512};
#else
const ck_gemm_ukernel ck_gemm_ukernel_avx512 = {0};
#endif
