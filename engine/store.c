/*
 * store.c -- stream an array into a new chunked HDF5 dataset.
 *
 * One task per output chunk: fill the chunk's region (a region filler:
 * cw__read_region for a selection, the expression VM for a program), encode
 * it in the worker thread, then hand the bytes to H5Dwrite_chunk under the
 * HDF5 lock.  Memory in flight is threads x (output chunk + its encoding +
 * the filler's own working set), planned against memory_limit before
 * anything runs.
 */
#include <string.h>

#include "engine_impl.h"
#include "h5_impl.h"

typedef struct store_ctx {
    const cw__store_job_t *job;
    cw_store_opts_t o;
    cw__h5sink_t *sink;
    int64_t nchunks[CW_MAXDIM];
    size_t chunk_nbytes;
    size_t enc_cap;
    int64_t cstrides[CW_MAXDIM];   /* C strides of one output chunk */
} store_ctx_t;

/* Fill output chunk `off` (its `count` within the shape) into s->work,
 * let the job post-process it, encode it and write it. */
static int
write_chunk(store_ctx_t *ctx, const int64_t *off, const int64_t *count,
            cw__scratch_t *s)
{
    const cw_store_opts_t *o = &ctx->o;
    int rc;
    size_t itemsize = cw_dtype_size(ctx->job->dtype);
    /* Level 0 means no compression: the whole-chunk path stores it raw. */
    if (ctx->job->fill_stream && !ctx->job->post && o->codec == CW_CODEC_BLOSC &&
        !o->bitshuffle && o->level > 0 && cw__benc_supported(o->blosc_codec)) {
        /* Compress each slab of the chunk as it is computed: the chunk is
         * never held uncompressed. */
        size_t cap = cw__benc_bound(o->level, itemsize, ctx->chunk_nbytes), enclen;
        cw__benc_t enc;
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, cap));
        CW_TRY(cw__benc_start(&enc, o->blosc_codec, o->level, o->shuffle, itemsize,
                              ctx->chunk_nbytes, s->enc, cap, s));
        CW_TRY(ctx->job->fill_stream(ctx->job->ctx, off, count, ctx->cstrides,
                                     ctx->chunk_nbytes, &enc, s));
        CW_TRY(cw__benc_finish(&enc, &enclen));
        return cw__h5sink_write(ctx->sink, off, 0, s->enc, enclen);
    }
    bool edge = false;
    for (int d = 0; d < o->ndim; d++) {
        edge = edge || count[d] < o->chunks[d];
    }
    CW_TRY(cw__reserve(&s->work, &s->work_cap, ctx->chunk_nbytes));
    if (edge) {
        /* HDF5 stores edge chunks whole; pad with the fill value (0). */
        memset(s->work, 0, ctx->chunk_nbytes);
    }
    CW_TRY(ctx->job->fill(ctx->job->ctx, off, count, s->work, ctx->cstrides, s));
    if (ctx->job->post) {
        CW_TRY(ctx->job->post(ctx->job->ctx, off, count, s->work, ctx->cstrides, s));
    }

    /* Encode into the program's input tiles when they are big enough:
     * they are free once the chunk is computed, and a thread then holds one
     * buffer less. */
    void **enc = &s->enc;
    size_t *enc_cap = &s->enc_cap;
    if (s->eval_cap[0] >= ctx->enc_cap && ctx->enc_cap > 0) {
        enc = &s->eval[0];
        enc_cap = &s->eval_cap[0];
    }
    const void *data = s->work;
    size_t nbytes = ctx->chunk_nbytes, enclen = 0;
    uint32_t mask = 0;
    if (o->codec == CW_CODEC_BLOSC) {
        CW_TRY(cw__reserve(enc, enc_cap, ctx->enc_cap));
        CW_TRY(cw__blosc_encode(o->blosc_codec, o->level,
                                o->bitshuffle ? 2 : o->shuffle ? 1 : 0, itemsize,
                                s->work, nbytes, *enc, ctx->enc_cap, &enclen));
        if (enclen > 0) {
            data = *enc;
            nbytes = enclen;
        }
        else {
            mask = 1;  /* filter 0 (Blosc) skipped: stored raw */
        }
    }
    else if (o->codec == CW_CODEC_DEFLATE) {
        CW_TRY(cw__reserve(enc, enc_cap, ctx->enc_cap));
        const void *in = s->work;
        if (o->shuffle) {
            CW_TRY(cw__reserve(&s->tmp, &s->tmp_cap, nbytes));
            cw__shuffle(s->work, s->tmp, nbytes, itemsize);
            in = s->tmp;
        }
        CW_TRY(cw__deflate_encode(s, o->level, in, nbytes, *enc, ctx->enc_cap,
                                  &enclen));
        if (enclen > 0) {
            data = *enc;
            nbytes = enclen;
        }
        else {
            /* Deflate skipped; store unshuffled data with shuffle skipped
             * too, so every reader sees plain bytes. */
            mask = o->shuffle ? 3u : 1u;
        }
    }
    rc = cw__h5sink_write(ctx->sink, off, mask, data, nbytes);
