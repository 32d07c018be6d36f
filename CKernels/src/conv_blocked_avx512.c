// AVX-512 micro-kernels of the blocked 3×3 convolution (conv_blocked.h has the contract).
// Forward / backward-data: a tile of np output pixels × nk ≤ 2 output-channel blocks in np·nk ≤ 28
// zmm accumulators (two FMA pipes × 4-cycle latency need ≥ 8); per input channel nk weight vectors and
// one broadcast input value per pixel, folded into the FMA. With one block (nk = 1) that is a load per
// FMA, so instead one broadcast feeds several output rows: a strip of ≤ 9 pixels × 3 rows rolling down
// the band (one input block), or two rows × 14 pixels (several input blocks, which must stay outermost).
// Taps off the image are skipped per tile edge, never multiplied by zeros. Weight gradient: 3 taps × 8
// channels = 24 accumulators; per input pixel 8 broadcasts and 3 output-gradient vectors feed 24 FMAs.
#include "conv_blocked.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx2,fma"))), apply_to = function)
#include "conv_finish_avx512.h"

#define AI static inline __attribute__((always_inline))

// The vector stored at y (a->y + offset): the sum, added to y's value, then the row's finish.
AI void store(const ck_convb_row *a, float *y, __m512 acc) {
    ck_finish_store_avx512(y, acc, a->accumulate, a->relu, a->mask ? a->mask + (y - a->y) : NULL, a->low);
}

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
            store(a, y, acc[i][j]);
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

// Two output rows p, p + 1, one block: input row h is tap r of row p and tap r − 1 of row p + 1, so
// each broadcast feeds two FMAs (loads per FMA halved). Rows taken over h in increasing order keep
// each output's (r, s, c) order. acc0[i] += x(h, i + s − 1, c)·w0(s, c), acc1[i] likewise with w1.
AI void tap2(__m512 acc0[14], __m512 acc1[14], const float *xr, const float *w0, const float *w1, ptrdiff_t cn,
             const int s, const int i0, const int i1, const int two) {
    for (ptrdiff_t c = 0; c < cn; c++) {
        const __m512 wa = _mm512_loadu_ps(w0 + s * CB2 + c * CB), wb = _mm512_loadu_ps(w1 + s * CB2 + c * CB);
#pragma clang loop unroll(full)
        for (int i = i0; i < i1; i++) {
            const __m512 xv = _mm512_set1_ps(xr[(i + s - 1) * CB + c]);
            if (two) acc0[i] = _mm512_fmadd_ps(xv, wa, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(xv, wb, acc1[i]);
        }
    }
}

// The three taps s of input row xr, edges skipped; two = 0: only acc1 (w1).
AI void taps_row(__m512 acc0[14], __m512 acc1[14], const float *xr, const float *w0, const float *w1,
                 ptrdiff_t cn, const int left, const int right, const int NP, const int two) {
    if (left) tap2(acc0, acc1, xr, w0, w1, cn, 0, 1, NP, two);
    else tap2(acc0, acc1, xr, w0, w1, cn, 0, 0, NP, two);
    tap2(acc0, acc1, xr, w0, w1, cn, 1, 0, NP, two);
    if (right) tap2(acc0, acc1, xr, w0, w1, cn, 2, 0, NP - 1, two);
    else tap2(acc0, acc1, xr, w0, w1, cn, 2, 0, NP, two);
}

AI void fwd_tile_rows2(const ck_convb_row *a, ptrdiff_t q0, const int NP) {
    __m512 acc[2][14];
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++) acc[0][i] = acc[1][i] = a->bias ? _mm512_loadu_ps(a->bias) : _mm512_setzero_ps();
    const ptrdiff_t W = a->W, p = a->p, HW16 = a->H * W * CB, W16 = W * CB;
    const int left = q0 == 0, right = q0 + NP == W, top = p == 0, bottom = p + 2 == a->H;
    for (ptrdiff_t cb = 0; cb < a->Cb; cb++) {
        const ptrdiff_t cn = cb == a->Cb - 1 ? a->cn_last : CB;
        const float *xr = a->x + cb * HW16 + (p * W + q0) * CB, *w = a->w + cb * 9 * CB2;
        const float *w0 = w, *w1 = w + 3 * CB2, *w2 = w + 6 * CB2; // taps r = 0, 1, 2
        if (!top) taps_row(acc[1], acc[0], xr - W16, w0, w0, cn, left, right, NP, 0); // row p only
        taps_row(acc[0], acc[1], xr, w1, w0, cn, left, right, NP, 1);
        taps_row(acc[0], acc[1], xr + W16, w2, w1, cn, left, right, NP, 1);
        if (!bottom) taps_row(acc[0], acc[1], xr + 2 * W16, w2, w2, cn, left, right, NP, 0); // row p + 1 only
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < 2; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < NP; i++) {
            float *y = a->y + r * W16 + (q0 + i) * CB;
            store(a, y, acc[r][i]);
        }
}

