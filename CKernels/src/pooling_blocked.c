// Pooling on the channel-blocked layout: x (N, Cb, H, W, 16) → y (N, Cb, P, Q, 16), Cb = ⌈C/16⌉.
// Each lane runs the NCHW kernel's loop for its channel (pooling.c: same window order, same
// first-winner ties, float sums in (h, w) order), so the results are its bits; the 16 lanes of a
// block go together. Threads own whole (image, block) planes: the backward scatter never has two
// writers and each lane keeps the NCHW order. Padding lanes are written as zero and never summed.
#include "ck_internal.h"
#include <float.h>

#define CB CK_CB
#define POOL_PAR(s) ((s)->N * ck_ceil_div((s)->C, CB) * CB * (s)->H * (s)->W >= CK_PAR_MIN_ELEMS)

// Valid lanes of block cb.
static inline ptrdiff_t lanes(ptrdiff_t C, ptrdiff_t cb) { return ck_min(CB, C - cb * CB); }

// The window of output (p, q), clipped to the image (pooling.c's).
static inline void window(const ck_pool_shape *s, ptrdiff_t p, ptrdiff_t q, ptrdiff_t *h0,
                          ptrdiff_t *h1, ptrdiff_t *w0, ptrdiff_t *w1) {
    const ptrdiff_t hs = p * s->stride - s->pad, ws = q * s->stride - s->pad;
    *h0 = ck_max(hs, 0); *h1 = ck_min(hs + s->R, s->H);
    *w0 = ck_max(ws, 0); *w1 = ck_min(ws + s->S, s->W);
}

// The 16 lanes as two vectors of 8 (ck_f8), so that the compare and both selects stay in registers:
// written per lane on arrays, the index select became a mask extraction and a cmov per lane.
// One window position for 8 lanes: a later value wins only if greater (NaN never wins).
static inline void max_step8(ck_f8 *best, ck_i8 *at, ck_f8 v, int32_t hw) {
    const ck_i8 win = v > *best; // -1 where v wins
    *at = (*at & ~win) | ((ck_i8){0} + hw & win);
    *best = (ck_f8)(((ck_i8)v & win) | ((ck_i8)*best & ~win));
}

// Windows that tile the image exactly (window = stride, no padding, no pixel left out, as 2×2 / 2 on
// even sizes): every pixel is in one window.
static int tiles_exactly(const ck_pool_shape *s) {
    return s->pad == 0 && s->R == s->stride && s->S == s->stride && ck_pool_out_h(s) * s->stride == s->H &&
           ck_pool_out_w(s) * s->stride == s->W;
}

// The 16 lanes of output (p, q) of one plane into y, argmax (padding lanes zero).
static inline void store_max(float *y, int32_t *argmax, const ck_f8 best[2], const ck_i8 at[2], ptrdiff_t cn) {
    memcpy(y, best, 2 * sizeof(ck_f8));
    memcpy(argmax, at, 2 * sizeof(ck_i8));
    for (ptrdiff_t l = cn; l < CB; l++) { y[l] = 0.0f; argmax[l] = 0; }
}

// Exactly tiling windows: QB outputs of a row of windows at a time, their window rows read image
// row by image row (in order, where window by window two rows alternated). Each output still sees
// its window's pixels in (h, w) order: the same winners, ties included.
#define QB 8
static void max_tiles(float *y, int32_t *argmax, const float *plane, ptrdiff_t cn, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), st = s->stride, W = s->W;
    for (ptrdiff_t p = 0; p < P; p++)
        for (ptrdiff_t q0 = 0; q0 < Q; q0 += QB) {
            const ptrdiff_t qn = ck_min(QB, Q - q0);
            ck_f8 best[QB][2];
            ck_i8 at[QB][2];
            for (ptrdiff_t i = 0; i < qn; i++)
                for (int k = 0; k < 2; k++) {
                    best[i][k] = (ck_f8){0} - FLT_MAX;
                    at[i][k] = (ck_i8){0} + (int32_t)(p * st * W + (q0 + i) * st);
                }
            for (ptrdiff_t r = 0; r < st; r++)
                for (ptrdiff_t i = 0; i < qn; i++)
                    for (ptrdiff_t t = 0; t < st; t++) {
                        const int32_t hw = (int32_t)((p * st + r) * W + (q0 + i) * st + t);
                        const float *v = plane + (ptrdiff_t)hw * CB;
                        for (int k = 0; k < 2; k++) max_step8(&best[i][k], &at[i][k], ck_load8(v + 8 * k), hw);
                    }
            for (ptrdiff_t i = 0; i < qn; i++)
                store_max(y + (p * Q + q0 + i) * CB, argmax + (p * Q + q0 + i) * CB, best[i], at[i], cn);
        }
}

