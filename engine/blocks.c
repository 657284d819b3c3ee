/*
 * blocks.c -- a function applied block by block, as a source
 * (cw_source_blocks): the escape hatch of map_blocks, map_overlap,
 * blockwise and apply_gufunc.
 *
 * The output is cut into a grid of blocks (per axis, nb + 1 offsets; the
 * blocks need not be of one extent).  Block b of the output is computed
 * from one tile of each argument: along an argument dimension that follows
 * output axis k, the argument's own block b[k] (its offsets, same count),
 * widened by a halo of `depth` elements on each side; along any other
 * dimension, the whole extent.  Halo elements outside the argument are
 * read per boundary rule: mirrored (reflect, numpy.pad's 'symmetric'),
 * wrapped (periodic), the edge repeated (nearest), a constant, or left out
 * (none: the tile is smaller at the array's edges).  Tiles are read with
 * the region primitive, so arguments can be stored datasets, views or
 * programs.  The callback fills the output block from the tiles; it runs
 * on worker threads, one call at a time per thread, and must be thread
 * safe (the Python layer takes the GIL inside it).
 *
 * A region read computes every block it overlaps, one after the other, and
 * copies the selected elements out.  Per thread: the tiles and the output
 * block of the largest block, by nesting depth.  No locks here.
 */
#include <stdio.h>  // snprintf
#include <string.h>

#include "engine_impl.h"

typedef struct blk_arg {
    cw_source_t *src; /* borrowed */
    int axis[CW_MAXDIM];
    int64_t *bounds[CW_MAXDIM]; /* owned, for followed dims */
    int64_t depth[CW_MAXDIM];
    int boundary[CW_MAXDIM];
    unsigned char fill[16];
} blk_arg_t;

typedef struct blocks {
    int nin;
    blk_arg_t *args;
    cw_source_t **srcs;         /* the arguments' sources, for begin/end */
    int64_t *bounds[CW_MAXDIM]; /* output block offsets, owned */
    int64_t nb[CW_MAXDIM];
    cw_block_fn fn;
    void *data;
    size_t tile_bytes; /* the largest block's tiles and output together */
    size_t out_bytes;  /* the largest output block (64-byte aligned) */
} blocks_t;

/* 64-byte aligned sizes inside the one buffer per nesting level. */
static size_t
round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Tile extent along argument dim d for output block index bb (per axis of
 * the followed output axis), and the first argument index it covers (may
 * be negative, or past the end, in the halo). */
static void
tile_range(const blk_arg_t *a, int d, const int64_t *b, int64_t *glo, int64_t *ghi)
{
    int64_t n = a->src->shape[d];
    if (a->axis[d] < 0) {
        *glo = 0;
        *ghi = n;
        return;
    }
    int64_t bb = b[a->axis[d]], D = a->depth[d];
    int64_t lo = a->bounds[d][bb] - D, hi = a->bounds[d][bb + 1] + D;
    if (a->boundary[d] == CW_HALO_NONE) {
        lo = lo < 0 ? 0 : lo;
        hi = hi > n ? n : hi;
    }
    *glo = lo;
    *ghi = hi;
}

/* One read segment along a dimension: argument elements start + j*step,
 * j < count, to tile positions at + j. */
typedef struct seg {
    int64_t start, step, count, at;
} seg_t;

/* The segments of [glo, ghi) along dim d of `a` that are read (the inside,
 * and mirrored or wrapped halos); nearest and constant halos are filled
 * after.  Returns how many (1 to 3). */
static int
segments(const blk_arg_t *a, int d, int64_t glo, int64_t ghi, seg_t *s)
{
    int64_t n = a->src->shape[d];
    int64_t L = glo < 0 ? -glo : 0, H = ghi > n ? ghi - n : 0;
    int k = 0;
    int64_t in_lo = glo < 0 ? 0 : glo, in_hi = ghi > n ? n : ghi;
    s[k++] = (seg_t){in_lo, 1, in_hi - in_lo, in_lo - glo};
    if (a->boundary[d] == CW_HALO_REFLECT) {
        if (L > 0) {
            s[k++] = (seg_t){L - 1, -1, L, 0};
        }
        if (H > 0) {
            s[k++] = (seg_t){n - 1, -1, H, ghi - glo - H};
        }
    }
    else if (a->boundary[d] == CW_HALO_PERIODIC) {
        if (L > 0) {
            s[k++] = (seg_t){n - L, 1, L, 0};
        }
        if (H > 0) {
            s[k++] = (seg_t){0, 1, H, ghi - glo - H};
        }
    }
    return k;
}

