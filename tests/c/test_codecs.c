/*
 * test_codecs.c -- C tests of the chunkwise library, without Python.
 *
 * Shuffle, unshuffle and byte swaps; c-blosc frames decoded block by
 * block and encoded block by block; the Blosc codec against c-blosc;
 * whole-chunk zstd frames, LZ4 filter chunks, bzip2 streams and LZF
 * chunks against libzstd, liblz4, libbz2 and liblzf, Bitshuffle chunks
 * against the bit layout's definition (with liblz4 and libzstd for the
 * compressed blocks), Blosc2 frames (plain and b2nd) against c-blosc2;
 * truncated and corrupt ones refused.
 */
#include <b2nd.h>
#include <blosc.h>
#include <blosc2.h>
#include <bzlib.h>
#include <lz4.h>
#include <lzf.h>
#include <zstd.h>

#include "runner.h"
#include "storage_impl.h"

static void
test_shuffle_roundtrip(void)
{
    uint8_t a[103], b[103], c[103];
    for (int i = 0; i < 103; i++) {
        a[i] = (uint8_t)rng();
    }
    for (size_t ts = 1; ts <= 8; ts++) {
        cw__shuffle(a, b, sizeof(a), ts);
        cw__unshuffle(b, c, sizeof(a), ts);
        ASSERT_TRUE(memcmp(a, c, sizeof(a)) == 0);
    }
    uint32_t w[2] = {0x01020304u, 0xa0b0c0d0u};
    cw__byteswap(w, sizeof(w), 4);
    ASSERT_EQ(w[0], 0x04030201u);
    ASSERT_EQ(w[1], 0xd0c0b0a0u);
}

/* The SSE2 transposes against the definition, for every size and range. */
static void
test_shuffle_reference(void)
{
    enum { N = 1200 };
    static uint8_t a[N], b[N], ref[N];
    for (int i = 0; i < N; i++) {
        a[i] = (uint8_t)rng();
    }
    for (size_t ts = 1; ts <= 17; ts++) {
        for (size_t n = 0; n <= N; n += 1 + rng() % 97) {
            size_t ne = n / ts;
            for (size_t k = 0; k < ts && ne > 1; k++) {
                for (size_t i = 0; i < ne; i++) {
                    ref[k * ne + i] = a[i * ts + k];
                }
            }
            memcpy(ref + (ne > 1 ? ne * ts : 0), a + (ne > 1 ? ne * ts : 0),
                   n - (ne > 1 ? ne * ts : 0));
            cw__shuffle(a, b, n, ts);
            ASSERT_TRUE(memcmp(b, ref, n) == 0);
            if (ne > 1) {
                size_t e0 = rng() % ne, e1 = e0 + rng() % (ne - e0 + 1);
                cw__unshuffle_range(ref, ne, ts, e0, e1, b);
                ASSERT_TRUE(memcmp(b, a + e0 * ts, (e1 - e0) * ts) == 0);
            }
        }
    }
}

/* c-blosc's frames decoded block by block, and frames encoded block by
 * block decoded by c-blosc, across codecs, levels, shuffles, element sizes
 * and sizes with a short last block. */
