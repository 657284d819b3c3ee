/*
 * sched.c -- the task scheduler: OpenMP threads over a list of tasks.
 *
 * One OpenMP parallel region per run, `num_threads` from the run's config
 * (never omp_set_num_threads), a dynamic schedule handing out one task at a
 * time.  Each thread owns one worker (cw__worker_t: its io and vm scratch)
 * for the whole run; only this file builds workers.  The first failing
 * task records its status and message under the run's mutex; every other
 * task then returns at once.  The submitting thread (OpenMP thread 0) calls
 * the poll callback between its tasks, so progress and cancellation need no
 * other thread to touch Python.
 *
 * A job (cw__job_run) is the one run skeleton every operation uses: plan
 * the threads in the memory budget (budget.c), begin the job's sources,
 * run its tasks, end the sources.
 *
 * After fork() in a process whose engine had started threads, GNU OpenMP's
 * thread pool is unusable in the child; runs there execute serially on the
 * calling thread.
 */
#include <fenv.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine_impl.h"

#define POLL_INTERVAL_NS 20000000LL /* 20 ms */

static _Atomic pid_t threads_pid; /* process that started OpenMP threads */
static _Thread_local int last_fpflags;
static _Thread_local int loop_flags;

void
cw__loop_flag(int flag)
{
    loop_flags |= flag;
}

int
cw_fp_flags(void)
{
    return last_fpflags;
}

void
cw_fp_flags_clear(void)
{
    last_fpflags = 0;
}

typedef struct run {
    _Atomic int status;
    _Atomic int fpflags;
    _Atomic int64_t done;
    pthread_mutex_t mu;
    char msg[1024];
    int64_t next_poll;
} run_t;

/* Start a thread's part of a run with clear floating-point flags... */
static void
fp_begin(void)
{
    feclearexcept(FE_ALL_EXCEPT);
    loop_flags = 0;
}

/* ...and add what it raised to the run's. */
static void
fp_end(run_t *run)
{
    int raised = fetestexcept(FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID);
    int f = ((raised & FE_DIVBYZERO) ? CW_FP_DIVBYZERO : 0) |
            ((raised & FE_OVERFLOW) ? CW_FP_OVERFLOW : 0) |
            ((raised & FE_UNDERFLOW) ? CW_FP_UNDERFLOW : 0) |
            ((raised & FE_INVALID) ? CW_FP_INVALID : 0) | loop_flags;
    if (f) {
        atomic_fetch_or(&run->fpflags, f);
    }
}

