// Element-wise kernels. Inner loops run over restrict pointers so the compiler vectorises them.
#include "dl_kernels.h"
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

DL_MULTIVERSION void dl_binary(int op, int ndim, const long *shape, const float *a, const long *sa,
               const float *b, const long *sb, float *out) {
    if (ndim == 0) { binary_row(op, 1, a, 1, b, 1, out); return; }
    long inner = shape[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1];
    long outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long idx[16] = {0};
    long oa = 0, ob = 0;
    for (long r = 0; r < outer; r++) {
        binary_row(op, inner, a + oa, ia, b + ob, ib, out + r * inner);
        for (int d = ndim - 2; d >= 0; d--) {
            idx[d]++; oa += sa[d]; ob += sb[d];
            if (idx[d] < shape[d]) break;
            oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]; idx[d] = 0;
        }
    }
}

#define UN_LOOP(EXPR) for (long i = 0; i < n; i++) { float v = x[i]; y[i] = (EXPR); } break;

DL_MULTIVERSION void dl_unary(int op, long n, const float *restrict x, float *restrict y, float p1, float p2) {
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

DL_MULTIVERSION void dl_unary_backward(int op, long n, const float *restrict x, const float *restrict y, const float *restrict gy,
                       float *restrict gx, float p1, float p2) {
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

DL_MULTIVERSION void dl_where(long n, const float *restrict cond, const float *restrict a, const float *restrict b, float *restrict out) {
    for (long i = 0; i < n; i++) out[i] = cond[i] != 0.0f ? a[i] : b[i];
}

void dl_copy_strided(int ndim, const long *shape, const float *src, const long *strides, float *dst) {
    if (ndim == 0) { dst[0] = src[0]; return; }
    long inner = shape[ndim - 1], is = strides[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long idx[16] = {0}, off = 0;
    for (long r = 0; r < outer; r++) {
        const float *restrict s = src + off;
        float *restrict o = dst + r * inner;
        if (is == 1) memcpy(o, s, sizeof(float) * (size_t)inner);
        else if (is == 0) { float v = s[0]; for (long i = 0; i < inner; i++) o[i] = v; }
        else for (long i = 0; i < inner; i++) o[i] = s[i * is];
        for (int d = ndim - 2; d >= 0; d--) {
            idx[d]++; off += strides[d];
            if (idx[d] < shape[d]) break;
            off -= strides[d] * shape[d]; idx[d] = 0;
        }
    }
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

void dl_fill(long n, float *restrict dst, float value) { for (long i = 0; i < n; i++) dst[i] = value; }
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
