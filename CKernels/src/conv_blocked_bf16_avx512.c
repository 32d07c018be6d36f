// VDPBF16PS row kernel of the blocked bf16 3×3 convolution (conv_blocked_bf16.h has the contract):
// a tile of np output pixels × nk ≤ 2 output blocks in np·nk ≤ 28 zmm accumulators; per (tap, channel
// pair) nk weight vectors and one broadcast 32-bit input pair per pixel, each dot product two FMAs.
// The broadcast pair is VDPBF16PS's last operand so that it folds into the instruction ({1to16}): on
// Zen 4 a separate VBROADCASTSS per dot product costs a quarter of the peak. The products commute,
// so the swap changes no bit.
// Taps off the image are skipped per tile edge.
#include "conv_blocked_bf16.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,avx2,fma"))), \
                             apply_to = function)
#include "conv_finish_avx512.h"

#define AI static inline __attribute__((always_inline))
#define CP (CB / 2)     // channel pairs per block
#define WTAP (CB * CB) // bf16 values per (tap) of one block pair: 8 pairs × 16 k × 2

AI void tap16(__m512 acc[28][2], const uint16_t *xr, const uint16_t *wr, ptrdiff_t wkstride, ptrdiff_t cpn,
              const int s, const int i0, const int i1, const int NK) {
    for (ptrdiff_t cp = 0; cp < cpn; cp++) {
        __m512bh wv[2];
#pragma clang loop unroll(full)
        for (int j = 0; j < NK; j++)
            wv[j] = (__m512bh)_mm512_loadu_si512((const void *)(wr + s * WTAP + cp * 2 * CB + j * wkstride));
#pragma clang loop unroll(full)
        for (int i = i0; i < i1; i++) {
            uint32_t pair;
            memcpy(&pair, xr + (i + s - 1) * CB + 2 * cp, 4);
            const __m512bh xv = (__m512bh)_mm512_set1_epi32((int)pair);
#pragma clang loop unroll(full)
            for (int j = 0; j < NK; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv[j], xv);
        }
    }
}

AI void tile16(const ck_convb16_row *a, ptrdiff_t q0, const int NP, const int NK) {
    __m512 acc[28][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NK; j++) acc[i][j] = a->bias ? _mm512_loadu_ps(a->bias + j * CB) : _mm512_setzero_ps();
    const ptrdiff_t W = a->W, p = a->p, HW16 = a->H * W * CB;
    const int left = q0 == 0, right = q0 + NP == W;
    const ptrdiff_t r0 = p == 0 ? 1 : 0, r1 = p == a->H - 1 ? 2 : 3;
    for (ptrdiff_t cb = 0; cb < a->Cb; cb++) {
        const ptrdiff_t cpn = cb == a->Cb - 1 ? a->cp_last : CP;
        for (ptrdiff_t r = r0; r < r1; r++) {
            const uint16_t *xr = a->x + cb * HW16 + ((p + r - 1) * W + q0) * CB;
            const uint16_t *wr = a->w + (cb * 9 + r * 3) * WTAP;
            if (left) tap16(acc, xr, wr, a->wkstride, cpn, 0, 1, NP, NK);
            else tap16(acc, xr, wr, a->wkstride, cpn, 0, 0, NP, NK);
            tap16(acc, xr, wr, a->wkstride, cpn, 1, 0, NP, NK);
            if (right) tap16(acc, xr, wr, a->wkstride, cpn, 2, 0, NP - 1, NK);
            else tap16(acc, xr, wr, a->wkstride, cpn, 2, 0, NP, NK);
        }
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < NK; j++)
#pragma clang loop unroll(full)
        for (int i = 0; i < NP; i++) {
            const ptrdiff_t at = j * a->ykstride + (q0 + i) * CB;
            ck_finish_store_avx512(a->y + at, acc[i][j], a->accumulate, a->relu, a->mask ? a->mask + at : NULL, a->low);
        }
}

#define TILE_FN(NK, NP) \
    static void tile16_##NK##_##NP##_avx512(const ck_convb16_row *a, ptrdiff_t q0) { tile16(a, q0, NP, NK); }
#define TILE_REF(NK, NP) tile16_##NK##_##NP##_avx512,
#define REP7(M, NK) M(NK, 1) M(NK, 2) M(NK, 3) M(NK, 4) M(NK, 5) M(NK, 6) M(NK, 7)
#define REP14(M, NK) REP7(M, NK) M(NK, 8) M(NK, 9) M(NK, 10) M(NK, 11) M(NK, 12) M(NK, 13) M(NK, 14)
#define REP28(M, NK) REP14(M, NK) M(NK, 15) M(NK, 16) M(NK, 17) M(NK, 18) M(NK, 19) M(NK, 20) M(NK, 21) \
    M(NK, 22) M(NK, 23) M(NK, 24) M(NK, 25) M(NK, 26) M(NK, 27) M(NK, 28)
REP28(TILE_FN, 1)
REP14(TILE_FN, 2)

typedef void (*tile_fn)(const ck_convb16_row *, ptrdiff_t);
static const tile_fn tiles1[29] = {NULL, REP28(TILE_REF, 1)};
static const tile_fn tiles2[15] = {NULL, REP14(TILE_REF, 2)};

// The row in the fewest tiles of at most 28 / nk pixels, of nearly equal width.
void ck_convb16_row_avx512(const ck_convb16_row *a) {
    const tile_fn *table = a->nk == 2 ? tiles2 : tiles1;
    const ptrdiff_t tiles = ck_ceil_div(a->W, 28 / a->nk);
    for (ptrdiff_t t = 0; t < tiles; t++) {
        const ptrdiff_t q0 = t * a->W / tiles, q1 = (t + 1) * a->W / tiles;
        table[q1 - q0](a, q0);
    }
}

// Backward-weights unit: 16 accumulators (one per input channel, 16 k lanes); per column pair one dy
// vector and 16 broadcast x pairs, each dot product two FMAs in VDPBF16PS's order.
void ck_convb16_wunit_avx512(const ck_convb16_wunit *a) {
    __m512 acc[CB];
#pragma clang loop unroll(full)
    for (int c = 0; c < CB; c++) acc[c] = _mm512_loadu_ps(a->dw + c * CB);
    for (ptrdiff_t p = 0; p < a->P; p++) {
        const ptrdiff_t h = p + a->r - 1;
        if (h < 0 || h >= a->H) continue;
        const uint16_t *xrow = a->xp + (h * (a->W + 2) + a->s) * CB * 2, *drow = a->dyp + p * a->Qp * CB * 2;
        for (ptrdiff_t qp = 0; qp < a->Qp; qp++) {
            const __m512bh dv = (__m512bh)_mm512_loadu_si512((const void *)(drow + qp * CB * 2));
            const uint16_t *xc = xrow + 2 * qp * CB * 2;
#pragma clang loop unroll(full)
            for (int c = 0; c < CB; c++) {
                uint32_t pair;
                memcpy(&pair, xc + 2 * c, 4);
                acc[c] = _mm512_dpbf16_ps(acc[c], dv, (__m512bh)_mm512_set1_epi32((int)pair));
            }
        }
    }
#pragma clang loop unroll(full)
    for (int c = 0; c < CB; c++) _mm512_storeu_ps(a->dw + c * CB, acc[c]);
}
#pragma clang attribute pop
#else
void ck_convb16_row_avx512(const ck_convb16_row *a) { (void)a; }
void ck_convb16_wunit_avx512(const ck_convb16_wunit *a) { (void)a; }
#endif
