// Direct convolution on the channel-blocked layout: layout conversions, the drivers (partitions and
// threads), and the generic loops that serve every other shape and the portable variant.
// Sizes: N,C,H,W input; K,R,S filters; P,Q output; Cb = ⌈C/16⌉, Kb = ⌈K/16⌉ blocks.
// xb (N, Cb, H, W, 16), yb (N, Kb, P, Q, 16), wb (Kb, Cb, R, S, 16c, 16k); padding channels zero.
//
// Partitions are fixed by the shape: forward over (image, output-block group, row), backward-data
// over (image, input-block group, row), backward-weights over (output block, input block, tap row,
// 8 channels), each unit summing the images in order. Nothing depends on the thread count.
#include "conv_blocked.h"

static inline ptrdiff_t nblk(ptrdiff_t c) { return ck_ceil_div(c, CB); }

ptrdiff_t ck_blocked_size(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W) { return N * nblk(C) * CB * H * W; }

ptrdiff_t ck_blocked_weights_size(ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S) {
    return nblk(K) * nblk(C) * R * S * CB2;
}

// MARK: - Layout conversions

void ck_blocked_from_nchw(float *xb, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W) {
    const ptrdiff_t Cb = nblk(C), HW = H * W;
    CK_PARALLEL_FOR(nb, N * Cb, N * Cb * HW * CB >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t n = nb / Cb, c0 = nb % Cb * CB, cn = ck_min(CB, C - c0);
        float *d = xb + nb * HW * CB;
        const float *src = x + (n * C + c0) * HW;
        for (ptrdiff_t i = 0; i < HW; i++)
            for (ptrdiff_t c = 0; c < CB; c++) d[i * CB + c] = c < cn ? src[c * HW + i] : 0.0f;
    );
}

void ck_blocked_to_nchw(float *x, const float *xb, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W) {
    const ptrdiff_t Cb = nblk(C), HW = H * W;
    CK_PARALLEL_FOR(nb, N * Cb, N * Cb * HW * CB >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t n = nb / Cb, c0 = nb % Cb * CB, cn = ck_min(CB, C - c0);
        const float *s = xb + nb * HW * CB;
        float *d = x + (n * C + c0) * HW;
        for (ptrdiff_t c = 0; c < cn; c++)
            for (ptrdiff_t i = 0; i < HW; i++) d[c * HW + i] = s[i * CB + c];
    );
}

// The weight conversions run every step on every chunk (the update works on KCRS): copies, so
// parallel over 16×16 blocks with the same bits whatever the team. Below the fork size they run on
// the calling thread, where they count as the step's serial part on a wide machine: whole blocks
// take no per-element index arithmetic or bounds test.
void ck_blocked_weights_from_kcrs(float *wb, const float *w, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S) {
    const ptrdiff_t Kb = nblk(K), Cb = nblk(C), RS = R * S, CRS = C * RS;
    CK_PARALLEL_FOR(u, Kb * Cb * RS, Kb * Cb * RS * CB2 >= CK_PAR_MIN_ELEMS, // (kb, cb, rs) blocks
        const ptrdiff_t kb = u / (Cb * RS), cb = u / RS % Cb, rs = u % RS;
        const ptrdiff_t kn = ck_min(CB, K - kb * CB), cn = ck_min(CB, C - cb * CB);
        float *restrict d = wb + u * CB2; // (16c, 16k)
        const float *restrict src = w + (kb * CB * C + cb * CB) * RS + rs; // (k, c) at k·CRS + c·RS
        if (kn < CB || cn < CB) memset(d, 0, CB2 * sizeof(float)); // a partial block: zero lanes past K, C
        for (ptrdiff_t c = 0; c < cn; c++)
            for (ptrdiff_t k = 0; k < kn; k++) d[c * CB + k] = src[k * CRS + c * RS];
    );
}

void ck_blocked_weights_to_kcrs(float *w, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R, ptrdiff_t S) {
    const ptrdiff_t Cb = nblk(C), RS = R * S;
    for (ptrdiff_t k = 0; k < K; k++)
        for (ptrdiff_t c = 0; c < C; c++)
            for (ptrdiff_t rs = 0; rs < RS; rs++)
                w[(k * C + c) * RS + rs] = wb[(((k / CB) * Cb + c / CB) * RS + rs) * CB2 + c % CB * CB + k % CB];
}

