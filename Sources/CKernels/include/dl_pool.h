#ifndef DL_POOL_H
#define DL_POOL_H

/// A small pool of persistent worker threads shared by the native GEMM and the other parallel kernels.
///
/// dl_parallel_for runs task(ctx, i) for every i in [0, count) on the calling thread and up to threads − 1 workers,
/// which take tasks one at a time from a shared ticket (a worker the OS does not schedule holds up only the task
/// it took), and returns when all are done. Tasks must be independent; results that depend only on the task index,
/// never on the thread, stay bit-identical for any thread count. A call made while the pool is busy (from another
/// thread, or from inside a task) runs all its tasks on the calling thread. Returns 1 when the pool took part,
/// 0 when every task ran on the caller.
typedef void (*dl_task_fn)(void *ctx, long index);
int dl_parallel_for(int threads, long count, dl_task_fn task, void *ctx);

/// Threads the engine's parallel kernels use by default (set with dl_blas_set_threads / Engine.threads).
int dl_threads(void);

#endif
