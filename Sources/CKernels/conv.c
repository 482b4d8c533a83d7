// Convolution (im2col / col2im), pooling and upsampling kernels over NCHW Float32 buffers.
// Inner loops run over restrict pointers with the padding handled by precomputed valid ranges, so the
// hot loops carry no bounds tests and vectorise.
#include "dl_conv.h"
#include "dl_pool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline long floordiv(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static inline long ceildiv(long a, long b) { return -floordiv(-a, b); }
static inline long lmax(long a, long b) { return a > b ? a : b; }
static inline long lmin(long a, long b) { return a < b ? a : b; }

// Output positions o in [*lo, *hi) read the input at o·s + off with 0 ≤ o·s + off < n.
static inline void valid_range(long n, long s, long off, long out, long *lo, long *hi) {
    long a = lmax(0, ceildiv(-off, s));
    long b = lmin(out, floordiv(n - 1 - off, s) + 1);
    if (a > out) a = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/// im2col of channels [0, C) of x into cols (row stride ld), images [n0, n1) of the chunk.
DL_MULTIVERSION static void im2col_part(const float *restrict x, long n0, long n1, long ld, long ss, long C, long H, long W,
                                        long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
                                        long Ho, long Wo, float *restrict cols) {
    const long L = Ho * Wo, HW = H * W;
    for (long c = 0; c < C; c++) {
        for (long i = 0; i < kh; i++) {
            const long offh = i * dh - ph;
            long oh_lo, oh_hi;
            valid_range(H, sh, offh, Ho, &oh_lo, &oh_hi);
            for (long j = 0; j < kw; j++) {
                const long offw = j * dw - pw;
                long ow_lo, ow_hi;
                valid_range(W, sw, offw, Wo, &ow_lo, &ow_hi);
                float *restrict row = cols + ((c * kh + i) * kw + j) * ld;
                for (long n = n0; n < n1; n++) {
                    const float *restrict plane = x + n * ss + c * HW;
                    float *restrict d = row + n * L;
                    memset(d, 0, sizeof(float) * (size_t)(oh_lo * Wo));
                    for (long oh = oh_lo; oh < oh_hi; oh++) {
                        const float *restrict s = plane + (oh * sh + offh) * W;
                        float *restrict o = d + oh * Wo;
                        for (long ow = 0; ow < ow_lo; ow++) o[ow] = 0.0f;
                        if (sw == 1) {
                            for (long ow = ow_lo; ow < ow_hi; ow++) o[ow] = s[ow + offw];
                        } else {
                            for (long ow = ow_lo; ow < ow_hi; ow++) o[ow] = s[ow * sw + offw];
                        }
                        for (long ow = ow_hi; ow < Wo; ow++) o[ow] = 0.0f;
                    }
                    memset(d + oh_hi * Wo, 0, sizeof(float) * (size_t)((Ho - oh_hi) * Wo));
                }
            }
        }
    }
}

/// col2im of images [n0, n1) (every channel), accumulating into x.
DL_MULTIVERSION static void col2im_part(const float *restrict cols, long n0, long n1, long ld, long ss, long C, long H, long W,
                                        long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
                                        long Ho, long Wo, float *restrict x) {
    const long L = Ho * Wo, HW = H * W;
    for (long n = n0; n < n1; n++)
        for (long c = 0; c < C; c++) {
            float *restrict plane = x + n * ss + c * HW;
            for (long i = 0; i < kh; i++) {
                const long offh = i * dh - ph;
                long oh_lo, oh_hi;
                valid_range(H, sh, offh, Ho, &oh_lo, &oh_hi);
                for (long j = 0; j < kw; j++) {
                    const long offw = j * dw - pw;
                    long ow_lo, ow_hi;
                    valid_range(W, sw, offw, Wo, &ow_lo, &ow_hi);
                    const float *restrict d = cols + ((c * kh + i) * kw + j) * ld + n * L;
                    for (long oh = oh_lo; oh < oh_hi; oh++) {
                        float *restrict t = plane + (oh * sh + offh) * W;
                        const float *restrict o = d + oh * Wo;
                        if (sw == 1) {
                            for (long ow = ow_lo; ow < ow_hi; ow++) t[ow + offw] += o[ow];
                        } else {
                            for (long ow = ow_lo; ow < ow_hi; ow++) t[ow * sw + offw] += o[ow];
                        }
                    }
                }
            }
        }
}

/// Work below this many floats stays on the calling thread.
enum { PAR_MIN = 1 << 15 };

typedef struct {
    const float *src;
    float *dst;
    long nb, ss, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
    long per;   // channels (im2col) or images (col2im, transposes, bias) per task
    long N, L;  // transposes and per-channel kernels
    const float *bias;
} conv_job;

static void im2col_task(void *ctx, long t) {
    const conv_job *j = ctx;
    const long c0 = t * j->per, c1 = c0 + j->per < j->C ? c0 + j->per : j->C, L = j->Ho * j->Wo, ld = j->nb * L;
    im2col_part(j->src + c0 * j->H * j->W, 0, j->nb, ld, j->ss, c1 - c0, j->H, j->W, j->kh, j->kw, j->sh, j->sw, j->ph,
                j->pw, j->dh, j->dw, j->Ho, j->Wo, j->dst + c0 * j->kh * j->kw * ld);
}

static void col2im_task(void *ctx, long n) {
    const conv_job *j = ctx;
    col2im_part(j->src, n, n + 1, j->nb * j->Ho * j->Wo, j->ss, j->C, j->H, j->W, j->kh, j->kw, j->sh, j->sw, j->ph, j->pw,
                j->dh, j->dw, j->Ho, j->Wo, j->dst);
}

void dl_im2col(const float *x, long nb, long ss, long C, long H, long W, long kh, long kw, long sh, long sw, long ph,
               long pw, long dh, long dw, long Ho, long Wo, float *cols) {
    const int t = C * kh * kw * nb * Ho * Wo >= PAR_MIN ? dl_threads() : 1;
    conv_job j = {x, cols, nb, ss, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, 0, 0, 0, NULL};
    j.per = t > 1 ? (C + 4 * t - 1) / (4 * t) : (C > 0 ? C : 1);
    dl_parallel_for(t, (C + j.per - 1) / j.per, im2col_task, &j);
}

void dl_col2im(const float *cols, long nb, long ss, long C, long H, long W, long kh, long kw, long sh, long sw, long ph,
               long pw, long dh, long dw, long Ho, long Wo, float *x) {
    // Images are independent, and each image sums its taps in the same order on any thread.
    const int t = C * kh * kw * nb * Ho * Wo >= PAR_MIN ? dl_threads() : 1;
    conv_job j = {cols, x, nb, ss, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, 1, 0, 0, NULL};
    dl_parallel_for(t, nb, col2im_task, &j);
}

static void ncl_to_cnl_task(void *ctx, long n) {
    const conv_job *j = ctx;
    for (long c = 0; c < j->C; c++)
        memcpy(j->dst + (c * j->N + n) * j->L, j->src + (n * j->C + c) * j->L, sizeof(float) * (size_t)j->L);
}

static void cnl_to_ncl_task(void *ctx, long n) {
    const conv_job *j = ctx;
    for (long c = 0; c < j->C; c++)
        memcpy(j->dst + (n * j->C + c) * j->L, j->src + (c * j->N + n) * j->L, sizeof(float) * (size_t)j->L);
}

void dl_ncl_to_cnl(long N, long C, long L, const float *src, float *dst) {
    conv_job j = {src, dst, 0, 0, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, N, L, NULL};
    dl_parallel_for(N * C * L >= PAR_MIN ? dl_threads() : 1, N, ncl_to_cnl_task, &j);
}

void dl_cnl_to_ncl(long N, long C, long L, const float *src, float *dst) {
    conv_job j = {src, dst, 0, 0, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, N, L, NULL};
    dl_parallel_for(N * C * L >= PAR_MIN ? dl_threads() : 1, N, cnl_to_ncl_task, &j);
}

DL_MULTIVERSION static void add_bias_task(void *ctx, long n) {
    const conv_job *j = ctx;
    for (long c = 0; c < j->C; c++) {
        float *restrict p = j->dst + (n * j->C + c) * j->L;
        const float b = j->bias[c];
        for (long l = 0; l < j->L; l++) p[l] += b;
    }
}

void dl_add_channel_bias(long N, long C, long L, const float *bias, float *x) {
    conv_job j = {NULL, x, 0, 0, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, N, L, bias};
    dl_parallel_for(N * C * L >= PAR_MIN ? dl_threads() : 1, N, add_bias_task, &j);
}

DL_MULTIVERSION static void channel_sum_task(void *ctx, long c) {
    const conv_job *j = ctx;
    const long N = j->N, C = j->C, L = j->L;
    double acc = 0;
    for (long n = 0; n < N; n++) {
        const float *restrict p = j->src + (n * C + c) * L;
        float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};   // eight lanes, so the sum vectorises without -ffast-math
        long l = 0;
        for (; l + 8 <= L; l += 8)
            for (int k = 0; k < 8; k++) part[k] += p[l + k];
        float s = 0.0f;
        for (; l < L; l++) s += p[l];
        for (int k = 0; k < 8; k++) s += part[k];
        acc += s;
    }
    j->dst[c] = (float)acc;
}

