/*
 * read.c -- cw_read, which materialises a selection into a caller's
 * buffer through the region primitive (storage/region.c).
 *
 * cw_read splits the selection into tiles, one per source chunk that holds
 * selected elements (per dimension: the runs of j whose index falls in one
 * chunk), and schedules one task per tile.  Each chunk is therefore
 * fetched and decoded exactly once, and chunks the selection skips (for
 * example with a step larger than the chunk) are never touched.
 */
#include <string.h>

#include "engine_impl.h"

int
cw__sel_check(const cw_source_t *src, const cw_sel_t *sel)
{
    if (sel->ndim != src->ndim) {
        return cw__error(CW_EINVAL, "selection has %d dimensions, the source %d",
                         sel->ndim, src->ndim);
    }
    for (int d = 0; d < sel->ndim; d++) {
        int64_t n = sel->count[d], s = sel->start[d], t = sel->step[d];
        if (n < 0 || t == 0) {
            return cw__error(CW_EINVAL, "invalid selection in dimension %d", d);
        }
        if (n == 0) {
            continue;
        }
        int64_t last;
        if (__builtin_mul_overflow(n - 1, t, &last) ||
            __builtin_add_overflow(s, last, &last) || s < 0 || s >= src->shape[d] ||
            last < 0 || last >= src->shape[d]) {
            return cw__error(CW_EINDEX,
                             "selection out of range in dimension "
                             "%d (extent %lld)",
                             d, (long long)src->shape[d]);
        }
    }
    return CW_OK;
}

/* ---------------------------------------------------------------- cw_read */

typedef struct read_ctx {
    cw_source_t *src;
    const cw_sel_t *sel;
    char *dst;
    const int64_t *strides;
    int64_t ntiles[CW_MAXDIM];
    int64_t *bounds[CW_MAXDIM]; /* tile d,k covers j in [b[k], b[k+1]) */
} read_ctx_t;

/* Split [0, count) of one dimension at chunk boundaries. */
static int
tile_dim(const cw_source_t *src, const cw_sel_t *sel, int d, read_ctx_t *ctx)
{
    int64_t n = sel->count[d], s = sel->start[d], t = sel->step[d];
    int64_t C = src->chunks[d];
    int64_t maxtiles = src->nchunks[d] < n ? src->nchunks[d] : n;
    int64_t *b = cw__malloc((size_t)(maxtiles + 1) * sizeof(*b));
    if (b == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    int64_t k = 0, j = 0;
    b[0] = 0;
    while (j < n) {
        int64_t i = s + j * t, ch = i / C, j0, j1;
        cw__jrange(s, t, n, ch * C, ch * C + C, &j0, &j1);
        j = j1;
        b[++k] = j;
    }
    ctx->bounds[d] = b;
    ctx->ntiles[d] = k;
    return CW_OK;
}

static int
read_task(void *vctx, int64_t task, cw__worker_t *w)
{
    read_ctx_t *ctx = vctx;
    const cw_sel_t *sel = ctx->sel;
    int64_t start[CW_MAXDIM], count[CW_MAXDIM];
    char *dst = ctx->dst;
    for (int d = sel->ndim - 1; d >= 0; d--) {
        int64_t k = task % ctx->ntiles[d];
        task /= ctx->ntiles[d];
        int64_t j0 = ctx->bounds[d][k], j1 = ctx->bounds[d][k + 1];
        start[d] = sel->start[d] + j0 * sel->step[d];
        count[d] = j1 - j0;
        dst += j0 * ctx->strides[d];
    }
    return cw__read_region(ctx->src, start, sel->step, count, dst, ctx->strides,
                           &w->io);
}

int
cw_read(cw_source_t *src, const cw_sel_t *sel, void *dst, const int64_t *strides,
        const cw_config_t *cfg)
{
    int rc;
    read_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    cw__error_clear();
    CW_TRY(cw__sel_check(src, sel));
    for (int d = 0; d < sel->ndim; d++) {
        if (sel->count[d] == 0) {
            return CW_OK;
        }
    }
    ctx.src = src;
    ctx.sel = sel;
    ctx.dst = dst;
    ctx.strides = strides;
    int64_t ntasks = 1;
    for (int d = 0; d < sel->ndim; d++) {
        CW_TRY(tile_dim(src, sel, d, &ctx));
        if (!cw__mul_ok(ntasks, ctx.ntiles[d], &ntasks)) {
            rc = cw__error(CW_EINVAL, "too many chunks");
            goto fail;
        }
    }
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    cw__job_t job = {.ntasks = ntasks,
                     .per_task = cw__source_working_set(src),
                     .nsources = 1,
                     .sources = &src,
                     .task = read_task,
                     .ctx = &ctx};
    rc = cw__job_run(&job, &budget, cfg);
fail:
    for (int d = 0; d < CW_MAXDIM; d++) {
        cw__free(ctx.bounds[d]);
    }
    return rc;
}
