/*
 * run.c -- cw_expr_run, the one run entry: it takes a program's outputs as
 * data and runs them.  Here too, the runs whose tiles are computed once
 * each: values read into caller buffers, shared passes of reads and
 * reductions, and the result stored to a new dataset (through store.c);
 * accumulations, arg-reductions and bincounts have files of their own.  Each run is
 * one job (sched.c) of one task per tile, planned in the memory budget
 * (budget.c) before anything is read.
 *
 * Tasks write disjoint parts of the outputs, and each reduction's partial
 * of a tile belongs to that tile's task.  No locks beyond the scheduler's.
 */
#include <stdio.h>
#include <string.h>

#include "program_impl.h"

typedef struct eval_ctx {
    const cw_expr_t *e;
    cw__layout_t lay;
    char *dst; /* one buffer (run_read) */
    const int64_t *strides;
    int64_t ntiles[CW_MAXDIM];
} eval_ctx_t;

int
cw__expr_run(const cw_expr_t *e, cw__layout_t *lay, int64_t ntasks, cw__task_fn task,
             void *ctx, const cw_config_t *cfg)
{
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    cw__job_t job = cw__expr_job(e, lay, ntasks, 0, task, ctx);
    return cw__job_run(&job, &budget, cfg);
}

static int
read_task(void *vctx, int64_t task, cw__worker_t *w)
{
    eval_ctx_t *ctx = vctx;
    const cw_expr_t *e = ctx->e;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    char *dst = ctx->dst;
    cw__tile_at(e, ctx->ntiles, task, off, count);
    for (int k = 0; k < e->ndim; k++) {
        dst += off[k] * ctx->strides[k];
    }
    return cw__eval_region(e, &ctx->lay, off, count, dst, ctx->strides, w);
}

/* The program's result alone into one buffer: no slabs to share. */
static int
run_read(cw_expr_t *e, void *dst, const int64_t *strides, const cw_config_t *cfg)
{
    int rc;
    eval_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.e = e;
    ctx.dst = dst;
    ctx.strides = strides;
    int64_t ntasks;
    CW_TRY(cw__tile_grid(e, ctx.ntiles, &ntasks));
    if (ntasks == 0) {
        return CW_OK;
    }
    rc = cw__expr_run(e, &ctx.lay, ntasks, read_task, &ctx, cfg);
fail:
    return rc;
}

/* ------------------------------------------------------------------ store */

static int
job_fill(void *vctx, const int64_t *off, const int64_t *count, char *dst,
         const int64_t *strides, cw__worker_t *w)
{
    cw__expr_store_t *j = vctx;
    return cw__eval_region(j->e, &j->lay, off, count, dst, strides, w);
}

/* A store's sink: slabs of the output chunk's rows are computed into a
 * slab-sized buffer and fed to the chunk's encoder in order. */
typedef struct store_slab {
    const int64_t *count;   /* the region (the chunk's part in shape) */
    const int64_t *strides; /* the chunk's C strides */
    size_t itemsize;
    bool edge; /* rows hold padding: clear them first */
    cw__chunk_writer_t *cw;
    cw__vm_scratch_t *vm;
} store_slab_t;

static size_t
slab_bytes(const store_slab_t *ss, int ax, int64_t r0, int64_t r1)
{
    return ax >= 0 ? (size_t)((r1 - r0) * ss->strides[ax]) : ss->itemsize;
}

static int
store_slab_begin(void *vctx, int ax, int64_t r0, int64_t r1, char **dsts)
{
    store_slab_t *ss = vctx;
    size_t n = slab_bytes(ss, ax, r0, r1);
    CW_TRY_RET(cw__reserve(&ss->vm->out_chunk, &ss->vm->out_chunk_cap, n));
    if (ss->edge) {
        memset(ss->vm->out_chunk, 0, n);
    }
    dsts[0] = ss->vm->out_chunk;
    return CW_OK;
}

