// PReLU on the channel-blocked layout: x, y, dx, dy (N, Cb, HW, 16), Cb = ⌈C/16⌉; a and da (C),
// or (1) when shared. Each lane computes what activations.c computes for its channel, with the
// same expressions (so the same FMA contractions) and the same double sums in (n, hw) order:
// the NCHW kernel's bits. Padding lanes are written as zero and left out of every sum.
#include "ck_internal.h"

#define CB CK_CB

void ck_prelu_forward_blocked(float *y, const float *x, const float *a, int shared,
                              ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    CK_PARALLEL_FOR(nb, N * Cb, N * Cb * CB * HW >= CK_PAR_MIN_ELEMS, // (image, block) planes
        const ptrdiff_t c0 = nb % Cb * CB, cn = ck_min(CB, C - c0);
        float s[CB];
        for (int l = 0; l < CB; l++) s[l] = l < cn ? a[shared ? 0 : c0 + l] : 0.0f;
        const float *xb = x + nb * HW * CB;
        float *yb = y + nb * HW * CB;
        for (ptrdiff_t i = 0; i < HW; i++)
            for (int l = 0; l < CB; l++) {
                const float v = xb[i * CB + l];
                yb[i * CB + l] = v > 0.0f ? v : s[l] * v;
            }
        if (cn < CB) // a separate pass keeps the full-block loop branch-free
            for (ptrdiff_t i = 0; i < HW; i++)
                for (ptrdiff_t l = cn; l < CB; l++) yb[i * CB + l] = 0.0f;
    );
}

// da is a reduction over n and hw: one thread per channel block, each lane summing in n-then-hw
// order whatever the thread count; the shared slope adds the per-channel sums in channel order
// afterwards, as the NCHW kernel does.
void ck_prelu_backward_blocked(float *dx, float *da, const float *dy, const float *x, const float *a,
                               int shared, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB);
    double per_channel[ck_max(Cb, 1) * CB];
    CK_PARALLEL_FOR(cb, Cb, N * Cb * CB * HW >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t c0 = cb * CB, cn = ck_min(CB, C - c0);
        float s[CB];
        double acc[CB];
        for (int l = 0; l < CB; l++) { s[l] = l < cn ? a[shared ? 0 : c0 + l] : 0.0f; acc[l] = 0.0; }
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *xb = x + (n * Cb + cb) * HW * CB, *g = dy + (n * Cb + cb) * HW * CB;
            float *d = dx + (n * Cb + cb) * HW * CB;
            for (ptrdiff_t i = 0; i < HW; i++)
                for (ptrdiff_t l = 0; l < cn; l++) {
                    const ptrdiff_t k = i * CB + l;
                    if (xb[k] > 0.0f) {
                        d[k] += g[k];
                    } else {
                        d[k] += s[l] * g[k];
                        acc[l] += (double)g[k] * (double)xb[k];
                    }
                }
        }
        for (ptrdiff_t l = 0; l < cn; l++) per_channel[c0 + l] = acc[l];
    );
    if (!da) return;
    if (shared) {
        double total = 0.0;
        for (ptrdiff_t c = 0; c < C; c++) total += per_channel[c];
        da[0] += (float)total;
    } else {
        for (ptrdiff_t c = 0; c < C; c++) da[c] += (float)per_channel[c];
    }
}
