// Element-wise kernels. Inner loops run over restrict pointers so the compiler vectorises them.
#include "dl_kernels.h"
#include "dl_pool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// exp with a degree-6 polynomial after range reduction; vectorises, relative error ≈ 2 ulp.
static inline __attribute__((always_inline)) float pow2i(int32_t n) {
    int32_t bits = (n + 127) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// exp with a degree-6 polynomial after range reduction; vectorises, relative error ≈ 2 ulp.
// 2^n is applied in two halves so the extremes (overflow edge, subnormal results) stay exact.
static inline __attribute__((always_inline)) float fast_expf(float x) {
    float xc = x > 88.72f ? 88.72f : (x < -103.9f ? -103.9f : x);
    float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest without a libm call
    float r = xc - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f + r * 0.0013888889f)))));
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    float y = p * pow2i(n1) * pow2i(n2);
    y = x > 88.72f ? INFINITY : y;
    y = x < -103.9f ? 0.0f : y;
    return x != x ? x : y;
}
// sin and cos after Cody–Waite reduction by π/4 in three parts (the Cephes scheme); vectorises.
// Absolute error below 1e-7 for |x| < 8192; larger arguments fall back to libm.
static inline __attribute__((always_inline)) float fast_sincosf(float x, int want_cos) {
    float ax = fabsf(x);
    int32_t j = (int32_t)(ax * 1.27323954473516f);
    j = (j + 1) & ~1;
    float y = (float)j;
    float z = ((ax - y * 0.78515625f) - y * 2.4187564849853515625e-4f) - y * 3.77489497744594108e-8f;
    float zz = z * z;
    float ps = z + z * zz * (-1.6666654611e-1f + zz * (8.3321608736e-3f + zz * -1.9515295891e-4f));
    float pc = 1.0f - 0.5f * zz + zz * zz * (4.166664568298827e-2f + zz * (-1.388731625493765e-3f + zz * 2.443315711809948e-5f));
    int32_t q = j & 7;
    float sign;
    if (want_cos) {
        int32_t k = q > 3 ? q - 4 : q;
        sign = ((q > 3) != (k > 1)) ? -1.0f : 1.0f;
        float r = (k == 1 || k == 2) ? ps : pc;
        return sign * r;
    }
    int32_t k = q > 3 ? q - 4 : q;
    sign = ((q > 3) != (x < 0.0f)) ? -1.0f : 1.0f;
    float r = (k == 1 || k == 2) ? pc : ps;
    return sign * r;
}
// Recomputes with libm the rare elements whose argument is too large for the fast reduction.
static void sincos_fixup(long n, const float *x, float *y, int want_cos, const float *g, float gsign) {
    for (long i = 0; i < n; i++)
        if (!(fabsf(x[i]) < 8192.0f)) {
            float v = want_cos ? cosf(x[i]) : sinf(x[i]);
            y[i] = g ? gsign * g[i] * v : v;
        }
}

static inline __attribute__((always_inline)) float sigmoidf(float x) { return 1.0f / (1.0f + fast_expf(-x)); }

#define BIN_LOOP(EXPR)                                                                              \
    if (ia == 1 && ib == 1) { for (long i = 0; i < n; i++) { float x = a[i], y = b[i]; o[i] = (EXPR); } } \
    else if (ia == 1 && ib == 0) { float y = b[0]; for (long i = 0; i < n; i++) { float x = a[i]; o[i] = (EXPR); } } \
    else if (ia == 0 && ib == 1) { float x = a[0]; for (long i = 0; i < n; i++) { float y = b[i]; o[i] = (EXPR); } } \
    else { for (long i = 0; i < n; i++) { float x = a[i * ia], y = b[i * ib]; o[i] = (EXPR); } }

