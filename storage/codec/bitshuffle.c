/*
 * codec/bitshuffle.c -- the Bitshuffle filter's chunks (HDF5 filter 32008,
 * the filter of hdf5plugin.Bitshuffle, bitshuffle's h5 plugin and the
 * Dectris Eiger detectors), both ways.
 *
 * cd_values: [0], [1] the writer's version, [2] the element size, [3] the
 * block size in elements (0: 8192 bytes' worth, rounded down to a multiple
 * of 8, at least 128), [4] the compressor (0 none, 2 LZ4, 3 Zstd), [5] the
 * Zstd level.
 *
 * The data are cut into blocks of that many elements; a last partial block
 * keeps a multiple of 8 elements and the 0-7 elements after it are stored
 * as they are.  Within a block of m elements of k bytes the stored bytes
 * are 8k rows of m/8 bytes: row 8j+b holds bit b of byte j of every
 * element, element e at bit e%8 of byte e/8.
 *
 * Without a compressor the chunk is those blocks back to back.  With one,
 * a 12-byte header (decoded size, 8 bytes, and block size in bytes, 4
 * bytes, both big-endian) comes first, then per block a 4-byte big-endian
 * length and the block's rows as one LZ4 block or one Zstd frame, then the
 * leftover elements.
 *
 * Here a block goes through byte planes: byte j of every element (the
 * HDF5 shuffle layout, codec/shuffle.c) is the bit transpose of rows
 * 8j..8j+7, one 8x8 bit-matrix transpose per 8 elements, done on 64-bit
 * words (SSE2 and AVX2 registers on x86-64).
 */
#include <limits.h>
#include <lz4.h>
#include <string.h>
#include <zstd.h>

#include "shuffle_impl.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef CW__SHUFFLE_AVX2
#include <immintrin.h>
#endif

#define TARGET_BLOCK_BYTES 8192
#define MIN_BLOCK 128

size_t
cw__bitshuffle_block_elems(size_t elem_size, size_t block)
{
    if (block != 0) {
        return block;
    }
    size_t b = elem_size ? TARGET_BLOCK_BYTES / elem_size / 8 * 8 : 0;
    return b < MIN_BLOCK ? MIN_BLOCK : b;
}

/* Bit (8r + c) of x is bit c of byte r; afterwards it is bit r of byte c.
 * Three exchanges: of 1x1, 2x2 and 4x4 sub-blocks across the diagonal. */
static inline uint64_t
transpose8(uint64_t x)
{
    uint64_t t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
    x ^= t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
    x ^= t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
    x ^= t ^ (t << 28);
    return x;
}

#if defined(__SSE2__)
static inline __m128i
transpose8_sse2(__m128i x)
{
    const __m128i m1 = _mm_set1_epi64x(0x00AA00AA00AA00AAll);
    const __m128i m2 = _mm_set1_epi64x(0x0000CCCC0000CCCCll);
    const __m128i m3 = _mm_set1_epi64x(0x00000000F0F0F0F0ll);
    __m128i t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 7)), m1);
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 7)));
    t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 14)), m2);
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 14)));
    t = _mm_and_si128(_mm_xor_si128(x, _mm_srli_epi64(x, 28)), m3);
    x = _mm_xor_si128(x, _mm_xor_si128(t, _mm_slli_epi64(t, 28)));
    return x;
}

/* Bytes g..g+15 of the 8 rows (r bytes apart) into 16 64-bit words, word
 * i holding byte g+i of row b as its byte b: an 8x16 byte transpose in
 * three rounds of interleaves. */
static inline void
gather16_sse2(const unsigned char *in, size_t r, __m128i d[8])
{
    __m128i v[8], a[8], b[8];
    for (int k = 0; k < 8; k++) {
        v[k] = _mm_loadu_si128((const __m128i *)(in + (size_t)k * r));
    }
    for (int k = 0; k < 4; k++) {
        a[2 * k] = _mm_unpacklo_epi8(v[2 * k], v[2 * k + 1]);
        a[2 * k + 1] = _mm_unpackhi_epi8(v[2 * k], v[2 * k + 1]);
    }
    /* a[0..3]: rows 0-3 as pairs; a[4..7] rows 4-7 (lo: bytes 0-7). */
    b[0] = _mm_unpacklo_epi16(a[0], a[2]);
    b[1] = _mm_unpackhi_epi16(a[0], a[2]);
    b[2] = _mm_unpacklo_epi16(a[1], a[3]);
    b[3] = _mm_unpackhi_epi16(a[1], a[3]);
    b[4] = _mm_unpacklo_epi16(a[4], a[6]);
    b[5] = _mm_unpackhi_epi16(a[4], a[6]);
    b[6] = _mm_unpacklo_epi16(a[5], a[7]);
    b[7] = _mm_unpackhi_epi16(a[5], a[7]);
    for (int k = 0; k < 4; k++) {
        d[2 * k] = _mm_unpacklo_epi32(b[k], b[k + 4]);
        d[2 * k + 1] = _mm_unpackhi_epi32(b[k], b[k + 4]);
    }
}
#endif

