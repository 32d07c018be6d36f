// Pooling over (N, C, H, W) → (N, C, P, Q). Threads own whole (n, c) planes, so the backward
// scatter never has two writers and keeps a fixed order. Padding never wins a max and is not
// counted in an average (PyTorch's count_include_pad=False).
#include "ck_internal.h"
#include <float.h>

ptrdiff_t ck_pool_out_h(const ck_pool_shape *s) { return (s->H + 2 * s->pad - s->R) / s->stride + 1; }
ptrdiff_t ck_pool_out_w(const ck_pool_shape *s) { return (s->W + 2 * s->pad - s->S) / s->stride + 1; }

#define POOL_PAR(s) ((s)->N * (s)->C * (s)->H * (s)->W >= CK_PAR_MIN_ELEMS)

// The window of output (p, q), clipped to the image: rows [h0, h1), columns [w0, w1).
static inline void window(const ck_pool_shape *s, ptrdiff_t p, ptrdiff_t q, ptrdiff_t *h0,
                          ptrdiff_t *h1, ptrdiff_t *w0, ptrdiff_t *w1) {
    const ptrdiff_t hs = p * s->stride - s->pad, ws = q * s->stride - s->pad;
    *h0 = ck_max(hs, 0); *h1 = ck_min(hs + s->R, s->H);
    *w0 = ck_max(ws, 0); *w1 = ck_min(ws + s->S, s->W);
}

void ck_maxpool_forward(float *y, int32_t *argmax, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W;
    CK_PARALLEL_FOR(nc, s->N * s->C, POOL_PAR(s),
        const float *plane = x + nc * HW;
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                float best = -FLT_MAX;
                int32_t at = (int32_t)(h0 * s->W + w0);
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++)
                        if (plane[h * s->W + w] > best) { best = plane[h * s->W + w]; at = (int32_t)(h * s->W + w); }
                y[nc * P * Q + p * Q + q] = best;
                argmax[nc * P * Q + p * Q + q] = at;
            }
    );
}

// Storing: the plane zeroed first, in cache, then added to as when accumulating onto the plan's
// zeros (0 + v = v). A ReLU mask passes an add where the ReLU's output at the winner is > 0, the
// ReLU kernel's test in the caller's mode: a masked add is 0 + 0, so the sum is the masked sum's bits.
void ck_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int accumulate,
                         const float *relu_mask, const ck_pool_shape *s) {
    const ptrdiff_t PQ = ck_pool_out_h(s) * ck_pool_out_w(s), HW = s->H * s->W;
    CK_PARALLEL_FOR(nc, s->N * s->C, POOL_PAR(s),
        float *plane = dx + nc * HW;
        const float *m = relu_mask ? relu_mask + nc * HW : NULL;
        if (!accumulate) memset(plane, 0, (size_t)HW * sizeof(float));
        for (ptrdiff_t i = 0; i < PQ; i++) {
            const int32_t at = argmax[nc * PQ + i];
            plane[at] += !m || m[at] > 0.0f ? dy[nc * PQ + i] : 0.0f;
        }
    );
}

void ck_avgpool_forward(float *y, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W;
    CK_PARALLEL_FOR(nc, s->N * s->C, POOL_PAR(s),
        const float *plane = x + nc * HW;
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                float acc = 0.0f;
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++) acc += plane[h * s->W + w];
                const ptrdiff_t cnt = (h1 - h0) * (w1 - w0);
                y[nc * P * Q + p * Q + q] = cnt > 0 ? acc / (float)cnt : 0.0f;
            }
    );
}

void ck_avgpool_backward(float *dx, const float *dy, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s), HW = s->H * s->W;
    CK_PARALLEL_FOR(nc, s->N * s->C, POOL_PAR(s),
        float *plane = dx + nc * HW;
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                ptrdiff_t h0, h1, w0, w1;
                window(s, p, q, &h0, &h1, &w0, &w1);
                const ptrdiff_t cnt = (h1 - h0) * (w1 - w0);
                if (cnt <= 0) continue;
                const float g = dy[nc * P * Q + p * Q + q] / (float)cnt;
                for (ptrdiff_t h = h0; h < h1; h++)
                    for (ptrdiff_t w = w0; w < w1; w++) plane[h * s->W + w] += g;
            }
    );
}

// References: every window position checked against the padded bounds, one by one.
void ck_ref_maxpool_forward(float *y, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s);
    for (ptrdiff_t nc = 0; nc < s->N * s->C; nc++)
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                float best = -FLT_MAX;
                for (ptrdiff_t r = 0; r < s->R; r++)
                    for (ptrdiff_t t = 0; t < s->S; t++) {
                        const ptrdiff_t h = p * s->stride - s->pad + r, w = q * s->stride - s->pad + t;
                        if (h < 0 || h >= s->H || w < 0 || w >= s->W) continue;
                        const float v = x[nc * s->H * s->W + h * s->W + w];
                        if (v > best) best = v;
                    }
                y[nc * P * Q + p * Q + q] = best;
            }
}

void ck_ref_avgpool_forward(float *y, const float *x, const ck_pool_shape *s) {
    const ptrdiff_t P = ck_pool_out_h(s), Q = ck_pool_out_w(s);
    for (ptrdiff_t nc = 0; nc < s->N * s->C; nc++)
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t q = 0; q < Q; q++) {
                double acc = 0.0;
                int cnt = 0;
                for (ptrdiff_t r = 0; r < s->R; r++)
                    for (ptrdiff_t t = 0; t < s->S; t++) {
                        const ptrdiff_t h = p * s->stride - s->pad + r, w = q * s->stride - s->pad + t;
                        if (h < 0 || h >= s->H || w < 0 || w >= s->W) continue;
                        acc += x[nc * s->H * s->W + h * s->W + w];
                        cnt++;
                    }
                y[nc * P * Q + p * Q + q] = cnt ? (float)(acc / cnt) : 0.0f;
            }
}

void ck_global_avgpool_forward(float *y, const float *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * HW >= CK_PAR_MIN_ELEMS,
        double acc = 0.0;
        for (ptrdiff_t i = 0; i < HW; i++) acc += x[nc * HW + i];
        y[nc] = (float)(acc / (double)HW);
    );
}

void ck_global_avgpool_backward(float *dx, const float *dy, ptrdiff_t N, ptrdiff_t C,
                                ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * HW >= CK_PAR_MIN_ELEMS,
        const float g = dy[nc] / (float)HW;
        for (ptrdiff_t i = 0; i < HW; i++) dx[nc * HW + i] += g;
    );
}

void ck_global_maxpool_forward(float *y, int32_t *argmax, const float *x, ptrdiff_t N,
                               ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * HW >= CK_PAR_MIN_ELEMS,
        float best = x[nc * HW];
        int32_t at = 0;
        for (ptrdiff_t i = 1; i < HW; i++)
            if (x[nc * HW + i] > best) { best = x[nc * HW + i]; at = (int32_t)i; }
        y[nc] = best;
        argmax[nc] = at;
    );
}

void ck_global_maxpool_backward(float *dx, const float *dy, const int32_t *argmax,
                                ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    for (ptrdiff_t nc = 0; nc < N * C; nc++) dx[nc * HW + argmax[nc]] += dy[nc];
}
