// Direct convolution kernels for stride 1, one group and an output the size of the input ("same" padding),
// NCHW in and out, without column buffers (see dl_conv.h).
//
// Forward and input gradient ("positions" kernel): for an image of H×W positions flattened to p = h·W + w, tap
// (i, j) reads x at p + (i·dh − ph)·W + (j·dw − pw), so a vector of 16 consecutive output positions reads 16
// consecutive inputs; a per-(vector, tap) mask zeroes the lanes whose source falls in the padding (or beyond the
// image). The micro-kernel is the GEMM's: 8 output channels × 3 vectors of positions in 24 zmm accumulators; per step
// (tap, input channel) it loads 3 masked vectors and broadcasts 8 packed weights. The input gradient is the same
// convolution of the output gradient with the flipped, transposed kernel (for "same" padding the tap offsets of the
// flipped kernel are the original ones).
//
// Weight gradient ("channels" kernel): gw[o, c, tap] = Σ over images and valid positions of gy[o, p] · x[c, p + off].
// One operand (the one with more channels) is copied to NHWC so that 16 consecutive channels are one vector; the
// other is broadcast from its NCHW planes. Per tap, an 8-row × 3-vector block of gw accumulates over the valid
// positions of a block of images, then is added to the result; image blocks depend on the shape only.
//
// Determinism: every output element is a fixed sequence of FMAs (taps, then channels; or images in fixed blocks,
// then positions) whatever the tile, task or thread that computes it, so 1 and 2 threads agree bit for bit.
#include "dl_conv.h"
#include "dl_gemm.h"
#include "dl_kernels.h"
#include "dl_pool.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#include "avx512_common.h"

enum { MR = 8, NV = 3 };

static long min_l(long a, long b) { return a < b ? a : b; }
static long max_l(long a, long b) { return a > b ? a : b; }

int dl_conv_same_available(void) { return dl_gemm_native_available(); }

/// Tap offsets and per-(vector, tap) masks of one image geometry.
typedef struct {
    long H, W, HW, taps, nvec;  // nvec = ⌈HW / 16⌉ vectors per image
    long *offh, *offw, *off;    // [taps]: source row and column offsets, and their flat sum
    __mmask16 *mask;            // [nvec · taps]: lanes of vector q whose source for tap t is inside the image
    __mmask16 tail;             // store mask of an image's last vector
} geom;

static void free_geom(geom *g) {
    free(g->offh);
    free(g->mask);
}

static int make_geom(geom *g, long H, long W, long kh, long kw, long dh, long dw) {
    g->H = H; g->W = W; g->HW = H * W; g->taps = kh * kw; g->nvec = (g->HW + 15) / 16;
    const long ph = dh * (kh - 1) / 2, pw = dw * (kw - 1) / 2;
    g->offh = malloc(sizeof(long) * 3 * (size_t)g->taps);
    g->mask = malloc(sizeof(__mmask16) * (size_t)(g->nvec * g->taps));
    if (!g->offh || !g->mask) { free_geom(g); return 0; }
    g->offw = g->offh + g->taps;
    g->off = g->offw + g->taps;
    for (long t = 0; t < g->taps; t++) {
        g->offh[t] = (t / kw) * dh - ph;
        g->offw[t] = (t % kw) * dw - pw;
        g->off[t] = g->offh[t] * W + g->offw[t];
    }
    for (long q = 0; q < g->nvec; q++)
        for (long t = 0; t < g->taps; t++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                const long p = 16 * q + l;
                if (p >= g->HW) break;
                const long sh = p / W + g->offh[t], sw = p % W + g->offw[t];
                if (sh >= 0 && sh < H && sw >= 0 && sw < W) m |= 1u << l;
            }
            g->mask[q * g->taps + t] = (__mmask16)m;
        }
    const long rem = g->HW - 16 * (g->nvec - 1);
    g->tail = rem == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1);
    return 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Positions kernel: y[n, o, p] = bias[o] + Σ_t Σ_c a[o][t][c] · x[n, c, p + off[t]].