void ck_blocked_weights_accumulate_kcrs(float *w, const float *wb, ptrdiff_t K, ptrdiff_t C, ptrdiff_t R,
                                        ptrdiff_t S) {
    const ptrdiff_t Cb = nblk(C), RS = R * S;
    CK_PARALLEL_FOR(k, K, K * C * RS >= CK_PAR_MIN_ELEMS, // one output channel's C·RS weights
        float *restrict dst = w + k * C * RS;
        const float *restrict src = wb + (k / CB) * Cb * RS * CB2 + k % CB; // (cb, rs, 16c) at stride 16
        for (ptrdiff_t c = 0; c < C; c++) {
            const float *sc = src + (c / CB) * RS * CB2 + c % CB * CB;
            for (ptrdiff_t rs = 0; rs < RS; rs++) dst[c * RS + rs] += sc[rs * CB2];
        }
    );
}

// wt (Cb, Kb, R, S, 16k, 16c): the weights with the roles of C and K swapped, for backward-data;
// flip: taps reversed (r, s) → (R−1−r, S−1−s), which turns it into a forward convolution.
static void transpose_weights(float *restrict wt, const float *restrict wb, ptrdiff_t Kb, ptrdiff_t Cb, ptrdiff_t R,
                              ptrdiff_t S, int flip) {
    const ptrdiff_t RS = R * S;
    CK_PARALLEL_FOR(u, Cb * Kb * RS, Cb * Kb * RS * CB2 >= CK_PAR_MIN_ELEMS, // (cb, kb, rs) blocks
        const ptrdiff_t cb = u / (Kb * RS), kb = u / RS % Kb, rs = u % RS;
        const ptrdiff_t from = flip ? RS - 1 - rs : rs;
        const float *restrict src = wb + ((kb * Cb + cb) * RS + from) * CB2;
        float *restrict d = wt + u * CB2;
        for (ptrdiff_t k = 0; k < CB; k++)
            for (ptrdiff_t c = 0; c < CB; c++) d[k * CB + c] = src[c * CB + k];
    );
}

// MARK: - Variant choice

static const ck_convb_kernels *kernels_for(int isa) {
    if (isa == CK_ISA_AVX512) return &ck_convb_kernels_avx512;
    if (isa == CK_ISA_AVX2) return &ck_convb_kernels_avx2;
    return NULL; // the generic loops
}

static int is_fast_shape(const ck_conv2d_shape *s) {
    return s->R == 3 && s->S == 3 && s->stride == 1 && s->pad == 1;
}

const char *ck_conv2d_blocked_kernel_name(void) {
    const ck_convb_kernels *k = kernels_for(ck_isa());
    return k ? k->name : "portable loops";
}

// Worth a thread team: at least a few hundred thousand FMAs.
static int worth_threads(const ck_conv2d_shape *s, ptrdiff_t items) {
    const double fmas = (double)s->N * s->K * s->C * s->R * s->S * s->H * s->W;
    return items > 1 && fmas >= 262144.0;
}

// MARK: - Generic loops (any R, S, stride, pad), in the same summation order as the micro-kernels