#ifdef CW__SHUFFLE_AVX2
#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256i
transpose8_avx2(__m256i x)
{
    const __m256i m1 = _mm256_set1_epi64x(0x00AA00AA00AA00AAll);
    const __m256i m2 = _mm256_set1_epi64x(0x0000CCCC0000CCCCll);
    const __m256i m3 = _mm256_set1_epi64x(0x00000000F0F0F0F0ll);
    __m256i t = _mm256_and_si256(_mm256_xor_si256(x, _mm256_srli_epi64(x, 7)), m1);
    x = _mm256_xor_si256(x, _mm256_xor_si256(t, _mm256_slli_epi64(t, 7)));
    t = _mm256_and_si256(_mm256_xor_si256(x, _mm256_srli_epi64(x, 14)), m2);
    x = _mm256_xor_si256(x, _mm256_xor_si256(t, _mm256_slli_epi64(t, 14)));
    t = _mm256_and_si256(_mm256_xor_si256(x, _mm256_srli_epi64(x, 28)), m3);
    x = _mm256_xor_si256(x, _mm256_xor_si256(t, _mm256_slli_epi64(t, 28)));
    return x;
}

/* 32 bytes of each row: the SSE2 interleaves within each 16-byte lane, so
 * lane 0 of d[k] holds words 2k, 2k+1 and lane 1 words 16+2k, 17+2k. */
AVX2 static size_t
untrans_avx2(const unsigned char *in, size_t r, unsigned char *out)
{
    size_t g = 0;
    for (; g + 32 <= r; g += 32) {
        __m256i v[8], a[8], b[8], d[8];
        for (int k = 0; k < 8; k++) {
            v[k] = _mm256_loadu_si256((const __m256i *)(in + (size_t)k * r + g));
        }
        for (int k = 0; k < 4; k++) {
            a[2 * k] = _mm256_unpacklo_epi8(v[2 * k], v[2 * k + 1]);
            a[2 * k + 1] = _mm256_unpackhi_epi8(v[2 * k], v[2 * k + 1]);
        }
        b[0] = _mm256_unpacklo_epi16(a[0], a[2]);
        b[1] = _mm256_unpackhi_epi16(a[0], a[2]);
        b[2] = _mm256_unpacklo_epi16(a[1], a[3]);
        b[3] = _mm256_unpackhi_epi16(a[1], a[3]);
        b[4] = _mm256_unpacklo_epi16(a[4], a[6]);
        b[5] = _mm256_unpackhi_epi16(a[4], a[6]);
        b[6] = _mm256_unpacklo_epi16(a[5], a[7]);
        b[7] = _mm256_unpackhi_epi16(a[5], a[7]);
        for (int k = 0; k < 4; k++) {
            d[2 * k] = transpose8_avx2(_mm256_unpacklo_epi32(b[k], b[k + 4]));
            d[2 * k + 1] = transpose8_avx2(_mm256_unpackhi_epi32(b[k], b[k + 4]));
        }
        unsigned char *o = out + 8 * g;
        for (int k = 0; k < 8; k += 2) {
            __m256i lo = _mm256_permute2x128_si256(d[k], d[k + 1], 0x20);
            __m256i hi = _mm256_permute2x128_si256(d[k], d[k + 1], 0x31);
            _mm256_storeu_si256((__m256i *)(o + 16 * k), lo);
            _mm256_storeu_si256((__m256i *)(o + 128 + 16 * k), hi);
        }
    }
    return g;
}
#endif

/* 8 rows of r bytes (r = m/8) into m bytes: byte e gets bit e%8 of byte
 * e/8 of row b as its bit b. */
