// Fused group/layer normalisation: one pass for the statistics, one for the output; the backward pass
// needs two sums per group instead of the dozen tensors a composite would materialise.
#include "dl_norm.h"
#include "dl_kernels.h"
#include <math.h>
#include <string.h>

DL_MULTIVERSION
void dl_groupnorm_forward(long N, long C, long S, long G, float eps, const float *x, const float *w,
                          const float *b, float *y, float *mean, float *rstd) {
    long Cg = C / G, D = Cg * S;
    for (long n = 0; n < N; n++)
        for (long g = 0; g < G; g++) {
            long base = (n * C + g * Cg) * S;
            const float *restrict xg = x + base;
            double s = 0;
            for (long i = 0; i < D; i++) s += xg[i];
            float m = (float)(s / (double)D);
            double v = 0;
            for (long i = 0; i < D; i++) { float d = xg[i] - m; v += (double)d * d; }
            float r = 1.0f / sqrtf((float)(v / (double)D) + eps);
            mean[n * G + g] = m;
            rstd[n * G + g] = r;
            for (long j = 0; j < Cg; j++) {
                long ch = g * Cg + j;
                float sc = r * (w ? w[ch] : 1.0f);
                float sh = (b ? b[ch] : 0.0f) - m * sc;
                const float *restrict xs = xg + j * S;
                float *restrict ys = y + base + j * S;
                for (long i = 0; i < S; i++) ys[i] = xs[i] * sc + sh;
            }
        }
}

DL_MULTIVERSION
void dl_groupnorm_backward(long N, long C, long S, long G, const float *x, const float *w, const float *mean,
                           const float *rstd, const float *gy, float *gx, float *gw, float *gb) {
    long Cg = C / G, D = Cg * S;
    if (gw) memset(gw, 0, sizeof(float) * (size_t)C);
    if (gb) memset(gb, 0, sizeof(float) * (size_t)C);
    for (long n = 0; n < N; n++)
        for (long g = 0; g < G; g++) {
            long base = (n * C + g * Cg) * S;
            float m = mean[n * G + g], r = rstd[n * G + g];
            double s1 = 0, s2 = 0;  // Σ gy·w and Σ gy·w·x̂ over the group
            for (long j = 0; j < Cg; j++) {
                long ch = g * Cg + j;
                const float *restrict xs = x + base + j * S;
                const float *restrict gs = gy + base + j * S;
                float a = 0, c = 0;  // Σ gy and Σ gy·x̂ for this channel
                for (long i = 0; i < S; i++) {
                    float xh = (xs[i] - m) * r;
                    a += gs[i];
                    c += gs[i] * xh;
                }
                float ws = w ? w[ch] : 1.0f;
                s1 += (double)a * ws;
                s2 += (double)c * ws;
                if (gw) gw[ch] += c;
                if (gb) gb[ch] += a;
            }
            if (!gx) continue;
            float k1 = (float)(s1 / (double)D), k2 = (float)(s2 / (double)D);
            for (long j = 0; j < Cg; j++) {
                long ch = g * Cg + j;
                float ws = w ? w[ch] : 1.0f;
                const float *restrict xs = x + base + j * S;
                const float *restrict gs = gy + base + j * S;
                float *restrict out = gx + base + j * S;
                for (long i = 0; i < S; i++) {
                    float xh = (xs[i] - m) * r;
                    out[i] = r * (gs[i] * ws - k1 - xh * k2);
                }
            }
        }
}
