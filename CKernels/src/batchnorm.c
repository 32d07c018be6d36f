// Batch normalization (Ioffe & Szegedy 2015). x, y, xhat, dy, dx (N, C, HW); per-channel (C)
// mean, invstd, gamma, beta, running_mean, running_var; per-chunk partial sums (chunks, C).
// Training stores no x̂: backward recomputes it from x, mean and invstd with normalize_plane's
// expression (ck_bn_xhat), so it has the forward's bits and no activation-sized buffer is kept.
// Fully connected layers pass HW = 1.
// Each channel is reduced in double, row by row (ck_bn_row1: rows of W pixels, then the rows added
// in order: n, then h), within each of a fixed number of groups of the chunk's images
// (ck_image_groups: one group for wide layers), the groups added in group order and the chunks in
// chunk order: the sums depend on the chunking only, not on threads or workers.
#include "ck_internal.h"
#include <math.h>

#define BN_PAR(N, C, HW) ((N) * (C) * (HW) >= CK_PAR_MIN_ELEMS && (C) > 1)

void ck_bn_partial_sums(double *sum, double *sumsq, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW,
                        ptrdiff_t W) {
    ck_group_sums gs;
    ck_group_sums_init(&gs, N, C, sum, sumsq);
    CK_PARALLEL_FOR(gc, gs.G * C, N * C * HW >= CK_PAR_MIN_ELEMS && gs.G * C > 1,
        const ptrdiff_t c = gc % C;
        const ck_range imgs = ck_split(N, gs.G, gc / C);
        double s = 0.0, ss = 0.0;
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++) {
            const float *xc = x + (n * C + c) * HW;
            for (ptrdiff_t i = 0; i < HW; i += W) {
                double rs, rq;
                ck_bn_row1(&rs, &rq, xc + i, W);
                s += rs;
                ss += rq;
            }
        }
        gs.out[0][gc] = s;
        gs.out[1][gc] = ss;
    );
    ck_group_sums_finish(&gs);
}

// total[c] = Σ over chunks of part[k·C + c], in chunk order.
static void combine_rows(double *total, const double *part, ptrdiff_t chunks, ptrdiff_t C) {
    for (ptrdiff_t c = 0; c < C; c++) total[c] = 0.0;
    for (ptrdiff_t k = 0; k < chunks; k++)
        for (ptrdiff_t c = 0; c < C; c++) total[c] += part[k * C + c];
}

void ck_bn_combine_stats(float *mean, float *invstd, float *running_mean, float *running_var,
                         double *mean64, double *var, const double *sum, const double *sumsq, float eps,
                         float momentum, ptrdiff_t chunks, ptrdiff_t count, ptrdiff_t C) {
    // The running update is two rounded products and a sum, as PyTorch's (no fused multiply-add).
#pragma clang fp contract(off)
    combine_rows(mean64, sum, chunks, C);
    combine_rows(var, sumsq, chunks, C);
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    for (ptrdiff_t c = 0; c < C; c++) {
        const double m = mean64[c] / (double)count, d = var[c] / (double)count - m * m;
        const double v = d > 0.0 ? d : 0.0; // rounding can leave a constant channel's slightly below 0
        mean64[c] = m;
        var[c] = v;
        mean[c] = (float)m;
        invstd[c] = (float)(1.0 / sqrt(v + (double)eps));
        if (running_mean) running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)m;
        if (running_var) running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)(v * unbias);
    }
}

// One (image, channel) plane: the training and inference paths share this line of maths. A fused
// ReLU is the ReLU kernel's expression on the stored value (relu a constant: two copies of the loop).
// A residual add after it (skip, then the ReLU after the add) is ck_add's expression on the stored value.
static inline void normalize_plane_with(float *y, float *xhat, const float *x, float m, float is,
                                        float g, float b, const float *skip, ptrdiff_t HW, const int relu,
                                        const int add) {
    for (ptrdiff_t i = 0; i < HW; i++) {
        const float h = ck_bn_xhat(x[i], m, is);
        if (xhat) xhat[i] = h;
        const float u = g * h + b;
        const float v = add ? u + skip[i] : u;
        y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

static inline void normalize_plane(float *y, float *xhat, const float *x, float m, float is,
                                   float g, float b, const float *skip, ptrdiff_t HW, int relu) {
    if (skip && relu) normalize_plane_with(y, xhat, x, m, is, g, b, skip, HW, 1, 1);
    else if (skip) normalize_plane_with(y, xhat, x, m, is, g, b, skip, HW, 0, 1);
    else if (relu) normalize_plane_with(y, xhat, x, m, is, g, b, NULL, HW, 1, 0);
    else normalize_plane_with(y, xhat, x, m, is, g, b, NULL, HW, 0, 0);
}

void ck_bn_normalize(float *y, float *xhat, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta, const float *skip, int relu,
                     ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, BN_PAR(N, C, HW), // (image, channel) planes
        const ptrdiff_t c = nc % C;
        normalize_plane(y + nc * HW, xhat ? xhat + nc * HW : NULL, x + nc * HW, mean[c], invstd[c],
                        gamma ? gamma[c] : 1.0f, beta ? beta[c] : 0.0f, skip ? skip + nc * HW : NULL, HW, relu);
    );
}

void ck_bn_forward_infer(float *y, const float *x, const float *running_mean,
                         const float *running_var, const float *gamma, const float *beta, const float *skip,
                         int relu, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    // invstd once per plane rather than in a (C) buffer: no workspace, the same bits
    CK_PARALLEL_FOR(nc, N * C, BN_PAR(N, C, HW),
        const ptrdiff_t c = nc % C;
        const float is = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        normalize_plane(y + nc * HW, NULL, x + nc * HW, running_mean[c], is,
                        gamma ? gamma[c] : 1.0f, beta ? beta[c] : 0.0f, skip ? skip + nc * HW : NULL, HW, relu);
    );
}

void ck_bn_backward_partial_sums(double *sum_dy, double *sum_dy_xhat, float *dgamma, float *dbeta,
                                 const float *dy, const float *x, const float *mean,
                                 const float *invstd, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    ck_group_sums gs;
    ck_group_sums_init(&gs, N, C, sum_dy, sum_dy_xhat);
    CK_PARALLEL_FOR(gc, gs.G * C, N * C * HW >= CK_PAR_MIN_ELEMS && gs.G * C > 1,
        const ptrdiff_t c = gc % C;
        const ck_range imgs = ck_split(N, gs.G, gc / C);
        const float m = mean[c], is = invstd[c];
        double s = 0.0, sx = 0.0;
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++) {
            const float *g = dy + (n * C + c) * HW, *xc = x + (n * C + c) * HW;
            for (ptrdiff_t i = 0; i < HW; i++) {
                const float h = ck_bn_xhat(xc[i], m, is);
                s += (double)g[i];
                sx += (double)g[i] * (double)h;
            }
        }
        gs.out[0][gc] = s;
        gs.out[1][gc] = sx;
    );
    ck_group_sums_finish(&gs);
    ck_bn_add_param_grads(dgamma, dbeta, sum_dy, sum_dy_xhat, C);
}