#define TILE2_FN(NP) \
    static void tile2_##NP##_avx512(const ck_convb_row *a, ptrdiff_t q0) { fwd_tile_rows2(a, q0, NP); }
#define TILE2_REF(NP) tile2_##NP##_avx512,
#define REP14_1(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14)
REP14_1(TILE2_FN)
static const tile_fn tiles_rows2[15] = {NULL, REP14_1(TILE2_REF)};

// Rolling strip, one block, one input block: input row h is tap 0 of output row h + 1 (a0), tap 1 of
// row h (a1), tap 2 of row h − 1 (a2), so each broadcast feeds up to three FMAs; u0..u2 say which of
// those rows are in the band. Over h increasing each row still sums in (r, s, c) order.
AI void tap3(__m512 a0[9], __m512 a1[9], __m512 a2[9], const float *xr, const float *w, ptrdiff_t cn, const int s,
             const int i0, const int i1, const int u0, const int u1, const int u2) {
    for (ptrdiff_t c = 0; c < cn; c++) {
        const float *wc = w + s * CB2 + c * CB;
        const __m512 w0 = u0 ? _mm512_loadu_ps(wc) : _mm512_setzero_ps();
        const __m512 w1 = u1 ? _mm512_loadu_ps(wc + 3 * CB2) : _mm512_setzero_ps();
        const __m512 w2 = u2 ? _mm512_loadu_ps(wc + 6 * CB2) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int i = i0; i < i1; i++) {
            const __m512 xv = _mm512_set1_ps(xr[(i + s - 1) * CB + c]);
            if (u0) a0[i] = _mm512_fmadd_ps(xv, w0, a0[i]);
            if (u1) a1[i] = _mm512_fmadd_ps(xv, w1, a1[i]);
            if (u2) a2[i] = _mm512_fmadd_ps(xv, w2, a2[i]);
        }
    }
}

AI void strip_step(__m512 a0[9], __m512 a1[9], __m512 a2[9], const float *xr, const float *w, ptrdiff_t cn,
                   const int left, const int right, const int NP, const int u0, const int u1, const int u2) {
    if (left) tap3(a0, a1, a2, xr, w, cn, 0, 1, NP, u0, u1, u2);
    else tap3(a0, a1, a2, xr, w, cn, 0, 0, NP, u0, u1, u2);
    tap3(a0, a1, a2, xr, w, cn, 1, 0, NP, u0, u1, u2);
    if (right) tap3(a0, a1, a2, xr, w, cn, 2, 0, NP - 1, u0, u1, u2);
    else tap3(a0, a1, a2, xr, w, cn, 2, 0, NP, u0, u1, u2);
}

AI void store_row(const ck_convb_row *a, __m512 acc[9], ptrdiff_t row, ptrdiff_t q0, const int NP) {
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++) {
        float *y = a->y + (row * a->W + q0 + i) * CB;
        store(a, y, acc[i]);
    }
}

