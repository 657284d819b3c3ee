/*
 * gather.c -- selected elements of a source, as a source
 * (cw_source_gather, NumPy's integer-array indexing), and the element
 * gather that reshapes share (cw__gather_elems).
 *
 * A region read lists the flat (C-order) index in the input of every
 * element it needs, groups the elements by the input chunk holding them,
 * and reads each such chunk once, as the box that bounds its elements;
 * chunks holding no selected element are never read.  Index tables are
 * borrowed from the caller and checked against the input's shape when the
 * source is made.  Reads run on worker threads; no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "storage_impl.h"

typedef struct elem {
    int64_t chunk; /* linear chunk number in the input */
    int64_t i;     /* position in the request */
} elem_t;

static int
elem_cmp(const void *a, const void *b)
{
    const elem_t *x = a, *y = b;
    if (x->chunk != y->chunk) {
        return x->chunk < y->chunk ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

static void
unravel(const cw_source_t *in, int64_t f, int64_t *c)
{
    for (int k = in->ndim - 1; k >= 0; k--) {
        c[k] = f % in->shape[k];
        f /= in->shape[k];
    }
}

/* Sort the elements by chunk, stable (request order within a chunk): a
 * counting sort when the chunk numbers span a range of about n or less
 * (a region touches few chunks), else qsort.  May replace *el. */
static int
sort_by_chunk(elem_t **elp, int64_t n)
{
    elem_t *el = *elp;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t i = 0; i < n; i++) {
        lo = el[i].chunk < lo ? el[i].chunk : lo;
        hi = el[i].chunk > hi ? el[i].chunk : hi;
    }
    if (hi - lo > 4 * n + 64) {
        qsort(el, (size_t)n, sizeof(*el), elem_cmp);
        return CW_OK;
    }
    int64_t range = hi - lo + 1;
    int64_t *at = cw__calloc((size_t)range + 1, sizeof(*at));
    elem_t *sorted = cw__malloc((size_t)n * sizeof(*sorted));
    if (at == NULL || sorted == NULL) {
        cw__free(at);
        cw__free(sorted);
        return cw__error(CW_ENOMEM, "out of memory sorting %lld elements",
                         (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        at[el[i].chunk - lo + 1]++;
    }
    for (int64_t c = 0; c < range; c++) {
        at[c + 1] += at[c];
    }
    for (int64_t i = 0; i < n; i++) {
        sorted[at[el[i].chunk - lo]++] = el[i];
    }
    cw__free(at);
    cw__free(el);
    *elp = sorted;
    return CW_OK;
}

int
cw__gather_elems(cw_source_t *in, int64_t n, const int64_t *flat, const int64_t *dstoff,
                 char *dst, cw__io_scratch_t *s)
{
    int rc = CW_OK, nd = in->ndim;
    size_t isz = in->itemsize;
    if (n <= 0) {
        return CW_OK;
    }
    elem_t *el = cw__malloc((size_t)n * sizeof(*el));
    char *box = cw__malloc(in->chunk_nbytes ? in->chunk_nbytes : isz);
    if (el == NULL || box == NULL) {
        rc =
            cw__error(CW_ENOMEM, "out of memory gathering %lld elements", (long long)n);
        goto fail;
    }
    int64_t c[CW_MAXDIM];
    for (int64_t i = 0; i < n; i++) {
        unravel(in, flat[i], c);
        int64_t id = 0;
        for (int k = 0; k < nd; k++) {
            id = id * in->nchunks[k] + c[k] / in->chunks[k];
        }
        el[i].chunk = id;
        el[i].i = i;
    }
    CW_TRY(sort_by_chunk(&el, n));
    int64_t step[CW_MAXDIM], lo[CW_MAXDIM], hi[CW_MAXDIM], cnt[CW_MAXDIM],
        bstr[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        step[k] = 1;
    }
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b < n && el[b].chunk == el[a].chunk) {
            b++;
        }
        /* The box bounding this chunk's elements. */
        for (int k = 0; k < nd; k++) {
            lo[k] = INT64_MAX;
            hi[k] = -1;
        }
        for (int64_t j = a; j < b; j++) {
            unravel(in, flat[el[j].i], c);
            for (int k = 0; k < nd; k++) {
                lo[k] = c[k] < lo[k] ? c[k] : lo[k];
                hi[k] = c[k] > hi[k] ? c[k] : hi[k];
            }
        }
        int64_t st = (int64_t)isz;
        for (int k = nd - 1; k >= 0; k--) {
            cnt[k] = hi[k] - lo[k] + 1;
            bstr[k] = st;
            st *= cnt[k];
        }
        rc = cw__read_region(in, lo, step, cnt, box, bstr, s);
        if (rc < 0) {
            goto fail;
        }
        for (int64_t j = a; j < b; j++) {
            int64_t i = el[j].i, off = 0;
            unravel(in, flat[i], c);
            for (int k = 0; k < nd; k++) {
                off += (c[k] - lo[k]) * bstr[k];
            }
            memcpy(dst + dstoff[i], box + off, isz);
        }
        a = b;
    }
fail:
    cw__free(el);
    cw__free(box);
    return rc;
}

/* ------------------------------------------------------------ gather */

typedef struct gather {
    cw_source_t *in;     /* borrowed */
    int map[CW_MAXDIM];  /* per input dim: output axis, or -1 - table */
    const int64_t **tab; /* borrowed tables, C-contiguous over bshape */
    int pos, m;          /* the tables' axes are output axes [pos, pos+m) */
    int64_t bstride[CW_MAXDIM];
} gather_t;

static int
gather_begin(cw_source_t *src)
{
    gather_t *g = src->impl;
    return cw__sources_begin(&g->in, 1);
}

static void
gather_end(cw_source_t *src)
{
    gather_t *g = src->impl;
    cw__sources_end(&g->in, 1);
}

/* The C-order flat index (over src's shape) and the dst byte offset of
 * every element of a region, in C order of the region. */
int
cw__region_elems(const cw_source_t *src, const int64_t *start, const int64_t *step,
                 const int64_t *count, const int64_t *strides, int64_t **flat,
                 int64_t **off, int64_t *n)
{
    int nd = src->ndim;
    int64_t total = 1;
    for (int k = 0; k < nd; k++) {
        total *= count[k];
    }
    *n = total;
    *flat = cw__malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    *off = cw__malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    if (*flat == NULL || *off == NULL) {
        cw__free(*flat);
        cw__free(*off);
        *flat = *off = NULL;
        return cw__error(CW_ENOMEM, "out of memory listing %lld elements",
                         (long long)total);
    }
    int64_t j[CW_MAXDIM] = {0};
    for (int64_t e = 0; e < total; e++) {
        int64_t f = 0, o = 0;
        for (int k = 0; k < nd; k++) {
            f = f * src->shape[k] + start[k] + j[k] * step[k];
            o += j[k] * strides[k];
        }
        (*flat)[e] = f;
        (*off)[e] = o;
        for (int k = nd - 1; k >= 0; k--) {
            if (++j[k] < count[k]) {
                break;
            }
            j[k] = 0;
        }
    }
    return CW_OK;
}

int
cw__region_in_pieces(cw_source_t *src, const int64_t *start, const int64_t *step,
                     const int64_t *count, char *dst, const int64_t *strides,
                     cw__io_scratch_t *s, int64_t max_elems, cw__region_fn piece)
{
    int nd = src->ndim;
    /* after[k]: the elements of one index along axes < k. */
    int64_t after[CW_MAXDIM + 1];
    after[nd] = 1;
    for (int k = nd - 1; k >= 0; k--) {
        after[k] = after[k + 1] * count[k];
    }
    if (nd == 0 || after[0] <= max_elems) {
        return piece(src, start, step, count, dst, strides, s);
    }
    /* Split axis d, the first whose inner axes fit, into runs of `per`,
     * for every index of the axes before it. */
    int d = 0;
    while (after[d + 1] > max_elems) {
        d++;
    }
    int64_t per = max_elems / after[d + 1] > 0 ? max_elems / after[d + 1] : 1;
    int64_t st[CW_MAXDIM], cn[CW_MAXDIM], j[CW_MAXDIM] = {0};
    memcpy(st, start, sizeof(int64_t) * (size_t)nd);
    memcpy(cn, count, sizeof(int64_t) * (size_t)nd);
    for (int k = 0; k < d; k++) {
        cn[k] = 1;
    }
    for (;;) {
        char *base = dst;
        for (int k = 0; k < d; k++) {
            st[k] = start[k] + j[k] * step[k];
            base += j[k] * strides[k];
        }
        for (int64_t i = 0; i < count[d]; i += per) {
            st[d] = start[d] + i * step[d];
            cn[d] = count[d] - i < per ? count[d] - i : per;
            CW_TRY_RET(piece(src, st, step, cn, base + i * strides[d], strides, s));
        }
        int k = d - 1;
        while (k >= 0 && ++j[k] == count[k]) {
            j[k--] = 0;
        }
        if (k < 0) {
            return CW_OK;
        }
    }
}

static int
gather_piece(cw_source_t *src, const int64_t *start, const int64_t *step,
             const int64_t *count, char *dst, const int64_t *strides,
             cw__io_scratch_t *s)
{
    gather_t *g = src->impl;
    const cw_source_t *in = g->in;
    int64_t *flat, *off, n;
    CW_TRY_RET(cw__region_elems(src, start, step, count, strides, &flat, &off, &n));
    /* Map each output flat index to the input's. */
    int64_t o[CW_MAXDIM];
    for (int64_t e = 0; e < n; e++) {
        int64_t f = flat[e];
        for (int k = src->ndim - 1; k >= 0; k--) {
            o[k] = f % src->shape[k];
            f /= src->shape[k];
        }
        int64_t b = 0;
        for (int i = 0; i < g->m; i++) {
            b += o[g->pos + i] * g->bstride[i];
        }
        int64_t y = 0;
        for (int d = 0; d < in->ndim; d++) {
            int64_t c = g->map[d] >= 0 ? o[g->map[d]] : g->tab[-1 - g->map[d]][b];
            y = y * in->shape[d] + c;
        }
        flat[e] = y;
    }
    int rc = cw__gather_elems(g->in, n, flat, off, dst, s);
    cw__free(flat);
    cw__free(off);
    return rc;
}

/* A region in pieces of cw__piece_elems elements: the index tables of
 * a piece are what gather_scratch counts. */
static int
gather_read(cw_source_t *src, const int64_t *start, const int64_t *step,
            const int64_t *count, char *dst, const int64_t *strides,
            cw__io_scratch_t *s)
{
    return cw__region_in_pieces(src, start, step, count, dst, strides, s,
                                cw__piece_elems(src), gather_piece);
}

static size_t
gather_scratch(const cw_source_t *src)
{
    const gather_t *g = src->impl;
    int64_t elems = cw__piece_elems(src);
    return cw__source_working_set(g->in) + g->in->chunk_nbytes +
           (size_t)elems * 4 * sizeof(int64_t);
}

static void
gather_destroy(cw_source_t *src)
{
    gather_t *g = src->impl;
    if (g) {
        cw__free(g->tab);
        cw__free(g);
    }
}

static const struct cw__source_ops gather_ops = {
    .kind = "gather",
    .begin = gather_begin,
    .end = gather_end,
    .read_direct = gather_read,
    .scratch_bytes = gather_scratch,
    .destroy = gather_destroy,
};

int
cw_source_gather(cw_source_t *in, int ndim, const int64_t *shape, const int *map,
                 int ntab, const int64_t *const *tables, int pos, int m,
                 cw_source_t **out)
{
    int rc;
    *out = NULL;
    if (ndim < 0 || ndim > CW_MAXDIM || m < 0 || pos < 0 || pos + m > ndim ||
        ntab < 0 || ntab > in->ndim) {
        return cw__error(CW_EINVAL, "gather: malformed output rank or table axes");
    }
    int64_t nb = 1;
    for (int i = 0; i < m; i++) {
        nb *= shape[pos + i];
    }
    for (int d = 0; d < in->ndim; d++) {
        int a = map[d];
        if (a >= 0
                ? (a >= ndim || (a >= pos && a < pos + m) || shape[a] != in->shape[d])
                : -1 - a >= ntab) {
            return cw__error(CW_EINVAL, "gather: input dimension %d maps to nothing",
                             d);
        }
        if (a < 0) {
            const int64_t *t = tables[-1 - a];
            for (int64_t b = 0; b < nb; b++) {
                if (t[b] < 0 || t[b] >= in->shape[d]) {
                    return cw__error(CW_EINDEX,
                                     "index %lld is out of bounds for axis %d with "
                                     "size %lld",
                                     (long long)t[b], d, (long long)in->shape[d]);
                }
            }
        }
    }
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    gather_t *g = cw__calloc(1, sizeof(*g));
    if (src == NULL || g == NULL) {
        cw__free(src);
        cw__free(g);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    src->impl = g;
    g->in = in;
    g->pos = pos;
    g->m = m;
    memcpy(g->map, map, (size_t)in->ndim * sizeof(*map));
    g->tab = cw__malloc((size_t)(ntab ? ntab : 1) * sizeof(*g->tab));
    if (g->tab == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < ntab; i++) {
        g->tab[i] = tables[i];
    }
    int64_t st = 1;
    for (int i = m - 1; i >= 0; i--) {
        g->bstride[i] = st;
        st *= shape[pos + i];
    }
    /* Chunks: an axis showing an input dimension keeps its chunk extent,
     * so a tile reads whole input chunks along it; the table axes take
     * what is left of one input chunk's element count, last axis first. */
    int64_t chunks[CW_MAXDIM], left = (int64_t)(in->chunk_nbytes / in->itemsize);
    for (int d = 0; d < in->ndim; d++) {
        if (map[d] >= 0) {
            chunks[map[d]] = in->chunks[d];
            left /= in->chunks[d] > 0 ? in->chunks[d] : 1;
        }
    }
    for (int i = m - 1; i >= 0; i--) {
        int64_t n = shape[pos + i], c = left > 1 ? left : 1;
        chunks[pos + i] = n < c ? (n > 0 ? n : 1) : c;
        left = c / chunks[pos + i];
    }
    CW_TRY(cw__source_init(src, &gather_ops, ndim, shape, in->dtype, chunks, 0));
    *out = src;
    return CW_OK;
fail:
    cw_source_free(src);
    return rc;
}
