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
        ck_conv_finish_bn_rows(fin, y + at, HW16, n, j, nk, Yb, p, 1, H, W); // while in cache
    );
}

// The batch norm's row sums run under the kernels' FTZ/DAZ and still have the caller's bits: every
// y is the result of arithmetic made under FTZ, so none is subnormal, and the double sums of
// normal floats never come near double's subnormal range.
static void bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b, const ck_conv_finish *fin,
                         const ck_conv2d_shape *s) {
    const int flushed = ck_get_flush_subnormals(), finish = fin->relu || fin->bn_rows;
    ck_set_flush_subnormals(1);
    if (ck_bf16_isa() == CK_BF16_AVX512 && is_fast_shape(s)) {
        fast_rows(y, x, w, b, s->N, s->C, s->K, s->H, s->W, 0, finish ? fin : NULL, s);
    } else {
        const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Kb = nblk(s->K);
        CK_PARALLEL_FOR(it, s->N * Kb * P, worth_threads(s, s->N * Kb * P),
            const ptrdiff_t n = it / (Kb * P), kb = it / P % Kb, p = it % P;
            if (it == 0) ck_note_team();
            float bias[CB];
            if (b)
                for (ptrdiff_t k = 0; k < CB; k++) bias[k] = kb * CB + k < s->K ? b[kb * CB + k] : 0.0f;
            widen_forward_row(y, x, w, b ? bias : NULL, s, P, Q, n, kb, p);
            if (fin->relu) ck_conv_finish_range(fin, y, it * Q * CB, Q * CB);
            ck_conv_finish_bn_rows(fin, y + it * Q * CB, 0, n, kb, 1, Kb, p, 1, P, Q);
        );
    }
    ck_set_flush_subnormals(flushed);
}

void ck_conv2d_blocked_bf16_forward(float *y, const uint16_t *x, const uint16_t *w, const float *b, int relu,
                                    const ck_conv2d_shape *s, float *workspace) {
    (void)workspace;
    const ck_conv_finish fin = ck_conv_finish_make(relu, NULL); // the caller's mode, before FTZ/DAZ
    bf16_forward(y, x, w, b, &fin, s);
}

