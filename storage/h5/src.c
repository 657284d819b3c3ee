/*
 * h5/src.c -- an HDF5 dataset as a chunk source.
 *
 * Two read paths:
 *  - native: chunked datasets whose filters are only shuffle and one
 *    compressor chunkwise decodes itself (codec/pipeline.c).  A task fetches the
 * chunk's stored bytes and filter mask with H5Dread_chunk under the HDF5 lock, then
 *    undoes the filters that were applied (mask bit clear), in reverse
 *    order, outside the lock, and swaps bytes if the file is big-endian.
 *    An unallocated chunk (storage size 0) reads as the fill value.
 *  - pipeline: anything else (other filters, contiguous, compact, virtual,
 *    scalar).  A task reads its chunk's region with H5Dread under the lock
 *    and HDF5 converts to the native type.  Contiguous and compact
 *    datasets are split into chunks of about 4 MiB for scheduling.
 *
 * The file is opened read-only at the start of the first run (begin). At
 * the end of a run the handles are kept open, so that the next run (a
 * one-element read) does not pay HDF5's file and dataset opens, with the
 * file's lock released: between runs nothing is locked, and other
 * processes (or h5py in this one) may open the file for writing. The next
 * begin reuses the kept handles when the file is the same file, unchanged
 * (device, inode, size, mtime, ctime) and the shared lock can be taken
 * again; otherwise it closes them and opens anew, as the first run did.
 * cw_store opening the file for writing closes kept handles first
 * (cw__h5_release_kept). Handles a run shared with a writer (the output
 * opened for writing first: HDF5 then shares that handle), SWMR handles
 * and handles of other file drivers are closed at the end of the run.
 *
 * Locks: every libhdf5 call here runs under cw__h5_lock.
 */
#include <errno.h>
#include <hdf5.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "h5_impl.h"
#include "h5index_impl.h"
#include "src_impl.h"
#include "storage_impl.h"

/* ----------------------------------------------------------- begin/end */

/* Datasets of at most INDEX_EAGER chunks have their index parsed at the
 * first run; others once INDEX_AFTER chunks were looked up through HDF5. */
#define INDEX_EAGER 4096
#define INDEX_AFTER 64

static int64_t
total_chunks(const cw_source_t *src)
{
    int64_t n = 1;
    for (int d = 0; d < src->ndim; d++) {
        n *= src->nchunks[d];
    }
    return n;
}

/* Whether nothing of the dataset is stored (it reads as its fill value).
 * H5Dget_storage_size walks a chunked dataset's whole index: asked only of
 * datasets of few chunks (others are looked up chunk by chunk anyway). */
static bool
no_chunk_stored(const cw_source_t *src, hid_t dset)
{
    /* Not H5Dget_storage_size: it returns 0 on errors too (a file being
     * truncated under the read), and every chunk would read as fill. */
    H5D_space_status_t status;
    return total_chunks(src) <= INDEX_EAGER &&
           H5Dget_space_status(dset, &status) >= 0 &&
           status == H5D_SPACE_STATUS_NOT_ALLOCATED;
}

/* Called under the lock by a worker about to look a chunk up through
 * HDF5: parse the whole index once enough lookups were made. True when
 * the index is now there (the worker then reads without the lock). */
static bool
maybe_index(cw_source_t *src, h5src_t *h)
{
    if (h->indexed || !h->index_tried || h->empty || ++h->lookups != INDEX_AFTER) {
        return h->indexed;
    }
    cw__h5index_t index;
    if (cw__h5index_load(h->path, h->file, h->dset, src, &index) != CW_OK) {
        return false;
    }
    h->index = index;
    h->indexed = true; /* after `index` is complete: readers load this first */
    return true;
}

