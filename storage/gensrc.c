/*
 * gensrc.c -- generator sources: a constant (zeros, ones, full, empty) and
 * numpy.arange.  They compute any region straight into the destination, so
 * a lazy zeros((10**6, 1000)) costs nothing until it is read.
 */
#include <string.h>

#include "storage_impl.h"

typedef struct gensrc {
    unsigned char value[8]; /* full: the constant, native order */
    int64_t istart, istep;  /* arange, integer dtypes */
    double ffirst, fsecond; /* arange, floating dtypes */
} gensrc_t;

static int
full_read_direct(cw_source_t *src, const int64_t *start, const int64_t *step,
                 const int64_t *count, char *dst, const int64_t *strides,
                 cw__io_scratch_t *s)
{
    (void)start;
    (void)step;
    (void)s;
    const gensrc_t *g = src->impl;
    cw__fill_strided(src->ndim, count, dst, strides, g->value, src->itemsize);
    return CW_OK;
}

/* Element i of arange, computed as NumPy's <TYPE>_fill does. */
/* Integer arithmetic wraps as NumPy's does: compute modulo 2**64 in
 * unsigned arithmetic (no signed overflow), then truncate to T. */
#define ARANGE_INT(T)                                                              \
    do {                                                                           \
        uint64_t first = (uint64_t)(T)(uint64_t)g->istart;                         \
        uint64_t second = (uint64_t)(T)((uint64_t)g->istart + (uint64_t)g->istep); \
        uint64_t delta = (uint64_t)(T)(second - first);                            \
        for (int64_t j = 0; j < n; j++) {                                          \
            uint64_t i = (uint64_t)(i0 + j * di);                                  \
            *(T *)(dst + j * stride) = (T)(first + i * delta);                     \
        }                                                                          \
    } while (0)

#define ARANGE_FLOAT(T, C)                                                 \
    do {                                                                   \
        C first = (C)(T)g->ffirst;                                         \
        C second = (C)(T)g->fsecond;                                       \
        C delta = second - first;                                          \
        for (int64_t j = 0; j < n; j++) {                                  \
            int64_t i = i0 + j * di;                                       \
            C v = i == 0 ? first : i == 1 ? second : first + (C)i * delta; \
            *(T *)(dst + j * stride) = (T)v;                               \
        }                                                                  \
    } while (0)

static int
arange_read_direct(cw_source_t *src, const int64_t *start, const int64_t *step,
                   const int64_t *count, char *dst, const int64_t *strides,
                   cw__io_scratch_t *s)
{
    (void)s;
    const gensrc_t *g = src->impl;
    int64_t i0 = start[0], di = step[0], n = count[0], stride = strides[0];
    switch (src->dtype) {
        case CW_INT8:
            ARANGE_INT(int8_t);
            break;
        case CW_INT16:
            ARANGE_INT(int16_t);
            break;
        case CW_INT32:
            ARANGE_INT(int32_t);
            break;
        case CW_INT64:
            ARANGE_INT(int64_t);
            break;
        case CW_UINT8:
            ARANGE_INT(uint8_t);
            break;
        case CW_UINT16:
            ARANGE_INT(uint16_t);
            break;
        case CW_UINT32:
            ARANGE_INT(uint32_t);
            break;
        case CW_UINT64:
            ARANGE_INT(uint64_t);
            break;
        case CW_FLOAT16:
            ARANGE_FLOAT(_Float16, float);
            break;
        case CW_FLOAT32:
            ARANGE_FLOAT(float, float);
            break;
        case CW_FLOAT64:
            ARANGE_FLOAT(double, double);
            break;
        default:
            return cw__error(CW_ETYPE, "arange does not support %s",
                             cw_dtype_name(src->dtype));
    }
    return CW_OK;
}

static size_t
gen_scratch_bytes(const cw_source_t *src)
{
    (void)src;
    return 0;
}

static void
gen_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops full_ops = {
    .kind = "full",
    .read_direct = full_read_direct,
    .scratch_bytes = gen_scratch_bytes,
    .destroy = gen_destroy,
};

static const struct cw__source_ops arange_ops = {
    .kind = "arange",
    .read_direct = arange_read_direct,
    .scratch_bytes = gen_scratch_bytes,
    .destroy = gen_destroy,
};

static int
gen_new(const struct cw__source_ops *ops, int ndim, const int64_t *shape,
        cw_dtype_t dtype, const int64_t *chunks, cw_source_t **out, gensrc_t **gout)
{
    int rc;
    *out = NULL;
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    gensrc_t *g = cw__calloc(1, sizeof(*g));
    if (src == NULL || g == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    CW_TRY(cw__source_init(src, ops, ndim, shape, dtype, chunks, 4 << 20));
    src->impl = g;
    *gout = g;
    *out = src;
    return CW_OK;
fail:
    cw__free(g);
    cw__free(src);
    return rc;
}

int
cw_source_new_full(int ndim, const int64_t *shape, cw_dtype_t dtype, const void *value,
                   const int64_t *chunks, cw_source_t **out)
{
    gensrc_t *g = NULL;
    int rc = gen_new(&full_ops, ndim, shape, dtype, chunks, out, &g);
    if (rc == CW_OK && value != NULL) {
        memcpy(g->value, value, (*out)->itemsize);
    }
    return rc;
}

int
cw_source_new_arange(int64_t n, int64_t istart, int64_t istep, double ffirst,
                     double fsecond, cw_dtype_t dtype, const int64_t *chunk,
                     cw_source_t **out)
{
    *out = NULL;
    if (dtype == CW_BOOL) {
        return cw__error(CW_ETYPE, "arange does not support bool");
    }
    gensrc_t *g = NULL;
    int rc = gen_new(&arange_ops, 1, &n, dtype, chunk, out, &g);
    if (rc == CW_OK) {
        g->istart = istart;
        g->istep = istep;
        g->ffirst = ffirst;
        g->fsecond = fsecond;
    }
    return rc;
}
