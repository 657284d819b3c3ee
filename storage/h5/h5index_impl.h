/*
 * h5index_impl.h -- chunk addresses read from the file (storage/h5index.c).
 */
#ifndef CW_BUILDING_STORAGE
#error "h5index_impl.h is internal to the storage layer"
#endif
#ifndef CW_H5INDEX_IMPL_H
#define CW_H5INDEX_IMPL_H

#include <hdf5.h>
#include <stdint.h>

#include "chunkwise.h"

typedef struct cw__h5chunk {
    int64_t linear; /* row-major chunk number */
    uint64_t addr;  /* relative to the file's base address */
    uint32_t size;  /* stored bytes */
    uint32_t mask;  /* filters skipped */
} cw__h5chunk_t;

typedef struct cw__h5index {
    int fd;        /* the file, opened read-only for pread */
    uint64_t base; /* user block size */
    cw__h5chunk_t *items;
    size_t n;
} cw__h5index_t;

/* Parse the dataset's chunk index (HDF5 lock held).  CW_ETYPE when the
 * index is of a kind not parsed here or fails a cross-check with HDF5:
 * not an error, the caller keeps using H5Dread_chunk. */
int cw__h5index_load(const char *path, hid_t file, hid_t dset, const cw_source_t *src,
                     cw__h5index_t *out);
/* The parse alone, on the file open as fd (eof bytes, address 0 at offset
 * base, addresses of sa and lengths of sl bytes): the object header at
 * address ohdr, its layout message and the B-tree's chunks inside the
 * extent of a dataset of ndim dimensions with chunk shape `chunks` and
 * `nchunks` chunks per dimension, into *items (*n entries sorted by
 * chunk, cw__free).  No HDF5 call: the bytes may be anything (the fuzz
 * harness tests/c/fuzz/fuzz_h5index.c).  CW_ETYPE when they are not an
 * index parsed here. */
int cw__h5index_parse(int fd, uint64_t base, uint64_t eof, unsigned sa, unsigned sl,
                      uint64_t ohdr, int ndim, const int64_t *chunks,
                      const int64_t *nchunks, cw__h5chunk_t **items, size_t *n);
/* The entry of chunk `linear`, or NULL when the chunk is not allocated. */
const cw__h5chunk_t *cw__h5index_find(const cw__h5index_t *ix, int64_t linear);
/* Read a chunk's stored bytes (no lock needed). */
int cw__h5index_pread(const cw__h5index_t *ix, const cw__h5chunk_t *e, void *buf);
void cw__h5index_destroy(cw__h5index_t *ix);

#endif
