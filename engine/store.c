/*
 * store.c -- cw_store: stream a selection into a new chunked HDF5 dataset.
 *
 * One task per output chunk: gather the chunk's region from the source
 * (cw__read_region, which decodes the source chunks it overlaps, reusing
 * the thread's last decoded chunk), encode it in the worker thread, then
 * hand the bytes to H5Dwrite_chunk under the HDF5 lock.  Memory in flight
 * is threads x (output chunk + its encoding + the source's working set),
 * planned against memory_limit before anything runs.
 */
#include <string.h>

#include "engine_impl.h"
#include "h5_impl.h"

typedef struct store_ctx {
    cw_source_t *src;
    const cw_sel_t *sel;
    const cw_store_opts_t *opts;
    cw__h5sink_t *sink;
    int64_t nchunks[CW_MAXDIM];
    size_t chunk_nbytes;
    size_t enc_cap;
    int64_t cstrides[CW_MAXDIM];   /* C strides of one output chunk */
} store_ctx_t;

static int
store_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    store_ctx_t *ctx = vctx;
    const cw_store_opts_t *o = ctx->opts;
    const cw_sel_t *sel = ctx->sel;
    int rc;
    int64_t off[CW_MAXDIM], start[CW_MAXDIM], count[CW_MAXDIM],
        strides[CW_MAXDIM];
    bool edge = false;
    memset(off, 0, sizeof(off));
    for (int d = o->ndim - 1; d >= 0; d--) {
        int64_t k = task % ctx->nchunks[d];
        task /= ctx->nchunks[d];
        off[d] = k * o->chunks[d];
        if (off[d] + o->chunks[d] > o->shape[d]) {
            edge = true;
        }
    }
    /* Source-space region of this output chunk. */
    for (int sd = 0; sd < sel->ndim; sd++) {
        start[sd] = sel->start[sd];
        count[sd] = 1;
        strides[sd] = 0;
    }
    for (int d = 0; d < o->ndim; d++) {
        int sd = o->src_dim[d];
        if (sd < 0) {
            continue;
        }
        int64_t end = off[d] + o->chunks[d];
        start[sd] = sel->start[sd] + off[d] * sel->step[sd];
        count[sd] = (end < o->shape[d] ? end : o->shape[d]) - off[d];
        strides[sd] = ctx->cstrides[d];
    }
    CW_TRY(cw__reserve(&s->work, &s->work_cap, ctx->chunk_nbytes));
    if (edge) {
        /* HDF5 stores edge chunks whole; pad with the fill value (0). */
        memset(s->work, 0, ctx->chunk_nbytes);
    }
    CW_TRY(cw__read_region(ctx->src, start, sel->step, count, s->work, strides, s));

    const void *data = s->work;
    size_t nbytes = ctx->chunk_nbytes, enclen = 0;
    uint32_t mask = 0;
    size_t itemsize = ctx->src->itemsize;
    if (o->codec == CW_CODEC_BLOSC) {
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, ctx->enc_cap));
        CW_TRY(cw__blosc_encode(o->blosc_codec, o->level,
                                o->bitshuffle ? 2 : o->shuffle ? 1 : 0, itemsize,
                                s->work, nbytes, s->enc, ctx->enc_cap, &enclen));
        if (enclen > 0) {
            data = s->enc;
            nbytes = enclen;
        }
        else {
            mask = 1;  /* filter 0 (Blosc) skipped: stored raw */
        }
    }
    else if (o->codec == CW_CODEC_DEFLATE) {
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, ctx->enc_cap));
        const void *in = s->work;
        if (o->shuffle) {
            CW_TRY(cw__reserve(&s->tmp, &s->tmp_cap, nbytes));
            cw__shuffle(s->work, s->tmp, nbytes, itemsize);
            in = s->tmp;
        }
        CW_TRY(cw__deflate_encode(s, o->level, in, nbytes, s->enc, ctx->enc_cap,
                                  &enclen));
        if (enclen > 0) {
            data = s->enc;
            nbytes = enclen;
        }
        else {
            /* Deflate skipped; store unshuffled data with shuffle skipped
             * too, so every reader sees plain bytes. */
            mask = o->shuffle ? 3u : 1u;
        }
    }
    /* H5Dwrite_chunk takes hsize_t offsets for every dimension. */
    rc = cw__h5sink_write(ctx->sink, off, mask, data, nbytes);
fail:
    return rc;
}

