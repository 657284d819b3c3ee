/*
 * argreduce.c -- argmax and argmin (cw__expr_argreduce): per tile, the best
 * value and its flat index for each output element; then the tiles'
 * partials are combined by a rule that does not depend on their order
 * (NaN beats everything, ties go to the smaller index), so the result
 * does not depend on the schedule.
 *
 * A task writes only its own tile's partials.  No locks.
 */
#include <string.h>

#include "program_impl.h"

/* Whether candidate `a` (index ia) beats the best so far `b` (index ib):
 * NaN beats everything, equal values go to the smaller index. */
#define ARG_BETTER(T, ISNAN)                                                       \
    static bool better_##T(const void *pa, int64_t ia, const void *pb, int64_t ib, \
                           bool is_max)                                            \
    {                                                                              \
        T a, b;                                                                    \
        memcpy(&a, pa, sizeof(T));                                                 \
        memcpy(&b, pb, sizeof(T));                                                 \
        bool na = ISNAN(a), nb = ISNAN(b);                                         \
        if (na || nb) {                                                            \
            return na && (!nb || ia < ib);                                         \
        }                                                                          \
        if (a == b) {                                                              \
            return ia < ib;                                                        \
        }                                                                          \
        return is_max ? a > b : a < b;                                             \
    }
#define NO_NAN(x) ((void)(x), false)
#define IS_NAN(x) ((x) != (x))
typedef _Bool bool_t;
typedef _Float16 f16_t;
ARG_BETTER(bool_t, NO_NAN)
ARG_BETTER(int8_t, NO_NAN)
ARG_BETTER(int16_t, NO_NAN)
ARG_BETTER(int32_t, NO_NAN)
ARG_BETTER(int64_t, NO_NAN)
ARG_BETTER(uint8_t, NO_NAN)
ARG_BETTER(uint16_t, NO_NAN)
ARG_BETTER(uint32_t, NO_NAN)
ARG_BETTER(uint64_t, NO_NAN)
ARG_BETTER(f16_t, IS_NAN)
ARG_BETTER(float, IS_NAN)
ARG_BETTER(double, IS_NAN)

/* Complex values order as NumPy orders them: by real part, then by
 * imaginary part; a value with a NaN part is NaN. */
#define ARG_BETTER_COMPLEX(T, NAME)                                                   \
    static bool better_##NAME(const void *pa, int64_t ia, const void *pb, int64_t ib, \
                              bool is_max)                                            \
    {                                                                                 \
        T a[2], b[2];                                                                 \
        memcpy(a, pa, sizeof(a));                                                     \
        memcpy(b, pb, sizeof(b));                                                     \
        bool na = IS_NAN(a[0]) || IS_NAN(a[1]), nb = IS_NAN(b[0]) || IS_NAN(b[1]);    \
        if (na || nb) {                                                               \
            return na && (!nb || ia < ib);                                            \
        }                                                                             \
        if (a[0] == b[0] && a[1] == b[1]) {                                           \
            return ia < ib;                                                           \
        }                                                                             \
        bool gt = a[0] > b[0] || (a[0] == b[0] && a[1] > b[1]);                       \
        return is_max ? gt : !gt;                                                     \
    }
ARG_BETTER_COMPLEX(float, c64)
ARG_BETTER_COMPLEX(double, c128)

typedef bool (*better_fn)(const void *, int64_t, const void *, int64_t, bool);

static const better_fn better_of[CW_NDTYPES] = {
    better_bool_t,  better_int8_t,   better_int16_t,  better_int32_t,  better_int64_t,
    better_uint8_t, better_uint16_t, better_uint32_t, better_uint64_t, better_f16_t,
    better_float,   better_double,   better_c64,      better_c128};

typedef struct arg_ctx {
    const cw_expr_t *e;
    cw__layout_t lay;
    bool is_max;
    int axis; /* -1: all */
    better_fn better;
    size_t itemsize;
    size_t tile_bytes;
    int64_t ntiles[CW_MAXDIM];
    int64_t kept;               /* output elements */
    int64_t kstride[CW_MAXDIM]; /* element strides of the output (0: reduced) */
    int64_t gstride[CW_MAXDIM]; /* element strides of the index counted */
    /* Partials: per tile along the reduced axes, per output element. */
    unsigned char *pval; /* R x kept x itemsize */
    int64_t *pidx;       /* R x kept; -1: none yet */
} arg_ctx_t;

