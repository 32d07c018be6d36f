// Batch normalization on the channel-blocked layout: x, y, xhat, dy, dx (N, ⌈C/16⌉, HW, 16);
// per-channel vectors (C) as in batchnorm.c, whose contracts these follow.
// Bitwise the NCHW kernels' results: each lane (channel) keeps its own double accumulators, fed
// in NCHW order (n, then the rows of hw, each row summed alone: ck_bn_row16), and every expression
// is written as in batchnorm.c so that the same roundings and fused multiply-adds happen. The lanes
// go innermost: 16 independent channels side by side in vectors, none of them reassociated.
// Padding lanes (channels ≥ C) are summed but never stored, and written as zero in outputs.
// Backward recomputes x̂ from x, mean and invstd (ck_bn_xhat's expression, lane by lane).
#include "ck_internal.h"
#include <math.h>

#define LANES CK_CB

// The sums' accumulators as vectors of four lanes (ck_d4): plain arrays of 16 doubles are kept on
// the stack by the compiler. Widening float → double is exact, the same value as the scalar cast.
#define QUADS (LANES / 4)

static inline ck_d4 load_wide(const float *p) {
    ck_f4 v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, ck_d4);
}

// The block's 16 accumulators to dst[c0 + l] for its valid lanes only.
static inline void store_lanes(double *dst, const ck_d4 *acc, ptrdiff_t c0, ptrdiff_t cn) {
    double a[LANES];
    memcpy(a, acc, sizeof a);
    for (ptrdiff_t l = 0; l < cn; l++) dst[c0 + l] = a[l];
}

// Sums: one unit per (group of images, channel block), the groups as ck_image_groups sets them and
// added in group order, as in batchnorm.c. Elementwise passes: one (image, block) plane per iteration.
#define BNB_PAR(N, Cb, HW, units) ((N) * (Cb) * (HW) * LANES >= CK_PAR_MIN_ELEMS && (units) > 1)

// Valid channels of block cb.
static inline ptrdiff_t lanes_of(ptrdiff_t cb, ptrdiff_t C) { return ck_min(LANES, C - cb * LANES); }

// v[l] = p[c0 + l] for the block's valid lanes, `pad` for the rest (or for all when p is NULL).
static inline void load_lanes(float *v, const float *p, ptrdiff_t c0, ptrdiff_t cn, float pad) {
    for (ptrdiff_t l = 0; l < LANES; l++) v[l] = p && l < cn ? p[c0 + l] : pad;
}

// The rows' sums of each (group, block) added in (n, h) order: from x (rows == NULL), each row summed
// here with ck_bn_row16; or from the row sums a convolution stored, computed by the same function.
static void partial_sums_rows(double *sum, double *sumsq, const float *x, const double *rows, ptrdiff_t N,
                              ptrdiff_t C, ptrdiff_t H, ptrdiff_t W) {
    const ptrdiff_t Cb = ck_ceil_div(C, LANES);
    ck_group_sums gs;
    ck_group_sums_init(&gs, N, C, sum, sumsq);
    CK_PARALLEL_FOR(gb, gs.G * Cb, BNB_PAR(N, Cb, H * W, gs.G * Cb),
        const ptrdiff_t g = gb / Cb, cb = gb % Cb, c0 = cb * LANES, cn = lanes_of(cb, C);
        const ck_range imgs = ck_split(N, gs.G, g);
        ck_d4 s[QUADS], ss[QUADS];
        for (int q = 0; q < QUADS; q++) s[q] = ss[q] = (ck_d4){0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++)
            for (ptrdiff_t h = 0; h < H; h++) {
                ck_d4 rs[QUADS], rq[QUADS];
                if (rows) {
                    const double *r = rows + ((n * Cb + cb) * H + h) * 2 * LANES;
                    memcpy(rs, r, sizeof rs);
                    memcpy(rq, r + LANES, sizeof rq);
                } else {
                    ck_bn_row16(rs, rq, x + ((n * Cb + cb) * H + h) * W * LANES, W);
                }
                for (int q = 0; q < QUADS; q++) {
                    s[q] += rs[q];
                    ss[q] += rq[q];
                }
            }
        store_lanes(gs.out[0] + g * C, s, c0, cn);
        store_lanes(gs.out[1] + g * C, ss, c0, cn);
    );
    ck_group_sums_finish(&gs);
}

