#ifndef DL_KERNELS_H
#define DL_KERNELS_H
#include <stdint.h>

/// Hot kernels are compiled twice on x86-64 Linux (AVX2+FMA and baseline) and picked at load time.
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define DL_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DL_MULTIVERSION
#endif

// Element-wise, reduction and layout kernels over Float32. Every pointer is to a float buffer; "shape" and
// "strides" are in elements. Outputs are contiguous unless stated.

typedef enum {
    DL_ADD, DL_SUB, DL_MUL, DL_DIV, DL_POW, DL_MINIMUM, DL_MAXIMUM,
    DL_GT, DL_GE, DL_LT, DL_LE, DL_EQ, DL_NE
} dl_binary_op;

typedef enum {
    DL_NEG, DL_EXP, DL_LOG, DL_LOG1P, DL_EXPM1, DL_SQRT, DL_RSQRT, DL_SIN, DL_COS, DL_TANH, DL_SIGMOID,
    DL_RELU, DL_SILU, DL_GELU, DL_SOFTPLUS, DL_ABS, DL_SIGN, DL_SQUARE, DL_RECIPROCAL,
    DL_POW_SCALAR,   // x^p1
    DL_CLAMP,        // clamp(x, p1, p2)
    DL_AFFINE,       // x*p1 + p2
    DL_RPOW_SCALAR   // p1^x
} dl_unary_op;

typedef enum { DL_RSUM, DL_RMAX, DL_RMIN } dl_reduce_op;

/// out[i] = a[i] (op) b[i] over an ndim-dimensional iteration space; sa/sb may hold 0 for broadcast axes.
void dl_binary(int op, int ndim, const long *shape, const float *a, const long *sa,
               const float *b, const long *sb, float *out);
/// y = f(x) elementwise, contiguous, n elements.
void dl_unary(int op, long n, const float *x, float *y, float p1, float p2);
/// gx = gy * f'(x) (using y = f(x) where cheaper). Accumulates into gx when accumulate != 0.
void dl_unary_backward(int op, long n, const float *x, const float *y, const float *gy, float *gx,
                       float p1, float p2);
/// out = cond != 0 ? a : b, all contiguous and of equal length.
void dl_where(long n, const float *cond, const float *a, const float *b, float *out);

/// Gathers a strided view into a contiguous buffer.
void dl_copy_strided(int ndim, const long *shape, const float *src, const long *strides, float *dst);
/// dst (strided view) += src (contiguous).
void dl_add_into_strided(int ndim, const long *shape, const float *src, float *dst, const long *strides);
void dl_fill(long n, float *dst, float value);
/// y += alpha * x.
void dl_axpy(long n, float alpha, const float *x, float *y);

/// Reduces axis of a contiguous [outer, n, inner] array to [outer, inner].
void dl_reduce(int op, long outer, long n, long inner, const float *x, float *y);
/// Index of the max (or min when want_min) along the axis, written as float.
void dl_argreduce(int want_min, long outer, long n, long inner, const float *x, float *idx);
/// Softmax (or log-softmax) along the axis of [outer, n, inner].
void dl_softmax(int log, long outer, long n, long inner, const float *x, float *y);
/// Backward of softmax/log-softmax: gx from y and gy.
void dl_softmax_backward(int log, long outer, long n, long inner, const float *y, const float *gy, float *gx);
/// Inclusive cumulative sum (prod when prod != 0) along the axis; reverse scans from the end.
void dl_scan(int prod, int reverse, long outer, long n, long inner, const float *x, float *y);

/// Sum of all elements in double precision.
double dl_sum_all(long n, const float *x);

/// Philox4x32-10 block function (Salmon et al. 2011): counter ctr[4], key key[2] → out[4].
void dl_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/// Counter-based draws: element e of the stream depends only on (seed, stream, offset + e).
void dl_rand_uniform(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, float lo, float hi);
void dl_rand_normal(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, float mean, float std);
/// Integers in [lo, hi) written as float.
void dl_rand_int(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, int64_t lo, int64_t hi);

/// Keeps freed large buffers in the heap instead of returning them to the OS (avoids page-fault storms).
void dl_tune_allocator(void);
void *dl_alloc(long count);
void dl_free(void *p);

#endif