static int
h5_begin(cw_source_t *src)
{
    h5src_t *h = src->impl;
    int rc = CW_OK;
    cw__h5_lock();
    if (h->runs++ > 0) {
        goto done;
    }
    if (h->kept && cw__h5src_resume(h)) {
        goto resumed;
    }
    h->file = h->dset = h->memtype = -1;
    if (stat(h->path, &h->opened_st) != 0) {
        memset(&h->opened_st, 0, sizeof(h->opened_st));
    }
    rc = cw__h5src_open(h->path, h->name, h->swmr, &h->file, &h->dset);
    if (rc < 0) {
        goto undo;
    }
    /* The dataset may have been replaced since it was opened: everything
     * the read paths rely on must still hold. */
    if (!cw__h5src_unchanged(src, h)) {
        rc = cw__error(CW_EIO,
                       "dataset '%s' in '%s' was replaced or changed since it "
                       "was opened; open it again with cw.open()",
                       h->name, h->path);
        goto undo;
    }
    h->memtype = H5Dget_type(h->dset);
    if (h->memtype >= 0) {
        hid_t ftype = h->memtype;
        h->memtype = cw__h5src_memtype(ftype);
        H5Tclose(ftype);
    }
    if (h->memtype < 0) {
        rc = cw__error(CW_EIO, "cannot read the type of '%s'", h->name);
        goto undo;
    }
    h->empty = no_chunk_stored(src, h->dset);
    /* With the chunk addresses, workers read stored bytes with pread and
     * never take the lock.  The parsed index is kept while the file is the
     * same file, unmodified (device, inode, size, mtime), so a small read
     * of a dataset with many chunks does not re-read its whole index. */
    goto index;
resumed:
    if (h->index_tried && cw__h5src_same_file(&h->opened_st, &h->file_id)) {
        goto done;
    }
index:
    /* A dataset of few chunks has its index parsed now; one of many, once
     * a run has looked up INDEX_AFTER chunks (maybe_index), so that a
     * small read does not parse an index of 100 000 chunks first. */
    if (h->indexed) {
        cw__h5index_destroy(&h->index);
        h->indexed = false;
    }
    h->file_id = h->opened_st;
    h->index_tried = h->opened_st.st_ino != 0;
    h->lookups = 0;
    if (h->index_tried && h->native && !h->empty && total_chunks(src) <= INDEX_EAGER) {
        h->indexed =
            cw__h5index_load(h->path, h->file, h->dset, src, &h->index) == CW_OK;
    }
    goto done;
undo:
    cw__h5src_close(h);
    h->runs--;
done:
    cw__h5_unlock();
    return rc;
}

static void
h5_end(cw_source_t *src)
{
    h5src_t *h = src->impl;
    cw__h5_lock();
    if (--h->runs == 0) {
        cw__h5src_keep_or_close(h);
    }
    cw__h5_unlock();
}

/* Read chunk `cidx`'s region through HDF5's pipeline into `buf` laid out
 * with the full chunk shape. */
static int
read_pipeline(cw_source_t *src, h5src_t *h, const int64_t *cidx, void *buf)
{
    hsize_t off[CW_MAXDIM], cnt[CW_MAXDIM], full[CW_MAXDIM], zero[CW_MAXDIM];
    int ndim = src->ndim;
    for (int d = 0; d < ndim; d++) {
        off[d] = (hsize_t)(cidx[d] * src->chunks[d]);
        int64_t left = src->shape[d] - (int64_t)off[d];
        cnt[d] = (hsize_t)(left < src->chunks[d] ? left : src->chunks[d]);
        full[d] = (hsize_t)src->chunks[d];
        zero[d] = 0;
    }
    int rc = CW_OK;
    cw__h5_lock();
    hid_t fspace = -1, mspace = -1;
    herr_t err;
    if (ndim == 0) {
        err = H5Dread(h->dset, h->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    }
    else {
        fspace = H5Dget_space(h->dset);
        mspace = H5Screate_simple(ndim, full, NULL);
        err = fspace < 0 || mspace < 0 ||
              H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off, NULL, cnt, NULL) < 0 ||
              H5Sselect_hyperslab(mspace, H5S_SELECT_SET, zero, NULL, cnt, NULL) < 0;
        if (!err) {
            err = H5Dread(h->dset, h->memtype, mspace, fspace, H5P_DEFAULT, buf);
        }
    }
    if (err < 0 || err == 1) {
        rc = cw__error(CW_ECORRUPT, "HDF5 could not read it");
        cw__h5_error_detail();
    }
    if (mspace >= 0) {
        H5Sclose(mspace);
    }
    if (fspace >= 0) {
        H5Sclose(fspace);
    }
    cw__h5_unlock();
    CW_STAT_ADD(chunks_pipeline, 1);
    return rc;
}

