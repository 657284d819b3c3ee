/*
 * exprsrc.c -- a finished program read like any source
 * (cw_source_from_expr): regions are evaluated on demand, so composite
 * sources (concatenation) can be built from programs.  The source borrows
 * the program, which must outlive it.
 *
 * Reads run on worker threads on their own scratch; begin and end on the
 * submitting thread.  No locks.
 */
#include "program_impl.h"

/* A finished program read like any source: regions are evaluated on
 * demand.  Composite sources (concatenation) are built from these. */
typedef struct exprsrc {
    cw_expr_t *e; /* borrowed */
} exprsrc_t;

static int
exprsrc_begin(cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    return cw__sources_begin(e->srcs, e->ninputs);
}

static void
exprsrc_end(cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    cw__sources_end(e->srcs, e->ninputs);
}

static int
exprsrc_read(cw_source_t *src, const int64_t *start, const int64_t *step,
             const int64_t *count, char *dst, const int64_t *strides,
             cw__io_scratch_t *io)
{
    /* Called by storage (the region read) with the io scratch of a worker. */
    cw__worker_t *w = cw__worker_of(io);
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    int nd = e->ndim, rc;
    bool unit = true;
    int64_t lo[CW_MAXDIM], box[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        int64_t last = start[k] + (count[k] - 1) * step[k];
        lo[k] = start[k] < last ? start[k] : last;
        box[k] = (start[k] < last ? last - start[k] : start[k] - last) + 1;
        unit = unit && step[k] == 1;
    }
    cw__layout_t lay;
    cw__plan_layout(e, unit ? count : box, &lay);
    if (unit) {
        return cw__eval_region(e, &lay, start, count, dst, strides, w);
    }
    /* Steps: evaluate the box that holds the selection, then pick. */
    int64_t bstr[CW_MAXDIM], sstr[CW_MAXDIM];
    int64_t st = (int64_t)src->itemsize;
    for (int k = nd - 1; k >= 0; k--) {
        bstr[k] = st;
        st *= box[k];
    }
    /* The box of this nesting level: the region evaluated here may read
     * other programs with steps, each into the box of its own level. */
    int lvl = w->vm.depth;
    if (lvl >= CW__MAX_DEPTH) {
        return cw__error(CW_EINVAL, "expressions nested more than %d deep",
                         CW__MAX_DEPTH);
    }
    CW_TRY(cw__reserve(&w->vm.box[lvl], &w->vm.box_cap[lvl], (size_t)st));
    CW_TRY(cw__eval_region(e, &lay, lo, box, w->vm.box[lvl], bstr, w));
    const char *first = w->vm.box[lvl];
    for (int k = 0; k < nd; k++) {
        first += (start[k] - lo[k]) * bstr[k];
        sstr[k] = bstr[k] * step[k];
    }
    cw__copy_strided(nd, count, dst, strides, first, sstr, src->itemsize);
    rc = CW_OK;
fail:
    return rc;
}

static size_t
exprsrc_scratch(const cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    return cw__expr_working_set(e, e->tile) + src->chunk_nbytes;
}

static void
exprsrc_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops exprsrc_ops = {
    .kind = "expression",
    .begin = exprsrc_begin,
    .end = exprsrc_end,
    .read_direct = exprsrc_read,
    .scratch_bytes = exprsrc_scratch,
    .destroy = exprsrc_destroy,
};

int
cw_source_from_expr(cw_expr_t *e, cw_source_t **out)
{
    int rc;
    *out = NULL;
    CW_TRY(cw__expr_check_finished(e));
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    exprsrc_t *x = cw__calloc(1, sizeof(*x));
    if (src == NULL || x == NULL) {
        cw__free(src);
        cw__free(x);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    x->e = e;
    src->impl = x;
    rc = cw__source_init(src, &exprsrc_ops, e->ndim, e->shape, e->v[e->result].dtype,
                         e->tile, 0);
    if (rc < 0) {
        cw_source_free(src);
        return rc;
    }
    *out = src;
    return CW_OK;
fail:
    return rc;
}
