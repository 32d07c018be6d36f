// 2-D convolution by im2col + GEMM over groups of images (one GEMM per group).
// Sizes: N,C,H,W input; K,R,S filters; P,Q output. x (N,C,H,W), w (K,C,R,S), y (N,K,P,Q).
// col (C·R·S, P·Q): col[(c·R + r)·S + s][p·Q + q] = x[c][p·stride − pad + r][q·stride − pad + s].
// 1×1 stride-1 unpadded convolutions use x itself as col.
#include "ck_internal.h"
#include <string.h>

ptrdiff_t ck_conv2d_out_h(const ck_conv2d_shape *s) { return (s->H + 2 * s->pad - s->R) / s->stride + 1; }
ptrdiff_t ck_conv2d_out_w(const ck_conv2d_shape *s) { return (s->W + 2 * s->pad - s->S) / s->stride + 1; }

static int is_pointwise(const ck_conv2d_shape *s) {
    return s->R == 1 && s->S == 1 && s->stride == 1 && s->pad == 0;
}

// Images per GEMM: small outputs (7×7, 14×14) are batched side by side so one GEMM sees about
// 1,024 columns instead of 49. Depends on the shape only, so results never depend on threads.
static ptrdiff_t group_size(const ck_conv2d_shape *s, ptrdiff_t PQ) {
    return ck_max(1, ck_min(s->N, ck_ceil_div(1024, PQ)));
}

ptrdiff_t ck_conv2d_workspace_size(const ck_conv2d_shape *s) {
    const ptrdiff_t PQ = ck_conv2d_out_h(s) * ck_conv2d_out_w(s), CRS = s->C * s->R * s->S;
    if (is_pointwise(s)) {
        ptrdiff_t g = ck_sgemm_workspace_size(s->K, PQ, CRS);
        g = ck_max(g, ck_sgemm_workspace_size(CRS, PQ, s->K));
        return ck_max(g, ck_sgemm_workspace_size(s->K, CRS, PQ));
    }
    const ptrdiff_t G = group_size(s, PQ), GPQ = G * PQ;
    ptrdiff_t g = ck_sgemm_workspace_size(s->K, GPQ, CRS);
    g = ck_max(g, ck_sgemm_workspace_size(CRS, GPQ, s->K));
    g = ck_max(g, ck_sgemm_workspace_size(s->K, CRS, GPQ));
    // col (CRS, G·PQ), then the GEMM's workspace, 64-byte aligned
    return ck_ceil_div(CRS * GPQ, 16) * 16 + g;
}

// The sizes and scratch every pass needs. Non-pointwise passes work on groups of G images:
// col (CRS, G·PQ) holds image j's columns at j·PQ. The group's outputs (or output gradients)
// stay in y (or dy) and enter the GEMM as one (K, G·PQ) image matrix, without a copy.
typedef struct {
    ptrdiff_t P, Q, PQ, CRS, HW, G;
    int pointwise;
    float *col, *gemm_ws;
} conv_plan;

static conv_plan plan_of(const ck_conv2d_shape *s, float *workspace) {
    conv_plan p;
    p.P = ck_conv2d_out_h(s); p.Q = ck_conv2d_out_w(s); p.PQ = p.P * p.Q;
    p.CRS = s->C * s->R * s->S; p.HW = s->H * s->W;
    p.pointwise = is_pointwise(s);
    p.G = p.pointwise ? 1 : group_size(s, p.PQ);
    p.col = workspace;
    p.gemm_ws = workspace + (p.pointwise ? 0 : ck_ceil_div(p.CRS * p.G * p.PQ, 16) * 16);
    return p;
}

// The output columns q whose input column w = q·stride − pad + s lies inside [0, W): [*q0, *q1).
// Computed once per row so the copy loops carry no bounds checks (and vectorize at stride 1).
static inline void valid_columns(ptrdiff_t *q0, ptrdiff_t *q1, ptrdiff_t s, const ck_conv2d_shape *sh,
                                 ptrdiff_t Q) {
    const ptrdiff_t lo = sh->pad - s, hi = sh->W - 1 + sh->pad - s; // need lo ≤ q·stride ≤ hi
    *q0 = lo <= 0 ? 0 : (lo + sh->stride - 1) / sh->stride;
    *q1 = hi < 0 ? 0 : ck_min(Q, hi / sh->stride + 1);
    if (*q1 < *q0) *q1 = *q0;
}

