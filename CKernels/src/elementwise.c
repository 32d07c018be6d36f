// Residual add, bias, buffer sums and finiteness checks.
#include "ck_internal.h"
#include <math.h>
#include <string.h>

void ck_add(float *y, const float *a, const float *b, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = a[i] + b[i];);
}

void ck_accumulate(float *y, const float *x, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] += x[i];);
}

// A ReLU fused into the residual add before it: its forward's expression on the stored sum, its
// backward's (relu_out > 0 ? dy : 0) as the term each of the add's two gradients takes.
void ck_add_relu(float *y, const float *a, const float *b, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, const float v = a[i] + b[i]; y[i] = v > 0.0f ? v : 0.0f;);
}

// The residual add's backward sends g both ways; each side stores g when the plan left it unzeroed
// (its first writer in backward), else adds it. The flags are loop-invariant: one branch per side.
void ck_add_backward(float *dx, float *dskip, const float *dy, const float *relu_out, int dx_stores,
                     int dskip_stores, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS,
        const float g = relu_out ? (relu_out[i] > 0.0f ? dy[i] : 0.0f) : dy[i];
        dx[i] = dx_stores ? g : dx[i] + g;
        dskip[i] = dskip_stores ? g : dskip[i] + g;
    );
}

void ck_copy(float *y, const float *x, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, y[i] = x[i];);
}

void ck_fill(float *x, float v, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, x[i] = v;);
}

// A linear layer's bias (HW = 1) goes row by row, vectorized over K: per element the same one add.
// (Its planes of one pixel each took an iteration, and a division, per element: 5 % of mlp-deep's step.)
void ck_add_bias(float *y, const float *b, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW) {
    if (HW == 1) {
        CK_PARALLEL_FOR(n, N, N * K >= CK_PAR_MIN_ELEMS, // rows
            float *restrict yn = y + n * K;
            _Pragma("omp simd") for (ptrdiff_t k = 0; k < K; k++) yn[k] += b[k];
        );
        return;
    }
    CK_PARALLEL_FOR(nk, N * K, N * K * HW >= CK_PAR_MIN_ELEMS, // (image, channel) planes
        float *yk = y + nk * HW;
        const float bk = b[nk % K];
        for (ptrdiff_t i = 0; i < HW; i++) yk[i] += bk;
    );
}

void ck_add_bias_relu(float *y, const float *b, ptrdiff_t N, ptrdiff_t K) {
    CK_PARALLEL_FOR(n, N, N * K >= CK_PAR_MIN_ELEMS, // rows
        float *restrict yn = y + n * K;
        _Pragma("omp simd") for (ptrdiff_t k = 0; k < K; k++) {
            const float v = yn[k] + b[k];
            yn[k] = v > 0.0f ? v : 0.0f;
        }
    );
}

// HW = 1: columns in fixed strips of BIAS_STRIP, each summed down the rows in row order in double,
// lanes side by side: every channel's sum has the per-channel loop's order, hence its bits.
#define BIAS_STRIP 64
void ck_bias_backward(float *db, const float *dy, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW) {
    if (HW == 1) {
        CK_PARALLEL_FOR(st, ck_ceil_div(K, BIAS_STRIP), N * K >= CK_PAR_MIN_ELEMS && K > BIAS_STRIP,
            const ptrdiff_t k0 = st * BIAS_STRIP, kn = ck_min(BIAS_STRIP, K - k0);
            double acc[BIAS_STRIP] = {0};
            for (ptrdiff_t n = 0; n < N; n++) {
                const float *restrict d = dy + n * K + k0;
                _Pragma("omp simd") for (ptrdiff_t k = 0; k < kn; k++) acc[k] += d[k];
            }
            for (ptrdiff_t k = 0; k < kn; k++) db[k0 + k] += (float)acc[k];
        );
        return;
    }
    CK_PARALLEL_FOR(k, K, N * K * HW >= CK_PAR_MIN_ELEMS && K > 1,
        double acc = 0.0;
        for (ptrdiff_t n = 0; n < N; n++)
            for (ptrdiff_t i = 0; i < HW; i++) acc += dy[(n * K + k) * HW + i];
        db[k] += (float)acc;
    );
}