/* Fill the nearest and constant halos of a tile of shape `ext` (C order,
 * strides `str`), dimension by dimension (each pass spans the whole tile
 * along the others, so corners come out right). */
static void
fill_halos(const blk_arg_t *a, const int64_t *glo, const int64_t *ext,
           const int64_t *str, char *tile)
{
    int nd = a->src->ndim;
    size_t isz = a->src->itemsize;
    static const int64_t zero[CW_MAXDIM] = {0};
    for (int d = 0; d < nd; d++) {
        int bnd = a->boundary[d];
        if (a->axis[d] < 0 || (bnd != CW_HALO_NEAREST && bnd != CW_HALO_CONSTANT)) {
            continue;
        }
        int64_t n = a->src->shape[d];
        int64_t L = glo[d] < 0 ? -glo[d] : 0;
        int64_t H = glo[d] + ext[d] > n ? glo[d] + ext[d] - n : 0;
        int64_t cnt[CW_MAXDIM];
        memcpy(cnt, ext, (size_t)nd * sizeof(*cnt));
        if (bnd == CW_HALO_CONSTANT) {
            cnt[d] = L;
            cw__copy_strided(nd, cnt, tile, str, (const char *)a->fill, zero, isz);
            cnt[d] = H;
            cw__copy_strided(nd, cnt, tile + (ext[d] - H) * str[d], str,
                             (const char *)a->fill, zero, isz);
            continue;
        }
        cnt[d] = 1;
        for (int64_t p = 0; p < L; p++) {
            cw__copy_strided(nd, cnt, tile + p * str[d], str, tile + L * str[d], str,
                             isz);
        }
        for (int64_t p = ext[d] - H; p < ext[d]; p++) {
            cw__copy_strided(nd, cnt, tile + p * str[d], str,
                             tile + (ext[d] - H - 1) * str[d], str, isz);
        }
    }
}

/* Read argument a's tile for output block b into `tile`. */
static int
read_tile(const blk_arg_t *a, const int64_t *b, char *tile, cw_tile_t *t,
          cw__io_scratch_t *io)
{
    int nd = a->src->ndim;
    int64_t glo[CW_MAXDIM], ext[CW_MAXDIM], str[CW_MAXDIM];
    seg_t seg[CW_MAXDIM][3];
    int nseg[CW_MAXDIM], pick[CW_MAXDIM];
    for (int d = 0; d < nd; d++) {
        int64_t ghi;
        tile_range(a, d, b, &glo[d], &ghi);
        ext[d] = ghi - glo[d];
        nseg[d] = segments(a, d, glo[d], ghi, seg[d]);
        pick[d] = 0;
    }
    int64_t st = (int64_t)a->src->itemsize;
    for (int d = nd - 1; d >= 0; d--) {
        str[d] = st;
        st *= ext[d];
    }
    t->data = tile;
    t->ndim = nd;
    t->dtype = a->src->dtype;
    memcpy(t->shape, ext, (size_t)nd * sizeof(*ext));
    for (;;) {
        int64_t start[CW_MAXDIM], step[CW_MAXDIM], count[CW_MAXDIM];
        char *at = tile;
        for (int d = 0; d < nd; d++) {
            const seg_t *s = &seg[d][pick[d]];
            start[d] = s->start;
            step[d] = s->step;
            count[d] = s->count;
            at += s->at * str[d];
        }
        int rc = cw__read_region(a->src, start, step, count, at, str, io);
        if (rc < 0) {
            return rc;
        }
        int d = nd - 1;
        while (d >= 0 && ++pick[d] == nseg[d]) {
            pick[d] = 0;
            d--;
        }
        if (d < 0) {
            break;
        }
    }
    fill_halos(a, glo, ext, str, tile);
    return CW_OK;
}

/* Compute output block b into `dst` (NULL: the start of the level's
 * buffer `buf`, which holds the tiles after it); *out describes it. */
