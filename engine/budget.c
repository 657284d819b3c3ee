/*
 * budget.c -- allocation wrappers for the engine and storage layers.
 *
 * All library allocations go through here so that the testing-hooks build
 * can inject failures and so that a later accounting of bytes in flight has
 * one place to live.  The memory budget of a run itself is planned up front
 * (sched.c: threads x per-task working set <= memory_limit) rather than
 * charged per allocation, because every per-task buffer is sized once.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime_impl.h"

/*
 * Large buffers (decoded chunks, encode buffers) are mapped directly and
 * unmapped when freed.  Through malloc they would raise glibc's dynamic
 * mmap threshold and then stay in the heap after a run, so the process's
 * footprint would drift above what the budget accounts for.  A header in
 * front of each block records its size; it keeps 64-byte alignment.
 */
#define LARGE_MIN ((size_t)256 << 10)
#define HEADER 64
#define MAGIC_SMALL 0x736d616c6c424c4bULL
#define MAGIC_LARGE 0x6c61726765424c4bULL

typedef struct {
    uint64_t magic;
    size_t size;
} header_t;

static void *
alloc_block(size_t n, int zero)
{
    size_t total = n + HEADER;
    if (total < n) {
        return NULL;
    }
    char *p;
    header_t h = {MAGIC_SMALL, n};
    if (n >= LARGE_MIN) {
        p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (p == MAP_FAILED) {
            return NULL;
        }
        h.magic = MAGIC_LARGE;  /* mapped pages are already zero */
    }
    else {
        p = zero ? calloc(1, total) : malloc(total);
        if (p == NULL) {
            return NULL;
        }
    }
    memcpy(p, &h, sizeof(h));
    return p + HEADER;
}

static void
free_block(void *ptr)
{
    char *p = (char *)ptr - HEADER;
    header_t h;
    memcpy(&h, p, sizeof(h));
    if (h.magic == MAGIC_LARGE) {
        munmap(p, h.size + HEADER);
    }
    else {
        free(p);
    }
}

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
    return alloc_block(n, 0);
}

void *
cw__calloc(size_t count, size_t size)
{
    size_t n;
    if (should_fail() || __builtin_mul_overflow(count, size, &n)) {
        return NULL;
    }
    return alloc_block(n, 1);
}

void *
cw__realloc(void *p, size_t n)
{
    if (p == NULL) {
        return cw__malloc(n);
    }
    if (should_fail()) {
        return NULL;
    }
    header_t h;
    memcpy(&h, (char *)p - HEADER, sizeof(h));
    void *q = alloc_block(n, 0);
    if (q != NULL) {
        memcpy(q, p, h.size < n ? h.size : n);
        free_block(p);
    }
    return q;
}

void
cw__free(void *p)
{
    if (p != NULL) {
        free_block(p);
    }
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
