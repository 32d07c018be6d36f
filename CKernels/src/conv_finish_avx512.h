// The blocked convolutions' store finish in AVX-512 registers (ck_conv_finish's, ck_internal.h):
// included by the _avx512 kernel files inside their target pragma, so it compiles for AVX-512 only.
#ifndef CK_CONV_FINISH_AVX512_H
#define CK_CONV_FINISH_AVX512_H
#include <immintrin.h>

// v where ck_relu_passes(b's lanes) holds, else +0.
static inline __attribute__((always_inline)) __m512 ck_passing_avx512(__m512 v, __m512i b, int32_t low) {
    const __mmask16 k = _mm512_cmpgt_epi32_mask(b, _mm512_set1_epi32(low))
                      & _mm512_cmple_epi32_mask(b, _mm512_set1_epi32(0x7f800000));
    return _mm512_maskz_mov_ps(k, v);
}

// The vector stored at y: acc (added to y's value when accumulating), then the fused ReLU on its
// own bits, or the ReLU's backward on the mask's element at the same offset.
static inline __attribute__((always_inline)) void ck_finish_store_avx512(float *y, __m512 acc, int accumulate,
                                                                         int relu, const float *mask, int32_t low) {
    __m512 v = accumulate ? _mm512_add_ps(_mm512_loadu_ps(y), acc) : acc;
    if (relu) v = ck_passing_avx512(v, _mm512_castps_si512(v), low);
    if (mask) v = ck_passing_avx512(v, _mm512_loadu_si512(mask), low);
    _mm512_storeu_ps(y, v);
}
#endif
