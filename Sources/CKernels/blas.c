// GEMM dispatch. The engine builds and runs with no BLAS installed and loads one at run time when present; on x86-64
// CPUs with AVX-512 its own kernel (gemm_avx512.c) takes every shape (faster than OpenBLAS on all we measured).
// DIFFUSIONLAB_GEMM forces a path: native, openblas (whatever BLAS was loaded), fallback, or auto (the default).
#include "dl_blas.h"
#include "dl_gemm.h"
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

enum { PATH_AUTO, PATH_NATIVE, PATH_BLAS, PATH_FALLBACK };
static int g_gemm_path = PATH_AUTO;
static char g_description[512] = "fallback";

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

static void choose_path(void) {
    load_blas();
    const char *env = getenv("DIFFUSIONLAB_GEMM");
    if (env && *env) {
        if (strcmp(env, "native") == 0) g_gemm_path = PATH_NATIVE;
        else if (strcmp(env, "openblas") == 0 || strcmp(env, "blas") == 0) g_gemm_path = PATH_BLAS;
        else if (strcmp(env, "fallback") == 0) g_gemm_path = PATH_FALLBACK;
        else if (strcmp(env, "auto") != 0)
            fprintf(stderr, "DIFFUSIONLAB_GEMM=%s not understood (auto, native, openblas, fallback); using auto\n", env);
    }
    const int native = dl_gemm_native_available();
    if (g_gemm_path == PATH_NATIVE && !native) g_gemm_path = PATH_AUTO;
    if (g_gemm_path == PATH_BLAS && !g_sgemm) g_gemm_path = PATH_FALLBACK;
    if (g_gemm_path == PATH_AUTO && !native) g_gemm_path = g_sgemm ? PATH_BLAS : PATH_FALLBACK;
    if (g_gemm_path == PATH_AUTO && !g_sgemm) g_gemm_path = PATH_NATIVE;
    switch (g_gemm_path) {
    case PATH_NATIVE:
        snprintf(g_description, sizeof g_description, "native AVX-512 GEMM%s", env && strcmp(env, "native") == 0 ? " (DIFFUSIONLAB_GEMM=native)" : "");
        break;
    case PATH_AUTO:
        snprintf(g_description, sizeof g_description, "native AVX-512 GEMM (%s loaded, used with DIFFUSIONLAB_GEMM=openblas)", g_name);
        break;
    case PATH_BLAS:
        snprintf(g_description, sizeof g_description, "%s", g_name);
        break;
    default:
        snprintf(g_description, sizeof g_description, "fallback");
    }
}

const char *dl_blas_name(void) { pthread_once(&g_once, choose_path); return g_force_fallback ? "fallback" : g_description; }
const char *dl_blas_path(void) {
    pthread_once(&g_once, choose_path);
    return g_force_fallback || g_gemm_path == PATH_NATIVE || g_gemm_path == PATH_FALLBACK ? "" : g_path;
}
const char *dl_gemm_path(void) {
    pthread_once(&g_once, choose_path);
    if (g_force_fallback) return "fallback";
    static const char *names[] = {"auto", "native", "openblas", "fallback"};
    return names[g_gemm_path];
}
int dl_blas_set_threads(int n) {
    pthread_once(&g_once, choose_path);
    dl_gemm_native_set_threads(n);
    if (!g_set_threads) return dl_gemm_native_available();
    g_set_threads(n);
    return 1;
}
void dl_blas_force_fallback(int on) { g_force_fallback = on; }

void dl_sgemm(int transA, int transB, long M, long N, long K, float alpha,
              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    pthread_once(&g_once, choose_path);
    if (M == 0 || N == 0) return;
    if (!g_force_fallback) {
        const int path = g_gemm_path;
        // Auto: on AVX-512 CPUs the native kernel beats OpenBLAS 0.3.21 (OPENBLAS_CORETYPE=Haswell, AVX2) on every
        // shape class measured by `diffusion bench engine` (1.7–2× on W1/W2/attention/square shapes, 3–9× on narrow
        // ones), so it takes every shape; elsewhere auto means the loaded BLAS.
        if (path == PATH_NATIVE || path == PATH_AUTO) {
            dl_sgemm_native(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
        if (path == PATH_BLAS && K > 0) {
            g_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, (int)M, (int)N, (int)K,
                    alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
            return;
        }
    }
    dl_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int dl_sgemm_blas(int transA, int transB, long M, long N, long K, float alpha,
                  const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    pthread_once(&g_once, choose_path);
    if (!g_sgemm) return 0;
    if (M == 0 || N == 0) return 1;
    if (K > 0)
        g_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, (int)M, (int)N, (int)K,
                alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    else
        dl_sgemm_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return 1;
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
