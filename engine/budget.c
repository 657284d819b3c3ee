/*
 * budget.c -- allocation wrappers for the engine and storage layers.
 *
 * All library allocations go through here so that the testing-hooks build
 * can inject failures and so that a later accounting of bytes in flight has
 * one place to live.  The memory budget of a run itself is planned up front
 * (sched.c: threads x per-task working set <= memory_limit) rather than
 * charged per allocation, because every per-task buffer is sized once.
 */
#include <string.h>

#include "runtime_impl.h"

#ifdef CW_TESTING_HOOKS
static _Atomic long fail_after = -1;

void
cw__testing_fail_alloc_after(long n)
{
    atomic_store(&fail_after, n);
}

static int
should_fail(void)
{
    long n = atomic_load(&fail_after);
    while (n >= 0) {
        if (atomic_compare_exchange_weak(&fail_after, &n, n - 1)) {
            return n == 0;
        }
    }
    return 0;
}
#else
static inline int
should_fail(void)
{
    return 0;
}
#endif

void *
cw__malloc(size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return malloc(n ? n : 1);
}

void *
cw__calloc(size_t count, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return calloc(count ? count : 1, size ? size : 1);
}

void *
cw__realloc(void *p, size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

void
cw__free(void *p)
{
    free(p);
}

int
cw__reserve(void **buf, size_t *cap, size_t need)
{
    if (*cap >= need && *buf != NULL) {
        return CW_OK;
    }
    /* Free first: the old contents are never needed, and this keeps the
     * peak at one buffer rather than two. */
    cw__free(*buf);
    *buf = cw__malloc(need);
    *cap = *buf ? need : 0;
    if (*buf == NULL) {
        return cw__error(CW_ENOMEM, "out of memory allocating %zu bytes", need);
    }
    return CW_OK;
}
