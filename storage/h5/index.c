/*
 * h5index.c -- read a chunked dataset's chunk index from the file itself,
 * so that workers can pread() stored chunks without the HDF5 lock.
 *
 * libhdf5 1.10 has no cheap way to enumerate chunk addresses
 * (H5Dget_chunk_info walks the index from the start on every call), and
 * H5Dread_chunk holds the library lock while it copies the bytes.  For the
 * index HDF5 writes by default (layout message version 3: a version 1
 * B-tree, as h5py with its default libver, PyTables and most tools write),
 * this file parses the dataset's object header to find the layout message,
 * walks the B-tree once, and records (chunk, address, size, filter mask)
 * for every allocated chunk, sorted by chunk.  Anything else (layout
 * version 4 indices, unexpected structures) returns CW_ETYPE and the
 * caller keeps using H5Dread_chunk.
 *
 * Every size and address read from the file is range-checked against the
 * file size before use; the result is cross-checked with HDF5 (chunk count,
 * and one chunk's stored bytes) before it is trusted.
 *
 * Locks: the caller holds the HDF5 lock (H5O/H5P/H5D calls).
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5index_impl.h"
#include "storage_impl.h"

#define MSG_LAYOUT 0x0008
#define MSG_CONTINUATION 0x0010
#define MAX_BLOCKS 64 /* object header continuation blocks */
#define MAX_DEPTH 16  /* B-tree levels */

typedef struct reader {
    int fd;
    uint64_t base;   /* file offset of address 0 (user block) */
    uint64_t eof;    /* file size */
    unsigned sa, sl; /* sizes of addresses and lengths */
} reader_t;

typedef struct walk {
    reader_t *r;
    const int64_t *chunks, *nchunks; /* chunk shape, chunks per dimension */
    int rank;
    /* Bytes of B-tree nodes still allowed: the nodes of a real tree do not
     * overlap, so all of them fit in the file; a crafted one whose
     * entries point at the same nodes again would otherwise be walked an
     * exponential number of times. */
    uint64_t budget;
    cw__h5chunk_t *items;
    size_t n, cap;
} walk_t;

static uint64_t
le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static bool
undefined_addr(uint64_t a, unsigned sa)
{
    return sa >= 8 ? a == UINT64_MAX : a == ((uint64_t)1 << (8 * sa)) - 1;
}

/* Read `n` bytes at relative address `addr`, checking the range. */
static int
read_at(const reader_t *r, uint64_t addr, void *buf, size_t n)
{
    uint64_t off = r->base + addr;
    if (addr > r->eof || off > r->eof || n > r->eof - off) {
        return CW_ETYPE;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(r->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k <= 0) {
            if (k < 0 && errno == EINTR) {
                continue;
            }
            return CW_ETYPE;
        }
        done += (size_t)k;
    }
    return CW_OK;
}

/* ------------------------------------------------------ object header */

/* A block of object header messages. */
typedef struct block {
    uint64_t addr, len;
} block_t;

/* What a scan of an object header collects. */
typedef struct scan {
    const reader_t *r;
    block_t more[MAX_BLOCKS]; /* continuation blocks still to scan */
    int nmore;
    unsigned char layout[64]; /* body of the layout message */
    size_t laylen;
} scan_t;

static void
on_message(scan_t *sc, unsigned type, const unsigned char *body, unsigned size)
{
    const reader_t *r = sc->r;
    if (type == MSG_LAYOUT) {
        sc->laylen = size < sizeof(sc->layout) ? size : sizeof(sc->layout);
        memcpy(sc->layout, body, sc->laylen);
    }
    else if (type == MSG_CONTINUATION && sc->nmore < MAX_BLOCKS &&
             size >= r->sa + r->sl) {
        sc->more[sc->nmore].addr = le(body, r->sa);
        sc->more[sc->nmore].len = le(body + r->sa, r->sl);
        sc->nmore++;
    }
}