static int
compute_block(const blocks_t *x, int ndim, const int64_t *b, char *buf, char *dst,
              cw_tile_t *tiles, cw_tile_t *out, cw__io_scratch_t *io)
{
    out->ndim = ndim;
    out->data = dst ? dst : buf;
    for (int k = 0; k < ndim; k++) {
        out->shape[k] = x->bounds[k][b[k] + 1] - x->bounds[k][b[k]];
    }
    char *at = buf + x->out_bytes;
    for (int i = 0; i < x->nin; i++) {
        CW_TRY_RET(read_tile(&x->args[i], b, at, &tiles[i], io));
        size_t tn = cw_dtype_size(tiles[i].dtype);
        for (int d = 0; d < tiles[i].ndim; d++) {
            tn *= (size_t)tiles[i].shape[d];
        }
        at += round64(tn);
    }
    int rc = x->fn(x->data, b, x->nin, tiles, out);
    if (rc < 0) {
        char where[CW_MAXDIM * 24 + 4];
        size_t p = 0;
        for (int k = 0; k < ndim && p < sizeof(where) - 24; k++) {
            p += (size_t)snprintf(where + p, sizeof(where) - p, k ? ", %lld" : "%lld",
                                  (long long)b[k]);
        }
        where[p] = '\0';
        return cw__error(rc, "the block function failed on block (%s)", where);
    }
    return CW_OK;
}

/* Index of the block holding position p along axis k (binary search). */
static int64_t
block_of(const blocks_t *x, int k, int64_t p)
{
    int64_t lo = 0, hi = x->nb[k] - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (x->bounds[k][mid] <= p) {
            lo = mid;
        }
        else {
            hi = mid - 1;
        }
    }
    return lo;
}

static int
blocks_read(cw_source_t *src, const int64_t *start, const int64_t *step,
            const int64_t *count, char *dst, const int64_t *strides,
            cw__io_scratch_t *io)
{
    const blocks_t *x = src->impl;
    int nd = src->ndim, rc = CW_OK;
    /* Called by storage (the region read) with the io scratch of a worker;
     * the tiles are vm scratch, by nesting depth. */
    cw__vm_scratch_t *vm = &cw__worker_of(io)->vm;
    int lvl = vm->depth;
    if (lvl >= CW__MAX_DEPTH) {
        return cw__error(CW_EINVAL, "block functions nested more than %d deep",
                         CW__MAX_DEPTH);
    }
    cw_tile_t tiles[CW_BLOCK_MAX_ARGS];
    for (int k = 0; k < nd; k++) {
        if (count[k] <= 0) {
            return CW_OK;
        }
    }
    CW_TRY_RET(cw__reserve(&vm->blk[lvl], &vm->blk_cap[lvl], x->tile_bytes));
    int64_t bmin[CW_MAXDIM], bmax[CW_MAXDIM], b[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        int64_t first = start[k], last = start[k] + (count[k] - 1) * step[k];
        bmin[k] = block_of(x, k, first < last ? first : last);
        bmax[k] = block_of(x, k, first < last ? last : first);
        b[k] = bmin[k];
    }
    cw_tile_t out = {.dtype = src->dtype};
    /* A region that is one whole block, written contiguously, is computed
     * straight into the destination. */
    bool direct = true;
    int64_t cst = (int64_t)src->itemsize;
    for (int k = nd - 1; k >= 0 && direct; k--) {
        direct = bmin[k] == bmax[k] && start[k] == x->bounds[k][b[k]] &&
                 count[k] == x->bounds[k][b[k] + 1] - start[k] &&
                 (step[k] == 1 || count[k] == 1) &&
                 (count[k] == 1 || strides[k] == cst);
        cst *= count[k];
    }
    vm->depth = lvl + 1;
    if (direct) {
        rc = compute_block(x, nd, b, vm->blk[lvl], dst, tiles, &out, io);
        vm->depth = lvl;
        return rc;
    }
    for (;;) {
        rc = compute_block(x, nd, b, vm->blk[lvl], NULL, tiles, &out, io);
        if (rc < 0) {
            break;
        }
        /* The selected elements of this block. */
        int64_t j0[CW_MAXDIM], n[CW_MAXDIM], ss[CW_MAXDIM];
        int64_t bs = (int64_t)src->itemsize;
        const char *from = out.data;
        char *to = dst;
        for (int k = nd - 1; k >= 0; k--) {
            int64_t lo = x->bounds[k][b[k]], j1;
            cw__jrange(start[k], step[k], count[k], lo, x->bounds[k][b[k] + 1], &j0[k],
                       &j1);
            n[k] = j1 - j0[k];
            from += (start[k] + j0[k] * step[k] - lo) * bs;
            ss[k] = bs * step[k];
            to += j0[k] * strides[k];
            bs *= out.shape[k];
        }
        cw__copy_strided(nd, n, to, strides, from, ss, src->itemsize);
        int k = nd - 1;
        for (; k >= 0; k--) {
            if (++b[k] <= bmax[k]) {
                break;
            }
            b[k] = bmin[k];
        }
        if (k < 0) {
            break;
        }
    }
    vm->depth = lvl;
    return rc;
}