TARGET INLINE void pos_kernel(const int mr, const int nv, long taps, long cin, long HW, const float *restrict ap,
                              const float *const xb[NV], const __mmask16 *const mk[NV], const long *off,
                              float *const yb[NV], const __mmask16 sm[NV], const float *bias) {
    __m512 acc[MR][NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long t = 0; t < taps; t++) {
        __mmask16 m[NV];
        const float *p[NV];
        unsigned any = 0;
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            m[v] = mk[v][t];
            p[v] = xb[v] + off[t];
            any |= m[v];
        }
        if (!any) { ap += cin * MR; continue; }
#pragma clang loop unroll_count(4)
        for (long c = 0; c < cin; c++) {
            __m512 b[NV];
#pragma clang loop unroll(full)
            for (int v = 0; v < nv; v++) b[v] = _mm512_maskz_loadu_ps(m[v], p[v] + c * HW);
#pragma clang loop unroll(full)
            for (int r = 0; r < mr; r++) {
                const __m512 a = _mm512_set1_ps(ap[r]);
#pragma clang loop unroll(full)
                for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
            }
            ap += MR;
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        const __m512 bv = _mm512_set1_ps(bias ? bias[r] : 0.0f);
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            const __m512 out = bias ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
            _mm512_mask_storeu_ps(yb[v] + r * HW, sm[v], out);
        }
    }
}

typedef void (*pos_fn)(long, long, long, const float *, const float *const *, const __mmask16 *const *, const long *,
                       float *const *, const __mmask16 *, const float *);
#define PK(R, V)                                                                                                   \
    TARGET static void pk_##R##_##V(long taps, long cin, long HW, const float *ap, const float *const *xb,          \
                                    const __mmask16 *const *mk, const long *off, float *const *yb,                \
                                    const __mmask16 *sm, const float *bias) {                                      \
        pos_kernel(R, V, taps, cin, HW, ap, xb, mk, off, yb, sm, bias);                                            \
    }
#define PK_ROW(R) PK(R, 1) PK(R, 2) PK(R, 3)
PK_ROW(1) PK_ROW(2) PK_ROW(3) PK_ROW(4) PK_ROW(5) PK_ROW(6) PK_ROW(7) PK_ROW(8)
#define PK_ENTRY(R) {NULL, pk_##R##_1, pk_##R##_2, pk_##R##_3}
static const pos_fn pos_kernels[MR + 1][NV + 1] = {
    {NULL, NULL, NULL, NULL}, PK_ENTRY(1), PK_ENTRY(2), PK_ENTRY(3), PK_ENTRY(4),
    PK_ENTRY(5), PK_ENTRY(6), PK_ENTRY(7), PK_ENTRY(8),
};

typedef struct {
    const geom *g;
    long cin, cout, total, per_task;  // vectors in the batch, vectors per task
    const float *x, *ap, *bias;
    float *y;
} pos_job;

/// Task: the vectors [i·per_task, (i + 1)·per_task) of the batch, for every panel of 8 output channels.
static void pos_task(void *ctx, long i) {
    const pos_job *j = ctx;
    const geom *g = j->g;
    const long v0 = i * j->per_task, v1 = min_l(v0 + j->per_task, j->total);
    for (long o0 = 0; o0 < j->cout; o0 += MR) {
        const int mr = (int)min_l(MR, j->cout - o0);
        const float *ap = j->ap + o0 * g->taps * j->cin;
        for (long v = v0; v < v1; v += NV) {
            const int nv = (int)min_l(NV, v1 - v);
            const float *xb[NV];
            const __mmask16 *mk[NV];
            float *yb[NV];
            __mmask16 sm[NV];
            for (int k = 0; k < nv; k++) {
                const long n = (v + k) / g->nvec, q = (v + k) % g->nvec;
                xb[k] = j->x + n * j->cin * g->HW + 16 * q;
                mk[k] = g->mask + q * g->taps;
                yb[k] = j->y + (n * j->cout + o0) * g->HW + 16 * q;
                sm[k] = q == g->nvec - 1 ? g->tail : (__mmask16)0xFFFF;
            }
            pos_kernels[mr][nv](g->taps, j->cin, g->HW, ap, xb, mk, g->off, yb, sm, j->bias ? j->bias + o0 : NULL);
        }
    }
}

