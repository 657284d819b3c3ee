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
#include "storage_impl.h"

#define MAX_FILTERS CW__MAX_FILTERS
#define BLOSC_FILTER_ID CW__FILTER_BLOSC

typedef struct h5filter {
    H5Z_filter_t id;
    unsigned flags;
    size_t ncd;
    unsigned cd[8];
} h5filter_t;

typedef struct h5src {
    char *path;
    char *name;
    H5D_layout_t layout;
    bool native; /* raw chunk path */
    bool swap;   /* stored big-endian */
    int nfilters;
    h5filter_t filters[MAX_FILTERS];
    cw__filter_t pipe[MAX_FILTERS]; /* what the native path decodes */
    uint64_t max_stored;            /* stored chunks above this are corrupt */
    unsigned char fill[8];          /* fill value, native order */
    /* Per run, guarded by the HDF5 lock. */
    int runs;
    bool empty; /* no chunk allocated at all: all fill */
    /* `index` holds every chunk's address. Set under the lock, read by
     * workers without it (it may be set during a run: see maybe_index). */
    _Atomic bool indexed;
    int64_t lookups;     /* chunks looked up in HDF5's index this file state */
    cw__h5index_t index; /* kept across runs while the file is unchanged */
    bool index_tried;    /* `file_id` says for which file state */
    struct stat file_id;
    /* Which dataset was opened: its object header's address and birth
     * time, and the file's device and inode.  A dataset replaced under the
     * same name (to_hdf5(..., overwrite=True), h5py deleting and creating
     * it, the file written anew) differs in one of them. */
    haddr_t obj_addr;
    time_t obj_btime;
    dev_t file_dev;
    ino_t file_ino;
    hid_t file, dset, memtype;
    bool swmr; /* opened with H5F_ACC_SWMR_READ */
    /* Between runs: handles kept open (file unlocked), on kept_list. */
    bool kept;
    struct stat opened_st; /* the file when `file` was opened */
    struct h5src *kept_next;
} h5src_t;

static h5src_t *kept_list; /* guarded by the HDF5 lock */

/* The file type with native byte order: what H5Dread converts to. */
static hid_t
native_memtype(hid_t ftype)
{
    if (H5Tget_class(ftype) == H5T_COMPOUND) {
        return cw__h5_native_complex(ftype);
    }
    hid_t t = H5Tcopy(ftype);
    if (t >= 0 && H5Tget_class(t) != H5T_ENUM && H5Tget_size(t) > 1) {
        H5Tset_order(t, H5Tget_order(H5T_NATIVE_INT));
    }
    return t;
}

/* Open file + dataset; on success *file and *dset are open. */
static int
open_dataset(const char *path, const char *name, bool swmr, hid_t *file, hid_t *dset)
{
    int rc;
    *dset = -1;
    CW_TRY(
        cw__h5_open_file(path, H5F_ACC_RDONLY | (swmr ? H5F_ACC_SWMR_READ : 0u), file));
    if (!cw__h5_path_exists(*file, name)) {
        rc = cw__error(CW_ENOKEY, "no dataset '%s' in '%s'", name, path);
        goto fail;
    }
    hid_t obj = H5Oopen(*file, name, H5P_DEFAULT);
    if (obj < 0) {
        rc = cw__error(CW_EIO, "cannot open '%s' in '%s'", name, path);
        cw__h5_error_detail();
        goto fail;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5I_type_t t = H5Iget_type(obj);
        H5Oclose(obj);
        rc = cw__error(CW_ETYPE, "'%s' in '%s' is a %s, not a dataset", name, path,
                       t == H5I_GROUP ? "group" : "named datatype");
        goto fail;
    }
    *dset = obj;
    return CW_OK;
fail:
    if (*file >= 0) {
        H5Fclose(*file);
        *file = -1;
    }
    return rc;
}

static bool
filter_is_native(H5Z_filter_t id)
{
    return id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE ||
           id == BLOSC_FILTER_ID || id == CW__FILTER_ZSTD || id == CW__FILTER_LZ4 ||
           id == CW__FILTER_BZIP2 || id == CW__FILTER_LZF ||
           id == CW__FILTER_BITSHUFFLE || id == CW__FILTER_BLOSC2;
}

