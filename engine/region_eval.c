/*
 * region_eval.c -- evaluating a program over one region of its output.
 * Each input's region is used in place when it lives in memory, streamed
 * from one stored chunk slab by slab when it lies in one, or read whole
 * into the thread's tile buffer (cw__read_region: only the chunks it
 * overlaps are decoded); broadcast axes get stride 0, so nothing is
 * expanded.  The VM (vm.c) then computes each slab into the destination,
 * or hands it to a slab sink (reductions, streamed stores).
 *
 * Inputs may themselves be programs (composite sources): each nesting
 * level uses its own buffers of the worker's vm scratch.  Worker threads; no
 * locks.
 */
#include <string.h>

#include "program_impl.h"

/*
 * Input i's region for the tile as a range of one stored chunk, when it
 * lies in one chunk and its rows along output axis `ax` are the chunk's
 * outermost dimension in use: opens the chunk stream and sets the input's
 * byte offset in the chunk (*base), its byte strides per output axis and
 * the bytes one row spans past its start (*rowspan).  false: read the
 * region whole instead.
 */
static int
open_stream(const cw_expr_t *e, const cw__value_t *v, const int64_t *start,
            const int64_t *cnt, int ax, cw__cstream_t *cs, int64_t *base,
            int64_t *stride, int64_t *rowspan, cw__io_scratch_t *io, bool *ok)
{
    const cw_source_t *src = v->src;
    *ok = false;
    if (src->ops->stream_open == NULL || v->sel.ndim == 0 || ax < 0) {
        return CW_OK;
    }
    int64_t cidx[CW_MAXDIM], cst[CW_MAXDIM];
    int64_t st = (int64_t)src->itemsize;
    for (int d = v->sel.ndim - 1; d >= 0; d--) {
        cst[d] = st;
        st *= src->chunks[d];
    }
    int dax = -1;
    *base = 0;
    *rowspan = (int64_t)src->itemsize;
    for (int k = 0; k < e->ndim; k++) {
        stride[k] = 0;
    }
    for (int d = 0; d < v->sel.ndim; d++) {
        int64_t step = v->sel.step[d];
        int64_t last = start[d] + (cnt[d] - 1) * step;
        if (step <= 0 || cnt[d] <= 0) {
            return CW_OK;
        }
        cidx[d] = start[d] / src->chunks[d];
        if (last / src->chunks[d] != cidx[d]) {
            return CW_OK; /* spans chunks */
        }
        *base += (start[d] - cidx[d] * src->chunks[d]) * cst[d];
        int k = v->axis[d];
        bool live = k >= 0 && !v->bcast[d];
        if (live && k == ax) {
            dax = d;
        }
        else if (cnt[d] > 1 && dax < 0) {
            return CW_OK; /* rows would not be the outer dimension */
        }
        if (live) {
            stride[k] = step * cst[d];
        }
        if (dax != d) {
            *rowspan += (cnt[d] - 1) * step * cst[d];
        }
    }
    if (dax < 0) {
        return CW_OK; /* broadcast along the rows: read it once, whole */
    }
    CW_TRY_RET(src->ops->stream_open((cw_source_t *)src, cidx, cs, io));
    *ok = true;
    return CW_OK;
}

/*
 * Evaluate the output region [off, off+count) of values outs[0..nout) into
 * dsts[k] (byte strides dstr[k]), or through a sink.
 *
 * Inputs whose region lies in one stored chunk are streamed: the region is
 * cut into slabs of rows along its first axis of extent above one, and for
 * each slab only the Blosc blocks under it are decoded.  Other inputs are
 * read whole for the region first.
 */
