#ifndef DL_OPTIM_H
#define DL_OPTIM_H

// In-place optimiser, EMA and clipping kernels over contiguous float buffers of n elements.
// Each follows PyTorch's single-tensor (for-loop) implementation operation by operation, in float,
// with scalars precomputed by the caller in double as Python does.

/// SGD. g' = g + wd·p; with momentum: buf = g' on the first step, else buf = momentum·buf + one_minus_damp·g';
/// the step direction is g' + momentum·buf (Nesterov) or buf; then p += neg_lr·direction.
/// `buf` may be NULL when momentum == 0.
void dl_sgd_step(long n, float *p, const float *g, float *buf, float neg_lr, float momentum, float one_minus_damp,
                 float weight_decay, int nesterov, int first_step);

/// Adam / AdamW. decoupled: p *= decay_factor (= 1 − lr·wd) first; else g' = g + wd·p.
/// m = m + w1·(g' − m)   (torch.lerp with weight w1 = 1−β1 < 0.5)
/// v = v·β2 + w2·g'·g'    (w2 = 1−β2)
/// p = p + (−step_size)·m / (√v / bc2_sqrt + eps), with step_size = lr / (1 − β1ᵗ), bc2_sqrt = √(1 − β2ᵗ).
void dl_adam_step(long n, float *p, const float *g, float *m, float *v, float w1, float beta2, float w2, float eps,
                  float weight_decay, int decoupled, float decay_factor, float neg_step_size, float bc2_sqrt);

/// shadow = shadow − (1 − decay)·(shadow − p)
void dl_ema_update(long n, float *shadow, const float *p, float one_minus_decay);

/// Σ x² in double.
double dl_sum_squares(long n, const float *x);

/// x *= s
void dl_scale_inplace(long n, float *x, float s);

#endif