void dl_channel_sum(long N, long C, long L, const float *x, float *out) {
    conv_job j = {x, out, 0, 0, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, N, L, NULL};
    dl_parallel_for(N * C * L >= PAR_MIN ? dl_threads() : 1, C, channel_sum_task, &j);
}

// ---- Pooling ----

void dl_avgpool2d(long NC, long H, long W, long kh, long kw, long sh, long sw, long ph, long pw,
                  long Ho, long Wo, const float *restrict x, float *restrict y) {
    const float inv = 1.0f / (float)(kh * kw);
    for (long p = 0; p < NC; p++) {
        const float *restrict plane = x + p * H * W;
        float *restrict out = y + p * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
            const long h0 = lmax(oh * sh - ph, 0), h1 = lmin(oh * sh - ph + kh, H);
            for (long ow = 0; ow < Wo; ow++) {
                const long w0 = lmax(ow * sw - pw, 0), w1 = lmin(ow * sw - pw + kw, W);
                float s = 0.0f;
                for (long h = h0; h < h1; h++)
                    for (long w = w0; w < w1; w++) s += plane[h * W + w];
                out[oh * Wo + ow] = s * inv;
            }
        }
    }
}

void dl_avgpool2d_backward(long NC, long H, long W, long kh, long kw, long sh, long sw, long ph, long pw,
                           long Ho, long Wo, const float *restrict gy, float *restrict gx) {
    const float inv = 1.0f / (float)(kh * kw);
    memset(gx, 0, sizeof(float) * (size_t)(NC * H * W));
    for (long p = 0; p < NC; p++) {
        float *restrict plane = gx + p * H * W;
        const float *restrict g = gy + p * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
            const long h0 = lmax(oh * sh - ph, 0), h1 = lmin(oh * sh - ph + kh, H);
            for (long ow = 0; ow < Wo; ow++) {
                const long w0 = lmax(ow * sw - pw, 0), w1 = lmin(ow * sw - pw + kw, W);
                const float v = g[oh * Wo + ow] * inv;
                for (long h = h0; h < h1; h++)
                    for (long w = w0; w < w1; w++) plane[h * W + w] += v;
            }
        }
    }
}

