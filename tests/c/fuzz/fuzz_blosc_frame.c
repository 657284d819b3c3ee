/*
 * fuzz_blosc_frame.c -- the Blosc frame parser and decoders on arbitrary
 * bytes.
 *
 * LLVMFuzzerTestOneInput treats its input as one stored Blosc chunk and
 * does with it what a read does (storage/cstream.c, storage/codec_blosc.c):
 * cw__bframe_parse on the header, then, for a frame that decodes block by
 * block, cw__bframe_decode_block on every block whose start lies inside the
 * frame, into a buffer of the block's size; and cw__blosc_decode of the
 * whole frame into a buffer of the size the header claims, and the same
 * through cw__blosc_check and cw__blosc2_decompress (what
 * codec/pipeline.c does).  Frames that
 * claim more than FUZZ_MAX_NBYTES decoded bytes are only parsed (a chunk's
 * size is known to the reader, and bounded).  Any input must give CW_OK or
 * an error status: never a crash or a sanitizer report.
 *
 * Built with -DFUZZ_BLOSC_ROUNDTRIP (the harness fuzz_blosc_roundtrip),
 * the input is instead plain data, encoded by the block encoder of a store
 * (cw__benc_*) and by cw__blosc_encode: each frame must decode back to it.
 *
 * Built with -DCW_LIBFUZZER (and -fsanitize=fuzzer), libFuzzer drives it.
 * Otherwise a plain main runs the target over every file named on the
 * command line, then over inputs mutated deterministically from valid
 * frames made with cw__blosc_encode (and c-blosc with small forced block
 * sizes, for frames of many blocks):
 *
 *     fuzz_blosc_frame [-n ITERATIONS] [--seed S] [FILE|FOLDER...]
 *
 * (a folder: every file in it).  -n 0 runs the files only.  When an input crashes, the
 * plain main writes it to fuzz-crash-<seed>-<iteration>.bin in the working directory,
 * for tests/c/fuzz/crashes/.  docs/testing.md says how to run it longer.
 */
#include <blosc.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkwise.h"
#include "storage_impl.h"

#define FUZZ_HEADER 16
#define FUZZ_MAX_NBYTES ((size_t)1 << 22)

#if !defined(FUZZ_BLOSC_ROUNDTRIP) || !defined(CW_LIBFUZZER)
static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
#endif

#ifdef FUZZ_BLOSC_ROUNDTRIP
/* A frame encoded from `data` must decode to it. */
static void
check_roundtrip(const char *how, const uint8_t *enc, size_t len, const uint8_t *data,
                size_t size, uint8_t *back)
{
    if (cw__blosc_decode(enc, len, back, size) != CW_OK) {
        fprintf(stderr, "fuzz_blosc_frame: %zu bytes from the %s do not decode: %s\n",
                size, how, cw_errmsg());
        abort();
    }
    if (memcmp(back, data, size) != 0) {
        fprintf(stderr, "fuzz_blosc_frame: %zu bytes from the %s decode to others\n",
                size, how);
        abort();
    }
}

/* The input as plain data, through both encoders: the block encoder of
 * a store (cw__benc_*, fed in two pieces) and cw__blosc_encode, with the
 * codec, shuffle, level and element size its first two bytes pick. */