/* The output block and the tiles of the block whose tiles take the most
 * (the buffer holds one block's tiles one after the other), found by
 * visiting every block: arguments cut at offsets of their own (an external
 * merge reads a few elements of each run per block) then reserve what
 * one block needs, not the sum of each argument's largest tile.  0 when
 * there are too many blocks to visit (the caller keeps that sum). */
static size_t
exact_tile_bytes(const blocks_t *x, int ndim)
{
    int64_t nblocks = 1, b[CW_MAXDIM] = {0};
    for (int k = 0; k < ndim; k++) {
        nblocks *= x->nb[k];
    }
    if (x->nin < 2 || nblocks <= 0 || nblocks > ((int64_t)1 << 24) / x->nin) {
        return 0;
    }
    size_t most = 0;
    for (;;) {
        size_t sum = 0;
        for (int i = 0; i < x->nin; i++) {
            const blk_arg_t *a = &x->args[i];
            size_t tn = a->src->itemsize;
            for (int d = 0; d < a->src->ndim; d++) {
                int k = a->axis[d];
                int64_t e = a->src->shape[d];
                if (k >= 0) {
                    e = a->bounds[d][b[k] + 1] - a->bounds[d][b[k]] + 2 * a->depth[d];
                }
                tn *= (size_t)e;
            }
            sum += round64(tn);
        }
        most = sum > most ? sum : most;
        int k = ndim - 1;
        for (; k >= 0; k--) {
            if (++b[k] < x->nb[k]) {
                break;
            }
            b[k] = 0;
        }
        if (k < 0) {
            break;
        }
    }
    return x->out_bytes + most;
}

static int
blocks_begin(cw_source_t *src)
{
    blocks_t *x = src->impl;
    return cw__sources_begin(x->srcs, x->nin);
}

static void
blocks_end(cw_source_t *src)
{
    blocks_t *x = src->impl;
    cw__sources_end(x->srcs, x->nin);
}

static size_t
blocks_scratch(const cw_source_t *src)
{
    const blocks_t *x = src->impl;
    size_t ws = 0;
    for (int i = 0; i < x->nin; i++) {
        size_t w = cw__source_working_set(x->srcs[i]);
        ws = w > ws ? w : ws;
    }
    return x->tile_bytes + ws;
}

static void
blocks_destroy(cw_source_t *src)
{
    blocks_t *x = src->impl;
    if (x == NULL) {
        return;
    }
    for (int i = 0; x->args && i < x->nin; i++) {
        for (int d = 0; d < CW_MAXDIM; d++) {
            cw__free(x->args[i].bounds[d]);
        }
    }
    for (int k = 0; k < CW_MAXDIM; k++) {
        cw__free(x->bounds[k]);
    }
    cw__free(x->args);
    cw__free(x->srcs);
    cw__free(x);
}

static const struct cw__source_ops blocks_ops = {
    .kind = "blocks",
    .begin = blocks_begin,
    .end = blocks_end,
    .read_direct = blocks_read,
    .scratch_bytes = blocks_scratch,
    .destroy = blocks_destroy,
};