static void
test_blosc_blocks(void)
{
    size_t cap = 600000;
    unsigned char *a = malloc(cap), *enc = malloc(cap + 4096), *b = malloc(cap),
                  *blk = malloc(cap), *plain = malloc(cap);
    for (size_t i = 0; i < cap; i++) {
        a[i] = (unsigned char)(i % 251 < 120 ? i / 64 : rng());
    }
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    static const char *const codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    static const size_t sizes[] = {1, 2, 4, 8, 3, 16};
    int blockwise_seen = 0;
    for (int k = 0; k < 5; k++) {
        for (int it = 0; it < 24; it++) {
            size_t ts = sizes[it % 6];
            int level = 1 + (int)(rng() % 9), shuffle = (int)(rng() % 3);
            size_t n = (1 + rng() % (cap / ts)) * ts;
            if (shuffle == 2 && ts == 3) {
                shuffle = 1;
            }
            int len = blosc_compress_ctx(level, shuffle, ts, n, a, enc, n + 16,
                                         codecs[k], 0, 1);
            ASSERT_TRUE(len > 0);
            cw__bframe_t f;
            bool bw;
            ASSERT_OK(cw__bframe_parse(enc, (size_t)len, n, &f, &bw));
            ASSERT_EQ(bw, (k != 0 && shuffle != 2) || f.memcpyed);
            if (bw && !f.memcpyed) {
                blockwise_seen++;
                for (int64_t j = 0; j < f.nblocks; j++) {
                    size_t bl = cw__bframe_block_len(&f, j);
                    size_t start =
                        (size_t)enc[16 + 4 * j] | (size_t)enc[17 + 4 * j] << 8 |
                        (size_t)enc[18 + 4 * j] << 16 | (size_t)enc[19 + 4 * j] << 24;
                    ASSERT_OK(cw__bframe_decode_block(&f, j, enc + start,
                                                      (size_t)len - start, blk, &s));
                    if (f.shuffled) {
                        cw__unshuffle(blk, plain, bl, f.typesize);
                    }
                    else {
                        memcpy(plain, blk, bl);
                    }
                    ASSERT_TRUE(memcmp(plain, a + (size_t)j * f.blocksize, bl) == 0);
                }
            }
            if (!cw__benc_supported(codecs[k]) || shuffle == 2) {
                continue;
            }
            /* Encode in uneven pieces, some of them zeros. */
            size_t bound = cw__benc_bound(level, ts, n), outlen = 0;
            ASSERT_TRUE(bound <= cap + 4096);
            cw__benc_t e;
            ASSERT_OK(cw__benc_start(&e, codecs[k], level, shuffle == 1, ts, n, enc,
                                     bound, &s));
            memcpy(b, a, n);
            for (size_t done = 0; done < n;) {
                size_t piece = 1 + rng() % 70000;
                piece = piece > n - done ? n - done : piece;
                bool zeros = rng() % 5 == 0;
                if (zeros) {
                    memset(b + done, 0, piece);
                }
                ASSERT_OK(cw__benc_feed(&e, zeros ? NULL : a + done, piece));
                done += piece;
            }
            ASSERT_OK(cw__benc_finish(&e, &outlen));
            size_t nb = 0;
            ASSERT_TRUE(blosc_cbuffer_validate(enc, outlen, &nb) == 0 && nb == n);
            ASSERT_EQ(blosc_decompress_ctx(enc, plain, n, 1), (int)n);
            ASSERT_TRUE(memcmp(plain, b, n) == 0);
        }
    }
    ASSERT_TRUE(blockwise_seen > 40);
    cw__io_scratch_destroy(&s);
    free(a);
    free(enc);
    free(b);
    free(blk);
    free(plain);
}

static void
test_blosc_codec(void)
{
    size_t n = 1 << 16;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    unsigned char *enc = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(i % 100) * 0.5f;
    }
    size_t len = 0;
    static const char *const codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    for (int k = 0; k < 5; k++) {
        ASSERT_OK(cw__blosc_encode(codecs[k], 5, 1, 4, a, n * 4, enc, n * 4, &len));
        ASSERT_TRUE(len > 0 && len < n * 4);
        memset(b, 0, n * 4);
        ASSERT_OK(cw__blosc_decode(enc, len, b, n * 4));
        ASSERT_TRUE(memcmp(a, b, n * 4) == 0);
    }
    /* Wrong expected size, truncated frame, garbage: errors, no crash. */
    ASSERT_EQ(cw__blosc_decode(enc, len, b, n * 4 - 4), CW_ECORRUPT);
    ASSERT_EQ(cw__blosc_decode(enc, 8, b, n * 4), CW_ECORRUPT);
    memset(enc, 0xff, 64);
    ASSERT_EQ(cw__blosc_decode(enc, len, b, n * 4), CW_ECORRUPT);
    free(a);
    free(b);
    free(enc);
}

/* Frames libzstd writes decode; our frames decode with libzstd; bad ones
 * (every truncation, wrong sizes, garbage) are errors. */
