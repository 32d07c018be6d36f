// Private helpers shared by the kernel files.
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H
#include "CKernels.h"
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// Below this many elements an elementwise kernel stays on one thread: a fork/join costs more.
#define CK_PAR_MIN_ELEMS ((ptrdiff_t)1 << 15)

static inline ptrdiff_t ck_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t ck_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static inline ptrdiff_t ck_ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

// A GEMM operand as stored (before op()): element (r, c) sits at p[(c / blk)·bstride + r·ld + c % blk].
// blk = PTRDIFF_MAX is the plain row-major matrix. A group of NCHW images read as one
// (channels, images·pixels) matrix has ld = blk = pixels and bstride = channels·pixels, so
// convolutions multiply whole groups of images without copying them side by side first.
// Column blocks are only supported untransposed (trans = 0).
typedef struct {
    const float *p;
    ptrdiff_t ld, blk, bstride;
    int trans;
} ck_matrix;

static inline ck_matrix ck_plain_matrix(const float *p, ptrdiff_t ld, int trans) {
    return (ck_matrix){p, ld, PTRDIFF_MAX, 0, trans};
}

// The batch of `images` NCHW planes at p, (channels, pixels) each, as one (channels, images·pixels) matrix.
static inline ck_matrix ck_image_matrix(const float *p, ptrdiff_t channels, ptrdiff_t pixels) {
    return (ck_matrix){p, pixels, pixels, channels * pixels, 0};
}

// C = alpha·op(A)·op(B) + beta·C over ck_matrix operands (gemm.c); ck_sgemm is the plain case.
void ck_sgemm_blocked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const ck_matrix *A,
                      const ck_matrix *B, float beta, const ck_matrix *C, float *workspace);

// The counter-based hash behind every random number (dropout, init): a splitmix64-style
// finalizer over (seed, counter). Pure function of its inputs: no state, no thread coupling.
static inline uint64_t ck_hash64(uint64_t seed, uint64_t counter) {
    uint64_t z = counter * 0x9E3779B97F4A7C15ull + (seed ^ 0xD1B54A32D192ED03ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    z += seed * 0xA24BAED4963EE407ull;
    z = (z ^ (z >> 29)) * 0x9FB21C651E98DF25ull;
    return z ^ (z >> 32);
}
#endif