ptrdiff_t ck_tree_mid(ptrdiff_t lo, ptrdiff_t hi) { return lo + (hi - lo + 1) / 2; }

// dst[0, m) = the tree sum of bufs[lo, hi) at [off, off + m); scratch: m floats per level below.
static void tree_sum(float *restrict dst, const float *const *bufs, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t off,
                     ptrdiff_t m, float *restrict scratch) {
    if (hi - lo == 1) {
        memcpy(dst, bufs[lo] + off, (size_t)m * sizeof(float));
        return;
    }
    const ptrdiff_t mid = ck_tree_mid(lo, hi);
    tree_sum(dst, bufs, lo, mid, off, m, scratch);
    tree_sum(scratch, bufs, mid, hi, off, m, scratch + m);
    for (ptrdiff_t i = 0; i < m; i++) dst[i] += scratch[i]; // left + right
}

// Blocks of 512 values so the partial sums stay in L1; each value's additions are the same
// whatever the blocking or the thread count.
void ck_sum_buffers(float *out, const float *const *bufs, ptrdiff_t nbuf, ptrdiff_t n) {
    enum { BLOCK = 512 };
    if (nbuf <= 0) {
        memset(out, 0, (size_t)n * sizeof(float));
        return;
    }
    ptrdiff_t levels = 1;
    while (((ptrdiff_t)1 << (levels - 1)) < nbuf) levels++;
    const ptrdiff_t nblk = ck_ceil_div(n, BLOCK);
    CK_PARALLEL_FOR(b, nblk, n * nbuf >= CK_PAR_MIN_ELEMS,
        float scratch[levels * BLOCK];
        const ptrdiff_t off = b * BLOCK;
        tree_sum(out + off, bufs, 0, nbuf, off, ck_min(BLOCK, n - off), scratch);
    );
}

// Fixed blocks of 16,384 values, one flag each, combined afterwards: no shared reduction variable.
int ck_all_finite(const float *x, ptrdiff_t n) {
    enum { BLOCK = 1 << 14 };
    const ptrdiff_t nblk = ck_ceil_div(n, BLOCK);
    unsigned char ok[nblk > 0 ? nblk : 1];
    CK_PARALLEL_FOR(b, nblk, n >= CK_PAR_MIN_ELEMS,
        const float *xb = x + b * BLOCK;
        const ptrdiff_t m = ck_min(BLOCK, n - b * BLOCK);
        int fine = 1;
        for (ptrdiff_t i = 0; i < m; i++) fine &= isfinite(xb[i]) != 0;
        ok[b] = (unsigned char)fine;
    );
    for (ptrdiff_t b = 0; b < nblk; b++)
        if (!ok[b]) return 0;
    return 1;
}

// Fixed blocks of 16,384 values, each summed in double in index order, the blocks' sums added in
// block order: the same bits for every thread count.
double ck_sum_squares(const float *x, ptrdiff_t n) {
    enum { BLOCK = 1 << 14 };
    const ptrdiff_t nblk = ck_ceil_div(n, BLOCK);
    double part[nblk > 0 ? nblk : 1];
    CK_PARALLEL_FOR(b, nblk, n >= CK_PAR_MIN_ELEMS,
        const float *xb = x + b * BLOCK;
        const ptrdiff_t m = ck_min(BLOCK, n - b * BLOCK);
        double acc = 0.0;
        for (ptrdiff_t i = 0; i < m; i++) acc += (double)xb[i] * xb[i];
        part[b] = acc;
    );
    double total = 0.0;
    for (ptrdiff_t b = 0; b < nblk; b++) total += part[b];
    return total;
}

