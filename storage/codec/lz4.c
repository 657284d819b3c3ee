/*
 * codec/lz4.c -- the LZ4 filter's chunks (HDF5 filter 32004, the filter
 * of hdf5plugin.LZ4): a 12-byte header (total decoded size, 8 bytes, and
 * block size, 4 bytes, both big-endian), then per block a 4-byte
 * big-endian stored size and the block's bytes.  A block whose stored
 * size equals its decoded size is stored raw.
 */
#include <lz4.h>
#include <string.h>

#include "storage_impl.h"

int
cw__lz4_decode(const void *src, size_t srclen, void *dst, size_t dstlen)
{
    const unsigned char *p = src;
    unsigned char *out = dst;
    if (srclen < 12) {
        return cw__error(CW_ECORRUPT, "LZ4 chunk of %zu bytes has no header", srclen);
    }
    uint64_t total = cw__get_be(p, 8);
    uint64_t bsize = cw__get_be(p + 8, 4);
    if (total != dstlen) {
        return cw__error(CW_ECORRUPT, "LZ4 chunk decodes to %llu bytes, expected %zu",
                         (unsigned long long)total, dstlen);
    }
    if (bsize == 0 && total > 0) {
        return cw__error(CW_ECORRUPT, "LZ4 chunk with a block size of 0");
    }
    if (bsize > total) {
        bsize = total;
    }
    size_t pos = 12, done = 0;
    while (done < dstlen) {
        size_t len = dstlen - done < bsize ? dstlen - done : (size_t)bsize;
        if (srclen - pos < 4) {
            return cw__error(CW_ECORRUPT, "LZ4 chunk truncated at byte %zu", pos);
        }
        uint64_t clen = cw__get_be(p + pos, 4);
        pos += 4;
        if (clen > srclen - pos) {
            return cw__error(CW_ECORRUPT,
                             "LZ4 block of %llu bytes past the chunk's end "
                             "(%zu bytes left)",
                             (unsigned long long)clen, srclen - pos);
        }
        if (clen == len) {
            memcpy(out + done, p + pos, len);
        }
        else {
            if (len > (size_t)LZ4_MAX_INPUT_SIZE ||
                clen > (uint64_t)LZ4_MAX_INPUT_SIZE) {
                return cw__error(CW_ECORRUPT, "LZ4 block too large");
            }
            int k = LZ4_decompress_safe((const char *)p + pos, (char *)out + done,
                                        (int)clen, (int)len);
            if (k < 0 || (size_t)k != len) {
                return cw__error(CW_ECORRUPT, "invalid LZ4 block at byte %zu", pos);
            }
        }
        pos += (size_t)clen;
        done += len;
    }
    if (pos != srclen) {
        return cw__error(CW_ECORRUPT, "LZ4 chunk has %zu bytes after its last block",
                         srclen - pos);
    }
    return CW_OK;
}

size_t
cw__lz4_encode_bound(size_t n)
{
    /* One block per chunk (LZ4 blocks are at most 2 GiB). */
    return n > (size_t)LZ4_MAX_INPUT_SIZE ? 0 : 16 + (size_t)LZ4_compressBound((int)n);
}

int
cw__lz4_encode(const void *src, size_t srclen, void *dst, size_t dstcap, size_t *outlen)
{
    *outlen = 0;
    if (srclen == 0 || srclen > (size_t)LZ4_MAX_INPUT_SIZE || dstcap < 16) {
        return CW_OK;
    }
    unsigned char *p = dst;
    cw__put_be(p, srclen, 8);
    cw__put_be(p + 8, srclen, 4);
    size_t cap = dstcap - 16;
    if (cap > (size_t)LZ4_MAX_INPUT_SIZE) {
        cap = (size_t)LZ4_MAX_INPUT_SIZE;
    }
    int k = LZ4_compress_default(src, (char *)p + 16, (int)srclen, (int)cap);
    /* A block that does not shrink would read back as raw: store the
     * whole chunk raw with the filter skipped instead. */
    if (k <= 0 || (size_t)k >= srclen || 16 + (size_t)k >= srclen) {
        return CW_OK;
    }
    cw__put_be(p + 12, (uint64_t)k, 4);
    *outlen = 16 + (size_t)k;
    return CW_OK;
}
