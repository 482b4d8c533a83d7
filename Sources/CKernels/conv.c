// Convolution (im2col / col2im), pooling and upsampling kernels over NCHW Float32 buffers.
// Inner loops run over restrict pointers with the padding handled by precomputed valid ranges, so the
// hot loops carry no bounds tests and vectorise.
#include "dl_conv.h"
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

DL_MULTIVERSION void dl_im2col(const float *restrict x, long nb, long ss, long C, long H, long W,
                               long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
                               long Ho, long Wo, float *restrict cols) {
    const long L = Ho * Wo, ld = nb * L, HW = H * W;
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
                for (long n = 0; n < nb; n++) {
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

DL_MULTIVERSION void dl_col2im(const float *restrict cols, long nb, long ss, long C, long H, long W,
                               long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
                               long Ho, long Wo, float *restrict x) {
    const long L = Ho * Wo, ld = nb * L, HW = H * W;
    for (long c = 0; c < C; c++) {
        for (long i = 0; i < kh; i++) {
            const long offh = i * dh - ph;
            long oh_lo, oh_hi;
            valid_range(H, sh, offh, Ho, &oh_lo, &oh_hi);
            for (long j = 0; j < kw; j++) {
                const long offw = j * dw - pw;
                long ow_lo, ow_hi;
                valid_range(W, sw, offw, Wo, &ow_lo, &ow_hi);
                const float *restrict row = cols + ((c * kh + i) * kw + j) * ld;
                for (long n = 0; n < nb; n++) {
                    float *restrict plane = x + n * ss + c * HW;
                    const float *restrict d = row + n * L;
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
}

void dl_ncl_to_cnl(long N, long C, long L, const float *restrict src, float *restrict dst) {
    for (long n = 0; n < N; n++)
        for (long c = 0; c < C; c++)
            memcpy(dst + (c * N + n) * L, src + (n * C + c) * L, sizeof(float) * (size_t)L);
}

void dl_cnl_to_ncl(long N, long C, long L, const float *restrict src, float *restrict dst) {
    for (long n = 0; n < N; n++)
        for (long c = 0; c < C; c++)
            memcpy(dst + (n * C + c) * L, src + (c * N + n) * L, sizeof(float) * (size_t)L);
}

DL_MULTIVERSION void dl_add_channel_bias(long N, long C, long L, const float *restrict bias, float *restrict x) {
    for (long n = 0; n < N; n++)
        for (long c = 0; c < C; c++) {
            float *restrict p = x + (n * C + c) * L;
            const float b = bias[c];
            for (long l = 0; l < L; l++) p[l] += b;
        }
}

DL_MULTIVERSION void dl_channel_sum(long N, long C, long L, const float *restrict x, float *restrict out) {
    for (long c = 0; c < C; c++) {
        double acc = 0;
        for (long n = 0; n < N; n++) {
            const float *restrict p = x + (n * C + c) * L;
            float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};   // eight lanes, so the sum vectorises without -ffast-math
            long l = 0;
            for (; l + 8 <= L; l += 8)
                for (int k = 0; k < 8; k++) part[k] += p[l + k];
            float s = 0.0f;
            for (; l < L; l++) s += p[l];
            for (int k = 0; k < 8; k++) s += part[k];
            acc += s;
        }
        out[c] = (float)acc;
    }
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