static void
untrans8(const unsigned char *in, size_t r, unsigned char *out)
{
    size_t g = 0;
#ifdef CW__SHUFFLE_AVX2
    if (r >= 32 && cw__have_avx2()) {
        g = untrans_avx2(in, r, out);
    }
#endif
#if defined(__SSE2__)
    for (; g + 16 <= r; g += 16) {
        __m128i d[8];
        gather16_sse2(in + g, r, d);
        for (int k = 0; k < 8; k++) {
            _mm_storeu_si128((__m128i *)(out + 8 * g + 16 * k), transpose8_sse2(d[k]));
        }
    }
#endif
    for (; g < r; g++) {
        uint64_t x = 0;
        for (int b = 0; b < 8; b++) {
            x |= (uint64_t)in[(size_t)b * r + g] << (8 * b);
        }
        x = transpose8(x);
        for (int k = 0; k < 8; k++) {
            out[8 * g + (size_t)k] = (unsigned char)(x >> (8 * k));
        }
    }
}

/* The inverse: m bytes into 8 rows of r = m/8 bytes. */
static void
trans8(const unsigned char *in, size_t r, unsigned char *out)
{
    size_t g = 0;
#if defined(__SSE2__)
    /* The top bit of 16 bytes at a time (elements of 2 row bytes), then the
     * next bit up. */
    for (; g + 2 <= r; g += 2) {
        __m128i v = _mm_loadu_si128((const __m128i *)(in + 8 * g));
        for (int b = 7; b >= 0; b--) {
            unsigned m = (unsigned)_mm_movemask_epi8(v);
            out[(size_t)b * r + g] = (unsigned char)m;
            out[(size_t)b * r + g + 1] = (unsigned char)(m >> 8);
            v = _mm_add_epi8(v, v);
        }
    }
#endif
    for (; g < r; g++) {
        uint64_t x = 0;
        for (int k = 0; k < 8; k++) {
            x |= (uint64_t)in[8 * g + (size_t)k] << (8 * k);
        }
        x = transpose8(x);
        for (int b = 0; b < 8; b++) {
            out[(size_t)b * r + g] = (unsigned char)(x >> (8 * b));
        }
    }
}

/* Blocks of m elements (a multiple of 8) of es bytes.  `planes` holds
 * m * es bytes when es > 1. */
static void
unshuffle_block(const unsigned char *in, size_t m, size_t es, unsigned char *planes,
                unsigned char *out)
{
    if (es == 1) {
        untrans8(in, m / 8, out);
        return;
    }
    for (size_t j = 0; j < es; j++) {
        untrans8(in + j * m, m / 8, planes + j * m);
    }
    cw__unshuffle(planes, out, m * es, es);
}

static void
shuffle_block(const unsigned char *in, size_t m, size_t es, unsigned char *planes,
              unsigned char *out)
{
    if (es == 1) {
        trans8(in, m / 8, out);
        return;
    }
    cw__shuffle(in, planes, m * es, es);
    for (size_t j = 0; j < es; j++) {
        trans8(planes + j * m, m / 8, out + j * m);
    }
}

void
cw__bitunshuffle(const void *src, void *dst, size_t nelem, size_t es, void *planes)
{
    unshuffle_block(src, nelem, es, planes, dst);
}

void
cw__bitshuffle(const void *src, void *dst, size_t nelem, size_t es, void *planes)
{
    shuffle_block(src, nelem, es, planes, dst);
}

static int
check_sizes(size_t es, size_t block, size_t n)
{
    if (es == 0 || n % es != 0) {
        return cw__error(CW_ECORRUPT,
                         "bitshuffle chunk of %zu bytes is not whole elements "
                         "of %zu bytes",
                         n, es);
    }
    if (block == 0 || block % 8 != 0) {
        return cw__error(CW_ECORRUPT,
                         "bitshuffle block of %zu elements is not a multiple of 8",
                         block);
    }
    return CW_OK;
}

static int
reserve_blocks(cw__io_scratch_t *s, size_t bytes)
{
    return cw__reserve(&s->bitshuf, &s->bitshuf_cap, 2 * (bytes ? bytes : 1));
}