static int
check_opts(const cw_source_t *src, const cw_sel_t *sel, const cw_store_opts_t *o)
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
    if (o->codec == CW_CODEC_BLOSC &&
        (o->blosc_codec == NULL || cw__blosc_code(o->blosc_codec) < 0)) {
        return cw__error(CW_EINVAL, "unknown Blosc codec '%s'",
                         o->blosc_codec ? o->blosc_codec : "(null)");
    }
    if (o->codec != CW_CODEC_NONE && (o->level < 0 || o->level > 9)) {
        return cw__error(CW_EINVAL, "compression level %d is outside 0..9", o->level);
    }
    (void)src;
    return CW_OK;
}

int
cw_store(cw_source_t *src, const cw_sel_t *sel, const char *path,
         const char *name, const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    store_ctx_t ctx;
    cw_store_opts_t o = *opts;
    cw__h5sink_t *sink = NULL;
    bool begun = false;
    cw__error_clear();
    CW_TRY(cw__sel_check(src, sel));
    CW_TRY(check_opts(src, sel, &o));

    /* Chunk shape: as given, else the source's chunks seen through the
     * selection's steps. */
    int64_t cbytes = (int64_t)src->itemsize, ntasks = 1;
    memset(&ctx, 0, sizeof(ctx));
    for (int d = 0; d < o.ndim; d++) {
        int sd = o.src_dim[d];
        if (o.chunks[d] <= 0) {
            int64_t c = 1;
            if (sd >= 0) {
                int64_t t = sel->step[sd] < 0 ? -sel->step[sd] : sel->step[sd];
                c = (src->chunks[sd] + t - 1) / t;
            }
            o.chunks[d] = c;
        }
        if (o.chunks[d] > o.shape[d] && o.shape[d] > 0) {
            o.chunks[d] = o.shape[d];
        }
        ctx.nchunks[d] = (o.shape[d] + o.chunks[d] - 1) / o.chunks[d];
        if (!cw__mul_ok(cbytes, o.chunks[d], &cbytes) ||
            !cw__mul_ok(ntasks, ctx.nchunks[d], &ntasks)) {
            return cw__error(CW_EINVAL, "chunk shape too large");
        }
    }
    /* Blosc frames are limited to 2 GiB, HDF5 chunks to 4 GiB. */
    if (cbytes > ((int64_t)1 << 31) - 64) {
        return cw__error(CW_EINVAL, "a chunk of %lld bytes exceeds the 2 GiB "
                         "limit; choose smaller chunks", (long long)cbytes);
    }
    ctx.src = src;
    ctx.sel = sel;
    ctx.opts = &o;
    ctx.chunk_nbytes = (size_t)cbytes;
    ctx.enc_cap = o.codec == CW_CODEC_NONE ? 0 : (size_t)cbytes;
    int64_t cs = (int64_t)src->itemsize;
    for (int d = o.ndim - 1; d >= 0; d--) {
        ctx.cstrides[d] = cs;
        cs *= o.chunks[d];
    }
    size_t per_task = ctx.chunk_nbytes + ctx.enc_cap +
                      (o.codec == CW_CODEC_DEFLATE && o.shuffle ? ctx.chunk_nbytes : 0) +
                      cw__source_working_set(src);
    int nthreads;
    CW_TRY(cw__plan_threads(cfg, ntasks, per_task, &nthreads));

    /* Create the output first: if it is the source's own file, the
     * source's read-only open then shares this read-write handle. */
    CW_TRY(cw__h5sink_create(path, name, &o, src->dtype, &sink));
    ctx.sink = sink;
    if (src->ops->begin) {
        CW_TRY(src->ops->begin(src));
    }
    begun = true;
    if (cw__h5sink_chunked(sink)) {
        rc = cw__run_tasks(ntasks, nthreads, store_task, &ctx, cfg);
    }
    else if (o.ndim == 0) {
        /* A scalar cannot be chunked in HDF5: write it plainly. */
        unsigned char value[8];
        cw__scratch_t s;
        cw__scratch_init(&s);
        int64_t zero[CW_MAXDIM] = {0};
        rc = cw__read_region(src, sel->start, sel->step, sel->count,
                             (char *)value, zero, &s);
        cw__scratch_destroy(&s);
        if (rc == CW_OK) {
            rc = cw__h5sink_write_all(sink, value);
        }
    }
    else {
        rc = CW_OK;  /* empty: nothing to write */
    }
    if (rc < 0) {
        goto fail;
    }
    if (src->ops->end) {
        src->ops->end(src);
    }
    begun = false;
    sink = NULL;
    CW_TRY(cw__h5sink_commit(ctx.sink));
    return CW_OK;
fail:
    if (begun && src->ops->end) {
        src->ops->end(src);
    }
    cw__h5sink_abort(sink);
    return rc;
}
