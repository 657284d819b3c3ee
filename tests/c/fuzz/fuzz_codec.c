/*
 * fuzz_codec.c -- one whole-chunk codec (storage/codec/) on arbitrary bytes:
 * the harness of each codec is this file built with -DFUZZ_CODEC=<name>
 * (meson.build's list of codec harnesses), named fuzz_<name>.
 *
 * Each input is used twice:
 *
 *  - as a stored chunk: the first 4 bytes (little-endian) are the chunk's
 *    decoded size (modulo FUZZ_MAX_CHUNK + 1, as a reader knows it), the
 *    rest the stored bytes, decoded into a buffer of exactly that size.
 *    Any input gives CW_OK or an error status: never a crash or a
 *    sanitizer report;
 *  - as plain data: encoded at a level taken from its first byte into the
 *    capacity the pipeline gives the encoder, and when the encoder keeps
 *    the result, decoded back, which must succeed and give the input.
 *
 * A codec is one row of CODECS below: adding one is that row and its name
 * in meson.build.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkwise.h"
#include "storage_impl.h"

#ifndef FUZZ_CODEC
#error "build with -DFUZZ_CODEC=<codec name>"
#endif
#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_NAME FUZZ_STR(FUZZ_CODEC)
#define FUZZ_MAX_CHUNK ((size_t)1 << 20)

typedef int (*decode_fn)(cw__io_scratch_t *s, const void *src, size_t n, void *dst,
                         size_t dstlen);
typedef int (*encode_fn)(cw__io_scratch_t *s, int level, const void *src, size_t n,
                         void *dst, size_t cap, size_t *outlen);

/* Adapters to one signature. */
static int
lz4_dec(cw__io_scratch_t *s, const void *src, size_t n, void *dst, size_t dstlen)
{
    (void)s;
    return cw__lz4_decode(src, n, dst, dstlen);
}
static int
lz4_enc(cw__io_scratch_t *s, int level, const void *src, size_t n, void *dst,
        size_t cap, size_t *outlen)
{
    (void)s;
    (void)level;
    return cw__lz4_encode(src, n, dst, cap, outlen);
}
static size_t
lz4_cap(size_t n)
{
    return cw__lz4_encode_bound(n);
}
static int
bzip2_dec(cw__io_scratch_t *s, const void *src, size_t n, void *dst, size_t dstlen)
{
    (void)s;
    return cw__bzip2_decode(src, n, dst, dstlen);
}
static int
bzip2_enc(cw__io_scratch_t *s, int level, const void *src, size_t n, void *dst,
          size_t cap, size_t *outlen)
{
    (void)s;
    return cw__bzip2_encode(level, src, n, dst, cap, outlen);
}
static int
lzf_dec(cw__io_scratch_t *s, const void *src, size_t n, void *dst, size_t dstlen)
{
    (void)s;
    return cw__lzf_decode(src, n, dst, dstlen);
}
static int
lzf_enc(cw__io_scratch_t *s, int level, const void *src, size_t n, void *dst,
        size_t cap, size_t *outlen)
{
    (void)s;
    (void)level;
    return cw__lzf_encode(src, n, dst, cap, outlen);
}
/* The capacity cw__pipeline_encode gives the other encoders. */
static size_t
same_cap(size_t n)
{
    return n;
}

typedef struct {
    const char *name;
    decode_fn decode;
    encode_fn encode; /* NULL: a decoder only */
    size_t (*cap)(size_t n);
    int level_lo, level_hi; /* the levels the round trip draws from */
} codec_t;

static const codec_t CODECS[] = {
    {"deflate", cw__deflate_decode, cw__deflate_encode, same_cap, 1, 9},
    {"zstd", cw__zstd_decode, cw__zstd_encode, same_cap, -3, 9},
    {"lz4", lz4_dec, lz4_enc, lz4_cap, 0, 0},
    {"lzf", lzf_dec, lzf_enc, same_cap, 0, 0},
    {"bzip2", bzip2_dec, bzip2_enc, same_cap, 1, 9},
};

static const codec_t *
the_codec(void)
{
    static const codec_t *c;
    if (c == NULL) {
        for (size_t i = 0; i < sizeof(CODECS) / sizeof(*CODECS); i++) {
            if (strcmp(CODECS[i].name, FUZZ_NAME) == 0) {
                c = &CODECS[i];
            }
        }
        if (c == NULL) {
            fprintf(stderr, "fuzz_codec: no codec named %s\n", FUZZ_NAME);
            abort();
        }
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const codec_t *c = the_codec();
    /* One scratch for every input, as a reading thread keeps its own. */
    static cw__io_scratch_t s;
    static bool ready;
    if (!ready) {
        cw__io_scratch_init(&s);
        ready = true;
    }
    if (size >= 4) {
        size_t dstlen = ((size_t)data[0] | (size_t)data[1] << 8 |
                         (size_t)data[2] << 16 | (size_t)data[3] << 24) %
                        (FUZZ_MAX_CHUNK + 1);
        uint8_t *dst = malloc(dstlen ? dstlen : 1);
        if (dst == NULL) {
            abort();
        }
        (void)c->decode(&s, data + 4, size - 4, dst, dstlen);
        free(dst);
    }
    if (c->encode != NULL && size > 0) {
        int span = c->level_hi - c->level_lo + 1;
        int level = c->level_lo + (int)(data[0] % (unsigned)span);
        size_t cap = c->cap(size);
        uint8_t *enc = malloc(cap ? cap : 1), *back = malloc(size);
        size_t len = 0;
        if (enc == NULL || back == NULL) {
            abort();
        }
        if (cap > 0 && c->encode(&s, level, data, size, enc, cap, &len) != CW_OK) {
            fprintf(stderr, "%s: encoding %zu bytes failed: %s\n", FUZZ_NAME, size,
                    cw_errmsg());
            abort();
        }
        if (len > cap) {
            fprintf(stderr, "%s: encoded %zu bytes into a capacity of %zu\n", FUZZ_NAME,
                    len, cap);
            abort();
        }
        if (len > 0) {
            if (c->decode(&s, enc, len, back, size) != CW_OK) {
                fprintf(stderr, "%s: %zu bytes encoded at level %d do not decode: %s\n",
                        FUZZ_NAME, size, level, cw_errmsg());
                abort();
            }
            if (memcmp(back, data, size) != 0) {
                fprintf(stderr, "%s: %zu bytes at level %d decode to other bytes\n",
                        FUZZ_NAME, size, level);
                abort();
            }
        }
        free(enc);
        free(back);
    }
    return 0;
}

#include "fuzz_main.h"
