// GFLOP/s of the blocked direct convolution against the im2col + GEMM path (ck_conv2d_*), per pass,
// at plain30's and cnn-small's conv shapes, in one run; and the share of the FMA peak measured in
// the same run (ck_fma_peak_probe). FLOPs per pass: 2·N·K·C·R·S·P·Q, the usual count; the blocked
// kernels skip the taps that fall on the zero padding, so "useful" also gives the share of the peak
// their FMAs really reach: 2·N·K·C·(3H−2)·(3W−2) FLOPs (82 % of the count at 7×7). Build and run:
// bench/conv_blocked_bench.sh [--threads T] [--batch N] [--reps R] [--isa avx2|avx512] [--shapes C:K:HW,...]
#define _POSIX_C_SOURCE 200809L
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *alloc(ptrdiff_t n) {
    float *p = aligned_alloc(64, (size_t)((n + 15) / 16 * 16) * sizeof(float));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static float *uniform(ptrdiff_t n, unsigned seed) {
    float *p = alloc(n);
    for (ptrdiff_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct { const ck_conv2d_shape *s; float *y, *x, *w, *dy, *dx, *dw, *ws; int pass, blocked; } job;

static void run(const job *j) {
    if (j->blocked) {
        if (j->pass == 0) ck_conv2d_blocked_forward(j->y, j->x, j->w, NULL, 0, j->s, j->ws);
        else if (j->pass == 1) ck_conv2d_blocked_backward_data(j->dx, j->dy, j->w, 1, NULL, j->s, j->ws);
        else ck_conv2d_blocked_backward_weights(j->dw, NULL, j->dy, j->x, j->s, j->ws);
    } else {
        if (j->pass == 0) ck_conv2d_forward(j->y, j->x, j->w, NULL, j->s, j->ws);
        else if (j->pass == 1) ck_conv2d_backward_data(j->dx, j->dy, j->w, j->s, j->ws);
        else ck_conv2d_backward_weights(j->dw, NULL, j->dy, j->x, j->s, j->ws);
    }
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

// GFLOP/s of a short FMA probe (about 2 ms on one core) at this thread count and variant.
static double probe(int isa, int threads) {
    const double t0 = now(), f = ck_fma_peak_probe(isa, threads, 600000);
    return f / (now() - t0) * 1e-9;
}

// Each rep times the probe, the blocked pass and the im2col pass back to back: the host's clock
// and neighbours drift over seconds, so each pass is set against the peak measured beside it.
// Medians over the reps (after one warm-up call of each) of the times and of the per-rep shares.
typedef struct { double tb, tg, peak, share_b, share_g; } timing;

static timing measure(const job *b, const job *g, int reps, int isa, int threads, double flops) {
    double tb[64], tg[64], pk[64], sb[64], sg[64];
    run(b);
    run(g);
    for (int r = 0; r < reps; r++) {
        pk[r] = probe(isa, threads);
        double t0 = now();
        run(b);
        tb[r] = now() - t0;
        t0 = now();
        run(g);
        tg[r] = now() - t0;
        sb[r] = flops / tb[r] * 1e-9 / pk[r];
        sg[r] = flops / tg[r] * 1e-9 / pk[r];
    }
    return (timing){median(tb, reps), median(tg, reps), median(pk, reps), median(sb, reps), median(sg, reps)};
}

int main(int argc, char **argv) {
    int threads = 1, batch = 128, reps = 7;
    const char *shapes = "1:16:28,16:16:28,16:32:14,32:32:14,32:64:7,64:64:7,1:32:28,32:32:28,32:64:14,64:64:14";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shapes")) shapes = argv[i + 1];
        else if (!strcmp(argv[i], "--isa")) {
            if (ck_set_isa(ck_isa_from_name(argv[i + 1])) != 0) {
                fprintf(stderr, "isa %s unsupported\n", argv[i + 1]);
                return 1;
            }
        } else { fprintf(stderr, "unknown option %s\n", argv[i]); return 1; }
    }
    if (reps < 1 || reps > 64 || threads < 1 || batch < 1) { fprintf(stderr, "bad option value\n"); return 1; }
    ck_set_num_threads(threads);
    const int isa = ck_isa();
    // The peak at this thread count, this variant: the best of three long probes.
    double peak = 0;
    for (int r = 0; r < 3; r++) {
        const double t0 = now(), f = ck_fma_peak_probe(isa, threads, 20000000);
        const double g = f / (now() - t0) * 1e-9;
        if (g > peak) peak = g;
    }
    double peaks[64]; // the short probes beside each pass
    int npeaks = 0;
    printf("isa %s, blocked kernels \"%s\", GEMM \"%s\"; %d thread(s), batch %d, median of %d\n", ck_isa_name(isa),
           ck_conv2d_blocked_kernel_name(), ck_gemm_kernel_name(), threads, batch, reps);
    printf("FMA peak (this run, %d thread(s)): %.1f GFLOP/s; %%peak: median over reps of GFLOP/s / the probe run\n"
           "just before (\"useful\": FLOPs of the taps inside the image only)\n", threads, peak);
    printf("%-14s %-9s %10s %7s %7s %10s %7s %8s\n", "C->K @HxW", "pass", "blocked", "%peak", "useful", "im2col",
           "%peak", "speedup");
    static const char *names[3] = {"forward", "bwd-data", "bwd-wgt"};
    char *list = strdup(shapes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int C, K, HW;
        if (sscanf(tok, "%d:%d:%d", &C, &K, &HW) != 3) { fprintf(stderr, "bad shape %s (C:K:HW)\n", tok); return 1; }
        const ck_conv2d_shape s = {batch, C, HW, HW, K, 3, 3, 1, 1};
        const ptrdiff_t xn = (ptrdiff_t)batch * C * HW * HW, yn = (ptrdiff_t)batch * K * HW * HW;
        const ptrdiff_t xbn = ck_blocked_size(batch, C, HW, HW), ybn = ck_blocked_size(batch, K, HW, HW);
        const ptrdiff_t wn = (ptrdiff_t)K * C * 9, wbn = ck_blocked_weights_size(K, C, 3, 3);
        float *x = uniform(xn, 1), *w = uniform(wn, 2), *dy = uniform(yn, 3);
        float *xb = alloc(xbn), *wb = alloc(wbn), *dyb = alloc(ybn);
        ck_blocked_from_nchw(xb, x, batch, C, HW, HW);
        ck_blocked_from_nchw(dyb, dy, batch, K, HW, HW);
        ck_blocked_weights_from_kcrs(wb, w, K, C, 3, 3);
        float *y = alloc(yn), *dx = alloc(xn), *dw = alloc(wn), *yb = alloc(ybn), *dxb = alloc(xbn), *dwb = alloc(wbn);
        memset(dx, 0, (size_t)xn * 4); memset(dw, 0, (size_t)wn * 4);
        memset(dxb, 0, (size_t)xbn * 4); memset(dwb, 0, (size_t)wbn * 4);
        float *ws = alloc(ck_conv2d_workspace_size(&s)), *wsb = alloc(ck_conv2d_blocked_workspace_size(&s));
        const double flops = 2.0 * batch * K * C * 9 * HW * HW;
        const double useful = 2.0 * batch * K * C * (3 * HW - 2) * (3 * HW - 2);
        for (int pass = 0; pass < 3; pass++) {
            const job b = {&s, yb, xb, wb, dyb, dxb, dwb, wsb, pass, 1}, g = {&s, y, x, w, dy, dx, dw, ws, pass, 0};
            const timing t = measure(&b, &g, reps, isa, threads, flops);
            const double tb = t.tb, tg = t.tg, gb = flops / tb * 1e-9, gg = flops / tg * 1e-9;
            if (npeaks < 64) peaks[npeaks++] = t.peak;
            char label[32];
            snprintf(label, sizeof label, "%d->%d @%dx%d", C, K, HW, HW);
            printf("%-14s %-9s %10.1f %6.1f%% %6.1f%% %10.1f %6.1f%% %7.2fx\n", label, names[pass], gb, 100 * t.share_b,
                   100 * t.share_b * useful / flops, gg, 100 * t.share_g, tg / tb);
        }
        free(x); free(w); free(dy); free(xb); free(wb); free(dyb); free(y); free(dx); free(dw);
        free(yb); free(dxb); free(dwb); free(ws); free(wsb);
    }
    free(list);
    if (npeaks) printf("short probes beside the passes: median %.1f GFLOP/s\n", median(peaks, npeaks));
    return 0;
}