static void
test_zstd_codec(void)
{
    size_t n = 20000;
    uint16_t *a = malloc(n * 2), *b = malloc(n * 2);
    size_t cap = ZSTD_compressBound(n * 2);
    unsigned char *enc = malloc(cap);
    cw__io_scratch_t s = {0};
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint16_t)(i % 37 + (rng() % 4));
    }
    for (int level = 1; level <= 19; level += 6) {
        size_t len = ZSTD_compress(enc, cap, a, n * 2, level);
        ASSERT_TRUE(!ZSTD_isError(len));
        memset(b, 0, n * 2);
        ASSERT_OK(cw__zstd_decode(&s, enc, len, b, n * 2));
        ASSERT_TRUE(memcmp(a, b, n * 2) == 0);
        ASSERT_EQ(cw__zstd_decode(&s, enc, len, b, n * 2 - 2), CW_ECORRUPT);
        ASSERT_EQ(cw__zstd_decode(&s, enc, len, b, n * 2 + 2), CW_ECORRUPT);
        for (size_t cut = 0; cut < len; cut += 1 + cut / 3) {
            ASSERT_EQ(cw__zstd_decode(&s, enc, cut, b, n * 2), CW_ECORRUPT);
        }
        size_t mine = 0;
        ASSERT_OK(cw__zstd_encode(&s, level, a, n * 2, enc, n * 2, &mine));
        ASSERT_TRUE(mine > 0 && mine < n * 2);
        ASSERT_EQ(ZSTD_decompress(b, n * 2, enc, mine), n * 2);
        ASSERT_TRUE(memcmp(a, b, n * 2) == 0);
    }
    memset(enc, 0x5a, 64);
    ASSERT_EQ(cw__zstd_decode(&s, enc, 64, b, n * 2), CW_ECORRUPT);
    /* Incompressible data: not encoded (stored raw by the caller). */
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint16_t)rng();
    }
    size_t mine = 1;
    ASSERT_OK(cw__zstd_encode(&s, 3, a, n * 2, enc, n * 2, &mine));
    ASSERT_EQ(mine, 0);
    cw__bframe_scratch_free(&s);
    free(a);
    free(b);
    free(enc);
}

static void
put_be(unsigned char *p, uint64_t v, int k)
{
    for (int i = k - 1; i >= 0; i--, v >>= 8) {
        p[i] = (unsigned char)(v & 0xff);
    }
}

/* An LZ4 filter chunk as hdf5plugin writes it: blocks of bsize bytes
 * (the last shorter), each LZ4-compressed or stored raw. */
static size_t
lz4_chunk(const unsigned char *a, size_t n, size_t bsize, unsigned char *out)
{
    put_be(out, n, 8);
    put_be(out + 8, bsize, 4);
    size_t pos = 12;
    for (size_t off = 0; off < n; off += bsize) {
        size_t len = n - off < bsize ? n - off : bsize;
        int k = LZ4_compress_default((const char *)a + off, (char *)out + pos + 4,
                                     (int)len, LZ4_compressBound((int)len));
        if (k <= 0 || (size_t)k >= len) {
            memcpy(out + pos + 4, a + off, len);
            k = (int)len;
        }
        put_be(out + pos, (uint64_t)k, 4);
        pos += 4 + (size_t)k;
    }
    return pos;
}

static void
test_lz4_codec(void)
{
    size_t n = 30001;
    unsigned char *a = malloc(n), *b = malloc(n);
    unsigned char *enc = malloc(2 * n + 4096);
    for (size_t i = 0; i < n; i++) {
        /* Compressible first half, random second half: raw blocks. */
        a[i] = (unsigned char)(i < n / 2 ? i % 11 : rng());
    }
    static const size_t bsizes[] = {7, 1000, 4096, 30001, 1 << 20};
    for (int k = 0; k < 5; k++) {
        size_t len = lz4_chunk(a, n, bsizes[k] < n ? bsizes[k] : n, enc);
        memset(b, 0, n);
        ASSERT_OK(cw__lz4_decode(enc, len, b, n));
        ASSERT_TRUE(memcmp(a, b, n) == 0);
        ASSERT_EQ(cw__lz4_decode(enc, len, b, n - 1), CW_ECORRUPT);
        for (size_t cut = 0; cut < len; cut += 1 + cut / 2) {
            ASSERT_EQ(cw__lz4_decode(enc, cut, b, n), CW_ECORRUPT);
        }
        ASSERT_EQ(cw__lz4_decode(enc, len + 1, b, n), CW_ECORRUPT);
    }
    /* A block size of 0, and a block length past the end. */
    size_t len = lz4_chunk(a, n, 1000, enc);
    put_be(enc + 8, 0, 4);
    ASSERT_EQ(cw__lz4_decode(enc, len, b, n), CW_ECORRUPT);
    put_be(enc + 8, 1000, 4);
    put_be(enc + 12, 0xffffffffu, 4);
    ASSERT_EQ(cw__lz4_decode(enc, len, b, n), CW_ECORRUPT);
    /* Our chunks are one block, decoded by liblz4 itself. */
    size_t cap = cw__lz4_encode_bound(n), mine = 0;
    ASSERT_TRUE(cap > 0 && cap <= 2 * n + 4096);
    ASSERT_OK(cw__lz4_encode(a, n / 2, enc, cap, &mine));
    ASSERT_TRUE(mine > 16 && mine < n / 2);
    ASSERT_OK(cw__lz4_decode(enc, mine, b, n / 2));
    ASSERT_TRUE(memcmp(a, b, n / 2) == 0);
    ASSERT_EQ(
        LZ4_decompress_safe((const char *)enc + 16, (char *)b, (int)mine - 16, (int)n),
        (int)(n / 2));
    free(a);
    free(b);
    free(enc);
}

