/*
 * reshape.c -- a source seen with another shape of the same size, in C
 * order (numpy.reshape), as a source.
 *
 * Element i in C order of the result is element i in C order of the
 * input, so a region read lists the flat indices of its elements and
 * gathers them (cw__gather_elems): each input chunk holding one of them is
 * read once per region, and no other.  Reads run on worker threads; no
 * locks.
 */
#include <string.h>

#include "storage_impl.h"

typedef struct reshape {
    cw_source_t *in; /* borrowed */
} reshape_t;

static int
reshape_begin(cw_source_t *src)
{
    reshape_t *r = src->impl;
    return cw__sources_begin(&r->in, 1);
}

static void
reshape_end(cw_source_t *src)
{
    reshape_t *r = src->impl;
    cw__sources_end(&r->in, 1);
}

static int
reshape_piece(cw_source_t *src, const int64_t *start, const int64_t *step,
              const int64_t *count, char *dst, const int64_t *strides,
              cw__io_scratch_t *s)
{
    reshape_t *r = src->impl;
    int64_t *flat, *off, n;
    CW_TRY_RET(cw__region_elems(src, start, step, count, strides, &flat, &off, &n));
    int rc = cw__gather_elems(r->in, n, flat, off, dst, s);
    cw__free(flat);
    cw__free(off);
    return rc;
}

/* A region in pieces of cw__piece_elems elements: the index tables of
 * a piece are what reshape_scratch counts. */
static int
reshape_read(cw_source_t *src, const int64_t *start, const int64_t *step,
             const int64_t *count, char *dst, const int64_t *strides,
             cw__io_scratch_t *s)
{
    return cw__region_in_pieces(src, start, step, count, dst, strides, s,
                                cw__piece_elems(src), reshape_piece);
}

static size_t
reshape_scratch(const cw_source_t *src)
{
    const reshape_t *r = src->impl;
    int64_t elems = cw__piece_elems(src);
    return cw__source_working_set(r->in) + r->in->chunk_nbytes +
           (size_t)elems * 4 * sizeof(int64_t);
}

static void
reshape_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops reshape_ops = {
    .kind = "reshape",
    .begin = reshape_begin,
    .end = reshape_end,
    .read_direct = reshape_read,
    .scratch_bytes = reshape_scratch,
    .destroy = reshape_destroy,
};

int
cw_source_reshape(cw_source_t *in, int ndim, const int64_t *shape, cw_source_t **out)
{
    int rc;
    *out = NULL;
    if (ndim < 0 || ndim > CW_MAXDIM) {
        return cw__error(CW_EINVAL, "reshape: rank %d is out of range", ndim);
    }
    int64_t a = 1, b = 1;
    for (int k = 0; k < in->ndim; k++) {
        a *= in->shape[k];
    }
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0 || !cw__mul_ok(b, shape[k], &b)) {
            return cw__error(CW_EINVAL, "reshape: bad extent %lld",
                             (long long)shape[k]);
        }
    }
    if (a != b) {
        return cw__error(CW_EINVAL,
                         "cannot reshape array of size %lld into a shape "
                         "of size %lld",
                         (long long)a, (long long)b);
    }
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    reshape_t *r = cw__calloc(1, sizeof(*r));
    if (src == NULL || r == NULL) {
        cw__free(src);
        cw__free(r);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    src->impl = r;
    r->in = in;
    CW_TRY(cw__source_init(src, &reshape_ops, ndim, shape, in->dtype, NULL,
                           in->chunk_nbytes));
    *out = src;
    return CW_OK;
fail:
    cw_source_free(src);
    return rc;
}
