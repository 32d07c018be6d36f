// AVX-512 micro-kernels of the blocked 3×3 convolution (conv_blocked.h has the contract).
// Forward / backward-data: a tile of np output pixels × nk ≤ 2 output-channel blocks in np·nk ≤ 28
// zmm accumulators (two FMA pipes × 4-cycle latency need ≥ 8); per input channel nk weight vectors and
// one broadcast input value per pixel, folded into the FMA. Taps off the image are skipped per
// tile edge, never multiplied by zeros. Weight gradient: 3 taps × 8 channels = 24 accumulators;
// per input pixel 8 broadcasts and 3 output-gradient vectors feed 24 FMAs.
#include "conv_blocked.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)

#define AI static inline __attribute__((always_inline))

// acc[i][j] += x(pixel i, tap s, channel c) · w(tap s, channel c, block j) for pixels i0 ≤ i < i1.
AI void tap(__m512 acc[28][2], const float *xr, const float *wr, ptrdiff_t wkstride, ptrdiff_t cn,
            const int s, const int i0, const int i1, const int NK) {
    for (ptrdiff_t c = 0; c < cn; c++) {
        __m512 wv[2];
#pragma clang loop unroll(full)
        for (int j = 0; j < NK; j++) wv[j] = _mm512_loadu_ps(wr + s * CB2 + c * CB + j * wkstride);
#pragma clang loop unroll(full)
        for (int i = i0; i < i1; i++) {
            const __m512 xv = _mm512_set1_ps(xr[(i + s - 1) * CB + c]);
#pragma clang loop unroll(full)
            for (int j = 0; j < NK; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
}

AI void fwd_tile(const ck_convb_row *a, ptrdiff_t q0, const int NP, const int NK) {
    __m512 acc[28][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NK; j++) acc[i][j] = a->bias ? _mm512_loadu_ps(a->bias + j * CB) : _mm512_setzero_ps();
    const ptrdiff_t W = a->W, p = a->p, HW16 = a->H * W * CB;
    const int left = q0 == 0, right = q0 + NP == W;
    const ptrdiff_t r0 = p == 0 ? 1 : 0, r1 = p == a->H - 1 ? 2 : 3;
    for (ptrdiff_t cb = 0; cb < a->Cb; cb++) {
        const ptrdiff_t cn = cb == a->Cb - 1 ? a->cn_last : CB;
        for (ptrdiff_t r = r0; r < r1; r++) {
            const float *xr = a->x + cb * HW16 + ((p + r - 1) * W + q0) * CB;
            const float *wr = a->w + (cb * 9 + r * 3) * CB2;
            if (left) tap(acc, xr, wr, a->wkstride, cn, 0, 1, NP, NK);
            else tap(acc, xr, wr, a->wkstride, cn, 0, 0, NP, NK);
            tap(acc, xr, wr, a->wkstride, cn, 1, 0, NP, NK);
            if (right) tap(acc, xr, wr, a->wkstride, cn, 2, 0, NP - 1, NK);
            else tap(acc, xr, wr, a->wkstride, cn, 2, 0, NP, NK);
        }
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < NK; j++)
#pragma clang loop unroll(full)
        for (int i = 0; i < NP; i++) {
            float *y = a->y + j * a->ykstride + (q0 + i) * CB;
            _mm512_storeu_ps(y, a->accumulate ? _mm512_add_ps(_mm512_loadu_ps(y), acc[i][j]) : acc[i][j]);
        }
}

#define TILE_FN(NK, NP) \
    static void tile_##NK##_##NP##_avx512(const ck_convb_row *a, ptrdiff_t q0) { fwd_tile(a, q0, NP, NK); }
#define TILE_REF(NK, NP) tile_##NK##_##NP##_avx512,
#define REP7(M, NK) M(NK, 1) M(NK, 2) M(NK, 3) M(NK, 4) M(NK, 5) M(NK, 6) M(NK, 7)
#define REP14(M, NK) REP7(M, NK) M(NK, 8) M(NK, 9) M(NK, 10) M(NK, 11) M(NK, 12) M(NK, 13) M(NK, 14)
#define REP28(M, NK) REP14(M, NK) M(NK, 15) M(NK, 16) M(NK, 17) M(NK, 18) M(NK, 19) M(NK, 20) M(NK, 21) \
    M(NK, 22) M(NK, 23) M(NK, 24) M(NK, 25) M(NK, 26) M(NK, 27) M(NK, 28)
REP28(TILE_FN, 1)
REP14(TILE_FN, 2)

typedef void (*tile_fn)(const ck_convb_row *, ptrdiff_t);
static const tile_fn tiles1[29] = {NULL, REP28(TILE_REF, 1)};
static const tile_fn tiles2[15] = {NULL, REP14(TILE_REF, 2)};

// The row in the fewest tiles of at most 28 / nk pixels, of nearly equal width.
static void row_avx512(const ck_convb_row *a) {
    const tile_fn *table = a->nk == 2 ? tiles2 : tiles1;
    const ptrdiff_t npmax = 28 / a->nk, tiles = ck_ceil_div(a->W, npmax);
    for (ptrdiff_t t = 0; t < tiles; t++) {
        const ptrdiff_t q0 = t * a->W / tiles, q1 = (t + 1) * a->W / tiles;
        table[q1 - q0](a, q0);
    }
}

// Input pixel at xp (its 8 channels), output gradient at dyq − s·16 for tap s (column w + 1 − s).
AI void wpix(__m512 acc[3][8], const float *xp, const float *dyq, const int s0, const int s1) {
    __m512 d[3];
#pragma clang loop unroll(full)
    for (int s = s0; s < s1; s++) d[s] = _mm512_loadu_ps(dyq - s * CB);
#pragma clang loop unroll(full)
    for (int c = 0; c < CK_CONVB_UNIT_C; c++) {
        const __m512 xv = _mm512_set1_ps(xp[c]);
#pragma clang loop unroll(full)
        for (int s = s0; s < s1; s++) acc[s][c] = _mm512_fmadd_ps(xv, d[s], acc[s][c]);
    }
}

static void wunit_avx512(const ck_convb_wunit *u) {
    __m512 acc[3][8];
#pragma clang loop unroll(full)
    for (int s = 0; s < 3; s++)
#pragma clang loop unroll(full)
        for (int c = 0; c < CK_CONVB_UNIT_C; c++) acc[s][c] = _mm512_setzero_ps();
    const ptrdiff_t W = u->W, h0 = ck_max(0, u->r - 1), h1 = ck_min(u->H, u->H + u->r - 1);
    for (ptrdiff_t h = h0; h < h1; h++) {
        const float *xp = u->x + h * W * CB + u->c0;
        const float *dyq = u->dy + ((h + 1 - u->r) * W + 1) * CB; // column w + 1 at dyq + w·16
        if (W == 1) { wpix(acc, xp, dyq, 1, 2); continue; }
        wpix(acc, xp, dyq, 0, 2);
        for (ptrdiff_t w = 1; w < W - 1; w++) wpix(acc, xp + w * CB, dyq + w * CB, 0, 3);
        wpix(acc, xp + (W - 1) * CB, dyq + (W - 1) * CB, 1, 3);
    }
#pragma clang loop unroll(full)
    for (int s = 0; s < 3; s++)
#pragma clang loop unroll(full)
        for (int c = 0; c < CK_CONVB_UNIT_C; c++) {
            float *d = u->dw + s * CB2 + (u->c0 + c) * CB;
            _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[s][c]));
        }
}
#pragma clang attribute pop

const ck_convb_kernels ck_convb_kernels_avx512 = {"avx512 28-pixel rows", 2, 2, row_avx512, wunit_avx512};
#else
const ck_convb_kernels ck_convb_kernels_avx512 = {0};
#endif