static int
h5_read_chunk(cw_source_t *src, const int64_t *cidx, void *buf, cw__io_scratch_t *s)
{
    h5src_t *h = src->impl;
    int rc = CW_OK;
    if (!h->native) {
        rc = read_pipeline(src, h, cidx, buf);
        goto done;
    }
    hsize_t off[CW_MAXDIM];
    for (int d = 0; d < src->ndim; d++) {
        off[d] = (hsize_t)(cidx[d] * src->chunks[d]);
    }
    hsize_t nbytes = 0;
    uint32_t mask = 0;
    /* Every applied filter skipped: the stored bytes are the chunk. */
    uint32_t all = h->nfilters >= 32 ? UINT32_MAX : (1u << h->nfilters) - 1;
    bool direct = false;
    if (h->indexed) {
        int64_t linear = 0;
        for (int d = 0; d < src->ndim; d++) {
            linear = linear * src->nchunks[d] + cidx[d];
        }
        const cw__h5chunk_t *e = cw__h5index_find(&h->index, linear);
        if (e == NULL) {
            cw__fill_pattern(buf, src->chunk_nbytes, h->fill, src->itemsize);
            return CW_OK;
        }
        nbytes = e->size;
        mask = e->mask;
        direct = e->size == src->chunk_nbytes && (mask & all) == all;
        if (!direct && e->size > h->max_stored) {
            rc = cw__error(CW_ECORRUPT, "implausible stored size %u", e->size);
            goto done;
        }
        rc = direct ? CW_OK : cw__reserve(&s->raw, &s->raw_cap, e->size);
        if (rc == CW_OK) {
            rc = cw__h5index_pread(&h->index, e, direct ? buf : s->raw);
        }
        if (rc < 0) {
            goto done;
        }
        CW_STAT_ADD(chunks_lockfree, 1);
    }
    else {
        cw__h5_lock();
        if (maybe_index(src, h)) {
            cw__h5_unlock();
            return h5_read_chunk(src, cidx, buf, s);
        }
        if (h->empty) {
            nbytes = 0;
        }
        else if (H5Dget_chunk_storage_size(h->dset, off, &nbytes) < 0) {
            /* HDF5 1.10 fails here for a chunk that was never written;
             * only that failure means "read the fill value". */
            if (!cw__h5_error_mentions("not allocated")) {
                cw__h5_unlock();
                rc = cw__error(CW_EIO, "cannot look the chunk up in the index");
                goto done;
            }
            nbytes = 0;
        }
        if (nbytes == 0) {
            cw__h5_unlock();
            cw__fill_pattern(buf, src->chunk_nbytes, h->fill, src->itemsize);
            return CW_OK;
        }
        if (nbytes > ((hsize_t)1 << 40) || nbytes > h->max_stored) {
            cw__h5_unlock();
            rc = cw__error(CW_ECORRUPT, "implausible stored size %llu",
                           (unsigned long long)nbytes);
            goto done;
        }
        /* Uncompressed data goes straight to the destination. */
        direct = h->nfilters == 0 && nbytes == src->chunk_nbytes;
        if (!direct) {
            rc = cw__reserve(&s->raw, &s->raw_cap, (size_t)nbytes);
        }
        if (rc == CW_OK && H5Dread_chunk(h->dset, H5P_DEFAULT, off, &mask,
                                         direct ? buf : s->raw) < 0) {
            rc = cw__error(CW_EIO, "cannot read the stored chunk");
            cw__h5_error_detail();
        }
        cw__h5_unlock();
        if (rc < 0) {
            goto done;
        }
    }
    CW_STAT_ADD(chunks_read, 1);
    CW_STAT_ADD(bytes_read, nbytes);
    if (!direct) {
        rc = cw__pipeline_decode(h->pipe, h->nfilters, mask, s->raw, (size_t)nbytes,
                                 buf, src->chunk_nbytes, s);
        if (rc < 0) {
            goto done;
        }
        CW_STAT_ADD(chunks_decoded, 1);
    }
    if (h->swap) {
        cw__byteswap(buf, src->chunk_nbytes, cw__dtype_part_size(src->dtype));
    }
done:
    if (rc < 0) {
        cw__prefix_chunk(src, cidx, h->name, h->path);
    }
    return rc;
}

