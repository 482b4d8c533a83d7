#ifndef DL_BLAS_H
#define DL_BLAS_H
#include <stddef.h>

/// Row-major single-precision GEMM: C = alpha * op(A) op(B) + beta * C.
/// On x86-64 CPUs with AVX-512 the engine's own kernel (dl_gemm.h) runs every shape (it beats OpenBLAS-Haswell on
/// all the shape classes measured); otherwise dispatches to the BLAS found at run time (OpenBLAS, Accelerate, any libblas with cblas_sgemm),
/// or to a portable blocked fallback when none is present. The environment variable DIFFUSIONLAB_GEMM forces a
/// path: native, openblas (the loaded BLAS), fallback, or auto (the default).
void dl_sgemm(int transA, int transB, long M, long N, long K, float alpha,
              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// The loaded BLAS alone, whatever the path chosen (for benchmarks); returns 0, doing nothing, when none is loaded.
int dl_sgemm_blas(int transA, int transB, long M, long N, long K, float alpha,
                  const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// The portable fallback, exposed so tests can compare it with the BLAS path.
void dl_sgemm_fallback(int transA, int transB, long M, long N, long K, float alpha,
                       const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// Description of the GEMM in use ("native AVX-512 GEMM (OpenBLAS 0.3.21 ... loaded, ...)", "OpenBLAS 0.3.21 ...",
/// "Accelerate", "fallback").
const char *dl_blas_name(void);
/// The GEMM path chosen: "auto" (the native kernel, with a BLAS also loaded), "native" (forced, or no BLAS found),
/// "openblas" (the loaded BLAS, whatever it is), or "fallback".
const char *dl_gemm_path(void);
/// Path of the loaded library, or "" for the fallback.
const char *dl_blas_path(void);
/// Sets the threads of the native GEMM and of the BLAS when the library exposes a setter; returns 1 if either
/// takes the setting.
int dl_blas_set_threads(int n);
/// Forces the fallback (for tests and benchmarks); pass 0 to restore the loaded BLAS.
void dl_blas_force_fallback(int on);

#endif
