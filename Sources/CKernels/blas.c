// Run-time BLAS loading: the engine builds and runs with no BLAS installed and uses one when present.
#include "dl_blas.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static sgemm_fn g_sgemm = NULL;
static set_threads_fn g_set_threads = NULL;
static const char *g_name = "fallback";
static char g_path[512] = "";
static char g_config[256] = "";
static int g_force_fallback = 0;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int try_load(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return 0;
    sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!f) { dlclose(h); return 0; }
    g_sgemm = f;
    g_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    get_config_fn cfg = (get_config_fn)dlsym(h, "openblas_get_config");
    strncpy(g_path, path, sizeof g_path - 1);
    if (cfg) {
        snprintf(g_config, sizeof g_config, "%s", cfg());
        g_name = g_config;
    } else if (strstr(path, "Accelerate")) {
        g_name = "Accelerate";
    } else {
        g_name = "cblas";
    }
    return 1;
}

static void load_blas(void) {
    const char *env = getenv("DIFFUSIONLAB_BLAS");
    if (env && strcmp(env, "none") == 0) return;
    if (env && *env && try_load(env)) return;
    static const char *candidates[] = {
#ifdef __APPLE__
        "/System/Library/Frameworks/Accelerate.framework/Accelerate",
#endif
        "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libcblas.so.3", "libblas.so.3",
        "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", NULL,
    };
    for (int i = 0; candidates[i]; i++)
        if (try_load(candidates[i])) return;
}

const char *dl_blas_name(void) { pthread_once(&g_once, load_blas); return g_force_fallback ? "fallback" : g_name; }
const char *dl_blas_path(void) { pthread_once(&g_once, load_blas); return g_force_fallback ? "" : g_path; }
int dl_blas_set_threads(int n) {
    pthread_once(&g_once, load_blas);
    if (!g_set_threads) return 0;
    g_set_threads(n);
    return 1;
}
void dl_blas_force_fallback(int on) { g_force_fallback = on; }

void dl_sgemm(int transA, int transB, long M, long N, long K, float alpha,
              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    pthread_once(&g_once, load_blas);
    if (M == 0 || N == 0) return;
    if (g_sgemm && !g_force_fallback && K > 0) {
        g_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, (int)M, (int)N, (int)K,
                alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    dl_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Portable fallback: packs op(B) into a contiguous K×N panel, then streams rows of C (vectorisable inner loop).
void dl_sgemm_fallback(int transA, int transB, long M, long N, long K, float alpha,
                       const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    for (long i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) memset(c, 0, sizeof(float) * (size_t)N);
        else if (beta != 1.0f) for (long j = 0; j < N; j++) c[j] *= beta;
    }
    if (K == 0) return;
    const long KB = 256;
    float *panel = (float *)malloc(sizeof(float) * (size_t)(KB * N));
    for (long k0 = 0; k0 < K; k0 += KB) {
        long kb = K - k0 < KB ? K - k0 : KB;
        for (long k = 0; k < kb; k++)
            for (long j = 0; j < N; j++)
                panel[k * N + j] = transB ? B[j * ldb + (k0 + k)] : B[(k0 + k) * ldb + j];
        for (long i = 0; i < M; i++) {
            float *restrict c = C + i * ldc;
            for (long k = 0; k < kb; k++) {
                float a = alpha * (transA ? A[(k0 + k) * lda + i] : A[i * lda + (k0 + k)]);
                const float *restrict p = panel + k * N;
                for (long j = 0; j < N; j++) c[j] += a * p[j];
            }
        }
    }
    free(panel);
}