int
cw__bitshuffle_decode(cw__io_scratch_t *s, const cw__filter_t *f, const void *src,
                      size_t srclen, void *dst, size_t dstlen)
{
    const unsigned char *p = src;
    unsigned char *out = dst;
    size_t es = f->typesize;
    size_t block = cw__bitshuffle_block_elems(es, f->block);
    size_t pos = 0;
    bool packed = f->comp == CW__BSHUF_LZ4 || f->comp == CW__BSHUF_ZSTD;
    if (f->comp != 0 && !packed) {
        return cw__error(CW_EIO, "bitshuffle chunk with unknown compressor %u",
                         f->comp);
    }
    if (packed) {
        if (srclen < 12) {
            return cw__error(CW_ECORRUPT, "bitshuffle chunk of %zu bytes has no header",
                             srclen);
        }
        uint64_t total = cw__get_be(p, 8);
        uint64_t bbytes = cw__get_be(p + 8, 4);
        if (total != dstlen) {
            return cw__error(CW_ECORRUPT,
                             "bitshuffle chunk decodes to %llu bytes, expected %zu",
                             (unsigned long long)total, dstlen);
        }
        block = es ? (size_t)bbytes / es : 0;
        pos = 12;
    }
    else if (srclen != dstlen) {
        return cw__error(CW_ECORRUPT, "bitshuffle chunk of %zu bytes, expected %zu",
                         srclen, dstlen);
    }
    int rc = check_sizes(es, block, dstlen);
    if (rc != CW_OK) {
        return rc;
    }
    size_t nelem = dstlen / es;
    size_t full = block < nelem ? block : nelem - nelem % 8;
    CW_TRY_RET(reserve_blocks(s, full * es));
    unsigned char *tmp = s->bitshuf, *planes = tmp + full * es;
    size_t done = 0; /* elements */
    while (nelem - done >= 8) {
        size_t m = nelem - done >= block ? block : (nelem - done) / 8 * 8;
        size_t len = m * es;
        const unsigned char *rows = p + pos;
        if (packed) {
            if (srclen - pos < 4) {
                return cw__error(CW_ECORRUPT, "bitshuffle chunk truncated at byte %zu",
                                 pos);
            }
            uint64_t clen = cw__get_be(p + pos, 4);
            pos += 4;
            if (clen > srclen - pos) {
                return cw__error(CW_ECORRUPT,
                                 "bitshuffle block of %llu bytes past the chunk's "
                                 "end (%zu bytes left)",
                                 (unsigned long long)clen, srclen - pos);
            }
            if (f->comp == CW__BSHUF_LZ4) {
                if (clen > (uint64_t)LZ4_MAX_INPUT_SIZE ||
                    len > (size_t)LZ4_MAX_INPUT_SIZE) {
                    return cw__error(CW_ECORRUPT, "bitshuffle LZ4 block too large");
                }
                int k = LZ4_decompress_safe((const char *)p + pos, (char *)tmp,
                                            (int)clen, (int)len);
                if (k < 0 || (size_t)k != len) {
                    return cw__error(CW_ECORRUPT,
                                     "invalid LZ4 block in a bitshuffle chunk "
                                     "at byte %zu",
                                     pos);
                }
            }
            else {
                if (s->zstd_d == NULL && (s->zstd_d = ZSTD_createDCtx()) == NULL) {
                    return cw__error(CW_ENOMEM, "out of memory for a zstd decoder");
                }
                size_t k = ZSTD_decompressDCtx(s->zstd_d, tmp, len, p + pos, clen);
                if (ZSTD_isError(k) || k != len) {
                    return cw__error(
                        CW_ECORRUPT,
                        "invalid zstd frame in a bitshuffle chunk "
                        "at byte %zu (%s)",
                        pos, ZSTD_isError(k) ? ZSTD_getErrorName(k) : "short output");
                }
            }
            rows = tmp;
            pos += (size_t)clen;
        }
        else {
            pos += len;
        }
        unshuffle_block(rows, m, es, planes, out + done * es);
        done += m;
    }
    size_t rest = (nelem - done) * es;
    if (srclen - pos < rest) {
        return cw__error(CW_ECORRUPT,
                         "bitshuffle chunk truncated in its last %zu "
                         "elements",
                         nelem - done);
    }
    memcpy(out + done * es, p + pos, rest);
    pos += rest;
    if (pos != srclen) {
        return cw__error(CW_ECORRUPT,
                         "bitshuffle chunk has %zu bytes after its last "
                         "block",
                         srclen - pos);
    }
    return CW_OK;
}

