// Native single-precision GEMM for x86-64 with AVX-512F, in the BLIS/GotoBLAS style.
//
// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, all row-major.
//
// C is cut into tiles (one, or a grid for the thread pool). Per tile, outermost first:
//   jc: columns in blocks of ≤ NC (NC·KC ≤ 128 Ki floats: a 512 KB block of B, L2-resident)
//     pc: K in blocks of ≤ KC_MAX (split evenly; depends on K only) → pack op(B)[pc, jc] into 48-column panels,
//         k-major (or, for NN tiles of ≤ 64 rows, read B in place)
//       ic: rows in blocks of ≤ MC → pack op(A)[ic, pc] into 8-row panels, k-major
//         ir: 8-row panel of A (≤ 12 KB, stays in L1 while …)
//           jr: … every 48-column panel of B streams past it: micro-kernel
// The micro-kernel keeps an 8×48 block of C in 24 zmm accumulators (8 rows × 3 vectors of 16 columns): per k it
// loads 3 vectors of B and broadcasts 8 values of A into 24 FMAs. Edge tiles use variants with fewer rows or
// vectors (a mask on the last vector of each C row); packed panels are zero-padded so their loads need no masks.
// Narrow products (N < 16, or M < 4 with B transposed) whose A rows are contiguous in k are dot products instead.
//
// Determinism: the value of C[i][j] depends only on the shape (K blocking, path) and the order of the FMAs along k,
// never on which thread, tile or tile variant computed it, so 1 and 2 threads give bit-identical results.
#include "dl_gemm.h"
#include "dl_blas.h"
#include "dl_bench.h"
#include "dl_pool.h"
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_int g_threads = 1;
static _Thread_local int tl_last_tiles = 0;
int dl_gemm_native_last_tiles(void) { return tl_last_tiles; }
void dl_gemm_native_set_threads(int n) { atomic_store(&g_threads, n < 1 ? 1 : n > 8 ? 8 : n); }
int dl_gemm_native_threads(void) { return atomic_load(&g_threads); }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>

#include "avx512_common.h"

enum { MR = 8, NR = 48, NV = NR / 16 };
// Blocking: an 8×KC panel of A (≤ 12 KB) lives in L1 while a KC×NC block of B (≤ 512 KB) streams from L2.
static const long KC_MAX = 384;
/// NN tiles with at most this many rows read B in place instead of packing it (measured: 10–28% faster at
/// M ≤ 64 on the W2 conv shapes, slower from M ≈ 96 on).
static const long DIRECT_ROWS = 64;

/// AVX-512F and AVX-512VL in the CPU (CPUID) and ZMM/opmask state enabled by the OS (XCR0).
static int detect_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0; // SSE, AVX, opmask, ZMM0–15 upper halves, ZMM16–31
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX512F) && (b & bit_AVX512VL);
}

int dl_gemm_native_available(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = detect_avx512();
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

/// Single-thread peak of 512-bit FMAs: 24 independent register accumulators, as many as the micro-kernel keeps.
TARGET double dl_peak_fma512_gflops(long iterations) {
    if (!dl_gemm_native_available()) return 0;
    __m512 acc[24];
    const __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
    for (int i = 0; i < 24; i++) acc[i] = _mm512_setzero_ps();
    const double t0 = dl_now();
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]), "+v"(acc[5]));
    }
    const double dt = dl_now() - t0;
    float sink = 0;
    for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
    volatile float keep = sink;
    (void)keep;
    return (double)iterations * 24 * 16 * 2 / dt / 1e9;
}

// ---------------------------------------------------------------------------------------------------------------
// Micro-kernel.

/// How the finished accumulators are merged into C.
enum { STORE = 0, /* C = alpha·acc */ SCALE = 1, /* C = alpha·acc + beta·C */ ACCUM = 2 /* C = alpha·acc + C */ };