// Row `row` of image x's (C,H,W) columns into dst (P·Q values).
static inline void im2col_row(float *restrict dst, const float *restrict x, ptrdiff_t row,
                              const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q) {
    const ptrdiff_t H = s->H, W = s->W, st = s->stride;
    const ptrdiff_t c = row / (s->R * s->S), r = (row / s->S) % s->R, sc = row % s->S;
    const float *plane = x + c * H * W;
    ptrdiff_t q0, q1;
    valid_columns(&q0, &q1, sc, s, Q);
    for (ptrdiff_t p = 0; p < P; p++) {
        const ptrdiff_t h = p * st - s->pad + r;
        float *d = dst + p * Q;
        if (h < 0 || h >= H) { memset(d, 0, (size_t)Q * sizeof(float)); continue; }
        const float *src = plane + h * W - s->pad + sc; // src[q·stride] is column q
        for (ptrdiff_t q = 0; q < q0; q++) d[q] = 0.0f;
        if (st == 1) memcpy(d + q0, src + q0, (size_t)(q1 - q0) * sizeof(float));
        else for (ptrdiff_t q = q0; q < q1; q++) d[q] = src[q * st];
        for (ptrdiff_t q = q1; q < Q; q++) d[q] = 0.0f;
    }
}

// col (CRS, g·PQ), row stride ldcol, image j's columns at j·PQ, from images x (g, C,H,W).
// One parallel region for the group; threads split the (image, row) pairs.
static void im2col(float *restrict col, ptrdiff_t ldcol, const float *restrict x, ptrdiff_t g,
                   const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q) {
    const ptrdiff_t CRS = s->C * s->R * s->S, CHW = s->C * s->H * s->W;
    CK_PARALLEL_FOR(jr, g * CRS, g * CRS * P * Q >= CK_PAR_MIN_ELEMS, // (image, row) pairs
        const ptrdiff_t j = jr / CRS, row = jr % CRS;
        im2col_row(col + row * ldcol + j * P * Q, x + j * CHW, row, s, P, Q);
    );
}

// dx (g, C,H,W) += col2im(col), image j's columns at j·PQ. Each thread owns whole (image,
// channel) planes, and within one plane the (r, s, p, q) order is fixed: no two threads touch
// one value, the sum order never changes.
static void col2im_add(float *restrict dx, const float *restrict col, ptrdiff_t ldcol, ptrdiff_t g,
                       const ck_conv2d_shape *s, ptrdiff_t P, ptrdiff_t Q) {
    const ptrdiff_t H = s->H, W = s->W, RS = s->R * s->S, st = s->stride;
    CK_PARALLEL_FOR(jc, g * s->C, g * s->C * RS * P * Q >= CK_PAR_MIN_ELEMS, // (image, channel) planes
        const ptrdiff_t j = jc / s->C, c = jc % s->C;
        float *plane = dx + jc * H * W;
        for (ptrdiff_t rs = 0; rs < RS; rs++) {
            const ptrdiff_t r = rs / s->S, sc = rs % s->S;
            const float *src = col + (c * RS + rs) * ldcol + j * P * Q;
            ptrdiff_t q0, q1;
            valid_columns(&q0, &q1, sc, s, Q);
            for (ptrdiff_t p = 0; p < P; p++) {
                const ptrdiff_t h = p * st - s->pad + r;
                if (h < 0 || h >= H) continue;
                float *d = plane + h * W - s->pad + sc; // d[q·stride] is column q
                const float *gq = src + p * Q;
                if (st == 1) { for (ptrdiff_t q = q0; q < q1; q++) d[q] += gq[q]; }
                else { for (ptrdiff_t q = q0; q < q1; q++) d[q * st] += gq[q]; }
            }
        }
    );
}

