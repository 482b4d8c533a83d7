#ifndef DL_CONV_H
#define DL_CONV_H
#include "dl_kernels.h"

// Convolution, pooling and upsampling kernels over NCHW Float32 buffers. Sizes are in elements.
//
// Column buffers ("cols") hold the im2col unfolding of `nb` samples side by side: row
// (c·kh + i)·kw + j, column n·Ho·Wo + oh·Wo + ow holds x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
// (zero outside the image). The buffer is row-major [C·kh·kw, nb·Ho·Wo].

/// Unfolds `nb` samples of a C-channel image into cols. Sample n starts at x + n·sample_stride, channel c at
/// + c·H·W (so x may point at a channel group inside a larger batch).
void dl_im2col(const float *x, long nb, long sample_stride, long C, long H, long W,
               long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
               long Ho, long Wo, float *cols);
/// The adjoint of dl_im2col: adds every column entry into the image element it was read from
/// (entries that fall into the padding are dropped). x is accumulated into, not cleared.
void dl_col2im(const float *cols, long nb, long sample_stride, long C, long H, long W,
               long kh, long kw, long sh, long sw, long ph, long pw, long dh, long dw,
               long Ho, long Wo, float *x);

/// Direct convolution for stride 1, one group and an output the size of the input ("same": 2·ph = dh·(kh − 1),
/// 2·pw = dw·(kw − 1)), on NCHW buffers without a column buffer, on up to `threads` threads of the pool (results
/// bit-identical for any thread count). Needs AVX-512: dl_conv_same_available() says whether these may be called.
int dl_conv_same_available(void);
/// y[n, o] = bias[o] + Σ_{c, i, j} w[o, c, i, j] · x[n, c, h + i·dh − ph, w + j·dw − pw] (zero outside);
/// x [N, C, H, W], w [O, C, kh, kw], y [N, O, H, W]; bias [O] may be NULL.
void dl_conv_same_forward(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh, long dw,
                          const float *x, const float *w, const float *bias, float *y);
/// The adjoint of dl_conv_same_forward (the input gradient): gx [N, C, H, W] from gy [N, O, H, W] (overwritten).
void dl_conv_same_backward_input(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                 long dw, const float *gy, const float *w, float *gx);
/// The weight gradient gw[o, c, i, j] = Σ_{n, h, w} gy[n, o, h, w] · x[n, c, h + i·dh − ph, w + j·dw − pw]
/// (overwritten; zero for N = 0).
void dl_conv_same_backward_weight(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                  long dw, const float *x, const float *gy, float *gw);

/// dst[c, n, l] = src[n, c, l] for a contiguous [N, C, L] source (channel-major gather).
void dl_ncl_to_cnl(long N, long C, long L, const float *src, float *dst);
/// dst[n, c, l] = src[c, n, l] (the inverse scatter).
void dl_cnl_to_ncl(long N, long C, long L, const float *src, float *dst);
/// x[n, c, l] += bias[c] in place.
void dl_add_channel_bias(long N, long C, long L, const float *bias, float *x);
/// out[c] = Σ_{n, l} x[n, c, l] (double accumulation).
void dl_channel_sum(long N, long C, long L, const float *x, float *out);

/// Average pooling with zero padding counted in the divisor (kh·kw): PyTorch's count_include_pad=True.
/// x is [NC, H, W], y is [NC, Ho, Wo].
void dl_avgpool2d(long NC, long H, long W, long kh, long kw, long sh, long sw, long ph, long pw,
                  long Ho, long Wo, const float *x, float *y);
/// Gradient of dl_avgpool2d: writes (clears, then accumulates) gx [NC, H, W] from gy [NC, Ho, Wo].
void dl_avgpool2d_backward(long NC, long H, long W, long kh, long kw, long sh, long sw, long ph, long pw,
                           long Ho, long Wo, const float *gy, float *gx);

/// Nearest-neighbour upsampling by integer factors: y[nc, i, j] = x[nc, i / sh, j / sw], y is [NC, H·sh, W·sw].
void dl_upsample_nearest2d(long NC, long H, long W, long sh, long sw, const float *x, float *y);
/// Gradient: gx[nc, i, j] = sum of the sh×sw block of gy it was copied to.
void dl_upsample_nearest2d_backward(long NC, long H, long W, long sh, long sw, const float *gy, float *gx);

/// Bilinear resampling [NC, H, W] → [NC, Ho, Wo] with PyTorch's conventions. `rh`, `rw` are the
/// source-per-destination ratios: (H−1)/(Ho−1) (0 when Ho = 1) with align_corners, else H/Ho or 1/scale.
/// Without align_corners the source coordinate is rh·(i + ½) − ½, clamped at 0.
void dl_upsample_bilinear2d(long NC, long H, long W, long Ho, long Wo, int align_corners, float rh, float rw,
                            const float *x, float *y);
/// Gradient of dl_upsample_bilinear2d: writes (clears, then accumulates) gx [NC, H, W].
void dl_upsample_bilinear2d_backward(long NC, long H, long W, long Ho, long Wo, int align_corners, float rh,
                                     float rw, const float *gy, float *gx);

#endif
