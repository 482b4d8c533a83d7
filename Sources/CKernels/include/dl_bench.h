#ifndef DL_BENCH_H
#define DL_BENCH_H
/// Measures the single-thread peak of fused multiply-add throughput in GFLOP/s (a register-only loop).
double dl_peak_fma_gflops(long iterations);
/// Monotonic clock in seconds.
double dl_now(void);
/// Peak resident set size of this process in bytes (0 when unknown).
long dl_peak_rss_bytes(void);
#endif