// ---- Upsampling ----

void dl_upsample_nearest2d(long NC, long H, long W, long sh, long sw, const float *restrict x, float *restrict y) {
    const long Wo = W * sw;
    for (long p = 0; p < NC; p++) {
        for (long h = 0; h < H; h++) {
            const float *restrict s = x + (p * H + h) * W;
            float *restrict first = y + (p * H + h) * sh * Wo;
            for (long w = 0; w < W; w++)
                for (long k = 0; k < sw; k++) first[w * sw + k] = s[w];
            for (long r = 1; r < sh; r++) memcpy(first + r * Wo, first, sizeof(float) * (size_t)Wo);
        }
    }
}

void dl_upsample_nearest2d_backward(long NC, long H, long W, long sh, long sw, const float *restrict gy, float *restrict gx) {
    const long Wo = W * sw;
    for (long p = 0; p < NC; p++) {
        for (long h = 0; h < H; h++) {
            float *restrict t = gx + (p * H + h) * W;
            for (long w = 0; w < W; w++) t[w] = 0.0f;
            for (long r = 0; r < sh; r++) {
                const float *restrict g = gy + ((p * H + h) * sh + r) * Wo;
                for (long w = 0; w < W; w++) {
                    float s = 0.0f;
                    for (long k = 0; k < sw; k++) s += g[w * sw + k];
                    t[w] += s;
                }
            }
        }
    }
}

