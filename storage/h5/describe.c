/*
 * h5/describe.c -- opening an HDF5 dataset and describing it as a source:
 * its geometry, dtype, byte order, filters (and whether chunkwise decodes
 * them itself), fill value, and the identity that tells a replaced dataset
 * from the one opened.
 *
 * Locks: every function expects the caller to hold cw__h5_lock.
 */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "h5_impl.h"
#include "src_impl.h"
#include "storage_impl.h"

/* The file type with native byte order: what H5Dread converts to. */
hid_t
cw__h5src_memtype(hid_t ftype)
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
int
cw__h5src_open(const char *path, const char *name, bool swmr, hid_t *file, hid_t *dset)
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
        cw__h5_close_file(*file);
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
int
cw__h5src_describe(cw_source_t *src, h5src_t *h, hid_t dset)
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
    mtype = cw__h5src_memtype(ftype);
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
int
cw__h5src_identify(const char *path, hid_t dset, haddr_t *addr, time_t *btime,
                   dev_t *dev, ino_t *ino)
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
bool
cw__h5src_unchanged(const cw_source_t *src, h5src_t *h)
{
    haddr_t addr = 0;
    time_t btime = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    if (cw__h5src_identify(h->path, h->dset, &addr, &btime, &dev, &ino) < 0 ||
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
    if (cw__h5src_describe(&now, &hnow, h->dset) < 0) {
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

bool
cw__h5_filter_native(H5Z_filter_t id)
{
    return filter_is_native(id);
}
