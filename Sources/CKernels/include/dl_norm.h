#ifndef DL_NORM_H
#define DL_NORM_H

/// Group normalisation of x [N, C, S] in groups of C/G channels (mean and population variance over each
/// group's channels and positions), then a per-channel affine (w, b may be NULL for 1 and 0).
/// mean and rstd ([N·G]) are written for the backward pass. Covers LayerNorm with G = 1, S = 1.
void dl_groupnorm_forward(long N, long C, long S, long G, float eps, const float *x, const float *w,
                          const float *b, float *y, float *mean, float *rstd);
/// Gradients of dl_groupnorm_forward. gx, gw, gb may be NULL when not needed; gw and gb are overwritten.
void dl_groupnorm_backward(long N, long C, long S, long G, const float *x, const float *w, const float *mean,
                           const float *rstd, const float *gy, float *gx, float *gw, float *gb);

#endif
