/*
 * resultmem.c -- the memory of the ndarrays a computation returns.
 *
 * A new result of a large computation is written once, chunk by chunk, by
 * the run's threads.  What it costs beyond the computation is the kernel's:
 * faulting in and zeroing every page (and, on a virtual machine that hands
 * freed memory back to its host, the host backing each page again, which
 * was measured at 0.4-1.2 GB/s of system time).  NumPy's default allocator
 * returns a large array's pages to the system when the array is freed, so
 * every new result pays this again.
 *
 * Results are therefore created with a NumPy memory handler of their own
 * (PyDataMem_SetHandler around the allocation, so only these arrays use
 * it; each array keeps its handler and is freed through it).  Large blocks
 * are mapped directly (from 64 MiB on, asked to be backed by huge pages), and kept on
 * free in a small pool (POOL_BLOCKS blocks, at most `keep` bytes in all, the
 * memory_limit in force when the last result was made) so that the next
 * result of about the same size reuses pages that are already backed.  A
 * request the pool cannot serve first hands the whole pool back, so what
 * is kept never adds to a larger result's footprint.  Small blocks go to
 * malloc.  A 64-byte header in front of each block records its kind and
 * mapped size (NumPy's realloc does not pass the old size).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "cwpy.h"

#define LARGE_MIN ((size_t)4 << 20)
/* Huge pages for large blocks only: they are faulted in 2 MiB at a time,
 * 512 times fewer faults, but at that granularity a few MiB blocks would
 * round resident memory up noticeably. */
#define HUGE_MIN ((size_t)64 << 20)
#define HEADER 64
#define MAGIC_SMALL 0x726d656d536d6c6cULL
#define MAGIC_LARGE 0x726d656d4c617267ULL
#define POOL_BLOCKS 4

typedef struct {
    uint64_t magic;
    size_t size; /* the usable bytes after the header */
} header_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *p;
    size_t size;
} pool[POOL_BLOCKS];
static int pool_n;
static size_t pool_bytes;
static size_t keep_limit;
static size_t reused; /* blocks served from the pool, for tests */

static void
unmap(char *p, size_t size)
{
    munmap(p, size + HEADER);
}

/* Empty the pool; the caller holds mu.  The blocks are returned through
 * `out` (at most POOL_BLOCKS) to be unmapped outside the lock. */
static int
drain_locked(char **out, size_t *sizes)
{
    int n = pool_n;
    for (int i = 0; i < n; i++) {
        out[i] = pool[i].p;
        sizes[i] = pool[i].size;
    }
    pool_n = 0;
    pool_bytes = 0;
    return n;
}

static char *
take_large(size_t n)
{
    char *drop[POOL_BLOCKS];
    size_t sizes[POOL_BLOCKS];
    int ndrop = 0;
    char *p = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < pool_n; i++) {
        if (pool[i].size >= n && pool[i].size - n <= n / 4) {
            p = pool[i].p;
            pool_bytes -= pool[i].size;
            pool[i] = pool[--pool_n];
            reused++;
            break;
        }
    }
    if (p == NULL) {
        ndrop = drain_locked(drop, sizes);
    }
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < ndrop; i++) {
        unmap(drop[i], sizes[i]);
    }
    return p;
}

static void *
alloc_block(size_t n, int zero)
{
    if (n > SIZE_MAX - HEADER - 4096) {
        return NULL;
    }
    header_t h = {MAGIC_SMALL, n};
    char *p;
    if (n >= LARGE_MIN) {
        h.magic = MAGIC_LARGE;
        p = take_large(n);
        if (p != NULL) {
            memcpy(&h, p, sizeof(h)); /* the block keeps its mapped size */
            if (zero) {
                memset(p + HEADER, 0, n);
            }
        }
        else {
            size_t total = (n + HEADER + 4095) & ~(size_t)4095;
            p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
            if (p == MAP_FAILED) {
                return NULL;
            }
#ifdef MADV_HUGEPAGE
            if (n >= HUGE_MIN) {
                madvise(p, total, MADV_HUGEPAGE);
            }
#endif
            h.size = total - HEADER; /* fresh mappings are already zero */
        }
    }
    else {
        p = zero ? calloc(1, n + HEADER) : malloc(n + HEADER);
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
    if (ptr == NULL) {
        return;
    }
    char *p = (char *)ptr - HEADER;
    header_t h;
    memcpy(&h, p, sizeof(h));
    if (h.magic != MAGIC_LARGE) {
        free(p);
        return;
    }
    int kept = 0;
    pthread_mutex_lock(&mu);
    if (pool_n < POOL_BLOCKS && pool_bytes + h.size <= keep_limit) {
        pool[pool_n].p = p;
        pool[pool_n].size = h.size;
        pool_n++;
        pool_bytes += h.size;
        kept = 1;
    }
    pthread_mutex_unlock(&mu);
    if (!kept) {
        unmap(p, h.size);
    }
}

static void *
h_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return alloc_block(size, 0);
}

