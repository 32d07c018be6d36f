// Direct convolution on the channel-blocked layout with bf16 activations and weights, FP32 outputs
// (forward and backward-data): the bf16 weight layout, the drivers, and the widening loops that serve
// the widen variant and every shape but 3×3 / stride 1 / pad 1. Sizes as conv_blocked.c; bf16
// weights wh (Kb, Cb, R, S, 8 c-pairs, 16 k, 2 c), padding zero. Both variants run with FTZ + DAZ
// (VDPBF16PS's fixed mode) and sum each output in the same order (conv_blocked_bf16.h): same bits.
// Partitions as the FP32 drivers: fixed by the shape, never by the thread count.
#include "conv_blocked_bf16.h"
#include <math.h>

#define WTAP CB2 // bf16 values per (block pair, tap)

static inline ptrdiff_t nblk(ptrdiff_t c) { return ck_ceil_div(c, CB); }
static inline float widen(uint16_t b) { return ck_ref_bf16_to_f32(b); }
// Channel pairs a block holds: ⌈valid channels / 2⌉ (the padding channels are zero).
static inline ptrdiff_t pairs_in(ptrdiff_t channels, ptrdiff_t blk) {
    return ck_ceil_div(ck_min(CB, channels - blk * CB), 2);
}
// Offset of (c, k) within one block pair's tap.
static inline ptrdiff_t pair_at(ptrdiff_t c, ptrdiff_t k) { return (c / 2) * 2 * CB + k * 2 + c % 2; }

void ck_blocked_weights_to_bf16(uint16_t *wh, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S) {
    const ptrdiff_t taps = nblk(K) * nblk(C) * R * S;
    for (ptrdiff_t t = 0; t < taps; t++)
        for (ptrdiff_t c = 0; c < CB; c++)
            for (ptrdiff_t k = 0; k < CB; k++)
                wh[t * WTAP + pair_at(c, k)] = ck_ref_f32_to_bf16(wb[t * CB2 + c * CB + k]);
}

void ck_blocked_weights_from_bf16(float *wb, const uint16_t *wh, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S) {
    const ptrdiff_t taps = nblk(K) * nblk(C) * R * S;
    for (ptrdiff_t t = 0; t < taps; t++)
        for (ptrdiff_t c = 0; c < CB; c++)
            for (ptrdiff_t k = 0; k < CB; k++) wb[t * CB2 + c * CB + k] = widen(wh[t * WTAP + pair_at(c, k)]);
}

ptrdiff_t ck_conv2d_blocked_bf16_workspace_size(const ck_conv2d_shape *s) {
    return ck_ceil_div(ck_blocked_weights_size(s->K, s->C, s->R, s->S), 2);
}

// wt (Cb, Kb, R, S, 8 k-pairs, 16 c, 2 k): C and K swapped for backward-data; flip reverses the taps.
static void transpose_weights(uint16_t *restrict wt, const uint16_t *restrict wh, ptrdiff_t Kb, ptrdiff_t Cb,
                              ptrdiff_t RS, int flip) {
    CK_PARALLEL_FOR(ck, Cb * Kb, Cb * Kb * RS * CB2 >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t cb = ck / Kb, kb = ck % Kb;
        for (ptrdiff_t rs = 0; rs < RS; rs++) {
            const uint16_t *src = wh + ((kb * Cb + cb) * RS + (flip ? RS - 1 - rs : rs)) * WTAP;
            uint16_t *d = wt + (ck * RS + rs) * WTAP;
            for (ptrdiff_t k = 0; k < CB; k++)
                for (ptrdiff_t c = 0; c < CB; c++) d[pair_at(k, c)] = src[pair_at(c, k)];
        }
    );
}

static int is_fast_shape(const ck_conv2d_shape *s) {
    return s->R == 3 && s->S == 3 && s->stride == 1 && s->pad == 1;
}

static int worth_threads(const ck_conv2d_shape *s, ptrdiff_t items) {
    const double fmas = (double)s->N * s->K * s->C * s->R * s->S * s->H * s->W;
    return items > 1 && fmas >= 262144.0;
}

const char *ck_conv2d_blocked_bf16_kernel_name(void) {
    return ck_bf16_isa() == CK_BF16_AVX512 ? "avx512bf16 28-pixel rows" : "widening loops";
}

