/*
 * runtime_impl.h -- internals shared by every layer of the C library:
 * error recording, the allocation wrappers and the process-wide counters.
 */
#ifndef CW_BUILDING_LIBRARY
#error "runtime_impl.h is internal to the chunkwise library"
#endif
#ifndef CW_RUNTIME_IMPL_H
#define CW_RUNTIME_IMPL_H

#include <stdatomic.h>
#include <stdlib.h>

#include "chunkwise.h"

/* Propagate a negative status to the function's single `fail:` exit. */
#define CW_TRY(expr)                                                      \
    do {                                                                  \
        rc = (expr);                                                      \
        if (rc < 0) {                                                     \
            goto fail;                                                    \
        }                                                                 \
    } while (0)

/* Return a negative status at once (functions without a `fail:` exit). */
#define CW_TRY_RET(expr)                                                  \
    do {                                                                  \
        int rc_ = (expr);                                                 \
        if (rc_ < 0) {                                                    \
            return rc_;                                                   \
        }                                                                 \
    } while (0)

/*
 * Record `status` with a formatted message as this thread's last error and
 * return `status`, so failing sites read `return cw__error(CW_EIO, ...)`.
 */
int cw__error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current thread's message with a context ("chunk (3, 0): "). */
void cw__error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replace this thread's message with `msg` (copied). */
void cw__error_set_text(const char *msg);
/* Clear this thread's message. */
void cw__error_clear(void);

/*
 * Engine allocations.  The testing-hooks build can make the n-th allocation
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

/* Process-wide counters (cw_stats_t), updated with relaxed atomics. */
struct cw__stats {
    _Atomic int64_t chunks_read, bytes_read, chunks_decoded, chunks_pipeline,
        chunks_lockfree, chunks_written, bytes_written, runs;
};
extern struct cw__stats cw__stats;
#define CW_STAT_ADD(field, n)                                             \
    atomic_fetch_add_explicit(&cw__stats.field, (int64_t)(n),             \
                              memory_order_relaxed)

#endif