/* Whether the native path decodes this filter with these cd_values. */
static bool
filter_decodable(const h5filter_t *f)
{
    if (f->id != CW__FILTER_BITSHUFFLE) {
        return filter_is_native(f->id);
    }
    /* Element size, block size and compressor as bitshuffle's set_local
     * writes them; other layouts go to HDF5's pipeline (h5/lock.c). */
    unsigned comp = f->ncd > 4 ? f->cd[4] : 0;
    return f->ncd >= 3 && f->cd[2] > 0 && (f->ncd < 4 || f->cd[3] % 8 == 0) &&
           (comp == CW__BSHUF_NONE || comp == CW__BSHUF_LZ4 || comp == CW__BSHUF_ZSTD);
}

/* Registered HDF5 filters: name and a package that provides a plugin. */
static const char *
filter_provider(H5Z_filter_t id, const char **name)
{
    static const struct {
        int id;
        const char *name, *package;
    } known[] = {
        {307, "bzip2", "hdf5plugin (pip) or hdf5-filter-plugin (Debian)"},
        {32000, "lzf", "h5py or hdf5plugin (pip)"},
        {32001, "blosc", "hdf5plugin (pip)"},
        {32004, "lz4", "hdf5plugin (pip) or hdf5-filter-plugin (Debian)"},
        {32008, "bitshuffle", "hdf5plugin (pip)"},
        {32013, "zfp", "hdf5plugin (pip)"},
        {32015, "zstd", "hdf5plugin (pip)"},
        {32017, "sz", "hdf5plugin (pip)"},
        {32018, "fcidecomp", "hdf5plugin (pip)"},
        {32024, "sz3", "hdf5plugin (pip)"},
        {32026, "blosc2", "hdf5plugin (pip)"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i].id == (int)id) {
            *name = known[i].name;
            return known[i].package;
        }
    }
    *name = "";
    return NULL;
}