// acc[l] += x1·w[2l + 1] then x0·w[2l], for the 16 lanes l of one (tap, pair): VDPBF16PS's order.
static inline void pair_fma(float acc[CB], uint16_t x0, uint16_t x1, const uint16_t *w) {
    const float a1 = widen(x1), a0 = widen(x0);
    for (ptrdiff_t l = 0; l < CB; l++) acc[l] = fmaf(a1, widen(w[2 * l + 1]), acc[l]);
    for (ptrdiff_t l = 0; l < CB; l++) acc[l] = fmaf(a0, widen(w[2 * l]), acc[l]);
}

// MARK: - Widening loops (any R, S, stride, pad)

static void widen_forward_row(float *restrict y, const uint16_t *restrict x, const uint16_t *restrict w,
                              const float *bias, const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q, ptrdiff_t n,
                              ptrdiff_t kb, ptrdiff_t p) {
    const ptrdiff_t Cb = nblk(s->C), H = s->H, W = s->W, R = s->R, S = s->S;
    for (ptrdiff_t q = 0; q < Q; q++) {
        float acc[CB];
        for (ptrdiff_t k = 0; k < CB; k++) acc[k] = bias ? bias[k] : 0.0f;
        for (ptrdiff_t cb = 0; cb < Cb; cb++) {
            const ptrdiff_t cpn = pairs_in(s->C, cb);
            for (ptrdiff_t r = 0; r < R; r++) {
                const ptrdiff_t h = p * s->stride - s->pad + r;
                if (h < 0 || h >= H) continue;
                for (ptrdiff_t t = 0; t < S; t++) {
                    const ptrdiff_t ww = q * s->stride - s->pad + t;
                    if (ww < 0 || ww >= W) continue;
                    const uint16_t *xp = x + (((n * Cb + cb) * H + h) * W + ww) * CB;
                    const uint16_t *wp = w + (((kb * Cb + cb) * R + r) * S + t) * WTAP;
                    for (ptrdiff_t cp = 0; cp < cpn; cp++) pair_fma(acc, xp[2 * cp], xp[2 * cp + 1], wp + cp * 2 * CB);
                }
            }
        }
        float *yp = y + (((n * nblk(s->K) + kb) * P + p) * Q + q) * CB;
        for (ptrdiff_t k = 0; k < CB; k++) yp[k] = acc[k];
    }
}

// dx row h of image n, block cb: Σ over (kb, r descending, s descending, k pair), the order of the
// forward kernel on flipped weights. wt from transpose_weights without flip.
static void widen_backward_data_row(float *restrict dx, const uint16_t *restrict dy, const uint16_t *restrict wt,
                                    const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q, ptrdiff_t n, ptrdiff_t cb,
                                    ptrdiff_t h, int accumulate) {
    const ptrdiff_t Cb = nblk(s->C), Kb = nblk(s->K), H = s->H, W = s->W, R = s->R, S = s->S, st = s->stride;
    for (ptrdiff_t ww = 0; ww < W; ww++) {
        float acc[CB] = {0};
        for (ptrdiff_t kb = 0; kb < Kb; kb++) {
            const ptrdiff_t kpn = pairs_in(s->K, kb);
            for (ptrdiff_t r = R - 1; r >= 0; r--) {
                const ptrdiff_t ph = h + s->pad - r;
                if (ph < 0 || ph % st || ph / st >= P) continue;
                for (ptrdiff_t t = S - 1; t >= 0; t--) {
                    const ptrdiff_t qw = ww + s->pad - t;
                    if (qw < 0 || qw % st || qw / st >= Q) continue;
                    const uint16_t *dp = dy + (((n * Kb + kb) * P + ph / st) * Q + qw / st) * CB;
                    const uint16_t *wp = wt + (((cb * Kb + kb) * R + r) * S + t) * WTAP;
                    for (ptrdiff_t kp = 0; kp < kpn; kp++) pair_fma(acc, dp[2 * kp], dp[2 * kp + 1], wp + kp * 2 * CB);
                }
            }
        }
        float *d = dx + (((n * Cb + cb) * H + h) * W + ww) * CB;
        for (ptrdiff_t c = 0; c < CB; c++) d[c] = accumulate ? d[c] + acc[c] : acc[c];
    }
}

