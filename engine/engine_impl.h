/*
 * engine_impl.h -- internals of the engine: selection geometry, the
 * per-thread worker (storage's io scratch and the engine's vm scratch),
 * the memory budget, the task scheduler and its jobs, and store jobs.
 */
#ifndef CW_BUILDING_ENGINE
#error "engine_impl.h is internal to the engine layer"
#endif
#ifndef CW_ENGINE_IMPL_H
#define CW_ENGINE_IMPL_H

#include <assert.h>
#include <stddef.h>

#include "chunkwise.h"
#include "storage_impl.h"

/* Check a selection against a source: rank, steps, bounds. */
int cw__sel_check(const cw_source_t *src, const cw_sel_t *sel);

/* Flag a condition (CW_FP_*) from inside a loop on a worker thread; the
 * run reports it with cw_fp_flags. */
void cw__loop_flag(int flag);

/* Programs nest (a program's inputs may be programs or products): each
 * level has its own buffers. */
#define CW__MAX_DEPTH 8

/*
 * What evaluating programs needs, per thread, beside the storage layer's
 * cw__io_scratch_t.  Buffers grow only and are reused for every task of a
 * run; each holds only what its name says.
 */
typedef struct cw__vm_scratch {
    uint32_t magic; /* CW__WORKER_MAGIC: see cw__worker_of */
    int depth;      /* nesting level now being evaluated */
    /* A program's input tiles and registers (its layout), by depth. */
    void *tiles[CW__MAX_DEPTH];
    size_t tiles_cap[CW__MAX_DEPTH];
    /* The open chunk streams of a program's inputs, by depth
     * (CW__MAX_VALUES each once allocated). */
    cw__cstream_t *streams[CW__MAX_DEPTH];
    int nstreams[CW__MAX_DEPTH];
    /* A strided read of a program's region, by depth: a program read as a
     * source may read another one inside it. */
    void *box[CW__MAX_DEPTH];
    size_t box_cap[CW__MAX_DEPTH];
    /* A matrix product's blocks, by depth: rows of A, columns of B, the
     * accumulated product, and a block before its conversion. */
    void *mm[CW__MAX_DEPTH][4];
    size_t mm_cap[CW__MAX_DEPTH][4];
    /* A block function's argument tiles and output block, by depth. */
    void *blk[CW__MAX_DEPTH];
    size_t blk_cap[CW__MAX_DEPTH];
    void *carry; /* the row an accumulation carries */
    size_t carry_cap;
    void *red_slabs; /* one slab of each reduction's values */
    size_t red_slabs_cap;
    void *red_stacks; /* the reductions' pairwise stacks */
    size_t red_stacks_cap;
    void *arg_tile; /* an arg-reduction's tile of values */
    size_t arg_tile_cap;
    void *bin_slabs; /* one slab of a bincount's indices (and weights) */
    size_t bin_slabs_cap;
    void *bin_sub; /* a bincount task's interleaved counts */
    size_t bin_sub_cap;
    void *out_chunk; /* the output chunk a store gathers
                        (or one slab of it, streaming) */
    size_t out_chunk_cap;
} cw__vm_scratch_t;

/* One thread's scratch, for storage and for the engine.  Built only with
 * cw__worker_init (sched.c): by the scheduler for each thread of a run,
 * and by store.c for the one value of an unchunked (0-d) dataset. */
typedef struct cw__worker {
    cw__io_scratch_t io;
    cw__vm_scratch_t vm;
} cw__worker_t;

#define CW__WORKER_MAGIC 0x63777772u /* "cwwr" */

/* C[m x n] += A[m x k] @ B[k x n], C-contiguous (gemm.c). */
void cw__gemm_f64(const double *A, const double *B, double *C, int64_t m, int64_t k,
                  int64_t n);
void cw__gemm_f32(const float *A, const float *B, float *C, int64_t m, int64_t k,
                  int64_t n);

void cw__worker_init(cw__worker_t *w);
void cw__worker_destroy(cw__worker_t *w);

/*
 * The worker an io scratch belongs to.  Sources implemented in the engine
 * (exprsrc.c, matmul.c) are called by storage (the region read,
 * concatenations) with only the io scratch, yet evaluate programs and need
 * the vm scratch beside it.  Valid because every io scratch handed to a
 * source is the `io` member of a cw__worker_t: the engine creates io
 * scratch only inside workers (cw__worker_init, which sets `magic`,
 * checked here in builds with assertions).
 */
static inline cw__worker_t *
cw__worker_of(cw__io_scratch_t *io)
{
    cw__worker_t *w = (cw__worker_t *)(void *)((char *)io - offsetof(cw__worker_t, io));
    assert(w->vm.magic == CW__WORKER_MAGIC);
    return w;
}

