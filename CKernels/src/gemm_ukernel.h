// The GEMM's register micro-kernels, one per instruction set (gemm_portable.c, gemm_avx2.c,
// gemm_avx512.c), behind one contract so the blocking and threading in gemm.c is written once.
#ifndef CK_GEMM_UKERNEL_H
#define CK_GEMM_UKERNEL_H
#include "ck_internal.h"

typedef struct {
    const char *name;
    // Register tile (mr, nr) and K slice. kc is 256 in every variant: each element is then summed
    // in the same k groups everywhere, so the variants give the same bits (ISATests checks).
    ptrdiff_t mr, nr, kc;
    // Ã panel (kc, mr): panel[p·mr + i] = op(A)(i0 + i, p0 + p); rows i ≥ rows are zero.
    void (*pack_a)(float *restrict panel, const ck_matrix *A, ptrdiff_t i0, ptrdiff_t rows,
                   ptrdiff_t p0, ptrdiff_t kc);
    // B̃ sliver (kc, nr): sliver[p·nr + j] = op(B)(p0 + p, j0 + j); columns j ≥ cols are zero.
    void (*pack_b)(float *restrict sliver, const ck_matrix *B, ptrdiff_t p0, ptrdiff_t kc,
                   ptrdiff_t j0, ptrdiff_t cols);
    // c (mr, nr), rows ldc apart: c = β·c + α·Σ_p a[p·mr + i]·b[p·nr + j]; β = 0 never reads c.
    // The same instructions for every tile, so a value never depends on where tiles fall.
    void (*tile)(ptrdiff_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                 ptrdiff_t ldc, float alpha, float beta);
} ck_gemm_ukernel;

extern const ck_gemm_ukernel ck_gemm_ukernel_portable, ck_gemm_ukernel_avx2, ck_gemm_ukernel_avx512;

// Largest tile over all variants: sizes the edge buffer for any of them.
#define CK_GEMM_MAX_MR 8
#define CK_GEMM_MAX_NR 48

static inline const ck_gemm_ukernel *ck_gemm_ukernel_for(int isa) {
    switch (isa) {
    case CK_ISA_AVX512: return &ck_gemm_ukernel_avx512;
    case CK_ISA_AVX2: return &ck_gemm_ukernel_avx2;
    default: return &ck_gemm_ukernel_portable;
    }
}
#endif