size_t
cw__bitshuffle_encode_bound(unsigned comp, size_t es, size_t n)
{
    if (comp == 0 || es == 0) {
        return n;
    }
    size_t block = cw__bitshuffle_block_elems(es, 0);
    size_t nelem = n / es, nblocks = nelem / block + 1;
    size_t per = comp == CW__BSHUF_LZ4 ? (size_t)LZ4_compressBound((int)(block * es))
                                       : ZSTD_compressBound(block * es);
    return 12 + nblocks * (per + 4) + n;
}

int
cw__bitshuffle_encode(cw__io_scratch_t *s, unsigned comp, int level, size_t es,
                      const void *src, size_t n, void *dst, size_t cap, size_t *outlen)
{
    const unsigned char *in = src;
    unsigned char *p = dst;
    *outlen = 0;
    size_t block = cw__bitshuffle_block_elems(es, 0);
    if (es == 0 || n % es != 0 || n == 0) {
        return CW_OK;
    }
    size_t nelem = n / es;
    size_t full = block < nelem ? block : nelem - nelem % 8;
    CW_TRY_RET(reserve_blocks(s, full * es));
    unsigned char *tmp = s->bitshuf, *planes = tmp + full * es;
    size_t pos = 0, done = 0;
    if (comp != 0) {
        if (cap < 12 || block * es > UINT32_MAX) {
            return CW_OK;
        }
        cw__put_be(p, n, 8);
        cw__put_be(p + 8, block * es, 4);
        pos = 12;
    }
    else if (cap < n) {
        return CW_OK;
    }
    while (nelem - done >= 8) {
        size_t m = nelem - done >= block ? block : (nelem - done) / 8 * 8;
        size_t len = m * es;
        if (comp == 0) {
            shuffle_block(in + done * es, m, es, planes, p + pos);
            pos += len;
            done += m;
            continue;
        }
        shuffle_block(in + done * es, m, es, planes, tmp);
        /* Compressed blocks longer than the chunk's remaining room: the
         * chunk is stored raw instead. */
        if (cap - pos < 4) {
            return CW_OK;
        }
        size_t room = cap - pos - 4, k;
        if (comp == CW__BSHUF_LZ4) {
            int r =
                LZ4_compress_default((const char *)tmp, (char *)p + pos + 4, (int)len,
                                     room > INT_MAX ? INT_MAX : (int)room);
            if (r <= 0) {
                return CW_OK;
            }
            k = (size_t)r;
        }
        else {
            if (s->zstd_c == NULL && (s->zstd_c = ZSTD_createCCtx()) == NULL) {
                return cw__error(CW_ENOMEM, "out of memory for a zstd encoder");
            }
            k = ZSTD_compressCCtx(s->zstd_c, p + pos + 4, room, tmp, len, level);
            if (ZSTD_isError(k)) {
                return CW_OK;
            }
        }
        cw__put_be(p + pos, k, 4);
        pos += 4 + k;
        done += m;
    }
    size_t rest = (nelem - done) * es;
    if (cap - pos < rest) {
        return CW_OK;
    }
    memcpy(p + pos, in + done * es, rest);
    *outlen = pos + rest;
    return CW_OK;
}

unsigned
cw__bitshuffle_comp(cw_codec_t codec)
{
    return codec == CW_CODEC_BITSHUFFLE_LZ4    ? CW__BSHUF_LZ4
           : codec == CW_CODEC_BITSHUFFLE_ZSTD ? CW__BSHUF_ZSTD
                                               : CW__BSHUF_NONE;
}

uint64_t
cw__bitshuffle_stored_bound(const cw__filter_t *f, size_t n)
{
    size_t es = f->typesize ? f->typesize : 1;
    if (f->comp == CW__BSHUF_NONE) {
        return n;
    }
    uint64_t m = cw__bitshuffle_block_elems(es, f->block) * es;
    uint64_t nblocks = n / m + 1;
    /* Codec framing of a block of m bytes: LZ4's and Zstd's worst cases,
     * Zstd's being the larger for blocks under 128 kB. */
    uint64_t per = m + m / 255 + 16 + (m < (1u << 17) ? ((1u << 17) - m) >> 11 : 0);
    return 12 + nblocks * (per + 4) + n;
}
