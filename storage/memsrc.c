/*
 * memsrc.c -- a strided buffer in memory as a source.  The buffer is
 * borrowed (the Python layer keeps its owner alive); regions are copied
 * straight to the destination with no chunk decode.
 */
#include <string.h>

#include "storage_impl.h"

typedef struct memsrc {
    const char *data;
    int64_t strides[CW_MAXDIM];
} memsrc_t;

static int
mem_read_direct(cw_source_t *src, const int64_t *start, const int64_t *step,
                const int64_t *count, char *dst, const int64_t *strides,
                cw__io_scratch_t *s)
{
    (void)s;
    const memsrc_t *m = src->impl;
    const char *p = m->data;
    int64_t sstrides[CW_MAXDIM];
    for (int d = 0; d < src->ndim; d++) {
        p += start[d] * m->strides[d];
        sstrides[d] = m->strides[d] * step[d];
    }
    cw__copy_strided(src->ndim, count, dst, strides, p, sstrides, src->itemsize);
    return CW_OK;
}

static void
mem_address(const cw_source_t *src, const int64_t *start, const int64_t *step,
            const char **ptr, int64_t *strides)
{
    const memsrc_t *m = src->impl;
    const char *p = m->data;
    for (int d = 0; d < src->ndim; d++) {
        p += start[d] * m->strides[d];
        strides[d] = m->strides[d] * step[d];
    }
    *ptr = p;
}

static size_t
mem_scratch_bytes(const cw_source_t *src)
{
    (void)src;
    return 0;
}

static void
mem_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops mem_ops = {
    .kind = "memory",
    .read_direct = mem_read_direct,
    .address = mem_address,
    .scratch_bytes = mem_scratch_bytes,
    .destroy = mem_destroy,
};

int
cw_source_from_memory(const void *data, int ndim, const int64_t *shape,
                      const int64_t *strides, cw_dtype_t dtype, const int64_t *chunks,
                      cw_source_t **out)
{
    int rc;
    *out = NULL;
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    memsrc_t *m = cw__calloc(1, sizeof(*m));
    if (src == NULL || m == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    CW_TRY(cw__source_init(src, &mem_ops, ndim, shape, dtype, chunks, 4 << 20));
    m->data = data;
    memcpy(m->strides, strides, (size_t)ndim * sizeof(*strides));
    src->impl = m;
    *out = src;
    return CW_OK;
fail:
    cw__free(m);
    cw__free(src);
    return rc;
}
