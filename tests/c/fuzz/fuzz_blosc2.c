/*
 * fuzz_blosc2.c -- the Blosc2 filter decoder (HDF5 filter 32026) on
 * arbitrary bytes.
 *
 * LLVMFuzzerTestOneInput treats its input as one stored chunk and does
 * with it what a read does (storage/codec/blosc2.c through
 * cw__pipeline_decode): cw__blosc2_decode into a chunk of each of a few
 * geometries (1-D, 2-D, 3-D, 4-byte elements), as a dataset of that chunk
 * shape would.  c-blosc2 parses the frame in place; any input must give
 * CW_OK or an error status: never a crash or a sanitizer report.
 *
 * Built with -DCW_LIBFUZZER (and -fsanitize=fuzzer), libFuzzer drives it.
 * Otherwise a plain main runs the target over every file named on the
 * command line, then over inputs mutated deterministically from valid
 * frames (cw__blosc2_encode's, c-blosc2's b2nd frames with padding
 * blocks, bare Blosc2 chunks):
 *
 *     fuzz_blosc2 [-n ITERATIONS] [--seed S] [FILE...]
 *
 * -n 0 runs the files only.  When an input crashes, the plain main writes
 * it to fuzz-crash-<seed>-<iteration>.bin in the working directory.
 * docs/testing.md says how to run it longer.
 */
#include <b2nd.h>
#include <blosc2.h>
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

#define FUZZ_HEADER 16
#define FUZZ_TYPESIZE 4
#define FUZZ_MAX_NBYTES ((size_t)1 << 16)
#define FUZZ_MAX_INPUT (FUZZ_MAX_NBYTES + 8192)

static const struct {
    int ndim;
    int64_t shape[3];
} geoms[] = {{1, {3000, 0, 0}}, {2, {40, 30, 0}}, {3, {11, 12, 13}}};
#define NGEOM ((int)(sizeof(geoms) / sizeof(*geoms)))

static size_t
geom_bytes(int g)
{
    size_t n = FUZZ_TYPESIZE;
    for (int d = 0; d < geoms[g].ndim; d++) {
        n *= (size_t)geoms[g].shape[d];
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    uint8_t *dst = malloc(FUZZ_MAX_NBYTES);
    /* c-blosc2 parses frames in place and takes a non-const buffer: hand
     * it a copy, as the reader hands it its own buffer. */
    uint8_t *in = malloc(size ? size : 1);
    if (dst != NULL && in != NULL) {
        memcpy(in, data, size);
        for (int g = 0; g < NGEOM; g++) {
            cw__filter_t f;
            memset(&f, 0, sizeof(f));
            f.id = CW__FILTER_BLOSC2;
            f.ndim = geoms[g].ndim;
            memcpy(f.chunks, geoms[g].shape, sizeof(geoms[g].shape));
            (void)cw__blosc2_decode(&s, &f, in, size, dst, geom_bytes(g));
        }
    }
    free(in);
    free(dst);
    cw__io_scratch_destroy(&s);
    return 0;
}

#ifndef CW_LIBFUZZER

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

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
            static const char msg[] = "fuzz_blosc2: crashing input written to ";
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
} frame_t;

#define MAX_SEEDS 256
static frame_t seeds[MAX_SEEDS];
static int nseeds;

static void
add_seed(const uint8_t *data, size_t size)
{
    if (nseeds < MAX_SEEDS && size >= FUZZ_HEADER) {
        seeds[nseeds].data = malloc(size);
        memcpy(seeds[nseeds].data, data, size);
        seeds[nseeds].size = size;
        nseeds++;
    }
}

static void
fill_plain(uint8_t *p, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
            case 0:
                p[i] = (uint8_t)(i / 64);
                break;
            case 1:
                p[i] = (uint8_t)(i * 7 + (i >> 9));
                break;
            default:
                p[i] = (i % 512) < 384 ? (uint8_t)(i >> 4) : (uint8_t)rng();
                break;
        }
    }
}

/* Frames as the writers make them (cw__blosc2_encode: plain frames for
 * rank 1, b2nd frames with C-order blocks otherwise), b2nd frames made by
 * c-blosc2 with blocks that pad the chunk, and bare chunks, for every
 * geometry, codec and shuffle. */