// MARK: - VDPBF16PS rows: (image, group of ≤ 2 output blocks, row)

static void fast_rows(float *y, const uint16_t *x, const uint16_t *w, const float *b, ptrdiff_t N,
                      ptrdiff_t xchannels, ptrdiff_t ychannels, ptrdiff_t H, ptrdiff_t W, int accumulate,
                      const ck_conv_finish *fin, const ck_conv2d_shape *s) {
    const ptrdiff_t Xb = nblk(xchannels), Yb = nblk(ychannels), HW16 = H * W * CB, groups = ck_ceil_div(Yb, 2);
    CK_PARALLEL_FOR(it, N * groups * H, worth_threads(s, N * groups * H),
        const ptrdiff_t n = it / (groups * H), j = it / H % groups * 2, p = it % H;
        const int nk = (int)ck_min(2, Yb - j);
        if (it == 0) ck_note_team();
        float bias[2 * CB];
        if (b)
            for (ptrdiff_t k = 0; k < nk * CB; k++) bias[k] = j * CB + k < ychannels ? b[j * CB + k] : 0.0f;
        const ptrdiff_t at = (n * Yb + j) * HW16 + p * W * CB; // row p of block j; block j + k at + k·HW16
        const ck_convb16_row row = {y + at, HW16, x + n * Xb * HW16,
                                    w + j * Xb * 9 * WTAP, Xb * 9 * WTAP, b ? bias : NULL, Xb,
                                    pairs_in(xchannels, Xb - 1), H, W, p, nk, accumulate,
                                    fin && fin->relu, fin && fin->mask ? fin->mask + at : NULL, fin ? fin->low : 0};
        if (fin)
            for (int k = 0; k < nk; k++) ck_conv_finish_prefetch(fin, at + k * HW16, W * CB);
        ck_convb16_row_avx512(&row); // applies the finish to each vector it stores
    );
}

void ck_conv2d_blocked_bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b, int relu,
                                    const ck_conv2d_shape *s, float *workspace) {
    (void)workspace;
    const ck_conv_finish fin = ck_conv_finish_make(relu, NULL); // the caller's mode, before FTZ/DAZ
    const int flushed = ck_get_flush_subnormals();
    ck_set_flush_subnormals(1);
    if (ck_bf16_isa() == CK_BF16_AVX512 && is_fast_shape(s)) {
        fast_rows(y, x, w, b, s->N, s->C, s->K, s->H, s->W, 0, relu ? &fin : NULL, s);
    } else {
        const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Kb = nblk(s->K);
        CK_PARALLEL_FOR(it, s->N * Kb * P, worth_threads(s, s->N * Kb * P),
            const ptrdiff_t n = it / (Kb * P), kb = it / P % Kb, p = it % P;
            if (it == 0) ck_note_team();
            float bias[CB];
            if (b)
                for (ptrdiff_t k = 0; k < CB; k++) bias[k] = kb * CB + k < s->K ? b[kb * CB + k] : 0.0f;
            widen_forward_row(y, x, w, b ? bias : NULL, s, P, Q, n, kb, p);
            if (relu) ck_conv_finish_range(&fin, y, it * Q * CB, Q * CB);
        );
    }
    ck_set_flush_subnormals(flushed);
}

void ck_conv2d_blocked_bf16_backward_data(float *dx, const uint16_t *dy, const uint16_t *w, int accumulate,
                                          const float *relu_mask, const ck_conv2d_shape *s, float *workspace) {
    const ck_conv_finish fin = ck_conv_finish_make(0, accumulate ? NULL : relu_mask);
    const int flushed = ck_get_flush_subnormals();
    ck_set_flush_subnormals(1);
    const ptrdiff_t Kb = nblk(s->K), Cb = nblk(s->C);
    const int fast = ck_bf16_isa() == CK_BF16_AVX512 && is_fast_shape(s);
    uint16_t *wt = (uint16_t *)workspace;
    transpose_weights(wt, w, Kb, Cb, s->R * s->S, fast);
    if (fast) {
        fast_rows(dx, dy, wt, NULL, s->N, s->K, s->C, s->H, s->W, accumulate, fin.mask ? &fin : NULL, s);
    } else {
        const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
        CK_PARALLEL_FOR(it, s->N * Cb * s->H, worth_threads(s, s->N * Cb * s->H),
            const ptrdiff_t n = it / (Cb * s->H), cb = it / s->H % Cb, h = it % s->H;
            if (it == 0) ck_note_team();
            widen_backward_data_row(dx, dy, wt, s, P, Q, n, cb, h, accumulate);
            if (fin.mask) ck_conv_finish_range(&fin, dx, it * s->W * CB, s->W * CB);
        );
    }
    ck_set_flush_subnormals(flushed);
}

