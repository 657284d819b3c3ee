/*
 * store.c -- stream an array into a new chunked HDF5 dataset.
 *
 * One task per output chunk: fill the chunk's region (a region filler:
 * cw__read_region for a selection, the expression VM for a program) and
 * hand the decoded chunk, whole or as bytes in order, to the sink, which
 * encodes and writes it in the worker thread (storage/h5/sink.c).  Memory
 * in flight is threads x (output chunk + the sink's scratch + the filler's
 * own working set), planned against memory_limit before anything runs.
 */
#include <string.h>

#include "engine_impl.h"

typedef struct store_ctx {
    const cw__store_job_t *job;
    cw__sink_t *sink;
    int64_t nchunks[CW_MAXDIM];
    int64_t cstrides[CW_MAXDIM]; /* C strides of one output chunk */
} store_ctx_t;

/* Lend the program's input tiles (depth 0) to the sink's encoder as its
 * encode buffer while the chunk is written, and take them back after
 * (the second call undoes the first): the tiles are free once the chunk is
 * computed, and a thread then holds one buffer less, so a store's memory
 * is the output chunk plus the larger of tiles and encoding, not their
 * sum.  Only when they hold a whole chunk. */
static void
lend_tiles(cw__worker_t *w, size_t chunk_nbytes)
{
    if (w->vm.tiles_cap[0] >= chunk_nbytes && chunk_nbytes > 0) {
        cw__io_lend_enc(&w->io, &w->vm.tiles[0], &w->vm.tiles_cap[0]);
    }
}

/* Fill output chunk `off` (its `count` within the shape) and hand it to
 * the sink: as bytes in order when the job and the sink can stream, else
 * whole (after the job's post-processing) from w->vm.out_chunk. */
static int
write_chunk(store_ctx_t *ctx, const int64_t *off, const int64_t *count, cw__worker_t *w)
{
    cw__sink_t *k = ctx->sink;
    const cw_store_opts_t *o = &k->o;
    int rc;
    if (ctx->job->fill_stream && !ctx->job->post && k->streams) {
        /* Compress each slab of the chunk as it is computed: the chunk is
         * never held uncompressed. */
        cw__chunk_writer_t cw;
        CW_TRY(k->ops->stream_begin(k, off, &cw, &w->io));
        CW_TRY(ctx->job->fill_stream(ctx->job->ctx, off, count, ctx->cstrides, &cw, w));
        return k->ops->stream_end(&cw);
    }
    bool edge = false;
    for (int d = 0; d < o->ndim; d++) {
        edge = edge || count[d] < o->chunks[d];
    }
    cw__vm_scratch_t *vm = &w->vm;
    CW_TRY(cw__reserve(&vm->out_chunk, &vm->out_chunk_cap, k->chunk_nbytes));
    if (edge) {
        /* HDF5 stores edge chunks whole; pad with the fill value (0). */
        memset(vm->out_chunk, 0, k->chunk_nbytes);
    }
    CW_TRY(ctx->job->fill(ctx->job->ctx, off, count, vm->out_chunk, ctx->cstrides, w));
    if (ctx->job->post) {
        CW_TRY(
            ctx->job->post(ctx->job->ctx, off, count, vm->out_chunk, ctx->cstrides, w));
    }
    lend_tiles(w, k->chunk_nbytes);
    rc = k->ops->put_chunk(k, off, vm->out_chunk, &w->io);
    lend_tiles(w, k->chunk_nbytes);
fail:
    return rc;
}

/* Decompose chunk number `task` of the grid (skipping axis `skip`, -1 for
 * none) into its offset and extent. */
static void
chunk_at(const store_ctx_t *ctx, int64_t task, int skip, int64_t *off, int64_t *count)
{
    const cw_store_opts_t *o = &ctx->sink->o;
    cw__grid_cell(o->ndim, o->shape, o->chunks, ctx->nchunks, task, skip, off, count);
}

