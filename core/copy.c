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

/* The tile edge of transposing copies: TILE rows of the source, each a
 * few cache lines, stay in cache while TILE columns are written. */
#define TILE 32

#define COPY_TILES(T)                                                \
    for (int64_t r0 = 0; r0 < rows; r0 += TILE) {                    \
        int64_t r1 = rows - r0 < TILE ? rows : r0 + TILE;            \
        for (int64_t c0 = 0; c0 < cols; c0 += TILE) {                \
            int64_t c1 = cols - c0 < TILE ? cols : c0 + TILE;        \
            for (int64_t r = r0; r < r1; r++) {                      \
                T *o = (T *)(d + r * drow);                          \
                const T *i = (const T *)(s + r * sizeof(T));         \
                for (int64_t c = c0; c < c1; c++) {                  \
                    o[c] = *(const T *)((const char *)i + c * scol); \
                }                                                    \
            }                                                        \
        }                                                            \
    }

/* rows x cols elements: the destination's rows contiguous (drow apart),
 * the source's columns contiguous (scol apart): a transpose, tile by
 * tile. */
static void
copy_tiles(char *d, int64_t drow, const char *s, int64_t scol, int64_t rows,
           int64_t cols, size_t itemsize)
{
    switch (itemsize) {
        case 1:
            COPY_TILES(uint8_t);
            break;
        case 2:
            COPY_TILES(uint16_t);
            break;
        case 4:
            COPY_TILES(uint32_t);
            break;
        case 8:
            COPY_TILES(uint64_t);
            break;
        default:
            for (int64_t r = 0; r < rows; r++) {
                copy_row(d + r * drow, (int64_t)itemsize, s + r * (int64_t)itemsize,
                         scol, cols, itemsize);
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
    /* A transpose of the last two dims (each contiguous in one operand):
     * tiles of both, the one contiguous in the destination last. */
    int64_t isz = (int64_t)itemsize;
    if (k >= 2 && ss[k - 1] == isz && ds[k - 2] == isz && ds[k - 1] != isz) {
        int64_t t;
        t = n[k - 1], n[k - 1] = n[k - 2], n[k - 2] = t;
        t = ds[k - 1], ds[k - 1] = ds[k - 2], ds[k - 2] = t;
        t = ss[k - 1], ss[k - 1] = ss[k - 2], ss[k - 2] = t;
    }
    bool tiles = k >= 2 && ss[k - 2] == isz && ds[k - 1] == isz && ss[k - 1] != isz &&
                 n[k - 1] >= 4 && n[k - 2] >= 4;
    int outer = tiles ? k - 2 : k - 1;
    /* Odometer over the outer dims; rows along the last, or tiles. */
    memset(idx, 0, sizeof(idx));
    for (;;) {
        if (tiles) {
            copy_tiles(dst, ds[k - 2], src, ss[k - 1], n[k - 2], n[k - 1], itemsize);
        }
        else {
            copy_row(dst, ds[k - 1], src, ss[k - 1], n[k - 1], itemsize);
        }
        int d = outer - 1;
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