/* One unit of scheduled work; returns a status. */
typedef int (*cw__task_fn)(void *ctx, int64_t task, cw__worker_t *w);

/*
 * The memory budget of a run (budget.c): `limit` bytes in all, of which
 * `reserved` are held for the whole run (partial results); tasks share the
 * rest.
 */
typedef struct cw__budget {
    int64_t limit, reserved;
} cw__budget_t;

/* cfg->memory_limit, or the default when it is not set. */
void cw__budget_init(cw__budget_t *b, const cw_config_t *cfg);
/*
 * Reserve `bytes` held for the whole run.  Everything reserved may take
 * half of the limit; beyond that CW_EBUDGET, with the message
 * "<what> take X MiB, more than half of memory_limit" and, when `hint` is
 * not NULL, " (L MiB); <hint>".
 */
int cw__budget_reserve(cw__budget_t *b, int64_t bytes, const char *what,
                       const char *hint);
/*
 * Choose the thread count for `ntasks` tasks of `per_task` bytes each in
 * what the budget has left (cfg->threads, or one per core, at most).
 * CW_EBUDGET when even one task does not fit.
 */
int cw__budget_threads(const cw__budget_t *b, const cw_config_t *cfg, int64_t ntasks,
                       size_t per_task, int *nthreads);
/*
 * Bytes one store task holds: the output chunk, what the sink needs to
 * encode it (its scratch_bytes), the filler's own working set and the row
 * an accumulation carries to the next chunk (each 0 where there is none).
 */
size_t cw__budget_store_task(size_t chunk, size_t sink, size_t fill, size_t carry);

/*
 * A run (sched.c): `ntasks` tasks of `per_task` bytes each over sources
 * that are begun before the first task and ended after the last.  Tasks
 * run on OpenMP threads, one at a time each (dynamic schedule); the first
 * failure wins, the remaining tasks are skipped and its message is copied
 * to the calling thread; cfg->poll is called on the calling thread
 * between tasks.
 */
typedef struct cw__job {
    int64_t ntasks;
    size_t per_task;
    int nsources;
    cw_source_t *const *sources; /* borrowed */
    cw__task_fn task;
    void *ctx;
} cw__job_t;

/* Plan the threads, begin the sources (unwinding on failure), run the
 * tasks, end the sources. */
int cw__job_run(const cw__job_t *job, const cw__budget_t *b, const cw_config_t *cfg);
/* The two halves of cw__job_run, for a caller that has work of its own
 * between planning and running (allocating what the plan allowed,
 * creating an output): plan the threads in what the budget has left... */
int cw__job_plan(const cw__job_t *job, const cw__budget_t *b, const cw_config_t *cfg,
                 int *nthreads);
/* ...then begin the sources, run the tasks on `nthreads`, end them. */
int cw__job_exec(const cw__job_t *job, int nthreads, const cw_config_t *cfg);

/*
 * A store job: what cw__store_run needs to know about the array it writes.
 * fill() writes the region [off, off+count) of the array (output axes) to
 * dst with byte strides; working_set() is its per-thread memory for tiles
 * of `chunks`; `sources` are begun for the run (open files) and ended
 * after it.
 */
typedef struct cw__store_job {
    int ndim;
    int64_t shape[CW_MAXDIM];
    int64_t chunks[CW_MAXDIM]; /* default chunk shape of the output */
    cw_dtype_t dtype;
    void *ctx;
    int (*fill)(void *ctx, const int64_t *off, const int64_t *count, char *dst,
                const int64_t *strides, cw__worker_t *w);
    size_t (*working_set)(void *ctx, const int64_t *chunks);
    int nsources;
    cw_source_t *const *sources; /* borrowed */
    /* Optional: after fill(), change the chunk in place (accumulation). */
    int (*post)(void *ctx, const int64_t *off, const int64_t *count, char *buf,
                const int64_t *strides, cw__worker_t *w);
    /* Chunks along `axis` are written in order by one task (post() may
     * carry state from one to the next, in w->vm.carry). */
    bool sequential;
    int axis;
    /* Optional, instead of fill(): compute the region and feed the
     * chunk's bytes in order (padding included, with the chunk's C strides
     * `strides`) to the sink's chunk writer, a slab at a time; the writer
     * pads what follows the last byte fed. */
    int (*fill_stream)(void *ctx, const int64_t *off, const int64_t *count,
                       const int64_t *strides, cw__chunk_writer_t *cw, cw__worker_t *w);
} cw__store_job_t;

/* Stream a job into a new HDF5 dataset through its sink (see cw_store). */
int cw__store_run(const cw__store_job_t *job, const char *path, const char *name,
                  const cw_store_opts_t *opts, const cw_config_t *cfg);

#endif