/// Runs the positions kernel over the batch with weights already packed as ap[panel][t][c][8].
static void run_positions(int threads, const geom *g, long N, long cin, long cout, const float *x, const float *ap,
                          const float *bias, float *y) {
    pos_job j = {g, cin, cout, N * g->nvec, 0, x, ap, bias, y};
    // Tasks of about 64 KB of input each (kept in L2 while every panel of output channels passes over them), at
    // least two per thread when there is enough work, in multiples of the 3-vector tile.
    long per = max_l(NV, (16384 / max_l(1, cin * 16)) / NV * NV);
    if (threads > 1) per = min_l(per, max_l(NV, (j.total / (2 * threads) + NV - 1) / NV * NV));
    j.per_task = per;
    dl_parallel_for(threads, (j.total + per - 1) / per, pos_task, &j);
}

void dl_conv_same_forward(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh, long dw,
                          const float *x, const float *w, const float *bias, float *y) {
    if (N <= 0 || O <= 0 || H * W <= 0) return;
    geom g;
    const long taps = kh * kw, panels = (O + MR - 1) / MR;
    float *ap = dl_alloc(panels * MR * taps * C);
    if (!ap || !make_geom(&g, H, W, kh, kw, dh, dw)) { dl_free(ap); abort(); }
    // ap[panel p][t][c][r] = w[8p + r, c, t]
    for (long p = 0; p < panels; p++)
        for (long t = 0; t < taps; t++)
            for (long c = 0; c < C; c++)
                for (long r = 0; r < MR; r++) {
                    const long o = p * MR + r;
                    ap[((p * taps + t) * C + c) * MR + r] = o < O ? w[(o * C + c) * taps + t] : 0.0f;
                }
    run_positions(threads, &g, N, C, O, x, ap, bias, y);
    free_geom(&g);
    dl_free(ap);
}

void dl_conv_same_backward_input(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                 long dw, const float *gy, const float *w, float *gx) {
    if (N <= 0 || C <= 0 || H * W <= 0) return;
    geom g;
    const long taps = kh * kw, panels = (C + MR - 1) / MR;
    float *ap = dl_alloc(panels * MR * taps * O);
    if (!ap || !make_geom(&g, H, W, kh, kw, dh, dw)) { dl_free(ap); abort(); }
    // The flipped, transposed kernel: ap[panel p][t][o][r] = w[o, 8p + r, taps − 1 − t].
    for (long p = 0; p < panels; p++)
        for (long t = 0; t < taps; t++)
            for (long o = 0; o < O; o++)
                for (long r = 0; r < MR; r++) {
                    const long c = p * MR + r;
                    ap[((p * taps + t) * O + o) * MR + r] = c < C ? w[(o * C + c) * taps + (taps - 1 - t)] : 0.0f;
                }
    run_positions(threads, &g, N, O, C, gy, ap, NULL, gx);
    free_geom(&g);
    dl_free(ap);
}

// ---------------------------------------------------------------------------------------------------------------
// Channels kernel: out[t][r][v] (+)= Σ_{n in block} Σ_{valid p} R[n, r, p + dR] · V[n, p + dV, v].

typedef struct {
    const geom *g;
    long rc, vc;           // channels of the broadcast (NCHW) and vector (NHWC) operands
    const float *R, *V;
    int shift_r;           // 1: R is read at the shifted position (dR = off[t], dV = 0); 0: V is (dR = 0, dV = off[t])
    float *out;            // [taps][rc][vc]
    long N, nb;            // images, images per block
    long rpanels, vblocks, tiles, per_group;
} wgt_job;

