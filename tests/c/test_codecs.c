/*
 * test_codecs.c -- C tests of the chunkwise library, without Python.
 *
 * Shuffle, unshuffle and byte swaps; c-blosc frames decoded block by
 * block and encoded block by block; the Blosc codec against c-blosc.
 */
#include <blosc.h>

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

static const cw_test_t tests[] = {
    {"shuffle_roundtrip", test_shuffle_roundtrip, NULL},
    {"shuffle_reference", test_shuffle_reference, NULL},
    {"blosc_blocks", test_blosc_blocks, NULL},
    {"blosc_codec", test_blosc_codec, NULL},
};

CW_TEST_MAIN(tests)
