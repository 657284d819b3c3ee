/*
 * bincount.c -- counting int64 bin indices (cw__expr_bincount, the
 * CW_OUT_BINCOUNT output): numpy.bincount and the counting half of
 * numpy.histogram.  The program gives each element's bin index (and, when
 * weighted, its weight); a task evaluates a group of consecutive tiles,
 * slab by slab, and adds each slab into its group's partial: a vector of
 * nbins int64 counts or sums.  Indices outside [0, nbins) are left out;
 * the least and greatest index are found on the way when asked for.
 * At the end the groups' partials are combined pairwise in group order.
 *
 * The groups depend on the shape, the tiles, nbins and the memory limit,
 * never on the threads, and each is counted in a fixed order, so sums of
 * float weights are bit-identical for any thread count (counts and
 * integer sums are exact anyway).  A task writes only its own group's
 * partial.  No locks.
 */
#include <stdio.h>
#include <string.h>

#include "program_impl.h"

typedef struct bin_ctx {
    const cw_expr_t *e;
    cw__layout_t lay;
    int64_t ntiles[CW_MAXDIM];
    int64_t T, G; /* tiles, tiles per group */
    int nout;     /* 1: counts; 2: weighted */
    int outs[2];
    int64_t nbins;
    bool fsum;      /* float64 weights */
    char *partials; /* groups x nbins x 8 */
    int64_t *ext;   /* groups x (least, greatest index), or NULL */
} bin_ctx_t;

/* One task's sink: slabs of the indices (and weights) into the thread's
 * slab buffer, then into the group's partial. */
typedef struct bin_slab {
    const bin_ctx_t *c;
    int64_t tstr[CW_MAXDIM]; /* C strides of the tile, 8-byte elements */
    char *part;
    int64_t *sub;   /* counts: SUBS interleaved vectors, or NULL */
    int64_t lo, hi; /* the least and greatest index seen */
    cw__vm_scratch_t *vm;
} bin_slab_t;

/* Plain counts into few bins go to SUBS vectors in turn, so that runs of
 * equal indices do not wait on one counter; they are added up after the
 * task (integers: exact in any order). */
#define SUBS 4
#define SUB_MAX_BINS 4096

static int64_t
slab_elems(const bin_slab_t *bs, int ax, int64_t r0, int64_t r1)
{
    return ax >= 0 ? (r1 - r0) * bs->tstr[ax] / 8 : 1;
}

static int
bin_slab_begin(void *vctx, int ax, int64_t r0, int64_t r1, char **dsts)
{
    bin_slab_t *bs = vctx;
    size_t n = (size_t)slab_elems(bs, ax, r0, r1) * 8;
    CW_TRY_RET(cw__reserve(&bs->vm->bin_slabs, &bs->vm->bin_slabs_cap,
                           n * (size_t)bs->c->nout));
    for (int o = 0; o < bs->c->nout; o++) {
        dsts[o] = (char *)bs->vm->bin_slabs + (size_t)o * n;
    }
    return CW_OK;
}

