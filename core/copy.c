/*
 * copy.c -- strided N-d copies and fills.
 *
 * Dimensions of extent 1 are dropped and adjacent dimensions that are
 * contiguous in both operands are merged first, so the common cases become
 * one memcpy per row (or one memcpy in all).
 */
#include <string.h>

#include "core_impl.h"

/* Normalise a copy: drop unit dims, merge mergeable neighbours.  Returns
 * the new rank; `n`, `ds`, `ss` receive the merged description. */
static int
collapse(int ndim, const int64_t *count, const int64_t *dstrides,
         const int64_t *sstrides, int64_t *n, int64_t *ds, int64_t *ss)
{
    int k = 0;
    for (int d = 0; d < ndim; d++) {
        if (count[d] == 1) {
            continue;
        }
        if (k > 0 && ds[k - 1] == dstrides[d] * count[d] &&
            (sstrides == NULL || ss[k - 1] == sstrides[d] * count[d])) {
            n[k - 1] *= count[d];
            ds[k - 1] = dstrides[d];
            if (sstrides) {
                ss[k - 1] = sstrides[d];
            }
            continue;
        }
        n[k] = count[d];
        ds[k] = dstrides[d];
        if (sstrides) {
            ss[k] = sstrides[d];
        }
        k++;
    }
    return k;
}

#define COPY_ROW(T)                                          \
    for (int64_t i = 0; i < len; i++) {                      \
        *(T *)(d + i * dstep) = *(const T *)(s + i * sstep); \
    }

static void
copy_row(char *d, int64_t dstep, const char *s, int64_t sstep, int64_t len,
         size_t itemsize)
{
    if (dstep == (int64_t)itemsize && sstep == (int64_t)itemsize) {
        memcpy(d, s, (size_t)len * itemsize);
        return;
    }
    switch (itemsize) {
        case 1:
            COPY_ROW(uint8_t);
            break;
        case 2:
            COPY_ROW(uint16_t);
            break;
        case 4:
            COPY_ROW(uint32_t);
            break;
        case 8:
            COPY_ROW(uint64_t);
            break;
        default:
            for (int64_t i = 0; i < len; i++) {
                memcpy(d + i * dstep, s + i * sstep, itemsize);
            }
    }
}

void
cw__copy_strided(int ndim, const int64_t *count, char *dst, const int64_t *dstrides,
                 const char *src, const int64_t *sstrides, size_t itemsize)
{
    int64_t n[CW_MAXDIM], ds[CW_MAXDIM], ss[CW_MAXDIM], idx[CW_MAXDIM];
    for (int d = 0; d < ndim; d++) {
        if (count[d] <= 0) {
            return;
        }
    }
    int k = collapse(ndim, count, dstrides, sstrides, n, ds, ss);
    if (k == 0) {
        memcpy(dst, src, itemsize);
        return;
    }
    /* Odometer over the outer k-1 dims; rows along the last. */
    memset(idx, 0, sizeof(idx));
    for (;;) {
        copy_row(dst, ds[k - 1], src, ss[k - 1], n[k - 1], itemsize);
        int d = k - 2;
        for (; d >= 0; d--) {
            dst += ds[d];
            src += ss[d];
            if (++idx[d] < n[d]) {
                break;
            }
            dst -= ds[d] * n[d];
            src -= ss[d] * n[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

#define FILL_ROW(T)                         \
    do {                                    \
        T v;                                \
        memcpy(&v, value, sizeof(T));       \
        for (int64_t i = 0; i < len; i++) { \
            *(T *)(d + i * step) = v;       \
        }                                   \
    } while (0)

static void
fill_row(char *d, int64_t step, int64_t len, const void *value, size_t itemsize)
{
    if (step == (int64_t)itemsize) {
        cw__fill_pattern(d, (size_t)len * itemsize, value, itemsize);
        return;
    }
    switch (itemsize) {
        case 1:
            FILL_ROW(uint8_t);
            break;
        case 2:
            FILL_ROW(uint16_t);
            break;
        case 4:
            FILL_ROW(uint32_t);
            break;
        case 8:
            FILL_ROW(uint64_t);
            break;
        default:
            for (int64_t i = 0; i < len; i++) {
                memcpy(d + i * step, value, itemsize);
            }
    }
}

void
cw__fill_strided(int ndim, const int64_t *count, char *dst, const int64_t *strides,
                 const void *value, size_t itemsize)
{
    int64_t n[CW_MAXDIM], ds[CW_MAXDIM], idx[CW_MAXDIM];
    for (int d = 0; d < ndim; d++) {
        if (count[d] <= 0) {
            return;
        }
    }
    int k = collapse(ndim, count, strides, NULL, n, ds, NULL);
    if (k == 0) {
        memcpy(dst, value, itemsize);
        return;
    }
    memset(idx, 0, sizeof(idx));
    for (;;) {
        fill_row(dst, ds[k - 1], n[k - 1], value, itemsize);
        int d = k - 2;
        for (; d >= 0; d--) {
            dst += ds[d];
            if (++idx[d] < n[d]) {
                break;
            }
            dst -= ds[d] * n[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

int
cw__is_contiguous(int ndim, const int64_t *count, const int64_t *strides,
                  size_t itemsize)
{
    int64_t expect = (int64_t)itemsize;
    for (int d = ndim - 1; d >= 0; d--) {
        if (count[d] == 1) {
            continue;
        }
        if (strides[d] != expect) {
            return 0;
        }
        expect *= count[d];
    }
    return 1;
}

void
cw__fill_pattern(void *dst, size_t n, const void *pattern, size_t itemsize)
{
    unsigned char *d = dst;
    int zero = 1;
    for (size_t i = 0; i < itemsize; i++) {
        if (((const unsigned char *)pattern)[i] != 0) {
            zero = 0;
            break;
        }
    }
    if (zero || itemsize == 0) {
        memset(dst, 0, n);
        return;
    }
    /* Doubling copies: log2(n) memcpy calls. */
    size_t done = itemsize < n ? itemsize : n;
    memcpy(d, pattern, done);
    while (done < n) {
        size_t len = done < n - done ? done : n - done;
        memcpy(d + done, d, len);
        done += len;
    }
}
