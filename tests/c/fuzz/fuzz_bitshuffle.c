/*
 * fuzz_bitshuffle.c -- the Bitshuffle chunk decoder on arbitrary bytes.
 *
 * LLVMFuzzerTestOneInput takes its first 4 bytes as the filter's
 * cd_values (element size 1, 2, 3, 4, 8 or 16; compressor none, LZ4 or
 * Zstd; block size default, 8, 16 or 24 elements) and the rest as one
 * stored chunk, and does with it what a read does (codec/pipeline.c):
 * cw__bitshuffle_decode into a buffer of exactly the chunk's size, for
 * the size the chunk's header claims (compressed chunks, when at most
 * FUZZ_MAX_NBYTES) or the stored size (no compressor), and that size give
 * or take one element.  Any input must give CW_OK or an error status:
 * never a crash or a sanitizer report.  A chunk without a compressor and
 * with the default block size that decodes must encode back to itself.
 *
 * Built with -DCW_LIBFUZZER (and -fsanitize=fuzzer), libFuzzer drives it.
 * Otherwise a plain main runs the target over every file named on the
 * command line, then over inputs mutated deterministically from valid
 * chunks made with cw__bitshuffle_encode:
 *
 *     fuzz_bitshuffle [-n ITERATIONS] [--seed S] [FILE...]
 *
 * -n 0 runs the files only.  When an input crashes, the plain main writes
 * it to fuzz-crash-<seed>-<iteration>.bin in the working directory.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkwise.h"
#include "storage_impl.h"

#define FUZZ_PARAMS 4
#define FUZZ_MAX_NBYTES ((size_t)1 << 22)

static const size_t elem_sizes[] = {1, 2, 3, 4, 8, 16};
static const unsigned comps[] = {CW__BSHUF_NONE, CW__BSHUF_LZ4, CW__BSHUF_ZSTD};

static void
decode_one(cw__io_scratch_t *s, const cw__filter_t *f, const uint8_t *chunk,
           size_t size, size_t n, bool check_roundtrip)
{
    if (n > FUZZ_MAX_NBYTES) {
        return;
    }
    uint8_t *dst = malloc(n ? n : 1);
    if (dst == NULL) {
        return;
    }
    int rc = cw__bitshuffle_decode(s, f, chunk, size, dst, n);
    if (rc == CW_OK && check_roundtrip) {
        uint8_t *back = malloc(n ? n : 1);
        size_t len = 0;
        if (back != NULL &&
            cw__bitshuffle_encode(s, CW__BSHUF_NONE, 0, f->typesize, dst, n, back, n,
                                  &len) == CW_OK &&
            n > 0 && (len != n || memcmp(back, chunk, n) != 0)) {
            abort(); /* the decoder and the encoder disagree */
        }
        free(back);
    }
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_PARAMS) {
        return 0;
    }
    cw__filter_t f = {.id = CW__FILTER_BITSHUFFLE,
                      .typesize = elem_sizes[data[0] % 6],
                      .block = (data[2] % 4) * 8u,
                      .comp = comps[data[1] % 3]};
    const uint8_t *chunk = data + FUZZ_PARAMS;
    size = size - FUZZ_PARAMS;
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    size_t n = size;
    if (f.comp != CW__BSHUF_NONE && size >= 8) {
        n = 0;
        for (int i = 0; i < 8; i++) {
            n = (n << 8) | chunk[i];
        }
    }
    decode_one(&s, &f, chunk, size, n, f.comp == CW__BSHUF_NONE && f.block == 0);
    decode_one(&s, &f, chunk, size, n + f.typesize, false);
    if (n >= f.typesize) {
        decode_one(&s, &f, chunk, size, n - f.typesize, false);
    }
    cw__io_scratch_destroy(&s);
    return 0;
}

#ifndef CW_LIBFUZZER

/* ------------------------------------------------------- plain runner */

static uint64_t rng_state;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The input being run, written out by the crash handler. */
static const uint8_t *cur_data;
static size_t cur_size;
static char crash_name[128];

