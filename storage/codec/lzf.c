/*
 * codec/lzf.c -- whole-chunk LZF (HDF5 filter 32000, h5py's
 * compression="lzf"): each stored chunk is one lzf_compress output,
 * decoded by liblzf's bounds-checked lzf_decompress.  Chunks LZF does not
 * shrink are stored raw with the filter skipped, as h5py's filter does.
 */
#include <limits.h>
#include <lzf.h>

#include "storage_impl.h"

int
cw__lzf_decode(const void *src, size_t srclen, void *dst, size_t dstlen)
{
    if (srclen > UINT_MAX || dstlen > UINT_MAX) {
        return cw__error(CW_ECORRUPT, "LZF chunk too large (%zu bytes)", srclen);
    }
    if (srclen == 0 || dstlen == 0) {
        return srclen == dstlen
                   ? CW_OK
                   : cw__error(CW_ECORRUPT, "empty LZF chunk for %zu bytes", dstlen);
    }
    unsigned int k =
        lzf_decompress(src, (unsigned int)srclen, dst, (unsigned int)dstlen);
    if (k != dstlen) {
        return cw__error(CW_ECORRUPT, "invalid LZF data (%s)",
                         k == 0 ? "bad data or output too long" : "short output");
    }
    return CW_OK;
}

int
cw__lzf_encode(const void *src, size_t srclen, void *dst, size_t dstcap, size_t *outlen)
{
    *outlen = 0;
    if (srclen == 0 || srclen > UINT_MAX) {
        return CW_OK;
    }
    size_t cap = dstcap < srclen ? dstcap : srclen - 1;
    /* 0: the output would not be smaller; store the chunk raw. */
    *outlen = lzf_compress(src, (unsigned int)srclen, dst, (unsigned int)cap);
    return CW_OK;
}
