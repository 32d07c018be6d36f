// AVX2 + FMA micro-kernel: a 6 × 16 tile, 12 ymm accumulators + 2 B̃ vectors + 1 broadcast = 15
// of the 16 ymm registers (two FMA pipes × 4-cycle latency need at least 8 in flight). For Zen 3
// and Haswell-class cores; also what an AVX-512 machine runs under GOODINIT_ISA=avx2.
#include "gemm_ukernel.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define UK_MR 6
#define UK_NV 2
#define UK_NR (8 * UK_NV)
#define UK_KC 256
#define UK_SUFFIX avx2
#define UK_TRANSPOSE8
#include "transpose8.h"
#include "gemm_pack.inc"

static void tile_avx2(ptrdiff_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                      ptrdiff_t ldc, float alpha, float beta) {
    __m256 acc[UK_MR][UK_NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++) {
#pragma clang loop unroll(full)
        for (int j = 0; j <= UK_NV; j += 2) // the row's 64 bytes span at most two lines
            _mm_prefetch((const char *)(c + i * ldc + ck_min(8 * j, UK_NR - 1)), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm256_setzero_ps();
    }
#pragma clang loop unroll_count(4)
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m256 bv[UK_NV];
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) bv[j] = _mm256_load_ps(b + p * UK_NR + 8 * j);
#pragma clang loop unroll(full)
        for (int i = 0; i < UK_MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + p * UK_MR + i);
#pragma clang loop unroll(full)
            for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm256_fmadd_ps(ai, bv[j], acc[i][j]);
        }
    }
    // All loads of C before any store: rows ldc apart alias in the store buffer when ldc is a
    // multiple of 4 KB (1024 floats), and a load behind an aliasing store waits for it.
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) {
            acc[i][j] = _mm256_mul_ps(va, acc[i][j]);
            if (beta != 0.0f) acc[i][j] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc + 8 * j), acc[i][j]);
        }
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) _mm256_storeu_ps(c + i * ldc + 8 * j, acc[i][j]);
}
#pragma clang attribute pop

const ck_gemm_ukernel ck_gemm_ukernel_avx2 = {"avx2+fma 6x16", UK_MR, UK_NR, UK_KC,
                                              pack_a_avx2, pack_b_avx2, tile_avx2};
#else
const ck_gemm_ukernel ck_gemm_ukernel_avx2 = {0};
#endif
