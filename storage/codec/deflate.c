/*
 * codec_deflate.c -- whole-chunk zlib streams (HDF5 filter 1, "gzip").
 *
 * libdeflate decodes a whole buffer at once, which is all HDF5 chunks need,
 * and is several times faster than zlib's streaming inflate.  Each thread
 * keeps its decompressor in its scratch.
 */
#include <libdeflate.h>

#include "storage_impl.h"

int
cw__deflate_decode(cw__io_scratch_t *s, const void *src, size_t srclen, void *dst,
                   size_t dstlen)
{
    if (s->inflater == NULL) {
        s->inflater = libdeflate_alloc_decompressor();
        if (s->inflater == NULL) {
            return cw__error(CW_ENOMEM, "out of memory for a deflate decoder");
        }
    }
    size_t actual = 0;
    enum libdeflate_result r =
        libdeflate_zlib_decompress(s->inflater, src, srclen, dst, dstlen, &actual);
    if (r != LIBDEFLATE_SUCCESS || actual != dstlen) {
        return cw__error(CW_ECORRUPT, "invalid deflate stream (%s)",
                         r == LIBDEFLATE_SUCCESS              ? "short output"
                         : r == LIBDEFLATE_INSUFFICIENT_SPACE ? "output too long"
                                                              : "bad data");
    }
    return CW_OK;
}

int
cw__deflate_encode(cw__io_scratch_t *s, int level, const void *src, size_t srclen,
                   void *dst, size_t dstcap, size_t *outlen)
{
    level = level < 1 ? 1 : level > 12 ? 12 : level;
    if (s->deflater == NULL || s->deflater_level != level) {
        libdeflate_free_compressor(s->deflater);
        s->deflater = libdeflate_alloc_compressor(level);
        s->deflater_level = level;
        if (s->deflater == NULL) {
            return cw__error(CW_ENOMEM, "out of memory for a deflate encoder");
        }
    }
    size_t cap = dstcap < srclen ? dstcap : srclen;
    *outlen = libdeflate_zlib_compress(s->deflater, src, srclen, dst, cap);
    return CW_OK;
}

void
cw__deflate_scratch_free(cw__io_scratch_t *s)
{
    libdeflate_free_decompressor(s->inflater);
    libdeflate_free_compressor(s->deflater);
    s->inflater = NULL;
    s->deflater = NULL;
}