void ck_maxpool_forward_blocked(float *y, int32_t *argmax, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W, Cb = ck_ceil_div(s->C, CB);
    const int tiles = tiles_exactly(s);
    CK_PARALLEL_FOR(nb, s->N * Cb, POOL_PAR(s),
        const ptrdiff_t cn = lanes(s->C, nb % Cb);
        const float *plane = x + nb * HW * CB;
        if (tiles) {
            max_tiles(y + nb * P * Q * CB, argmax + nb * P * Q * CB, plane, cn, s);
            continue;
        }
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                ck_f8 best[2];
                ck_i8 at[2];
                for (int k = 0; k < 2; k++) {
                    best[k] = (ck_f8){0} - FLT_MAX;
                    at[k] = (ck_i8){0} + (int32_t)(h0 * s->W + w0);
                }
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++) {
                        const float *v = plane + (h * s->W + w) * CB;
                        const int32_t hw = (int32_t)(h * s->W + w);
                        for (int k = 0; k < 2; k++) max_step8(&best[k], &at[k], ck_load8(v + 8 * k), hw);
                    }
                store_max(y + ((nb * P + p) * Q + q) * CB, argmax + ((nb * P + p) * Q + q) * CB, best, at, cn);
            }
    );
}

// One pixel's 16 lanes of a stored plane: 0 + g (what adding g onto the zeroed plane gives, sign of a
// zero included) in the lanes whose window's winner is pixel hw, +0 elsewhere and in padding lanes.
// Written on masks so that the lanes vectorize.
static inline void store_pixel(float *restrict d, const float *restrict g, const int32_t *restrict am, int32_t hw,
                               ptrdiff_t cn) {
    for (ptrdiff_t l = 0; l < CB; l++) {
        const int32_t win = -(int32_t)((l < cn) & (am[l] == hw));
        const float v = 0.0f + g[l];
        int32_t b;
        memcpy(&b, &v, sizeof b);
        b &= win;
        memcpy(d + l, &b, sizeof b);
    }
}

// A stored plane of exactly tiling windows in one pass: each pixel written once (store_pixel), the
// gradient first masked by the ReLU's output where the pooling's backward carries the ReLU's.
static void stored_tiles(float *restrict plane, const float *restrict g, const int32_t *restrict am,
                         const float *restrict m, ptrdiff_t cn, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), st = s->stride;
    // Image row by image row (each window's row r in turn): the plane and the mask stream in order,
    // where window by window they alternated between rows (twice the time, on cnn-small).
    for (ptrdiff_t p = 0; p < P; p++)
        for (ptrdiff_t r = 0; r < st; r++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                const ptrdiff_t i = (p * Q + q) * CB;
                for (ptrdiff_t t = 0; t < st; t++) {
                    const int32_t hw = (int32_t)((p * st + r) * s->W + q * st + t);
                    float gm[CB];
                    const float *gp = g + i;
                    if (m) {
                        for (ptrdiff_t l = 0; l < CB; l++) { // both loads unconditional: they vectorize
                            const float gv = g[i + l], mv = m[(ptrdiff_t)hw * CB + l];
                            gm[l] = mv > 0.0f ? gv : 0.0f;
                        }
                        gp = gm;
                    }
                    store_pixel(plane + (ptrdiff_t)hw * CB, gp, am + i, hw, cn);
                }
        }
}

// accumulate, relu_mask: as ck_maxpool_backward's (the plane's padding lanes stored as zero).
void ck_maxpool_backward_blocked(float *dx, const float *dy, const int32_t *argmax, int accumulate,
                                 const float *relu_mask, const ck_pool_shape *s) {
    const ptrdiff_t PQ = ck_pool_out_h(s) * ck_pool_out_w(s), HW = s->H * s->W, Cb = ck_ceil_div(s->C, CB);
    const int one_pass = !accumulate && tiles_exactly(s);
    CK_PARALLEL_FOR(nb, s->N * Cb, POOL_PAR(s),
        const ptrdiff_t cn = lanes(s->C, nb % Cb);
        float *plane = dx + nb * HW * CB;
        const float *g = dy + nb * PQ * CB, *m = relu_mask ? relu_mask + nb * HW * CB : NULL;
        const int32_t *am = argmax + nb * PQ * CB;
        if (one_pass) {
            stored_tiles(plane, g, am, m, cn, s);
            continue;
        }
        if (!accumulate) memset(plane, 0, (size_t)(HW * CB) * sizeof(float));
        for (ptrdiff_t i = 0; i < PQ; i++) // outputs in order: overlapping windows add as in NCHW
            for (ptrdiff_t l = 0; l < cn; l++) {
                const ptrdiff_t at = (ptrdiff_t)am[i * CB + l] * CB + l;
                plane[at] += !m || m[at] > 0.0f ? g[i * CB + l] : 0.0f;
            }
    );
}

