// Batch normalization (Ioffe & Szegedy 2015). x, y, xhat, dy, dx (N, C, HW); per-channel (C)
// mean, var, invstd, gamma, beta. Fully connected layers pass HW = 1.
// Each channel is reduced by one thread, sequentially over n then hw, in double: the sums do
// not depend on the thread count.
#include "ck_internal.h"
#include <math.h>

#define BN_PAR(N, C, HW) ((N) * (C) * (HW) >= CK_PAR_MIN_ELEMS && (C) > 1)

void ck_bn_partial_sums(double *sum, double *sumsq, const float *x, const double *shift,
                        ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(c, C, BN_PAR(N, C, HW),
        const double m = shift ? shift[c] : 0.0;
        double s = 0.0, ss = 0.0;
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *xc = x + (n * C + c) * HW;
            for (ptrdiff_t i = 0; i < HW; i++) {
                const double v = (double)xc[i] - m;
                s += (double)xc[i];
                ss += v * v;
            }
        }
        sum[c] = s;
        sumsq[c] = ss;
    );
}

void ck_bn_finish_stats(float *mean, float *var, float *invstd, const double *sum,
                        const double *sumsq, const double *shift, ptrdiff_t count, float eps,
                        ptrdiff_t C) {
    for (ptrdiff_t c = 0; c < C; c++) {
        const double m = sum[c] / (double)count;
        const double d = m - (shift ? shift[c] : 0.0);
        double v = sumsq[c] / (double)count - d * d; // E[(x−s)²] − (m−s)²
        if (v < 0.0) v = 0.0;
        mean[c] = (float)m;
        if (var) var[c] = (float)v;
        invstd[c] = (float)(1.0 / sqrt(v + (double)eps));
    }
}

void ck_bn_normalize(float *y, float *xhat, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta,
                     ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, BN_PAR(N, C, HW), // (image, channel) planes
        const ptrdiff_t c = nc % C;
        const float m = mean[c], is = invstd[c];
        const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        const float *xc = x + nc * HW;
        float *yc = y + nc * HW;
        float *hc = xhat ? xhat + nc * HW : NULL;
        for (ptrdiff_t i = 0; i < HW; i++) {
            const float h = (xc[i] - m) * is;
            if (hc) hc[i] = h;
            yc[i] = g * h + b;
        }
    );
}

void ck_bn_forward_train(float *y, float *xhat, float *mean, float *var, float *invstd,
                         const float *x, const float *gamma, const float *beta, float eps,
                         ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    // Two passes (mean, then squares around it) so the variance has no cancellation.
    double sum[C], sumsq[C], shift[C];
    ck_bn_partial_sums(sum, sumsq, x, NULL, N, C, HW);
    for (ptrdiff_t c = 0; c < C; c++) shift[c] = sum[c] / (double)(N * HW);
    ck_bn_partial_sums(sum, sumsq, x, shift, N, C, HW);
    ck_bn_finish_stats(mean, var, invstd, sum, sumsq, shift, N * HW, eps, C);
    ck_bn_normalize(y, xhat, x, mean, invstd, gamma, beta, N, C, HW);
}

void ck_bn_forward_infer(float *y, const float *x, const float *running_mean,
                         const float *running_var, const float *gamma, const float *beta,
                         float eps, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    float invstd[C];
    for (ptrdiff_t c = 0; c < C; c++) invstd[c] = (float)(1.0 / sqrt((double)running_var[c] + eps));
    ck_bn_normalize(y, NULL, x, running_mean, invstd, gamma, beta, N, C, HW);
}

void ck_bn_update_running(float *running_mean, float *running_var, const float *batch_mean,
                          const float *batch_var_biased, float momentum, ptrdiff_t count,
                          ptrdiff_t C) {
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    for (ptrdiff_t c = 0; c < C; c++) {
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * batch_mean[c];
        running_var[c] = (1.0f - momentum) * running_var[c] +
                         momentum * (float)((double)batch_var_biased[c] * unbias);
    }
}

void ck_bn_backward_partial_sums(double *sum_dy, double *sum_dy_xhat, const float *dy,
                                 const float *xhat, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(c, C, BN_PAR(N, C, HW),
        double s = 0.0, sx = 0.0;
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *g = dy + (n * C + c) * HW, *h = xhat + (n * C + c) * HW;
            for (ptrdiff_t i = 0; i < HW; i++) {
                s += (double)g[i];
                sx += (double)g[i] * (double)h[i];
            }
        }
        sum_dy[c] = s;
        sum_dy_xhat[c] = sx;
    );
}

void ck_bn_backward_apply(float *dx, const float *dy, const float *xhat, const float *invstd,
                          const float *gamma, const double *sum_dy, const double *sum_dy_xhat,
                          ptrdiff_t count, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, BN_PAR(N, C, HW),
        const ptrdiff_t c = nc % C;
        const float k = (gamma ? gamma[c] : 1.0f) * invstd[c];
        const float mdy = (float)(sum_dy[c] / (double)count);
        const float mdyh = (float)(sum_dy_xhat[c] / (double)count);
        const float *g = dy + nc * HW, *h = xhat + nc * HW;
        float *d = dx + nc * HW;
        for (ptrdiff_t i = 0; i < HW; i++) d[i] += k * (g[i] - mdy - h[i] * mdyh);
    );
}

void ck_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat,
                    const float *invstd, const float *gamma, ptrdiff_t N, ptrdiff_t C,
                    ptrdiff_t HW) {
    double s[C], sx[C];
    ck_bn_backward_partial_sums(s, sx, dy, xhat, N, C, HW);
    for (ptrdiff_t c = 0; c < C; c++) {
        if (dgamma) dgamma[c] += (float)sx[c];
        if (dbeta) dbeta[c] += (float)s[c];
    }
    ck_bn_backward_apply(dx, dy, xhat, invstd, gamma, s, sx, N * HW, N, C, HW);
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