// Output row p of image n, output block kb: y[k] = init + Σ over (cb, r, s, c).
static void generic_forward_row(float *restrict y, const float *restrict x, const float *restrict w,
                                const float *bias, const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q,
                                ptrdiff_t n, ptrdiff_t kb, ptrdiff_t p, int accumulate) {
    const ptrdiff_t Cb = nblk(s->C), H = s->H, W = s->W, R = s->R, S = s->S;
    for (ptrdiff_t q = 0; q < Q; q++) {
        float acc[CB];
        for (ptrdiff_t k = 0; k < CB; k++) acc[k] = bias ? bias[k] : 0.0f;
        for (ptrdiff_t cb = 0; cb < Cb; cb++) {
            const ptrdiff_t cn = ck_min(CB, s->C - cb * CB);
            for (ptrdiff_t r = 0; r < R; r++) {
                const ptrdiff_t h = p * s->stride - s->pad + r;
                if (h < 0 || h >= H) continue;
                for (ptrdiff_t t = 0; t < S; t++) {
                    const ptrdiff_t ww = q * s->stride - s->pad + t;
                    if (ww < 0 || ww >= W) continue;
                    const float *xp = x + (((n * Cb + cb) * H + h) * W + ww) * CB;
                    const float *wp = w + (((kb * Cb + cb) * R + r) * S + t) * CB2;
                    for (ptrdiff_t c = 0; c < cn; c++)
                        for (ptrdiff_t k = 0; k < CB; k++) acc[k] += xp[c] * wp[c * CB + k];
                }
            }
        }
        float *yp = y + (((n * nblk(s->K) + kb) * P + p) * Q + q) * CB;
        for (ptrdiff_t k = 0; k < CB; k++) yp[k] = accumulate ? yp[k] + acc[k] : acc[k];
    }
}

// dx row h of image n, input block cb += Σ over (kb, r descending, s descending, k): the order of
// the forward kernel run on flipped weights, so the generic and fast paths agree bit for bit.
static void generic_backward_data_row(float *restrict dx, const float *restrict dy, const float *restrict wt,
                                      const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q, ptrdiff_t n,
                                      ptrdiff_t cb, ptrdiff_t h, int accumulate) {
    const ptrdiff_t Cb = nblk(s->C), Kb = nblk(s->K), H = s->H, W = s->W, R = s->R, S = s->S, st = s->stride;
    for (ptrdiff_t ww = 0; ww < W; ww++) {
        float acc[CB] = {0};
        for (ptrdiff_t kb = 0; kb < Kb; kb++) {
            const ptrdiff_t kn = ck_min(CB, s->K - kb * CB);
            for (ptrdiff_t r = R - 1; r >= 0; r--) {
                const ptrdiff_t ph = h + s->pad - r;
                if (ph < 0 || ph % st || ph / st >= P) continue;
                for (ptrdiff_t t = S - 1; t >= 0; t--) {
                    const ptrdiff_t qw = ww + s->pad - t;
                    if (qw < 0 || qw % st || qw / st >= Q) continue;
                    const float *dp = dy + (((n * Kb + kb) * P + ph / st) * Q + qw / st) * CB;
                    const float *wp = wt + (((cb * Kb + kb) * R + r) * S + t) * CB2;
                    for (ptrdiff_t k = 0; k < kn; k++)
                        for (ptrdiff_t c = 0; c < CB; c++) acc[c] += dp[k] * wp[k * CB + c];
                }
            }
        }
        float *d = dx + (((n * Cb + cb) * H + h) * W + ww) * CB;
        for (ptrdiff_t c = 0; c < CB; c++) d[c] = accumulate ? d[c] + acc[c] : acc[c];
    }
}

// dw (kb, cb, r, all s) += image n's Σ over its pixels (p, q) in order, one tap at a time.
static void generic_weights_unit(float *restrict dw, const float *restrict dy, const float *restrict x,
                                 const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q, ptrdiff_t n,
                                 ptrdiff_t kb, ptrdiff_t cb, ptrdiff_t r) {
    const ptrdiff_t Cb = nblk(s->C), Kb = nblk(s->K), H = s->H, W = s->W, S = s->S;
    for (ptrdiff_t t = 0; t < S; t++) {
        float tile[CB2] = {0}; // (16 c, 16 k)
        for (ptrdiff_t p = 0; p < P; p++) {
            const ptrdiff_t h = p * s->stride - s->pad + r;
            if (h < 0 || h >= H) continue;
            for (ptrdiff_t q = 0; q < Q; q++) {
                const ptrdiff_t ww = q * s->stride - s->pad + t;
                if (ww < 0 || ww >= W) continue;
                const float *xp = x + (((n * Cb + cb) * H + h) * W + ww) * CB;
                const float *dp = dy + (((n * Kb + kb) * P + p) * Q + q) * CB;
                for (ptrdiff_t c = 0; c < CB; c++)
                    for (ptrdiff_t k = 0; k < CB; k++) tile[c * CB + k] += xp[c] * dp[k];
            }
        }
        float *d = dw + (((kb * Cb + cb) * s->R + r) * S + t) * CB2;
        for (ptrdiff_t i = 0; i < CB2; i++) d[i] += tile[i];
    }
}

