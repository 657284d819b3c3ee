/*
 * fuzz_h5index.c -- the chunk index parser (storage/h5/index.c) on
 * arbitrary files.
 *
 * chunkwise reads a dataset's object header and version 1 B-tree from the
 * file's bytes itself (cw__h5index_parse); HDF5 only tells it where the
 * header is and the file's address sizes.  Those come first in the input,
 * as tests/c/fuzz/make_corpus.py writes them from real files:
 *
 *     0  address size, 1 length size, 2 rank, 3 unused,
 *     4  object header address (8 bytes, little-endian),
 *     12 user block size (8 bytes),
 *     20 per dimension: chunk size and chunks (4 + 4 bytes),
 *     then the file's bytes.
 *
 * The file goes to a memory file read with pread, as the parser reads a
 * real one.  Any input gives CW_OK or an error status, never a crash, a
 * sanitizer report or a hang; on CW_OK every entry is a chunk inside the
 * extent whose bytes lie inside the file, in chunk order.
 */
#define CW_BUILDING_STORAGE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chunkwise.h"
#include "h5/h5index_impl.h"
#include "storage_impl.h"

#define FUZZ_NAME "h5index"

static uint64_t
le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_h5index", 0)) < 0) {
        perror("memfd_create");
        abort();
    }
    if (size < 20) {
        return 0;
    }
    unsigned sa = data[0], sl = data[1];
    int ndim = data[2] % (CW_MAXDIM + 1);
    uint64_t ohdr = le(data + 4, 8), base = le(data + 12, 8);
    size_t head = 20 + 8 * (size_t)ndim;
    if (size < head) {
        return 0;
    }
    int64_t chunks[CW_MAXDIM], nchunks[CW_MAXDIM];
    double total = 1;
    for (int d = 0; d < ndim; d++) {
        chunks[d] = (int64_t)le(data + 20 + 8 * d, 4);
        nchunks[d] = (int64_t)le(data + 24 + 8 * d, 4);
        total *= (double)nchunks[d];
    }
    if (total > 9e18) {
        return 0; /* a source's geometry is checked before this */
    }
    const uint8_t *file = data + head;
    size_t len = size - head;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, file, len, 0) != (ssize_t)len) {
        perror("memfd");
        abort();
    }
    cw__h5chunk_t *items = NULL;
    size_t n = 0;
    int rc = cw__h5index_parse(fd, base, len, sa, sl, ohdr, ndim, chunks, nchunks,
                               &items, &n);
    if (rc == CW_OK) {
        for (size_t i = 0; i < n; i++) {
            const cw__h5chunk_t *e = &items[i];
            if (e->linear < 0 || (double)e->linear >= total ||
                (i > 0 && e->linear < items[i - 1].linear) || e->addr > len ||
                e->size > len - e->addr) {
                fprintf(stderr, "h5index: entry %zu of %zu out of range\n", i, n);
                abort();
            }
        }
    }
    else if (items != NULL || n != 0) {
        fprintf(stderr, "h5index: a failed parse returned entries\n");
        abort();
    }
    cw__free(items);
    return 0;
}

#include "fuzz_main.h"