void ck_bn_partial_sums_blocked(double *sum, double *sumsq, const float *x, ptrdiff_t N, ptrdiff_t C,
                                ptrdiff_t HW, ptrdiff_t W) {
    partial_sums_rows(sum, sumsq, x, NULL, N, C, HW / W, W);
}

void ck_bn_fold_rows_blocked(double *sum, double *sumsq, const double *rows, ptrdiff_t N, ptrdiff_t C,
                             ptrdiff_t H) {
    partial_sums_rows(sum, sumsq, NULL, rows, N, C, H, 1);
}

// One (image, block) plane of HW pixels: batchnorm.c's normalize_plane with per-lane parameters.
// Padding lanes are computed with zero parameters, then overwritten with zero.
static inline void normalize_block_with(float *y, float *xhat, const float *x, const float *m,
                                        const float *is, const float *g, const float *b, const float *skip,
                                        ptrdiff_t HW, const int relu, const int add) {
    ck_f8 mv[2], iv[2], gv[2], bv[2];
    for (int k = 0; k < 2; k++) {
        mv[k] = ck_load8(m + 8 * k); iv[k] = ck_load8(is + 8 * k);
        gv[k] = ck_load8(g + 8 * k); bv[k] = ck_load8(b + 8 * k);
    }
    for (ptrdiff_t i = 0; i < HW; i++)
        for (int k = 0; k < 2; k++) {
            const ptrdiff_t j = i * LANES + 8 * k;
            const ck_f8 h = ck_bn_xhat8(ck_load8(x + j), mv[k], iv[k]);
            if (xhat) ck_store8(xhat + j, h);
            const ck_f8 u = gv[k] * h + bv[k];
            const ck_f8 v = add ? u + ck_load8(skip + j) : u;
            ck_store8(y + j, relu ? ck_relu8(v) : v);
        }
}

static inline void normalize_block(float *y, float *xhat, const float *x, const float *m,
                                   const float *is, const float *g, const float *b, const float *skip,
                                   ptrdiff_t cn, ptrdiff_t HW, int relu) {
    if (skip && relu) normalize_block_with(y, xhat, x, m, is, g, b, skip, HW, 1, 1);
    else if (skip) normalize_block_with(y, xhat, x, m, is, g, b, skip, HW, 0, 1);
    else if (relu) normalize_block_with(y, xhat, x, m, is, g, b, NULL, HW, 1, 0);
    else normalize_block_with(y, xhat, x, m, is, g, b, NULL, HW, 0, 0);
    if (cn == LANES) return;
    for (ptrdiff_t i = 0; i < HW; i++)
        for (ptrdiff_t l = cn; l < LANES; l++) {
            y[i * LANES + l] = 0.0f;
            if (xhat) xhat[i * LANES + l] = 0.0f;
        }
}

void ck_bn_normalize_blocked(float *y, float *xhat, const float *x, const float *mean,
                             const float *invstd, const float *gamma, const float *beta, const float *skip,
                             int relu, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, LANES), plane = HW * LANES;
    CK_PARALLEL_FOR(nb, N * Cb, BNB_PAR(N, Cb, HW, N * Cb), // (image, block) planes
        const ptrdiff_t cb = nb % Cb, c0 = cb * LANES, cn = lanes_of(cb, C);
        float m[LANES], is[LANES], g[LANES], b[LANES];
        load_lanes(m, mean, c0, cn, 0.0f);
        load_lanes(is, invstd, c0, cn, 0.0f);
        load_lanes(g, gamma, c0, cn, 1.0f); // NULL: γ = 1, β = 0, as the NCHW kernel
        load_lanes(b, beta, c0, cn, 0.0f);
        normalize_block(y + nb * plane, xhat ? xhat + nb * plane : NULL, x + nb * plane, m, is, g, b,
                        skip ? skip + nb * plane : NULL, cn, HW, relu);
    );
}