double ck_ref_sum_squares(const float *x, ptrdiff_t n) {
    double total = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) total += (double)x[i] * x[i];
    return total;
}

// Σ (x − shift)^p over x[0, n), p 1 or 2, in fixed blocks of 16,384 values; a block runs 8
// independent lanes (i mod 8), combined as ((0+1)+(2+3))+((4+5)+(6+7)), so the sum vectorizes and
// is not one latency-bound chain, and its order never depends on the thread count.
static double blocked_moment(const float *x, ptrdiff_t n, double shift, int p) {
    enum { BLOCK = 1 << 14, LANES = 8 };
    const ptrdiff_t nblk = ck_ceil_div(n, BLOCK);
    double part[nblk > 0 ? nblk : 1];
    CK_PARALLEL_FOR(b, nblk, n >= CK_PAR_MIN_ELEMS,
        const float *xb = x + b * BLOCK;
        const ptrdiff_t m = ck_min(BLOCK, n - b * BLOCK);
        double acc[LANES] = {0};
        ptrdiff_t i = 0;
        for (; i + LANES <= m; i += LANES)
            for (int l = 0; l < LANES; l++) {
                const double v = (double)xb[i + l] - shift;
                acc[l] += p == 1 ? v : v * v;
            }
        for (int l = 0; i < m; i++, l++) {
            const double v = (double)xb[i] - shift;
            acc[l] += p == 1 ? v : v * v;
        }
        part[b] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    );
    double total = 0.0;
    for (ptrdiff_t b = 0; b < nblk; b++) total += part[b];
    return total;
}

void ck_mean_var(double *mean, double *var, const float *x, ptrdiff_t n) {
    if (n <= 0) { *mean = 0.0; *var = 0.0; return; }
    const double m = blocked_moment(x, n, 0.0, 1) / (double)n;
    *mean = m;
    *var = blocked_moment(x, n, m, 2) / (double)n;
}

void ck_ref_mean_var(double *mean, double *var, const float *x, ptrdiff_t n) {
    if (n <= 0) { *mean = 0.0; *var = 0.0; return; }
    double s = 0.0, ss = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) s += (double)x[i];
    const double m = s / (double)n;
    for (ptrdiff_t i = 0; i < n; i++) ss += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *var = ss / (double)n;
}

// Σ x[i]·y[i] in 8 lanes, lane l summing the i ≡ l (mod 8) terms in index order, the lanes then
// added as a 512-bit register halves itself: ((0+4) + (2+6)) + ((1+5) + (3+7)). Written in scalars
// without contraction, so every instruction set (and -O0) gives these bits; the compiler makes the
// lanes one vector where it can.
static double dot8(const double *restrict x, const double *restrict y, ptrdiff_t m) {
#pragma clang fp contract(off)
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= m; i += 8)
        for (int l = 0; l < 8; l++) s[l] += x[i + l] * y[i + l];
    for (int l = 0; i < m; i++, l++) s[l] += x[i] * y[i];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

void ck_gram_schmidt(double *a, ptrdiff_t m, ptrdiff_t n) {
#pragma clang fp contract(off)
    for (ptrdiff_t j = 0; j < n; j++) {
        double *restrict aj = a + j * m;
        for (int pass = 0; pass < 2; pass++) {
            for (ptrdiff_t k = 0; k < j; k++) {
                const double *restrict ak = a + k * m;
                const double d = dot8(ak, aj, m);
                for (ptrdiff_t i = 0; i < m; i++) aj[i] -= d * ak[i];
            }
            const double norm = sqrt(dot8(aj, aj, m));
            const double inv = norm > 0 ? 1 / norm : 0;
            for (ptrdiff_t i = 0; i < m; i++) aj[i] *= inv;
        }
    }
}

void ck_scale(float *x, float s, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS, x[i] *= s;);
}
