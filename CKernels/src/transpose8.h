// An 8 × 8 block transpose in ymm registers, the core of packing the GEMM operands that arrive
// the wrong way round (A's rows into (kc, mr) panels, Bᵀ's rows into (kc, nr) slivers).
// Include inside a region compiled for AVX2 or better (the gemm_<isa>.c files).
#ifndef CK_TRANSPOSE8_H
#define CK_TRANSPOSE8_H
#include <immintrin.h>

// out[r·ld + k] = in[k][r] for r < 8, k < lanes (lanes ≤ 8); a NULL row reads as zeros.
static inline void ck_transpose8x8(float *out, ptrdiff_t ld, const float *const in[8], ptrdiff_t off,
                                   int lanes) {
    __m256 r[8];
    for (int k = 0; k < 8; k++) r[k] = in[k] ? _mm256_loadu_ps(in[k] + off) : _mm256_setzero_ps();
    __m256 t[8], s[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]); // r_k0 r_{k+1}0 r_k1 r_{k+1}1 | same at 4, 5
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int h = 0; h < 8; h += 4) { // rows h..h+3: columns (0|4), (1|5), (2|6), (3|7)
        s[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
        s[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
        s[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        s[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    __m256 o[8];
    for (int c = 0; c < 4; c++) {
        o[c] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x20);
        o[c + 4] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x31);
    }
    if (lanes == 8) {
        for (int c = 0; c < 8; c++) _mm256_storeu_ps(out + c * ld, o[c]);
    } else {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int c = 0; c < 8; c++) _mm256_maskstore_ps(out + c * ld, mask, o[c]);
    }
}
#endif
