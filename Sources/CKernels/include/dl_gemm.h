#ifndef DL_GEMM_H
#define DL_GEMM_H

/// The engine's own single-precision GEMM for x86-64 CPUs with AVX-512F (BLIS/GotoBLAS design: packed A and B
/// panels sized for L1/L2, an 8×48 register-blocked micro-kernel, masked edges). Row-major, same contract as
/// `dl_sgemm`: C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C (beta = 0 ignores C's old contents, NaNs
/// included; alpha = 0 or K = 0 only scale C).
///
/// Threads split the columns (or, for narrow C, the rows) of C; every element of C is computed by the same
/// instruction sequence whatever the thread count (K is never split), so results are bit-identical for 1 and
/// 2 threads.

/// 1 when the native kernel is compiled in and this CPU supports AVX-512F; 0 otherwise (then the functions
/// below fall back to `dl_sgemm_fallback`).
int dl_gemm_native_available(void);

/// Native GEMM on up to `dl_gemm_native_threads()` threads.
void dl_sgemm_native(int transA, int transB, long M, long N, long K, float alpha,
                     const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// Native GEMM on up to `threads` threads (1 = the calling thread only).
void dl_sgemm_native_threaded(int threads, int transA, int transB, long M, long N, long K, float alpha,
                              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// Threads used by `dl_sgemm_native` (default 1; `dl_blas_set_threads` sets it too).
void dl_gemm_native_set_threads(int n);
int dl_gemm_native_threads(void);

/// Single-thread peak of 512-bit fused multiply-adds in GFLOP/s (a register-only loop); 0 without AVX-512.
double dl_peak_fma512_gflops(long iterations);

/// Tiles the calling thread's most recent native GEMM was cut into for the thread pool: 1 when it ran on the caller
/// alone, 0 when the kernel was not used (empty product, or no AVX-512). For tests.
int dl_gemm_native_last_tiles(void);

#endif
