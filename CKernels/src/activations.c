// Activations. Elementwise kernels over n values; PReLU and maxout over (N, C, HW).
// Elementwise work is split into fixed static chunks: every value is computed the same way
// whatever the thread count. Tanh and sigmoid backward use the saved output y.
#include "ck_internal.h"
#include <math.h>

void ck_relu_forward(float *y, const float *x, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = x[i] > 0.0f ? x[i] : 0.0f;);
}

ck_conv_finish ck_conv_finish_make(int relu, const float *mask) {
    const ck_conv_finish f = {relu, mask, ck_get_flush_subnormals() ? 0x007fffff : 0, NULL};
    return f;
}

void ck_conv_finish_range(const ck_conv_finish *f, float *y, ptrdiff_t lo, ptrdiff_t n) {
    float *restrict d = y + lo;
    if (f->relu)
        for (ptrdiff_t i = 0; i < n; i++) d[i] = ck_relu_passes(d[i], f->low) ? d[i] : 0.0f;
    if (f->mask) {
        const float *restrict m = f->mask + lo;
        for (ptrdiff_t i = 0; i < n; i++) d[i] = ck_relu_passes(m[i], f->low) ? d[i] : 0.0f;
    }
}

// The backward passes add into dx, or (accumulate = 0) store into it: the executor skips zeroing a
// gradient only one op writes. 0 + v = v, so both give the same values.
#define CK_OUT(d, v) do { if (accumulate) (d) += (v); else (d) = (v); } while (0)

void ck_relu_backward(float *dx, const float *dy, const float *x, int accumulate, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, CK_OUT(dx[i], x[i] > 0.0f ? dy[i] : 0.0f););
}

void ck_leaky_relu_forward(float *y, const float *x, float slope, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = x[i] > 0.0f ? x[i] : slope * x[i];);
}

void ck_leaky_relu_backward(float *dx, const float *dy, const float *x, float slope, int accumulate,
                            ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, CK_OUT(dx[i], x[i] > 0.0f ? dy[i] : slope * dy[i]););
}

// e^x for the elementwise kernels, written so that loops over it vectorize (libm's expf and
// tanhf are scalar calls: a tanh net trained at 40 % of its ReLU twin's speed). x = k·ln 2 + r
// with |r| ≤ ln2/2, e^r by a degree-7 Taylor polynomial (truncation < 5e-9), 2^k by exponent
// bits. x is clamped to [-87.3, 88.7] (2^k stays a normal float); NaN passes through.
static inline float exp_vec(float x) {
    const float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    float kf = rintf(xc * 1.44269504f);
    kf = kf == kf ? kf : 0.0f;                          // NaN: any k, the NaN in r carries through
    const float r = (xc - kf * 0.693359375f) + kf * 2.12194440e-4f; // ln 2 in two parts
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int32_t i; float f; } scale = { .i = ((int32_t)kf + 127) << 23 };
    return p * scale.f;
}

// tanh x = (1 − e^{−2|x|}) / (1 + e^{−2|x|}) with x's sign; below |x| = 1/8 the difference
// would cancel, so an odd Taylor polynomial (truncation < 2e-9 relative) takes over.
static inline float tanh_vec(float x) {
    const float a = x < 0.0f ? -x : x, t = exp_vec(-2.0f * a);
    const float big = (1.0f - t) / (1.0f + t);
    const float x2 = x * x;
    const float small = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
    const float y = a < 0.125f ? small : (x < 0.0f ? -big : big);
    return x == x ? y : x;
}

void ck_tanh_forward(float *y, const float *x, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = tanh_vec(x[i]););
}

void ck_tanh_backward(float *dx, const float *dy, const float *y, int accumulate, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, CK_OUT(dx[i], dy[i] * (1.0f - y[i] * y[i])););
}

void ck_sigmoid_forward(float *y, const float *x, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = 1.0f / (1.0f + exp_vec(-x[i])););
}

void ck_sigmoid_backward(float *dx, const float *dy, const float *y, int accumulate, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, CK_OUT(dx[i], dy[i] * y[i] * (1.0f - y[i])););
}

void ck_prelu_forward(float *y, const float *x, const float *a, int shared,
                      ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * HW >= CK_PAR_MIN_ELEMS, // (image, channel) planes
        const float s = a[shared ? 0 : nc % C];
        const float *xc = x + nc * HW;
        float *yc = y + nc * HW;
        for (ptrdiff_t i = 0; i < HW; i++) yc[i] = xc[i] > 0.0f ? xc[i] : s * xc[i];
    );
}

// da is a reduction over n and hw: one unit per (group of images, channel), in n-then-hw order
// within the group, the groups added in group order (ck_image_groups, as batch norm's sums); the
// shared slope adds the per-channel sums in channel order afterwards.
void ck_prelu_backward(float *dx, float *da, const float *dy, const float *x, const float *a,
                       int shared, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t G = ck_image_groups(N, C);
    double per_group[G * C], per_channel[C]; // (G, C), then (C)
    CK_PARALLEL_FOR(gc, G * C, N * C * HW >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t c = gc % C;
        const ck_range imgs = ck_split(N, G, gc / C);
        const float s = a[shared ? 0 : c];
        double acc = 0.0;
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++) {
            const float *xc = x + (n * C + c) * HW, *g = dy + (n * C + c) * HW;
            float *d = dx + (n * C + c) * HW;
            for (ptrdiff_t i = 0; i < HW; i++) {
                if (xc[i] > 0.0f) {
                    d[i] += g[i];
                } else {
                    d[i] += s * g[i];
                    acc += (double)g[i] * (double)xc[i];
                }
            }
        }
        per_group[gc] = acc;
    );
    if (!da) return;
    ck_add_groups(per_channel, per_group, G, C);
    if (shared) {
        double total = 0.0;
        for (ptrdiff_t c = 0; c < C; c++) total += per_channel[c];
        da[0] += (float)total;
    } else {
        for (ptrdiff_t c = 0; c < C; c++) da[c] += (float)per_channel[c];
    }
}

void ck_maxout_forward(float *y, int32_t *argmax, const float *x, ptrdiff_t k,
                       ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * k * HW >= CK_PAR_MIN_ELEMS, // (image, output channel)
        const float *xg = x + nc * k * HW; // k planes of HW
        float *yc = y + nc * HW;
        int32_t *ac = argmax + nc * HW;
        for (ptrdiff_t i = 0; i < HW; i++) {
            float best = xg[i];
            int32_t j = 0;
            for (ptrdiff_t t = 1; t < k; t++)
                if (xg[t * HW + i] > best) { best = xg[t * HW + i]; j = (int32_t)t; }
            yc[i] = best;
            ac[i] = j;
        }
    );
}

void ck_maxout_backward(float *dx, const float *dy, const int32_t *argmax, ptrdiff_t k,
                        ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    CK_PARALLEL_FOR(nc, N * C, N * C * HW >= CK_PAR_MIN_ELEMS,
        float *dg = dx + nc * k * HW;
        const float *g = dy + nc * HW;
        const int32_t *ac = argmax + nc * HW;
        for (ptrdiff_t i = 0; i < HW; i++) dg[ac[i] * HW + i] += g[i];
    );
}
