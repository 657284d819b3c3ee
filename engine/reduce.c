/*
 * reduce.c -- reductions in a pass: a tile's values folded into its
 * partial with the reduction's own loop (pairwise along a contiguous
 * reduced run), the partials of slabs along a reduced axis combined as a
 * binary counter, and the tiles' partials combined pairwise in tile order
 * at the end of the run.
 *
 * Partials are kept by tile and combined in a fixed order, so results are
 * bit-identical for any thread count.  A task writes only its own tile's
 * part of the partials.  No locks.
 */
#include <string.h>

#include "program_impl.h"

/*
 * Reduce a block of `tcount` values (byte strides tstrides) into acc (byte
 * strides per output axis, 0 along reduced axes): acc = first slice, then
 * acc = fn(acc, x) over the rest in C order; with `cont` acc already holds
 * earlier rows of the same reduction and every slice is combined.  Along a
 * reduced innermost axis the loop runs in NumPy's reduce mode (acc step 0),
 * which sums pairwise.
 */
static void
reduce_block(const cw__reduce_ctx_t *c, int ndim, const int64_t *tcount,
             const char *tile, const int64_t *tstrides, char *acc,
             const int64_t *kstrides, bool cont)
{
    size_t isz = c->itemsize;
    /* Axes of extent 1 drop out; trailing reduced axes that are contiguous
     * together merge into one run: a full reduction of a contiguous block
     * is one pairwise pass. */
    int64_t count[CW_MAXDIM], kstride[CW_MAXDIM], tstr[CW_MAXDIM];
    bool red[CW_MAXDIM];
    int nd = 0;
    for (int k = 0; k < ndim; k++) {
        if (tcount[k] == 1) {
            continue;
        }
        if (nd > 0 && red[nd - 1] && c->red[k] &&
            tstr[nd - 1] == tstrides[k] * tcount[k]) {
            count[nd - 1] *= tcount[k];
            tstr[nd - 1] = tstrides[k];
            continue;
        }
        count[nd] = tcount[k];
        kstride[nd] = kstrides[k];
        red[nd] = c->red[k];
        tstr[nd] = tstrides[k];
        nd++;
    }
    if (nd == 0) {
        count[0] = 1;
        kstride[0] = 0;
        red[0] = true;
        tstr[0] = (int64_t)isz;
        nd = 1;
    }
    int in = nd - 1;
    int64_t len = count[in];
    bool inner_red = red[in];
    int64_t idx[CW_MAXDIM];
    memset(idx, 0, sizeof(idx));
    for (;;) {
        /* Is this row the first along every reduced outer axis? */
        bool first = !cont;
        int64_t aoff = 0, toff = 0;
        for (int k = 0; k < in; k++) {
            toff += idx[k] * tstr[k];
            aoff += idx[k] * kstride[k];
            if (red[k] && idx[k] != 0) {
                first = false;
            }
        }
        const char *row = tile + toff;
        char *a = acc + aoff;
        if (inner_red) {
            if (first) {
                memcpy(a, row, isz);
                row += tstr[in];
            }
            intptr_t n = (intptr_t)(first ? len - 1 : len);
            if (n > 0) {
                char *args[3] = {a, (char *)row, a};
                intptr_t steps[3] = {0, (intptr_t)tstr[in], 0};
                c->fn(args, &n, steps, c->data);
            }
        }
        else if (first) {
            int64_t cnt1[1] = {len}, dst1[1] = {kstride[in]}, src1[1] = {tstr[in]};
            cw__copy_strided(1, cnt1, a, dst1, row, src1, isz);
        }
        else {
            intptr_t n = (intptr_t)len;
            char *args[3] = {a, (char *)row, a};
            intptr_t steps[3] = {(intptr_t)kstride[in], (intptr_t)tstr[in],
                                 (intptr_t)kstride[in]};
            c->fn(args, &n, steps, c->data);
        }
        if (!cw__next_index(idx, count, in - 1, -1, -1)) {
            break;
        }
    }
}

static void
combine(const cw__reduce_ctx_t *c, char *a, const char *b, size_t nbytes)
{
    intptr_t n = (intptr_t)(nbytes / c->itemsize);
    char *args[3] = {a, (char *)b, a};
    intptr_t steps[3] = {(intptr_t)c->itemsize, (intptr_t)c->itemsize,
                         (intptr_t)c->itemsize};
    c->fn(args, &n, steps, c->data);
}

/* Fold rows [r0, r1) along axis ax (values at ptr, byte strides) in. */
void
cw__reduce_slab_fold(cw__reduce_slab_t *rs, int ax, int64_t r0, int64_t r1,
                     const char *ptr, const int64_t *strides)
{
    const cw__reduce_ctx_t *c = rs->c;
    int nd = c->e->ndim;
    int64_t cnt[CW_MAXDIM];
    memcpy(cnt, rs->count, sizeof(int64_t) * (size_t)nd);
    if (ax < 0 || !c->red[ax]) {
        char *acc = rs->acc;
        if (ax >= 0) {
            cnt[ax] = r1 - r0;
            acc += r0 * c->kstride[ax];
        }
        reduce_block(c, nd, cnt, ptr, strides, acc, c->kstride, false);
        return;
    }
    cnt[ax] = r1 - r0;
    if (r0 == 0) {
        rs->depth = 0;
    }
    reduce_block(c, nd, cnt, ptr, strides, rs->stack + (size_t)rs->depth * rs->kt,
                 rs->kstr, false);
    rs->level[rs->depth++] = 0;
    while (rs->depth >= 2 && rs->level[rs->depth - 1] == rs->level[rs->depth - 2]) {
        combine(c, rs->stack + (size_t)(rs->depth - 2) * rs->kt,
                rs->stack + (size_t)(rs->depth - 1) * rs->kt, rs->kt);
        rs->level[rs->depth - 2]++;
        rs->depth--;
    }
}

/* After the last slab: fold the stack in order into the tile's partial. */
void
cw__reduce_slab_finish(cw__reduce_slab_t *rs)
{
    const cw__reduce_ctx_t *c = rs->c;
    int nd = c->e->ndim;
    if (rs->depth == 0) {
        return;
    }
    for (int i = 1; i < rs->depth; i++) {
        combine(c, rs->stack, rs->stack + (size_t)i * rs->kt, rs->kt);
    }
    int64_t sstr[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        sstr[k] = c->red[k] ? 0 : rs->kstr[k];
    }
    cw__copy_strided(nd, rs->kcount, rs->acc, c->kstride, rs->stack, sstr, c->itemsize);
    rs->depth = 0;
}

void
cw__reduce_tree(const cw__reduce_ctx_t *c, int64_t R)
{
    for (int64_t step = 1; step < R; step *= 2) {
        for (int64_t r = 0; r + step < R; r += 2 * step) {
            char *a = c->partials + r * c->kbytes;
            combine(c, a, a + step * c->kbytes, (size_t)c->kbytes);
        }
    }
}
