/*
 * engine_impl.h -- internals of the engine: selection geometry, the task
 * scheduler and store jobs.
 */
#ifndef CW_BUILDING_ENGINE
#error "engine_impl.h is internal to the engine layer"
#endif
#ifndef CW_ENGINE_IMPL_H
#define CW_ENGINE_IMPL_H

#include "chunkwise.h"
#include "storage_impl.h"

/* Check a selection against a source: rank, steps, bounds. */
int cw__sel_check(const cw_source_t *src, const cw_sel_t *sel);

/* Flag a condition (CW_FP_*) from inside a loop on a worker thread; the
 * run reports it with cw_fp_flags. */
void cw__loop_flag(int flag);

/* One unit of scheduled work; returns a status. */
typedef int (*cw__task_fn)(void *ctx, int64_t task, cw__scratch_t *s);

/*
 * Choose the thread count for `ntasks` tasks of `per_task` bytes each under
 * cfg->memory_limit.  CW_EBUDGET when even one task does not fit.
 */
int cw__plan_threads(const cw_config_t *cfg, int64_t ntasks, size_t per_task,
                     int *nthreads);

/*
 * Run fn(ctx, t, scratch) for t in [0, ntasks) on `nthreads` OpenMP threads
 * (dynamic schedule, one task at a time).  The first failure wins and the
 * remaining tasks are skipped; its message is copied to the calling
 * thread.  cfg->poll is called on the calling thread between tasks.
 */
int cw__run_tasks(int64_t ntasks, int nthreads, cw__task_fn fn, void *ctx,
                  const cw_config_t *cfg);

/*
 * A store job: what cw__store_run needs to know about the array it writes.
 * fill() writes the region [off, off+count) of the array (output axes) to
 * dst with byte strides; working_set() is its per-thread memory for tiles
 * of `chunks`; begin/end bracket the run (open files).
 */
typedef struct cw__store_job {
    int ndim;
    int64_t shape[CW_MAXDIM];
    int64_t chunks[CW_MAXDIM];   /* default chunk shape of the output */
    cw_dtype_t dtype;
    void *ctx;
    int (*fill)(void *ctx, const int64_t *off, const int64_t *count, char *dst,
                const int64_t *strides, cw__scratch_t *s);
    size_t (*working_set)(void *ctx, const int64_t *chunks);
    int (*begin)(void *ctx);
    void (*end)(void *ctx);
    /* Optional: after fill(), change the chunk in place (accumulation). */
    int (*post)(void *ctx, const int64_t *off, const int64_t *count, char *buf,
                const int64_t *strides, cw__scratch_t *s);
    /* Chunks along `axis` are written in order by one task (post() may
     * carry state from one to the next, in the scratch). */
    bool sequential;
    int axis;
    /* Optional, instead of fill(): compute the region and feed the
     * chunk's bytes in order (padding included, with the chunk's C strides
     * `strides`) to the sink's chunk writer, a slab at a time; the writer
     * pads what follows the last byte fed. */
    int (*fill_stream)(void *ctx, const int64_t *off, const int64_t *count,
                       const int64_t *strides, cw__chunk_writer_t *w,
                       cw__scratch_t *s);
} cw__store_job_t;

/* Stream a job into a new HDF5 dataset through its sink (see cw_store). */
int cw__store_run(const cw__store_job_t *job, const char *path, const char *name,
                  const cw_store_opts_t *opts, const cw_config_t *cfg);

#endif