// MARK: - Backward-weights (3×3 / stride 1 / pad 1): pairs of columns, VDPBF16PS's operands

// Whole input blocks only: a first layer's few channels (padded to 16) keep the FP32 kernel, which skips the padding.
int ck_conv2d_blocked_bf16_weights_shape(const ck_conv2d_shape *s) { return is_fast_shape(s) && s->C % CB == 0; }

// Pairs per row of dy: ⌈Q/2⌉; columns per row of x pairs: W + 2 (one off the image on each side).
static inline ptrdiff_t qpairs(const ck_conv2d_shape *s) { return ck_ceil_div(ck_conv2d_out_w(s), 2); }

// One image's pairs (uint16 each), packed just before its units run: small enough to stay in L2.
static ptrdiff_t xpairs_size(const ck_conv2d_shape *s) { return nblk(s->C) * s->H * (s->W + 2) * CB * 2; }
static ptrdiff_t dypairs_size(const ck_conv2d_shape *s) {
    return nblk(s->K) * ck_conv2d_out_h(s) * qpairs(s) * CB * 2;
}

ptrdiff_t ck_conv2d_blocked_bf16_weights_workspace_size(const ck_conv2d_shape *s) {
    return ck_ceil_div(xpairs_size(s) + dypairs_size(s), 2) + 16; // in floats; + 16: the dy pairs 64-byte aligned
}

// 16 pairs (a[i], b[i]) as 32-bit words, a in the low half (VDPBF16PS's even element); NULL is zeros.
static inline void pair16(uint32_t *restrict d, const uint16_t *a, const uint16_t *b) {
    for (ptrdiff_t i = 0; i < CB; i++) d[i] = (a ? a[i] : 0u) | (b ? (uint32_t)b[i] << 16 : 0u);
}

// Rows [lo, hi) of one image's x pairs, (Cb·H rows, W + 2, 16): column j = (x[j − 1], x[j]) per
// channel, zero off the image; x is the image's (Cb, H, W, 16).
static void pack_x_rows(uint32_t *restrict xp, const uint16_t *restrict x, ptrdiff_t W, ptrdiff_t lo, ptrdiff_t hi) {
    for (ptrdiff_t row = lo; row < hi; row++) {
        const uint16_t *xr = x + row * W * CB;
        uint32_t *d = xp + row * (W + 2) * CB;
        for (ptrdiff_t j = 0; j < W + 2; j++)
            pair16(d + j * CB, j >= 1 && j <= W ? xr + (j - 1) * CB : NULL, j < W ? xr + j * CB : NULL);
    }
}

// Rows [lo, hi) of one image's dy pairs, (Kb·P rows, Qp, 16): (dy[2·qp], dy[2·qp + 1]), zero past Q.
static void pack_dy_rows(uint32_t *restrict dyp, const uint16_t *restrict dy, ptrdiff_t Q, ptrdiff_t lo,
                         ptrdiff_t hi) {
    const ptrdiff_t Qp = ck_ceil_div(Q, 2);
    for (ptrdiff_t row = lo; row < hi; row++) {
        const uint16_t *dr = dy + row * Q * CB;
        uint32_t *d = dyp + row * Qp * CB;
        for (ptrdiff_t qp = 0; qp < Qp; qp++)
            pair16(d + qp * CB, dr + 2 * qp * CB, 2 * qp + 1 < Q ? dr + (2 * qp + 1) * CB : NULL);
    }
}