/* A copy of nb + 1 offsets, checked to rise from 0 to n. */
static int
copy_bounds(const int64_t *from, int64_t nb, int64_t n, int64_t **to)
{
    if (from == NULL || nb < 1) {
        return cw__error(CW_EINVAL, "blocks: a grid needs at least one block");
    }
    if (from[0] != 0 || from[nb] != n) {
        return cw__error(CW_EINVAL, "blocks: block offsets must run from 0 to %lld",
                         (long long)n);
    }
    for (int64_t i = 0; i < nb; i++) {
        if (from[i + 1] < from[i]) {
            return cw__error(CW_EINVAL, "blocks: block offsets must not decrease");
        }
    }
    *to = cw__malloc((size_t)(nb + 1) * sizeof(**to));
    if (*to == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    memcpy(*to, from, (size_t)(nb + 1) * sizeof(**to));
    return CW_OK;
}

static int64_t
max_extent(const int64_t *bounds, int64_t nb)
{
    int64_t m = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t e = bounds[i + 1] - bounds[i];
        m = e > m ? e : m;
    }
    return m;
}

int
cw_source_blocks(int nin, const cw_block_arg_t *args, int ndim, const int64_t *shape,
                 const int64_t *nblocks, const int64_t *const *bounds, cw_dtype_t dtype,
                 cw_block_fn fn, void *data, cw_source_t **out)
{
    int rc;
    *out = NULL;
    if (ndim < 0 || ndim > CW_MAXDIM || nin < 0 || nin > CW_BLOCK_MAX_ARGS ||
        fn == NULL) {
        return cw__error(CW_EINVAL, "blocks: bad rank, argument count or function");
    }
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    blocks_t *x = cw__calloc(1, sizeof(*x));
    if (src == NULL || x == NULL) {
        cw__free(src);
        cw__free(x);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    src->impl = x;
    src->ops = &blocks_ops;
    x->nin = nin;
    x->fn = fn;
    x->data = data;
    x->args = cw__calloc((size_t)nin + 1, sizeof(*x->args));
    x->srcs = cw__calloc((size_t)nin + 1, sizeof(*x->srcs));
    if (x->args == NULL || x->srcs == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    int64_t chunks[CW_MAXDIM];
    size_t total = 1;
    for (int k = 0; k < ndim; k++) {
        x->nb[k] = nblocks[k];
        CW_TRY(copy_bounds(bounds[k], nblocks[k], shape[k], &x->bounds[k]));
        int64_t m = max_extent(x->bounds[k], nblocks[k]);
        chunks[k] = x->bounds[k][1] > 0 ? x->bounds[k][1] : (m > 0 ? m : 1);
        total *= (size_t)m;
    }
    CW_TRY(cw__source_init(src, &blocks_ops, ndim, shape, dtype, chunks, 0));
    x->out_bytes = round64(total * src->itemsize);
    x->tile_bytes = x->out_bytes;
    for (int i = 0; i < nin; i++) {
        blk_arg_t *a = &x->args[i];
        const cw_block_arg_t *g = &args[i];
        a->src = g->src;
        x->srcs[i] = g->src;
        memcpy(a->fill, g->fill, sizeof(a->fill));
        size_t tn = g->src->itemsize;
        for (int d = 0; d < g->src->ndim; d++) {
            int k = g->axis[d];
            int64_t n = g->src->shape[d], e = n;
            if (k >= ndim || k < -1 || g->depth[d] < 0 ||
                g->boundary[d] < CW_HALO_NONE || g->boundary[d] > CW_HALO_CONSTANT) {
                rc = cw__error(CW_EINVAL, "blocks: bad axis, depth or boundary");
                goto fail;
            }
            a->axis[d] = k;
            a->depth[d] = k < 0 ? 0 : g->depth[d];
            a->boundary[d] = g->boundary[d];
            if (k >= 0) {
                CW_TRY(copy_bounds(g->bounds[d], x->nb[k], n, &a->bounds[d]));
                e = max_extent(a->bounds[d], x->nb[k]) + 2 * a->depth[d];
                bool wraps = a->boundary[d] == CW_HALO_REFLECT ||
                             a->boundary[d] == CW_HALO_PERIODIC;
                if (wraps && a->depth[d] > n) {
                    rc = cw__error(CW_EINVAL,
                                   "blocks: depth %lld is more than the extent %lld "
                                   "of the axis it mirrors or wraps",
                                   (long long)a->depth[d], (long long)n);
                    goto fail;
                }
            }
            tn *= (size_t)e;
        }
        x->tile_bytes += round64(tn);
    }
    size_t exact = exact_tile_bytes(x, ndim);
    if (exact > 0 && exact < x->tile_bytes) {
        x->tile_bytes = exact;
    }
    *out = src;
    return CW_OK;
fail:
    cw_source_free(src);
    return rc;
}