static int
arg_task(void *vctx, int64_t task, cw__worker_t *w)
{
    arg_ctx_t *c = vctx;
    const cw_expr_t *e = c->e;
    int nd = e->ndim, rc;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM], tstr[CW_MAXDIM];
    cw__tile_at(e, c->ntiles, task, off, count);
    int64_t r = 0;
    for (int k = 0; k < nd; k++) {
        if (c->axis < 0 || k == c->axis) {
            r = r * c->ntiles[k] + off[k] / e->tile[k];
        }
    }
    int64_t st = (int64_t)c->itemsize;
    for (int k = nd - 1; k >= 0; k--) {
        tstr[k] = st;
        st *= count[k];
    }
    cw__vm_scratch_t *vm = &w->vm;
    CW_TRY(cw__reserve(&vm->arg_tile, &vm->arg_tile_cap, c->tile_bytes));
    CW_TRY(cw__eval_region(e, &c->lay, off, count, vm->arg_tile, tstr, w));
    unsigned char *pv = c->pval + (size_t)(r * c->kept) * c->itemsize;
    int64_t *pi = c->pidx + r * c->kept;
    /* Walk the tile in C order: indices grow, so the first best stays. */
    int64_t idx[CW_MAXDIM];
    memset(idx, 0, sizeof(idx));
    int64_t n = 1;
    for (int k = 0; k < nd; k++) {
        n *= count[k];
    }
    const unsigned char *p = vm->arg_tile;
    for (int64_t i = 0; i < n; i++, p += c->itemsize) {
        int64_t o = 0, g = 0;
        for (int k = 0; k < nd; k++) {
            o += (off[k] + idx[k]) * c->kstride[k];
            g += (off[k] + idx[k]) * c->gstride[k];
        }
        if (pi[o] < 0 ||
            c->better(p, g, pv + (size_t)o * c->itemsize, pi[o], c->is_max)) {
            memcpy(pv + (size_t)o * c->itemsize, p, c->itemsize);
            pi[o] = g;
        }
        cw__next_index(idx, count, nd - 1, -1, -1);
    }
    rc = CW_OK;
fail:
    return rc;
}

int
cw__expr_argreduce(cw_expr_t *e, bool is_max, int axis, int64_t *dst,
                   const cw_config_t *cfg)
{
    int rc;
    arg_ctx_t c;
    if (axis < -1 || axis >= e->ndim) {
        return cw__error(CW_EINVAL, "axis %d out of range", axis);
    }
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.is_max = is_max;
    c.axis = axis;
    c.itemsize = e->v[e->result].itemsize;
    c.better = better_of[e->v[e->result].dtype];
    int64_t ntasks, R = 1, kept = 1;
    size_t tile_elems1 = 1;
    CW_TRY(cw__tile_grid(e, c.ntiles, &ntasks));
    if (ntasks == 0) {
        return cw__error(CW_EINVAL, "attempt to get %s of an empty sequence",
                         is_max ? "argmax" : "argmin");
    }
    for (int k = 0; k < e->ndim; k++) {
        tile_elems1 *= (size_t)e->tile[k];
        bool red = axis < 0 || k == axis;
        R *= red ? c.ntiles[k] : 1;
        kept *= red ? 1 : e->shape[k];
    }
    int64_t ks = 1, gs = 1;
    for (int k = e->ndim - 1; k >= 0; k--) {
        bool red = axis < 0 || k == axis;
        c.kstride[k] = red ? 0 : ks;
        ks *= red ? 1 : e->shape[k];
        c.gstride[k] = red ? gs : 0;
        gs *= red ? e->shape[k] : 1;
    }
    c.kept = kept;
    c.tile_bytes = tile_elems1 * c.itemsize;
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    CW_TRY(cw__budget_reserve(
        &budget, R * kept * (int64_t)(c.itemsize + 8),
        is_max ? "argmax: partial results" : "argmin: partial results", NULL));
    /* The threads are planned before the partials are allocated. */
    cw__job_t job = cw__expr_job(e, &c.lay, ntasks, c.tile_bytes, arg_task, &c);
    int nthreads;
    CW_TRY(cw__job_plan(&job, &budget, cfg, &nthreads));
    c.pval = cw__malloc((size_t)(R * kept) * c.itemsize);
    c.pidx = cw__malloc((size_t)(R * kept) * sizeof(int64_t));
    if (c.pval == NULL || c.pidx == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory for partials");
        goto fail;
    }
    for (int64_t i = 0; i < R * kept; i++) {
        c.pidx[i] = -1;
    }
    CW_TRY(cw__job_exec(&job, nthreads, cfg));
    /* Combine: the rule is order-independent (ties go to the smaller
     * index), so the result does not depend on the schedule. */
    for (int64_t o = 0; o < kept; o++) {
        int64_t best = -1;
        for (int64_t r = 0; r < R; r++) {
            int64_t j = r * kept + o;
            if (c.pidx[j] >= 0 &&
                (best < 0 ||
                 c.better(c.pval + (size_t)j * c.itemsize, c.pidx[j],
                          c.pval + (size_t)best * c.itemsize, c.pidx[best], is_max))) {
                best = j;
            }
        }
        dst[o] = c.pidx[best];
    }
    rc = CW_OK;
fail:
    cw__free(c.pval);
    cw__free(c.pidx);
    return rc;
}