// PyTorch's area_pixel_compute_source_index + guard_index_and_lambda for linear interpolation.
static void linear_taps(long in, long out, int align, float r, long *i0, long *i1, float *l0, float *l1) {
    for (long d = 0; d < out; d++) {
        float src = align ? r * (float)d : r * ((float)d + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        long a = lmin((long)floorf(src), in - 1);
        float lam = src - (float)a;
        lam = lam < 0.0f ? 0.0f : (lam > 1.0f ? 1.0f : lam);
        i0[d] = a;
        i1[d] = a + (a < in - 1 ? 1 : 0);
        l1[d] = lam;
        l0[d] = 1.0f - lam;
    }
}

typedef struct { long *h0, *h1, *w0, *w1; float *lh0, *lh1, *lw0, *lw1; void *mem; } taps2d;

static taps2d make_taps(long H, long W, long Ho, long Wo, int align, float rh, float rw) {
    taps2d t;
    size_t n = (size_t)(Ho + Wo);
    t.mem = malloc((sizeof(long) * 2 + sizeof(float) * 2) * (n > 0 ? n : 1));
    char *m = (char *)t.mem;
    t.h0 = (long *)m; t.h1 = t.h0 + Ho; t.w0 = t.h1 + Ho; t.w1 = t.w0 + Wo;
    t.lh0 = (float *)(t.w1 + Wo); t.lh1 = t.lh0 + Ho; t.lw0 = t.lh1 + Ho; t.lw1 = t.lw0 + Wo;
    linear_taps(H, Ho, align, rh, t.h0, t.h1, t.lh0, t.lh1);
    linear_taps(W, Wo, align, rw, t.w0, t.w1, t.lw0, t.lw1);
    return t;
}

void dl_upsample_bilinear2d(long NC, long H, long W, long Ho, long Wo, int align_corners, float rh, float rw,
                            const float *restrict x, float *restrict y) {
    taps2d t = make_taps(H, W, Ho, Wo, align_corners, rh, rw);
    for (long p = 0; p < NC; p++) {
        const float *restrict plane = x + p * H * W;
        float *restrict out = y + p * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
            const float *restrict r0 = plane + t.h0[oh] * W, *restrict r1 = plane + t.h1[oh] * W;
            const float a0 = t.lh0[oh], a1 = t.lh1[oh];
            for (long ow = 0; ow < Wo; ow++) {
                const long w0 = t.w0[ow], w1 = t.w1[ow];
                const float b0 = t.lw0[ow], b1 = t.lw1[ow];
                out[oh * Wo + ow] = a0 * (b0 * r0[w0] + b1 * r0[w1]) + a1 * (b0 * r1[w0] + b1 * r1[w1]);
            }
        }
    }
    free(t.mem);
}

void dl_upsample_bilinear2d_backward(long NC, long H, long W, long Ho, long Wo, int align_corners, float rh,
                                     float rw, const float *restrict gy, float *gx) {
    taps2d t = make_taps(H, W, Ho, Wo, align_corners, rh, rw);
    memset(gx, 0, sizeof(float) * (size_t)(NC * H * W));
    for (long p = 0; p < NC; p++) {
        float *plane = gx + p * H * W;
        const float *restrict g = gy + p * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++) {
            // r0 and r1 (and w0, w1) coincide at the border, so these writes may alias: no restrict here.
            float *r0 = plane + t.h0[oh] * W, *r1 = plane + t.h1[oh] * W;
            const float a0 = t.lh0[oh], a1 = t.lh1[oh];
            for (long ow = 0; ow < Wo; ow++) {
                const long w0 = t.w0[ow], w1 = t.w1[ow];
                const float b0 = t.lw0[ow], b1 = t.lw1[ow], v = g[oh * Wo + ow];
                r0[w0] += a0 * b0 * v;
                r0[w1] += a0 * b1 * v;
                r1[w0] += a1 * b0 * v;
                r1[w1] += a1 * b1 * v;
            }
        }
    }
    free(t.mem);
}
