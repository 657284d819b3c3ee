/*
 * source.c -- what every source shares: geometry, accessors, release,
 * dtype tables.  Sources are immutable after construction, so accessors
 * need no lock.
 */
#include <string.h>

#include "source_impl.h"

static const size_t dtype_sizes[CW_NDTYPES] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};
static const char *const dtype_names[CW_NDTYPES] = {
    "bool",   "int8",   "int16",  "int32",   "int64",   "uint8",
    "uint16", "uint32", "uint64", "float16", "float32", "float64"};

size_t
cw_dtype_size(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_sizes[dtype] : 0;
}

const char *
cw_dtype_name(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_names[dtype] : "invalid";
}

void
cw__default_chunks(int ndim, const int64_t *shape, size_t itemsize,
                   size_t target_bytes, int64_t *chunks)
{
    /* Row-major: keep trailing dimensions whole while the chunk stays under
     * the target, then split the next dimension. */
    int64_t budget = (int64_t)(target_bytes / (itemsize ? itemsize : 1));
    if (budget < 1) {
        budget = 1;
    }
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t n = shape[d] > 0 ? shape[d] : 1;
        if (n <= budget) {
            chunks[d] = n;
            budget /= n;
        }
        else {
            chunks[d] = budget > 0 ? budget : 1;
            budget = 1;
        }
    }
}

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
    src->itemsize = dtype_sizes[dtype];
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
cw__scratch_init(cw__scratch_t *s)
{
    memset(s, 0, sizeof(*s));
    s->cached_chunk = -1;
}

void
cw__scratch_destroy(cw__scratch_t *s)
{
    cw__free(s->raw);
    cw__free(s->tmp);
    cw__free(s->chunk);
    cw__free(s->work);
    for (int i = 0; i < 4; i++) {
        cw__free(s->eval[i]);
    }
    cw__free(s->box);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            cw__free(s->mm[i][j]);
        }
    }
    cw__free(s->carry);
    cw__free(s->red);
    cw__free(s->enc);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < s->nstreams[i]; j++) {
            cw__cstream_free(&s->streams[i][j]);
        }
        cw__free(s->streams[i]);
    }
    cw__free(s->bpend);
    cw__free(s->bshuf);
    cw__bframe_scratch_free(s);
    cw__deflate_scratch_free(s);
    cw__scratch_init(s);
}
