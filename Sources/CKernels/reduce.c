// Reductions, softmax and scans over an axis of a contiguous array viewed as [outer, n, inner].
#include "dl_kernels.h"
#include "dl_pool.h"
#include <math.h>
#include <string.h>

DL_MULTIVERSION double dl_sum_all(long n, const float *restrict x) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
    for (; i < n; i++) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

DL_MULTIVERSION static void reduce_serial(int op, long outer, long n, long inner, const float *restrict x, float *restrict y) {
    for (long o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *restrict yo = y + o * inner;
        if (inner == 1) {
            if (op == DL_RSUM) { yo[0] = (float)dl_sum_all(n, xo); continue; }
            float m = n > 0 ? xo[0] : (op == DL_RMAX ? -INFINITY : INFINITY);
            for (long i = 1; i < n; i++) {
                float v = xo[i];
                if (v != v) { m = v; break; }
                m = op == DL_RMAX ? (v > m ? v : m) : (v < m ? v : m);
            }
            yo[0] = m;
            continue;
        }
        if (op == DL_RSUM) {
            memset(yo, 0, sizeof(float) * (size_t)inner);
            for (long i = 0; i < n; i++) { const float *restrict r = xo + i * inner; for (long j = 0; j < inner; j++) yo[j] += r[j]; }
        } else {
            if (n == 0) { for (long j = 0; j < inner; j++) yo[j] = op == DL_RMAX ? -INFINITY : INFINITY; continue; }
            memcpy(yo, xo, sizeof(float) * (size_t)inner);
            for (long i = 1; i < n; i++) {
                const float *restrict r = xo + i * inner;
                if (op == DL_RMAX) for (long j = 0; j < inner; j++) yo[j] = (r[j] > yo[j] || r[j] != r[j]) ? r[j] : yo[j];
                else for (long j = 0; j < inner; j++) yo[j] = (r[j] < yo[j] || r[j] != r[j]) ? r[j] : yo[j];
            }
        }
    }
}

// Parallel versions split the outer index: every output element is computed by one task, in the serial order.
enum { PAR_MIN = 1 << 15 };

DL_MULTIVERSION static void softmax_serial(int log, long outer, long n, long inner, const float *x, float *y);
static void softmax_backward_serial(int log, long outer, long n, long inner, const float *y, const float *gy, float *gx);

typedef struct {
    int op;
    long outer, n, inner, per;
    const float *x, *y2;
    float *y;
} red_job;

static void reduce_task(void *ctx, long t) {
    const red_job *j = ctx;
    const long o0 = t * j->per, o1 = o0 + j->per < j->outer ? o0 + j->per : j->outer;
    reduce_serial(j->op, o1 - o0, j->n, j->inner, j->x + o0 * j->n * j->inner, j->y + o0 * j->inner);
}

static void softmax_task(void *ctx, long t) {
    const red_job *j = ctx;
    const long o0 = t * j->per, o1 = o0 + j->per < j->outer ? o0 + j->per : j->outer, block = j->n * j->inner;
    softmax_serial(j->op, o1 - o0, j->n, j->inner, j->x + o0 * block, j->y + o0 * block);
}

static void softmax_backward_task(void *ctx, long t) {
    const red_job *j = ctx;
    const long o0 = t * j->per, o1 = o0 + j->per < j->outer ? o0 + j->per : j->outer, block = j->n * j->inner;
    softmax_backward_serial(j->op, o1 - o0, j->n, j->inner, j->x + o0 * block, j->y2 + o0 * block, j->y + o0 * block);
}

/// Threads and outer rows per task for an [outer, n, inner] job.
static int split_outer(long outer, long n, long inner, long *per) {
    const int t = outer >= 2 && outer * n * inner >= PAR_MIN ? dl_threads() : 1;
    *per = t > 1 ? (outer + 4 * t - 1) / (4 * t) : (outer > 0 ? outer : 1);
    return t;
}

void dl_reduce(int op, long outer, long n, long inner, const float *x, float *y) {
    red_job j = {op, outer, n, inner, 0, x, NULL, y};
    const int t = split_outer(outer, n, inner, &j.per);
    dl_parallel_for(t, (outer + j.per - 1) / j.per, reduce_task, &j);
}

void dl_softmax(int log, long outer, long n, long inner, const float *x, float *y) {
    red_job j = {log, outer, n, inner, 0, x, NULL, y};
    const int t = split_outer(outer, n, inner, &j.per);
    dl_parallel_for(t, (outer + j.per - 1) / j.per, softmax_task, &j);
}

void dl_softmax_backward(int log, long outer, long n, long inner, const float *y, const float *gy, float *gx) {
    red_job j = {log, outer, n, inner, 0, y, gy, gx};
    const int t = split_outer(outer, n, inner, &j.per);
    dl_parallel_for(t, (outer + j.per - 1) / j.per, softmax_backward_task, &j);
}

void dl_argreduce(int want_min, long outer, long n, long inner, const float *x, float *idx) {
    for (long o = 0; o < outer; o++)
        for (long j = 0; j < inner; j++) {
            const float *p = x + o * n * inner + j;
            long best = 0;
            float bv = p[0];
            for (long i = 1; i < n; i++) {
                float v = p[i * inner];
                if (want_min ? v < bv : v > bv) { bv = v; best = i; }
            }
            idx[o * inner + j] = (float)best;
        }
}

DL_MULTIVERSION static void softmax_serial(int log, long outer, long n, long inner, const float *x, float *y) {
    for (long o = 0; o < outer; o++)
        for (long j = 0; j < inner; j++) {
            const float *p = x + o * n * inner + j;
            float *q = y + o * n * inner + j;
            float m = -INFINITY;
            for (long i = 0; i < n; i++) m = p[i * inner] > m ? p[i * inner] : m;
            double s = 0;
            for (long i = 0; i < n; i++) { float e = expf(p[i * inner] - m); q[i * inner] = e; s += e; }
            if (log) { float ls = m + (float)logl(s); for (long i = 0; i < n; i++) q[i * inner] = p[i * inner] - ls; }
            else { float inv = (float)(1.0 / s); for (long i = 0; i < n; i++) q[i * inner] *= inv; }
        }
}

static void softmax_backward_serial(int log, long outer, long n, long inner, const float *y, const float *gy, float *gx) {
    for (long o = 0; o < outer; o++)
        for (long j = 0; j < inner; j++) {
            long base = o * n * inner + j;
            double s = 0;
            if (log) {
                for (long i = 0; i < n; i++) s += gy[base + i * inner];
                for (long i = 0; i < n; i++) gx[base + i * inner] = gy[base + i * inner] - expf(y[base + i * inner]) * (float)s;
            } else {
                for (long i = 0; i < n; i++) s += (double)gy[base + i * inner] * y[base + i * inner];
                for (long i = 0; i < n; i++) gx[base + i * inner] = y[base + i * inner] * (gy[base + i * inner] - (float)s);
            }
        }
}

void dl_scan(int prod, int reverse, long outer, long n, long inner, const float *x, float *y) {
    for (long o = 0; o < outer; o++)
        for (long j = 0; j < inner; j++) {
            long base = o * n * inner + j;
            float acc = prod ? 1.0f : 0.0f;
            for (long k = 0; k < n; k++) {
                long i = reverse ? n - 1 - k : k;
                float v = x[base + i * inner];
                acc = prod ? acc * v : acc + v;
                y[base + i * inner] = acc;
            }
        }
}