static int
h5_stream_open(cw_source_t *src, const int64_t *cidx, cw__cstream_t *cs,
               cw__io_scratch_t *s)
{
    h5src_t *h = src->impl;
    int rc = CW_OK;
    cs->src = src;
    cs->kind = CW__CS_NONE;
    cs->blk_at = -1;
    cs->swap = h->swap;
    memcpy(cs->fill, h->fill, sizeof(cs->fill));
    memcpy(cs->cidx, cidx, sizeof(int64_t) * (size_t)src->ndim);
    cs->name = h->name;
    cs->path = h->path;
    if (h->native && h->indexed) {
        int64_t linear = 0;
        for (int d = 0; d < src->ndim; d++) {
            linear = linear * src->nchunks[d] + cidx[d];
        }
        const cw__h5chunk_t *e = cw__h5index_find(&h->index, linear);
        if (e == NULL) {
            cs->kind = CW__CS_FILL;
            cs->swap = false;
            return CW_OK;
        }
        uint32_t all = h->nfilters >= 32 ? UINT32_MAX : (1u << h->nfilters) - 1;
        bool raw = e->size == src->chunk_nbytes && (e->mask & all) == all;
        bool blosc =
            h->nfilters == 1 && h->filters[0].id == BLOSC_FILTER_ID && !(e->mask & 1);
        if (raw || blosc) {
            bool ok;
            rc = cw__cstream_open_stored(cs, h->index.fd, h->index.base + e->addr,
                                         e->size, blosc, &ok);
            if (rc < 0) {
                goto done;
            }
            if (ok) {
                CW_STAT_ADD(chunks_read, 1);
                CW_STAT_ADD(chunks_lockfree, 1);
                CW_STAT_ADD(bytes_read, e->size);
                if (blosc) {
                    CW_STAT_ADD(chunks_decoded, 1);
                }
                return CW_OK;
            }
        }
    }
    /* Everything else is decoded whole, once. */
    rc = cw__reserve((void **)&cs->out, &cs->out_cap, src->chunk_nbytes);
    if (rc == CW_OK) {
        rc = h5_read_chunk(src, cidx, cs->out, s);
    }
    if (rc == CW_OK) {
        cs->kind = CW__CS_WHOLE;
        cs->swap = false;
    }
    return rc;
done:
    cw__prefix_chunk(src, cidx, h->name, h->path);
    return rc;
}

