// VDPBF16PS micro-kernel: an 8 × 48 tile as the FP32 AVX-512 one (24 zmm accumulators, 3 B̃ vectors
// per K pair, one 32-bit pair of A broadcast into each dot product), so it does twice the FLOPs per
// instruction. Compiled for AVX512-BF16 by the target attribute alone; reached only when CPUID says so.
#include "gemm_bf16.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,avx2,fma"))), \
                             apply_to = function)

#define UK_MR 8
#define UK_NV 3
#define UK_NR (16 * UK_NV)

static void tile_bf16_avx512(ptrdiff_t kp, const uint32_t *restrict a, const uint32_t *restrict b,
                             float *restrict c, ptrdiff_t ldc, float alpha, float beta) {
    __m512 acc[UK_MR][UK_NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < UK_MR; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j <= UK_NV; j++)
            _mm_prefetch((const char *)(c + i * ldc + ck_min(16 * j, UK_NR - 1)), _MM_HINT_T0);
#pragma clang loop unroll_count(2)
    for (ptrdiff_t q = 0; q < kp; q++) {
        __m512bh bv[UK_NV];
#pragma clang loop unroll(full)
        for (int j = 0; j < UK_NV; j++) bv[j] = (__m512bh)_mm512_load_si512((const void *)(b + q * UK_NR + 16 * j));
#pragma clang loop unroll(full)
        for (int i = 0; i < UK_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[q * UK_MR + i]);
#pragma clang loop unroll(full)
            for (int j = 0; j < UK_NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], bv[j], ai);
        }
    }
    // The FP32 tiles' epilogue, so the widening path gives the same bits; all loads of C first.
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

const ck_gemm_bf16_ukernel ck_gemm_bf16_ukernel_avx512 = {"avx512bf16 8x48", UK_MR, UK_NR, tile_bf16_avx512};
#else
const ck_gemm_bf16_ukernel ck_gemm_bf16_ukernel_avx512 = {0};
#endif