/* Read shape, type, layout and filters; fills src geometry and h. */
static int
describe(cw_source_t *src, h5src_t *h, hid_t dset)
{
    int rc = CW_OK;
    hid_t ftype = -1, space = -1, dcpl = -1, mtype = -1;
    int64_t shape[CW_MAXDIM], chunks[CW_MAXDIM];
    cw_dtype_t dtype = CW_UINT8;
    char desc[64];
    int ndim = 0;

    ftype = H5Dget_type(dset);
    space = H5Dget_space(dset);
    dcpl = H5Dget_create_plist(dset);
    if (ftype < 0 || space < 0 || dcpl < 0) {
        rc = cw__error(CW_EIO, "cannot read the dataset's description");
        goto done;
    }
    if (cw__h5_classify_type(ftype, &dtype, &h->swap, desc, sizeof(desc)) < 0) {
        rc = cw__error(CW_ETYPE, "unsupported dtype: %s", desc);
        goto done;
    }
    H5S_class_t scls = H5Sget_simple_extent_type(space);
    if (scls == H5S_NULL) {
        rc = cw__error(CW_ETYPE, "the dataset has a null dataspace (no data)");
        goto done;
    }
    ndim = H5Sget_simple_extent_ndims(space);
    if (ndim < 0 || ndim > CW_MAXDIM) {
        rc = cw__error(CW_EIO, "invalid rank");
        goto done;
    }
    hsize_t dims[CW_MAXDIM], cdims[CW_MAXDIM];
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int d = 0; d < ndim; d++) {
        shape[d] = (int64_t)dims[d];
        chunks[d] = 0;
    }
    h->layout = H5Pget_layout(dcpl);
    if (h->layout == H5D_CHUNKED) {
        if (H5Pget_chunk(dcpl, ndim, cdims) != ndim) {
            rc = cw__error(CW_EIO, "cannot read the chunk shape");
            goto done;
        }
        for (int d = 0; d < ndim; d++) {
            chunks[d] = (int64_t)cdims[d];
        }
    }
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0 || nf > MAX_FILTERS) {
        rc = cw__error(CW_EIO, "cannot read the filter pipeline");
        goto done;
    }
    h->nfilters = nf;
    int ncompressors = 0;
    bool native = h->layout == H5D_CHUNKED;
    for (int i = 0; i < nf; i++) {
        h5filter_t *f = &h->filters[i];
        unsigned config = 0;
        char fname[64] = "";
        f->ncd = 8;
        f->id = H5Pget_filter2(dcpl, (unsigned)i, &f->flags, &f->ncd, f->cd,
                               sizeof(fname), fname, &config);
        if (f->ncd > 8) {
            f->ncd = 8;
        }
        h->pipe[i].id = (unsigned)f->id;
        h->pipe[i].block = 0;
        h->pipe[i].comp = 0;
        h->pipe[i].typesize = f->id == H5Z_FILTER_SHUFFLE && f->ncd > 0 && f->cd[0] > 0
                                  ? f->cd[0]
                                  : src->itemsize;
        if (f->id == CW__FILTER_BITSHUFFLE && f->ncd >= 3) {
            h->pipe[i].typesize = f->cd[2];
            h->pipe[i].block = f->ncd > 3 ? f->cd[3] : 0;
            h->pipe[i].comp = f->ncd > 4 ? f->cd[4] : 0;
        }
        h->pipe[i].ndim = 0;
        if (f->id == CW__FILTER_BLOSC2 && h->layout == H5D_CHUNKED) {
            /* A b2nd array in a chunk has the chunk's shape. */
            h->pipe[i].ndim = ndim;
            memcpy(h->pipe[i].chunks, chunks, sizeof(int64_t) * (size_t)ndim);
            cw__blosc2_init();
        }
        /* Refuse now, not chunk by chunk, a filter nobody can decode. */
        if (!filter_decodable(f) && H5Zfilter_avail(f->id) <= 0) {
            const char *known = "";
            const char *pkg = filter_provider(f->id, &known);
            if (fname[0] == '\0' && known[0] != '\0') {
                snprintf(fname, sizeof(fname), "%s", known);
            }
            char folders[1024];
            cw__h5_plugin_path_text(folders, sizeof(folders));
            rc = cw__error(CW_EIO,
                           "the dataset uses HDF5 filter %d%s%s%s, for "
                           "which chunkwise's HDF5 has no plugin%s%s "
                           "(plugins were looked for in: %s)",
                           (int)f->id, fname[0] ? " (" : "", fname, fname[0] ? ")" : "",
                           pkg ? "; it is provided by " : "", pkg ? pkg : "",
                           folders[0] ? folders : "no folder");
            goto done;
        }
        native = native && filter_decodable(f);
        ncompressors += f->id != H5Z_FILTER_SHUFFLE;
    }
    h->native = native && ncompressors <= 1;
    /* Off the native path HDF5 undoes every filter, those chunkwise would
     * decode itself (Blosc2, Zstd, ...) included: refuse now one it has no
     * plugin for. */
    for (int i = 0; !h->native && h->layout == H5D_CHUNKED && i < nf; i++) {
        H5Z_filter_t id = h->filters[i].id;
        if (filter_is_native(id) && H5Zfilter_avail(id) <= 0) {
            const char *known = "";
            const char *pkg = filter_provider(id, &known);
            rc = cw__error(CW_EIO,
                           "the dataset combines HDF5 filter %d%s%s%s with filters "
                           "chunkwise leaves to HDF5's pipeline, and chunkwise's "
                           "HDF5 has no plugin for it%s%s (HDF5_PLUGIN_PATH lists "
                           "where plugins are looked for)",
                           (int)id, known[0] ? " (" : "", known, known[0] ? ")" : "",
                           pkg ? "; it is provided by " : "", pkg ? pkg : "");
            goto done;
        }
    }

    /* Fill value, converted to the native type. */
    memset(h->fill, 0, sizeof(h->fill));
    H5D_fill_value_t fstat = H5D_FILL_VALUE_UNDEFINED;
    mtype = native_memtype(ftype);
    if (mtype >= 0 && H5Pfill_value_defined(dcpl, &fstat) >= 0 &&
        fstat != H5D_FILL_VALUE_UNDEFINED) {
        if (H5Pget_fill_value(dcpl, mtype, h->fill) < 0) {
            memset(h->fill, 0, sizeof(h->fill));
        }
    }
    /* Contiguous and compact data are split into ~4 MiB pieces. */
    rc = cw__source_init(src, src->ops, ndim, shape, dtype,
                         h->layout == H5D_CHUNKED ? chunks : NULL, 4 << 20);
    /* Codecs grow incompressible chunks a little; Bitshuffle's small blocks
     * (each with its own length and codec framing) can grow them more. */
    h->max_stored = 2 * (uint64_t)src->chunk_nbytes + 4096;
    for (int i = 0; i < nf; i++) {
        if (h->pipe[i].id == CW__FILTER_BITSHUFFLE) {
            uint64_t b = cw__bitshuffle_stored_bound(&h->pipe[i], src->chunk_nbytes);
            h->max_stored = b > h->max_stored ? b : h->max_stored;
        }
    }
