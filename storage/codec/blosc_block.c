/*
 * blosc_block.c -- Blosc (v1 format) frames one block at a time.
 *
 * A frame is a 16-byte header (version, codec version, flags, typesize,
 * then little-endian nbytes, blocksize and cbytes), one 32-bit start offset
 * per block, and the blocks.  Each block is one stream, or `typesize`
 * streams (one per byte plane) when the frame splits blocks; a stream is a
 * 32-bit length and that many bytes, stored raw when the length equals the
 * stream's uncompressed size.  Byte shuffle, when flagged, is applied per
 * block.  A "memcpyed" frame is the header followed by the plain bytes.
 *
 * Decoding a block needs only its own stored bytes, so a computation can
 * hold one block of each input instead of whole chunks; encoding block by
 * block lets it compress each output block while it is still in cache and
 * never hold the uncompressed output chunk.  LZ4 (and LZ4HC), zlib and Zstd
 * are decoded and encoded here with their libraries, as c-blosc does;
 * BloscLZ and Snappy frames, and bitshuffled ones, go through c-blosc's
 * whole-frame decoder instead.
 */
#include <libdeflate.h>
#include <lz4.h>
#include <lz4hc.h>
#include <string.h>
#include <zstd.h>

#include "storage_impl.h"

#define HEADER 16
#define F_SHUFFLE 0x1
#define F_MEMCPYED 0x2
#define F_BITSHUFFLE 0x4
#define F_DONT_SPLIT 0x10
#define FMT_LZ4 1
#define FMT_ZLIB 3
#define FMT_ZSTD 4

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int
cw__bframe_parse(const void *hdr, size_t stored, size_t expect, cw__bframe_t *f,
                 bool *blockwise)
{
    const unsigned char *h = hdr;
    *blockwise = false;
    if (stored < HEADER) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame of %zu bytes is shorter "
                         "than its header",
                         stored);
    }
    unsigned flags = h[2];
    memset(f, 0, sizeof(*f));
    f->typesize = h[3];
    f->nbytes = rd32(h + 4);
    f->blocksize = rd32(h + 8);
    f->cbytes = rd32(h + 12);
    if (f->nbytes != expect) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame holds %zu bytes, the chunk "
                         "has %zu",
                         f->nbytes, expect);
    }
    if (f->cbytes != stored) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame says %zu bytes, %zu are "
                         "stored",
                         f->cbytes, stored);
    }
    f->memcpyed = flags & F_MEMCPYED;
    f->format = (int)(flags >> 5);
    f->shuffled = (flags & F_SHUFFLE) && f->typesize > 1;
    f->dont_split = flags & F_DONT_SPLIT;
    if (h[0] < 1 || h[0] > 2) {
        return CW_OK; /* unknown layout version: c-blosc judges it */
    }
    if (f->memcpyed) {
        if (stored < HEADER + f->nbytes) {
            return cw__error(CW_ECORRUPT, "memcpyed Blosc frame is truncated");
        }
        *blockwise = true;
        return CW_OK;
    }
    if (f->nbytes == 0 || f->blocksize == 0 || f->typesize == 0 ||
        (flags & F_BITSHUFFLE) ||
        (f->format != FMT_LZ4 && f->format != FMT_ZLIB && f->format != FMT_ZSTD)) {
        return CW_OK;
    }
    if (f->blocksize % f->typesize != 0 && !f->dont_split) {
        return CW_OK; /* planes would not tile the block: c-blosc judges it */
    }
    f->nblocks = (int64_t)((f->nbytes + f->blocksize - 1) / f->blocksize);
    if (HEADER + 4 * (size_t)f->nblocks > stored) {
        return cw__error(CW_ECORRUPT,
                         "Blosc frame is too short for its "
                         "%lld blocks",
                         (long long)f->nblocks);
    }
    *blockwise = true;
    return CW_OK;
}

size_t
cw__bframe_block_len(const cw__bframe_t *f, int64_t b)
{
    size_t start = (size_t)b * f->blocksize;
    return f->nbytes - start < f->blocksize ? f->nbytes - start : f->blocksize;
}

/* c-blosc's rule, decoder side: full blocks of a frame that does not say
 * "don't split" hold one stream per byte plane when planes are at least
 * 128 bytes and there are at most 16 of them. */
size_t
cw__bframe_nsplits(const cw__bframe_t *f, size_t len)
{
    bool leftover = len < f->blocksize;
    if (!f->dont_split && !leftover && f->typesize <= 16 &&
        f->blocksize / f->typesize >= 128) {
        return f->typesize;
    }
    return 1;
}

