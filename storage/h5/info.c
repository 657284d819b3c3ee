/*
 * h5info.c -- describe every dataset of a file (for `chunkwise info`).
 * Runs entirely under the HDF5 lock.
 */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "h5_impl.h"
#include "storage_impl.h"

#define BLOSC_FILTER_ID 32001

typedef struct listing {
    cw_dsinfo_t *items;
    size_t n, cap;
    int rc;
} listing_t;

static void
describe_filters(hid_t dcpl, char *out, size_t outlen)
{
    int nf = H5Pget_nfilters(dcpl);
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < nf && k < outlen; i++) {
        unsigned flags, cd[8], config;
        size_t ncd = 8;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd,
                                         sizeof(fname), fname, &config);
        char one[96];
        if (id == BLOSC_FILTER_ID && ncd >= 7) {
            static const char *const shuf[] = {"noshuffle", "shuffle", "bitshuffle"};
            snprintf(one, sizeof(one), "blosc-%s(level %u, %s)",
                     cw__blosc_name((int)cd[6]), cd[4], cd[5] < 3 ? shuf[cd[5]] : "?");
        }
        else if (id == BLOSC_FILTER_ID) {
            snprintf(one, sizeof(one), "blosc");
        }
        else if (id == CW__FILTER_BLOSC2 && ncd >= 6) {
            static const char *const shuf[] = {"noshuffle", "shuffle", "bitshuffle"};
            snprintf(one, sizeof(one), "blosc2-%s(level %u, %s)",
                     cw__blosc2_name(ncd >= 7 ? (int)cd[6] : 0), cd[4],
                     cd[5] < 3 ? shuf[cd[5]] : "?");
        }
        else if (id == H5Z_FILTER_DEFLATE) {
            snprintf(one, sizeof(one), "gzip(level %u)", ncd ? cd[0] : 0);
        }
        else if (id == H5Z_FILTER_SHUFFLE) {
            snprintf(one, sizeof(one), "shuffle");
        }
        else if (id == CW__FILTER_BITSHUFFLE && ncd >= 3) {
            unsigned comp = ncd > 4 ? cd[4] : 0, block = ncd > 3 ? cd[3] : 0;
            const char *codec = comp == CW__BSHUF_LZ4    ? "-lz4"
                                : comp == CW__BSHUF_ZSTD ? "-zstd"
                                : comp == 0              ? ""
                                                         : "-?";
            if (comp == CW__BSHUF_ZSTD && ncd > 5) {
                snprintf(one, sizeof(one), "bitshuffle%s(block %u, level %u)", codec,
                         block, cd[5]);
            }
            else {
                snprintf(one, sizeof(one), "bitshuffle%s(block %u)", codec, block);
            }
        }
        else if (id == H5Z_FILTER_FLETCHER32) {
            snprintf(one, sizeof(one), "fletcher32");
        }
        else if (id == CW__FILTER_ZSTD) {
            snprintf(one, sizeof(one), "zstd(level %u)", ncd ? cd[0] : 3);
        }
        else if (id == CW__FILTER_LZ4) {
            snprintf(one, sizeof(one), "lz4");
        }
        else if (id == CW__FILTER_BZIP2) {
            snprintf(one, sizeof(one), "bzip2(block %u)", ncd ? cd[0] : 9);
        }
        else if (id == CW__FILTER_LZF) {
            snprintf(one, sizeof(one), "lzf");
        }
        else {
            snprintf(one, sizeof(one), "filter %d%s%s%s", (int)id, fname[0] ? " (" : "",
                     fname, fname[0] ? ")" : "");
        }
        k += (size_t)snprintf(out + k, outlen - k, "%s%s", i ? "+" : "", one);
    }
}

/* Whether this build decodes every filter of `dcpl` itself, through
 * HDF5's pipeline, or cannot decode one of them. */
static void
it_decode(hid_t dcpl, char *out, size_t len)
{
    int nf = H5Pget_nfilters(dcpl);
    bool native = true, avail = true;
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8], config;
        size_t ncd = 8;
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, &config);
        native = native && cw__h5_filter_native(id);
        avail = avail && id >= 0 && H5Zfilter_avail(id) > 0;
    }
    snprintf(out, len, "%s", native ? "native" : avail ? "pipeline" : "unavailable");
}

static herr_t
visit(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    listing_t *l = data;
    if (info->type != H5O_TYPE_DATASET) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cw_dsinfo_t *p = cw__realloc(l->items, cap * sizeof(*p));
        if (p == NULL) {
            l->rc = cw__error(CW_ENOMEM, "out of memory");
            return -1;
        }
        l->items = p;
        l->cap = cap;
    }
    cw_dsinfo_t *it = &l->items[l->n++];
    memset(it, 0, sizeof(*it));
    snprintf(it->name, sizeof(it->name), "/%s", name);
    hid_t dset = H5Dopen2(root, name, H5P_DEFAULT);
    if (dset < 0) {
        snprintf(it->dtype, sizeof(it->dtype), "unreadable");
        return 0;
    }
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset),
          dcpl = H5Dget_create_plist(dset);
    cw_dtype_t dt;
    bool swap;
    it->supported =
        cw__h5_classify_type(type, &dt, &swap, it->dtype, sizeof(it->dtype)) == CW_OK;
    it->ndim = H5Sget_simple_extent_ndims(space);
    if (it->ndim < 0 || it->ndim > CW_MAXDIM) {
        it->ndim = 0;
    }
    hsize_t dims[CW_MAXDIM], cdims[CW_MAXDIM];
    H5Sget_simple_extent_dims(space, dims, NULL);
    int64_t nbytes = (int64_t)H5Tget_size(type);
    for (int d = 0; d < it->ndim; d++) {
        it->shape[d] = (int64_t)dims[d];
        nbytes *= it->shape[d];
    }
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        nbytes = 0;
    }
    it->nbytes = nbytes;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    snprintf(it->layout, sizeof(it->layout), "%s",
             layout == H5D_CHUNKED      ? "chunked"
             : layout == H5D_CONTIGUOUS ? "contiguous"
             : layout == H5D_COMPACT    ? "compact"
             : layout == H5D_VIRTUAL    ? "virtual"
                                        : "unknown");
    if (layout == H5D_CHUNKED && H5Pget_chunk(dcpl, it->ndim, cdims) == it->ndim) {
        for (int d = 0; d < it->ndim; d++) {
            it->chunks[d] = (int64_t)cdims[d];
        }
    }
    describe_filters(dcpl, it->filters, sizeof(it->filters));
    it_decode(dcpl, it->decode, sizeof(it->decode));
    it->storage_size = (int64_t)H5Dget_storage_size(dset);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(dset);
    return 0;
}

int
cw_file_list(const char *path, cw_dsinfo_t **out, size_t *n)
{
    int rc;
    hid_t file = -1;
    listing_t l = {0};
    *out = NULL;
    *n = 0;
    cw__h5_lock();
    CW_TRY(cw__h5_open_file(path, H5F_ACC_RDONLY, &file));
    if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, &l) < 0) {
        if (l.rc < 0) {
            rc = l.rc;
        }
        else {
            rc = cw__error(CW_EIO, "cannot list '%s'", path);
            cw__h5_error_detail();
        }
        goto fail;
    }
    cw__h5_close_file(file);
    cw__h5_unlock();
    *out = l.items;
    *n = l.n;
    return CW_OK;
fail:
    if (file >= 0) {
        cw__h5_close_file(file);
    }
    cw__h5_unlock();
    cw__free(l.items);
    return rc;
}

void
cw_dsinfo_free(cw_dsinfo_t *items)
{
    cw__free(items);
}