done:
    if (mtype >= 0) {
        H5Tclose(mtype);
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    if (ftype >= 0) {
        H5Tclose(ftype);
    }
    return rc;
}

/* ----------------------------------------------------------------- run */

/* The identity of the open dataset `dset` of file `path` (see h5src_t). */
static int
identify(const char *path, hid_t dset, haddr_t *addr, time_t *btime, dev_t *dev,
         ino_t *ino)
{
    H5O_info_t oi;
    struct stat st;
    if (H5Oget_info2(dset, &oi, H5O_INFO_BASIC | H5O_INFO_TIME) < 0 ||
        stat(path, &st) != 0) {
        return cw__error(CW_EIO, "cannot identify the dataset");
    }
    *addr = oi.addr;
    *btime = oi.btime;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return CW_OK;
}

/* Whether the open dataset (h->dset) is the one opened first and still
 * matches what `src` describes. */
static bool
unchanged(const cw_source_t *src, h5src_t *h)
{
    haddr_t addr = 0;
    time_t btime = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    if (identify(h->path, h->dset, &addr, &btime, &dev, &ino) < 0 ||
        addr != h->obj_addr || btime != h->obj_btime || dev != h->file_dev ||
        ino != h->file_ino) {
        return false;
    }
    cw_source_t now;
    h5src_t hnow;
    memset(&now, 0, sizeof(now));
    memset(&hnow, 0, sizeof(hnow));
    now.ops = src->ops;
    now.impl = &hnow;
    if (describe(&now, &hnow, h->dset) < 0) {
        return false;
    }
    bool same = now.ndim == src->ndim && now.dtype == src->dtype &&
                hnow.swap == h->swap && hnow.layout == h->layout &&
                hnow.native == h->native && hnow.nfilters == h->nfilters &&
                memcmp(hnow.fill, h->fill, sizeof(h->fill)) == 0;
    for (int d = 0; same && d < src->ndim; d++) {
        /* A SWMR writer may only have appended: the extent opened is
         * still there, with the same contents. */
        same = (now.shape[d] == src->shape[d] ||
                (h->swmr && now.shape[d] > src->shape[d])) &&
               now.chunks[d] == src->chunks[d];
    }
    for (int i = 0; same && i < h->nfilters; i++) {
        const h5filter_t *x = &hnow.filters[i], *y = &h->filters[i];
        same = x->id == y->id && x->ncd == y->ncd &&
               memcmp(x->cd, y->cd, x->ncd * sizeof(*x->cd)) == 0;
    }
    return same;
}

/* ------------------------------------------------------ kept handles */

static bool
same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The POSIX descriptor under `file` (sec2 driver), or -1. */
static int
file_fd(hid_t file)
{
    int *fd = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || fd == NULL) {
        return -1;
    }
    return *fd;
}

/* Whether HDF5 locks files (HDF5_USE_FILE_LOCKING not FALSE). */
static bool
hdf5_locks(void)
{
    const char *v = getenv("HDF5_USE_FILE_LOCKING");
    return v == NULL || (strcmp(v, "FALSE") != 0 && strcmp(v, "0") != 0);
}

static void
close_handles(h5src_t *h)
{
    if (h->memtype >= 0) {
        H5Tclose(h->memtype);
    }
    if (h->dset >= 0) {
        H5Dclose(h->dset);
    }
    if (h->file >= 0) {
        H5Fclose(h->file);
    }
    h->file = h->dset = h->memtype = -1;
}

static void
kept_remove(h5src_t *h)
{
    for (h5src_t **p = &kept_list; *p != NULL; p = &(*p)->kept_next) {
        if (*p == h) {
            *p = h->kept_next;
            break;
        }
    }
    h->kept_next = NULL;
    h->kept = false;
}