void ck_avgpool_forward_blocked(float *y, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W, Cb = ck_ceil_div(s->C, CB);
    CK_PARALLEL_FOR(nb, s->N * Cb, POOL_PAR(s),
        const ptrdiff_t cn = lanes(s->C, nb % Cb);
        const float *plane = x + nb * HW * CB;
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                float acc[CB];
                for (int l = 0; l < CB; l++) acc[l] = 0.0f;
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++) {
                        const float *v = plane + (h * s->W + w) * CB;
                        for (int l = 0; l < CB; l++) acc[l] += v[l];
                    }
                const ptrdiff_t cnt = (h1 - h0) * (w1 - w0);
                float *yo = y + ((nb * P + p) * Q + q) * CB;
                for (int l = 0; l < CB; l++) yo[l] = l < cn && cnt > 0 ? acc[l] / (float)cnt : 0.0f;
            }
    );
}

void ck_avgpool_backward_blocked(float *dx, const float *dy, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W, Cb = ck_ceil_div(s->C, CB);
    CK_PARALLEL_FOR(nb, s->N * Cb, POOL_PAR(s),
        const ptrdiff_t cn = lanes(s->C, nb % Cb);
        float *plane = dx + nb * HW * CB;
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                const ptrdiff_t cnt = (h1 - h0) * (w1 - w0);
                if (cnt <= 0) continue;
                const float *go = dy + ((nb * P + p) * Q + q) * CB;
                float g[CB];
                for (int l = 0; l < CB; l++) g[l] = go[l] / (float)cnt;
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++) {
                        float *d = plane + (h * s->W + w) * CB;
                        for (ptrdiff_t l = 0; l < cn; l++) d[l] += g[l];
                    }
            }
    );
}

// Global pooling: blocked x (N, Cb, HW, 16), plain y and argmax (N, C).
#define GLOBAL_PAR(N, C, HW) ((N) * ck_ceil_div(C, CB) * CB * (HW) >= CK_PAR_MIN_ELEMS)

void ck_global_avgpool_forward_blocked(float *y, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    CK_PARALLEL_FOR(nb, N * Cb, GLOBAL_PAR(N, C, HW),
        const ptrdiff_t n = nb / Cb, c0 = nb % Cb * CB, cn = lanes(C, nb % Cb);
        const float *xb = x + nb * HW * CB;
        double acc[CB]; // double like the NCHW kernel, in hw order per lane
        for (int l = 0; l < CB; l++) acc[l] = 0.0;
        for (ptrdiff_t i = 0; i < HW; i++)
            for (int l = 0; l < CB; l++) acc[l] += xb[i * CB + l];
        for (ptrdiff_t l = 0; l < cn; l++) y[n * C + c0 + l] = (float)(acc[l] / (double)HW);
    );
}

void ck_global_avgpool_backward_blocked(float *dx, const float *dy, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    CK_PARALLEL_FOR(nb, N * Cb, GLOBAL_PAR(N, C, HW),
        const ptrdiff_t n = nb / Cb, c0 = nb % Cb * CB, cn = lanes(C, nb % Cb);
        float *d = dx + nb * HW * CB;
        float g[CB];
        for (ptrdiff_t l = 0; l < cn; l++) g[l] = dy[n * C + c0 + l] / (float)HW;
        for (ptrdiff_t i = 0; i < HW; i++)
            for (ptrdiff_t l = 0; l < cn; l++) d[i * CB + l] += g[l];
    );
}

void ck_global_maxpool_forward_blocked(float *y, int32_t *argmax, const float *x, ptrdiff_t N, ptrdiff_t C,
                                       ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    CK_PARALLEL_FOR(nb, N * Cb, GLOBAL_PAR(N, C, HW),
        const ptrdiff_t n = nb / Cb, c0 = nb % Cb * CB, cn = lanes(C, nb % Cb);
        const float *xb = x + nb * HW * CB;
        float best[CB];
        int32_t at[CB];
        for (int l = 0; l < CB; l++) { best[l] = xb[l]; at[l] = 0; }
        for (ptrdiff_t i = 1; i < HW; i++)
            for (int l = 0; l < CB; l++) {
                const int win = xb[i * CB + l] > best[l];
                at[l] = win ? (int32_t)i : at[l];
                best[l] = win ? xb[i * CB + l] : best[l];
            }
        for (ptrdiff_t l = 0; l < cn; l++) { y[n * C + c0 + l] = best[l]; argmax[n * C + c0 + l] = at[l]; }
    );
}

void ck_global_maxpool_backward_blocked(float *dx, const float *dy, const int32_t *argmax, ptrdiff_t N,
                                        ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t c = 0; c < C; c++)
            dx[((n * Cb + c / CB) * HW + argmax[n * C + c]) * CB + c % CB] += dy[n * C + c];
}