static size_t
h5_scratch_bytes(const cw_source_t *src)
{
    const h5src_t *h = src->impl;
    /* Stored bytes (at most about a chunk) plus one pipeline stage, and a
     * Bitshuffle block's two buffers. */
    size_t extra = 0;
    for (int i = 0; i < h->nfilters; i++) {
        if (h->pipe[i].id == CW__FILTER_BITSHUFFLE) {
            size_t es = h->pipe[i].typesize;
            size_t b = cw__bitshuffle_block_elems(es, h->pipe[i].block) * es;
            extra = 2 * (b < src->chunk_nbytes ? b : src->chunk_nbytes);
        }
    }
    return h->native ? 2 * src->chunk_nbytes + 4096 + extra : 0;
}

static void
h5_destroy(cw_source_t *src)
{
    h5src_t *h = src->impl;
    if (h) {
        cw__h5_lock();
        if (h->kept) {
            cw__h5src_unkeep(h);
            cw__h5src_close(h);
        }
        cw__h5_unlock();
        if (h->indexed) {
            cw__h5index_destroy(&h->index);
        }
        cw__free(h->path);
        cw__free(h->name);
        cw__free(h);
    }
}

static const struct cw__source_ops h5_ops = {
    .kind = "hdf5",
    .begin = h5_begin,
    .end = h5_end,
    .read_chunk = h5_read_chunk,
    .scratch_bytes = h5_scratch_bytes,
    .stream_open = h5_stream_open,
    .destroy = h5_destroy,
};

static char *
dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cw__malloc(n);
    if (p) {
        memcpy(p, s, n);
    }
    return p;
}

int
cw_source_open_hdf5(const char *path, const char *name, cw_source_t **out)
{
    return cw_source_open_hdf5_swmr(path, name, false, out);
}

int
cw_source_open_hdf5_swmr(const char *path, const char *name, bool swmr,
                         cw_source_t **out)
{
    int rc;
    hid_t file = -1, dset = -1;
    *out = NULL;
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    h5src_t *h = cw__calloc(1, sizeof(*h));
    if (src == NULL || h == NULL) {
        cw__free(src);
        cw__free(h);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    src->ops = &h5_ops;
    src->impl = h;
    h->file = h->dset = h->memtype = -1;
    h->swmr = swmr;
    h->path = dupstr(path);
    /* Names are absolute inside the file. */
    if (h->path) {
        size_t n = strlen(name);
        h->name = cw__malloc(n + 2);
        if (h->name) {
            snprintf(h->name, n + 2, "%s%s", name[0] == '/' ? "" : "/", name);
        }
    }
    if (h->path == NULL || h->name == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto fail;
    }
    cw__h5_lock();
    struct stat st;
    if (stat(path, &st) != 0) {
        memset(&st, 0, sizeof(st));
    }
    rc = cw__h5src_open(path, h->name, swmr, &file, &dset);
    if (rc == CW_OK) {
        rc = cw__h5src_describe(src, h, dset);
        if (rc == CW_OK) {
            rc = cw__h5src_identify(path, dset, &h->obj_addr, &h->obj_btime,
                                    &h->file_dev, &h->file_ino);
        }
        hid_t ftype = rc == CW_OK ? H5Dget_type(dset) : -1;
        if (ftype >= 0) {
            h->memtype = cw__h5src_memtype(ftype);
            H5Tclose(ftype);
        }
        if (rc == CW_OK && h->memtype < 0) {
            rc = cw__error(CW_EIO, "cannot read the type");
        }
        if (rc < 0) {
            cw__error_prefix("'%s' in '%s': ", h->name, path);
            if (h->memtype >= 0) {
                H5Tclose(h->memtype);
                h->memtype = -1;
            }
            H5Dclose(dset);
            cw__h5_close_file(file);
        }
        else {
            /* The first run takes these handles up (see the header). */
            h->file = file;
            h->dset = dset;
            h->opened_st = st;
            h->empty = no_chunk_stored(src, dset);
            cw__h5src_keep_or_close(h);
        }
    }
    cw__h5_unlock();
    if (rc < 0) {
        goto fail;
    }
    *out = src;
    return CW_OK;
fail:
    cw_source_free(src);
    return rc;
}