static int
bin_slab_end(void *vctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
             const int64_t *const *strides)
{
    bin_slab_t *bs = vctx;
    const bin_ctx_t *c = bs->c;
    (void)strides; /* the slab is contiguous: C strides of the tile */
    int64_t m = slab_elems(bs, ax, r0, r1);
    uint64_t nb = (uint64_t)c->nbins;
    const int64_t *ix = (const int64_t *)(const void *)ptrs[0];
    if (c->ext) {
        int64_t lo = bs->lo, hi = bs->hi;
        for (int64_t i = 0; i < m; i++) {
            lo = ix[i] < lo ? ix[i] : lo;
            hi = ix[i] > hi ? ix[i] : hi;
        }
        bs->lo = lo;
        bs->hi = hi;
    }
    if (bs->sub) {
        int64_t *s0 = bs->sub, *s1 = s0 + nb, *s2 = s1 + nb, *s3 = s2 + nb;
        int64_t i = 0;
        for (; i + SUBS <= m; i += SUBS) {
            uint64_t k0 = (uint64_t)ix[i], k1 = (uint64_t)ix[i + 1];
            uint64_t k2 = (uint64_t)ix[i + 2], k3 = (uint64_t)ix[i + 3];
            s0[k0 < nb ? k0 : 0] += k0 < nb;
            s1[k1 < nb ? k1 : 0] += k1 < nb;
            s2[k2 < nb ? k2 : 0] += k2 < nb;
            s3[k3 < nb ? k3 : 0] += k3 < nb;
        }
        for (; i < m; i++) {
            if ((uint64_t)ix[i] < nb) {
                s0[ix[i]]++;
            }
        }
    }
    else if (c->nout == 1) {
        int64_t *acc = (int64_t *)(void *)bs->part;
        for (int64_t i = 0; i < m; i++) {
            if ((uint64_t)ix[i] < nb) {
                acc[ix[i]]++;
            }
        }
    }
    else if (c->fsum) {
        double *acc = (double *)(void *)bs->part;
        const double *wt = (const double *)(const void *)ptrs[1];
        for (int64_t i = 0; i < m; i++) {
            if ((uint64_t)ix[i] < nb) {
                acc[ix[i]] += wt[i];
            }
        }
    }
    else {
        /* Integer sums wrap as NumPy's int64 additions do. */
        uint64_t *acc = (uint64_t *)(void *)bs->part;
        const int64_t *wt = (const int64_t *)(const void *)ptrs[1];
        for (int64_t i = 0; i < m; i++) {
            if ((uint64_t)ix[i] < nb) {
                acc[ix[i]] += (uint64_t)wt[i];
            }
        }
    }
    return CW_OK;
}

static int
bin_task(void *vctx, int64_t task, cw__worker_t *w)
{
    const bin_ctx_t *c = vctx;
    const cw_expr_t *e = c->e;
    int nd = e->ndim;
    bin_slab_t bs = {
        .c = c, .part = c->partials + (size_t)(task * c->nbins) * 8, .vm = &w->vm};
    int64_t t1 = (task + 1) * c->G < c->T ? (task + 1) * c->G : c->T;
    if (c->nout == 1 && c->nbins <= SUB_MAX_BINS) {
        size_t sb = (size_t)c->nbins * SUBS * sizeof(int64_t);
        CW_TRY_RET(cw__reserve(&w->vm.bin_sub, &w->vm.bin_sub_cap, sb));
        bs.sub = w->vm.bin_sub;
        memset(bs.sub, 0, sb);
    }
    for (int64_t t = task * c->G; t < t1; t++) {
        int64_t off[CW_MAXDIM], count[CW_MAXDIM];
        cw__tile_at(e, c->ntiles, t, off, count);
        int64_t st = 8;
        for (int k = nd - 1; k >= 0; k--) {
            bs.tstr[k] = st;
            st *= count[k];
        }
        const int64_t *dstr[2] = {bs.tstr, bs.tstr};
        char *dsts[2] = {NULL, NULL};
        cw__slab_sink_t sink = {
            .begin = bin_slab_begin, .end = bin_slab_end, .ctx = &bs};
        CW_TRY_RET(cw__eval_region_sink(e, &c->lay, off, count, c->nout, c->outs, dsts,
                                        dstr, &sink, w));
    }
    if (c->ext) {
        c->ext[2 * task] = bs.lo;
        c->ext[2 * task + 1] = bs.hi;
    }
    if (bs.sub) {
        int64_t *acc = (int64_t *)(void *)bs.part;
        for (int64_t k = 0; k < c->nbins; k++) {
            for (int j = 0; j < SUBS; j++) {
                acc[k] += bs.sub[j * c->nbins + k];
            }
        }
    }
    return CW_OK;
}

