// The bf16 GEMM's register micro-kernel contract (gemm_bf16.c drives it; gemm_bf16_avx512.c has the
// VDPBF16PS one). K runs in pairs: a packed element is one 32-bit word holding the bf16 pair
// (k = 2q low half, 2q + 1 high half), which VDPBF16PS multiplies and adds odd half first.
#ifndef CK_GEMM_BF16_H
#define CK_GEMM_BF16_H
#include "gemm_ukernel.h"

typedef struct {
    const char *name;
    ptrdiff_t mr, nr;
    // c (mr, nr), rows ldc apart: c = β·c + α·Σ_q dot(a[q·mr + i], b[q·nr + j]) over kp pairs, in the
    // FP32 tiles' epilogue (α·acc, then one FMA with β·c; β = 0 never reads c).
    void (*tile)(ptrdiff_t kp, const uint32_t *restrict a, const uint32_t *restrict b, float *restrict c,
                 ptrdiff_t ldc, float alpha, float beta);
} ck_gemm_bf16_ukernel;

extern const ck_gemm_bf16_ukernel ck_gemm_bf16_ukernel_avx512;
#endif