static void
make_seeds(void)
{
    static const char *codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    static const int codes[] = {BLOSC_BLOSCLZ, BLOSC_LZ4, BLOSC_LZ4HC, BLOSC_ZLIB,
                                BLOSC_ZSTD};
    uint8_t *plain = malloc(FUZZ_MAX_NBYTES);
    uint8_t *enc = malloc(FUZZ_MAX_NBYTES + BLOSC2_MAX_OVERHEAD);
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    for (int g = 0; g < NGEOM; g++) {
        size_t n = geom_bytes(g);
        for (int c = 0; c < 5; c++) {
            int shuffle = (g + c) % 3;
            fill_plain(plain, n, (g + c) % 3);
            cw_store_opts_t o;
            memset(&o, 0, sizeof(o));
            o.codec = CW_CODEC_BLOSC2;
            o.blosc_codec = codecs[c];
            o.level = 1 + c * 2;
            o.shuffle = shuffle == 1;
            o.bitshuffle = shuffle == 2;
            o.ndim = geoms[g].ndim;
            memcpy(o.chunks, geoms[g].shape, sizeof(geoms[g].shape));
            size_t len = 0;
            if (cw__blosc2_encode(&o, FUZZ_TYPESIZE, plain, n, &s, &len) == CW_OK) {
                add_seed(s.enc, len);
            }
            blosc2_cparams cp = BLOSC2_CPARAMS_DEFAULTS;
            cp.typesize = FUZZ_TYPESIZE;
            cp.compcode = (uint8_t)codes[c];
            cp.nthreads = 1;
            cp.blocksize = 256; /* many blocks */
            cp.filters[BLOSC2_MAX_FILTERS - 1] = (uint8_t)shuffle;
            blosc2_context *cc = blosc2_create_cctx(cp);
            int k = blosc2_compress_ctx(cc, plain, (int32_t)n, enc,
                                        (int32_t)(n + BLOSC2_MAX_OVERHEAD));
            if (k > 0) {
                add_seed(enc, (size_t)k);
            }
            blosc2_free_ctx(cc);
            if (geoms[g].ndim >= 2) {
                int64_t shape[3];
                int32_t cshape[3], bshape[3];
                for (int d = 0; d < geoms[g].ndim; d++) {
                    shape[d] = geoms[g].shape[d];
                    cshape[d] = (int32_t)shape[d];
                    bshape[d] = (int32_t)(shape[d] / 3 + 1);
                }
                cp.blocksize = 0;
                blosc2_dparams dp = BLOSC2_DPARAMS_DEFAULTS;
                dp.nthreads = 1;
                blosc2_storage st = {
                    .contiguous = true, .cparams = &cp, .dparams = &dp};
                b2nd_context_t *ctx =
                    b2nd_create_ctx(&st, (int8_t)geoms[g].ndim, shape, cshape, bshape,
                                    "<i4", DTYPE_NUMPY_FORMAT, NULL, 0);
                b2nd_array_t *arr = NULL;
                uint8_t *frame = NULL;
                int64_t flen = 0;
                bool needs_free = false;
                if (ctx != NULL &&
                    b2nd_from_cbuffer(ctx, &arr, plain, (int64_t)n) == 0 &&
                    b2nd_to_cframe(arr, &frame, &flen, &needs_free) == 0) {
                    add_seed(frame, (size_t)flen);
                    if (needs_free) {
                        free(frame);
                    }
                }
                if (arr != NULL) {
                    b2nd_free(arr);
                }
                if (ctx != NULL) {
                    b2nd_free_ctx(ctx);
                }
            }
        }
    }
    cw__io_scratch_destroy(&s);
    free(plain);
    free(enc);
}

static const uint32_t interesting[] = {
    0,   1,    2,    3,     4,     15,         16,         17,         128,       255,
    256, 1024, 4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

/* One mutated copy of a seed into buf (capacity cap); returns its size.
 * Frames keep their header (msgpack, sizes, metalayers) at the start and
 * their chunk offsets index at the end: both ends are hot. */
static size_t
mutate(uint8_t *buf, size_t cap, const frame_t *seed)
{
    size_t n = seed->size < cap ? seed->size : cap;
    memcpy(buf, seed->data, n);
    int nmut = 1 + (int)(rng() % 4);
    for (int m = 0; m < nmut; m++) {
        size_t hot = 160;
        size_t at;
        switch (rng() % 3) {
            case 0:
                at = n ? rng() % (n < hot ? n : hot) : 0;
                break;
            case 1:
                at = n > hot ? n - 1 - rng() % hot : (n ? rng() % n : 0);
                break;
            default:
                at = n ? rng() % n : 0;
                break;
        }
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
                        v = rd32(buf + at) + (uint32_t)(rng() % 33) - 16;
                    }
                    if (rng() % 2) {
                        v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) |
                            (v << 24); /* frames store sizes big-endian */
                    }
                    wr32(buf + at, v);
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
    long iterations = 300000;
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
    size_t cap = FUZZ_MAX_INPUT;
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
        "fuzz_blosc2: %d files, %d seed frames, %ld mutated inputs (seed %llu): "
        "no crash\n",
        nfiles, nseeds, iterations, seed);
    return bad ? 1 : 0;
}

#endif /* CW_LIBFUZZER */