static int
store_slab_end(void *vctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
               const int64_t *const *strides)
{
    store_slab_t *ss = vctx;
    (void)strides;
    return ss->cw->k->ops->stream_feed(ss->cw, ptrs[0], slab_bytes(ss, ax, r0, r1));
}

static int
job_fill_stream(void *vctx, const int64_t *off, const int64_t *count,
                const int64_t *strides, cw__chunk_writer_t *cw, cw__worker_t *w)
{
    cw__expr_store_t *j = vctx;
    const cw_expr_t *e = j->e;
    store_slab_t ss = {.count = count,
                       .strides = strides,
                       .itemsize = e->v[e->result].itemsize,
                       .cw = cw,
                       .vm = &w->vm};
    /* The region starts at the chunk's origin; rows of it are whole rows
     * of the chunk only when no later axis is cut by the shape's edge. */
    int ax = -1;
    for (int k = 0; k < e->ndim; k++) {
        if (ax >= 0 && count[k] * strides[k] != strides[k - 1]) {
            ss.edge = true; /* fewer than the chunk's extent along k */
        }
        if (ax < 0 && count[k] > 1) {
            ax = k;
        }
    }
    cw__slab_sink_t sink = {
        .begin = store_slab_begin, .end = store_slab_end, .ctx = &ss};
    char *dst = NULL;
    return cw__eval_region_sink(e, &j->lay, off, count, 1, &e->result, &dst, &strides,
                                &sink, w);
}

static size_t
job_working_set(void *vctx, const int64_t *chunks)
{
    cw__expr_store_t *j = vctx;
    /* The store's tiles are its chunks. */
    cw__plan_layout(j->e, chunks, &j->lay);
    return cw__expr_working_set(j->e, chunks);
}

void
cw__expr_store_job(cw__store_job_t *job, cw__expr_store_t *j, const cw_expr_t *e)
{
    *job = (cw__store_job_t){.ndim = e->ndim,
                             .dtype = e->v[e->result].dtype,
                             .ctx = j,
                             .fill = job_fill,
                             .working_set = job_working_set,
                             .nsources = e->ninputs,
                             .sources = e->srcs};
    memcpy(job->shape, e->shape, sizeof(job->shape));
    memcpy(job->chunks, e->tile, sizeof(job->chunks));
}

static int
run_store(cw_expr_t *e, const char *path, const char *name, const cw_store_opts_t *opts,
          const cw_config_t *cfg)
{
    cw__expr_store_t j = {.e = e};
    cw__store_job_t job;
    cw__expr_store_job(&job, &j, e);
    job.fill_stream = job_fill_stream;
    return cw__store_run(&job, path, name, opts, cfg);
}

typedef struct pass_ctx {
    const cw_expr_t *e;
    cw__layout_t lay;
    int64_t ntiles[CW_MAXDIM];
    int nread, nred;
    int outs[CW__MAX_OUTS]; /* value ids: the reads, then reductions */
    char *rdst[CW__MAX_OUTS];
    const int64_t *rstr[CW__MAX_OUTS];
    cw__reduce_ctx_t red[CW__MAX_OUTS];
    int64_t part_lo, part_hi; /* partials computed (part_hi > part_lo) */
} pass_ctx_t;

/* One task's sink: where each slab goes. */
typedef struct pass_slab {
    const pass_ctx_t *p;
    char *rdst[CW__MAX_OUTS]; /* the tile's origin in each read */
    cw__reduce_slab_t rs[CW__MAX_OUTS];
    cw__vm_scratch_t *vm;
} pass_slab_t;