void
cw__h5_release_kept(const struct stat *st, bool stale_only)
{
    if (stale_only) {
        /* HDF5 shares one open file among its handles, with the metadata
         * it cached: a handle opened before the file changed must not
         * serve a new open. One stale handle closes them all. */
        bool stale = false;
        for (h5src_t *h = kept_list; h != NULL && !stale; h = h->kept_next) {
            stale = h->opened_st.st_dev == st->st_dev &&
                    h->opened_st.st_ino == st->st_ino &&
                    !same_file_state(&h->opened_st, st);
        }
        if (!stale) {
            return;
        }
    }
    h5src_t **p = &kept_list;
    while (*p != NULL) {
        h5src_t *h = *p;
        if (h->opened_st.st_dev == st->st_dev && h->opened_st.st_ino == st->st_ino) {
            *p = h->kept_next;
            h->kept_next = NULL;
            h->kept = false;
            close_handles(h);
        }
        else {
            p = &h->kept_next;
        }
    }
}

/* Take up the kept handles for a run: true when the file is unchanged and
 * its shared lock could be taken again; else they are closed. */
static bool
resume_kept(h5src_t *h)
{
    kept_remove(h);
    struct stat st;
    int fd = file_fd(h->file);
    bool same = stat(h->path, &st) == 0 && same_file_state(&st, &h->opened_st);
    if (fd >= 0 && same) {
        if (!hdf5_locks() || flock(fd, LOCK_SH | LOCK_NB) == 0 || errno == ENOSYS ||
            errno == ENOLCK) {
            return true;
        }
    }
    close_handles(h);
    /* The other kept handles of the file are stale too, or unlocked while
     * a writer holds the file: the new open must be a real one (HDF5
     * would share theirs, without its lock). */
    cw__h5_release_kept(&h->opened_st, false);
    return false;
}

/* At the end of the last run: keep the handles (unlocked) or close them. */
static void
keep_or_close(h5src_t *h)
{
    unsigned intent = 0;
    int fd = file_fd(h->file);
    if (!h->swmr && fd >= 0 && H5Fget_intent(h->file, &intent) >= 0 &&
        intent == H5F_ACC_RDONLY) {
        if (hdf5_locks()) {
            flock(fd, LOCK_UN);
        }
        h->kept = true;
        h->kept_next = kept_list;
        kept_list = h;
        return;
    }
    close_handles(h);
}

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
    if (h->kept && resume_kept(h)) {
        goto resumed;
    }
    h->file = h->dset = h->memtype = -1;
    if (stat(h->path, &h->opened_st) != 0) {
        memset(&h->opened_st, 0, sizeof(h->opened_st));
    }
    rc = open_dataset(h->path, h->name, h->swmr, &h->file, &h->dset);
    if (rc < 0) {
        goto undo;
    }
    /* The dataset may have been replaced since it was opened: everything
     * the read paths rely on must still hold. */
    if (!unchanged(src, h)) {
        rc = cw__error(CW_EIO,
                       "dataset '%s' in '%s' was replaced or changed since it "
                       "was opened; open it again with cw.open()",
                       h->name, h->path);
        goto undo;
    }
    h->memtype = H5Dget_type(h->dset);
    if (h->memtype >= 0) {
        hid_t ftype = h->memtype;
        h->memtype = native_memtype(ftype);
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
    if (h->index_tried && same_file_state(&h->opened_st, &h->file_id)) {
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
    close_handles(h);
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
        keep_or_close(h);
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
            kept_remove(h);
            close_handles(h);
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
    rc = open_dataset(path, h->name, swmr, &file, &dset);
    if (rc == CW_OK) {
        rc = describe(src, h, dset);
        if (rc == CW_OK) {
            rc = identify(path, dset, &h->obj_addr, &h->obj_btime, &h->file_dev,
                          &h->file_ino);
        }
        hid_t ftype = rc == CW_OK ? H5Dget_type(dset) : -1;
        if (ftype >= 0) {
            h->memtype = native_memtype(ftype);
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
            H5Fclose(file);
        }
        else {
            /* The first run takes these handles up (see the header). */
            h->file = file;
            h->dset = dset;
            h->opened_st = st;
            h->empty = no_chunk_stored(src, dset);
            keep_or_close(h);
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

bool
cw__h5_filter_native(H5Z_filter_t id)
{
    return filter_is_native(id);
}