// MARK: - Forward and backward-data: rows of (image, output-block group)

// Rows per call with one output block: a 14-row band's input (16 rows at W = 28, 29 KB) stays in L1
// while the kernel's strips walk down it (7 rows measured slower, 28 no faster).
#define ROW_BAND 14

// Rows of `ib` output blocks from `kernel`-sized input, for the fast path: x (N, xblocks, H, W, 16)
// into y (N, yblocks, H, W, 16) with wt (yblocks, xblocks, 3, 3, 16, 16).
static void fast_rows(const ck_convb_kernels *kern, float *y, const float *x, const float *w, const float *b,
                      ptrdiff_t N, ptrdiff_t xchannels, ptrdiff_t ychannels, ptrdiff_t H, ptrdiff_t W, int accumulate,
                      const ck_conv_finish *fin, const ck_conv2d_shape *s) {
    const ptrdiff_t Xb = nblk(xchannels), Yb = nblk(ychannels), HW16 = H * W * CB;
    const ptrdiff_t nk = W <= 7 ? kern->nk_small : kern->nk_large, groups = ck_ceil_div(Yb, nk);
    // One output block (K ≤ 16): bands of rows, each input row's broadcasts feeding up to three rows.
    const ptrdiff_t pr = Yb == 1 ? ck_min(H, ROW_BAND) : 1, HP = ck_ceil_div(H, pr);
    CK_PARALLEL_FOR(it, N * groups * HP, worth_threads(s, N * groups * HP),
        const ptrdiff_t n = it / (groups * HP), g = it / HP % groups, p = it % HP * pr;
        const int rows = (int)ck_min(pr, H - p);
        if (it == 0) ck_note_team();
        ptrdiff_t j = g * nk;
        const ptrdiff_t jend = ck_min(Yb, j + nk);
        while (j < jend) { // a short last group in pieces of 4, 2, 1 blocks
            const int kn = jend - j >= 4 && nk >= 4 ? 4 : jend - j >= 2 ? 2 : 1;
            float bias[4 * CB];
            if (b)
                for (ptrdiff_t k = 0; k < kn * CB; k++) bias[k] = j * CB + k < ychannels ? b[j * CB + k] : 0.0f;
            const ptrdiff_t at = (n * Yb + j) * HW16 + p * W * CB; // row p of block j; block j + k at + k·HW16
            const ck_convb_row row = {y + at, HW16, x + n * Xb * HW16,
                                      w + j * Xb * 9 * CB2, Xb * 9 * CB2, b ? bias : NULL, Xb,
                                      xchannels - (Xb - 1) * CB, H, W, p, kn, rows, accumulate,
                                      fin ? fin->relu : 0, fin && fin->mask ? fin->mask + at : NULL,
                                      fin ? fin->low : 0};
            if (fin) // the mask's rows (another activation, cold) on their way while the FMAs run
                for (int k = 0; k < kn; k++) ck_conv_finish_prefetch(fin, at + k * HW16, rows * W * CB);
            kern->row(&row); // the finish applied in registers as each vector is stored
            ck_conv_finish_bn_rows(fin, y + at, HW16, n, j, kn, Yb, p, rows, H, W); // while in cache
            j += kn;
        }
    );
}

