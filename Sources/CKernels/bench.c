// Benchmark helpers: a register-resident FMA loop for the machine's peak, a clock, and peak RSS.
#include "dl_bench.h"
#include <time.h>
#include <sys/resource.h>

typedef float v8 __attribute__((vector_size(32)));

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
#endif
double dl_peak_fma_gflops(long iterations) {
    v8 acc[12];
    v8 a = {1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f};
    v8 b = {0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f};
    for (int i = 0; i < 12; i++) acc[i] = (v8){0};
    double t0 = dl_now();
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 12; i++) acc[i] = acc[i] * a + b;
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]), "+x"(acc[4]), "+x"(acc[5]));
    }
    double dt = dl_now() - t0;
    float sink = 0;
    for (int i = 0; i < 12; i++) sink += acc[i][0];
    volatile float keep = sink;
    (void)keep;
    return (double)iterations * 12 * 8 * 2 / dt / 1e9;
}

double dl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long dl_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#ifdef __APPLE__
    return ru.ru_maxrss;
#else
    return ru.ru_maxrss * 1024L;
#endif
}