static void
test_bzip2_codec(void)
{
    unsigned n = 50000;
    unsigned char *a = malloc(n), *b = malloc(n), *enc = malloc(n + n / 50 + 700);
    for (unsigned i = 0; i < n; i++) {
        a[i] = (unsigned char)(i < n / 2 ? i % 13 : rng());
    }
    for (int level = 1; level <= 9; level += 4) {
        unsigned len = n + n / 50 + 700;
        ASSERT_EQ(
            BZ2_bzBuffToBuffCompress((char *)enc, &len, (char *)a, n, level, 0, 0),
            BZ_OK);
        memset(b, 0, n);
        ASSERT_OK(cw__bzip2_decode(enc, len, b, n));
        ASSERT_TRUE(memcmp(a, b, n) == 0);
        ASSERT_EQ(cw__bzip2_decode(enc, len, b, n - 1), CW_ECORRUPT);
        ASSERT_EQ(cw__bzip2_decode(enc, len, b, n + 1), CW_ECORRUPT);
        for (unsigned cut = 0; cut < len; cut += 1 + cut / 2) {
            ASSERT_EQ(cw__bzip2_decode(enc, cut, b, n), CW_ECORRUPT);
        }
        size_t mine = 0;
        ASSERT_OK(cw__bzip2_encode(level, a, n / 2, enc, n, &mine));
        ASSERT_TRUE(mine > 0 && mine < n / 2);
        unsigned out = n;
        ASSERT_EQ(BZ2_bzBuffToBuffDecompress((char *)b, &out, (char *)enc,
                                             (unsigned)mine, 0, 0),
                  BZ_OK);
        ASSERT_EQ(out, n / 2);
        ASSERT_TRUE(memcmp(a, b, n / 2) == 0);
    }
    memset(enc, 0x5a, 64);
    ASSERT_EQ(cw__bzip2_decode(enc, 64, b, n), CW_ECORRUPT);
    size_t mine = 1;
    ASSERT_OK(cw__bzip2_encode(9, a + n / 2, 20, enc, n, &mine));
    ASSERT_EQ(mine, 0); /* 20 bytes do not shrink */
    free(a);
    free(b);
    free(enc);
}

static void
test_lzf_codec(void)
{
    unsigned n = 40000;
    unsigned char *a = malloc(n), *b = malloc(n), *enc = malloc(n + 64);
    for (unsigned i = 0; i < n; i++) {
        a[i] = (unsigned char)(i < n / 2 ? i % 17 : rng() >> 7);
    }
    unsigned len = lzf_compress(a, n, enc, n + 64);
    ASSERT_TRUE(len > 0 && len < n);
    memset(b, 0, n);
    ASSERT_OK(cw__lzf_decode(enc, len, b, n));
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    ASSERT_EQ(cw__lzf_decode(enc, len, b, n - 1), CW_ECORRUPT);
    ASSERT_EQ(cw__lzf_decode(enc, len, b, n + 1), CW_ECORRUPT);
    for (unsigned cut = 0; cut < len; cut += 1 + cut / 2) {
        ASSERT_EQ(cw__lzf_decode(enc, cut, b, n), CW_ECORRUPT);
    }
    /* Garbage: an error (or, where it happens to be valid LZF, exactly n
     * bytes), never a write past n. */
    memset(enc, 0xe0, 64);
    ASSERT_EQ(cw__lzf_decode(enc, 64, b, n), CW_ECORRUPT);
    size_t mine = 0;
    ASSERT_OK(cw__lzf_encode(a, n / 2, enc, n, &mine));
    ASSERT_TRUE(mine > 0 && mine < n / 2);
    ASSERT_EQ(lzf_decompress(enc, (unsigned)mine, b, n), n / 2);
    ASSERT_TRUE(memcmp(a, b, n / 2) == 0);
    mine = 1;
    ASSERT_OK(cw__lzf_encode(a, 3, enc, n, &mine));
    ASSERT_EQ(mine, 0); /* 3 bytes do not shrink */
    free(a);
    free(b);
    free(enc);
}

/* Bitshuffle's layout by its definition, one bit at a time: row 8j+b of a
 * block of m elements holds bit b of byte j of element e at bit e%8 of
 * byte e/8. */