/* Messages of a version 1 header: type(2) size(2) flags(1) reserved(3). */
static int
scan_v1(scan_t *sc, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i + 8 <= len) {
        unsigned type = (unsigned)le(p + i, 2), size = (unsigned)le(p + i + 2, 2);
        if (i + 8 + size > len) {
            return CW_ETYPE;
        }
        on_message(sc, type, p + i + 8, size);
        i += 8 + size;
    }
    return CW_OK;
}

/* Messages of a version 2 header: type(1) size(2) flags(1), and a creation
 * order(2) when the header's flags say so. */
static int
scan_v2(scan_t *sc, const unsigned char *p, size_t len, unsigned oflags)
{
    size_t hdr = 4 + ((oflags & 0x04) ? 2 : 0);
    size_t i = 0;
    while (i + hdr <= len) {
        unsigned type = p[i], size = (unsigned)le(p + i + 1, 2);
        if (i + hdr + size > len) {
            break; /* trailing gap smaller than a message */
        }
        on_message(sc, type, p + i + hdr, size);
        i += hdr + size;
    }
    return CW_OK;
}

/* Find the dataset's layout message; its body goes to sc->layout. */
static int
find_layout(const reader_t *r, uint64_t ohdr, scan_t *sc)
{
    unsigned char head[32];
    unsigned char *buf = NULL;
    int rc;
    memset(sc, 0, sizeof(*sc));
    sc->r = r;
    if ((rc = read_at(r, ohdr, head, sizeof(head))) < 0) {
        return rc;
    }
    bool v2 = memcmp(head, "OHDR", 4) == 0;
    unsigned oflags = 0;
    uint64_t start, len;
    if (v2) {
        if (head[4] != 2) {
            return CW_ETYPE;
        }
        oflags = head[5];
        size_t i = 6 + ((oflags & 0x20) ? 16 : 0) + ((oflags & 0x10) ? 4 : 0);
        unsigned w = 1u << (oflags & 3);
        if (i + w > sizeof(head)) {
            return CW_ETYPE; /* (the widest chunk size field, after both options) */
        }
        len = le(head + i, w);
        start = ohdr + i + w;
    }
    else {
        if (head[0] != 1) {
            return CW_ETYPE;
        }
        len = le(head + 8, 4);
        start = ohdr + 16;
    }
    for (int b = -1; b < sc->nmore; b++) {
        uint64_t a = b < 0 ? start : sc->more[b].addr;
        uint64_t n = b < 0 ? len : sc->more[b].len;
        if (n > (64u << 20)) {
            rc = CW_ETYPE;
            goto done;
        }
        cw__free(buf);
        buf = cw__malloc((size_t)n + 1);
        if (buf == NULL) {
            return CW_ENOMEM;
        }
        if ((rc = read_at(r, a, buf, (size_t)n)) < 0) {
            goto done;
        }
        if (!v2) {
            rc = scan_v1(sc, buf, (size_t)n);
        }
        else if (b < 0) {
            rc = scan_v2(sc, buf, (size_t)n, oflags);
        }
        else if (n >= 8 && memcmp(buf, "OCHK", 4) == 0) {
            /* Continuation blocks: "OCHK", messages, checksum. */
            rc = scan_v2(sc, buf + 4, (size_t)n - 8, oflags);
        }
        else {
            rc = CW_ETYPE;
        }
        if (rc < 0) {
            goto done;
        }
    }
    rc = sc->laylen > 0 ? CW_OK : CW_ETYPE;
done:
    cw__free(buf);
    return rc;
}

/* ----------------------------------------------------------- B-tree v1 */

