// The worker pool behind dl_parallel_for (see dl_pool.h).
//
// The ticket packs (generation << 40 | next task << 20 | task count). The job's fields are written before the
// ticket is published (release) and read only after a task is claimed from it (acquire), and the caller returns only
// when every claimed task is done, so a late worker never reads a stale job.
#include "dl_pool.h"
#include "dl_gemm.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#include <x86intrin.h>
#endif

enum { MAX_WORKERS = 7 };
static const long MAX_COUNT = (1L << 20) - 1;

int dl_threads(void) { return dl_gemm_native_threads(); }

static pthread_mutex_t g_pool_busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_pool_wake = PTHREAD_COND_INITIALIZER;
static int g_workers = 0;                   // workers started (guarded by g_pool_busy)
static int g_sleepers = 0;                  // workers blocked on g_pool_wake (guarded by g_pool_lock)
static uint32_t g_generation = 0;           // last generation published (guarded by g_pool_busy)
static _Atomic uint64_t g_ticket = 0;
static atomic_long g_done = 0;              // tasks finished in the current generation
static dl_task_fn g_task;                   // the current job
static void *g_ctx;
static long g_base;                         // index of task 0 of this round
static atomic_int g_slots = 0;              // workers still welcome in the current generation

static inline uint32_t ticket_gen(uint64_t t) { return (uint32_t)(t >> 40); }
static inline long ticket_next(uint64_t t) { return (long)((t >> 20) & 0xFFFFF); }
static inline long ticket_count(uint64_t t) { return (long)(t & 0xFFFFF); }

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/// Runs tasks of generation `gen` until none is left.
static void run_tasks(uint32_t gen) {
    uint64_t t = atomic_load_explicit(&g_ticket, memory_order_acquire);
    for (;;) {
        if (ticket_gen(t) != gen || ticket_next(t) >= ticket_count(t)) return;
        if (!atomic_compare_exchange_weak_explicit(&g_ticket, &t, t + (1u << 20), memory_order_acq_rel, memory_order_acquire))
            continue;
        g_task(g_ctx, g_base + ticket_next(t));
        atomic_fetch_add_explicit(&g_done, 1, memory_order_acq_rel);
        t = atomic_load_explicit(&g_ticket, memory_order_acquire);
    }
}

/// Wait this long (≈ 100 µs) for new work before sleeping.
static const uint64_t SPIN_NS = 100000;

static void *worker_main(void *arg) {
    (void)arg;
    uint32_t seen = 0;
    for (;;) {
        uint64_t t;
        const uint64_t start = now_ns();
        unsigned polls = 0;
        while (ticket_gen(t = atomic_load_explicit(&g_ticket, memory_order_acquire)) == seen) {
            // Spin briefly, then poll with sched_yield (cheap on an idle core, and it lets other processes run on
            // a busy machine), then sleep.
            if (++polls < 256) { cpu_relax(); continue; }
            const uint64_t elapsed = now_ns() - start;
            if (elapsed < SPIN_NS / 8) { polls = 0; cpu_relax(); continue; }
            if (elapsed < SPIN_NS) { sched_yield(); continue; }
            pthread_mutex_lock(&g_pool_lock);
            g_sleepers++;
            while (ticket_gen(atomic_load_explicit(&g_ticket, memory_order_acquire)) == seen)
                pthread_cond_wait(&g_pool_wake, &g_pool_lock);
            g_sleepers--;
            pthread_mutex_unlock(&g_pool_lock);
        }
        seen = ticket_gen(t);
        if (atomic_fetch_sub_explicit(&g_slots, 1, memory_order_acq_rel) > 0) run_tasks(seen);
    }
    return NULL;
}

/// One round of at most MAX_COUNT tasks on the pool (the caller holds g_pool_busy).
static void run_round(int helpers, long base, long count) {
    g_base = base;
    atomic_store_explicit(&g_slots, helpers, memory_order_relaxed);
    atomic_store_explicit(&g_done, 0, memory_order_relaxed);
    g_generation = (g_generation + 1) & 0xFFFFFF;
    if (g_generation == 0) g_generation = 1;
    const uint32_t gen = g_generation;
    atomic_store_explicit(&g_ticket, (uint64_t)gen << 40 | (uint64_t)count, memory_order_release);
    pthread_mutex_lock(&g_pool_lock);
    if (g_sleepers > 0) pthread_cond_broadcast(&g_pool_wake);
    pthread_mutex_unlock(&g_pool_lock);
    run_tasks(gen);
    for (int spins = 0; atomic_load_explicit(&g_done, memory_order_acquire) < count;)
        if (++spins < 4000) cpu_relax(); else sched_yield();
}

int dl_parallel_for(int threads, long count, dl_task_fn task, void *ctx) {
    if (count <= 0) return 0;
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads <= 1 || count == 1 || pthread_mutex_trylock(&g_pool_busy) != 0) {
        for (long i = 0; i < count; i++) task(ctx, i);
        return 0;
    }
    while (g_workers < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int ok = pthread_create(&t, &attr, worker_main, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        g_workers++;
    }
    if (g_workers == 0) {
        pthread_mutex_unlock(&g_pool_busy);
        for (long i = 0; i < count; i++) task(ctx, i);
        return 0;
    }
    g_task = task;
    g_ctx = ctx;
    for (long base = 0; base < count; base += MAX_COUNT)
        run_round(threads - 1, base, count - base < MAX_COUNT ? count - base : MAX_COUNT);
    pthread_mutex_unlock(&g_pool_busy);
    return 1;
}
