// AVX2 + FMA micro-kernels of the blocked 3×3 convolution (conv_blocked.h has the contract); a
// 16-channel block is two ymm halves, summed in the same order as AVX-512's one zmm, hence the
// same bits. Forward / backward-data: up to 6 pixels × 2 halves = 12 accumulators + 2 weight
// vectors + 1 broadcast of the 16 ymm registers (the GEMM's 6 × 16 shape). Weight gradient: 3 taps
// × 4 channels × one half = 12 accumulators, the unit done in four passes over the image.
#include "conv_blocked.h"
#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define AI static inline __attribute__((always_inline))
#define NPMAX 6

// v where ck_relu_passes(b's lanes) holds, else +0.
AI __m256 passing(__m256 v, __m256i b, int32_t low) {
    const __m256i ok = _mm256_andnot_si256(_mm256_cmpgt_epi32(b, _mm256_set1_epi32(0x7f800000)),
                                           _mm256_cmpgt_epi32(b, _mm256_set1_epi32(low)));
    return _mm256_and_ps(v, _mm256_castsi256_ps(ok));
}

// The vector stored at y (a->y + offset): the sum, added to y's value, then the row's finish.
AI void store(const ck_convb_row *a, float *y, __m256 acc) {
    __m256 v = a->accumulate ? _mm256_add_ps(_mm256_loadu_ps(y), acc) : acc;
    if (a->relu) v = passing(v, _mm256_castps_si256(v), a->low);
    if (a->mask) v = passing(v, _mm256_loadu_si256((const __m256i *)(a->mask + (y - a->y))), a->low);
    _mm256_storeu_ps(y, v);
}

AI void tap(__m256 acc[NPMAX][2], const float *xr, const float *wr, ptrdiff_t cn, const int s, const int i0,
            const int i1) {
    for (ptrdiff_t c = 0; c < cn; c++) {
        const __m256 w0 = _mm256_loadu_ps(wr + s * CB2 + c * CB), w1 = _mm256_loadu_ps(wr + s * CB2 + c * CB + 8);
#pragma clang loop unroll(full)
        for (int i = i0; i < i1; i++) {
            const __m256 xv = _mm256_broadcast_ss(xr + (i + s - 1) * CB + c);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
}

AI void fwd_tile(const ck_convb_row *a, ptrdiff_t q0, const int NP) {
    __m256 acc[NPMAX][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++)
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) acc[i][h] = a->bias ? _mm256_loadu_ps(a->bias + 8 * h) : _mm256_setzero_ps();
    const ptrdiff_t W = a->W, p = a->p, HW16 = a->H * W * CB;
    const int left = q0 == 0, right = q0 + NP == W;
    const ptrdiff_t r0 = p == 0 ? 1 : 0, r1 = p == a->H - 1 ? 2 : 3;
    for (ptrdiff_t cb = 0; cb < a->Cb; cb++) {
        const ptrdiff_t cn = cb == a->Cb - 1 ? a->cn_last : CB;
        for (ptrdiff_t r = r0; r < r1; r++) {
            const float *xr = a->x + cb * HW16 + ((p + r - 1) * W + q0) * CB;
            const float *wr = a->w + (cb * 9 + r * 3) * CB2;
            if (left) tap(acc, xr, wr, cn, 0, 1, NP);
            else tap(acc, xr, wr, cn, 0, 0, NP);
            tap(acc, xr, wr, cn, 1, 0, NP);
            if (right) tap(acc, xr, wr, cn, 2, 0, NP - 1);
            else tap(acc, xr, wr, cn, 2, 0, NP);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < NP; i++)
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            float *y = a->y + (q0 + i) * CB + 8 * h;
            store(a, y, acc[i][h]);
        }
}

#define TILE_FN(NP) static void tile_##NP(const ck_convb_row *a, ptrdiff_t q0) { fwd_tile(a, q0, NP); }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)
typedef void (*tile_fn)(const ck_convb_row *, ptrdiff_t);
static const tile_fn tiles[NPMAX + 1] = {NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

// One output block and one row at a time (nk_small = nk_large = 1), the row in tiles of nearly equal width.
static void row_avx2(const ck_convb_row *a) {
    const ptrdiff_t n = ck_ceil_div(a->W, NPMAX);
    for (ptrdiff_t k = 0; k < a->rows; k++)
        for (ptrdiff_t j = 0; j < a->nk; j++) {
            ck_convb_row b = *a;
            b.p += k;
            b.y += j * a->ykstride + k * a->W * CB;
            if (a->mask) b.mask += j * a->ykstride + k * a->W * CB;
            b.w += j * a->wkstride;
            b.bias = a->bias ? a->bias + j * CB : NULL;
            for (ptrdiff_t t = 0; t < n; t++) {
                const ptrdiff_t q0 = t * a->W / n, q1 = (t + 1) * a->W / n;
                tiles[q1 - q0](&b, q0);
            }
        }
}

// Channels c0 + ch .. +3 of the input pixel at xp, gradient half kh at dyq − s·16 for tap s.
AI void wpix(__m256 acc[3][4], const float *xp, const float *dyq, const int s0, const int s1) {
    __m256 d[3];
#pragma clang loop unroll(full)
    for (int s = s0; s < s1; s++) d[s] = _mm256_loadu_ps(dyq - s * CB);
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        const __m256 xv = _mm256_broadcast_ss(xp + c);
#pragma clang loop unroll(full)
        for (int s = s0; s < s1; s++) acc[s][c] = _mm256_fmadd_ps(xv, d[s], acc[s][c]);
    }
}

static void wunit_avx2(const ck_convb_wunit *u) {
    const ptrdiff_t W = u->W, h0 = ck_max(0, u->r - 1), h1 = ck_min(u->H, u->H + u->r - 1);
    for (int ch = 0; ch < CK_CONVB_UNIT_C; ch += 4)
        for (int kh = 0; kh < CB; kh += 8) {
            __m256 acc[3][4];
#pragma clang loop unroll(full)
            for (int s = 0; s < 3; s++)
#pragma clang loop unroll(full)
                for (int c = 0; c < 4; c++) acc[s][c] = _mm256_setzero_ps();
            for (ptrdiff_t h = h0; h < h1; h++) {
                const float *xp = u->x + h * W * CB + u->c0 + ch;
                const float *dyq = u->dy + ((h + 1 - u->r) * W + 1) * CB + kh;
                if (W == 1) { wpix(acc, xp, dyq, 1, 2); continue; }
                wpix(acc, xp, dyq, 0, 2);
                for (ptrdiff_t w = 1; w < W - 1; w++) wpix(acc, xp + w * CB, dyq + w * CB, 0, 3);
                wpix(acc, xp + (W - 1) * CB, dyq + (W - 1) * CB, 1, 3);
            }
#pragma clang loop unroll(full)
            for (int s = 0; s < 3; s++)
#pragma clang loop unroll(full)
                for (int c = 0; c < 4; c++) {
                    float *d = u->dw + s * CB2 + (u->c0 + ch + c) * CB + kh;
                    _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[s][c]));
                }
        }
}
#pragma clang attribute pop

const ck_convb_kernels ck_convb_kernels_avx2 = {"avx2+fma 6-pixel tiles", 1, 1, row_avx2, wunit_avx2};
#else
const ck_convb_kernels ck_convb_kernels_avx2 = {0};
#endif