fail:
    return rc;
}

/* Decompose chunk number `task` of the grid (skipping axis `skip`, -1 for
 * none) into its offset and extent. */
static void
chunk_at(const store_ctx_t *ctx, int64_t task, int skip, int64_t *off, int64_t *count)
{
    const cw_store_opts_t *o = &ctx->o;
    cw__grid_cell(o->ndim, o->shape, o->chunks, ctx->nchunks, task, skip, off, count);
}

static int
store_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    store_ctx_t *ctx = vctx;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    chunk_at(ctx, task, -1, off, count);
    return write_chunk(ctx, off, count, s);
}

/* A column of chunks along the job's sequential axis, in order. */
static int
column_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    store_ctx_t *ctx = vctx;
    const cw_store_opts_t *o = &ctx->o;
    int ax = ctx->job->axis;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    chunk_at(ctx, task, ax, off, count);
    for (int64_t k = 0; k < ctx->nchunks[ax]; k++) {
        off[ax] = k * o->chunks[ax];
        int64_t end = off[ax] + o->chunks[ax];
        count[ax] = (end < o->shape[ax] ? end : o->shape[ax]) - off[ax];
        int rc = write_chunk(ctx, off, count, s);
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
    CW_TRY_RET(cw__sources_begin(job->sources, job->nsources));
    int rc = CW_OK;
    if (ctx->o.ndim == 0) {
        unsigned char value[8];
        cw__scratch_t s;
        cw__scratch_init(&s);
        int64_t zero[CW_MAXDIM] = {0}, one[CW_MAXDIM] = {0};
        rc = job->fill(job->ctx, zero, one, (char *)value, zero, &s);
        cw__scratch_destroy(&s);
        if (rc == CW_OK) {
            rc = cw__h5sink_write_all(ctx->sink, value);
        }
    }
    cw__sources_end(job->sources, job->nsources);
    return rc;
}

static int
check_codec(const cw_store_opts_t *o)
{
    if (o->codec == CW_CODEC_BLOSC &&
        (o->blosc_codec == NULL || cw__blosc_code(o->blosc_codec) < 0)) {
        return cw__error(CW_EINVAL, "unknown Blosc codec '%s'",
                         o->blosc_codec ? o->blosc_codec : "(null)");
    }
    if (o->codec != CW_CODEC_NONE && (o->level < 0 || o->level > 9)) {
        return cw__error(CW_EINVAL, "compression level %d is outside 0..9", o->level);
    }
    return CW_OK;
}