static inline __attribute__((always_inline)) void binary_row(int op, long n, const float *restrict a, long ia, const float *restrict b, long ib, float *restrict o) {
    switch (op) {
    case DL_ADD: BIN_LOOP(x + y) break;
    case DL_SUB: BIN_LOOP(x - y) break;
    case DL_MUL: BIN_LOOP(x * y) break;
    case DL_DIV: BIN_LOOP(x / y) break;
    case DL_POW: BIN_LOOP(powf(x, y)) break;
    case DL_MINIMUM: BIN_LOOP((x != x || y != y) ? NAN : (x < y ? x : y)) break;
    case DL_MAXIMUM: BIN_LOOP((x != x || y != y) ? NAN : (x > y ? x : y)) break;
    case DL_GT: BIN_LOOP(x > y ? 1.0f : 0.0f) break;
    case DL_GE: BIN_LOOP(x >= y ? 1.0f : 0.0f) break;
    case DL_LT: BIN_LOOP(x < y ? 1.0f : 0.0f) break;
    case DL_LE: BIN_LOOP(x <= y ? 1.0f : 0.0f) break;
    case DL_EQ: BIN_LOOP(x == y ? 1.0f : 0.0f) break;
    case DL_NE: BIN_LOOP(x != y ? 1.0f : 0.0f) break;
    }
}

// ---- Parallel split. Element-wise results do not depend on how the work is cut, so any split is exact. ----

/// Work below this many elements stays on the calling thread (waking a worker costs more).
enum { PAR_MIN = 1 << 15 };

static int par_threads(long n) { return n >= PAR_MIN ? dl_threads() : 1; }

/// Chunk length for n elements on t threads: about four chunks per thread, at least 8192 elements, a multiple of 16.
static long par_chunk(long n, int t) {
    long c = (n + 4 * t - 1) / (4 * t);
    c = (c + 15) & ~15L;
    return c < 8192 ? 8192 : c;
}

/// Rows [r0, r1) of the outer index space (all axes but the last) with the offsets of row r0.
static void row_offsets(int ndim, const long *shape, long r0, const long *s1, const long *s2, long *idx, long *o1, long *o2) {
    *o1 = 0;
    if (o2) *o2 = 0;
    for (int d = ndim - 2; d >= 0; d--) {
        idx[d] = r0 % shape[d];
        r0 /= shape[d];
        *o1 += idx[d] * s1[d];
        if (o2) *o2 += idx[d] * s2[d];
    }
}

typedef struct {
    int op, ndim;
    const long *shape, *sa, *sb;
    const float *a, *b;
    float *out;
    long inner, outer, rows, chunk;  // rows per task (split by rows), or columns per task (one row, split inside)
} bin_job;

DL_MULTIVERSION static void bin_task(void *ctx, long t) {
    const bin_job *j = ctx;
    const long ia = j->sa[j->ndim - 1], ib = j->sb[j->ndim - 1];
    if (j->rows > 0) {
        const long r0 = t * j->rows, r1 = r0 + j->rows < j->outer ? r0 + j->rows : j->outer;
        long idx[16] = {0}, oa, ob;
        row_offsets(j->ndim, j->shape, r0, j->sa, j->sb, idx, &oa, &ob);
        for (long r = r0; r < r1; r++) {
            binary_row(j->op, j->inner, j->a + oa, ia, j->b + ob, ib, j->out + r * j->inner);
            for (int d = j->ndim - 2; d >= 0; d--) {
                idx[d]++; oa += j->sa[d]; ob += j->sb[d];
                if (idx[d] < j->shape[d]) break;
                oa -= j->sa[d] * j->shape[d]; ob -= j->sb[d] * j->shape[d]; idx[d] = 0;
            }
        }
    } else {
        const long per_row = (j->inner + j->chunk - 1) / j->chunk, r = t / per_row;
        const long c0 = (t % per_row) * j->chunk, c1 = c0 + j->chunk < j->inner ? c0 + j->chunk : j->inner;
        long idx[16] = {0}, oa, ob;
        row_offsets(j->ndim, j->shape, r, j->sa, j->sb, idx, &oa, &ob);
        binary_row(j->op, c1 - c0, j->a + oa + c0 * ia, ia, j->b + ob + c0 * ib, ib, j->out + r * j->inner + c0);
    }
}

