// Optimizers over one flat parameter buffer (n values). decay_mask (n) marks the values that take
// weight decay: weights yes; biases, BN γ/β and PReLU slopes no.
#include "ck_internal.h"
#include <math.h>

void ck_sgd_step(float *w, float *velocity, const float *grad, const uint8_t *decay_mask,
                 float lr, float momentum, float weight_decay, ptrdiff_t n) {
    CK_PARALLEL_FOR_SIMD(i, n, n >= CK_PAR_MIN_ELEMS,
        const float wd = (!decay_mask || decay_mask[i]) ? weight_decay : 0.0f;
        const float g = grad[i] + wd * w[i];
        const float v = momentum * velocity[i] + g;
        velocity[i] = v;
        w[i] -= lr * v;
    );
}

void ck_ref_sgd_step(float *w, float *velocity, const float *grad, const uint8_t *decay_mask,
                     float lr, float momentum, float weight_decay, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const double wd = (!decay_mask || decay_mask[i]) ? weight_decay : 0.0;
        const double g = (double)grad[i] + wd * w[i];
        velocity[i] = (float)((double)momentum * velocity[i] + g);
        w[i] = (float)((double)w[i] - (double)lr * velocity[i]);
    }
}

void ck_adam_step(float *w, float *m, float *v, const float *grad, const uint8_t *decay_mask,
                  float lr, float beta1, float beta2, float eps, float weight_decay, int64_t t,
                  ptrdiff_t n) {
    const float c1 = 1.0f - (float)pow(beta1, (double)t), c2 = 1.0f - (float)pow(beta2, (double)t);
    CK_PARALLEL_FOR(i, n, n >= CK_PAR_MIN_ELEMS,
        const float wd = (!decay_mask || decay_mask[i]) ? weight_decay : 0.0f;
        const float g = grad[i] + wd * w[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        w[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
    );
}
