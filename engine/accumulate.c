/*
 * accumulate.c -- accumulations along one axis (cumulative sums and the
 * like), into memory (cw__expr_accumulate) or a new dataset
 * (cw__expr_accumulate_store).  One task walks a column of tiles along the
 * axis in order, the first row of each tile continuing from the last row
 * of the one before; columns are independent and run in parallel.
 *
 * A task writes only its own column.  No locks.
 */
#include <string.h>

#include "program_impl.h"

typedef struct acc_ctx {
    const cw_expr_t *e;
    cw__layout_t lay;
    int axis;
    cw_loop_fn fn;
    void *data;
    size_t itemsize;
    char *dst;
    const int64_t *strides;
    int64_t ntiles[CW_MAXDIM]; /* along `axis`: 1 (one task walks them) */
    int64_t nalong;            /* tiles along `axis` */
} acc_ctx_t;

/*
 * Accumulate in place along `ax`: row i = fn(row i-1, row i), each row
 * walked with an odometer over the other axes (innermost as the loop's
 * run).  Row 0 continues from `prev0` (a row with the same strides) or,
 * when NULL, stays as it is.
 */
static void
acc_rows(cw_loop_fn fn, void *data, int nd, int ax, const int64_t *count,
         const int64_t *strides, char *tile, const char *prev0)
{
    int inner = nd - 1 == ax ? nd - 2 : nd - 1;
    for (int64_t i = prev0 ? 0 : 1; i < count[ax]; i++) {
        char *row = tile + i * strides[ax];
        const char *prev = i == 0 ? prev0 : row - strides[ax];
        int64_t idx[CW_MAXDIM];
        memset(idx, 0, sizeof(idx));
        for (;;) {
            int64_t o = 0;
            for (int k = 0; k < nd; k++) {
                if (k != ax && k != inner) {
                    o += idx[k] * strides[k];
                }
            }
            intptr_t n = inner >= 0 ? (intptr_t)count[inner] : 1;
            intptr_t st = inner >= 0 ? (intptr_t)strides[inner] : 0;
            char *args[3] = {(char *)prev + o, row + o, row + o};
            intptr_t steps[3] = {st, st, st};
            fn(args, &n, steps, data);
            if (!cw__next_index(idx, count, nd - 1, ax, inner)) {
                break;
            }
        }
    }
}

static int
acc_task(void *vctx, int64_t task, cw__worker_t *w)
{
    acc_ctx_t *c = vctx;
    const cw_expr_t *e = c->e;
    int nd = e->ndim, ax = c->axis;
    int rc = CW_OK;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    cw__tile_at(e, c->ntiles, task, off, count);
    /* The row carried along `axis`: the other axes of this tile, in the
     * destination's own layout so the loops write it in place. */
    for (int64_t t = 0; t < c->nalong; t++) {
        off[ax] = t * e->tile[ax];
        int64_t end = off[ax] + e->tile[ax];
        count[ax] = (end < e->shape[ax] ? end : e->shape[ax]) - off[ax];
        char *tile = c->dst;
        for (int k = 0; k < nd; k++) {
            tile += off[k] * c->strides[k];
        }
        CW_TRY(cw__eval_region(e, &c->lay, off, count, tile, c->strides, w));
        /* The first row of the tile continues from the last row of the
         * previous one, which is already final in dst. */
        acc_rows(c->fn, c->data, nd, ax, count, c->strides, tile,
                 t == 0 ? NULL : tile - c->strides[ax]);
    }
fail:
    return rc;
}

/* Start an accumulation's call: a finished program, an axis in range. */
static int
check_call(const cw_expr_t *e, const char *name, int axis)
{
    cw__error_clear();
    CW_TRY_RET(cw__expr_check_finished(e));
    if (axis < 0 || axis >= e->ndim) {
        return cw__error(CW_EINVAL, "%s: axis %d out of range",
                         name ? name : "accumulate", axis);
    }
    return CW_OK;
}

int
cw__expr_accumulate(cw_expr_t *e, const cw_output_t *o, const cw_config_t *cfg)
{
    int rc;
    acc_ctx_t c;
    int axis = o->axis;
    CW_TRY(check_call(e, o->name, axis));
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.axis = axis;
    c.fn = o->fn;
    c.data = o->data;
    c.itemsize = e->v[e->result].itemsize;
    c.dst = o->dst;
    c.strides = o->strides;
    int64_t ntasks;
    CW_TRY(cw__tile_grid(e, c.ntiles, &ntasks));
    if (ntasks == 0) {
        return CW_OK;
    }
    /* One task per column of tiles along the axis. */
    c.nalong = c.ntiles[axis];
    c.ntiles[axis] = 1;
    ntasks /= c.nalong;
    rc = cw__expr_run(e, &c.lay, ntasks, acc_task, &c, cfg);
fail:
    return rc;
}

/* Stores of an accumulation: chunks along the axis in order, the last row
 * of each carried to the next in the thread's w->vm.carry. */
typedef struct acc_job {
    cw__expr_store_t j;
    cw_loop_fn fn;
    void *data;
    int axis;
    size_t itemsize;
} acc_job_t;

static int
acc_post(void *vctx, const int64_t *off, const int64_t *count, char *buf,
         const int64_t *strides, cw__worker_t *w)
{
    acc_job_t *a = vctx;
    cw__vm_scratch_t *vm = &w->vm;
    int nd = a->j.e->ndim, ax = a->axis;
    acc_rows(a->fn, a->data, nd, ax, count, strides, buf,
             off[ax] == 0 ? NULL : vm->carry);
    /* Keep the last row, laid out like a chunk's row 0. */
    int64_t row[CW_MAXDIM];
    size_t span = a->itemsize;
    for (int k = 0; k < nd; k++) {
        row[k] = k == ax ? 1 : count[k];
        span += (size_t)((row[k] - 1) * strides[k]);
    }
    int rc = cw__reserve(&vm->carry, &vm->carry_cap, span);
    if (rc == CW_OK) {
        cw__copy_strided(nd, row, vm->carry, strides,
                         buf + (count[ax] - 1) * strides[ax], strides, a->itemsize);
    }
    return rc;
}

int
cw__expr_accumulate_store(cw_expr_t *e, const cw_output_t *o, const cw_config_t *cfg)
{
    int rc;
    int axis = o->axis;
    CW_TRY(check_call(e, o->name, axis));
    acc_job_t a = {.j = {.e = e},
                   .fn = o->fn,
                   .data = o->data,
                   .axis = axis,
                   .itemsize = e->v[e->result].itemsize};
    /* The program's store job, with `a` as its context (a.j comes first)
     * and the accumulation after each chunk's fill. */
    cw__store_job_t job;
    cw__expr_store_job(&job, &a.j, e);
    job.ctx = &a;
    job.post = acc_post;
    job.sequential = true;
    job.axis = axis;
    rc = cw__store_run(&job, o->path, o->dataset, o->store, cfg);
fail:
    return rc;
}
