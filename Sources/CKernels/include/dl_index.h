#ifndef DL_INDEX_H
#define DL_INDEX_H

// Layout and indexing kernels for the shape and index ops (concat, pad, flip, gather, scatter, one-hot).
// Every buffer holds float; shapes and strides count elements. Index buffers hold integers stored as float
// (the engine's convention) and are contiguous; callers validate them with dl_index_check first.
// Iteration spaces have at most 16 dimensions.

/// dst (strided) = src (strided) over `shape`. Either side may be any view (negative strides allowed).
void dl_copy_strided2(int ndim, const long *shape, const float *src, const long *src_strides,
                      float *dst, const long *dst_strides);

/// Position of the first of n indices that is not an integer in [0, limit), or -1 when all are valid.
long dl_index_check(long n, const float *idx, long limit);

/// torch.gather over the index shape: out[p] = x[p with coordinate `axis` replaced by idx[p]].
/// x is read through its strides; idx and out are contiguous with the index shape.
void dl_gather(int ndim, const long *shape, int axis, const float *x, const long *x_strides,
               const float *idx, float *out);

/// torch.scatter_add over the index shape: out[p with coordinate `axis` replaced by idx[p]] += src[p].
/// src is read through its strides (its shape may exceed the index shape); out is written through its strides.
void dl_scatter_add(int ndim, const long *shape, int axis, const float *src, const long *src_strides,
                    const float *idx, float *out, const long *out_strides);

/// out[o, j, i] = x[o, idx[j], i] for contiguous x of [outer, n, inner] and out of [outer, k, inner].
void dl_index_select(long outer, long n, long inner, const float *x, long k, const float *idx, float *out);

/// gx[o, idx[j], i] += g[o, j, i]: the adjoint of dl_index_select (repeated indices accumulate).
void dl_index_add(long outer, long n, long inner, float *gx, long k, const float *idx, const float *g);

/// out[i, c] = 1 when c == labels[i], else 0, for a contiguous [n, classes] out.
void dl_one_hot(long n, long classes, const float *labels, float *out);

#endif