void ck_bn_backward_combine(double *sum_dy, double *sum_dy_xhat, const double *part_dy,
                            const double *part_dy_xhat, ptrdiff_t chunks, ptrdiff_t C) {
    combine_rows(sum_dy, part_dy, chunks, C);
    combine_rows(sum_dy_xhat, part_dy_xhat, chunks, C);
}

void ck_bn_backward_apply(float *dx, const float *dy, const float *x, const float *mean,
                          const float *invstd, const float *gamma, const double *sum_dy,
                          const double *sum_dy_xhat, ptrdiff_t count, int accumulate,
                          ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, BN_PAR(N, C, HW),
        const ptrdiff_t c = nc % C;
        const float m = mean[c], is = invstd[c];
        const float k = (gamma ? gamma[c] : 1.0f) * is;
        const float mdy = (float)(sum_dy[c] / (double)count);
        const float mdyh = (float)(sum_dy_xhat[c] / (double)count);
        const float *g = dy + nc * HW, *xc = x + nc * HW;
        float *d = dx + nc * HW;
        if (accumulate)
            for (ptrdiff_t i = 0; i < HW; i++) {
                const float h = ck_bn_xhat(xc[i], m, is);
                d[i] += k * (g[i] - mdy - h * mdyh);
            }
        else
            for (ptrdiff_t i = 0; i < HW; i++) {
                const float h = ck_bn_xhat(xc[i], m, is);
                d[i] = k * (g[i] - mdy - h * mdyh);
            }
    );
}

// MARK: - References (straight from the paper's formulas, in double)

// Mean and biased variance of channel c, two passes in double (the references' shared part).
static void ref_channel_stats(double *mu_out, double *var_out, const float *x, ptrdiff_t c,
                              ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const double m = (double)(N * HW);
    double mu = 0.0, var = 0.0;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t i = 0; i < HW; i++) mu += x[(n * C + c) * HW + i];
    mu /= m;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t i = 0; i < HW; i++) {
            const double d = x[(n * C + c) * HW + i] - mu;
            var += d * d;
        }
    *mu_out = mu;
    *var_out = var / m;
}

void ck_ref_bn_forward_train(float *y, float *mean, float *invstd, const float *x,
                             const float *gamma, const float *beta, float eps,
                             ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    for (ptrdiff_t c = 0; c < C; c++) {
        double mu, var;
        ref_channel_stats(&mu, &var, x, c, N, C, HW);
        const double is = 1.0 / sqrt(var + eps);
        if (mean) mean[c] = (float)mu;
        if (invstd) invstd[c] = (float)is;
        for (ptrdiff_t n = 0; n < N; n++)
            for (ptrdiff_t i = 0; i < HW; i++) {
                const ptrdiff_t j = (n * C + c) * HW + i;
                y[j] = (float)(gamma[c] * (x[j] - mu) * is + beta[c]);
            }
    }
}

// The textbook backward through μ and σ² (the paper's chain rule, term by term).
void ck_ref_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *gamma, float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const double m = (double)(N * HW);
    for (ptrdiff_t c = 0; c < C; c++) {
        double mu, var;
        ref_channel_stats(&mu, &var, x, c, N, C, HW);
        const double is = 1.0 / sqrt(var + eps);
        double dvar = 0.0, dmu = 0.0, dg = 0.0, db = 0.0, sum_d = 0.0;
        for (ptrdiff_t n = 0; n < N; n++)
            for (ptrdiff_t i = 0; i < HW; i++) {
                const ptrdiff_t j = (n * C + c) * HW + i;
                const double dxhat = dy[j] * (double)gamma[c];
                dvar += dxhat * (x[j] - mu) * -0.5 * is * is * is;
                dmu += -dxhat * is;
                sum_d += -2.0 * (x[j] - mu);
                dg += dy[j] * (x[j] - mu) * is;
                db += dy[j];
            }
        dmu += dvar * sum_d / m;
        for (ptrdiff_t n = 0; n < N; n++)
            for (ptrdiff_t i = 0; i < HW; i++) {
                const ptrdiff_t j = (n * C + c) * HW + i;
                const double dxhat = dy[j] * (double)gamma[c];
                dx[j] += (float)(dxhat * is + dvar * 2.0 * (x[j] - mu) / m + dmu / m);
            }
        if (dgamma) dgamma[c] += (float)dg;
        if (dbeta) dbeta[c] += (float)db;
    }
}
