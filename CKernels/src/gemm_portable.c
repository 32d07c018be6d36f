// Portable micro-kernel: a 4 × 8 tile in clang vector types of 16 bytes (SSE2 on any x86-64,
// NEON elsewhere). The fallback for CPUs without AVX2 + FMA, and the third variant the tests run.
#include "gemm_ukernel.h"

#define UK_MR 4
#define UK_NR 8
#define UK_KC 256
#define UK_SUFFIX portable
#include "gemm_pack.inc"

typedef float v4f __attribute__((vector_size(16), aligned(4)));

static void tile_portable(ptrdiff_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                          ptrdiff_t ldc, float alpha, float beta) {
    v4f acc[UK_MR][2];
    for (int i = 0; i < UK_MR; i++) acc[i][0] = acc[i][1] = (v4f){0};
    for (ptrdiff_t p = 0; p < kc; p++) {
        const v4f b0 = *(const v4f *)(b + p * UK_NR), b1 = *(const v4f *)(b + p * UK_NR + 4);
#pragma clang loop unroll(full)
        for (int i = 0; i < UK_MR; i++) {
            const float ai = a[p * UK_MR + i];
            acc[i][0] = acc[i][0] + ai * b0;
            acc[i][1] = acc[i][1] + ai * b1;
        }
    }
    for (int i = 0; i < UK_MR; i++)
        for (int j = 0; j < 2; j++) {
            v4f *cp = (v4f *)(c + i * ldc + 4 * j);
            const v4f r = alpha * acc[i][j];
            *cp = beta == 0.0f ? r : beta * *cp + r;
        }
}

const ck_gemm_ukernel ck_gemm_ukernel_portable = {"portable 4x8", UK_MR, UK_NR, UK_KC,
                                                  pack_a_portable, pack_b_portable, tile_portable};