void ck_bn_forward_infer_blocked(float *y, const float *x, const float *running_mean,
                                 const float *running_var, const float *gamma, const float *beta,
                                 const float *skip, int relu, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, LANES), plane = HW * LANES;
    CK_PARALLEL_FOR(nb, N * Cb, BNB_PAR(N, Cb, HW, N * Cb),
        const ptrdiff_t cb = nb % Cb, c0 = cb * LANES, cn = lanes_of(cb, C);
        float m[LANES], is[LANES], g[LANES], b[LANES];
        load_lanes(m, running_mean, c0, cn, 0.0f);
        for (ptrdiff_t l = 0; l < LANES; l++) // the NCHW kernel's per-plane invstd, per lane
            is[l] = l < cn ? (float)(1.0 / sqrt((double)running_var[c0 + l] + (double)eps)) : 0.0f;
        load_lanes(g, gamma, c0, cn, 1.0f);
        load_lanes(b, beta, c0, cn, 0.0f);
        normalize_block(y + nb * plane, NULL, x + nb * plane, m, is, g, b, skip ? skip + nb * plane : NULL, cn, HW,
                        relu);
    );
}

void ck_bn_backward_partial_sums_blocked(double *sum_dy, double *sum_dy_xhat, float *dgamma, float *dbeta,
                                         const float *dy, const float *x, const float *mean,
                                         const float *invstd, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, LANES);
    ck_group_sums gs;
    ck_group_sums_init(&gs, N, C, sum_dy, sum_dy_xhat);
    CK_PARALLEL_FOR(gb, gs.G * Cb, BNB_PAR(N, Cb, HW, gs.G * Cb),
        const ptrdiff_t g = gb / Cb, cb = gb % Cb, c0 = cb * LANES, cn = lanes_of(cb, C);
        const ck_range imgs = ck_split(N, gs.G, g);
        float mv[LANES], iv[LANES];
        load_lanes(mv, mean, c0, cn, 0.0f);
        load_lanes(iv, invstd, c0, cn, 0.0f);
        ck_f4 m[QUADS], is[QUADS];
        memcpy(m, mv, sizeof m);
        memcpy(is, iv, sizeof is);
        ck_d4 s[QUADS], sx[QUADS];
        for (int q = 0; q < QUADS; q++) s[q] = sx[q] = (ck_d4){0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++) {
            const ptrdiff_t o = (n * Cb + cb) * HW * LANES;
            for (ptrdiff_t i = 0; i < HW; i++)
                for (int q = 0; q < QUADS; q++) {
                    const ck_d4 g = load_wide(dy + o + i * LANES + 4 * q);
                    ck_f4 xv;
                    memcpy(&xv, x + o + i * LANES + 4 * q, sizeof xv);
                    // ck_bn_xhat lane by lane: a float subtraction and a float product, rounded
                    // each, then widened exactly
                    const ck_f4 hf = (xv - m[q]) * is[q];
                    const ck_d4 h = __builtin_convertvector(hf, ck_d4);
                    s[q] += g;
                    sx[q] += g * h;
                }
        }
        store_lanes(gs.out[0] + g * C, s, c0, cn);
        store_lanes(gs.out[1] + g * C, sx, c0, cn);
    );
    ck_group_sums_finish(&gs);
    ck_bn_add_param_grads(dgamma, dbeta, sum_dy, sum_dy_xhat, C);
}