static void forward(float *y, const float *x, const float *w, const float *b, const ck_conv_finish *fin,
                    const ck_conv2d_shape *s) {
    const ck_convb_kernels *kern = kernels_for(ck_isa());
    const int finish = fin->relu || fin->bn_rows;
    if (kern && is_fast_shape(s)) {
        fast_rows(kern, y, x, w, b, s->N, s->C, s->K, s->H, s->W, 0, finish ? fin : NULL, s);
        return;
    }
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s), Kb = nblk(s->K);
    CK_PARALLEL_FOR(it, s->N * Kb * P, worth_threads(s, s->N * Kb * P),
        const ptrdiff_t n = it / (Kb * P), kb = it / P % Kb, p = it % P;
        if (it == 0) ck_note_team();
        float bias[CB];
        if (b)
            for (ptrdiff_t k = 0; k < CB; k++) bias[k] = kb * CB + k < s->K ? b[kb * CB + k] : 0.0f;
        generic_forward_row(y, x, w, b ? bias : NULL, s, P, Q, n, kb, p, 0);
        if (fin->relu) ck_conv_finish_range(fin, y, it * Q * CB, Q * CB);
        ck_conv_finish_bn_rows(fin, y + it * Q * CB, 0, n, kb, 1, Kb, p, 1, P, Q);
    );
}

void ck_conv2d_blocked_forward(float *y, const float *x, const float *w, const float *b, int relu,
                               const ck_conv2d_shape *s, float *workspace) {
    (void)workspace;
    const ck_conv_finish fin = ck_conv_finish_make(relu, NULL);
    forward(y, x, w, b, &fin, s);
}

void ck_conv2d_blocked_forward_bn_rows(float *y, double *bn_rows, const float *x, const float *w, const float *b,
                                       const ck_conv2d_shape *s, float *workspace) {
    (void)workspace;
    ck_conv_finish fin = ck_conv_finish_make(0, NULL);
    fin.bn_rows = bn_rows;
    forward(y, x, w, b, &fin, s);
}

void ck_conv2d_blocked_backward_data(float *dx, const float *dy, const float *w, int accumulate,
                                     const float *relu_mask, const ck_conv2d_shape *s, float *workspace) {
    const ck_convb_kernels *kern = kernels_for(ck_isa());
    const ck_conv_finish fin = ck_conv_finish_make(0, accumulate ? NULL : relu_mask);
    const ptrdiff_t Kb = nblk(s->K), Cb = nblk(s->C);
    const int fast = kern && is_fast_shape(s);
    transpose_weights(workspace, w, Kb, Cb, s->R, s->S, fast);
    if (fast) {
        fast_rows(kern, dx, dy, workspace, NULL, s->N, s->K, s->C, s->H, s->W, accumulate, fin.mask ? &fin : NULL, s);
        return;
    }
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    CK_PARALLEL_FOR(it, s->N * Cb * s->H, worth_threads(s, s->N * Cb * s->H),
        const ptrdiff_t n = it / (Cb * s->H), cb = it / s->H % Cb, h = it % s->H;
        if (it == 0) ck_note_team();
        generic_backward_data_row(dx, dy, workspace, s, P, Q, n, cb, h, accumulate);
        if (fin.mask) ck_conv_finish_range(&fin, dx, it * s->W * CB, s->W * CB);
    );
}

// MARK: - Backward-weights: units of disjoint weights, each summing a group of images in order

// A thin layer has few units (a 16→16 layer: 6), too few for a wide team. Its images are then split
// into groups, fixed by the shape and the chunk (never by the team): group 0 accumulates into dw,
// each other group into its own zeroed slice of the workspace, and the slices are added into dw in
// group order. The bits depend on the group count, which the shape alone sets.
// The count: the fewest groups whose (unit, group) tasks are a multiple of 64, so that 64, 32, 16 …
// threads get equal shares (16→16: 32 groups, 192 tasks; 32→32: 8; 64→64: 2), at most ⌈256 / units⌉
// (the slices cost a zeroing and a sum each) and the chunk's images; 256 units or more keep one.

// Units of disjoint weights: (output block, input block, tap row) and, for the micro-kernels (fast),
// 8 channels of the input block; the channels past C (first layers) are left out.
static ptrdiff_t weights_units(const ck_conv2d_shape *s, int fast, ptrdiff_t *per_r) {
    *per_r = fast ? ck_ceil_div(ck_min(s->C, CB), CK_CONVB_UNIT_C) : 1;
    return nblk(s->K) * nblk(s->C) * s->R * *per_r;
}

