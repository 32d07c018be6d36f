// Softmax cross-entropy, fused and max-subtracted. logits, probs, dlogits (N, K); labels (N).
// Rows are summed in index order on the calling thread: N·K is small next to the convolutions.
#include "ck_internal.h"
#include <math.h>

double ck_softmax_xent_forward(float *probs, ptrdiff_t *correct, const float *logits,
                               const int32_t *labels, ptrdiff_t N, ptrdiff_t K) {
    double total = 0.0;
    ptrdiff_t hits = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const float *z = logits + n * K;
        float *pr = probs + n * K;
        float zmax = z[0];
        ptrdiff_t best = 0;
        for (ptrdiff_t k = 1; k < K; k++)
            if (z[k] > zmax) { zmax = z[k]; best = k; }
        double sum = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) sum += exp((double)z[k] - zmax);
        const double logsum = log(sum);
        for (ptrdiff_t k = 0; k < K; k++) pr[k] = (float)exp((double)z[k] - zmax - logsum);
        total += logsum - ((double)z[labels[n]] - zmax);
        hits += best == labels[n];
    }
    if (correct) *correct = hits;
    return total;
}

void ck_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                              float scale, ptrdiff_t N, ptrdiff_t K) {
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t k = 0; k < K; k++)
            dlogits[n * K + k] += scale * (probs[n * K + k] - (k == labels[n] ? 1.0f : 0.0f));
}
