/*
 * plan.c -- the plan of a program's run: the grid of output tiles (one
 * task each), the per-thread layout of a tile's buffers (input tiles, then
 * one block per register), a task's working set, the job that runs the
 * tiles, and cw_expr_describe, which prints that plan.
 *
 * Plans are pure functions of a finished program.  No locks.
 */
#include <stdio.h>

#include "program_impl.h"

static size_t
tile_elems(const cw_expr_t *e, const cw__value_t *v, const int64_t *tile)
{
    size_t n = 1;
    for (int d = 0; d < v->sel.ndim; d++) {
        int k = v->axis[d];
        n *= (size_t)(k >= 0 && !v->bcast[d] ? tile[k] : 1);
    }
    (void)e;
    return n;
}

void
cw__plan_layout(const cw_expr_t *e, const int64_t *tile, cw__layout_t *lay)
{
    size_t off = 0;
    for (int i = 0; i < e->n; i++) {
        const cw__value_t *v = &e->v[i];
        if (v->kind == CW__V_INPUT && v->src->ops->address == NULL) {
            lay->tile_off[i] = off;
            off += (tile_elems(e, v, tile) * v->itemsize + 63) & ~(size_t)63;
        }
    }
    for (int i = 0; i < e->n; i++) {
        const cw__value_t *v = &e->v[i];
        if (v->reg >= 0) {
            lay->reg_off[i] = off;
            off += CW_BLOCK * 8;
        }
    }
    lay->total = off;
}

/* Working set of one task: tiles and registers, plus what reading the
 * inputs needs (decoded chunks, stored bytes). */
size_t
cw__expr_working_set(const cw_expr_t *e, const int64_t *tile)
{
    cw__layout_t lay;
    cw__plan_layout(e, tile, &lay);
    size_t extra = 0;
    for (int i = 0; i < e->n; i++) {
        if (e->v[i].kind == CW__V_INPUT) {
            size_t w = cw__source_working_set(e->v[i].src);
            extra = w > extra ? w : extra;
        }
    }
    return lay.total + extra;
}

/* The tile number `task` of a grid of `ntiles` tiles (row-major): its
 * offset and extent along each axis. */
void
cw__tile_at(const cw_expr_t *e, const int64_t *ntiles, int64_t task, int64_t *off,
            int64_t *count)
{
    cw__grid_cell(e->ndim, e->shape, e->tile, ntiles, task, -1, off, count);
}

/* Tiles per axis of the program's shape and their number (0 for an empty
 * shape); CW_EINVAL when the number does not fit in 64 bits. */
int
cw__tile_grid(const cw_expr_t *e, int64_t *ntiles, int64_t *ntasks)
{
    *ntasks = 1;
    for (int k = 0; k < e->ndim; k++) {
        ntiles[k] = e->shape[k] ? (e->shape[k] + e->tile[k] - 1) / e->tile[k] : 0;
        if (!cw__mul_ok(*ntasks, ntiles[k], ntasks)) {
            return cw__error(CW_EINVAL, "too many tiles");
        }
    }
    return CW_OK;
}

cw__job_t
cw__expr_job(const cw_expr_t *e, cw__layout_t *lay, int64_t ntasks, size_t extra,
             cw__task_fn task, void *ctx)
{
    cw__plan_layout(e, e->tile, lay);
    return (cw__job_t){.ntasks = ntasks,
                       .per_task = cw__expr_working_set(e, e->tile) + extra,
                       .nsources = e->ninputs,
                       .sources = e->srcs,
                       .task = task,
                       .ctx = ctx};
}

static const char *
kind_name(cw__vkind_t k)
{
    return k == CW__V_INPUT    ? "input"
           : k == CW__V_SCALAR ? "scalar"
           : k == CW__V_CAST   ? "cast"
                               : "loop";
}

int
cw_expr_describe(const cw_expr_t *e, const cw_config_t *cfg, char *buf, size_t len)
{
    size_t k = 0;
#define OUT(...)                                                        \
    do {                                                                \
        int w_ = snprintf(buf + k, k < len ? len - k : 0, __VA_ARGS__); \
        k += w_ > 0 ? (size_t)w_ : 0;                                   \
    } while (0)
    if (len > 0) {
        buf[0] = '\0';
    }
    int nloops = 0;
    for (int i = 0; i < e->n; i++) {
        nloops += e->v[i].kind == CW__V_LOOP || e->v[i].kind == CW__V_CAST;
    }
    OUT("fused kernel: %d operation%s over %d input%s, blocks of %d elements\n", nloops,
        nloops == 1 ? "" : "s", e->ninputs, e->ninputs == 1 ? "" : "s", CW_BLOCK);
    for (int i = 0; i < e->n; i++) {
        const cw__value_t *v = &e->v[i];
        OUT("  %%%d = %s", i, kind_name(v->kind));
        if (v->kind == CW__V_INPUT) {
            OUT(" %s source", cw_source_kind(v->src));
            OUT(" (chunks");
            for (int d = 0; d < v->src->ndim; d++) {
                OUT("%s%lld", d ? "x" : " ", (long long)v->src->chunks[d]);
            }
            OUT(")%s", v->src->ops->stream_open ? ", streamed" : "");
        }
        else if (v->kind == CW__V_LOOP) {
            OUT(" %s(", v->name);
            for (int a = 0; a < v->nin; a++) {
                OUT("%s%%%d", a ? ", " : "", v->in[a]);
            }
            OUT(")");
        }
        else if (v->kind == CW__V_CAST) {
            OUT("(%%%d)", v->in[0]);
        }
        OUT(" -> %s%s\n", cw_dtype_name(v->dtype), i == e->result ? "  [result]" : "");
    }
    int64_t ntasks = 1;
    OUT("tiles:");
    for (int d = 0; d < e->ndim; d++) {
        OUT("%s%lld", d ? "x" : " ", (long long)e->tile[d]);
        ntasks *= e->shape[d] ? (e->shape[d] + e->tile[d] - 1) / e->tile[d] : 0;
    }
    size_t ws = e->finished ? cw__expr_working_set(e, e->tile) : 0;
    int nthreads = 1;
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    int rc =
        e->finished ? cw__budget_threads(&budget, cfg, ntasks, ws, &nthreads) : CW_OK;
    OUT("; %lld task%s; %d thread%s x %.1f MiB per task = %.1f MiB projected%s\n",
        (long long)ntasks, ntasks == 1 ? "" : "s", nthreads, nthreads == 1 ? "" : "s",
        (double)ws / 1048576.0, (double)ws * nthreads / 1048576.0,
        rc < 0 ? " (exceeds memory_limit)" : "");
    bool streams = false;
    for (int i = 0; i < e->n; i++) {
        streams =
            streams || (e->v[i].kind == CW__V_INPUT && e->v[i].src->ops->stream_open);
    }
    if (streams) {
        OUT("streamed inputs: chunks inside one tile are read by Blosc block in slabs "
            "of about %lld KiB; the projection assumes chunks decoded whole\n",
            (long long)(CW__SLAB_BYTES >> 10));
    }
#undef OUT
    return CW_OK;
}
