/*
 * source.c -- what every source shares: geometry, accessors, release, and
 * the one loop that begins a run's sources (ending those already begun
 * when one fails) and ends them.  Sources are immutable after
 * construction, so accessors need no lock; begin and end run on the
 * submitting thread.
 */
#include <string.h>

#include "storage_impl.h"

int
cw__source_init(cw_source_t *src, const struct cw__source_ops *ops, int ndim,
                const int64_t *shape, cw_dtype_t dtype, const int64_t *chunks,
                size_t target_bytes)
{
    if (ndim < 0 || ndim > CW_MAXDIM) {
        return cw__error(CW_EINVAL, "rank %d is outside 0..%d", ndim, CW_MAXDIM);
    }
    if ((unsigned)dtype >= CW_NDTYPES) {
        return cw__error(CW_ETYPE, "invalid dtype code %d", (int)dtype);
    }
    void *impl = src->impl;
    memset(src, 0, sizeof(*src));
    src->ops = ops;
    src->impl = impl;
    src->ndim = ndim;
    src->dtype = dtype;
    src->itemsize = cw_dtype_size(dtype);
    int64_t total = (int64_t)src->itemsize;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            return cw__error(CW_EINVAL, "negative extent %lld in dimension %d",
                             (long long)shape[d], d);
        }
        src->shape[d] = shape[d];
        if (!cw__mul_ok(total, shape[d], &total)) {
            return cw__error(CW_EINVAL, "array size overflows 64 bits");
        }
    }
    int use_default = chunks == NULL;
    for (int d = 0; d < ndim && !use_default; d++) {
        use_default = chunks[d] <= 0;
    }
    if (use_default) {
        cw__default_chunks(ndim, shape, src->itemsize, target_bytes, src->chunks);
    }
    else {
        memcpy(src->chunks, chunks, (size_t)ndim * sizeof(*chunks));
    }
    int64_t cbytes = (int64_t)src->itemsize;
    for (int d = 0; d < ndim; d++) {
        if (src->chunks[d] < 1) {
            return cw__error(CW_EINVAL, "chunk extent must be positive");
        }
        /* A chunk larger than the array is allowed (HDF5 permits it with
         * unlimited dimensions); the decoded buffer keeps the full size. */
        src->nchunks[d] = src->shape[d] == 0
                              ? 0
                              : (src->shape[d] + src->chunks[d] - 1) / src->chunks[d];
        if (!cw__mul_ok(cbytes, src->chunks[d], &cbytes) ||
            cbytes > ((int64_t)1 << 40)) {
            return cw__error(CW_EINVAL, "chunk shape is too large");
        }
    }
    src->chunk_nbytes = (size_t)cbytes;
    return CW_OK;
}

int
cw__sources_begin(cw_source_t *const *srcs, int n)
{
    for (int i = 0; i < n; i++) {
        if (srcs[i]->ops->begin) {
            int rc = srcs[i]->ops->begin(srcs[i]);
            if (rc < 0) {
                cw__sources_end(srcs, i);
                return rc;
            }
        }
    }
    return CW_OK;
}

/* The run options of the sources being begun on this thread. */
static _Thread_local int begin_direct_io;

int
cw__sources_begin_run(cw_source_t *const *srcs, int n, const cw_config_t *cfg)
{
    int prev = begin_direct_io;
    begin_direct_io = cfg ? cfg->direct_io : 0;
    int rc = cw__sources_begin(srcs, n);
    begin_direct_io = prev;
    return rc;
}

int
cw__begin_direct_io(void)
{
    return begin_direct_io;
}

void
cw__sources_end(cw_source_t *const *srcs, int n)
{
    for (int i = 0; i < n; i++) {
        if (srcs[i]->ops->end) {
            srcs[i]->ops->end(srcs[i]);
        }
    }
}

void
cw_source_free(cw_source_t *src)
{
    if (src == NULL) {
        return;
    }
    if (src->ops->destroy) {
        src->ops->destroy(src);
    }
    cw__free(src);
}

int
cw_source_ndim(const cw_source_t *src)
{
    return src->ndim;
}

const int64_t *
cw_source_shape(const cw_source_t *src)
{
    return src->shape;
}

const int64_t *
cw_source_chunks(const cw_source_t *src)
{
    return src->chunks;
}

cw_dtype_t
cw_source_dtype(const cw_source_t *src)
{
    return src->dtype;
}

const char *
cw_source_kind(const cw_source_t *src)
{
    return src->ops->kind;
}

void
cw_sel_all(const cw_source_t *src, cw_sel_t *sel)
{
    memset(sel, 0, sizeof(*sel));
    sel->ndim = src->ndim;
    for (int d = 0; d < src->ndim; d++) {
        sel->start[d] = 0;
        sel->step[d] = 1;
        sel->count[d] = src->shape[d];
    }
}

void
cw__io_scratch_init(cw__io_scratch_t *s)
{
    memset(s, 0, sizeof(*s));
    s->cached_chunk = -1;
}

void
cw__io_scratch_destroy(cw__io_scratch_t *s)
{
    cw__free(s->raw);
    cw__free(s->tmp);
    cw__free(s->chunk);
    cw__free(s->enc);
    cw__free(s->bpend);
    cw__free(s->bshuf);
    cw__free(s->bitshuf);
    cw__bframe_scratch_free(s);
    cw__deflate_scratch_free(s);
    cw__blosc2_scratch_free(s);
    cw__io_scratch_init(s);
}

void
cw__io_lend_enc(cw__io_scratch_t *s, void **buf, size_t *cap)
{
    void *p = s->enc;
    size_t c = s->enc_cap;
    s->enc = *buf;
    s->enc_cap = *cap;
    *buf = p;
    *cap = c;
}