static void
ref_bitshuffle_block(const uint8_t *in, uint8_t *out, size_t m, size_t es)
{
    memset(out, 0, m * es);
    for (size_t e = 0; e < m; e++) {
        for (size_t j = 0; j < es; j++) {
            for (size_t b = 0; b < 8; b++) {
                unsigned bit = (in[e * es + j] >> b) & 1u;
                out[(j * 8 + b) * (m / 8) + e / 8] |= (uint8_t)(bit << (e % 8));
            }
        }
    }
}

/* A whole chunk without a compressor: blocks of `block` elements, a last
 * block of a multiple of 8, the rest as it is. */
static void
ref_bitshuffle_chunk(const uint8_t *in, uint8_t *out, size_t n, size_t es, size_t block)
{
    size_t nelem = n / es, done = 0;
    while (nelem - done >= 8) {
        size_t m = nelem - done >= block ? block : (nelem - done) / 8 * 8;
        ref_bitshuffle_block(in + done * es, out + done * es, m, es);
        done += m;
    }
    memcpy(out + done * es, in + done * es, n - done * es);
}

static void
test_bitshuffle_reference(void)
{
    enum { N = 16 * 1032 };
    static uint8_t a[N], b[N], c[N], ref[N], planes[N];
    for (int i = 0; i < N; i++) {
        a[i] = (uint8_t)rng();
    }
    static const size_t sizes[] = {1, 2, 3, 4, 8, 16};
    static const size_t counts[] = {8, 16, 120, 128, 136, 256, 264, 512, 520, 1032};
    for (size_t si = 0; si < 6; si++) {
        for (size_t ci = 0; ci < 10; ci++) {
            size_t es = sizes[si], m = counts[ci];
            ref_bitshuffle_block(a, ref, m, es);
            cw__bitshuffle(a, b, m, es, planes);
            ASSERT_TRUE(memcmp(b, ref, m * es) == 0);
            cw__bitunshuffle(ref, c, m, es, planes);
            ASSERT_TRUE(memcmp(c, a, m * es) == 0);
        }
    }
    /* The default block size: 8192 bytes, a multiple of 8, at least 128. */
    ASSERT_EQ(cw__bitshuffle_block_elems(1, 0), 8192);
    ASSERT_EQ(cw__bitshuffle_block_elems(4, 0), 2048);
    ASSERT_EQ(cw__bitshuffle_block_elems(3, 0), 2728);
    ASSERT_EQ(cw__bitshuffle_block_elems(16, 0), 512);
    ASSERT_EQ(cw__bitshuffle_block_elems(128, 0), 128);
    ASSERT_EQ(cw__bitshuffle_block_elems(4, 64), 64);
}