int
cw__eval_region_sink(const cw_expr_t *e, const cw__layout_t *lay, const int64_t *off,
                     const int64_t *count, int nout, const int *outs, char *const *dsts,
                     const int64_t *const *dstr, const cw__slab_sink_t *sink,
                     cw__worker_t *w)
{
    int rc;
    int nd = e->ndim;
    cw__vm_scratch_t *vm = &w->vm;
    for (int k = 0; k < nd; k++) {
        if (count[k] <= 0) {
            return CW_OK;
        }
    }
    bool plain = cw__is_plain(e, nout, outs, count);
    if (plain && sink == NULL) {
        /* Read it straight into the destination, no copy. */
        const cw__value_t *only = &e->v[outs[0]];
        int64_t start[CW_MAXDIM], cnt[CW_MAXDIM], str[CW_MAXDIM];
        for (int d = 0; d < only->sel.ndim; d++) {
            int k = only->axis[d];
            start[d] = only->sel.start[d] + (k >= 0 ? off[k] * only->sel.step[d] : 0);
            cnt[d] = k >= 0 ? count[k] : 1;
            str[d] = k >= 0 ? dstr[0][k] : 0;
        }
        /* A composite source read here uses the next level's buffers: the
         * destination may be this level's (a strided read's box). */
        int lvl = vm->depth;
        if (lvl >= CW__MAX_DEPTH) {
            return cw__error(CW_EINVAL, "programs nested more than %d deep",
                             CW__MAX_DEPTH);
        }
        vm->depth = lvl + 1;
        rc = cw__read_region(only->src, start, only->sel.step, cnt, dsts[0], str,
                             &w->io);
        vm->depth = lvl;
        return rc;
    }
    /* Inputs may themselves be programs (composite sources): each nesting
     * level has its own buffers. */
    int lvl = vm->depth;
    if (lvl >= CW__MAX_DEPTH) {
        return cw__error(CW_EINVAL, "programs nested more than %d deep", CW__MAX_DEPTH);
    }
    CW_TRY(cw__reserve(&vm->tiles[lvl], &vm->tiles_cap[lvl], lay->total));
    if (vm->streams[lvl] == NULL) {
        vm->streams[lvl] = cw__calloc(CW__MAX_VALUES, sizeof(cw__cstream_t));
        if (vm->streams[lvl] == NULL) {
            return cw__error(CW_ENOMEM, "out of memory");
        }
        vm->nstreams[lvl] = CW__MAX_VALUES;
    }
    char *base = vm->tiles[lvl];
    cw__cstream_t *streams = vm->streams[lvl];

    /* The rows: the first axis of extent above one. */
    int ax = -1;
    for (int k = 0; k < nd && ax < 0; k++) {
        if (count[k] > 1) {
            ax = k;
        }
    }

    /* 1. Open each input: a chunk stream, or its region read whole into its
     * tile buffer (strides per output axis; 0: broadcast).  Inputs in
     * memory are used in place. */
    int64_t opstride[CW__MAX_VALUES][CW_MAXDIM];
    const char *inbase[CW__MAX_VALUES];
    bool streamed[CW__MAX_VALUES];
    int64_t sbase[CW__MAX_VALUES], span[CW__MAX_VALUES];
    int64_t rows = ax >= 0 ? count[ax] : 1, slab = rows;
    bool any = false;
    vm->depth = lvl + 1;
    for (int i = 0; i < e->n; i++) {
        const cw__value_t *v = &e->v[i];
        streamed[i] = false;
        if (v->kind != CW__V_INPUT) {
            continue;
        }
        int64_t start[CW_MAXDIM], cnt[CW_MAXDIM], bstr[CW_MAXDIM];
        int64_t stride = (int64_t)v->itemsize;
        for (int d = v->sel.ndim - 1; d >= 0; d--) {
            int k = v->axis[d];
            bool live = k >= 0 && !v->bcast[d];
            start[d] = v->sel.start[d] + (live ? off[k] * v->sel.step[d] : 0);
            cnt[d] = live ? count[k] : 1;
            bstr[d] = stride;
            stride *= cnt[d];
        }
        for (int k = 0; k < nd; k++) {
            opstride[i][k] = 0;
        }
        if (v->src->ops->address) {
            v->src->ops->address(v->src, start, v->sel.step, &inbase[i], bstr);
        }
        else {
            rc = open_stream(e, v, start, cnt, ax, &streams[i], &sbase[i], opstride[i],
                             &span[i], &w->io, &streamed[i]);
            if (rc < 0) {
                vm->depth = lvl;
                goto fail;
            }
            if (streamed[i]) {
                int64_t per =
                    CW__SLAB_BYTES / (opstride[i][ax] > 0 ? opstride[i][ax] : 1);
                slab = any && slab < per ? slab : per;
                any = true;
                continue;
            }
            inbase[i] = base + lay->tile_off[i];
            rc = cw__read_region(v->src, start, v->sel.step, cnt,
                                 base + lay->tile_off[i], bstr, &w->io);
            if (rc < 0) {
                vm->depth = lvl;
                goto fail;
            }
        }
        for (int d = 0; d < v->sel.ndim; d++) {
            int k = v->axis[d];
            if (k >= 0 && !v->bcast[d]) {
                opstride[i][k] = bstr[d];
            }
        }
    }
    vm->depth = lvl;
    if (sink && ax >= 0) {
        /* Bound the sink's slab too: one row of each output. */
        int64_t rowbytes = 8;
        for (int k = ax + 1; k < nd; k++) {
            rowbytes *= count[k];
        }
        int64_t per = CW__SLAB_BYTES / rowbytes;
        slab = any && slab < per ? slab : per;
        any = true;
    }
    if (!any || ax < 0) {
        slab = rows;
    }
    slab = slab < 1 ? 1 : slab > rows ? rows : slab;

    /* 2. Slab by slab: streamed inputs decode the rows' bytes, the kernel
     * (or the sink, for a program that computes nothing) takes them. */
    for (int64_t r0 = 0; r0 < rows; r0 += slab) {
        int64_t r1 = r0 + slab < rows ? r0 + slab : rows;
        int64_t cnt[CW_MAXDIM];
        const char *in[CW__MAX_VALUES];
        char *out[CW__MAX_OUTS];
        memcpy(cnt, count, sizeof(int64_t) * (size_t)nd);
        if (ax >= 0) {
            cnt[ax] = r1 - r0;
        }
        for (int i = 0; i < e->n; i++) {
            if (e->v[i].kind != CW__V_INPUT) {
                continue;
            }
            if (streamed[i]) {
                int64_t lo = sbase[i] + r0 * opstride[i][ax];
                int64_t hi = sbase[i] + (r1 - 1) * opstride[i][ax] + span[i];
                CW_TRY(cw__cstream_get(&streams[i], (size_t)lo, (size_t)(hi - lo),
                                       &in[i], &w->io));
            }
            else {
                in[i] = inbase[i] + (ax >= 0 ? r0 * opstride[i][ax] : 0);
            }
        }
        if (sink) {
            CW_TRY(sink->begin(sink->ctx, ax, r0, r1, out));
        }
        else {
            for (int o = 0; o < nout; o++) {
                out[o] = dsts[o] + (ax >= 0 ? r0 * dstr[o][ax] : 0);
            }
        }
        if (sink && plain && sink->in_place) {
            const int64_t *str1 = opstride[outs[0]];
            CW_TRY(sink->end(sink->ctx, ax, r0, r1, &in[outs[0]], &str1));
            continue;
        }
        cw__run_kernel(e, lay, cnt, nout, outs, out, dstr, in, opstride, base);
        if (sink) {
            CW_TRY(sink->end(sink->ctx, ax, r0, r1, (const char *const *)out, dstr));
        }
    }
    rc = CW_OK;
fail:
    return rc;
}

/* Evaluate the region of the program's result into dst. */
int
cw__eval_region(const cw_expr_t *e, const cw__layout_t *lay, const int64_t *off,
                const int64_t *count, char *dst, const int64_t *dstrides,
                cw__worker_t *w)
{
    return cw__eval_region_sink(e, lay, off, count, 1, &e->result, &dst, &dstrides,
                                NULL, w);
}
