/*
 * alloc.c -- allocation wrappers for every layer of the library.
 *
 * All library allocations go through here so that the testing-hooks build
 * can inject failures and so that a later accounting of bytes in flight has
 * one place to live.  The memory budget of a run itself is planned up front
 * (sched.c: threads x per-task working set <= memory_limit) rather than
 * charged per allocation, because every per-task buffer is sized once.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core_impl.h"

/*
 * Large buffers (decoded chunks, encode buffers) are mapped directly.
 * Through malloc they would raise glibc's dynamic mmap threshold and then
 * stay in the heap after a run, so the process's footprint would drift
 * above what the budget accounts for.  A header in front of each block
 * records its size; it keeps 64-byte alignment.
 *
 * Freed large blocks go to a small pool (at most POOL_BLOCKS blocks and
 * POOL_BYTES in all) instead of being unmapped, so that the next run, which
 * usually needs buffers of the same sizes, does not pay for mapping and
 * faulting them in again: a small read costs microseconds, not the
 * milliseconds of first-touching a few MiB.  What the pool keeps is bounded
 * and is handed back to the system when a larger need would exceed it.
 */
#define LARGE_MIN ((size_t)256 << 10)
#define HEADER 64
#define MAGIC_SMALL 0x736d616c6c424c4bULL
#define MAGIC_LARGE 0x6c61726765424c4bULL
#define POOL_BLOCKS 16
#define POOL_BYTES ((size_t)64 << 20)

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *p;
    size_t size;
} pool[POOL_BLOCKS];
static int pool_n;
static size_t pool_bytes;

/* Take a pooled block of at least n bytes and at most 5/4 n (returns the
 * mapping's start), or NULL. */
static char *
pool_take(size_t n)
{
    char *p = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < pool_n; i++) {
        if (pool[i].size >= n && pool[i].size - n <= n / 4) {
            p = pool[i].p;
            pool_bytes -= pool[i].size;
            pool[i] = pool[--pool_n];
            break;
        }
    }
    pthread_mutex_unlock(&pool_mu);
    return p;
}

/* Keep a freed block if there is room; false means unmap it. */
static bool
pool_give(char *p, size_t size)
{
    bool kept = false;
    pthread_mutex_lock(&pool_mu);
    if (pool_n < POOL_BLOCKS && pool_bytes + size <= POOL_BYTES) {
        pool[pool_n].p = p;
        pool[pool_n].size = size;
        pool_n++;
        pool_bytes += size;
        kept = true;
    }
    pthread_mutex_unlock(&pool_mu);
    return kept;
}

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
        p = pool_take(n);
        if (p != NULL) {
            header_t old;
            memcpy(&old, p, sizeof(old));
            h.size = old.size; /* the block keeps its mapped size */
            if (zero) {
                memset(p + HEADER, 0, n);
            }
        }
        else {
            p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
            if (p == MAP_FAILED) {
                return NULL;
            }
        }
        h.magic = MAGIC_LARGE; /* fresh mappings are already zero */
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
        if (!pool_give(p, h.size)) {
            munmap(p, h.size + HEADER);
        }
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
    /* Grow by half again at least, in 64 KiB steps, so that buffers sized
     * by varying stored chunk sizes settle after a step or two instead of
     * being replaced chunk after chunk.  Free first: the old contents are
     * never needed, and this keeps the peak at one buffer rather than two. */
    size_t want = *cap + *cap / 2;
    if (want < need) {
        want = need;
    }
    want = (want + 65535) & ~(size_t)65535;
    cw__free(*buf);
    *buf = cw__malloc(want);
    *cap = *buf ? want : 0;
    if (*buf == NULL) {
        return cw__error(CW_ENOMEM, "out of memory allocating %zu bytes", need);
    }
    return CW_OK;
}