TARGET INLINE void ukernel(const int mr, const int nv, long kc, const float *restrict a, const float *restrict b,
                           long bstride, __mmask16 bmask, float *restrict c, long ldc, __mmask16 last, float alpha,
                           float beta, int mode) {
    __m512 acc[MR][NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (int r = 0; r < mr; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
#pragma clang loop unroll_count(4)
    for (long k = 0; k < kc; k++) {
        __m512 bv[NV];
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(bmask, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma clang loop unroll(full)
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
#pragma clang loop unroll(full)
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        a += MR;
        b += bstride;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 out;
            if (mode == STORE) out = _mm512_mul_ps(va, acc[r][v]);
            else if (mode == SCALE) out = _mm512_fmadd_ps(va, acc[r][v], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, cr + 16 * v)));
            else out = _mm512_fmadd_ps(va, acc[r][v], _mm512_maskz_loadu_ps(m, cr + 16 * v));
            _mm512_mask_storeu_ps(cr + 16 * v, m, out);
        }
    }
}

typedef void (*ukernel_fn)(long, const float *, const float *, long, __mmask16, float *, long, __mmask16, float, float, int);
#define UK(R, V)                                                                                                  \
    TARGET static void uk_##R##_##V(long kc, const float *a, const float *b, long bstride, __mmask16 bmask,        \
                                    float *c, long ldc, __mmask16 last, float alpha, float beta, int mode) {      \
        ukernel(R, V, kc, a, b, bstride, bmask, c, ldc, last, alpha, beta, mode);                                 \
    }
#define UK_ROW(R) UK(R, 1) UK(R, 2) UK(R, 3)
UK_ROW(1) UK_ROW(2) UK_ROW(3) UK_ROW(4) UK_ROW(5) UK_ROW(6) UK_ROW(7) UK_ROW(8)
#define UK_ENTRY(R) {NULL, uk_##R##_1, uk_##R##_2, uk_##R##_3}
static const ukernel_fn ukernels[MR + 1][NV + 1] = {
    {NULL, NULL, NULL, NULL}, UK_ENTRY(1), UK_ENTRY(2), UK_ENTRY(3), UK_ENTRY(4),
    UK_ENTRY(5), UK_ENTRY(6), UK_ENTRY(7), UK_ENTRY(8),
};

// ---------------------------------------------------------------------------------------------------------------
// Packing.

static long round_up(long x, long m) { return (x + m - 1) / m * m; }

/// Copies the kc×8 block src[k·ld + r] (k < kc, r < 8; k-contiguous rows of length ≥ kc at stride ld, i.e. rows
/// r at src + r·ld) transposed into dst[k·stride + r]. `rows` < 8 rows are zero-filled.
TARGET INLINE void pack_transposed8(const float *src, long ld, long kc, int rows, float *dst, long stride) {
    if (rows == 8) {
        long k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ld + k);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (k + i) * stride, r[i]);
        }
        if (k < kc) {
            const __mmask8 m = (__mmask8)((1u << (kc - k)) - 1);
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_maskz_loadu_ps(m, src + i * ld + k);
            transpose8(r);
            for (int i = 0; k + i < kc; i++) _mm256_storeu_ps(dst + (k + i) * stride, r[i]);
        }
    } else {
        for (long k = 0; k < kc; k++)
            for (int i = 0; i < 8; i++) dst[k * stride + i] = i < rows ? src[i * ld + k] : 0.0f;
    }
}

/// Packs rows [0, mrows) and k in [0, kc) of op(A) (A already offset to the block's first element) into 8-row
/// panels: panel p holds ap[p·8·kc + k·8 + r] = op(A)[8p + r][k], zero-padded to 8 rows.
TARGET static void pack_a(int trans, const float *A, long lda, long mrows, long kc, float *ap) {
    for (long p = 0; p < mrows; p += MR) {
        const int rows = mrows - p < MR ? (int)(mrows - p) : MR;
        float *dst = ap + p * kc;
        if (trans) { // op(A)[i][k] = A[k·lda + i]: each k is 8 contiguous floats
            const float *src = A + p;
            const __mmask8 m = (__mmask8)((1u << rows) - 1);
            for (long k = 0; k < kc; k++) _mm256_store_ps(dst + k * MR, _mm256_maskz_loadu_ps(m, src + k * lda));
        } else {     // op(A)[i][k] = A[i·lda + k]: transpose
            pack_transposed8(A + p * lda, lda, kc, rows, dst, MR);
        }
    }
}

