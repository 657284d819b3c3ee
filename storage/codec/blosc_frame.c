/*
 * codec_blosc.c -- Blosc frames as stored by HDF5 filter 32001.
 *
 * The filter stores each chunk as one Blosc (v1 format) frame.  Decoding
 * validates the frame header against the stored size and the expected
 * chunk size before Blosc touches the data, and runs single-threaded with
 * the context API (blosc_*_ctx), which takes no global lock.  Whole
 * chunks read through the filter pipeline are decompressed by c-blosc2
 * (cw__blosc2_decompress, after cw__blosc_check here): measured 1.6-2.2
 * times faster than c-blosc 1.21 on the same frames (docs/format.md).
 */
#include <blosc.h>
#include <string.h>

#include "storage_impl.h"

static const char *const blosc_names[] = {"blosclz", "lz4",  "lz4hc",
                                          "snappy",  "zlib", "zstd"};

int
cw__blosc_code(const char *codec)
{
    for (int i = 0; i < (int)(sizeof(blosc_names) / sizeof(*blosc_names)); i++) {
        if (strcmp(codec, blosc_names[i]) == 0) {
            /* blosc_compname_to_compcode returns -1 when the library was
             * built without that codec (Debian's lacks snappy). */
            return blosc_compname_to_compcode(codec) < 0 ? -1 : i;
        }
    }
    return -1;
}

const char *
cw__blosc_name(int code)
{
    if (code < 0 || code >= (int)(sizeof(blosc_names) / sizeof(*blosc_names))) {
        return "unknown";
    }
    return blosc_names[code];
}

int
cw__blosc_check(const void *src, size_t srclen, size_t dstlen)
{
    size_t nbytes = 0;
    if (srclen < BLOSC_MIN_HEADER_LENGTH) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame of %zu bytes is shorter "
                         "than its header",
                         srclen);
    }
    if (blosc_cbuffer_validate(src, srclen, &nbytes) < 0) {
        return cw__error(CW_ECORRUPT, "invalid Blosc header");
    }
    if (nbytes != dstlen) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame holds %zu bytes, the chunk "
                         "has %zu",
                         nbytes, dstlen);
    }
    return CW_OK;
}

int
cw__blosc_decode(const void *src, size_t srclen, void *dst, size_t dstlen)
{
    CW_TRY_RET(cw__blosc_check(src, srclen, dstlen));
    int n = blosc_decompress_ctx(src, dst, dstlen, 1);
    if (n < 0 || (size_t)n != dstlen) {
        return cw__error(CW_ECORRUPT, "Blosc decompression failed (code %d)", n);
    }
    return CW_OK;
}

int
cw__blosc_encode(const char *codec, int level, int shuffle, size_t typesize,
                 const void *src, size_t srclen, void *dst, size_t dstcap,
                 size_t *outlen)
{
    /* Ask for output no larger than the input: like the reference HDF5
     * filter, a chunk that does not shrink is stored raw with the filter
     * marked as skipped in its filter mask. */
    size_t cap = dstcap < srclen ? dstcap : srclen;
    int n = blosc_compress_ctx(level, shuffle, typesize > 255 ? 1 : typesize, srclen,
                               src, dst, cap, codec, 0, 1);
    if (n < 0) {
        return cw__error(CW_EIO, "Blosc compression failed (code %d)", n);
    }
    *outlen = (size_t)n;
    return CW_OK;
}