// From the shape alone, never the variant: the portable loops (whole 16-channel units) group the
// images as the micro-kernels do, so every variant keeps the same bits.
static ptrdiff_t weights_groups(const ck_conv2d_shape *s) {
    ptrdiff_t per_r;
    return ck_weights_groups(s->N, weights_units(s, is_fast_shape(s), &per_r));
}

// The fast path's micro-kernels exist only for 3×3 / stride 1 / pad 1.
static const ck_convb_kernels *weights_kernels(const ck_conv2d_shape *s) {
    return is_fast_shape(s) ? kernels_for(ck_isa()) : NULL;
}

typedef struct {
    float *dw, *partials; // partials: (groups - 1, dw_size), group g ≥ 1 at (g - 1)·dw_size
    float *db, *bias_part; // db (K) or NULL; bias_part (N, Kb, 16) after the slices (ck_convb_bias_share)
    const float *dy, *x;
    const ck_conv2d_shape *s;
    const ck_convb_kernels *kern;
    ptrdiff_t units, per_r, groups, dw_size;
} weights_job;

static float *group_dw(const weights_job *j, ptrdiff_t g) {
    return g == 0 ? j->dw : j->partials + (g - 1) * j->dw_size;
}

static void weights_share(const weights_job *j) {
    const ck_conv2d_shape *s = j->s;
    const ptrdiff_t Kb = nblk(s->K), Cb = nblk(s->C), P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    const ptrdiff_t HW16 = s->H * s->W * CB, PQ16 = P * Q * CB, per_r = j->per_r;
    ptrdiff_t lo, hi;
    ck_note_team();
    if (j->groups > 1) { // the groups' slices start at zero
        ck_share((j->groups - 1) * j->dw_size, &lo, &hi);
        memset(j->partials + lo, 0, (size_t)(hi - lo) * sizeof(float));
        ck_team_barrier();
    }
    ck_share(j->groups * j->units, &lo, &hi);
    for (ptrdiff_t g = lo / j->units; g < j->groups && g * j->units < hi; g++) {
        const ptrdiff_t first = g * j->units; // this group's units within the thread's share
        const ptrdiff_t ulo = ck_max(lo, first) - first, uhi = ck_min(hi, first + j->units) - first;
        const ck_range imgs = ck_split(s->N, j->groups, g);
        float *dw = group_dw(j, g);
        // Images outermost: a thread's units reuse the image's blocks from cache.
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++)
            for (ptrdiff_t u = ulo; u < uhi; u++) {
                const ptrdiff_t kb = u / (Cb * s->R * per_r), cb = u / (s->R * per_r) % Cb;
                const ptrdiff_t rr = u / per_r % s->R, part = u % per_r;
                if (!j->kern) { generic_weights_unit(dw, j->dy, j->x, s, P, Q, n, kb, cb, rr); continue; }
                const ck_convb_wunit wu = {dw + ((kb * Cb + cb) * 9 + rr * 3) * CB2, j->x + (n * Cb + cb) * HW16,
                                           j->dy + (n * Kb + kb) * PQ16, s->H, s->W, rr, part * CK_CONVB_UNIT_C};
                j->kern->wunit(&wu);
            }
    }
    if (j->groups > 1) {
        ck_team_barrier();
        ck_convb_add_slices(j->dw, j->partials, j->groups - 1, j->dw_size);
    }
    if (j->db) ck_convb_bias_share(j->db, j->bias_part, j->dy, s);
}

void ck_convb_add_slices(float *dw, const float *slices, ptrdiff_t n, ptrdiff_t dw_size) {
    ptrdiff_t lo, hi;
    ck_share(dw_size, &lo, &hi);
    for (ptrdiff_t g = 0; g < n; g++) {
        const float *p = slices + g * dw_size;
        for (ptrdiff_t i = lo; i < hi; i++) dw[i] += p[i];
    }
}

ptrdiff_t ck_conv2d_blocked_workspace_size(const ck_conv2d_shape *s) {
    const ptrdiff_t dw_size = ck_blocked_weights_size(s->K, s->C, s->R, s->S), groups = weights_groups(s);
    // backward-data's transposed weights; backward-weights' slices, then the bias partials
    return ck_max(dw_size, (groups - 1) * dw_size + s->N * nblk(s->K) * CB);
}