TARGET INLINE void wgt_kernel(const int mr, const int nv, const wgt_job *j, long t, long r0, long v0, long n0, long n1,
                              __mmask16 vlast, int accum) {
    const geom *g = j->g;
    const long W = g->W, HW = g->HW, vc = j->vc;
    const long offh = g->offh[t], offw = g->offw[t];
    const long hl = max_l(0, -offh), hh = min_l(g->H, g->H - offh), wl = max_l(0, -offw), wh = min_l(W, W - offw);
    const long dR = j->shift_r ? g->off[t] : 0, dV = j->shift_r ? 0 : g->off[t];
    __m512 acc[MR][NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long n = n0; n < n1; n++) {
        const float *Rn = j->R + (n * j->rc + r0) * HW + dR;
        const float *Vn = j->V + (n * HW + dV) * vc + v0;
        for (long h = hl; h < hh; h++) {
            const float *rp[MR];
#pragma clang loop unroll(full)
            for (int r = 0; r < mr; r++) rp[r] = Rn + r * HW + h * W;
            const float *vp = Vn + h * W * vc;
            for (long w = wl; w < wh; w++) {
                __m512 b[NV];
#pragma clang loop unroll(full)
                for (int v = 0; v < nv; v++)
                    b[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(vlast, vp + w * vc + 16 * v) : _mm512_loadu_ps(vp + w * vc + 16 * v);
#pragma clang loop unroll(full)
                for (int r = 0; r < mr; r++) {
                    const __m512 a = _mm512_set1_ps(rp[r][w]);
#pragma clang loop unroll(full)
                    for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
                }
            }
        }
    }
    float *o = j->out + (t * j->rc + r0) * vc + v0;
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? vlast : (__mmask16)0xFFFF;
            float *d = o + r * vc + 16 * v;
            const __m512 val = accum ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), acc[r][v]) : acc[r][v];
            _mm512_mask_storeu_ps(d, m, val);
        }
}

typedef void (*wgt_fn)(const wgt_job *, long, long, long, long, long, __mmask16, int);
#define WK(R, V)                                                                                                   \
    TARGET static void wk_##R##_##V(const wgt_job *j, long t, long r0, long v0, long n0, long n1, __mmask16 vlast, \
                                    int accum) {                                                                   \
        wgt_kernel(R, V, j, t, r0, v0, n0, n1, vlast, accum);                                                      \
    }
#define WK_ROW(R) WK(R, 1) WK(R, 2) WK(R, 3)
WK_ROW(1) WK_ROW(2) WK_ROW(3) WK_ROW(4) WK_ROW(5) WK_ROW(6) WK_ROW(7) WK_ROW(8)
#define WK_ENTRY(R) {NULL, wk_##R##_1, wk_##R##_2, wk_##R##_3}
static const wgt_fn wgt_kernels[MR + 1][NV + 1] = {
    {NULL, NULL, NULL, NULL}, WK_ENTRY(1), WK_ENTRY(2), WK_ENTRY(3), WK_ENTRY(4),
    WK_ENTRY(5), WK_ENTRY(6), WK_ENTRY(7), WK_ENTRY(8),
};

typedef struct {
    const float *src;
    float *dst;
    long C, HW;
} nhwc_job;

/// Task: a contiguous group of tiles (tap, row panel, vector block), each over every image block in order.
static void wgt_task(void *ctx, long i) {
    const wgt_job *j = ctx;
    const long t0 = i * j->per_group, t1 = min_l(t0 + j->per_group, j->tiles);
    for (long n0 = 0; n0 < j->N; n0 += j->nb) {
        const long n1 = min_l(j->N, n0 + j->nb);
        for (long tile = t0; tile < t1; tile++) {
            const long t = tile / (j->rpanels * j->vblocks), rest = tile % (j->rpanels * j->vblocks);
            const long r0 = (rest / j->vblocks) * MR, v0 = (rest % j->vblocks) * (16 * NV);
            const int mr = (int)min_l(MR, j->rc - r0);
            const long vrem = min_l(16 * NV, j->vc - v0);
            const int nv = (int)((vrem + 15) / 16);
            const long last = vrem - 16 * (nv - 1);
            const __mmask16 vlast = last == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << last) - 1);
            wgt_kernels[mr][nv](j, t, r0, v0, n0, n1, vlast, n0 > 0);
        }
    }
}