void dl_binary(int op, int ndim, const long *shape, const float *a, const long *sa,
               const float *b, const long *sb, float *out) {
    if (ndim == 0) { binary_row(op, 1, a, 1, b, 1, out); return; }
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    const int t = par_threads(inner * outer);
    bin_job j = {op, ndim, shape, sa, sb, a, b, out, inner, outer, 0, 0};
    long tasks;
    if (t <= 1) { j.rows = outer; tasks = 1; }
    else if (outer >= 4 * t) {
        j.rows = (outer + 4 * t - 1) / (4 * t);
        tasks = (outer + j.rows - 1) / j.rows;
    } else {
        j.chunk = par_chunk(inner * outer, t);
        tasks = outer * ((inner + j.chunk - 1) / j.chunk);
    }
    dl_parallel_for(t, tasks, bin_task, &j);
}

#define UN_LOOP(EXPR) for (long i = 0; i < n; i++) { float v = x[i]; y[i] = (EXPR); } break;

DL_MULTIVERSION static void unary_serial(int op, long n, const float *restrict x, float *restrict y, float p1, float p2) {
    switch (op) {
    case DL_NEG: UN_LOOP(-v)
    case DL_EXP: UN_LOOP(fast_expf(v))
    case DL_LOG: UN_LOOP(logf(v))
    case DL_LOG1P: UN_LOOP(log1pf(v))
    case DL_EXPM1: UN_LOOP(expm1f(v))
    case DL_SQRT: UN_LOOP(sqrtf(v))
    case DL_RSQRT: UN_LOOP(1.0f / sqrtf(v))
    case DL_SIN: for (long i = 0; i < n; i++) y[i] = fast_sincosf(x[i], 0); sincos_fixup(n, x, y, 0, NULL, 1); break;
    case DL_COS: for (long i = 0; i < n; i++) y[i] = fast_sincosf(x[i], 1); sincos_fixup(n, x, y, 1, NULL, 1); break;
    case DL_TANH: UN_LOOP(tanhf(v))
    case DL_SIGMOID: UN_LOOP(sigmoidf(v))
    case DL_RELU: UN_LOOP(v > 0.0f ? v : 0.0f)
    case DL_SILU: UN_LOOP(v * sigmoidf(v))
    case DL_GELU: UN_LOOP(0.5f * v * (1.0f + erff(v * 0.70710678f)))
    case DL_SOFTPLUS: UN_LOOP(v > 20.0f ? v : log1pf(fast_expf(v)))
    case DL_ABS: UN_LOOP(fabsf(v))
    case DL_SIGN: UN_LOOP(v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f))
    case DL_SQUARE: UN_LOOP(v * v)
    case DL_RECIPROCAL: UN_LOOP(1.0f / v)
    case DL_POW_SCALAR:
        if (p1 == 2.0f) { UN_LOOP(v * v) }
        if (p1 == 0.5f) { UN_LOOP(sqrtf(v)) }
        UN_LOOP(powf(v, p1))
    case DL_CLAMP: UN_LOOP(v < p1 ? p1 : (v > p2 ? p2 : v))
    case DL_AFFINE: UN_LOOP(v * p1 + p2)
    case DL_RPOW_SCALAR: UN_LOOP(powf(p1, v))
    }
}

#define GR_LOOP(EXPR) for (long i = 0; i < n; i++) { float v = x ? x[i] : 0.0f; float w = y ? y[i] : 0.0f; float g = gy[i]; (void)v; (void)w; gx[i] = (EXPR); } break;

