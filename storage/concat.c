/*
 * concat.c -- the concatenation of sources along one axis, as a source.
 *
 * A region read is split along the axis among the parts it overlaps; each
 * part reads its share straight into the destination.  Parts keep their
 * own chunking; the composite reports the first part's chunks.
 */
#include <string.h>

#include "storage_impl.h"

typedef struct concat {
    int n;
    int axis;
    cw_source_t **parts; /* borrowed */
    int64_t *offset;     /* n + 1 boundaries along the axis */
} concat_t;

static int
concat_begin(cw_source_t *src)
{
    concat_t *c = src->impl;
    return cw__sources_begin(c->parts, c->n);
}

static void
concat_end(cw_source_t *src)
{
    concat_t *c = src->impl;
    cw__sources_end(c->parts, c->n);
}

static int
concat_read(cw_source_t *src, const int64_t *start, const int64_t *step,
            const int64_t *count, char *dst, const int64_t *strides,
            cw__io_scratch_t *s)
{
    concat_t *c = src->impl;
    int ax = c->axis;
    int64_t st[CW_MAXDIM], cnt[CW_MAXDIM];
    memcpy(st, start, (size_t)src->ndim * sizeof(*st));
    memcpy(cnt, count, (size_t)src->ndim * sizeof(*cnt));
    /* Walk the selection along the axis: element j is at start + j*step. */
    for (int64_t j = 0; j < count[ax];) {
        int64_t i = start[ax] + j * step[ax];
        int p = 0;
        while (c->offset[p + 1] <= i) {
            p++;
        }
        /* How many consecutive elements stay inside part p. */
        int64_t lo = c->offset[p], hi = c->offset[p + 1], n;
        if (step[ax] > 0) {
            n = (hi - 1 - i) / step[ax] + 1;
        }
        else {
            n = (i - lo) / -step[ax] + 1;
        }
        if (n > count[ax] - j) {
            n = count[ax] - j;
        }
        st[ax] = i - lo;
        cnt[ax] = n;
        int rc = cw__read_region(c->parts[p], st, step, cnt, dst + j * strides[ax],
                                 strides, s);
        if (rc < 0) {
            return rc;
        }
        j += n;
    }
    return CW_OK;
}

static size_t
concat_scratch(const cw_source_t *src)
{
    const concat_t *c = src->impl;
    size_t m = 0;
    for (int i = 0; i < c->n; i++) {
        size_t w = cw__source_working_set(c->parts[i]);
        m = w > m ? w : m;
    }
    return m;
}

static void
concat_destroy(cw_source_t *src)
{
    concat_t *c = src->impl;
    if (c) {
        cw__free(c->parts);
        cw__free(c->offset);
        cw__free(c);
    }
}

static const struct cw__source_ops concat_ops = {
    .kind = "concatenation",
    .begin = concat_begin,
    .end = concat_end,
    .read_direct = concat_read,
    .scratch_bytes = concat_scratch,
    .destroy = concat_destroy,
};

int
cw_source_concat(int n, cw_source_t *const *parts, int axis, cw_source_t **out)
{
    int rc;
    *out = NULL;
    if (n < 1 || parts == NULL) {
        return cw__error(CW_EINVAL, "need at least one array to concatenate");
    }
    int nd = parts[0]->ndim;
    if (axis < 0 || axis >= nd) {
        return cw__error(CW_EINVAL, "axis %d is out of bounds for rank %d", axis, nd);
    }
    int64_t shape[CW_MAXDIM];
    memcpy(shape, parts[0]->shape, (size_t)nd * sizeof(*shape));
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        const cw_source_t *p = parts[i];
        if (p->ndim != nd || p->dtype != parts[0]->dtype) {
            return cw__error(CW_EINVAL, "parts differ in rank or dtype");
        }
        for (int k = 0; k < nd; k++) {
            if (k != axis && p->shape[k] != parts[0]->shape[k]) {
                return cw__error(CW_EINVAL, "parts differ in extent along axis %d", k);
            }
        }
        shape[axis] += p->shape[axis];
    }
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    concat_t *c = cw__calloc(1, sizeof(*c));
    if (src == NULL || c == NULL) {
        cw__free(src);
        cw__free(c);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    src->impl = c;
    c->n = n;
    c->axis = axis;
    c->parts = cw__malloc((size_t)n * sizeof(*c->parts));
    c->offset = cw__malloc((size_t)(n + 1) * sizeof(*c->offset));
    if (c->parts == NULL || c->offset == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    c->offset[0] = 0;
    for (int i = 0; i < n; i++) {
        c->parts[i] = parts[i];
        c->offset[i + 1] = c->offset[i] + parts[i]->shape[axis];
    }
    int64_t chunks[CW_MAXDIM];
    memcpy(chunks, parts[0]->chunks, (size_t)nd * sizeof(*chunks));
    CW_TRY(cw__source_init(src, &concat_ops, nd, shape, parts[0]->dtype, chunks, 0));
    *out = src;
    return CW_OK;
fail:
    cw_source_free(src);
    return rc;
}