// The widening unit: VDPBF16PS's order lane by lane (odd column first), zeros included.
static void widen_wunit(const ck_convb16_wunit *a) {
    float acc[CB][CB];
    memcpy(acc, a->dw, sizeof acc);
    for (ptrdiff_t p = 0; p < a->P; p++) {
        const ptrdiff_t h = p + a->r - 1;
        if (h < 0 || h >= a->H) continue;
        const uint16_t *xrow = a->xp + (h * (a->W + 2) + a->s) * CB * 2, *drow = a->dyp + p * a->Qp * CB * 2;
        for (ptrdiff_t qp = 0; qp < a->Qp; qp++) {
            const uint16_t *xc = xrow + 2 * qp * CB * 2, *dv = drow + qp * CB * 2;
            for (ptrdiff_t c = 0; c < CB; c++) {
                const float x0 = widen(xc[2 * c]), x1 = widen(xc[2 * c + 1]);
                for (ptrdiff_t k = 0; k < CB; k++) acc[c][k] = fmaf(x1, widen(dv[2 * k + 1]), acc[c][k]);
                for (ptrdiff_t k = 0; k < CB; k++) acc[c][k] = fmaf(x0, widen(dv[2 * k]), acc[c][k]);
            }
        }
    }
    memcpy(a->dw, acc, sizeof acc);
}

// Images in order; per image the team packs its pairs (rows shared), waits, then each thread runs
// its fixed units (kb, cb, tap), and waits again before the next image overwrites the pairs. Each
// unit sums the images in order whatever the team size.
static void bf16_weights_share(float *dw, const uint16_t *dyh, const uint16_t *x, uint32_t *xp, uint32_t *dyp,
                               const ck_conv2d_shape *s, int fast) {
    const ptrdiff_t Kb = nblk(s->K), Cb = nblk(s->C), P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    const ptrdiff_t Qp = qpairs(s), units = Kb * Cb * 9;
    const ptrdiff_t xim = s->H * (s->W + 2) * CB, dyim = P * Qp * CB; // pairs per (image, block)
    ptrdiff_t lo, hi, xlo, xhi, dlo, dhi;
    ck_note_team();
    ck_share(units, &lo, &hi);
    ck_share(Cb * s->H, &xlo, &xhi);
    ck_share(Kb * P, &dlo, &dhi);
    for (ptrdiff_t n = 0; n < s->N; n++) {
        pack_x_rows(xp, x + n * Cb * s->H * s->W * CB, s->W, xlo, xhi);
        pack_dy_rows(dyp, dyh + n * Kb * P * Q * CB, Q, dlo, dhi);
        ck_team_barrier();
        for (ptrdiff_t u = lo; u < hi; u++) {
            const ptrdiff_t kb = u / (Cb * 9), cb = u / 9 % Cb, tap = u % 9;
            const ck_convb16_wunit wu = {dw + u * CB2, (const uint16_t *)(xp + cb * xim),
                                         (const uint16_t *)(dyp + kb * dyim), s->H, s->W, P, Qp, tap / 3, tap % 3};
            if (fast) ck_convb16_wunit_avx512(&wu);
            else widen_wunit(&wu);
        }
        ck_team_barrier();
    }
}

void ck_conv2d_blocked_bf16_backward_weights(float *dw, float *db, const float *dy, const uint16_t *dyh,
                                             const uint16_t *x, const ck_conv2d_shape *s, float *workspace) {
    if (!ck_conv2d_blocked_bf16_weights_shape(s)) return; // the Swift wrapper refuses other shapes first
    const int flushed = ck_get_flush_subnormals();
    ck_set_flush_subnormals(1);
    uint32_t *xp = (uint32_t *)workspace;
    uint32_t *dyp = (uint32_t *)(((uintptr_t)((uint16_t *)xp + xpairs_size(s)) + 63) & ~(uintptr_t)63);
    const ptrdiff_t units = nblk(s->K) * nblk(s->C) * 9;
    const int fast = ck_bf16_isa() == CK_BF16_AVX512, worth = worth_threads(s, units);
    if (ck_go_parallel(worth)) {
        const unsigned mode = ck_fp_mode();
#pragma omp parallel
        {
            ck_fp_adopt(mode);
            bf16_weights_share(dw, dyh, x, xp, dyp, s, fast);
        }
    } else {
        bf16_weights_share(dw, dyh, x, xp, dyp, s, fast);
    }
    ck_set_flush_subnormals(flushed);
    if (db) ck_convb_bias_backward(db, dy, s);
}