static size_t
be_get(const uint8_t *p, int n)
{
    size_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void
be_put(uint8_t *p, size_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void
test_bitshuffle_codec(void)
{
    size_t cap = 200000;
    uint8_t *a = malloc(cap), *b = malloc(cap), *ref = malloc(cap),
            *enc = malloc(2 * cap);
    for (size_t i = 0; i < cap; i++) {
        a[i] = (uint8_t)(i % 3 == 0 ? rng() : i / 100);
    }
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    static const size_t sizes[] = {1, 2, 4, 8, 16, 3};
    static const unsigned comps[] = {CW__BSHUF_NONE, CW__BSHUF_LZ4, CW__BSHUF_ZSTD};
    for (size_t si = 0; si < 6; si++) {
        size_t es = sizes[si];
        /* Fewer than 8 elements, one partial block, several blocks with a
         * partial one and leftovers. */
        size_t nelems[] = {5, 77, 8192 / es * 3 + 13 * 8 + 5};
        for (int ni = 0; ni < 3; ni++) {
            size_t n = nelems[ni] * es;
            size_t block = cw__bitshuffle_block_elems(es, 0);
            ref_bitshuffle_chunk(a, ref, n, es, block);
            for (int ci = 0; ci < 3; ci++) {
                unsigned comp = comps[ci];
                cw__filter_t f = {.id = CW__FILTER_BITSHUFFLE,
                                  .typesize = es,
                                  .block = 0,
                                  .comp = comp};
                size_t bound = cw__bitshuffle_encode_bound(comp, es, n), len = 0;
                ASSERT_TRUE(bound <= 2 * cap);
                ASSERT_OK(
                    cw__bitshuffle_encode(&s, comp, 3, es, a, n, enc, bound, &len));
                ASSERT_TRUE(len > 0);
                if (comp == CW__BSHUF_NONE) {
                    ASSERT_EQ(len, n);
                    ASSERT_TRUE(memcmp(enc, ref, n) == 0);
                }
                else {
                    /* The framing, block by block, against liblz4 / libzstd. */
                    ASSERT_EQ(be_get(enc, 8), n);
                    ASSERT_EQ(be_get(enc + 8, 4), block * es);
                    size_t pos = 12, done = 0;
                    while (nelems[ni] - done >= 8) {
                        size_t m = nelems[ni] - done >= block
                                       ? block
                                       : (nelems[ni] - done) / 8 * 8;
                        size_t clen = be_get(enc + pos, 4);
                        size_t k =
                            comp == CW__BSHUF_LZ4
                                ? (size_t)LZ4_decompress_safe(
                                      (const char *)enc + pos + 4, (char *)b, (int)clen,
                                      (int)(m * es))
                                : ZSTD_decompress(b, m * es, enc + pos + 4, clen);
                        ASSERT_EQ(k, m * es);
                        ASSERT_TRUE(memcmp(b, ref + done * es, m * es) == 0);
                        pos += 4 + clen;
                        done += m;
                    }
                    ASSERT_EQ(pos + (nelems[ni] - done) * es, len);
                }
                memset(b, 0xee, n);
                ASSERT_OK(cw__bitshuffle_decode(&s, &f, enc, len, b, n));
                ASSERT_TRUE(memcmp(a, b, n) == 0);
                /* Wrong decoded sizes, truncations, trailing bytes. */
                ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n - es),
                          CW_ECORRUPT);
                ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n + es),
                          CW_ECORRUPT);
                for (size_t cut = 0; cut < len; cut += 1 + cut / 3) {
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, cut, b, n),
                              CW_ECORRUPT);
                }
                enc[len] = 0;
                ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len + 1, b, n),
                          CW_ECORRUPT);
                if (comp != CW__BSHUF_NONE && nelems[ni] >= 8) {
                    /* A block length past the end; a block size that is not
                     * a multiple of 8 elements, or 0; a wrong total. */
                    uint8_t save[16];
                    memcpy(save, enc, 16);
                    be_put(enc + 12, len, 4);
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n),
                              CW_ECORRUPT);
                    memcpy(enc, save, 16);
                    be_put(enc + 12, be_get(save + 12, 4) - 1, 4);
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n),
                              CW_ECORRUPT);
                    memcpy(enc, save, 16);
                    be_put(enc + 8, block * es + es, 4);
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n),
                              CW_ECORRUPT);
                    be_put(enc + 8, 0, 4);
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n),
                              CW_ECORRUPT);
                    memcpy(enc, save, 16);
                    be_put(enc, n + 1, 8);
                    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, enc, len, b, n),
                              CW_ECORRUPT);
                    memcpy(enc, save, 16);
                }
            }
            /* An explicit block size without a compressor. */
            cw__filter_t f = {.id = CW__FILTER_BITSHUFFLE,
                              .typesize = es,
                              .block = 16,
                              .comp = CW__BSHUF_NONE};
            ref_bitshuffle_chunk(a, ref, n, es, 16);
            ASSERT_OK(cw__bitshuffle_decode(&s, &f, ref, n, b, n));
            ASSERT_TRUE(memcmp(a, b, n) == 0);
            f.block = 12; /* not a multiple of 8 */
            ASSERT_EQ(cw__bitshuffle_decode(&s, &f, ref, n, b, n), CW_ECORRUPT);
        }
    }
    /* A chunk that is not whole elements; an unknown compressor. */
    cw__filter_t f = {
        .id = CW__FILTER_BITSHUFFLE, .typesize = 4, .block = 0, .comp = CW__BSHUF_NONE};
    ASSERT_EQ(cw__bitshuffle_decode(&s, &f, a, 10, b, 10), CW_ECORRUPT);
    f.comp = 7;
    ASSERT_TRUE(cw__bitshuffle_decode(&s, &f, a, 16, b, 16) != CW_OK);
    /* An encoder with too little room stores nothing. */
    size_t len = 1;
    ASSERT_OK(cw__bitshuffle_encode(&s, CW__BSHUF_LZ4, 0, 4, a, 4096, enc, 100, &len));
    ASSERT_EQ(len, 0);
    cw__io_scratch_destroy(&s);
    free(a);
    free(b);
    free(ref);
    free(enc);
}

/* A chunk of `nd` dims encoded by cw__blosc2_encode: c-blosc2 reads it
 * back (b2nd for ranks >= 2), and so does cw__blosc2_decode. */
