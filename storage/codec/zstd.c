/*
 * codec/zstd.c -- whole-chunk Zstandard frames (HDF5 filter 32015, the
 * filter of hdf5plugin.Zstd): each stored chunk is one zstd frame.  The
 * thread's zstd contexts live in its scratch (shared with Blosc's zstd
 * blocks).
 */
#include <zstd.h>

#include "storage_impl.h"

int
cw__zstd_decode(cw__io_scratch_t *s, const void *src, size_t srclen, void *dst,
                size_t dstlen)
{
    if (s->zstd_d == NULL && (s->zstd_d = ZSTD_createDCtx()) == NULL) {
        return cw__error(CW_ENOMEM, "out of memory for a zstd decoder");
    }
    unsigned long long content = ZSTD_getFrameContentSize(src, srclen);
    if (content == ZSTD_CONTENTSIZE_ERROR ||
        (content != ZSTD_CONTENTSIZE_UNKNOWN && content != dstlen)) {
        return cw__error(
            CW_ECORRUPT, "invalid zstd frame (%s)",
            content == ZSTD_CONTENTSIZE_ERROR ? "bad header" : "wrong decoded size");
    }
    size_t k = ZSTD_decompressDCtx(s->zstd_d, dst, dstlen, src, srclen);
    if (ZSTD_isError(k) || k != dstlen) {
        return cw__error(CW_ECORRUPT, "invalid zstd frame (%s)",
                         ZSTD_isError(k) ? ZSTD_getErrorName(k) : "short output");
    }
    return CW_OK;
}

int
cw__zstd_encode(cw__io_scratch_t *s, int level, const void *src, size_t srclen,
                void *dst, size_t dstcap, size_t *outlen)
{
    *outlen = 0;
    if (s->zstd_c == NULL && (s->zstd_c = ZSTD_createCCtx()) == NULL) {
        return cw__error(CW_ENOMEM, "out of memory for a zstd encoder");
    }
    size_t cap = dstcap < srclen ? dstcap : srclen;
    size_t k = ZSTD_compressCCtx(s->zstd_c, dst, cap, src, srclen, level);
    /* An error here is a frame that does not fit: store the chunk raw. */
    *outlen = ZSTD_isError(k) || k >= srclen ? 0 : k;
    return CW_OK;
}