static void
roundtrip(const uint8_t *data, size_t size, cw__io_scratch_t *s)
{
    static const char *benc_codecs[] = {"lz4", "lz4hc", "zlib", "zstd"};
    static const char *codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    if (size < 2) {
        return;
    }
    /* (libFuzzer's inputs are this small; the plain main's seeds larger) */
    size = size > 4096 ? 4096 : size;
    int level = 1 + (data[0] >> 3) % 9;
    size_t ts = 1 + data[1] % 16, cut = (size_t)data[1] * 17 % (size + 1);
    size_t cap = cw__benc_bound(level, ts, size);
    uint8_t *enc = malloc(cap), *back = malloc(size);
    if (enc == NULL || back == NULL) {
        abort();
    }
    cw__benc_t b;
    size_t len = 0;
    if (cw__benc_start(&b, benc_codecs[data[0] & 3], level, data[0] & 4, ts, size, enc,
                       cap, s) != CW_OK ||
        cw__benc_feed(&b, data, cut) != CW_OK ||
        cw__benc_feed(&b, data + cut, size - cut) != CW_OK ||
        cw__benc_finish(&b, &len) != CW_OK || len > cap) {
        fprintf(stderr, "fuzz_blosc_frame: the block encoder failed: %s\n",
                cw_errmsg());
        abort();
    }
    check_roundtrip("block encoder", enc, len, data, size, back);
    len = 0;
    if (cw__blosc_encode(codecs[(data[0] >> 2) % 5], level, (data[0] >> 6) % 3, ts,
                         data, size, enc, size, &len) != CW_OK ||
        len > size) {
        fprintf(stderr, "fuzz_blosc_frame: cw__blosc_encode failed: %s\n", cw_errmsg());
        abort();
    }
    if (len > 0) {
        check_roundtrip("c-blosc encoder", enc, len, data, size, back);
    }
    free(enc);
    free(back);
}

#endif

/* One scratch for every input, as a reading thread keeps its own. */
static cw__io_scratch_t *
the_scratch(void)
{
    static cw__io_scratch_t s;
    static bool ready;
    if (!ready) {
        cw__io_scratch_init(&s);
        ready = true;
    }
    return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FUZZ_BLOSC_ROUNDTRIP
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roundtrip(data, size, the_scratch());
    return 0;
}
#else
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_HEADER) {
        /* The reader passes what there is; the parser must refuse it. */
        cw__bframe_t f;
        bool blockwise;
        if (cw__bframe_parse(data, size, 0, &f, &blockwise) == CW_OK) {
            abort();
        }
        return 0;
    }
    size_t nbytes = rd32(data + 4);
    cw__io_scratch_t *s = the_scratch();
    cw__bframe_t f;
    bool blockwise = false;
    int rc = cw__bframe_parse(data, size, nbytes, &f, &blockwise);
    if (rc == CW_OK && blockwise && !f.memcpyed && nbytes <= FUZZ_MAX_NBYTES) {
        size_t cap = f.blocksize < f.nbytes ? f.blocksize : f.nbytes;
        uint8_t *blk = malloc(cap ? cap : 1);
        size_t first = FUZZ_HEADER + 4 * (size_t)f.nblocks;
        for (int64_t b = 0; blk != NULL && b < f.nblocks; b++) {
            size_t start = rd32(data + FUZZ_HEADER + 4 * b);
            if (start < first || start >= f.cbytes) {
                continue; /* the reader refuses these before decoding */
            }
            (void)cw__bframe_decode_block(&f, b, data + start, size - start, blk, s);
        }
        free(blk);
    }
    if (nbytes <= FUZZ_MAX_NBYTES) {
        uint8_t *dst = malloc(nbytes ? nbytes : 1);
        if (dst != NULL) {
            (void)cw__blosc_decode(data, size, dst, nbytes);
            /* The pipeline's path: chunkwise's checks, then c-blosc2. */
            if (cw__blosc_check(data, size, nbytes) == CW_OK) {
                (void)cw__blosc2_decompress(s, data, size, dst, nbytes);
            }
        }
        free(dst);
    }
    return 0;
}
#endif

#ifndef CW_LIBFUZZER

/* ------------------------------------------------------- plain runner */

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

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
            static const char msg[] = "fuzz_blosc_frame: crashing input written to ";
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

/* Plain data of n bytes: runs, a ramp and noise, so that every codec
 * finds something to compress and something it cannot. */
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