static void
blosc2_roundtrip(const char *codec, int shuffle, int nd, const int64_t *chunks,
                 size_t ts, const uint8_t *a, size_t n, uint8_t *b)
{
    cw_store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.codec = CW_CODEC_BLOSC2;
    o.blosc_codec = codec;
    o.level = 5;
    o.shuffle = shuffle == 1;
    o.bitshuffle = shuffle == 2;
    o.ndim = nd;
    memcpy(o.chunks, chunks, sizeof(int64_t) * (size_t)nd);
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    size_t len = 0;
    ASSERT_OK(cw__blosc2_encode(&o, ts, a, n, &s, &len));
    ASSERT_TRUE(len > 0 && len <= cw__blosc2_encode_bound(n));
    uint8_t *frame = malloc(len);
    memcpy(frame, s.enc, len);
    if (nd >= 2) {
        b2nd_array_t *arr = NULL;
        ASSERT_EQ(b2nd_from_cframe(frame, (int64_t)len, true, &arr), 0);
        ASSERT_EQ(arr->ndim, nd);
        memset(b, 0, n);
        ASSERT_EQ(b2nd_to_cbuffer(arr, b, (int64_t)n), 0);
        b2nd_free(arr);
    }
    else {
        blosc2_schunk *sc = blosc2_schunk_from_buffer(frame, (int64_t)len, true);
        ASSERT_TRUE(sc != NULL && sc->nchunks == 1);
        memset(b, 0, n);
        ASSERT_EQ(blosc2_schunk_decompress_chunk(sc, 0, b, (int32_t)n), (int)n);
        blosc2_schunk_free(sc);
    }
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    cw__filter_t f;
    memset(&f, 0, sizeof(f));
    f.id = CW__FILTER_BLOSC2;
    f.ndim = nd;
    memcpy(f.chunks, chunks, sizeof(int64_t) * (size_t)nd);
    memset(b, 0, n);
    ASSERT_OK(cw__blosc2_decode(&s, &f, frame, len, b, n));
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    ASSERT_EQ(cw__blosc2_decode(&s, &f, frame, len, b, n - ts), CW_ECORRUPT);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 3) {
        ASSERT_EQ(cw__blosc2_decode(&s, &f, frame, cut, b, n), CW_ECORRUPT);
    }
    if (nd >= 2) {
        f.chunks[0] += 1; /* the b2nd shape must be the HDF5 chunk's */
        ASSERT_EQ(cw__blosc2_decode(&s, &f, frame, len, b, n), CW_ECORRUPT);
    }
    free(frame);
    cw__io_scratch_destroy(&s);
}

static void
test_blosc2_codec(void)
{
    static const char *codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    static const int64_t shapes[3][3] = {{9000, 0, 0}, {120, 75, 0}, {11, 40, 33}};
    size_t cap = 11 * 40 * 33 * 8;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    for (int c = 0; c < 5; c++) {
        for (int nd = 1; nd <= 3; nd++) {
            size_t ts = (size_t)1 << ((c + nd) % 4);
            size_t n = ts;
            for (int d = 0; d < nd; d++) {
                n *= (size_t)shapes[nd - 1][d];
            }
            for (size_t i = 0; i < n; i++) {
                a[i] = (uint8_t)(i % 3000 < 2000 ? (i / ts) % 251 : rng());
            }
            blosc2_roundtrip(codecs[c], (c + nd) % 3, nd, shapes[nd - 1], ts, a, n, b);
        }
    }
    ASSERT_EQ(cw__blosc2_code("snappy"), -1);
    /* Blosc v1 frames (filter 32001), as c-blosc writes them, many blocks
     * and one, every shuffle: c-blosc2 decodes them to c-blosc's bytes. */
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    uint8_t *enc = malloc(cap + BLOSC_MAX_OVERHEAD), *ref = malloc(cap);
    for (int c = 0; c < 5; c++) {
        for (int sh = 0; sh < 3; sh++) {
            size_t n = cap - 8 * (size_t)c, ts = (size_t)1 << sh;
            for (size_t i = 0; i < n; i++) {
                a[i] = (uint8_t)(i % 3000 < 2000 ? (i / ts) % 251 : rng());
            }
            int k = blosc_compress_ctx(5, sh, ts, n, a, enc, n + BLOSC_MAX_OVERHEAD,
                                       codecs[c], sh == 1 ? 4096 : 0, 1);
            ASSERT_TRUE(k > 0);
            ASSERT_EQ(blosc_decompress_ctx(enc, ref, n, 1), (int)n);
            memset(b, 0, n);
            ASSERT_OK(cw__blosc_check(enc, (size_t)k, n));
            ASSERT_OK(cw__blosc2_decompress(&s, enc, (size_t)k, b, n));
            ASSERT_TRUE(memcmp(ref, b, n) == 0 && memcmp(a, b, n) == 0);
            ASSERT_EQ(cw__blosc2_decompress(&s, enc, (size_t)k - 1, b, n), CW_ECORRUPT);
            ASSERT_EQ(cw__blosc2_decompress(&s, enc, (size_t)k, b, n - 1), CW_ECORRUPT);
        }
    }
    cw__io_scratch_destroy(&s);
    free(enc);
    free(ref);
    free(a);
    free(b);
}