void ck_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const ck_conv2d_shape *s, float *workspace) {
    const conv_plan c = plan_of(s, workspace);
    const ptrdiff_t PQ = c.PQ, CRS = c.CRS, HW = c.HW, K = s->K;
    if (c.pointwise) { // y[n] (K, HW) = w (K, C) · x[n] (C, HW)
        for (ptrdiff_t n = 0; n < s->N; n++)
            ck_sgemm(CK_NO_TRANS, CK_NO_TRANS, K, PQ, CRS, 1.0f, w, CRS, x + n * s->C * HW, PQ, 0.0f,
                     y + n * K * PQ, PQ, c.gemm_ws);
    } else { // per group: col (CRS, g·PQ), then y_group (K, g·PQ) = w · col
        const ck_matrix wm = ck_plain_matrix(w, CRS, 0);
        for (ptrdiff_t n0 = 0; n0 < s->N; n0 += c.G) {
            const ptrdiff_t g = ck_min(c.G, s->N - n0), ld = c.G * PQ;
            im2col(c.col, ld, x + n0 * s->C * HW, g, s, c.P, c.Q);
            const ck_matrix colm = ck_plain_matrix(c.col, ld, 0), ym = ck_image_matrix(y + n0 * K * PQ, K, PQ);
            ck_sgemm_blocked(K, g * PQ, CRS, 1.0f, &wm, &colm, 0.0f, &ym, c.gemm_ws);
        }
    }
    if (b) ck_add_bias(y, b, s->N, K, PQ);
}

void ck_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             const ck_conv2d_shape *s, float *workspace) {
    const conv_plan c = plan_of(s, workspace);
    const ptrdiff_t PQ = c.PQ, CRS = c.CRS, HW = c.HW, K = s->K;
    if (c.pointwise) { // dx[n] (C, HW) += wᵀ (C, K) · dy[n] (K, HW)
        for (ptrdiff_t n = 0; n < s->N; n++)
            ck_sgemm(CK_TRANS, CK_NO_TRANS, CRS, PQ, K, 1.0f, w, CRS, dy + n * K * PQ, PQ, 1.0f,
                     dx + n * s->C * HW, PQ, c.gemm_ws);
        return;
    }
    const ck_matrix wt = ck_plain_matrix(w, CRS, 1);
    for (ptrdiff_t n0 = 0; n0 < s->N; n0 += c.G) { // col (CRS, g·PQ) = wᵀ · dy_group, then col2im
        const ptrdiff_t g = ck_min(c.G, s->N - n0), ld = c.G * PQ;
        const ck_matrix dym = ck_image_matrix(dy + n0 * K * PQ, K, PQ), colm = ck_plain_matrix(c.col, ld, 0);
        ck_sgemm_blocked(CRS, g * PQ, K, 1.0f, &wt, &dym, 0.0f, &colm, c.gemm_ws);
        col2im_add(dx + n0 * s->C * HW, c.col, ld, g, s, c.P, c.Q);
    }
}

void ck_conv2d_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                const ck_conv2d_shape *s, float *workspace) {
    const conv_plan c = plan_of(s, workspace);
    const ptrdiff_t PQ = c.PQ, CRS = c.CRS, HW = c.HW, K = s->K;
    // Images (or groups of images) are added one after another into dw: a fixed order.
    if (c.pointwise) { // dw (K, C) += dy[n] (K, HW) · x[n]ᵀ
        for (ptrdiff_t n = 0; n < s->N; n++)
            ck_sgemm(CK_NO_TRANS, CK_TRANS, K, CRS, PQ, 1.0f, dy + n * K * PQ, PQ, x + n * s->C * HW, PQ,
                     1.0f, dw, CRS, c.gemm_ws);
    } else { // dw (K, CRS) += dy_group (K, g·PQ) · colᵀ (g·PQ, CRS)
        const ck_matrix dwm = ck_plain_matrix(dw, CRS, 0);
        for (ptrdiff_t n0 = 0; n0 < s->N; n0 += c.G) {
            const ptrdiff_t g = ck_min(c.G, s->N - n0), ld = c.G * PQ;
            im2col(c.col, ld, x + n0 * s->C * HW, g, s, c.P, c.Q);
            const ck_matrix dym = ck_image_matrix(dy + n0 * K * PQ, K, PQ), colt = ck_plain_matrix(c.col, ld, 1);
            ck_sgemm_blocked(K, CRS, g * PQ, 1.0f, &dym, &colt, 1.0f, &dwm, c.gemm_ws);
        }
    }
    if (db) ck_bias_backward(db, dy, s->N, K, PQ);
}