static void
on_crash(int sig)
{
    if (cur_data != NULL && crash_name[0] != '\0') {
        int fd = open(crash_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            size_t done = 0;
            while (done < cur_size) {
                ssize_t k = write(fd, cur_data + done, cur_size - done);
                if (k <= 0) {
                    break;
                }
                done += (size_t)k;
            }
            close(fd);
            static const char msg[] = "fuzz_bitshuffle: crashing input written to ";
            ssize_t w = write(2, msg, sizeof(msg) - 1);
            w = write(2, crash_name, strlen(crash_name));
            w = write(2, "\n", 1);
            (void)w;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
run_input(const uint8_t *data, size_t size)
{
    cur_data = data;
    cur_size = size;
    LLVMFuzzerTestOneInput(data, size);
    cur_data = NULL;
}

typedef struct {
    uint8_t *data;
    size_t size;
} seed_t;

#define MAX_SEEDS 256
static seed_t seeds[MAX_SEEDS];
static int nseeds;

static void
make_seeds(void)
{
    static const size_t counts[] = {5, 8, 77, 1000, 9000};
    size_t maxn = 9000 * 16;
    uint8_t *plain = malloc(maxn);
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    for (int e = 0; e < 6; e++) {
        for (int c = 0; c < 3; c++) {
            for (int k = 0; k < 5 && nseeds < MAX_SEEDS; k++) {
                size_t es = elem_sizes[e], n = counts[k] * es;
                for (size_t i = 0; i < n; i++) {
                    plain[i] =
                        (i + (size_t)k) % 5 == 0 ? (uint8_t)rng() : (uint8_t)(i / 40);
                }
                size_t cap = cw__bitshuffle_encode_bound(comps[c], es, n), len = 0;
                uint8_t *buf = malloc(FUZZ_PARAMS + cap);
                buf[0] = (uint8_t)e;
                buf[1] = (uint8_t)c;
                buf[2] = 0;
                buf[3] = 0;
                if (cw__bitshuffle_encode(&s, comps[c], 1 + k, es, plain, n,
                                          buf + FUZZ_PARAMS, cap, &len) == CW_OK &&
                    len > 0) {
                    seeds[nseeds].data = buf;
                    seeds[nseeds].size = FUZZ_PARAMS + len;
                    nseeds++;
                }
                else {
                    free(buf);
                }
            }
        }
    }
    cw__io_scratch_destroy(&s);
    free(plain);
}

static const uint32_t interesting[] = {
    0,    1,    7,     8,     9,          16,         255,       256,
    2048, 8192, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff};

static uint32_t
rd32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One mutated copy of a seed into buf (capacity cap); returns its size. */
static size_t
mutate(uint8_t *buf, size_t cap, const seed_t *seed)
{
    size_t n = seed->size < cap ? seed->size : cap;
    memcpy(buf, seed->data, n);
    int nmut = 1 + (int)(rng() % 4);
    for (int m = 0; m < nmut; m++) {
        /* Mostly the parameters, the header and the first block lengths. */
        size_t hot = FUZZ_PARAMS + 12 + 64;
        size_t span = rng() % 2 && n > hot ? hot : n;
        size_t at = span ? rng() % span : 0;
        switch (rng() % 7) {
            case 0:
                if (n) {
                    buf[at] ^= (uint8_t)(1u << (rng() % 8));
                }
                break;
            case 1:
                if (n) {
                    buf[at] = (uint8_t)rng();
                }
                break;
            case 2:
            case 3:
                if (n >= 4) {
                    at = at > n - 4 ? n - 4 : at;
                    uint32_t v = interesting[rng() % (sizeof(interesting) /
                                                      sizeof(*interesting))];
                    if (rng() % 3 == 0) {
                        v = rd32be(buf + at) + (uint32_t)(rng() % 33) - 16;
                    }
                    wr32be(buf + at, v);
                }
                break;
            case 4:
                n = n ? (size_t)(rng() % n) : 0; /* truncate */
                break;
            case 5: {
                size_t more = (size_t)(rng() % 64); /* append */
                for (size_t i = 0; i < more && n < cap; i++) {
                    buf[n++] = (uint8_t)rng();
                }
                break;
            }
            default:
                if (n > 32) { /* copy a range over another */
                    size_t a = rng() % n, b = rng() % n, len = rng() % (n / 4 + 1);
                    len = len > n - a ? n - a : len;
                    len = len > n - b ? n - b : len;
                    memmove(buf + a, buf + b, len);
                }
                break;
        }
    }
    return n;
}

static int
run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    snprintf(crash_name, sizeof(crash_name), "fuzz-crash-file.bin");
    run_input(buf, n);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    long iterations = 100000;
    unsigned long long seed = 1;
    int nfiles = 0, bad = 0;
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGFPE, on_crash);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            iterations = atol(argv[++a]);
        }
        else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
            seed = strtoull(argv[++a], NULL, 10);
        }
        else {
            bad += run_file(argv[a]);
            nfiles++;
        }
    }
    rng_state = 0x9E3779B97F4A7C15ULL ^ (seed * 0xBF58476D1CE4E5B9ULL);
    if (rng_state == 0) {
        rng_state = 1;
    }
    if (iterations > 0) {
        make_seeds();
        for (int i = 0; i < nseeds; i++) {
            snprintf(crash_name, sizeof(crash_name), "fuzz-crash-%llu-seed%d.bin", seed,
                     i);
            run_input(seeds[i].data, seeds[i].size);
        }
    }
    size_t cap = 0;
    for (int i = 0; i < nseeds; i++) {
        cap = seeds[i].size > cap ? seeds[i].size : cap;
    }
    cap += 64;
    uint8_t *buf = malloc(cap);
    for (long it = 0; it < iterations && nseeds > 0; it++) {
        size_t n = mutate(buf, cap, &seeds[rng() % (uint64_t)nseeds]);
        snprintf(crash_name, sizeof(crash_name), "fuzz-crash-%llu-%ld.bin", seed, it);
        /* An exact-size copy, so that reads past the end are caught. */
        uint8_t *in = malloc(n ? n : 1);
        memcpy(in, buf, n);
        run_input(in, n);
        free(in);
    }
    free(buf);
    for (int i = 0; i < nseeds; i++) {
        free(seeds[i].data);
    }
    printf(
        "fuzz_bitshuffle: %d files, %d seed chunks, %ld mutated inputs (seed %llu): "
        "no crash\n",
        nfiles, nseeds, iterations, seed);
    return bad ? 1 : 0;
}

#endif /* CW_LIBFUZZER */