/* b2nd frames made by c-blosc2 with blocks that neither divide the chunk
 * nor tile it in C order; and a bare Blosc2 chunk. */
static void
test_blosc2_b2nd_blocks(void)
{
    blosc2_init();
    int64_t shape[3] = {20, 13, 6};
    int32_t cshape[3] = {20, 13, 6}, bshape[3] = {7, 5, 4};
    size_t ts = 4, n = 20 * 13 * 6 * 4;
    uint8_t *a = malloc(n), *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint8_t)(i * 31 + (i >> 7));
    }
    blosc2_cparams cp = BLOSC2_CPARAMS_DEFAULTS;
    cp.typesize = (int32_t)ts;
    cp.nthreads = 1;
    cp.compcode = BLOSC_LZ4;
    blosc2_dparams dp = BLOSC2_DPARAMS_DEFAULTS;
    dp.nthreads = 1;
    blosc2_storage st = {.contiguous = true, .cparams = &cp, .dparams = &dp};
    b2nd_context_t *ctx = b2nd_create_ctx(&st, 3, shape, cshape, bshape, "<i4",
                                          DTYPE_NUMPY_FORMAT, NULL, 0);
    b2nd_array_t *arr = NULL;
    ASSERT_EQ(b2nd_from_cbuffer(ctx, &arr, a, (int64_t)n), 0);
    uint8_t *frame = NULL;
    int64_t len = 0;
    bool needs_free = false;
    ASSERT_EQ(b2nd_to_cframe(arr, &frame, &len, &needs_free), 0);
    cw__filter_t f;
    memset(&f, 0, sizeof(f));
    f.id = CW__FILTER_BLOSC2;
    f.ndim = 3;
    memcpy(f.chunks, shape, sizeof(shape));
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    memset(b, 0, n);
    ASSERT_OK(cw__blosc2_decode(&s, &f, frame, (size_t)len, b, n));
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    if (needs_free) {
        free(frame);
    }
    b2nd_free(arr);
    b2nd_free_ctx(ctx);

    blosc2_context *cc = blosc2_create_cctx(cp);
    uint8_t *chunk = malloc(n + BLOSC2_MAX_OVERHEAD);
    int k = blosc2_compress_ctx(cc, a, (int32_t)n, chunk,
                                (int32_t)(n + BLOSC2_MAX_OVERHEAD));
    ASSERT_TRUE(k > 0);
    memset(b, 0, n);
    ASSERT_OK(cw__blosc2_decode(&s, &f, chunk, (size_t)k, b, n));
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    ASSERT_EQ(cw__blosc2_decode(&s, &f, chunk, (size_t)k - 1, b, n), CW_ECORRUPT);
    memset(chunk, 0x5a, 64);
    ASSERT_EQ(cw__blosc2_decode(&s, &f, chunk, 64, b, n), CW_ECORRUPT);
    blosc2_free_ctx(cc);
    free(chunk);
    cw__io_scratch_destroy(&s);
    free(a);
    free(b);
}

static const cw_test_t tests[] = {
    {"shuffle_roundtrip", test_shuffle_roundtrip, NULL},
    {"shuffle_reference", test_shuffle_reference, NULL},
    {"blosc_blocks", test_blosc_blocks, NULL},
    {"blosc_codec", test_blosc_codec, NULL},
    {"zstd_codec", test_zstd_codec, NULL},
    {"lz4_codec", test_lz4_codec, NULL},
    {"bzip2_codec", test_bzip2_codec, NULL},
    {"lzf_codec", test_lzf_codec, NULL},
    {"bitshuffle_reference", test_bitshuffle_reference, NULL},
    {"bitshuffle_codec", test_bitshuffle_codec, NULL},
    {"blosc2_codec", test_blosc2_codec, NULL},
    {"blosc2_b2nd_blocks", test_blosc2_b2nd_blocks, NULL},
};

CW_TEST_MAIN(tests)
