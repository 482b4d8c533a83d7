// Optimiser kernels: one tight loop per update, mirroring PyTorch's operation order (see dl_optim.h).
#include "dl_optim.h"
#include <math.h>

void dl_sgd_step(long n, float *restrict p, const float *restrict g, float *restrict buf, float neg_lr, float momentum,
                 float damp, float weight_decay, int nesterov, int first_step) {
    for (long i = 0; i < n; i++) {
        float d = g[i];
        if (weight_decay != 0.0f) d = d + weight_decay * p[i];
        if (momentum != 0.0f) {
            float b = first_step ? d : buf[i] * momentum + damp * d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

void dl_adam_step(long n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                  float w1, float beta2, float w2, float eps, float weight_decay, int decoupled, float decay_factor,
                  float neg_step_size, float bc2_sqrt) {
    const int coupled = !decoupled && weight_decay != 0.0f;
    const int shrink = decoupled && weight_decay != 0.0f;
    for (long i = 0; i < n; i++) {
        float pi = p[i];
        if (shrink) pi = pi * decay_factor;
        float gi = coupled ? g[i] + weight_decay * pi : g[i];
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] * beta2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step_size * mi / denom;
    }
}

void dl_ema_update(long n, float *restrict shadow, const float *restrict p, float one_minus_decay) {
    for (long i = 0; i < n; i++) shadow[i] = shadow[i] - one_minus_decay * (shadow[i] - p[i]);
}

// Eight independent accumulators: a single running sum is bound by the add latency.
double dl_sum_squares(long n, const float *restrict x) {
    double acc[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] * (double)x[i + k];
    double s = 0;
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

void dl_scale_inplace(long n, float *restrict x, float s) {
    for (long i = 0; i < n; i++) x[i] *= s;
}
