/*
 * h5/sink.c -- an HDF5 dataset being written: the sink of every store.
 *
 * Nothing appears under the final name until the data is complete:
 *  - in an existing file the dataset is created as /.chunkwise-tmp-<pid>-<n>
 *    and moved to its name by commit (an existing dataset that
 *    is being replaced is moved aside first and deleted last);
 *  - a new file is written as <dir>/.<name>.chunkwise-tmp-<pid>-<n> and
 *    renamed over the final path on commit.
 * abort removes the temporary dataset or file.  (HDF5 does not
 * return the space of a deleted dataset to the file system; h5repack does.)
 * A store whose process was killed leaves its temporary behind; the next
 * store into the same file (or to the same new-file path) deletes those
 * whose process is gone.
 *
 * Chunks arrive decoded, whole or as bytes in order; the worker thread
 * encodes them (codec/pipeline.c, or a Blosc frame built block by block)
 * and writes the stored bytes with H5Dwrite_chunk under the HDF5 lock,
 * which is held only for the write itself.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5_impl.h"
#include "storage_impl.h"

#define BLOSC_FILTER_ID CW__FILTER_BLOSC

typedef struct h5sink {
    cw__sink_t base; /* first: a cw__sink_t * is an h5sink_t * */
    char path[4096];
    char tmppath[4096]; /* new file: temporary file name; else "" */
    char name[1024];    /* final dataset name, absolute */
    char tmpname[128];  /* existing file: temporary dataset name; else "" */
    bool replace;       /* an existing dataset is replaced on commit */
    hid_t file, dset, ftype;
} h5sink_t;

static _Atomic unsigned tmp_counter;

/* The little-endian file type that h5py reads as `dtype` (PyTables reads
 * the bool enum as int8 0/1, as it does h5py's own bool datasets). */
static hid_t
file_type(cw_dtype_t dtype)
{
    hid_t t;
    signed char v;
    switch (dtype) {
        case CW_BOOL:
            t = H5Tenum_create(H5T_NATIVE_SCHAR);
            v = 0;
            H5Tenum_insert(t, "FALSE", &v);
            v = 1;
            H5Tenum_insert(t, "TRUE", &v);
            return t;
        case CW_INT8:
            return H5Tcopy(H5T_STD_I8LE);
        case CW_INT16:
            return H5Tcopy(H5T_STD_I16LE);
        case CW_INT32:
            return H5Tcopy(H5T_STD_I32LE);
        case CW_INT64:
            return H5Tcopy(H5T_STD_I64LE);
        case CW_UINT8:
            return H5Tcopy(H5T_STD_U8LE);
        case CW_UINT16:
            return H5Tcopy(H5T_STD_U16LE);
        case CW_UINT32:
            return H5Tcopy(H5T_STD_U32LE);
        case CW_UINT64:
            return H5Tcopy(H5T_STD_U64LE);
        case CW_FLOAT16:
            /* IEEE binary16, built as h5py does. */
            t = H5Tcopy(H5T_IEEE_F32LE);
            H5Tset_fields(t, 15, 10, 5, 0, 10);
            H5Tset_size(t, 2);
            H5Tset_ebias(t, 15);
            return t;
        case CW_FLOAT32:
            return H5Tcopy(H5T_IEEE_F32LE);
        case CW_FLOAT64:
            return H5Tcopy(H5T_IEEE_F64LE);
        case CW_COMPLEX64:
        case CW_COMPLEX128: {
            /* {r, i}, packed, as h5py and PyTables store complex numbers. */
            hid_t part = dtype == CW_COMPLEX64 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
            size_t psize = H5Tget_size(part);
            t = H5Tcreate(H5T_COMPOUND, 2 * psize);
            if (t >= 0 && (H5Tinsert(t, "r", 0, part) < 0 ||
                           H5Tinsert(t, "i", psize, part) < 0)) {
                H5Tclose(t);
                t = -1;
            }
            return t;
        }
        default:
            return -1;
    }
}

/* Refuse a name one of whose parents exists but is not a group. */
static int
check_parents(hid_t file, const char *name, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", name);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (H5Lexists(file, buf, H5P_DEFAULT) > 0) {
            H5O_info_t info;
            if (H5Oget_info_by_name(file, buf, &info, H5P_DEFAULT) < 0 ||
                info.type != H5O_TYPE_GROUP) {
                return cw__error(CW_EEXIST,
                                 "cannot create '%s' in '%s': '%s' "
                                 "is not a group",
                                 name, path, buf);
            }
        }
        else {
            return CW_OK;
        }
        *p = '/';
    }
    return CW_OK;
}