static void
make_seeds(void)
{
    static const char *codecs[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
    static const size_t sizes[] = {16, 300, 4096, 20000, 65536};
    static const size_t typesizes[] = {1, 2, 4, 8, 3};
    size_t maxn = 65536;
    uint8_t *plain = malloc(maxn), *enc = malloc(maxn + BLOSC_MAX_OVERHEAD);
    for (size_t c = 0; c < sizeof(codecs) / sizeof(*codecs); c++) {
        for (size_t z = 0; z < sizeof(sizes) / sizeof(*sizes); z++) {
            size_t n = sizes[z];
            size_t ts = typesizes[(c + z) % 5];
            int shuffle = (int)((c + z) % 3);
            fill_plain(plain, n, (int)(c + z) % 3);
            size_t len = 0;
            if (cw__blosc_encode(codecs[c], 5, shuffle, ts, plain, n, enc,
                                 n + BLOSC_MAX_OVERHEAD, &len) == CW_OK &&
                len > 0) {
                add_seed(enc, len);
            }
            /* Many small blocks (and split byte planes). */
            int k = blosc_compress_ctx(5, shuffle, ts, n, plain, enc,
                                       n + BLOSC_MAX_OVERHEAD, codecs[c], 1024, 1);
            if (k > 0) {
                add_seed(enc, (size_t)k);
            }
            /* Incompressible: stored memcpyed. */
            for (size_t i = 0; i < n; i++) {
                plain[i] = (uint8_t)rng();
            }
            k = blosc_compress_ctx(1, 0, 1, n, plain, enc, n + BLOSC_MAX_OVERHEAD,
                                   codecs[c], 0, 1);
            if (k > 0) {
                add_seed(enc, (size_t)k);
            }
        }
    }
    free(plain);
    free(enc);
}

static const uint32_t interesting[] = {
    0,   1,    2,    3,     4,     15,         16,         17,         128,       255,
    256, 1024, 4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

/* One mutated copy of a seed into buf (capacity cap); returns its size. */
static size_t
mutate(uint8_t *buf, size_t cap, const frame_t *seed)
{
    size_t n = seed->size < cap ? seed->size : cap;
    memcpy(buf, seed->data, n);
    int nmut = 1 + (int)(rng() % 4);
    for (int m = 0; m < nmut; m++) {
        /* Mostly the header and the block starts, where the parser looks. */
        size_t hot = FUZZ_HEADER + 4 * 64;
        size_t span = rng() % 2 && n > hot ? hot : n;
        size_t at = span ? rng() % span : 0;
        switch (rng() % 8) {
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
                    at = rng() % 2 ? at & ~(size_t)3 : at;
                    uint32_t v = interesting[rng() % (sizeof(interesting) /
                                                      sizeof(*interesting))];
                    if (rng() % 3 == 0) {
                        v = rd32(buf + at) + (uint32_t)(rng() % 33) - 16;
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
            case 6:
                if (n > 32) { /* copy a range over another */
                    size_t a = rng() % n, b = rng() % n, len = rng() % (n / 4 + 1);
                    len = len > n - a ? n - a : len;
                    len = len > n - b ? n - b : len;
                    memmove(buf + a, buf + b, len);
                }
                break;
            default:
                if (n > FUZZ_HEADER) { /* a flags byte c-blosc and we both read */
                    buf[2] ^= (uint8_t)(1u << (rng() % 8));
                }
                break;
        }
    }
    /* Usually keep the sizes consistent, so that the parser goes on. */
    if (n >= FUZZ_HEADER && rng() % 4 != 0) {
        wr32(buf + 12, (uint32_t)n);
    }
    return n;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path);

/* Every file of a folder, in name order; a folder that does not exist
 * (tests/c/fuzz/crashes/blosc_frame/ before it holds a reproducer) is
 * skipped. */
static int
run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof(*names));
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return bad;
}

static int nfiles;

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
    nfiles++;
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    long iterations = 300000;
    unsigned long long seed = 1;
    int bad = 0;
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
            bad += run_path(argv[a]);
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
    size_t cap = 65536 + BLOSC_MAX_OVERHEAD + 64;
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
        "fuzz_blosc_frame: %d files, %d seed frames, %ld mutated inputs (seed %llu): "
        "no crash\n",
        nfiles, nseeds, iterations, seed);
    return bad ? 1 : 0;
}

#endif /* CW_LIBFUZZER */
