#ifndef DL_BLAS_H
#define DL_BLAS_H
#include <stddef.h>

/// Row-major single-precision GEMM: C = alpha * op(A) op(B) + beta * C.
/// Dispatches to the BLAS found at run time (OpenBLAS, Accelerate, any libblas with cblas_sgemm),
/// or to a portable blocked fallback when none is present.
void dl_sgemm(int transA, int transB, long M, long N, long K, float alpha,
              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// The portable fallback, exposed so tests can compare it with the BLAS path.
void dl_sgemm_fallback(int transA, int transB, long M, long N, long K, float alpha,
                       const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// Name of the BLAS in use ("OpenBLAS 0.3.21 ...", "Accelerate", "fallback").
const char *dl_blas_name(void);
/// Path of the loaded library, or "" for the fallback.
const char *dl_blas_path(void);
/// Sets BLAS threads when the library exposes a setter; returns 1 if it did.
int dl_blas_set_threads(int n);
/// Forces the fallback (for tests and benchmarks); pass 0 to restore the loaded BLAS.
void dl_blas_force_fallback(int on);

#endif
