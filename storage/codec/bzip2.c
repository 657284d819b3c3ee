/*
 * codec/bzip2.c -- whole-chunk bzip2 streams (HDF5 filter 307, the filter
 * of PyTables and hdf5plugin.BZip2): each stored chunk is one bzip2
 * stream, decoded by libbz2 straight into the chunk.
 */
#include <bzlib.h>
#include <limits.h>

#include "storage_impl.h"

int
cw__bzip2_decode(const void *src, size_t srclen, void *dst, size_t dstlen)
{
    if (srclen > UINT_MAX || dstlen > UINT_MAX) {
        return cw__error(CW_ECORRUPT, "bzip2 chunk too large (%zu bytes)", srclen);
    }
    unsigned int out = (unsigned int)dstlen;
    int r = BZ2_bzBuffToBuffDecompress(dst, &out, (char *)(uintptr_t)src,
                                       (unsigned int)srclen, 0, 0);
    if (r != BZ_OK || out != dstlen) {
        return cw__error(CW_ECORRUPT, "invalid bzip2 stream (%s)",
                         r == BZ_OK               ? "short output"
                         : r == BZ_OUTBUFF_FULL   ? "output too long"
                         : r == BZ_UNEXPECTED_EOF ? "truncated"
                         : r == BZ_MEM_ERROR      ? "out of memory"
                                                  : "bad data");
    }
    return CW_OK;
}

int
cw__bzip2_encode(int level, const void *src, size_t srclen, void *dst, size_t dstcap,
                 size_t *outlen)
{
    *outlen = 0;
    if (srclen > UINT_MAX) {
        return CW_OK;
    }
    size_t cap = dstcap < srclen ? dstcap : srclen;
    unsigned int out = (unsigned int)(cap > UINT_MAX ? UINT_MAX : cap);
    int r =
        BZ2_bzBuffToBuffCompress(dst, &out, (char *)(uintptr_t)src,
                                 (unsigned int)srclen, cw__bzip2_block(level), 0, 0);
    if (r == BZ_MEM_ERROR) {
        return cw__error(CW_ENOMEM, "out of memory for a bzip2 encoder");
    }
    /* BZ_OUTBUFF_FULL: the stream does not shrink; store the chunk raw. */
    *outlen = r == BZ_OK && out < srclen ? out : 0;
    return CW_OK;
}

int
cw__bzip2_block(int level)
{
    return level < 1 || level > 9 ? 9 : level;
}