int
cw_default_threads(void)
{
#ifdef _OPENMP
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
record_failure(run_t *run, int rc)
{
    pthread_mutex_lock(&run->mu);
    if (atomic_load(&run->status) == CW_OK) {
        snprintf(run->msg, sizeof(run->msg), "%s", cw_errmsg());
        atomic_store(&run->status, rc);
    }
    pthread_mutex_unlock(&run->mu);
}

/* On the submitting thread only. */
static void
maybe_poll(run_t *run, const cw_config_t *cfg, int64_t ntasks, int force)
{
    if (cfg == NULL || cfg->poll == NULL) {
        return;
    }
    int64_t t = now_ns();
    if (!force && t < run->next_poll) {
        return;
    }
    run->next_poll = t + POLL_INTERVAL_NS;
    if (cfg->poll(cfg->poll_data, atomic_load(&run->done), ntasks) != 0) {
        cw__error(CW_ECANCEL, "cancelled");
        record_failure(run, CW_ECANCEL);
    }
}

void
cw__worker_init(cw__worker_t *w)
{
    cw__io_scratch_init(&w->io);
    memset(&w->vm, 0, sizeof(w->vm));
    w->vm.magic = CW__WORKER_MAGIC;
}

void
cw__worker_destroy(cw__worker_t *w)
{
    cw__vm_scratch_t *vm = &w->vm;
    for (int i = 0; i < CW__MAX_DEPTH; i++) {
        cw__free(vm->tiles[i]);
        for (int j = 0; j < 4; j++) {
            cw__free(vm->mm[i][j]);
        }
        for (int j = 0; j < vm->nstreams[i]; j++) {
            cw__cstream_free(&vm->streams[i][j]);
        }
        cw__free(vm->streams[i]);
    }
    for (int i = 0; i < CW__MAX_DEPTH; i++) {
        cw__free(vm->box[i]);
        cw__free(vm->blk[i]);
    }
    cw__free(vm->carry);
    cw__free(vm->red_slabs);
    cw__free(vm->red_stacks);
    cw__free(vm->arg_tile);
    cw__free(vm->bin_slabs);
    cw__free(vm->bin_sub);
    cw__free(vm->out_chunk);
    cw__io_scratch_destroy(&w->io);
    cw__worker_init(w);
}

static void
run_one(run_t *run, int64_t t, cw__task_fn fn, void *ctx, cw__worker_t *w)
{
    if (atomic_load_explicit(&run->status, memory_order_relaxed) < 0) {
        return;
    }
    int rc = fn(ctx, t, w);
    if (rc < 0) {
        record_failure(run, rc);
    }
    atomic_fetch_add_explicit(&run->done, 1, memory_order_relaxed);
}

/*
 * Run fn(ctx, t, worker) for t in [0, ntasks) on `nthreads` OpenMP threads
 * (dynamic schedule, one task at a time).  The first failure wins and the
 * remaining tasks are skipped; its message is copied to the calling
 * thread.  cfg->poll is called on the calling thread between tasks.
 */
static int
run_tasks(int64_t ntasks, int nthreads, cw__task_fn fn, void *ctx,
          const cw_config_t *cfg)
{
    run_t run;
    memset(&run, 0, sizeof(run));
    pthread_mutex_init(&run.mu, NULL);
    CW_STAT_ADD(runs, 1);
    run.next_poll = now_ns() + POLL_INTERVAL_NS;
    pid_t started = atomic_load(&threads_pid);
    if (started != 0 && started != getpid()) {
        nthreads = 1;
    }

    if (nthreads <= 1 || ntasks <= 1) {
        cw__worker_t w;
        cw__worker_init(&w);
        /* The caller's own flags are kept: save, clear, then restore. */
        fexcept_t saved;
        fegetexceptflag(&saved, FE_ALL_EXCEPT);
        fp_begin();
        for (int64_t t = 0; t < ntasks; t++) {
            maybe_poll(&run, cfg, ntasks, 0);
            run_one(&run, t, fn, ctx, &w);
        }
        fp_end(&run);
        fesetexceptflag(&saved, FE_ALL_EXCEPT);
        cw__worker_destroy(&w);
    }
    else {
#ifdef _OPENMP
        atomic_store(&threads_pid, getpid());
#pragma omp parallel num_threads(nthreads) default(none) \
    shared(run, ntasks, fn, ctx, cfg)
        {
            cw__worker_t w;
            cw__worker_init(&w);
            int master = omp_get_thread_num() == 0;
            fexcept_t saved;
            fegetexceptflag(&saved, FE_ALL_EXCEPT);
            fp_begin();
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < ntasks; t++) {
                if (master) {
                    maybe_poll(&run, cfg, ntasks, 0);
                }
                run_one(&run, t, fn, ctx, &w);
            }
            fp_end(&run);
            fesetexceptflag(&saved, FE_ALL_EXCEPT);
            cw__worker_destroy(&w);
        }
#else
        cw__worker_t w;
        cw__worker_init(&w);
        for (int64_t t = 0; t < ntasks; t++) {
            maybe_poll(&run, cfg, ntasks, 0);
            run_one(&run, t, fn, ctx, &w);
        }
        cw__worker_destroy(&w);
#endif
    }
    last_fpflags = atomic_load(&run.fpflags);
    int rc = atomic_load(&run.status);
    if (rc == CW_OK) {
        /* A last poll: a Ctrl-C during the final tasks still cancels. */
        maybe_poll(&run, cfg, ntasks, 1);
        rc = atomic_load(&run.status);
    }
    if (rc < 0) {
        cw__error_set_text(run.msg);
    }
    pthread_mutex_destroy(&run.mu);
    return rc;
}

int
cw__job_plan(const cw__job_t *job, const cw__budget_t *b, const cw_config_t *cfg,
             int *nthreads)
{
    return cw__budget_threads(b, cfg, job->ntasks, job->per_task, nthreads);
}

int
cw__job_exec(const cw__job_t *job, int nthreads, const cw_config_t *cfg)
{
    int rc = cw__sources_begin(job->sources, job->nsources);
    if (rc < 0) {
        return rc;
    }
    rc = run_tasks(job->ntasks, nthreads, job->task, job->ctx, cfg);
    cw__sources_end(job->sources, job->nsources);
    return rc;
}

int
cw__job_run(const cw__job_t *job, const cw__budget_t *b, const cw_config_t *cfg)
{
    int nthreads;
    CW_TRY_RET(cw__job_plan(job, b, cfg, &nthreads));
    return cw__job_exec(job, nthreads, cfg);
}
