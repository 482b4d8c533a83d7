// Fused group/layer normalisation: one pass for the statistics, one for the output; the backward pass
// needs two sums per group instead of the dozen tensors a composite would materialise.
//
// Sums run in 16 float lanes (so they vectorise without -ffast-math) over chunks of at most 4096 elements, each
// chunk then added in double. Samples are independent tasks on the pool; the per-channel weight and bias gradients
// are summed over samples afterwards in sample order, so results do not depend on the thread count.
#include "dl_norm.h"
#include "dl_kernels.h"
#include "dl_pool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LANES = 16, CHUNK = 4096 };

/// Σ x[i] in double, from float lanes over chunks.
DL_MULTIVERSION static double sum_lanes(long n, const float *restrict x) {
    double total = 0;
    for (long c0 = 0; c0 < n; c0 += CHUNK) {
        const long c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
        float part[LANES] = {0};
        long i = c0;
        for (; i + LANES <= c1; i += LANES)
            for (int k = 0; k < LANES; k++) part[k] += x[i + k];
        float s = 0;
        for (; i < c1; i++) s += x[i];
        for (int k = 0; k < LANES; k++) s += part[k];
        total += s;
    }
    return total;
}

/// Σ (x[i] − m)² in double, from float lanes over chunks.
DL_MULTIVERSION static double sum_sq_dev(long n, const float *restrict x, float m) {
    double total = 0;
    for (long c0 = 0; c0 < n; c0 += CHUNK) {
        const long c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
        float part[LANES] = {0};
        long i = c0;
        for (; i + LANES <= c1; i += LANES)
            for (int k = 0; k < LANES; k++) { const float d = x[i + k] - m; part[k] += d * d; }
        float s = 0;
        for (; i < c1; i++) { const float d = x[i] - m; s += d * d; }
        for (int k = 0; k < LANES; k++) s += part[k];
        total += s;
    }
    return total;
}

typedef struct {
    long C, S, G;
    float eps;
    const float *x, *w, *b, *gy;
    float *y, *mean, *rstd, *gx;
    float *part;   // backward: [N, 2, C] per-sample Σ gy·x̂ and Σ gy
} gn_job;

DL_MULTIVERSION static void gn_forward_sample(void *ctx, long n) {
    const gn_job *j = ctx;
    const long C = j->C, S = j->S, G = j->G, Cg = C / G, D = Cg * S;
    for (long g = 0; g < G; g++) {
        const long base = (n * C + g * Cg) * S;
        const float *restrict xg = j->x + base;
        const float m = (float)(sum_lanes(D, xg) / (double)D);
        const float r = 1.0f / sqrtf((float)(sum_sq_dev(D, xg, m) / (double)D) + j->eps);
        j->mean[n * G + g] = m;
        j->rstd[n * G + g] = r;
        for (long c = 0; c < Cg; c++) {
            const long ch = g * Cg + c;
            const float sc = r * (j->w ? j->w[ch] : 1.0f);
            const float sh = (j->b ? j->b[ch] : 0.0f) - m * sc;
            const float *restrict xs = xg + c * S;
            float *restrict ys = j->y + base + c * S;
            for (long i = 0; i < S; i++) ys[i] = xs[i] * sc + sh;
        }
    }
}

void dl_groupnorm_forward(long N, long C, long S, long G, float eps, const float *x, const float *w,
                          const float *b, float *y, float *mean, float *rstd) {
    gn_job j = {C, S, G, eps, x, w, b, NULL, y, mean, rstd, NULL, NULL};
    const int threads = N * C * S >= 32768 ? dl_threads() : 1;
    dl_parallel_for(threads, N, gn_forward_sample, &j);
}

DL_MULTIVERSION static void gn_backward_sample(void *ctx, long n) {
    const gn_job *j = ctx;
    const long C = j->C, S = j->S, G = j->G, Cg = C / G, D = Cg * S;
    float *pc = j->part + n * 2 * C, *pa = pc + C;
    for (long g = 0; g < G; g++) {
        const long base = (n * C + g * Cg) * S;
        const float m = j->mean[n * G + g], r = j->rstd[n * G + g];
        double s1 = 0, s2 = 0;  // Σ gy·w and Σ gy·w·x̂ over the group
        for (long c = 0; c < Cg; c++) {
            const long ch = g * Cg + c;
            const float *restrict xs = j->x + base + c * S;
            const float *restrict gs = j->gy + base + c * S;
            float la[LANES] = {0}, lc[LANES] = {0};  // Σ gy and Σ gy·x̂ for this channel
            long i = 0;
            for (; i + LANES <= S; i += LANES)
                for (int k = 0; k < LANES; k++) {
                    const float xh = (xs[i + k] - m) * r;
                    la[k] += gs[i + k];
                    lc[k] += gs[i + k] * xh;
                }
            float a = 0, cc = 0;
            for (; i < S; i++) {
                const float xh = (xs[i] - m) * r;
                a += gs[i];
                cc += gs[i] * xh;
            }
            for (int k = 0; k < LANES; k++) { a += la[k]; cc += lc[k]; }
            const float ws = j->w ? j->w[ch] : 1.0f;
            s1 += (double)a * ws;
            s2 += (double)cc * ws;
            pc[ch] = cc;
            pa[ch] = a;
        }
        if (!j->gx) continue;
        const float k1 = (float)(s1 / (double)D), k2 = (float)(s2 / (double)D);
        for (long c = 0; c < Cg; c++) {
            const long ch = g * Cg + c;
            const float ws = j->w ? j->w[ch] : 1.0f;
            const float *restrict xs = j->x + base + c * S;
            const float *restrict gs = j->gy + base + c * S;
            float *restrict out = j->gx + base + c * S;
            for (long i = 0; i < S; i++) {
                const float xh = (xs[i] - m) * r;
                out[i] = r * (gs[i] * ws - k1 - xh * k2);
            }
        }
    }
}

void dl_groupnorm_backward(long N, long C, long S, long G, const float *x, const float *w, const float *mean,
                           const float *rstd, const float *gy, float *gx, float *gw, float *gb) {
    float *part = dl_alloc(N * 2 * C);
    if (!part) abort();
    gn_job j = {C, S, G, 0, x, w, NULL, gy, NULL, (float *)mean, (float *)rstd, gx, part};
    const int threads = N * C * S >= 32768 ? dl_threads() : 1;
    dl_parallel_for(threads, N, gn_backward_sample, &j);
    if (gw) memset(gw, 0, sizeof(float) * (size_t)C);
    if (gb) memset(gb, 0, sizeof(float) * (size_t)C);
    for (long n = 0; n < N; n++)
        for (long ch = 0; ch < C; ch++) {
            if (gw) gw[ch] += part[n * 2 * C + ch];
            if (gb) gb[ch] += part[n * 2 * C + C + ch];
        }
    dl_free(part);
}