void ck_conv2d_blocked_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                        const ck_conv2d_shape *s, float *workspace) {
    weights_job j = {dw, workspace, db, NULL, dy, x, s, weights_kernels(s), 0, 0, 1,
                     ck_blocked_weights_size(s->K, s->C, s->R, s->S)};
    j.units = weights_units(s, j.kern != NULL, &j.per_r);
    j.groups = weights_groups(s);
    j.bias_part = workspace + (j.groups - 1) * j.dw_size;
    const ptrdiff_t tasks = j.groups * j.units;
    const int worth = worth_threads(s, tasks);
    const ck_trace_span tr = CK_TRACE_OPEN(worth, tasks);
    if (ck_go_parallel(worth)) {
        const unsigned mode = ck_fp_mode();
#pragma omp parallel
        {
            ck_fp_adopt(mode);
            CK_TRACED_SHARE(tr, tasks, weights_share(&j));
        }
    } else {
        CK_TRACED_SHARE(tr, tasks, weights_share(&j));
    }
    CK_TRACE_CLOSE(tr); // db was summed in the same team (weights_share)
}

// part[0..16) = Σ over the PQ pixels of one (image, block) plane of blocked dy, in pixel order: the
// one partial both bias sums below take, accumulated in registers (through `part` every add would
// be a store, as it may alias dy).
static inline void bias_plane_partial(float *part, const float *d, ptrdiff_t PQ) {
    float acc[CB] = {0};
    for (ptrdiff_t i = 0; i < PQ; i++)
        for (ptrdiff_t k = 0; k < CB; k++) acc[k] += d[i * CB + k];
    memcpy(part, acc, sizeof acc);
}

// The bias gradient inside a team that is already running: (image, block) partials into `part`
// (N, Kb, 16), then db[c] += each image's partial in image order, channels shared among the
// threads: ck_convb_bias_backward's sums and bits, without a region of its own.
void ck_convb_bias_share(float *db, float *part, const float *dy, const ck_conv2d_shape *s) {
    const ptrdiff_t Kb = nblk(s->K), PQ = ck_conv2d_out_h(s) * ck_conv2d_out_w(s);
    ptrdiff_t lo, hi;
    ck_share(s->N * Kb, &lo, &hi);
    for (ptrdiff_t u = lo; u < hi; u++) bias_plane_partial(part + u * CB, dy + u * PQ * CB, PQ);
    ck_team_barrier();
    ck_share(s->K, &lo, &hi);
    for (ptrdiff_t c = lo; c < hi; c++) {
        float t = db[c];
        for (ptrdiff_t n = 0; n < s->N; n++) t += part[(n * Kb + c / CB) * CB + c % CB];
        db[c] = t;
    }
}

// Images in batches whose partial sums (images, ⌈K/16⌉·16) fit 32 KB of stack: the (image, block)
// partials are computed in parallel, then added into db in image order on the calling thread, so
// the bits are those of one thread walking the images.
#define BIAS_PARTIAL_FLOATS 8192

void ck_convb_bias_backward(float *db, const float *dy, const ck_conv2d_shape *s) {
    const ptrdiff_t Kb = nblk(s->K), PQ = ck_conv2d_out_h(s) * ck_conv2d_out_w(s);
    const ptrdiff_t batch = ck_max(1, BIAS_PARTIAL_FLOATS / (Kb * CB));
    float part[BIAS_PARTIAL_FLOATS]; // (images of the batch, Kb, 16)
    for (ptrdiff_t n0 = 0; n0 < s->N; n0 += batch) {
        const ptrdiff_t nn = ck_min(batch, s->N - n0);
        CK_PARALLEL_FOR(u, nn * Kb, nn * Kb * PQ * CB >= CK_PAR_MIN_ELEMS,
            bias_plane_partial(part + u * CB, dy + (n0 * Kb + u) * PQ * CB, PQ);
        );
        for (ptrdiff_t n = 0; n < nn; n++)
            for (ptrdiff_t c = 0; c < s->K; c++) db[c] += part[(n * Kb + c / CB) * CB + c % CB];
    }
}