// dx += k·(dy − mean(dy) − x̂·mean(dy·x̂)) on the first `lanes` lanes of one plane, x̂ recomputed
// from x; the other lanes untouched.
static inline void apply_block(float *restrict d, const float *restrict g, const float *restrict x,
                               const float *m, const float *is, const float *k, const float *mdy,
                               const float *mdyh, ptrdiff_t lanes, ptrdiff_t HW, int accumulate) {
    if (accumulate)
        for (ptrdiff_t i = 0; i < HW; i++)
            for (ptrdiff_t l = 0; l < lanes; l++) {
                const ptrdiff_t j = i * LANES + l;
                const float h = ck_bn_xhat(x[j], m[l], is[l]);
                d[j] += k[l] * (g[j] - mdy[l] - h * mdyh[l]);
            }
    else
        for (ptrdiff_t i = 0; i < HW; i++)
            for (ptrdiff_t l = 0; l < lanes; l++) {
                const ptrdiff_t j = i * LANES + l;
                const float h = ck_bn_xhat(x[j], m[l], is[l]);
                d[j] = k[l] * (g[j] - mdy[l] - h * mdyh[l]);
            }
}

// apply_block on all 16 lanes, as vectors (the same expressions).
static inline void apply_block16(float *restrict d, const float *restrict g, const float *restrict x,
                                 const float *m, const float *is, const float *k, const float *mdy,
                                 const float *mdyh, ptrdiff_t HW, int accumulate) {
    ck_f8 mv[2], iv[2], kv[2], dv[2], hv[2];
    for (int q = 0; q < 2; q++) {
        mv[q] = ck_load8(m + 8 * q); iv[q] = ck_load8(is + 8 * q); kv[q] = ck_load8(k + 8 * q);
        dv[q] = ck_load8(mdy + 8 * q); hv[q] = ck_load8(mdyh + 8 * q);
    }
    for (ptrdiff_t i = 0; i < HW; i++)
        for (int q = 0; q < 2; q++) {
            const ptrdiff_t j = i * LANES + 8 * q;
            const ck_f8 h = ck_bn_xhat8(ck_load8(x + j), mv[q], iv[q]);
            if (accumulate) ck_store8(d + j, ck_load8(d + j) + kv[q] * (ck_load8(g + j) - dv[q] - h * hv[q]));
            else ck_store8(d + j, kv[q] * (ck_load8(g + j) - dv[q] - h * hv[q]));
        }
}

void ck_bn_backward_apply_blocked(float *dx, const float *dy, const float *x, const float *mean,
                                  const float *invstd, const float *gamma, const double *sum_dy,
                                  const double *sum_dy_xhat, ptrdiff_t count, int accumulate,
                                  ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, LANES), plane = HW * LANES;
    CK_PARALLEL_FOR(nb, N * Cb, BNB_PAR(N, Cb, HW, N * Cb),
        const ptrdiff_t cb = nb % Cb, c0 = cb * LANES, cn = lanes_of(cb, C);
        float m[LANES], is[LANES], k[LANES], mdy[LANES], mdyh[LANES];
        load_lanes(m, mean, c0, cn, 0.0f);
        load_lanes(is, invstd, c0, cn, 0.0f);
        for (ptrdiff_t l = 0; l < LANES; l++) {
            const ptrdiff_t c = c0 + l;
            k[l] = l < cn ? (gamma ? gamma[c] : 1.0f) * invstd[c] : 0.0f;
            mdy[l] = l < cn ? (float)(sum_dy[c] / (double)count) : 0.0f;
            mdyh[l] = l < cn ? (float)(sum_dy_xhat[c] / (double)count) : 0.0f;
        }
        const ptrdiff_t o = nb * plane;
        if (cn == LANES) apply_block16(dx + o, dy + o, x + o, m, is, k, mdy, mdyh, HW, accumulate);
        else apply_block(dx + o, dy + o, x + o, m, is, k, mdy, mdyh, cn, HW, accumulate);
    );
}