// MARK: - References: the seven loops, accumulated in double

void ck_ref_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                           const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    for (ptrdiff_t n = 0; n < s->N; n++)
        for (ptrdiff_t k = 0; k < s->K; k++)
            for (ptrdiff_t p = 0; p < P; p++)
                for (ptrdiff_t q = 0; q < Q; q++) {
                    double acc = b ? b[k] : 0.0;
                    for (ptrdiff_t c = 0; c < s->C; c++)
                        for (ptrdiff_t r = 0; r < s->R; r++)
                            for (ptrdiff_t t = 0; t < s->S; t++) {
                                const ptrdiff_t h = p * s->stride - s->pad + r;
                                const ptrdiff_t ww = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || ww < 0 || ww >= s->W) continue;
                                acc += (double)x[((n * s->C + c) * s->H + h) * s->W + ww] *
                                       (double)w[((k * s->C + c) * s->R + r) * s->S + t];
                            }
                    y[((n * s->K + k) * P + p) * Q + q] = (float)acc;
                }
}

void ck_ref_conv2d_backward_data(float *dx, const float *dy, const float *w,
                                 const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    for (ptrdiff_t n = 0; n < s->N; n++)
        for (ptrdiff_t c = 0; c < s->C; c++)
            for (ptrdiff_t h = 0; h < s->H; h++)
                for (ptrdiff_t ww = 0; ww < s->W; ww++) {
                    double acc = 0.0;
                    for (ptrdiff_t k = 0; k < s->K; k++)
                        for (ptrdiff_t r = 0; r < s->R; r++)
                            for (ptrdiff_t t = 0; t < s->S; t++) {
                                const ptrdiff_t ph = h + s->pad - r, qw = ww + s->pad - t;
                                if (ph % s->stride || qw % s->stride) continue;
                                const ptrdiff_t p = ph / s->stride, q = qw / s->stride;
                                if (ph < 0 || qw < 0 || p >= P || q >= Q) continue;
                                acc += (double)dy[((n * s->K + k) * P + p) * Q + q] *
                                       (double)w[((k * s->C + c) * s->R + r) * s->S + t];
                            }
                    dx[((n * s->C + c) * s->H + h) * s->W + ww] += (float)acc;
                }
}

void ck_ref_conv2d_backward_weights(float *dw, float *db, const float *dy, const float *x,
                                    const ck_conv2d_shape *s) {
    const ptrdiff_t P = ck_conv2d_out_h(s), Q = ck_conv2d_out_w(s);
    for (ptrdiff_t k = 0; k < s->K; k++) {
        for (ptrdiff_t c = 0; c < s->C; c++)
            for (ptrdiff_t r = 0; r < s->R; r++)
                for (ptrdiff_t t = 0; t < s->S; t++) {
                    double acc = 0.0;
                    for (ptrdiff_t n = 0; n < s->N; n++)
                        for (ptrdiff_t p = 0; p < P; p++)
                            for (ptrdiff_t q = 0; q < Q; q++) {
                                const ptrdiff_t h = p * s->stride - s->pad + r;
                                const ptrdiff_t ww = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || ww < 0 || ww >= s->W) continue;
                                acc += (double)dy[((n * s->K + k) * P + p) * Q + q] *
                                       (double)x[((n * s->C + c) * s->H + h) * s->W + ww];
                            }
                    dw[((k * s->C + c) * s->R + r) * s->S + t] += (float)acc;
                }
        if (db) {
            double acc = 0.0;
            for (ptrdiff_t n = 0; n < s->N; n++)
                for (ptrdiff_t pq = 0; pq < P * Q; pq++) acc += dy[(n * s->K + k) * P * Q + pq];
            db[k] += (float)acc;
        }
    }
}