/// Packs k in [0, kc) and columns [0, ncols) of op(B) into 48-column panels: panel q holds
/// bp[q·48·kc + k·48 + j] = op(B)[k][48q + j]. A last, narrower panel is zero-padded to a multiple of 16 columns,
/// the vectors its micro-kernel reads; the rest of its 48-column stride is left alone.
TARGET static void pack_b(int trans, const float *B, long ldb, long kc, long ncols, float *bp) {
    for (long q = 0; q < ncols; q += NR) {
        const long cols = ncols - q < NR ? ncols - q : NR;
        float *dst = bp + q * kc;
        if (!trans) { // op(B)[k][j] = B[k·ldb + j]: row segments
            const float *src = B + q;
            if (cols == NR) {
                for (long k = 0; k < kc; k++) {
                    const float *s = src + k * ldb;
                    float *d = dst + k * NR;
                    _mm512_store_ps(d, _mm512_loadu_ps(s));
                    _mm512_store_ps(d + 16, _mm512_loadu_ps(s + 16));
                    _mm512_store_ps(d + 32, _mm512_loadu_ps(s + 32));
                }
            } else {
                const int nv = (int)((cols + 15) / 16);
                __mmask16 m[NV];
                for (int v = 0; v < nv; v++) {
                    long n = cols - 16 * v;
                    m[v] = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
                }
                for (long k = 0; k < kc; k++)
                    for (int v = 0; v < nv; v++)
                        _mm512_store_ps(dst + k * NR + 16 * v, _mm512_maskz_loadu_ps(m[v], src + k * ldb + 16 * v));
            }
        } else {      // op(B)[k][j] = B[j·ldb + k]: transpose 8 columns at a time
            for (int g = 0; g < round_up(cols, 16); g += 8) {
                const long n = cols - g;
                if (n <= 0) {
                    for (long k = 0; k < kc; k++) _mm256_store_ps(dst + k * NR + g, _mm256_setzero_ps());
                } else {
                    pack_transposed8(B + (q + g) * ldb, ldb, kc, n >= 8 ? 8 : (int)n, dst + g, NR);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Driver.

typedef struct {
    int transA, transB;
    long M, N, K;
    float alpha, beta;
    const float *A, *B;
    long lda, ldb, ldc;
    float *C;
} gemm_args;

/// Floats in each packing buffer: 512 KB, so a packed block of B stays in the 1 MB L2 with room for C and A.
enum { BUF_FLOATS = 1 << 17 };

/// Per-thread packing buffers (64-byte aligned), freed when the thread exits.
typedef struct { float *a, *b; } pack_buffers;
static pthread_key_t g_buf_key;
static pthread_once_t g_buf_once = PTHREAD_ONCE_INIT;
static void free_buffers(void *p) {
    pack_buffers *b = p;
    free(b->a);
    free(b->b);
    free(b);
}
static void make_key(void) { pthread_key_create(&g_buf_key, free_buffers); }
static pack_buffers *buffers(void) {
    pthread_once(&g_buf_once, make_key);
    pack_buffers *b = pthread_getspecific(g_buf_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return NULL;
        b->a = aligned_alloc(64, sizeof(float) * BUF_FLOATS);
        b->b = aligned_alloc(64, sizeof(float) * BUF_FLOATS);
        if (!b->a || !b->b || pthread_setspecific(g_buf_key, b) != 0) { free_buffers(b); return NULL; }
    }
    return b;
}

static long min_l(long a, long b) { return a < b ? a : b; }
static long max_l(long a, long b) { return a > b ? a : b; }

/// The size of near-equal blocks (multiples of `unit`, at most `max`, itself a multiple of `unit`) covering n.
static long block_size(long n, long max, long unit) {
    const long blocks = (n + max - 1) / max;
    return round_up((n + blocks - 1) / blocks, unit);
}

/// beta·C on rows [m0, m1) and columns [n0, n1) (beta = 0 writes zeros).
static void scale_c(const gemm_args *g, long m0, long m1, long n0, long n1) {
    for (long i = m0; i < m1; i++) {
        float *c = g->C + i * g->ldc;
        if (g->beta == 0.0f) memset(c + n0, 0, sizeof(float) * (size_t)(n1 - n0));
        else if (g->beta != 1.0f) for (long j = n0; j < n1; j++) c[j] *= g->beta;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Narrow products: dot products along k.
//
// When C has few columns (N < 16) or a single row, the 8×48 tile would mostly compute padding. If op(A)'s rows are
// contiguous in k (A not transposed), each C[i][j] is instead a dot product of row i of A with column j of op(B)
// (a row of B when B is transposed, else of a small transposed copy), taken 4×4 at a time: 16 zmm accumulators over
// k, one horizontal sum each at the end. The choice depends on the shape alone, so every tile of a product — on
// whatever thread — uses the same sums.

static int use_dot(const gemm_args *g) {
    return !g->transA && g->K >= 16 && (g->N < 16 || (g->transB && g->M < 4)) &&
           (g->transB || g->N * g->K <= BUF_FLOATS);
}

/// C[i][j] for i in [m0, m1), j in [n0, n1): dot products of rows of A and rows of bt (row j − n0 at bt + (j − n0)·ldbt,
/// k-contiguous).
TARGET static void dot_block(const gemm_args *g, const float *bt, long ldbt, long m0, long m1, long n0, long n1) {
    const long K = g->K, tail = K % 16, kv = K - tail;
    const __mmask16 tmask = (__mmask16)((1u << tail) - 1);
    for (long i0 = m0; i0 < m1; i0 += 4) {
        const float *a[4];
        for (int r = 0; r < 4; r++) a[r] = g->A + min_l(i0 + r, m1 - 1) * g->lda; // missing rows repeat the last
        for (long j0 = n0; j0 < n1; j0 += 4) {
            const float *b[4];
            for (int c = 0; c < 4; c++) b[c] = bt + (min_l(j0 + c, n1 - 1) - n0) * ldbt;
            __m512 acc[4][4];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
            for (long k = 0; k < kv; k += 16) {
                __m512 av[4], bv[4];
                for (int r = 0; r < 4; r++) av[r] = _mm512_loadu_ps(a[r] + k);
                for (int c = 0; c < 4; c++) bv[c] = _mm512_loadu_ps(b[c] + k);
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 4; c++) acc[r][c] = _mm512_fmadd_ps(av[r], bv[c], acc[r][c]);
            }
            if (tail) {
                __m512 av[4], bv[4];
                for (int r = 0; r < 4; r++) av[r] = _mm512_maskz_loadu_ps(tmask, a[r] + kv);
                for (int c = 0; c < 4; c++) bv[c] = _mm512_maskz_loadu_ps(tmask, b[c] + kv);
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 4; c++) acc[r][c] = _mm512_fmadd_ps(av[r], bv[c], acc[r][c]);
            }
            for (int r = 0; r < 4 && i0 + r < m1; r++) {
                float *crow = g->C + (i0 + r) * g->ldc;
                for (int c = 0; c < 4 && j0 + c < n1; c++) {
                    const float sum = _mm512_reduce_add_ps(acc[r][c]);
                    float *cp = crow + j0 + c;
                    if (g->beta == 0.0f) *cp = g->alpha * sum;
                    else if (g->beta == 1.0f) *cp = fmaf(g->alpha, sum, *cp);
                    else *cp = fmaf(g->alpha, sum, g->beta * *cp);
                }
            }
        }
    }
}

/// The dot-product path for the tile in rows [m0, m1) and columns [n0, n1).
TARGET static void dot_tile(const gemm_args *g, pack_buffers *buf, long m0, long m1, long n0, long n1) {
    if (g->transB) { dot_block(g, g->B + n0 * g->ldb, g->ldb, m0, m1, n0, n1); return; }
    // op(B) columns n0..n1 transposed into bt[(j − n0)·K + k] (fits: N·K ≤ BUF_FLOATS).
    const long K = g->K, n = n1 - n0;
    for (long k = 0; k < K; k++)
        for (long j = 0; j < n; j++) buf->b[j * K + k] = g->B[k * g->ldb + n0 + j];
    dot_block(g, buf->b, K, m0, m1, n0, n1);
}

/// The tile of C in rows [m0, m1) and columns [n0, n1), on the calling thread.
TARGET static void gemm_tile(const gemm_args *g, long m0, long m1, long n0, long n1) {
    if (m0 >= m1 || n0 >= n1) return;
    if (g->K == 0 || g->alpha == 0.0f) { scale_c(g, m0, m1, n0, n1); return; }
    pack_buffers *buf = buffers();
    if (!buf) { // out of memory: the portable path still gives a correct answer
        const float *A = g->transA ? g->A + m0 : g->A + m0 * g->lda;
        const float *B = g->transB ? g->B + n0 * g->ldb : g->B + n0;
        dl_sgemm_fallback(g->transA, g->transB, m1 - m0, n1 - n0, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta,
                          g->C + m0 * g->ldc + n0, g->ldc);
        return;
    }
    if (use_dot(g)) { dot_tile(g, buf, m0, m1, n0, n1); return; }
    // K blocks depend on K alone (never on the tile), so every element sees the same sums in the same order.
    const long K = g->K, nk = (K + KC_MAX - 1) / KC_MAX, kcmax = (K + nk - 1) / nk;
    // op(B) = B is read in place, unpacked, when few row panels share each block of it (packing would cost more
    // than it saves).
    const int direct = !g->transB && m1 - m0 <= DIRECT_ROWS;
    const long ncb = block_size(n1 - n0, max_l(NR, BUF_FLOATS / kcmax / NR * NR), 16);
    const long mcb = block_size(m1 - m0, max_l(MR, BUF_FLOATS / kcmax / MR * MR), MR);
    for (long j0 = n0; j0 < n1; j0 += ncb) {
        const long nc = min_l(n1 - j0, ncb);
        for (long kb = 0; kb < nk; kb++) {
            const long k0 = K * kb / nk, kc = K * (kb + 1) / nk - k0;
            const int mode = kb > 0 || g->beta == 1.0f ? ACCUM : g->beta == 0.0f ? STORE : SCALE;
            if (!direct) pack_b(g->transB, g->transB ? g->B + j0 * g->ldb + k0 : g->B + k0 * g->ldb + j0, g->ldb, kc, nc, buf->b);
            for (long i0 = m0; i0 < m1; i0 += mcb) {
                const long mc = min_l(m1 - i0, mcb);
                pack_a(g->transA, g->transA ? g->A + k0 * g->lda + i0 : g->A + i0 * g->lda + k0, g->lda, mc, kc, buf->a);
                for (long ir = 0; ir < mc; ir += MR) {
                    const int mr = (int)min_l(mc - ir, MR);
                    const float *ap = buf->a + ir * kc;
                    float *crow = g->C + (i0 + ir) * g->ldc + j0;
                    for (long jr = 0; jr < nc; jr += NR) {
                        const long nr = min_l(nc - jr, NR);
                        const int nv = (int)((nr + 15) / 16);
                        const int tail = (int)(nr - 16 * (nv - 1));
                        const __mmask16 last = tail == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << tail) - 1);
                        if (direct)
                            ukernels[mr][nv](kc, ap, g->B + k0 * g->ldb + j0 + jr, g->ldb, last, crow + jr, g->ldc, last,
                                             g->alpha, g->beta, mode);
                        else
                            ukernels[mr][nv](kc, ap, buf->b + jr * kc, NR, (__mmask16)0xFFFF, crow + jr, g->ldc, last,
                                             g->alpha, g->beta, mode);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Threads. C is cut into a grid of tiles that the caller and the shared worker pool (pool.c) take one at a time, so
// a worker that the OS does not schedule (busy machine) only delays the tile it took, never the whole product. A
// caller that finds the pool busy (GEMMs issued from several threads at once) runs its tiles alone.

enum { MAX_THREADS = 8, MAX_TILES = 64 };

typedef struct {
    const gemm_args *g;
    long tile_m, tile_n, grid_n;   // tile height and width, tiles per row of the grid
} tile_job;

static void tile_task(void *ctx, long tile) {
    const tile_job *j = ctx;
    const long bi = tile / j->grid_n, bj = tile % j->grid_n;
    const long m0 = bi * j->tile_m, n0 = bj * j->tile_n;
    gemm_tile(j->g, m0, min_l(j->g->M, m0 + j->tile_m), n0, min_l(j->g->N, n0 + j->tile_n));
}

/// Runs the product as a grid of tiles on the pool; returns 1 when the pool took part.
static int run_parallel(const gemm_args *g, int threads, long tm, long tn) {
    const long gm = (g->M + tm - 1) / tm, gn = (g->N + tn - 1) / tn;
    tile_job j = {g, tm, tn, gn};
    return dl_parallel_for(threads, gm * gn, tile_task, &j);
}

/// Estimated cycles for `threads` threads to compute the tiles of a tm×tn grid: FMAs (8 per panel, vector and k,
/// two per cycle) and packing, for the rounds of tiles each thread takes in turn.
static double grid_cost(const gemm_args *g, int threads, long tm, long tn) {
    const long gm = (g->M + tm - 1) / tm, gn = (g->N + tn - 1) / tn, tiles = gm * gn;
    const double rounds = (double)((tiles + threads - 1) / threads);
    const double fma = (double)round_up(tm, MR) * (double)((tn + 15) / 16) * (double)g->K * 0.5;
    const double pack = (double)g->K * ((double)tm * (g->transA ? 0.05 : 0.2) + (double)tn * (g->transB ? 0.2 : 0.05));
    return rounds * (fma + pack + 300.0);
}

void dl_sgemm_native_threaded(int threads, int transA, int transB, long M, long N, long K, float alpha,
                              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    tl_last_tiles = 0;
    if (M <= 0 || N <= 0) return;
    if (!dl_gemm_native_available()) {
        dl_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    tl_last_tiles = 1;
    const gemm_args g = {transA, transB, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
    const int t = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (t > 1 && K > 0 && alpha != 0.0f) {
        // The cheapest grid of at least t tiles (rows in multiples of 8, columns in multiples of 16), if it beats
        // one thread by enough to pay for waking the others.
        // Products over ~100 µs get at least two tiles per thread, so a thread the OS delays holds up less.
        const double serial = grid_cost(&g, 1, M, N);
        const long min_tiles = serial > 300000.0 ? 2 * t : t;
        double best = serial * 0.85 - 3000.0;
        long bm = 0, bn = 0;
        // Not even a perfect split would pay: skip the search (it costs about as much as a 32³ product).
        if (serial / t >= best) best = 0;
        for (long gm = 1; gm <= 8 && best > 0; gm++) {
            for (long gn = 1; gn <= 8; gn++) {
                const long tm = round_up((M + gm - 1) / gm, MR), tn = round_up((N + gn - 1) / gn, 16);
                const long tiles = ((M + tm - 1) / tm) * ((N + tn - 1) / tn);
                if (tiles < min_tiles || tiles > MAX_TILES) continue;
                const double c = grid_cost(&g, t, tm, tn);
                if (c < best) { best = c; bm = tm; bn = tn; }
            }
        }
        if (bm > 0) {
            if (run_parallel(&g, t, bm, bn)) tl_last_tiles = (int)(((M + bm - 1) / bm) * ((N + bn - 1) / bn));
            return;
        }
    }
    gemm_tile(&g, 0, M, 0, N);
}

#else // not x86-64: the native kernel is absent

double dl_peak_fma512_gflops(long iterations) { (void)iterations; return 0; }
int dl_gemm_native_available(void) { return 0; }
void dl_sgemm_native_threaded(int threads, int transA, int transB, long M, long N, long K, float alpha,
                              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    (void)threads;
    tl_last_tiles = 0;
    dl_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#endif

void dl_sgemm_native(int transA, int transB, long M, long N, long K, float alpha,
                     const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    dl_sgemm_native_threaded(dl_gemm_native_threads(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