/// dst[n, p, c] = src[n, c, p] for one image: 8×8 blocks through registers, scalar edges.
TARGET static void nhwc_task(void *ctx, long n) {
    const nhwc_job *j = ctx;
    const long C = j->C, HW = j->HW, C8 = C / 8 * 8, P8 = HW / 8 * 8;
    const float *s = j->src + n * C * HW;
    float *d = j->dst + n * C * HW;
    for (long c0 = 0; c0 < C8; c0 += 8) {
        for (long p0 = 0; p0 < P8; p0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + (c0 + i) * HW + p0);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + (p0 + i) * C + c0, r[i]);
        }
        for (long p = P8; p < HW; p++)
            for (long c = c0; c < c0 + 8; c++) d[p * C + c] = s[c * HW + p];
    }
    for (long c = C8; c < C; c++)
        for (long p = 0; p < HW; p++) d[p * C + c] = s[c * HW + p];
}

void dl_conv_same_backward_weight(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                  long dw, const float *x, const float *gy, float *gw) {
    const long taps = kh * kw;
    if (N <= 0 || H * W <= 0) { memset(gw, 0, sizeof(float) * (size_t)(O * C * taps)); return; }
    geom g;
    if (!make_geom(&g, H, W, kh, kw, dh, dw)) abort();
    const long HW = g.HW;
    // The operand with more channels is the vector one (copied to NHWC); the other is broadcast from NCHW.
    const int vec_x = C >= O;
    const long vc = vec_x ? C : O, rc = vec_x ? O : C;
    float *nhwc = dl_alloc(N * HW * vc), *out = dl_alloc(taps * rc * vc);
    if (!nhwc || !out) abort();
    nhwc_job tj = {vec_x ? x : gy, nhwc, vc, HW};
    dl_parallel_for(threads, N, nhwc_task, &tj);
    wgt_job j = {&g, rc, vc, vec_x ? gy : x, nhwc, !vec_x, out, N, 1, (rc + MR - 1) / MR, (vc + 16 * NV - 1) / (16 * NV), 0, 0};
    j.tiles = taps * j.rpanels * j.vblocks;
    // Image blocks of about 384 KB of both operands (L2-resident while every tile passes over them); their size
    // depends on the shape only, so the order of the sums does too.
    j.nb = max_l(1, (384 * 1024 / 4) / max_l(1, HW * (rc + vc)));
    const long groups = min_l(j.tiles, threads > 1 ? threads : 1);
    j.per_group = (j.tiles + groups - 1) / groups;
    dl_parallel_for(threads, (j.tiles + j.per_group - 1) / j.per_group, wgt_task, &j);
    // gw[o, c, t] from out[t][r][v].
    for (long o = 0; o < O; o++)
        for (long c = 0; c < C; c++)
            for (long t = 0; t < taps; t++)
                gw[(o * C + c) * taps + t] = vec_x ? out[(t * O + o) * C + c] : out[(t * C + c) * O + o];
    dl_free(nhwc);
    dl_free(out);
    free_geom(&g);
}

#else // not x86-64

int dl_conv_same_available(void) { return 0; }
void dl_conv_same_forward(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh, long dw,
                          const float *x, const float *w, const float *bias, float *y) {
    (void)threads; (void)N; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw; (void)dh; (void)dw;
    (void)x; (void)w; (void)bias; (void)y;
    abort();
}
void dl_conv_same_backward_input(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                 long dw, const float *gy, const float *w, float *gx) {
    (void)threads; (void)N; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw; (void)dh; (void)dw;
    (void)gy; (void)w; (void)gx;
    abort();
}
void dl_conv_same_backward_weight(int threads, long N, long C, long H, long W, long O, long kh, long kw, long dh,
                                  long dw, const float *x, const float *gy, float *gw) {
    (void)threads; (void)N; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw; (void)dh; (void)dw;
    (void)x; (void)gy; (void)gw;
    abort();
}

#endif
