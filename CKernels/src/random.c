// Counter-based random numbers: value i depends on (seed, offset + i) only, so any split of the
// work over threads or data-parallel workers draws the same numbers.
#include "ck_internal.h"
#include <math.h>

float ck_uniform01(uint64_t seed, uint64_t counter) {
    return (float)(ck_hash64(seed, counter) >> 40) * 0x1.0p-24f; // 24 random bits: [0, 1)
}

void ck_fill_uniform(float *out, float lo, float hi, uint64_t seed, uint64_t offset, ptrdiff_t n) {
    CK_PARALLEL_FOR(i, n, n >= CK_PAR_MIN_ELEMS,
        out[i] = lo + (hi - lo) * ck_uniform01(seed, offset + (uint64_t)i);
    );
}

// Box-Muller on two counters per value (2i, 2i+1), in double: no pairing between neighbours,
// so element i does not depend on whether i−1 was drawn.
void ck_fill_normal(float *out, uint64_t seed, uint64_t offset, ptrdiff_t n) {
    CK_PARALLEL_FOR(i, n, n >= CK_PAR_MIN_ELEMS,
        const uint64_t c = 2 * (offset + (uint64_t)i);
        const double u1 = ((double)(ck_hash64(seed, c) >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
        const double u2 = (double)(ck_hash64(seed, c + 1) >> 11) * 0x1.0p-53;
        out[i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    );
}

void ck_dropout_forward(float *y, uint8_t *mask, const float *x, float p, uint64_t seed,
                        uint64_t offset, ptrdiff_t n) {
    const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    CK_PARALLEL_FOR(i, n, n >= CK_PAR_MIN_ELEMS,
        const uint8_t keep = ck_uniform01(seed, offset + (uint64_t)i) >= p;
        mask[i] = keep;
        y[i] = keep ? x[i] * keep_scale : 0.0f;
    );
}

void ck_dropout_backward(float *dx, const float *dy, const uint8_t *mask, float p, ptrdiff_t n) {
    const float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, dx[i] += mask[i] ? dy[i] * keep_scale : 0.0f;);
}