static int
add_chunk(walk_t *w, const unsigned char *key, uint64_t addr)
{
    int64_t linear = 0;
    for (int d = 0; d < w->rank; d++) {
        uint64_t off = le(key + 8 + 8 * (size_t)d, 8);
        if (off % (uint64_t)w->chunks[d] != 0) {
            return CW_ETYPE;
        }
        uint64_t c = off / (uint64_t)w->chunks[d];
        if (c >= (uint64_t)w->nchunks[d]) {
            return CW_OK; /* outside the current extent: never read */
        }
        linear = linear * w->nchunks[d] + (int64_t)c;
    }
    uint32_t size = (uint32_t)le(key, 4);
    /* The chunk's bytes lie inside the file, after the user block. */
    uint64_t room = w->r->eof > w->r->base ? w->r->eof - w->r->base : 0;
    if (undefined_addr(addr, w->r->sa) || addr > room || size > room - addr) {
        return CW_ETYPE;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        void *p = cw__realloc(w->items, cap * sizeof(*w->items));
        if (p == NULL) {
            return CW_ENOMEM;
        }
        w->items = p;
        w->cap = cap;
    }
    cw__h5chunk_t *e = &w->items[w->n++];
    e->linear = linear;
    e->addr = addr;
    e->size = size;
    e->mask = (uint32_t)le(key + 4, 4);
    return CW_OK;
}

static int
walk_node(walk_t *w, uint64_t addr, int depth, int expect_level)
{
    const reader_t *r = w->r;
    unsigned char head[8];
    int rc;
    if (depth > MAX_DEPTH || (rc = read_at(r, addr, head, sizeof(head))) < 0) {
        return CW_ETYPE;
    }
    if (memcmp(head, "TREE", 4) != 0 || head[4] != 1 ||
        (expect_level >= 0 && head[5] != expect_level)) {
        return CW_ETYPE;
    }
    int level = head[5];
    size_t entries = (size_t)le(head + 6, 2);
    size_t keysize = 8 + 8 * (size_t)(w->rank + 1);
    size_t total = 8 + 2 * (size_t)r->sa + entries * (keysize + r->sa) + keysize;
    if (total > w->budget) {
        return CW_ETYPE;
    }
    w->budget -= total;
    unsigned char *node = cw__malloc(total);
    if (node == NULL) {
        return CW_ENOMEM;
    }
    if ((rc = read_at(r, addr, node, total)) < 0) {
        goto done;
    }
    const unsigned char *p = node + 8 + 2 * r->sa;
    for (size_t i = 0; i < entries && rc == CW_OK; i++) {
        const unsigned char *key = p + i * (keysize + r->sa);
        uint64_t child = le(key + keysize, r->sa);
        rc = level == 0 ? add_chunk(w, key, child)
                        : walk_node(w, child, depth + 1, level - 1);
    }
done:
    cw__free(node);
    return rc;
}

