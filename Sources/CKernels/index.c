// Layout and indexing kernels: strided copies, gather/scatter along an axis, index select/add, one-hot.
// Each walks the leading dimensions with an odometer and runs the last one as a flat inner loop over
// restrict pointers, so the compiler can vectorise the contiguous cases.
#include "dl_index.h"
#include <string.h>

void dl_copy_strided2(int ndim, const long *shape, const float *src, const long *ss, float *dst, const long *ds) {
    if (ndim == 0) { dst[0] = src[0]; return; }
    long inner = shape[ndim - 1], is = ss[ndim - 1], id = ds[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long pos[16] = {0}, os = 0, od = 0;
    for (long r = 0; r < outer; r++) {
        const float *restrict s = src + os;
        float *restrict o = dst + od;
        if (is == 1 && id == 1) memcpy(o, s, sizeof(float) * (size_t)inner);
        else if (id == 1) { for (long i = 0; i < inner; i++) o[i] = s[i * is]; }
        else if (is == 1) { for (long i = 0; i < inner; i++) o[i * id] = s[i]; }
        else { for (long i = 0; i < inner; i++) o[i * id] = s[i * is]; }
        for (int d = ndim - 2; d >= 0; d--) {
            pos[d]++; os += ss[d]; od += ds[d];
            if (pos[d] < shape[d]) break;
            os -= ss[d] * shape[d]; od -= ds[d] * shape[d]; pos[d] = 0;
        }
    }
}

// True when v is an integer in [0, limit). The range test comes first, so the cast never overflows.
static inline int valid_index(float v, long limit) {
    return v >= 0.0f && v < 1.0e15f && (float)(long)v == v && (long)v < limit;
}

long dl_index_check(long n, const float *restrict idx, long limit) {
    // A branch-free scan for a bad entry, then a second pass only when one exists.
    int bad = 0;
    for (long i = 0; i < n; i++) bad |= !valid_index(idx[i], limit);
    if (!bad) return -1;
    for (long i = 0; i < n; i++) if (!valid_index(idx[i], limit)) return i;
    return -1;
}

void dl_gather(int ndim, const long *shape, int axis, const float *x, const long *xs, const float *idx, float *out) {
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long xa = xs[axis], xl = axis == ndim - 1 ? 0 : xs[ndim - 1];
    long pos[16] = {0}, off = 0;
    for (long r = 0; r < outer; r++) {
        const float *restrict ir = idx + r * inner;
        const float *restrict xr = x + off;
        float *restrict o = out + r * inner;
        for (long i = 0; i < inner; i++) o[i] = xr[i * xl + (long)ir[i] * xa];
        for (int d = ndim - 2; d >= 0; d--) {
            long step = d == axis ? 0 : xs[d];
            pos[d]++; off += step;
            if (pos[d] < shape[d]) break;
            off -= step * shape[d]; pos[d] = 0;
        }
    }
}

void dl_scatter_add(int ndim, const long *shape, int axis, const float *src, const long *ss,
                    const float *idx, float *out, const long *os) {
    long inner = shape[ndim - 1], outer = 1;
    for (int d = 0; d < ndim - 1; d++) outer *= shape[d];
    if (inner == 0 || outer == 0) return;
    long oa = os[axis], ol = axis == ndim - 1 ? 0 : os[ndim - 1], sl = ss[ndim - 1];
    long pos[16] = {0}, offs = 0, offo = 0;
    for (long r = 0; r < outer; r++) {
        const float *restrict ir = idx + r * inner;
        const float *restrict sr = src + offs;
        float *restrict orow = out + offo;
        // Sequential on purpose: repeated indices must accumulate.
        for (long i = 0; i < inner; i++) orow[i * ol + (long)ir[i] * oa] += sr[i * sl];
        for (int d = ndim - 2; d >= 0; d--) {
            long step = d == axis ? 0 : os[d];
            pos[d]++; offs += ss[d]; offo += step;
            if (pos[d] < shape[d]) break;
            offs -= ss[d] * shape[d]; offo -= step * shape[d]; pos[d] = 0;
        }
    }
}

void dl_index_select(long outer, long n, long inner, const float *x, long k, const float *idx, float *out) {
    if (inner == 1) {  // selecting along the last axis: one element per index
        for (long o = 0; o < outer; o++) {
            const float *restrict s = x + o * n;
            float *restrict d = out + o * k;
            for (long j = 0; j < k; j++) d[j] = s[(long)idx[j]];
        }
        return;
    }
    for (long o = 0; o < outer; o++) {
        for (long j = 0; j < k; j++) {
            const float *restrict s = x + (o * n + (long)idx[j]) * inner;
            float *restrict d = out + (o * k + j) * inner;
            memcpy(d, s, sizeof(float) * (size_t)inner);
        }
    }
}

void dl_index_add(long outer, long n, long inner, float *gx, long k, const float *idx, const float *g) {
    if (inner == 1) {
        for (long o = 0; o < outer; o++) {
            float *restrict d = gx + o * n;
            const float *restrict s = g + o * k;
            for (long j = 0; j < k; j++) d[(long)idx[j]] += s[j];
        }
        return;
    }
    for (long o = 0; o < outer; o++) {
        for (long j = 0; j < k; j++) {
            float *restrict d = gx + (o * n + (long)idx[j]) * inner;
            const float *restrict s = g + (o * k + j) * inner;
            for (long i = 0; i < inner; i++) d[i] += s[i];
        }
    }
}

void dl_one_hot(long n, long classes, const float *restrict labels, float *restrict out) {
    memset(out, 0, sizeof(float) * (size_t)(n * classes));
    for (long i = 0; i < n; i++) out[i * classes + (long)labels[i]] = 1.0f;
}