DL_MULTIVERSION static void unary_backward_serial(int op, long n, const float *restrict x, const float *restrict y,
                                                  const float *restrict gy, float *restrict gx, float p1, float p2) {
    switch (op) {
    case DL_NEG: GR_LOOP(-g)
    case DL_EXP: GR_LOOP(g * w)
    case DL_LOG: GR_LOOP(g / v)
    case DL_LOG1P: GR_LOOP(g / (1.0f + v))
    case DL_EXPM1: GR_LOOP(g * (w + 1.0f))
    case DL_SQRT: GR_LOOP(g * 0.5f / w)
    case DL_RSQRT: GR_LOOP(g * -0.5f * w * w * w)
    case DL_SIN: for (long i = 0; i < n; i++) gx[i] = gy[i] * fast_sincosf(x[i], 1); sincos_fixup(n, x, gx, 1, gy, 1); break;
    case DL_COS: for (long i = 0; i < n; i++) gx[i] = -gy[i] * fast_sincosf(x[i], 0); sincos_fixup(n, x, gx, 0, gy, -1); break;
    case DL_TANH: GR_LOOP(g * (1.0f - w * w))
    case DL_SIGMOID: GR_LOOP(g * w * (1.0f - w))
    case DL_RELU: GR_LOOP(v > 0.0f ? g : 0.0f)
    case DL_SILU: GR_LOOP(g * (sigmoidf(v) * (1.0f + v * (1.0f - sigmoidf(v)))))
    case DL_GELU: GR_LOOP(g * (0.5f * (1.0f + erff(v * 0.70710678f)) + v * 0.39894228f * fast_expf(-0.5f * v * v)))
    case DL_SOFTPLUS: GR_LOOP(g * sigmoidf(v))
    case DL_ABS: GR_LOOP(v > 0.0f ? g : (v < 0.0f ? -g : 0.0f))
    case DL_SIGN: GR_LOOP(0.0f)
    case DL_SQUARE: GR_LOOP(2.0f * g * v)
    case DL_RECIPROCAL: GR_LOOP(-g * w * w)
    case DL_POW_SCALAR: GR_LOOP(p1 == 0.0f ? 0.0f : g * p1 * powf(v, p1 - 1.0f))
    case DL_CLAMP: GR_LOOP((v >= p1 && v <= p2) ? g : 0.0f)
    case DL_AFFINE: GR_LOOP(g * p1)
    case DL_RPOW_SCALAR: GR_LOOP(g * w * logf(p1))
    }
}

typedef struct {
    int op;
    long n, chunk;
    const float *x, *y, *gy;
    float *out;
    float p1, p2;
} un_job;

static const float *at(const float *p, long i) { return p ? p + i : NULL; }

static void unary_task(void *ctx, long t) {
    const un_job *j = ctx;
    const long a = t * j->chunk, b = a + j->chunk < j->n ? a + j->chunk : j->n;
    unary_serial(j->op, b - a, j->x + a, j->out + a, j->p1, j->p2);
}

static void unary_backward_task(void *ctx, long t) {
    const un_job *j = ctx;
    const long a = t * j->chunk, b = a + j->chunk < j->n ? a + j->chunk : j->n;
    unary_backward_serial(j->op, b - a, at(j->x, a), at(j->y, a), j->gy + a, j->out + a, j->p1, j->p2);
}

void dl_unary(int op, long n, const float *x, float *y, float p1, float p2) {
    const int t = par_threads(n);
    if (t <= 1) { unary_serial(op, n, x, y, p1, p2); return; }
    un_job j = {op, n, par_chunk(n, t), x, NULL, NULL, y, p1, p2};
    dl_parallel_for(t, (n + j.chunk - 1) / j.chunk, unary_task, &j);
}

void dl_unary_backward(int op, long n, const float *x, const float *y, const float *gy, float *gx, float p1, float p2) {
    const int t = par_threads(n);
    if (t <= 1) { unary_backward_serial(op, n, x, y, gy, gx, p1, p2); return; }
    un_job j = {op, n, par_chunk(n, t), x, y, gy, gx, p1, p2};
    dl_parallel_for(t, (n + j.chunk - 1) / j.chunk, unary_backward_task, &j);
}