// Output rows p .. p + rows − 1, pixels q0 .. q0 + NP − 1: 3 × NP ≤ 27 accumulators for rows h − 1, h, h + 1.
AI void fwd_strip(const ck_convb_row *a, ptrdiff_t q0, const int NP) {
    __m512 a0[9], a1[9], a2[9];
    const ptrdiff_t W = a->W, p = a->p, pe = p + a->rows, H = a->H;
    const int left = q0 == 0, right = q0 + NP == W;
    const ptrdiff_t cn = a->cn_last;
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++) a0[i] = a1[i] = a2[i] = a->bias ? _mm512_loadu_ps(a->bias) : _mm512_setzero_ps();
    for (ptrdiff_t h = ck_max(p - 1, 0); h < ck_min(pe + 1, H); h++) {
        const float *xr = a->x + (h * W + q0) * CB;
        const int u0 = h + 1 < pe, u1 = h >= p && h < pe, u2 = h - 1 >= p; // rows h + 1, h, h − 1 in the band
        // The next input row's pixels: the band's first strip finds them in no cache (+3 % at batch 128).
        if (h + 1 < H)
#pragma clang loop unroll(full)
            for (int i = -1; i <= NP; i++)
                if ((i >= 0 || !left) && (i < NP || !right))
                    _mm_prefetch((const char *)(xr + (W + i) * CB), _MM_HINT_T0);
        const int m = u0 * 4 + u1 * 2 + u2;
        if (m == 7) strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 1, 1, 1);
        else if (m == 6) strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 1, 1, 0);
        else if (m == 3) strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 0, 1, 1);
        else if (m == 4) strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 1, 0, 0);
        else if (m == 1) strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 0, 0, 1);
        else strip_step(a0, a1, a2, xr, a->w, cn, left, right, NP, 0, 1, 0);
        if (u2) store_row(a, a2, h - 1 - p, q0, NP); // row h − 1 has all its taps
        if (u1 && h == H - 1) store_row(a, a1, h - p, q0, NP);
#pragma clang loop unroll(full)
        for (int i = 0; i < NP; i++) {
            a2[i] = a1[i];
            a1[i] = a0[i];
            a0[i] = a->bias ? _mm512_loadu_ps(a->bias) : _mm512_setzero_ps();
        }
    }
}

#define STRIP_FN(NP) \
    static void strip_##NP##_avx512(const ck_convb_row *a, ptrdiff_t q0) { fwd_strip(a, q0, NP); }
#define STRIP_REF(NP) strip_##NP##_avx512,
#define REP9_1(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9)
REP9_1(STRIP_FN)
static const tile_fn strips[10] = {NULL, REP9_1(STRIP_REF)};

// Each row in the fewest tiles of at most 28 / nk pixels, of nearly equal width. One output block
// (nk = 1): one input block in strips of ≤ 9 pixels down all the rows, else rows in pairs of ≤ 14 pixels.
static void row_avx512(const ck_convb_row *a) {
    const int strip = a->nk == 1 && a->Cb == 1 && a->rows > 1, pair = a->nk == 1 && !strip;
    if (strip) {
        const ptrdiff_t tiles = ck_ceil_div(a->W, 9);
        for (ptrdiff_t t = 0; t < tiles; t++) {
            const ptrdiff_t q0 = t * a->W / tiles, q1 = (t + 1) * a->W / tiles;
            strips[q1 - q0](a, q0);
        }
        return;
    }
    for (ptrdiff_t k = 0; k < a->rows;) {
        const int two = pair && a->rows - k >= 2;
        const tile_fn *table = two ? tiles_rows2 : a->nk == 2 ? tiles2 : tiles1;
        const ptrdiff_t npmax = two ? 14 : 28 / a->nk, tiles = ck_ceil_div(a->W, npmax);
        ck_convb_row b = *a;
        b.p += k;
        b.y += k * a->W * CB;
        if (a->mask) b.mask += k * a->W * CB;
        const ck_convb_row *rb = k ? &b : a; // tiles reading the copy measured ~2 % slower (W = 14, nk = 2)
        for (ptrdiff_t t = 0; t < tiles; t++) {
            const ptrdiff_t q0 = t * a->W / tiles, q1 = (t + 1) * a->W / tiles;
            table[q1 - q0](rb, q0);
        }
        k += two ? 2 : 1;
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