static int
store_task(void *vctx, int64_t task, cw__worker_t *w)
{
    store_ctx_t *ctx = vctx;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    chunk_at(ctx, task, -1, off, count);
    return write_chunk(ctx, off, count, w);
}

/* A column of chunks along the job's sequential axis, in order. */
static int
column_task(void *vctx, int64_t task, cw__worker_t *w)
{
    store_ctx_t *ctx = vctx;
    const cw_store_opts_t *o = &ctx->sink->o;
    int ax = ctx->job->axis;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    chunk_at(ctx, task, ax, off, count);
    for (int64_t k = 0; k < ctx->nchunks[ax]; k++) {
        off[ax] = k * o->chunks[ax];
        int64_t end = off[ax] + o->chunks[ax];
        count[ax] = (end < o->shape[ax] ? end : o->shape[ax]) - off[ax];
        int rc = write_chunk(ctx, off, count, w);
        if (rc < 0) {
            return rc;
        }
    }
    return CW_OK;
}

/* A dataset HDF5 does not chunk: a scalar, written plainly, or an empty
 * array, with nothing to write.  The sources are begun all the same. */
static int
write_unchunked(const store_ctx_t *ctx)
{
    const cw__store_job_t *job = ctx->job;
    cw__sink_t *k = ctx->sink;
    CW_TRY_RET(cw__sources_begin(job->sources, job->nsources));
    int rc = CW_OK;
    if (k->o.ndim == 0) {
        unsigned char value[8];
        cw__worker_t w;
        cw__worker_init(&w);
        int64_t zero[CW_MAXDIM] = {0}, one[CW_MAXDIM] = {0};
        rc = job->fill(job->ctx, zero, one, (char *)value, zero, &w);
        cw__worker_destroy(&w);
        if (rc == CW_OK) {
            rc = k->ops->put_all(k, value);
        }
    }
    cw__sources_end(job->sources, job->nsources);
    return rc;
}

int
cw__store_run(const cw__store_job_t *job, const char *path, const char *name,
              const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    store_ctx_t ctx;
    cw__sink_t *sink = NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.job = job;
    cw_store_opts_t o = *opts;
    o.ndim = job->ndim;
    int64_t ntasks = 1;
    for (int d = 0; d < o.ndim; d++) {
        o.shape[d] = job->shape[d];
        if (o.chunks[d] <= 0) {
            o.chunks[d] = job->chunks[d] > 0 ? job->chunks[d] : 1;
        }
        if (o.chunks[d] > o.shape[d] && o.shape[d] > 0) {
            o.chunks[d] = o.shape[d];
        }
        ctx.nchunks[d] = (o.shape[d] + o.chunks[d] - 1) / o.chunks[d];
        if (!cw__mul_ok(ntasks, ctx.nchunks[d], &ntasks)) {
            return cw__error(CW_EINVAL, "chunk shape too large");
        }
    }
    /* The sink checks the options; it creates nothing before open. */
    CW_TRY(cw__sink_new_hdf5(path, name, &o, job->dtype, &sink));
    ctx.sink = sink;
    int64_t cs = (int64_t)sink->itemsize;
    for (int d = o.ndim - 1; d >= 0; d--) {
        ctx.cstrides[d] = cs;
        cs *= o.chunks[d];
    }
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    size_t carry = job->sequential ? sink->chunk_nbytes : 0;
    cw__job_t run = {.ntasks = ntasks,
                     .per_task = cw__budget_store_task(
                         sink->chunk_nbytes, sink->ops->scratch_bytes(sink),
                         job->working_set(job->ctx, o.chunks), carry),
                     .nsources = job->nsources,
                     .sources = job->sources,
                     .task = store_task,
                     .ctx = &ctx};
    int nthreads;
    CW_TRY(cw__job_plan(&run, &budget, cfg, &nthreads));

    /* Create the output first: if it is a source's own file, the source's
     * read-only open then shares this read-write handle. */
    CW_TRY(sink->ops->open(sink));
    if (sink->chunked) {
        if (job->sequential) {
            /* One task per column of chunks along the axis (the threads
             * were planned for the chunks). */
            run.ntasks = ntasks / ctx.nchunks[job->axis];
            run.task = column_task;
        }
        rc = cw__job_exec(&run, nthreads, cfg);
    }
    else {
        rc = write_unchunked(&ctx);
    }
    if (rc < 0) {
        goto fail;
    }
    sink = NULL;
    CW_TRY(ctx.sink->ops->commit(ctx.sink));
    return CW_OK;
fail:
    if (sink != NULL) {
        sink->ops->abort(sink);
    }
    return rc;
}

