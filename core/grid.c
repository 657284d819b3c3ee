/*
 * grid.c -- chunk-grid arithmetic: default chunk shapes, the cell of a
 * task number, and the odometer step over N-d indices.
 */
#include "core_impl.h"

void
cw__default_chunks(int ndim, const int64_t *shape, size_t itemsize, size_t target_bytes,
                   int64_t *chunks)
{
    /* Row-major: keep trailing dimensions whole while the chunk stays under
     * the target, then split the next dimension. */
    int64_t budget = (int64_t)(target_bytes / (itemsize ? itemsize : 1));
    if (budget < 1) {
        budget = 1;
    }
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t n = shape[d] > 0 ? shape[d] : 1;
        if (n <= budget) {
            chunks[d] = n;
            budget /= n;
        }
        else {
            chunks[d] = budget > 0 ? budget : 1;
            budget = 1;
        }
    }
}

void
cw__grid_cell(int ndim, const int64_t *shape, const int64_t *cell,
              const int64_t *ncells, int64_t task, int skip, int64_t *off,
              int64_t *count)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (d == skip) {
            off[d] = 0;
            continue;
        }
        int64_t k = task % ncells[d];
        task /= ncells[d];
        off[d] = k * cell[d];
        int64_t end = off[d] + cell[d];
        count[d] = (end < shape[d] ? end : shape[d]) - off[d];
    }
}

bool
cw__next_index(int64_t *idx, const int64_t *n, int last, int skip1, int skip2)
{
    for (int k = last; k >= 0; k--) {
        if (k == skip1 || k == skip2) {
            continue;
        }
        if (++idx[k] < n[k]) {
            return true;
        }
        idx[k] = 0;
    }
    return false;
}

/* Floor division for any signs. */
static inline int64_t
floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The j in [0, n) with lo <= s + j*t < hi, as [*j0, *j1) (maybe empty). */
void
cw__jrange(int64_t s, int64_t t, int64_t n, int64_t lo, int64_t hi, int64_t *j0,
           int64_t *j1)
{
    int64_t a, b;
    if (t > 0) {
        a = -floordiv(-(lo - s), t); /* ceil((lo - s) / t) */
        b = -floordiv(-(hi - s), t); /* ceil((hi - s) / t) */
    }
    else {
        int64_t u = -t;
        a = floordiv(s - hi, u) + 1;
        b = floordiv(s - lo, u) + 1;
    }
    *j0 = a < 0 ? 0 : a > n ? n : a;
    *j1 = b < 0 ? 0 : b > n ? n : b;
    if (*j1 < *j0) {
        *j1 = *j0;
    }
}