static int
cmp_chunk(const void *a, const void *b)
{
    int64_t x = ((const cw__h5chunk_t *)a)->linear,
            y = ((const cw__h5chunk_t *)b)->linear;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------- public */

int
cw__h5index_parse(int fd, uint64_t base, uint64_t eof, unsigned sa, unsigned sl,
                  uint64_t ohdr, int ndim, const int64_t *chunks,
                  const int64_t *nchunks, cw__h5chunk_t **items, size_t *n)
{
    reader_t r = {.fd = fd, .base = base, .eof = eof, .sa = sa, .sl = sl};
    walk_t w = {
        .r = &r, .chunks = chunks, .nchunks = nchunks, .rank = ndim, .budget = eof};
    int rc;
    *items = NULL;
    *n = 0;
    if (sa < 2 || sa > 8 || sl < 2 || sl > 8 || ndim < 1 || ndim > CW_MAXDIM) {
        return CW_ETYPE;
    }
    for (int d = 0; d < ndim; d++) {
        if (chunks[d] < 1 || nchunks[d] < 0) {
            return CW_ETYPE;
        }
    }
    scan_t sc;
    if ((rc = find_layout(&r, ohdr, &sc)) < 0) {
        return rc;
    }
    const unsigned char *layout = sc.layout;
    size_t laylen = sc.laylen;
    /* Version 3, class 2 (chunked): rank+1 dims, B-tree address, dims. */
    if (laylen < 3 || layout[0] != 3 || layout[1] != 2 || layout[2] != ndim + 1 ||
        laylen < 3 + sa + 4 * (size_t)(ndim + 1)) {
        return CW_ETYPE;
    }
    for (int d = 0; d < ndim; d++) {
        if ((int64_t)le(layout + 3 + sa + 4 * (size_t)d, 4) != chunks[d]) {
            return CW_ETYPE;
        }
    }
    uint64_t root = le(layout + 3, sa);
    if (!undefined_addr(root, sa)) {
        if ((rc = walk_node(&w, root, 0, -1)) < 0) {
            cw__free(w.items);
            return rc;
        }
        if (w.n > 1) { /* (a tree of no chunks leaves items NULL) */
            qsort(w.items, w.n, sizeof(*w.items), cmp_chunk);
        }
    }
    *items = w.items;
    *n = w.n;
    return CW_OK;
}

int
cw__h5index_load(const char *path, hid_t file, hid_t dset, const cw_source_t *src,
                 cw__h5index_t *out)
{
    int rc = CW_ETYPE;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    int fd = -1;
    cw__h5chunk_t *items = NULL;
    size_t n = 0;
    hid_t fcpl = H5Fget_create_plist(file);
    size_t sa = 0, sl = 0;
    hsize_t ublock = 0;
    H5O_info_t oinfo;
    struct stat st;
    if (fcpl < 0 || H5Pget_sizes(fcpl, &sa, &sl) < 0 ||
        H5Pget_userblock(fcpl, &ublock) < 0 || sa < 2 || sa > 8 || sl < 2 || sl > 8 ||
        H5Oget_info2(dset, &oinfo, H5O_INFO_BASIC) < 0) {
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        goto done;
    }
    if ((rc = cw__h5index_parse(fd, ublock, (uint64_t)st.st_size, (unsigned)sa,
                                (unsigned)sl, oinfo.addr, src->ndim, src->chunks,
                                src->nchunks, &items, &n)) < 0) {
        goto done;
    }
    /* Cross-check with HDF5: the number of allocated chunks inside the
     * extent, and the stored size and mask of the first one. */
    rc = CW_ETYPE;
    hsize_t nchunks = 0;
    /* (H5Dget_num_chunks fails with H5S_ALL in HDF5 1.10.) */
    hid_t space = H5Dget_space(dset);
    herr_t e = space < 0 ? -1 : H5Dget_num_chunks(dset, space, &nchunks);
    if (space >= 0) {
        H5Sclose(space);
    }
    if (e < 0 || nchunks != n) {
        goto done;
    }
    if (n > 0) {
        hsize_t off[CW_MAXDIM], size = 0;
        int64_t lin = items[0].linear;
        for (int d = src->ndim - 1; d >= 0; d--) {
            off[d] = (hsize_t)((lin % src->nchunks[d]) * src->chunks[d]);
            lin /= src->nchunks[d];
        }
        if (H5Dget_chunk_storage_size(dset, off, &size) < 0 || size != items[0].size) {
            goto done;
        }
    }
    out->fd = fd;
    out->base = ublock;
    out->items = items;
    out->n = n;
    fd = -1;
    items = NULL;
    rc = CW_OK;
done:
    if (fcpl >= 0) {
        H5Pclose(fcpl);
    }
    if (fd >= 0) {
        close(fd);
    }
    cw__free(items);
    /* A failed parse is not an error: the caller falls back. */
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

const cw__h5chunk_t *
cw__h5index_find(const cw__h5index_t *ix, int64_t linear)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->items[mid].linear < linear) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < ix->n && ix->items[lo].linear == linear ? &ix->items[lo] : NULL;
}

int
cw__h5index_pread(const cw__h5index_t *ix, const cw__h5chunk_t *e, void *buf)
{
    return cw__pread_all(ix->fd, buf, e->size, ix->base + e->addr);
}

void
cw__h5index_destroy(cw__h5index_t *ix)
{
    if (ix->fd >= 0) {
        close(ix->fd);
    }
    cw__free(ix->items);
    memset(ix, 0, sizeof(*ix));
    ix->fd = -1;
}