static int
pass_slab_begin(void *vctx, int ax, int64_t r0, int64_t r1, char **dsts)
{
    pass_slab_t *ps = vctx;
    const pass_ctx_t *p = ps->p;
    for (int j = 0; j < p->nread; j++) {
        dsts[j] = ps->rdst[j] + (ax >= 0 ? r0 * p->rstr[j][ax] : 0);
    }
    /* Each reduction's slab, 64-byte aligned, in one buffer; at the first
     * slab also the stacks, which live until the tile is done. */
    size_t off[CW__MAX_OUTS], total = 0, stotal = 0, soff[CW__MAX_OUTS];
    for (int k = 0; k < p->nred; k++) {
        cw__reduce_slab_t *rs = &ps->rs[k];
        size_t n = ax >= 0 ? (size_t)((r1 - r0) * rs->tstr[ax]) : rs->c->itemsize;
        off[k] = total;
        total += (n + 63) & ~(size_t)63;
        if (r0 == 0 && ax >= 0 && rs->c->red[ax]) {
            int64_t nslabs = (rs->count[ax] + (r1 - r0) - 1) / (r1 - r0);
            int levels = 2;
            while (((int64_t)1 << (levels - 2)) < nslabs) {
                levels++;
            }
            soff[k] = stotal;
            stotal += ((size_t)levels * rs->kt + 63) & ~(size_t)63;
        }
    }
    cw__vm_scratch_t *vm = ps->vm;
    CW_TRY_RET(cw__reserve(&vm->red_slabs, &vm->red_slabs_cap, total));
    if (stotal > 0) {
        CW_TRY_RET(cw__reserve(&vm->red_stacks, &vm->red_stacks_cap, stotal));
    }
    for (int k = 0; k < p->nred; k++) {
        cw__reduce_slab_t *rs = &ps->rs[k];
        dsts[p->nread + k] = (char *)vm->red_slabs + off[k];
        if (r0 == 0 && ax >= 0 && rs->c->red[ax]) {
            rs->stack = (char *)vm->red_stacks + soff[k];
        }
    }
    return CW_OK;
}

static int
pass_slab_end(void *vctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
              const int64_t *const *strides)
{
    pass_slab_t *ps = vctx;
    const pass_ctx_t *p = ps->p;
    for (int k = 0; k < p->nred; k++) {
        cw__reduce_slab_fold(&ps->rs[k], ax, r0, r1, ptrs[p->nread + k],
                             strides[p->nread + k]);
    }
    return CW_OK;
}

static int
pass_task(void *vctx, int64_t task, cw__worker_t *w)
{
    const pass_ctx_t *p = vctx;
    const cw_expr_t *e = p->e;
    int nd = e->ndim;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    cw__tile_at(e, p->ntiles, task, off, count);
    if (p->part_hi > p->part_lo) {
        /* Only the tiles of the partials asked for. */
        int64_t r = 0;
        for (int k = 0; k < nd; k++) {
            if (p->red[0].red[k]) {
                r = r * p->ntiles[k] + off[k] / e->tile[k];
            }
        }
        if (r < p->part_lo || r >= p->part_hi) {
            return CW_OK;
        }
    }
    pass_slab_t ps;
    ps.p = p;
    ps.vm = &w->vm;
    const int64_t *dstr[CW__MAX_OUTS];
    char *dsts[CW__MAX_OUTS];
    for (int j = 0; j < p->nread; j++) {
        ps.rdst[j] = p->rdst[j];
        for (int k = 0; k < nd; k++) {
            ps.rdst[j] += off[k] * p->rstr[j][k];
        }
        dstr[j] = p->rstr[j];
        dsts[j] = ps.rdst[j];
    }
    for (int i = 0; i < p->nred; i++) {
        const cw__reduce_ctx_t *c = &p->red[i];
        cw__reduce_slab_t *rs = &ps.rs[i];
        memset(rs, 0, sizeof(*rs));
        rs->c = c;
        rs->count = count;
        int64_t r = 0, koff = 0; /* the tile's partial, its part of it */
        for (int k = 0; k < nd; k++) {
            koff += off[k] * c->kstride[k];
            if (c->red[k]) {
                r = r * p->ntiles[k] + off[k] / e->tile[k];
            }
        }
        rs->acc = c->partials + (r - p->part_lo) * c->kbytes + koff;
        int64_t st = (int64_t)c->itemsize, ks = (int64_t)c->itemsize;
        for (int k = nd - 1; k >= 0; k--) {
            rs->tstr[k] = st;
            st *= count[k];
            rs->kcount[k] = c->red[k] ? 1 : count[k];
            rs->kstr[k] = c->red[k] ? 0 : ks;
            ks *= rs->kcount[k];
        }
        rs->kt = (size_t)ks;
        dstr[p->nread + i] = rs->tstr;
        dsts[p->nread + i] = NULL;
    }
    cw__slab_sink_t sink = {.begin = pass_slab_begin,
                            .end = pass_slab_end,
                            .ctx = &ps,
                            .in_place = p->nread == 0 && p->nred == 1};
    int n = p->nread + p->nred;
    int rc = cw__eval_region_sink(e, &p->lay, off, count, n, p->outs, dsts, dstr,
                                  p->nred > 0 ? &sink : NULL, w);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < p->nred; i++) {
        cw__reduce_slab_finish(&ps.rs[i]);
    }
    return CW_OK;
}