/* The Bitshuffle filter with bitshuffle's cd_values: version (0.4, as
 * hdf5plugin writes it), element size, block size (0: its default, the one
 * chunkwise encodes with), compressor, Zstd level.  This HDF5 has
 * chunkwise's own filter registered for it (h5/lock.c), without the
 * set_local callback of bitshuffle's plugin that would insert the first
 * three again. */
static herr_t
set_bitshuffle(hid_t dcpl, const cw_store_opts_t *opts, size_t itemsize)
{
    unsigned comp = cw__bitshuffle_comp(opts->codec);
    unsigned cd[6] = {0u, 4u, (unsigned)itemsize, 0u, comp, (unsigned)opts->level};
    return H5Pset_filter(dcpl, CW__FILTER_BITSHUFFLE, H5Z_FLAG_OPTIONAL, 6, cd);
}

static int
create_dataset(h5sink_t *k, const cw_store_opts_t *opts, cw_dtype_t dtype,
               const char *dname)
{
    int rc = CW_OK;
    hid_t space = -1, dcpl = -1, lcpl = -1;
    hsize_t dims[CW_MAXDIM], cdims[CW_MAXDIM];
    size_t itemsize = cw_dtype_size(dtype);
    size_t chunk_bytes = itemsize;
    for (int d = 0; d < opts->ndim; d++) {
        dims[d] = (hsize_t)opts->shape[d];
        int64_t c = opts->chunks[d];
        cdims[d] = (hsize_t)(c < 1 ? 1 : c > opts->shape[d] ? opts->shape[d] : c);
        chunk_bytes *= cdims[d] ? cdims[d] : 1;
    }
    k->ftype = file_type(dtype);
    space = opts->ndim == 0 ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(opts->ndim, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (k->ftype < 0 || space < 0 || dcpl < 0 || lcpl < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = cw__error(CW_EIO, "cannot set up the dataset");
        goto done;
    }
    if (k->base.chunked) {
        herr_t e = H5Pset_chunk(dcpl, opts->ndim, cdims);
        if (e >= 0 && opts->codec == CW_CODEC_BLOSC) {
            unsigned cd[7] = {2,
                              2,
                              (unsigned)itemsize,
                              (unsigned)chunk_bytes,
                              (unsigned)opts->level,
                              opts->bitshuffle ? 2u
                              : opts->shuffle  ? 1u
                                               : 0u,
                              (unsigned)cw__blosc_code(opts->blosc_codec)};
            e = H5Pset_filter(dcpl, BLOSC_FILTER_ID, H5Z_FLAG_OPTIONAL, 7, cd);
        }
        else if (e >= 0 && opts->codec == CW_CODEC_DEFLATE) {
            if (opts->shuffle) {
                e = H5Pset_shuffle(dcpl);
            }
            if (e >= 0) {
                e = H5Pset_deflate(dcpl, (unsigned)opts->level);
            }
        }
        else if (e >= 0 &&
                 (opts->codec == CW_CODEC_ZSTD || opts->codec == CW_CODEC_LZ4 ||
                  opts->codec == CW_CODEC_BZIP2)) {
            /* hdf5plugin's cd_values: Zstd (level), LZ4 (block size, 0 for
             * its default; chunkwise writes one block per chunk), BZip2
             * (block size in 100 kB). */
            unsigned id = opts->codec == CW_CODEC_ZSTD  ? CW__FILTER_ZSTD
                          : opts->codec == CW_CODEC_LZ4 ? CW__FILTER_LZ4
                                                        : CW__FILTER_BZIP2;
            unsigned cd[1] = {opts->codec == CW_CODEC_ZSTD ? (unsigned)opts->level
                              : opts->codec == CW_CODEC_LZ4
                                  ? 0u
                                  : (unsigned)cw__bzip2_block(opts->level)};
            if (opts->shuffle) {
                e = H5Pset_shuffle(dcpl);
            }
            if (e >= 0) {
                e = H5Pset_filter(dcpl, id, H5Z_FLAG_OPTIONAL, 1, cd);
            }
        }
        else if (e >= 0 && opts->codec == CW_CODEC_BLOSC2) {
            /* hdf5plugin's cd_values: filter revision 1, block size (0:
             * Blosc2's), type size, chunk bytes, level, shuffle (0 none, 1
             * byte, 2 bit), compressor code; for ranks 2..16 (b2nd frames)
             * the rank and the chunk shape. */
            unsigned cd[8 + CW_MAXDIM];
            size_t ncd = 7;
            cd[0] = 1;
            cd[1] = 0;
            cd[2] = (unsigned)(itemsize > 255 ? 1 : itemsize);
            cd[3] = (unsigned)chunk_bytes;
            cd[4] = (unsigned)opts->level;
            cd[5] = opts->bitshuffle ? 2u : opts->shuffle ? 1u : 0u;
            cd[6] = (unsigned)cw__blosc2_code(opts->blosc_codec);
            if (opts->ndim >= 2 && opts->ndim <= 16) {
                cd[7] = (unsigned)opts->ndim;
                for (int d = 0; d < opts->ndim; d++) {
                    cd[8 + d] = (unsigned)cdims[d];
                }
                ncd = 8 + (size_t)opts->ndim;
            }
            e = H5Pset_filter(dcpl, CW__FILTER_BLOSC2, H5Z_FLAG_OPTIONAL, ncd, cd);
        }
        else if (e >= 0 && opts->codec == CW_CODEC_LZF) {
            /* h5py's cd_values: filter version 4, LZF version 3.6, chunk
             * bytes. */
            unsigned cd[3] = {4u, 0x0105u, (unsigned)chunk_bytes};
            if (opts->shuffle) {
                e = H5Pset_shuffle(dcpl);
            }
            if (e >= 0) {
                e = H5Pset_filter(dcpl, CW__FILTER_LZF, H5Z_FLAG_OPTIONAL, 3, cd);
            }
        }
        else if (e >= 0 && (opts->codec == CW_CODEC_BITSHUFFLE ||
                            opts->codec == CW_CODEC_BITSHUFFLE_LZ4 ||
                            opts->codec == CW_CODEC_BITSHUFFLE_ZSTD)) {
            e = set_bitshuffle(dcpl, opts, itemsize);
        }
        if (e < 0) {
            rc = cw__error(CW_EIO, "cannot set the chunk layout or filters");
            cw__h5_error_detail();
            goto done;
        }
    }
    k->dset = H5Dcreate2(k->file, dname, k->ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (k->dset < 0) {
        rc = cw__error(CW_EIO, "cannot create dataset '%s' in '%s'", k->name, k->path);
        cw__h5_error_detail();
    }
done:
    if (lcpl >= 0) {
        H5Pclose(lcpl);
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    return rc;
}

static const struct cw__sink_ops h5sink_ops;

static int
check_codec(const cw_store_opts_t *o)
{
    if (o->codec == CW_CODEC_BLOSC &&
        (o->blosc_codec == NULL || cw__blosc_code(o->blosc_codec) < 0)) {
        return cw__error(CW_EINVAL, "unknown Blosc codec '%s'",
                         o->blosc_codec ? o->blosc_codec : "(null)");
    }
    if (o->codec == CW_CODEC_BLOSC2 && cw__blosc2_code(o->blosc_codec) < 0) {
        return cw__error(CW_EINVAL, "unknown Blosc2 codec '%s'",
                         o->blosc_codec ? o->blosc_codec : "(null)");
    }
    if (o->codec != CW_CODEC_NONE && (o->level < 0 || o->level > 9)) {
        return cw__error(CW_EINVAL, "compression level %d is outside 0..9", o->level);
    }
    return CW_OK;
}

int
cw__sink_new_hdf5(const char *path, const char *name, const cw_store_opts_t *opts,
                  cw_dtype_t dtype, cw__sink_t **out)
{
    *out = NULL;
    CW_TRY_RET(check_codec(opts));
    int64_t cbytes = (int64_t)cw_dtype_size(dtype);
    bool empty = false;
    for (int d = 0; d < opts->ndim; d++) {
        empty = empty || opts->shape[d] == 0;
        if (!cw__mul_ok(cbytes, opts->chunks[d], &cbytes)) {
            return cw__error(CW_EINVAL, "chunk shape too large");
        }
    }
    /* Blosc frames are limited to 2 GiB, HDF5 chunks to 4 GiB. */
    if (cbytes > ((int64_t)1 << 31) - 64) {
        return cw__error(CW_EINVAL,
                         "a chunk of %lld bytes exceeds the 2 GiB "
                         "limit; choose smaller chunks",
                         (long long)cbytes);
    }
    if (name[0] == '\0' || strcmp(name, "/") == 0 || name[strlen(name) - 1] == '/') {
        return cw__error(CW_EINVAL, "invalid dataset name '%s'", name);
    }
    if (strlen(path) >= 4000 || strlen(name) >= 1000) {
        return cw__error(CW_EINVAL, "path or dataset name too long");
    }
    h5sink_t *k = cw__calloc(1, sizeof(*k));
    if (k == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    cw__sink_t *b = &k->base;
    b->ops = &h5sink_ops;
    b->o = *opts;
    b->dtype = dtype;
    b->itemsize = cw_dtype_size(dtype);
    b->chunk_nbytes = (size_t)cbytes;
    b->chunked = opts->ndim > 0 && !empty;
    /* Level 0 means no compression: the whole-chunk path stores it raw. */
    b->streams = opts->codec == CW_CODEC_BLOSC && !opts->bitshuffle &&
                 opts->level > 0 && cw__benc_supported(opts->blosc_codec);
    k->file = k->dset = k->ftype = -1;
    snprintf(k->path, sizeof(k->path), "%s", path);
    snprintf(k->name, sizeof(k->name), "%s%s", name[0] == '/' ? "" : "/", name);
    *out = b;
    return CW_OK;
}

static void h5sink_abort(cw__sink_t *sink);

/* ------------------------------------------- leftovers of killed stores */

/* The pid in a temporary name "<prefix><pid>-<n>" (nothing after), or 0. */
static long
tmp_owner(const char *name, const char *prefix)
{
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0) {
        return 0;
    }
    char *end;
    long pid = strtol(name + lp, &end, 10);
    if (pid <= 0 || *end != '-') {
        return 0;
    }
    char *end2;
    strtoul(end + 1, &end2, 10);
    return end2 != end + 1 && *end2 == '\0' ? pid : 0;
}

/* Whether process pid is gone (so its temporaries are leftovers). */
static bool
owner_gone(long pid)
{
    return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

typedef struct {
    char names[16][128];
    int n;
} leftovers_t;

static herr_t
collect_leftover(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group;
    (void)info;
    leftovers_t *l = data;
    long pid = tmp_owner(name, ".chunkwise-tmp-");
    if (pid > 0 && owner_gone(pid) && l->n < 16 && strlen(name) < sizeof(l->names[0])) {
        snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
    }
    return 0;
}

/* Delete the temporary datasets of stores into `file` whose process was
 * killed (SIGKILL, power loss) before it could commit or abort. A dataset
 * set aside for replacement ("...-old") is kept: it may be the only copy.
 * Called locked, with `file` open for writing. */
static void
remove_leftover_datasets(hid_t file)
{
    leftovers_t l;
    l.n = 0;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_leftover, &l);
    for (int i = 0; i < l.n; i++) {
        H5Ldelete(file, l.names[i], H5P_DEFAULT);
    }
}

/* Remove <dir>/.<base>.chunkwise-tmp-<pid>-<n> files of killed stores. */
static void
remove_leftover_files(const char *dir, const char *base)
{
    char prefix[4200];
    snprintf(prefix, sizeof(prefix), ".%s.chunkwise-tmp-", base);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = tmp_owner(e->d_name, prefix);
        if (pid > 0 && owner_gone(pid)) {
            char full[8400];
            snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
            unlink(full);
        }
    }
    closedir(d);
}

static int
h5sink_open(cw__sink_t *sink)
{
    h5sink_t *k = (h5sink_t *)sink;
    const cw_store_opts_t *opts = &sink->o;
    cw_dtype_t dtype = sink->dtype;
    const char *path = k->path;
    int rc = CW_OK;
    struct stat st;
    unsigned n = atomic_fetch_add(&tmp_counter, 1);

    cw__h5_lock();
    if (stat(path, &st) == 0) {
        CW_TRY(cw__h5_open_file(path, H5F_ACC_RDWR, &k->file));
        remove_leftover_datasets(k->file);
        if (cw__h5_path_exists(k->file, k->name)) {
            H5O_info_t info;
            if (H5Oget_info_by_name(k->file, k->name, &info, H5P_DEFAULT) < 0 ||
                info.type != H5O_TYPE_DATASET) {
                rc = cw__error(CW_EEXIST,
                               "'%s' in '%s' exists and is not a "
                               "dataset",
                               k->name, path);
                goto fail;
            }
            if (!opts->overwrite) {
                rc = cw__error(CW_EEXIST,
                               "dataset '%s' already exists in '%s' "
                               "(pass overwrite=True to replace it)",
                               k->name, path);
                goto fail;
            }
            k->replace = true;
        }
        CW_TRY(check_parents(k->file, k->name, path));
        snprintf(k->tmpname, sizeof(k->tmpname), "/.chunkwise-tmp-%ld-%u",
                 (long)getpid(), n);
        CW_TRY(create_dataset(k, opts, dtype, k->tmpname));
    }
    else {
        char dirbuf[4096], basebuf[4096];
        snprintf(dirbuf, sizeof(dirbuf), "%s", path);
        snprintf(basebuf, sizeof(basebuf), "%s", path);
        const char *dir = dirname(dirbuf), *base = basename(basebuf);
        if (access(dir, W_OK) != 0) {
            rc = cw__error(errno == ENOENT ? CW_ENOENT : CW_EIO,
                           "cannot create '%s': %s", path, strerror(errno));
            goto fail;
        }
        remove_leftover_files(dir, base);
        snprintf(k->tmppath, sizeof(k->tmppath), "%s/.%s.chunkwise-tmp-%ld-%u", dir,
                 base, (long)getpid(), n);
        k->file = H5Fcreate(k->tmppath, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
        if (k->file < 0) {
            rc = cw__error(CW_EIO, "cannot create '%s'", path);
            cw__h5_error_detail();
            k->tmppath[0] = '\0';
            goto fail;
        }
        CW_TRY(create_dataset(k, opts, dtype, k->name));
    }
    cw__h5_unlock();
    return CW_OK;
fail:
    cw__h5_unlock();
    return rc;
}

/* Write one stored chunk (offset in elements); takes the lock itself. */
static int
write_stored(h5sink_t *k, const int64_t *offset, uint32_t mask, const void *data,
             size_t nbytes)
{
    hsize_t off[CW_MAXDIM];
    for (int d = 0; d < CW_MAXDIM; d++) {
        off[d] = (hsize_t)offset[d];
    }
    int rc = CW_OK;
    cw__h5_lock();
    if (H5Dwrite_chunk(k->dset, H5P_DEFAULT, mask, off, nbytes, data) < 0) {
        rc = cw__error(CW_EIO, "cannot write a chunk to '%s'", k->path);
        cw__h5_error_detail();
    }
    cw__h5_unlock();
    if (rc == CW_OK) {
        CW_STAT_ADD(chunks_written, 1);
        CW_STAT_ADD(bytes_written, nbytes);
    }
    return rc;
}

static int
h5sink_put_chunk(cw__sink_t *sink, const int64_t *off, const void *chunk,
                 cw__io_scratch_t *s)
{
    const void *data;
    size_t len;
    uint32_t mask;
    CW_TRY_RET(cw__pipeline_encode(&sink->o, sink->itemsize, chunk, sink->chunk_nbytes,
                                   s, &data, &len, &mask));
    return write_stored((h5sink_t *)sink, off, mask, data, len);
}

static int
h5sink_stream_begin(cw__sink_t *sink, const int64_t *off, cw__chunk_writer_t *w,
                    cw__io_scratch_t *s)
{
    const cw_store_opts_t *o = &sink->o;
    size_t cap = cw__benc_bound(o->level, sink->itemsize, sink->chunk_nbytes);
    w->k = sink;
    w->s = s;
    memcpy(w->off, off, sizeof(w->off));
    CW_TRY_RET(cw__reserve(&s->enc, &s->enc_cap, cap));
    return cw__benc_start(&w->enc, o->blosc_codec, o->level, o->shuffle, sink->itemsize,
                          sink->chunk_nbytes, s->enc, cap, s);
}

static int
h5sink_stream_feed(cw__chunk_writer_t *w, const void *bytes, size_t n)
{
    return cw__benc_feed(&w->enc, bytes, n);
}

static int
h5sink_stream_end(cw__chunk_writer_t *w)
{
    size_t len;
    /* The rest of the chunk past the shape's edge: padding. */
    CW_TRY_RET(cw__benc_feed(&w->enc, NULL, w->k->chunk_nbytes - w->enc.fed));
    CW_TRY_RET(cw__benc_finish(&w->enc, &len));
    return write_stored((h5sink_t *)w->k, w->off, 0, w->s->enc, len);
}

static size_t
h5sink_scratch_bytes(const cw__sink_t *sink)
{
    return cw__pipeline_encode_bytes(&sink->o, sink->chunk_nbytes);
}

static int
h5sink_put_all(cw__sink_t *sink, const void *data)
{
    h5sink_t *k = (h5sink_t *)sink;
    int rc = CW_OK;
    cw__h5_lock();
    if (H5Dwrite(k->dset, k->ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        rc = cw__error(CW_EIO, "cannot write to '%s'", k->path);
        cw__h5_error_detail();
    }
    cw__h5_unlock();
    return rc;
}

static int
h5sink_commit(cw__sink_t *sink)
{
    h5sink_t *k = (h5sink_t *)sink;
    int rc = CW_OK;
    char aside[160] = "";
    cw__h5_lock();
    herr_t e = H5Dclose(k->dset);
    k->dset = -1;
    if (e >= 0 && k->tmpname[0]) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        if (k->replace) {
            snprintf(aside, sizeof(aside), "%s-old", k->tmpname);
            e = H5Lmove(k->file, k->name, k->file, aside, H5P_DEFAULT, H5P_DEFAULT);
        }
        if (e >= 0) {
            e = H5Lmove(k->file, k->tmpname, k->file, k->name, lcpl, H5P_DEFAULT);
            if (e < 0 && aside[0]) {
                H5Lmove(k->file, aside, k->file, k->name, H5P_DEFAULT, H5P_DEFAULT);
                aside[0] = '\0';
            }
        }
        if (e >= 0) {
            k->tmpname[0] = '\0';
            if (aside[0]) {
                H5Ldelete(k->file, aside, H5P_DEFAULT);
            }
        }
        H5Pclose(lcpl);
    }
    if (e < 0) {
        rc = cw__error(CW_EIO, "cannot link dataset '%s' in '%s'", k->name, k->path);
        cw__h5_error_detail();
        cw__h5_unlock();
        h5sink_abort(sink);
        return rc;
    }
    e = H5Tclose(k->ftype);
    k->ftype = -1;
    e = cw__h5_close_file(k->file);
    k->file = -1;
    if (e < 0) {
        rc = cw__error(CW_EIO, "cannot close '%s'", k->path);
        cw__h5_error_detail();
    }
    else if (k->tmppath[0]) {
        if (rename(k->tmppath, k->path) != 0) {
            rc = cw__error(CW_EIO, "cannot rename '%s' to '%s': %s", k->tmppath,
                           k->path, strerror(errno));
        }
        else {
            k->tmppath[0] = '\0';
        }
    }
    cw__h5_unlock();
    if (rc < 0) {
        h5sink_abort(sink);
        return rc;
    }
    cw__free(k);
    return CW_OK;
}

static void
h5sink_abort(cw__sink_t *sink)
{
    h5sink_t *k = (h5sink_t *)sink;
    if (k == NULL) {
        return;
    }
    cw__h5_lock();
    if (k->dset >= 0) {
        H5Dclose(k->dset);
    }
    if (k->ftype >= 0) {
        H5Tclose(k->ftype);
    }
    if (k->file >= 0) {
        if (k->tmpname[0]) {
            H5Ldelete(k->file, k->tmpname, H5P_DEFAULT);
        }
        cw__h5_close_file(k->file);
    }
    if (k->tmppath[0]) {
        unlink(k->tmppath);
    }
    cw__h5_unlock();
    cw__free(k);
}

static const struct cw__sink_ops h5sink_ops = {
    .kind = "hdf5",
    .scratch_bytes = h5sink_scratch_bytes,
    .open = h5sink_open,
    .put_chunk = h5sink_put_chunk,
    .put_all = h5sink_put_all,
    .stream_begin = h5sink_stream_begin,
    .stream_feed = h5sink_stream_feed,
    .stream_end = h5sink_stream_end,
    .commit = h5sink_commit,
    .abort = h5sink_abort,
};