int
cw__bframe_decode_stream(const cw__bframe_t *f, const void *vsrc, size_t n, void *dst,
                         size_t len, cw__io_scratch_t *s)
{
    const unsigned char *src = vsrc;
    if (n == len) {
        memcpy(dst, src, n); /* stored raw */
        return CW_OK;
    }
    switch (f->format) {
        case FMT_LZ4: {
            int k =
                LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)len);
            return k == (int)len ? CW_OK : -1;
        }
        case FMT_ZSTD: {
            if (s->zstd_d == NULL && (s->zstd_d = ZSTD_createDCtx()) == NULL) {
                return cw__error(CW_ENOMEM, "cannot create a Zstd decoder");
            }
            size_t k = ZSTD_decompressDCtx(s->zstd_d, dst, len, src, n);
            return !ZSTD_isError(k) && k == len ? CW_OK : -1;
        }
        case FMT_ZLIB: {
            int rc = cw__deflate_decode(s, src, n, dst, len);
            if (rc < 0) {
                cw__error_clear();
            }
            return rc < 0 ? -1 : CW_OK;
        }
        default:
            return -1;
    }
}

int
cw__bframe_decode_block(const cw__bframe_t *f, int64_t b, const void *src,
                        size_t srclen, void *dst, cw__io_scratch_t *s)
{
    const unsigned char *p = src;
    size_t len = cw__bframe_block_len(f, b);
    size_t nsplits = cw__bframe_nsplits(f, len);
    size_t neblock = len / nsplits, pos = 0;
    for (size_t j = 0; j < nsplits; j++) {
        if (srclen - pos < 4) {
            goto corrupt;
        }
        size_t n = rd32(p + pos);
        pos += 4;
        if (n == 0 || n > srclen - pos) {
            goto corrupt;
        }
        unsigned char *d = (unsigned char *)dst + j * neblock;
        if (cw__bframe_decode_stream(f, p + pos, n, d, neblock, s) < 0) {
            goto corrupt;
        }
        pos += n;
    }
    return CW_OK;
corrupt:
    return cw__error(CW_ECORRUPT, "Blosc block %lld does not decode", (long long)b);
}

void
cw__bframe_scratch_free(cw__io_scratch_t *s)
{
    ZSTD_freeDCtx(s->zstd_d);
    ZSTD_freeCCtx(s->zstd_c);
    s->zstd_d = s->zstd_c = NULL;
}

/* ------------------------------------------------------------ encoding */

bool
cw__benc_supported(const char *codec)
{
    return codec && (strcmp(codec, "lz4") == 0 || strcmp(codec, "lz4hc") == 0 ||
                     strcmp(codec, "zlib") == 0 || strcmp(codec, "zstd") == 0);
}

/* Blocks of 256 KiB at the usual levels: LZ4 and zlib look back 64 and
 * 32 KiB, so larger blocks gain them almost nothing, and a block stays in
 * cache between being computed and being compressed. */
static size_t
block_size(int level, size_t typesize, size_t nbytes)
{
    size_t bs = level >= 5 ? 256 << 10 : level >= 3 ? 128 << 10 : 64 << 10;
    if (bs > nbytes) {
        bs = nbytes;
    }
    if (bs > typesize) {
        bs -= bs % typesize;
    }
    return bs > 0 ? bs : 1;
}

size_t
cw__benc_bound(int level, size_t typesize, size_t nbytes)
{
    size_t bs = block_size(level, typesize ? typesize : 1, nbytes);
    size_t nblocks = (nbytes + bs - 1) / bs;
    return HEADER + nblocks * 8 + nbytes;
}

int
cw__benc_start(cw__benc_t *b, const char *codec, int level, bool shuffle,
               size_t typesize, size_t nbytes, void *out, size_t cap,
               cw__io_scratch_t *s)
{
    memset(b, 0, sizeof(*b));
    if (typesize > 255) {
        typesize = 1;
    }
    b->code = cw__blosc_code(codec);
    b->format = b->code == 4 ? FMT_ZLIB : b->code == 5 ? FMT_ZSTD : FMT_LZ4;
    b->level = level;
    b->typesize = typesize ? typesize : 1;
    b->shuffle = shuffle && b->typesize > 1;
    b->nbytes = nbytes;
    b->blocksize = block_size(level, b->typesize, nbytes);
    b->nblocks = (int64_t)((nbytes + b->blocksize - 1) / b->blocksize);
    b->out = out;
    b->cap = cap;
    b->pos = HEADER + 4 * (size_t)b->nblocks;
    b->s = s;
    if (cap < cw__benc_bound(level, typesize, nbytes)) {
        return cw__error(CW_EINVAL, "internal: Blosc output buffer too small");
    }
    CW_TRY_RET(cw__reserve(&s->bpend, &s->bpend_cap, b->blocksize));
    if (b->shuffle) {
        CW_TRY_RET(cw__reserve(&s->bshuf, &s->bshuf_cap, b->blocksize));
    }
    return CW_OK;
}