// MARK: - References: the definition on widened values, in double, on the blocked layouts

static inline double xval(const uint16_t *x, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t n, ptrdiff_t c,
                          ptrdiff_t h, ptrdiff_t w) {
    return widen(x[(((n * nblk(C) + c / CB) * H + h) * W + w) * CB + c % CB]);
}

static inline double wval(const uint16_t *wh, const ck_conv2d_shape *s, ptrdiff_t k, ptrdiff_t c, ptrdiff_t r,
                          ptrdiff_t t) {
    return widen(wh[(((k / CB) * nblk(s->C) + c / CB) * s->R * s->S + r * s->S + t) * WTAP + pair_at(c % CB, k % CB)]);
}

void ck_ref_conv2d_blocked_bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b,
                                        const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Kb = nblk(s->K);
    for (ptrdiff_t n = 0; n < s->N; n++)
        for (ptrdiff_t k = 0; k < Kb * CB; k++)
            for (ptrdiff_t p = 0; p < P; p++)
                for (ptrdiff_t q = 0; q < Q; q++) {
                    double acc = b && k < s->K ? b[k] : 0.0;
                    for (ptrdiff_t c = 0; c < s->C && k < s->K; c++)
                        for (ptrdiff_t r = 0; r < s->R; r++)
                            for (ptrdiff_t t = 0; t < s->S; t++) {
                                const ptrdiff_t h = p * s->stride - s->pad + r, ww = q * s->stride - s->pad + t;
                                if (h >= 0 && h < s->H && ww >= 0 && ww < s->W)
                                    acc += xval(x, s->C, s->H, s->W, n, c, h, ww) * wval(w, s, k, c, r, t);
                            }
                    y[(((n * Kb + k / CB) * P + p) * Q + q) * CB + k % CB] = (float)acc;
                }
}

void ck_ref_conv2d_blocked_bf16_backward_data(float *dx, const uint16_t *dy, const uint16_t *w,
                                              const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Cb = nblk(s->C);
    for (ptrdiff_t n = 0; n < s->N; n++)
        for (ptrdiff_t c = 0; c < s->C; c++)
            for (ptrdiff_t h = 0; h < s->H; h++)
                for (ptrdiff_t ww = 0; ww < s->W; ww++) {
                    double acc = 0.0;
                    for (ptrdiff_t k = 0; k < s->K; k++)
                        for (ptrdiff_t r = 0; r < s->R; r++)
                            for (ptrdiff_t t = 0; t < s->S; t++) {
                                const ptrdiff_t ph = h + s->pad - r, qw = ww + s->pad - t;
                                if (ph < 0 || qw < 0 || ph % s->stride || qw % s->stride) continue;
                                if (ph / s->stride >= P || qw / s->stride >= Q) continue;
                                acc += xval(dy, s->K, P, Q, n, k, ph / s->stride, qw / s->stride) *
                                       wval(w, s, k, c, r, t);
                            }
                    float *d = dx + (((n * Cb + c / CB) * s->H + h) * s->W + ww) * CB + c % CB;
                    *d = (float)((double)*d + acc);
                }
}

void ck_ref_conv2d_blocked_bf16_backward_weights(float *dw, const uint16_t *dy, const uint16_t *x,
                                                 const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Cb = nblk(s->C);
    for (ptrdiff_t k = 0; k < s->K; k++)
        for (ptrdiff_t c = 0; c < s->C; c++)
            for (ptrdiff_t r = 0; r < s->R; r++)
                for (ptrdiff_t t = 0; t < s->S; t++) {
                    double acc = 0.0;
                    for (ptrdiff_t n = 0; n < s->N; n++)
                        for (ptrdiff_t p = 0; p < P; p++)
                            for (ptrdiff_t q = 0; q < Q; q++) {
                                const ptrdiff_t h = p * s->stride - s->pad + r, ww = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || ww < 0 || ww >= s->W) continue;
                                acc += xval(x, s->C, s->H, s->W, n, c, h, ww) * xval(dy, s->K, P, Q, n, k, p, q);
                            }
                    float *d = dw + ((((k / CB) * Cb + c / CB) * s->R + r) * s->S + t) * CB2 + (c % CB) * CB + k % CB;
                    *d = (float)((double)*d + acc);
                }
}