/* ------------------------------------------------- a selection of a source */

typedef struct sel_job {
    cw_source_t *src;
    const cw_sel_t *sel;
    const int *src_dim; /* source dimension of each output dim, or -1 */
    int ndim;
} sel_job_t;

static int
sel_fill(void *vctx, const int64_t *off, const int64_t *count, char *dst,
         const int64_t *strides, cw__worker_t *w)
{
    const sel_job_t *j = vctx;
    const cw_sel_t *sel = j->sel;
    int64_t start[CW_MAXDIM], cnt[CW_MAXDIM], str[CW_MAXDIM];
    for (int sd = 0; sd < sel->ndim; sd++) {
        start[sd] = sel->start[sd];
        cnt[sd] = 1;
        str[sd] = 0;
    }
    for (int d = 0; d < j->ndim; d++) {
        int sd = j->src_dim[d];
        if (sd >= 0) {
            start[sd] = sel->start[sd] + off[d] * sel->step[sd];
            cnt[sd] = count[d];
            str[sd] = strides[d];
        }
    }
    return cw__read_region(j->src, start, sel->step, cnt, dst, str, &w->io);
}

static size_t
sel_working_set(void *vctx, const int64_t *chunks)
{
    (void)chunks;
    return cw__source_working_set(((sel_job_t *)vctx)->src);
}

static int
check_map(const cw_sel_t *sel, const cw_store_opts_t *o)
{
    int seen[CW_MAXDIM] = {0};
    if (o->ndim < 0 || o->ndim > CW_MAXDIM) {
        return cw__error(CW_EINVAL, "invalid output rank %d", o->ndim);
    }
    for (int d = 0; d < o->ndim; d++) {
        int sd = o->src_dim[d];
        if (sd >= sel->ndim || (sd >= 0 && seen[sd]++) ||
            o->shape[d] != (sd >= 0 ? sel->count[sd] : 1)) {
            return cw__error(CW_EINVAL, "output shape does not match the selection");
        }
    }
    for (int sd = 0; sd < sel->ndim; sd++) {
        if (!seen[sd] && sel->count[sd] != 1) {
            return cw__error(CW_EINVAL, "output drops a dimension of extent %lld",
                             (long long)sel->count[sd]);
        }
    }
    return CW_OK;
}

int
cw_store(cw_source_t *src, const cw_sel_t *sel, const char *path, const char *name,
         const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    cw__error_clear();
    CW_TRY(cw__sel_check(src, sel));
    CW_TRY(check_map(sel, opts));
    sel_job_t j = {
        .src = src, .sel = sel, .src_dim = opts->src_dim, .ndim = opts->ndim};
    cw__store_job_t job = {.ndim = opts->ndim,
                           .dtype = src->dtype,
                           .ctx = &j,
                           .fill = sel_fill,
                           .working_set = sel_working_set,
                           .nsources = 1,
                           .sources = &src};
    /* Default chunks: the source's chunks seen through the steps. */
    for (int d = 0; d < opts->ndim; d++) {
        int sd = opts->src_dim[d];
        job.shape[d] = opts->shape[d];
        job.chunks[d] = 1;
        if (sd >= 0) {
            int64_t t = sel->step[sd] < 0 ? -sel->step[sd] : sel->step[sd];
            job.chunks[d] = (src->chunks[sd] + t - 1) / t;
        }
    }
    rc = cw__store_run(&job, path, name, opts, cfg);
fail:
    return rc;
}