void ck_conv2d_blocked_bf16_forward_bn_rows(float *y, double *bn_rows, const uint16_t *x, const uint16_t *w,
                                            const float *b, const ck_conv2d_shape *s, float *workspace) {
    (void)workspace;
    ck_conv_finish fin = ck_conv_finish_make(0, NULL);
    fin.bn_rows = bn_rows;
    bf16_forward(y, x, w, b, &fin, s);
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
static inline ptrdiff_t round64(ptrdiff_t u16) { return ck_ceil_div(u16, 32) * 32; } // uint16s to 64 bytes

// Image groups as the FP32 pass's rule (ck_weights_groups) on this pass's (kb, cb, tap) units.
static ptrdiff_t bf16_weights_groups(const ck_conv2d_shape *s) {
    return ck_weights_groups(s->N, nblk(s->K) * nblk(s->C) * 9);
}

// One image's x pairs then its dy pairs, each 64-byte aligned (uint16s).
static ptrdiff_t image_pairs(const ck_conv2d_shape *s) { return round64(xpairs_size(s)) + round64(dypairs_size(s)); }

// Images whose pairs one pass packs and then reads: 512 KB, half of a Zen 4/5 core's L2.
static ptrdiff_t pass_images(const ck_conv2d_shape *s) { return ck_max(1, 512 * 1024 / 2 / image_pairs(s)); }

// Image slots: a pass reserves ng·m ≤ max(groups, pass_images) of them (bf16_weights_share), and at
// most groups × images in the largest group.
static ptrdiff_t pair_slots(const ck_conv2d_shape *s) {
    const ptrdiff_t G = bf16_weights_groups(s);
    return ck_min(G * ck_ceil_div(s->N, G), ck_max(G, pass_images(s)));
}

// The image slots' pairs, then the groups' dw slices.
ptrdiff_t ck_conv2d_blocked_bf16_weights_workspace_size(const ck_conv2d_shape *s) {
    const ptrdiff_t G = bf16_weights_groups(s), dw_size = ck_blocked_weights_size(s->K, s->C, 3, 3);
    return ck_ceil_div(pair_slots(s) * image_pairs(s), 2) + (G - 1) * dw_size + 16;
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

typedef struct {
    float *dw, *slices;         // slices: (groups − 1, dw_size), group g ≥ 1's sum at (g − 1)·dw_size
    const uint16_t *dyh, *x;
    uint16_t *pairs;            // (pair_slots, x pairs + dy pairs of one image), 64-byte aligned
    const ck_conv2d_shape *s;
    ptrdiff_t groups, dw_size, xstride, gstride; // uint16s to a slot's dy pairs, and to the next slot
    int fast;
} bf16_weights_job;

// Team size over its greatest common divisor with the units: the fewest groups whose tasks the team
// shares evenly (2 threads, 9 units: 2 groups).
static ptrdiff_t groups_per_pass(ptrdiff_t units) {
#ifdef _OPENMP
    ptrdiff_t a = omp_get_num_threads(), b = units;
#else
    ptrdiff_t a = 1, b = units;
#endif
    const ptrdiff_t team = a;
    while (b) { const ptrdiff_t t = a % b; a = b; b = t; }
    return team / a;
}

// The images in fixed groups (ck_split: the larger groups first), each summed in image order into its
// own dw slice, group 0 into dw itself; then dw += slice 1 + slice 2 + … in group order. Every sum's
// order is set by the shape. The schedule is not: a pass takes the next m images of ng groups, ng a
// multiple of what the team shares evenly and ng·m about pass_images, so the packed pairs stay in
// L2. The team packs the pass's pairs (rows shared), waits, runs the (group, unit) tasks, each over
// its m images in order, and waits again before the next pass overwrites the pairs.
static void bf16_weights_share(const bf16_weights_job *j) {
    const ck_conv2d_shape *s = j->s;
    const ptrdiff_t Kb = nblk(s->K), Cb = nblk(s->C), P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    const ptrdiff_t Qp = qpairs(s), units = Kb * Cb * 9, G = j->groups, N = s->N;
    const ptrdiff_t xim = s->H * (s->W + 2) * CB * 2, dyim = P * Qp * CB * 2; // uint16s per (image, block)
    const ptrdiff_t xn = Cb * s->H * s->W * CB, dyn = Kb * P * Q * CB;        // bf16 values per image
    const ptrdiff_t xrows = Cb * s->H, rows = xrows + Kb * P;                // rows to pack per image
    const ptrdiff_t even = groups_per_pass(units), budget = pass_images(s);
    ptrdiff_t lo, hi;
    ck_note_team();
    if (G > 1) { // the slices start at zero
        ck_share((G - 1) * j->dw_size, &lo, &hi);
        memset(j->slices + lo, 0, (size_t)(hi - lo) * sizeof(float));
    }
    const ptrdiff_t rounds = ck_split(N, G, 0).hi; // image r of each group: the first group is a largest
    for (ptrdiff_t r0 = 0, m = 1; r0 < rounds; r0 += m) {
        const ptrdiff_t active = r0 < N / G ? G : N % G; // groups with an image r0
        ptrdiff_t ng = ck_min(active, ck_max(even, budget));
        if (ng > even) ng -= ng % even;
        m = ck_max(1, ck_min(budget / ng, rounds - r0));
        for (ptrdiff_t g0 = 0; g0 < active; g0 += ng) {
            const ptrdiff_t nb = ck_min(ng, active - g0);
            ck_share(nb * m * rows, &lo, &hi);
            for (ptrdiff_t t = lo; t < hi; t++) {
                const ptrdiff_t slot = t / rows, g = g0 + slot / m, row = t % rows;
                const ck_range imgs = ck_split(N, G, g);
                const ptrdiff_t n = imgs.lo + r0 + slot % m;
                if (n >= imgs.hi) continue;
                uint16_t *gp = j->pairs + slot * j->gstride;
                if (row < xrows) pack_x_rows((uint32_t *)gp, j->x + n * xn, s->W, row, row + 1);
                else pack_dy_rows((uint32_t *)(gp + j->xstride), j->dyh + n * dyn, Q, row - xrows, row - xrows + 1);
            }
            ck_team_barrier();
            ck_share(nb * units, &lo, &hi);
            for (ptrdiff_t t = lo; t < hi; t++) {
                const ptrdiff_t g = g0 + t / units, u = t % units, kb = u / (Cb * 9), cb = u / 9 % Cb, tap = u % 9;
                const ck_range imgs = ck_split(N, G, g);
                const ptrdiff_t images = ck_min(m, imgs.hi - imgs.lo - r0);
                float *dw = (g == 0 ? j->dw : j->slices + (g - 1) * j->dw_size) + u * CB2;
                for (ptrdiff_t i = 0; i < images; i++) {
                    const uint16_t *gp = j->pairs + ((g - g0) * m + i) * j->gstride;
                    const ck_convb16_wunit wu = {dw, gp + cb * xim, gp + j->xstride + kb * dyim, s->H, s->W, P, Qp,
                                                 tap / 3, tap % 3};
                    if (j->fast) ck_convb16_wunit_avx512(&wu);
                    else widen_wunit(&wu);
                }
            }
            ck_team_barrier();
        }
    }
    if (G > 1) ck_convb_add_slices(j->dw, j->slices, G - 1, j->dw_size);
}

void ck_conv2d_blocked_bf16_backward_weights(float *dw, float *db, const float *dy, const uint16_t *dyh,
                                             const uint16_t *x, const ck_conv2d_shape *s, float *workspace) {
    if (!ck_conv2d_blocked_bf16_weights_shape(s)) return; // the Swift wrapper refuses other shapes first
    const int flushed = ck_get_flush_subnormals();
    ck_set_flush_subnormals(1);
    const ptrdiff_t G = bf16_weights_groups(s), xstride = round64(xpairs_size(s)), gstride = image_pairs(s);
    uint16_t *pairs = (uint16_t *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const bf16_weights_job j = {dw, (float *)(pairs + pair_slots(s) * gstride), dyh, x, pairs, s, G,
                                ck_blocked_weights_size(s->K, s->C, 3, 3), xstride, gstride,
                                ck_bf16_isa() == CK_BF16_AVX512};
    const int worth = worth_threads(s, G * nblk(s->K) * nblk(s->C) * 9);
    if (ck_go_parallel(worth)) {
        const unsigned mode = ck_fp_mode();
#pragma omp parallel
        {
            ck_fp_adopt(mode);
            bf16_weights_share(&j);
        }
    } else {
        bf16_weights_share(&j);
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