/* a[i] += b[i] for one partial: doubles, or int64 wrapping. */
static void
add_partial(bool fsum, char *a, const char *b, int64_t n)
{
    if (fsum) {
        double *x = (double *)(void *)a;
        const double *y = (const double *)(const void *)b;
        for (int64_t i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }
    else {
        uint64_t *x = (uint64_t *)(void *)a;
        const uint64_t *y = (const uint64_t *)(const void *)b;
        for (int64_t i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }
}

int
cw__expr_bincount(cw_expr_t *e, const cw_output_t *o, const cw_config_t *cfg)
{
    int rc;
    bin_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.nbins = o->nbins;
    c.nout = o->weighted ? 2 : 1;
    c.outs[0] = o->id;
    c.outs[1] = o->weighted ? o->weights : o->id;
    if (e->v[o->id].dtype != CW_INT64) {
        return cw__error(CW_EINVAL, "bincount: the bin indices must be int64");
    }
    if (o->weighted) {
        CW_TRY_RET(cw__expr_check_ref(e, o->weights));
        cw_dtype_t wd = e->v[o->weights].dtype;
        if (wd != CW_INT64 && wd != CW_FLOAT64) {
            return cw__error(CW_EINVAL, "bincount: weights must be int64 or float64");
        }
        c.fsum = wd == CW_FLOAT64;
    }
    if (c.nbins < 0 || o->dst == NULL) {
        return cw__error(CW_EINVAL, "bincount needs nbins >= 0 and a buffer");
    }
    if (o->extremes) {
        o->extremes[0] = INT64_MAX; /* stays so when there is nothing */
        o->extremes[1] = INT64_MIN;
    }
    size_t vec = (size_t)c.nbins * 8;
    if (c.nbins == 0) {
        return CW_OK;
    }
    memset(o->dst, 0, vec);
    CW_TRY_RET(cw__tile_grid(e, c.ntiles, &c.T));
    if (c.T == 0) {
        return CW_OK;
    }
    /* Groups: at most one per tile, their partials within an eighth of
     * the memory limit (at least one group). */
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    int64_t fit = budget.limit / 8 / (int64_t)vec;
    int64_t ngroups = fit < 1 ? 1 : fit < c.T ? fit : c.T;
    c.G = (c.T + ngroups - 1) / ngroups;
    ngroups = (c.T + c.G - 1) / c.G;
    char what[96];
    snprintf(what, sizeof(what), "bincount: %lld partial vectors of %lld bins",
             (long long)ngroups, (long long)c.nbins);
    CW_TRY_RET(cw__budget_reserve(&budget, ngroups * (int64_t)vec, what,
                                  "use fewer bins or raise memory_limit"));
    /* Per task, the planner's worst case: a tile of each output whole. */
    size_t te = 8 * (size_t)c.nout;
    for (int k = 0; k < e->ndim; k++) {
        te *= (size_t)e->tile[k];
    }
    if (c.nout == 1 && c.nbins <= SUB_MAX_BINS) {
        te += vec * SUBS; /* the interleaved counts */
    }
    cw__job_t job = cw__expr_job(e, &c.lay, ngroups, te, bin_task, &c);
    int nthreads;
    CW_TRY_RET(cw__job_plan(&job, &budget, cfg, &nthreads));
    c.partials = cw__calloc((size_t)ngroups, vec);
    if (o->extremes) {
        c.ext = cw__malloc((size_t)ngroups * 2 * sizeof(int64_t));
    }
    if (c.partials == NULL || (o->extremes && c.ext == NULL)) {
        rc = cw__error(CW_ENOMEM, "out of memory for %lld bincount partials",
                       (long long)ngroups);
        goto fail;
    }
    CW_TRY(cw__job_exec(&job, nthreads, cfg));
    /* Pairwise in group order: independent of the threads. */
    for (int64_t step = 1; step < ngroups; step *= 2) {
        for (int64_t r = 0; r + step < ngroups; r += 2 * step) {
            add_partial(c.fsum, c.partials + (size_t)r * vec,
                        c.partials + (size_t)(r + step) * vec, c.nbins);
        }
    }
    memcpy(o->dst, c.partials, vec);
    if (c.ext) {
        for (int64_t g = 0; g < ngroups; g++) {
            o->extremes[0] =
                c.ext[2 * g] < o->extremes[0] ? c.ext[2 * g] : o->extremes[0];
            o->extremes[1] =
                c.ext[2 * g + 1] > o->extremes[1] ? c.ext[2 * g + 1] : o->extremes[1];
        }
    }
    rc = CW_OK;
fail:
    cw__free(c.partials);
    cw__free(c.ext);
    return rc;
}
