/*
 * region.c -- the region primitive shared by every reader: write the
 * elements start + j*step of a source to a strided destination, decoding
 * only the chunks they live in.  Called from worker threads; each takes
 * its own scratch, and the one-entry chunk cache lives in that scratch, so
 * no lock is taken here (sources take the HDF5 lock themselves).
 */
#include <string.h>

#include "storage_impl.h"

size_t
cw__source_working_set(const cw_source_t *src)
{
    if (src->ops->read_direct) {
        return src->ops->scratch_bytes(src);
    }
    return src->chunk_nbytes + src->ops->scratch_bytes(src);
}

/* Decode chunk `cidx` into the scratch's chunk buffer unless it is there. */
static int
cached_chunk(cw_source_t *src, const int64_t *cidx, cw__io_scratch_t *s)
{
    int64_t linear = 0;
    for (int d = 0; d < src->ndim; d++) {
        linear = linear * src->nchunks[d] + cidx[d];
    }
    if (s->cached_src == src && s->cached_chunk == linear) {
        return CW_OK;
    }
    s->cached_src = NULL;
    int rc = cw__reserve(&s->chunk, &s->chunk_cap, src->chunk_nbytes);
    if (rc == CW_OK) {
        rc = src->ops->read_chunk(src, cidx, s->chunk, s);
    }
    if (rc == CW_OK) {
        s->cached_src = src;
        s->cached_chunk = linear;
    }
    return rc;
}

int
cw__read_region(cw_source_t *src, const int64_t *start, const int64_t *step,
                const int64_t *count, char *dst, const int64_t *strides,
                cw__io_scratch_t *s)
{
    int ndim = src->ndim;
    for (int d = 0; d < ndim; d++) {
        if (count[d] <= 0) {
            return CW_OK;
        }
    }
    if (src->ops->read_direct) {
        return src->ops->read_direct(src, start, step, count, dst, strides, s);
    }
    /* Range of chunks per dimension, then an odometer over them. */
    int64_t cmin[CW_MAXDIM], cmax[CW_MAXDIM], c[CW_MAXDIM];
    int64_t cstride[CW_MAXDIM];
    int64_t cs = (int64_t)src->itemsize;
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t first = start[d], last = start[d] + (count[d] - 1) * step[d];
        int64_t lo = first < last ? first : last, hi = first < last ? last : first;
        cmin[d] = lo / src->chunks[d];
        cmax[d] = hi / src->chunks[d];
        c[d] = cmin[d];
        cstride[d] = cs;
        cs *= src->chunks[d];
    }
    for (;;) {
        int64_t j0[CW_MAXDIM], n[CW_MAXDIM], sstr[CW_MAXDIM];
        bool empty = false, whole = true;
        char *d_ptr = dst;
        int64_t soff = 0;
        for (int d = 0; d < ndim && !empty; d++) {
            int64_t C = src->chunks[d], lo = c[d] * C, j1;
            cw__jrange(start[d], step[d], count[d], lo, lo + C, &j0[d], &j1);
            n[d] = j1 - j0[d];
            empty = n[d] == 0;
            whole = whole && n[d] == C && (C == 1 || step[d] == 1) &&
                    lo + C <= src->shape[d];
            d_ptr += j0[d] * strides[d];
            soff += (start[d] + j0[d] * step[d] - lo) * cstride[d];
            sstr[d] = cstride[d] * step[d];
        }
        if (!empty) {
            int rc;
            if (whole && cw__is_contiguous(ndim, n, strides, src->itemsize)) {
                rc = src->ops->read_chunk(src, c, d_ptr, s);
            }
            else {
                rc = cached_chunk(src, c, s);
                if (rc == CW_OK) {
                    cw__copy_strided(ndim, n, d_ptr, strides,
                                     (const char *)s->chunk + soff, sstr,
                                     src->itemsize);
                }
            }
            if (rc < 0) {
                return rc;
            }
        }
        int d = ndim - 1;
        for (; d >= 0; d--) {
            if (++c[d] <= cmax[d]) {
                break;
            }
            c[d] = cmin[d];
        }
        if (d < 0) {
            return CW_OK;
        }
    }
}