static void *
h_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    if (elsize != 0 && nelem > SIZE_MAX / elsize) {
        return NULL;
    }
    return alloc_block(nelem * elsize, 1);
}

static void *
h_realloc(void *ctx, void *ptr, size_t new_size)
{
    (void)ctx;
    if (ptr == NULL) {
        return alloc_block(new_size, 0);
    }
    header_t h;
    memcpy(&h, (char *)ptr - HEADER, sizeof(h));
    if (h.magic == MAGIC_LARGE && new_size <= h.size) {
        return ptr;
    }
    void *q = alloc_block(new_size, 0);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, ptr, h.size < new_size ? h.size : new_size);
    free_block(ptr);
    return q;
}

static void
h_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free_block(ptr);
}

static PyDataMem_Handler handler = {
    "chunkwise_result",
    1,
    {NULL, h_malloc, h_calloc, h_realloc, h_free},
};

/* The capsule is made once and kept for the life of the process: arrays
 * made with it hold references, and the handler is static. */
static PyObject *handler_capsule;

/* empty(shape, dtype, keep) -> a new C-ordered ndarray whose memory comes
 * from the result pool; `keep` (bytes) bounds what the pool may keep. */
static PyObject *
py_empty(PyObject *self, PyObject *args)
{
    (void)self;
    PyArray_Dims dims = {NULL, 0};
    PyArray_Descr *descr = NULL;
    Py_ssize_t keep;
    if (!PyArg_ParseTuple(args, "O&O&n", PyArray_IntpConverter, &dims,
                          PyArray_DescrConverter, &descr, &keep)) {
        PyDimMem_FREE(dims.ptr);
        Py_XDECREF(descr);
        return NULL;
    }
    if (keep < 0) {
        keep = 0;
    }
    pthread_mutex_lock(&mu);
    keep_limit = (size_t)keep;
    pthread_mutex_unlock(&mu);
    if (handler_capsule == NULL) {
        handler_capsule = PyCapsule_New(&handler, "mem_handler", NULL);
        if (handler_capsule == NULL) {
            PyDimMem_FREE(dims.ptr);
            Py_DECREF(descr);
            return NULL;
        }
    }
    PyObject *old = PyDataMem_SetHandler(handler_capsule);
    if (old == NULL) {
        PyDimMem_FREE(dims.ptr);
        Py_DECREF(descr);
        return NULL;
    }
    PyObject *arr = PyArray_Empty(dims.len, dims.ptr, descr, 0); /* steals descr */
    PyDimMem_FREE(dims.ptr);
    PyObject *back = PyDataMem_SetHandler(old);
    Py_DECREF(old);
    if (back == NULL) {
        Py_XDECREF(arr);
        return NULL;
    }
    Py_DECREF(back);
    return arr;
}

/* result_pool() -> (blocks kept, bytes kept, blocks reused so far) */
static PyObject *
py_result_pool(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    pthread_mutex_lock(&mu);
    int n = pool_n;
    size_t bytes = pool_bytes, r = reused;
    pthread_mutex_unlock(&mu);
    return Py_BuildValue("inn", n, (Py_ssize_t)bytes, (Py_ssize_t)r);
}

/* release_result_pool() -> None: hand every kept block back. */
static PyObject *
py_release_result_pool(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    char *drop[POOL_BLOCKS];
    size_t sizes[POOL_BLOCKS];
    pthread_mutex_lock(&mu);
    int n = drain_locked(drop, sizes);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++) {
        unmap(drop[i], sizes[i]);
    }
    Py_RETURN_NONE;
}

PyMethodDef cwpy_resultmem_functions[] = {
    {"empty", py_empty, METH_VARARGS,
     "empty(shape, dtype, keep) -> ndarray from the result pool"},
    {"result_pool", py_result_pool, METH_NOARGS,
     "result_pool() -> (blocks kept, bytes kept, blocks reused)"},
    {"release_result_pool", py_release_result_pool, METH_NOARGS,
     "hand the kept result blocks back to the system"},
    {NULL, NULL, 0, NULL},
};
