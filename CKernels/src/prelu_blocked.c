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

// da is a reduction over n and hw: one unit per (group of images, channel block), each lane summing
// its group in n-then-hw order, the groups added in group order (ck_image_groups), whatever the
// thread count; the shared slope adds the per-channel sums in channel order afterwards, as the NCHW
// kernel does.
void ck_prelu_backward_blocked(float *dx, float *da, const float *dy, const float *x, const float *a,
                               int shared, ptrdiff_t N, ptrdiff_t C, ptrdiff_t HW) {
    const ptrdiff_t Cb = ck_ceil_div(C, CB), G = ck_image_groups(N, C);
    double per_group[G * C], per_channel[C]; // (G, C), then (C)
    CK_PARALLEL_FOR(gb, G * Cb, N * Cb * CB * HW >= CK_PAR_MIN_ELEMS,
        const ptrdiff_t g = gb / Cb, cb = gb % Cb, c0 = cb * CB, cn = ck_min(CB, C - c0);
        const ck_range imgs = ck_split(N, G, g);
        float s[CB];
        double acc[CB];
        for (int l = 0; l < CB; l++) { s[l] = l < cn ? a[shared ? 0 : c0 + l] : 0.0f; acc[l] = 0.0; }
        for (ptrdiff_t n = imgs.lo; n < imgs.hi; n++) {
            const float *xb = x + (n * Cb + cb) * HW * CB, *gr = dy + (n * Cb + cb) * HW * CB;
            float *d = dx + (n * Cb + cb) * HW * CB;
            for (ptrdiff_t i = 0; i < HW; i++)
                for (ptrdiff_t l = 0; l < cn; l++) {
                    const ptrdiff_t k = i * CB + l;
                    if (xb[k] > 0.0f) {
                        d[k] += gr[k];
                    } else {
                        d[k] += s[l] * gr[k];
                        acc[l] += (double)gr[k] * (double)xb[k];
                    }
                }
        }
        for (ptrdiff_t l = 0; l < cn; l++) per_group[g * C + c0 + l] = acc[l];
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