int
cw__store_run(const cw__store_job_t *job, const char *path, const char *name,
              const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    store_ctx_t ctx;
    cw__h5sink_t *sink = NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.job = job;
    ctx.o = *opts;
    cw_store_opts_t *o = &ctx.o;
    CW_TRY(check_codec(o));
    o->ndim = job->ndim;
    int64_t cbytes = (int64_t)cw_dtype_size(job->dtype), ntasks = 1;
    for (int d = 0; d < o->ndim; d++) {
        o->shape[d] = job->shape[d];
        if (o->chunks[d] <= 0) {
            o->chunks[d] = job->chunks[d] > 0 ? job->chunks[d] : 1;
        }
        if (o->chunks[d] > o->shape[d] && o->shape[d] > 0) {
            o->chunks[d] = o->shape[d];
        }
        ctx.nchunks[d] = (o->shape[d] + o->chunks[d] - 1) / o->chunks[d];
        if (!cw__mul_ok(cbytes, o->chunks[d], &cbytes) ||
            !cw__mul_ok(ntasks, ctx.nchunks[d], &ntasks)) {
            return cw__error(CW_EINVAL, "chunk shape too large");
        }
    }
    /* Blosc frames are limited to 2 GiB, HDF5 chunks to 4 GiB. */
    if (cbytes > ((int64_t)1 << 31) - 64) {
        return cw__error(CW_EINVAL, "a chunk of %lld bytes exceeds the 2 GiB "
                         "limit; choose smaller chunks", (long long)cbytes);
    }
    ctx.chunk_nbytes = (size_t)cbytes;
    ctx.enc_cap = o->codec == CW_CODEC_NONE ? 0 : (size_t)cbytes;
    int64_t cs = (int64_t)cw_dtype_size(job->dtype);
    for (int d = o->ndim - 1; d >= 0; d--) {
        ctx.cstrides[d] = cs;
        cs *= o->chunks[d];
    }
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    size_t stage =
        o->codec == CW_CODEC_DEFLATE && o->shuffle ? ctx.chunk_nbytes : 0;
    size_t carry = job->sequential ? ctx.chunk_nbytes : 0;
    cw__job_t run = {
        .ntasks = ntasks,
        .per_task = cw__budget_store_task(ctx.chunk_nbytes, ctx.enc_cap, stage,
                                          job->working_set(job->ctx, o->chunks),
                                          carry),
        .nsources = job->nsources, .sources = job->sources, .task = store_task,
        .ctx = &ctx};
    int nthreads;
    CW_TRY(cw__job_plan(&run, &budget, cfg, &nthreads));

    /* Create the output first: if it is a source's own file, the source's
     * read-only open then shares this read-write handle. */
    CW_TRY(cw__h5sink_create(path, name, o, job->dtype, &sink));
    ctx.sink = sink;
    if (cw__h5sink_chunked(sink)) {
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
    CW_TRY(cw__h5sink_commit(ctx.sink));
    return CW_OK;
fail:
    cw__h5sink_abort(sink);
    return rc;
}

/* ------------------------------------------------- a selection of a source */

typedef struct sel_job {
    cw_source_t *src;
    const cw_sel_t *sel;
    const int *src_dim;   /* source dimension of each output dim, or -1 */
    int ndim;
} sel_job_t;

static int
sel_fill(void *vctx, const int64_t *off, const int64_t *count, char *dst,
         const int64_t *strides, cw__scratch_t *s)
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
    return cw__read_region(j->src, start, sel->step, cnt, dst, str, s);
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
cw_store(cw_source_t *src, const cw_sel_t *sel, const char *path,
         const char *name, const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    cw__error_clear();
    CW_TRY(cw__sel_check(src, sel));
    CW_TRY(check_map(sel, opts));
    sel_job_t j = {.src = src, .sel = sel, .src_dim = opts->src_dim,
                   .ndim = opts->ndim};
    cw__store_job_t job = {.ndim = opts->ndim, .dtype = src->dtype, .ctx = &j,
                           .fill = sel_fill, .working_set = sel_working_set,
                           .nsources = 1, .sources = &src};
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
