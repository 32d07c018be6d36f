// Residual add, bias, buffer sums and finiteness checks.
#include "ck_internal.h"
#include <math.h>

void ck_add(float *y, const float *a, const float *b, ptrdiff_t n) {
#pragma omp parallel for simd schedule(static) if (n >= CK_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ck_accumulate(float *y, const float *x, ptrdiff_t n) {
#pragma omp parallel for simd schedule(static) if (n >= CK_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < n; i++) y[i] += x[i];
}

void ck_add_bias(float *y, const float *b, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW) {
#pragma omp parallel for schedule(static) collapse(2) if (N * K * HW >= CK_PAR_MIN_ELEMS)
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t k = 0; k < K; k++) {
            float *yk = y + (n * K + k) * HW;
            const float bk = b[k];
            for (ptrdiff_t i = 0; i < HW; i++) yk[i] += bk;
        }
}

void ck_bias_backward(float *db, const float *dy, ptrdiff_t N, ptrdiff_t K, ptrdiff_t HW) {
#pragma omp parallel for schedule(static) if (N * K * HW >= CK_PAR_MIN_ELEMS && K > 1)
    for (ptrdiff_t k = 0; k < K; k++) {
        double acc = 0.0;
        for (ptrdiff_t n = 0; n < N; n++)
            for (ptrdiff_t i = 0; i < HW; i++) acc += dy[(n * K + k) * HW + i];
        db[k] += (float)acc;
    }
}

void ck_sum_buffers(float *out, const float *const *bufs, ptrdiff_t nbuf, ptrdiff_t n) {
#pragma omp parallel for schedule(static) if (n * nbuf >= CK_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < n; i++) {
        float acc = nbuf > 0 ? bufs[0][i] : 0.0f;
        for (ptrdiff_t b = 1; b < nbuf; b++) acc += bufs[b][i];
        out[i] = acc;
    }
}

int ck_all_finite(const float *x, ptrdiff_t n) {
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok) if (n >= CK_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}