/* Buffers (reads) and reductions (reds) of one program from the same
 * tiles: every input chunk is read and decoded once for all of them. */
static int
run_pass(cw_expr_t *e, int nread, const cw_output_t *const *reads, int nred,
         const cw_output_t *const *reds, const cw_config_t *cfg)
{
    int rc;
    pass_ctx_t *p = NULL;
    p = cw__calloc(1, sizeof(*p));
    if (p == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    p->e = e;
    p->nread = nread;
    p->nred = nred;
    int64_t ntasks;
    CW_TRY(cw__tile_grid(e, p->ntiles, &ntasks));
    if (ntasks == 0 && nred > 0) {
        rc = cw__error(CW_EINVAL, "%s: reduction over an empty array",
                       reds[0]->name ? reds[0]->name : "reduce");
        goto fail;
    }
    if (ntasks == 0) {
        rc = CW_OK; /* nothing to read */
        goto fail;
    }
    if (nred > 0 && reds[0]->part_hi > reds[0]->part_lo) {
        p->part_lo = reds[0]->part_lo;
        p->part_hi = reds[0]->part_hi;
        bool same = nread == 0 && p->part_lo >= 0;
        for (int i = 1; i < nred && same; i++) {
            same = reds[i]->part_lo == p->part_lo && reds[i]->part_hi == p->part_hi &&
                   memcmp(reds[i]->reduce_axis, reds[0]->reduce_axis,
                          sizeof(bool) * (size_t)e->ndim) == 0;
        }
        if (!same) {
            rc = cw__error(CW_EINVAL,
                           "a pass computing a range of partials "
                           "must hold only reductions over the same "
                           "axes and range");
            goto fail;
        }
    }
    for (int j = 0; j < nread; j++) {
        p->outs[j] = reads[j]->id;
        p->rdst[j] = reads[j]->dst;
        p->rstr[j] = reads[j]->strides;
    }
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    size_t extra = 0;
    for (int i = 0; i < nred; i++) {
        const cw_output_t *q = reds[i];
        cw__reduce_ctx_t *c = &p->red[i];
        p->outs[nread + i] = q->id;
        c->e = e;
        c->red = q->reduce_axis;
        c->fn = q->fn;
        c->data = q->data;
        c->itemsize = e->v[q->id].itemsize;
        int64_t R = 1, kept = 1, ks = (int64_t)c->itemsize;
        for (int k = e->ndim - 1; k >= 0; k--) {
            c->kstride[k] = c->red[k] ? 0 : ks;
            ks *= c->red[k] ? 1 : e->shape[k];
            if (c->red[k]) {
                R *= p->ntiles[k];
            }
            else {
                kept *= e->shape[k];
            }
        }
        c->kbytes = kept * (int64_t)c->itemsize;
        if (p->part_hi > p->part_lo) {
            if (p->part_hi > R) {
                rc = cw__error(CW_EINVAL,
                               "%s: partials [%lld, %lld) asked for, the run has %lld",
                               q->name ? q->name : "reduce", (long long)p->part_lo,
                               (long long)p->part_hi, (long long)R);
                goto fail;
            }
            R = p->part_hi - p->part_lo;
        }
        int64_t pb;
        if (!cw__mul_ok(R, c->kbytes, &pb)) {
            pb = INT64_MAX;
        }
        char what[128];
        snprintf(what, sizeof(what), "%s: the partial results",
                 q->name ? q->name : "reduce");
        CW_TRY(cw__budget_reserve(&budget, pb, what,
                                  "use larger chunks along the "
                                  "reduced axes or raise memory_limit"));
        size_t te = c->itemsize;
        for (int k = 0; k < e->ndim; k++) {
            te *= (size_t)e->tile[k];
        }
        extra += te; /* the planner's worst case: a tile evaluated whole */
        c->partials = cw__malloc((size_t)(pb > 0 ? pb : 1));
        if (c->partials == NULL) {
            rc = cw__error(CW_ENOMEM, "out of memory for %lld bytes of partials",
                           (long long)pb);
            goto fail;
        }
    }
    cw__job_t job = cw__expr_job(e, &p->lay, ntasks, extra, pass_task, p);
    CW_TRY(cw__job_run(&job, &budget, cfg));
    /* Combine partials pairwise in a fixed order: independent of threads. */
    for (int i = 0; i < nred; i++) {
        cw__reduce_ctx_t *c = &p->red[i];
        if (p->part_hi > p->part_lo) {
            memcpy(reds[i]->dst, c->partials,
                   (size_t)((p->part_hi - p->part_lo) * c->kbytes));
            continue;
        }
        int64_t R = 1;
        for (int k = 0; k < e->ndim; k++) {
            R *= c->red[k] ? p->ntiles[k] : 1;
        }
        cw__reduce_tree(c, R);
        memcpy(reds[i]->dst, c->partials, (size_t)c->kbytes);
    }
    rc = CW_OK;
fail:
    if (p) {
        for (int i = 0; i < nred; i++) {
            cw__free(p->red[i].partials);
        }
        cw__free(p);
    }
    return rc;
}

/* ------------------------------------------------------------ the entry */

/* The input whose selection value `id` is, when it broadcasts nothing: a
 * plain copy of a source, which cw_read and cw_store move chunk by chunk
 * on the source's own chunk grid, without the VM.  Else NULL. */
static const cw__value_t *
plain_input(const cw_expr_t *e, int id)
{
    const cw__value_t *v = &e->v[id];
    bool mapped[CW_MAXDIM] = {false};
    if (v->kind != CW__V_INPUT) {
        return NULL;
    }
    for (int d = 0; d < v->sel.ndim; d++) {
        if (v->bcast[d]) {
            return NULL;
        }
        if (v->axis[d] >= 0) {
            mapped[v->axis[d]] = true;
        }
    }
    for (int k = 0; k < e->ndim; k++) {
        if (!mapped[k] && e->shape[k] != 1) {
            return NULL;
        }
    }
    return v;
}

/* A plain input into a buffer (cw_read) or a new dataset (cw_store). */
static int
copy_input(const cw_expr_t *e, const cw__value_t *v, const cw_output_t *o,
           const cw_config_t *cfg)
{
    if (o->kind == CW_OUT_BUFFER) {
        int64_t strides[CW_MAXDIM];
        for (int d = 0; d < v->sel.ndim; d++) {
            strides[d] = v->axis[d] >= 0 ? o->strides[v->axis[d]] : 0;
        }
        return cw_read(v->src, &v->sel, o->dst, strides, cfg);
    }
    cw_store_opts_t opts = *o->store;
    opts.ndim = e->ndim;
    for (int k = 0; k < e->ndim; k++) {
        opts.shape[k] = e->shape[k];
        opts.src_dim[k] = -1;
    }
    for (int d = 0; d < v->sel.ndim; d++) {
        if (v->axis[d] >= 0) {
            opts.src_dim[v->axis[d]] = d;
        }
    }
    return cw_store(v->src, &v->sel, o->path, o->dataset, &opts, cfg);
}

/* CW_EINVAL unless output `o` (number k) is well formed for `e`. */
static int
check_output(const cw_expr_t *e, int k, const cw_output_t *o)
{
    CW_TRY_RET(cw__expr_check_ref(e, o->id));
    switch (o->kind) {
        case CW_OUT_BUFFER:
            return CW_OK;
        case CW_OUT_REDUCE:
            if (!(o->fn_flags & CW_LOOP_REORDERABLE)) {
                return cw__error(CW_EINVAL,
                                 "output %d: the reduction %s is not "
                                 "reorderable",
                                 k, o->name ? o->name : "(unnamed)");
            }
            return o->fn && o->reduce_axis && o->dst
                       ? CW_OK
                       : cw__error(CW_EINVAL,
                                   "output %d: a reduction needs a loop, "
                                   "its axes and a buffer",
                                   k);
        case CW_OUT_BINCOUNT:
            return CW_OK;
        case CW_OUT_ACCUMULATE:
        case CW_OUT_ARGREDUCE:
        case CW_OUT_STORE:
            if (o->id != e->result) {
                return cw__error(CW_EINVAL,
                                 "output %d: accumulations, arg-reductions "
                                 "and stores are of the program's result",
                                 k);
            }
            return CW_OK;
        default:
            return cw__error(CW_EINVAL, "output %d: unknown kind %d", k, (int)o->kind);
    }
}

int
cw_expr_run(cw_expr_t *e, int n, const cw_output_t *outs, const cw_config_t *cfg)
{
    const cw_output_t *reads[CW__MAX_OUTS], *reds[CW__MAX_OUTS];
    int nread = 0, nred = 0;
    cw__error_clear();
    CW_TRY_RET(cw__expr_check_finished(e));
    if (n < 1) {
        return cw__error(CW_EINVAL, "a run computes at least one output");
    }
    for (int k = 0; k < n; k++) {
        CW_TRY_RET(check_output(e, k, &outs[k]));
        if (outs[k].kind == CW_OUT_BUFFER || outs[k].kind == CW_OUT_REDUCE) {
            if (nread + nred == CW__MAX_OUTS) {
                return cw__error(CW_EINVAL,
                                 "a pass computes at most %d buffers "
                                 "and reductions",
                                 CW__MAX_OUTS);
            }
            if (outs[k].kind == CW_OUT_BUFFER) {
                reads[nread++] = &outs[k];
            }
            else {
                reds[nred++] = &outs[k];
            }
        }
    }
    const cw__value_t *plain = nread == 1 ? plain_input(e, reads[0]->id) : NULL;
    if (nread == 1 && nred == 0 && plain != NULL) {
        CW_TRY_RET(copy_input(e, plain, reads[0], cfg));
    }
    else if (nread == 1 && nred == 0 && reads[0]->id == e->result) {
        CW_TRY_RET(run_read(e, reads[0]->dst, reads[0]->strides, cfg));
    }
    else if (nread + nred > 0) {
        CW_TRY_RET(run_pass(e, nread, reads, nred, reds, cfg));
    }
    for (int k = 0; k < n; k++) {
        const cw_output_t *o = &outs[k];
        switch (o->kind) {
            case CW_OUT_ACCUMULATE:
                CW_TRY_RET(o->path ? cw__expr_accumulate_store(e, o, cfg)
                                   : cw__expr_accumulate(e, o, cfg));
                break;
            case CW_OUT_ARGREDUCE:
                CW_TRY_RET(cw__expr_argreduce(e, o->is_max, o->axis, o->dst, cfg));
                break;
            case CW_OUT_BINCOUNT:
                CW_TRY_RET(cw__expr_bincount(e, o, cfg));
                break;
            case CW_OUT_STORE:
                plain = plain_input(e, o->id);
                CW_TRY_RET(plain ? copy_input(e, plain, o, cfg)
                                 : run_store(e, o->path, o->dataset, o->store, cfg));
                break;
            default:
                break;
        }
    }
    return CW_OK;
}