/* Compress one stream of n bytes to dst (at most n - 1 bytes); 0 when it
 * does not shrink. */
static int
encode_stream(cw__benc_t *b, const unsigned char *src, size_t n, unsigned char *dst)
{
    cw__io_scratch_t *s = b->s;
    int cap = (int)n - 1;
    if (cap <= 0) {
        return 0;
    }
    switch (b->code) {
        case 1: /* lz4: c-blosc's acceleration */
            return LZ4_compress_fast((const char *)src, (char *)dst, (int)n, cap,
                                     b->level >= 9 ? 1 : 10 - b->level);
        case 2:
            return LZ4_compress_HC((const char *)src, (char *)dst, (int)n, cap,
                                   b->level * 2 - 1);
        case 4: {
            if (s->deflater == NULL || s->deflater_level != b->level) {
                libdeflate_free_compressor(s->deflater);
                s->deflater = libdeflate_alloc_compressor(b->level);
                s->deflater_level = b->level;
                if (s->deflater == NULL) {
                    return cw__error(CW_ENOMEM, "cannot create a deflate encoder");
                }
            }
            return (int)libdeflate_zlib_compress(s->deflater, src, n, dst, (size_t)cap);
        }
        case 5: {
            if (s->zstd_c == NULL && (s->zstd_c = ZSTD_createCCtx()) == NULL) {
                return cw__error(CW_ENOMEM, "cannot create a Zstd encoder");
            }
            int lv = b->level < 9 ? b->level * 2 - 1 : ZSTD_maxCLevel();
            size_t k = ZSTD_compressCCtx(s->zstd_c, dst, (size_t)cap, src, n, lv);
            return ZSTD_isError(k) ? 0 : (int)k;
        }
        default:
            return cw__error(CW_EINVAL,
                             "internal: no block encoder for Blosc "
                             "codec %d",
                             b->code);
    }
}

/* Shuffle and compress block `next` (len bytes) into the frame. */
static int
put_block(cw__benc_t *b, const unsigned char *data, size_t len)
{
    wr32(b->out + HEADER + 4 * (size_t)b->next, (uint32_t)b->pos);
    const unsigned char *src = data;
    if (b->shuffle) {
        cw__shuffle(data, b->s->bshuf, len, b->typesize);
        src = b->s->bshuf;
    }
    unsigned char *dst = b->out + b->pos + 4;
    int k = encode_stream(b, src, len, dst);
    if (k < 0) {
        return k;
    }
    if (k == 0) {
        memcpy(dst, src, len);
        k = (int)len;
    }
    wr32(b->out + b->pos, (uint32_t)k);
    b->pos += 4 + (size_t)k;
    b->next++;
    return CW_OK;
}

int
cw__benc_feed(cw__benc_t *b, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (n > b->nbytes - b->fed) {
        return cw__error(CW_EINVAL, "internal: Blosc encoder fed too much");
    }
    unsigned char *pend = b->s->bpend;
    while (n > 0) {
        size_t left = b->nbytes - (size_t)b->next * b->blocksize;
        size_t want = left < b->blocksize ? left : b->blocksize;
        if (b->npend == 0 && p != NULL && n >= want) {
            CW_TRY_RET(put_block(b, p, want));
            p += want;
            n -= want;
            b->fed += want;
            continue;
        }
        size_t k = want - b->npend < n ? want - b->npend : n;
        if (p) {
            memcpy(pend + b->npend, p, k);
            p += k;
        }
        else {
            memset(pend + b->npend, 0, k);
        }
        b->npend += k;
        n -= k;
        b->fed += k;
        if (b->npend == want) {
            CW_TRY_RET(put_block(b, pend, want));
            b->npend = 0;
        }
    }
    return CW_OK;
}

int
cw__benc_finish(cw__benc_t *b, size_t *outlen)
{
    if (b->fed != b->nbytes || b->next != b->nblocks) {
        return cw__error(CW_EINVAL, "internal: Blosc frame incomplete");
    }
    unsigned char *h = b->out;
    h[0] = 2; /* frame layout version */
    h[1] = 1; /* codec format version */
    h[2] =
        (unsigned char)((b->shuffle ? F_SHUFFLE : 0) | F_DONT_SPLIT | b->format << 5);
    h[3] = (unsigned char)b->typesize;
    wr32(h + 4, (uint32_t)b->nbytes);
    wr32(h + 8, (uint32_t)b->blocksize);
    wr32(h + 12, (uint32_t)b->pos);
    *outlen = b->pos;
    return CW_OK;
}
