/*
 * core_impl.h -- the base layer of the C library: statuses and error
 * messages, the allocator, the process counters, dtype conversions,
 * strided copies and fills, and chunk-grid arithmetic.  It knows bytes,
 * shapes and statuses, and no source, program or file format.
 *
 * Every layer above may include it: storage/ and engine/ are built with
 * CW_BUILDING_STORAGE and CW_BUILDING_ENGINE, core/ itself with
 * CW_BUILDING_CORE.
 */
#if !defined(CW_BUILDING_CORE) && !defined(CW_BUILDING_STORAGE) && \
    !defined(CW_BUILDING_ENGINE)
#error "core_impl.h is internal to the chunkwise library"
#endif
#ifndef CW_CORE_IMPL_H
#define CW_CORE_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "chunkwise.h"

/* Propagate a negative status to the function's single `fail:` exit. */
#define CW_TRY(expr)   \
    do {               \
        rc = (expr);   \
        if (rc < 0) {  \
            goto fail; \
        }              \
    } while (0)

/* Return a negative status at once (functions without a `fail:` exit). */
#define CW_TRY_RET(expr)  \
    do {                  \
        int rc_ = (expr); \
        if (rc_ < 0) {    \
            return rc_;   \
        }                 \
    } while (0)

/*
 * Record `status` with a formatted message as this thread's last error and
 * return `status`, so failing sites read `return cw__error(CW_EIO, ...)`.
 */
int cw__error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current thread's message with a context ("chunk (3, 0): "). */
void cw__error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replace this thread's message with `msg` (copied). */
void cw__error_set_text(const char *msg);
/* Clear this thread's message. */
void cw__error_clear(void);

/* ------------------------------------------------------------ alloc.c */

/*
 * Library allocations.  The testing-hooks build can make the n-th allocation
 * fail (cw__testing_fail_alloc_after) to exercise error paths.
 */
void *cw__malloc(size_t n);
void *cw__calloc(size_t count, size_t size);
void *cw__realloc(void *p, size_t n);
void cw__free(void *p);
#ifdef CW_TESTING_HOOKS
void cw__testing_fail_alloc_after(long n);
#endif

/* Grow-only buffer: ensure *buf holds at least `need` bytes. */
int cw__reserve(void **buf, size_t *cap, size_t need);

/* Multiply sizes with overflow detection; returns 0 on overflow. */
static inline int
cw__mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* ------------------------------------------------------------ stats.c */

/* Process-wide counters (cw_stats_t), updated with relaxed atomics. */
struct cw__stats {
    _Atomic int64_t chunks_read, bytes_read, chunks_decoded, chunks_pipeline,
        chunks_lockfree, chunks_written, bytes_written, runs, chunks_direct,
        chunks_buffered, bytes_direct;
};
extern struct cw__stats cw__stats;
#define CW_STAT_ADD(field, n) \
    atomic_fetch_add_explicit(&cw__stats.field, (int64_t)(n), memory_order_relaxed)

/* ------------------------------------------------------------ dtype.c */

/* The C type of each dtype of CW_DTYPE_MAP, by its enum suffix:
 * CW__CTYPE(FLOAT32) is float.  float16 is the compiler's _Float16;
 * complex64 and complex128 are C99's float/double _Complex (real part
 * first, as NumPy lays them out). */
#define CW__CTYPE(NAME) CW__CTYPE_##NAME
#define CW__CTYPE_BOOL _Bool
#define CW__CTYPE_INT8 int8_t
#define CW__CTYPE_INT16 int16_t
#define CW__CTYPE_INT32 int32_t
#define CW__CTYPE_INT64 int64_t
#define CW__CTYPE_UINT8 uint8_t
#define CW__CTYPE_UINT16 uint16_t
#define CW__CTYPE_UINT32 uint32_t
#define CW__CTYPE_UINT64 uint64_t
#define CW__CTYPE_FLOAT16 _Float16
#define CW__CTYPE_FLOAT32 float
#define CW__CTYPE_FLOAT64 double
#define CW__CTYPE_COMPLEX64 float _Complex
#define CW__CTYPE_COMPLEX128 double _Complex

/* The size of one real number of `dtype`: the element size, or half of it
 * for complex types (byte order applies to each part). */
size_t cw__dtype_part_size(cw_dtype_t dtype);

/* ------------------------------------------------------------- cast.c */

/* Convert n strided elements; steps in bytes (a source step may be 0). */
void cw__cast(cw_dtype_t from, cw_dtype_t to, const char *src, int64_t sstep, char *dst,
              int64_t dstep, int64_t n);

/* ------------------------------------------------------------- copy.c */

/* Copy count[0] x ... x count[ndim-1] elements of `itemsize` bytes; strides
 * in bytes, any sign.  Source and destination must not overlap. */
void cw__copy_strided(int ndim, const int64_t *count, char *dst,
                      const int64_t *dstrides, const char *src, const int64_t *sstrides,
                      size_t itemsize);

/* Set every element of a strided region to `value`. */
void cw__fill_strided(int ndim, const int64_t *count, char *dst, const int64_t *strides,
                      const void *value, size_t itemsize);

/* Fill n bytes with copies of an itemsize-byte pattern. */
void cw__fill_pattern(void *dst, size_t n, const void *pattern, size_t itemsize);

/* True if a block of `count` with byte `strides` is one C-contiguous run. */
int cw__is_contiguous(int ndim, const int64_t *count, const int64_t *strides,
                      size_t itemsize);

/* ------------------------------------------------------------- grid.c */

/* Choose a chunk shape of about target_bytes for a shape (row-major). */
void cw__default_chunks(int ndim, const int64_t *shape, size_t itemsize,
                        size_t target_bytes, int64_t *chunks);

/* Cell number `task` (row-major over ncells per axis, axis `skip` left
 * out; -1: none) of a grid of `cell`-sized cells over `shape`: its offset
 * and extent along each axis (along `skip`: offset 0, extent untouched). */
void cw__grid_cell(int ndim, const int64_t *shape, const int64_t *cell,
                   const int64_t *ncells, int64_t task, int skip, int64_t *off,
                   int64_t *count);

/* The j in [0, n) with lo <= s + j*t < hi (t != 0), as [*j0, *j1), maybe
 * empty: the part of a strided run that falls in one chunk. */
void cw__jrange(int64_t s, int64_t t, int64_t n, int64_t lo, int64_t hi, int64_t *j0,
                int64_t *j1);

/* Odometer step over idx[0..last] < n, leaving axes skip1 and skip2 (-1:
 * none) alone; false after the last index. */
bool cw__next_index(int64_t *idx, const int64_t *n, int last, int skip1, int skip2);

#endif