DL_MULTIVERSION void dl_where(long n, const float *restrict cond, const float *restrict a, const float *restrict b, float *restrict out) {
    for (long i = 0; i < n; i++) out[i] = cond[i] != 0.0f ? a[i] : b[i];
}

typedef struct {
    int ndim;
    const long *shape, *strides;
    const float *src;
    float *dst;
    long inner, outer, rows;
} copy_job;

static void copy_rows(const copy_job *j, long r0, long r1) {
    const long inner = j->inner, is = j->strides[j->ndim - 1];
    long idx[16] = {0}, off;
    row_offsets(j->ndim, j->shape, r0, j->strides, NULL, idx, &off, NULL);
    for (long r = r0; r < r1; r++) {
        const float *restrict s = j->src + off;
        float *restrict o = j->dst + r * inner;
        if (is == 1) memcpy(o, s, sizeof(float) * (size_t)inner);
        else if (is == 0) { float v = s[0]; for (long i = 0; i < inner; i++) o[i] = v; }
        else for (long i = 0; i < inner; i++) o[i] = s[i * is];
        for (int d = j->ndim - 2; d >= 0; d--) {
            idx[d]++; off += j->strides[d];
            if (idx[d] < j->shape[d]) break;
            off -= j->strides[d] * j->shape[d]; idx[d] = 0;
        }
    }
}

static void copy_task(void *ctx, long t) {
    const copy_job *j = ctx;
    copy_rows(j, t * j->rows, t * j->rows + j->rows < j->outer ? t * j->rows + j->rows : j->outer);
}

void dl_copy_strided(int ndim, const long *shape, const float *src, const long *strides, float *dst) {
    if (ndim == 0) { dst[0] = src[0]; return; }
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    const int t = par_threads(inner * outer);
    copy_job j = {ndim, shape, strides, src, dst, inner, outer, outer};
    if (t > 1 && outer >= 4 * t) {
        j.rows = (outer + 4 * t - 1) / (4 * t);
        dl_parallel_for(t, (outer + j.rows - 1) / j.rows, copy_task, &j);
        return;
    }
    copy_rows(&j, 0, outer);
}

void dl_add_into_strided(int ndim, const long *shape, const float *src, float *dst, const long *strides) {
    if (ndim == 0) { dst[0] += src[0]; return; }
    long inner = shape[ndim - 1], is = strides[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long idx[16] = {0}, off = 0;
    for (long r = 0; r < outer; r++) {
        const float *s = src + r * inner;
        float *o = dst + off;
        if (is == 1) { for (long i = 0; i < inner; i++) o[i] += s[i]; }
        else for (long i = 0; i < inner; i++) o[i * is] += s[i];
        for (int d = ndim - 2; d >= 0; d--) {
            idx[d]++; off += strides[d];
            if (idx[d] < shape[d]) break;
            off -= strides[d] * shape[d]; idx[d] = 0;
        }
    }
}

typedef struct { long n, chunk; float *dst; float value; } fill_job;

static void fill_task(void *ctx, long t) {
    const fill_job *j = ctx;
    const long a = t * j->chunk, b = a + j->chunk < j->n ? a + j->chunk : j->n;
    float *restrict d = j->dst;
    for (long i = a; i < b; i++) d[i] = j->value;
}

void dl_fill(long n, float *restrict dst, float value) {
    const int t = par_threads(n);
    fill_job j = {n, t > 1 ? par_chunk(n, t) : (n > 0 ? n : 1), dst, value};
    dl_parallel_for(t, (n + j.chunk - 1) / j.chunk, fill_task, &j);
}
DL_MULTIVERSION void dl_axpy(long n, float alpha, const float *restrict x, float *restrict y) { for (long i = 0; i < n; i++) y[i] += alpha * x[i]; }

void dl_tune_allocator(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

void *dl_alloc(long count) {
    void *p = NULL;
    size_t bytes = sizeof(float) * (size_t)(count > 0 ? count : 1);
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}
void dl_free(void *p) { free(p); }
