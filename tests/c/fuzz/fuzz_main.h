/*
 * fuzz_main.h -- what every harness but fuzz_blosc_frame.c shares: a
 * harness defines FUZZ_NAME and LLVMFuzzerTestOneInput, then includes this
 * file last.
 *
 * Built with -DCW_LIBFUZZER (and -fsanitize=fuzzer), libFuzzer drives the
 * harness and this file adds nothing.  Otherwise it is a plain main that
 * runs the target over every file named on the command line (a folder:
 * every file in it, in name order; a folder that does not exist is
 * skipped, as tests/c/fuzz/crashes/<harness>/ is until it holds a
 * reproducer), then over inputs mutated deterministically from those
 * files:
 *
 *     fuzz_NAME [-n ITERATIONS] [--seed S] FILE|FOLDER...
 *
 * -n 0 runs the files only.  An input that crashes is written to
 * fuzz-crash-NAME-<seed>-<iteration>.bin in the working directory, for
 * tests/c/fuzz/crashes/NAME/.
 */
#ifndef CW_FUZZ_MAIN_H
#define CW_FUZZ_MAIN_H

#ifndef CW_LIBFUZZER

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 4096
#define FUZZ_MAX_INPUT ((size_t)1 << 20)

typedef struct {
    uint8_t *data;
    size_t size;
} fuzz_input_t;

static fuzz_input_t fuzz_files[FUZZ_MAX_FILES];
static int fuzz_nfiles;
static uint64_t fuzz_rng_state;

/* The input being run, written out by the crash handler. */
static const uint8_t *fuzz_cur_data;
static size_t fuzz_cur_size;
static char fuzz_crash_name[160];

static uint64_t
fuzz_rng(void)
{
    fuzz_rng_state ^= fuzz_rng_state << 13;
    fuzz_rng_state ^= fuzz_rng_state >> 7;
    fuzz_rng_state ^= fuzz_rng_state << 17;
    return fuzz_rng_state;
}

static void
fuzz_on_crash(int sig)
{
    if (fuzz_cur_data != NULL) {
        int fd = open(fuzz_crash_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            size_t done = 0;
            while (done < fuzz_cur_size) {
                ssize_t k = write(fd, fuzz_cur_data + done, fuzz_cur_size - done);
                if (k <= 0) {
                    break;
                }
                done += (size_t)k;
            }
            close(fd);
            static const char msg[] = FUZZ_NAME ": crashing input written to ";
            ssize_t w = write(2, msg, sizeof(msg) - 1);
            w = write(2, fuzz_crash_name, strlen(fuzz_crash_name));
            w = write(2, "\n", 1);
            (void)w;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Run the target on an exact-size copy, so that reads past the end are
 * caught by the sanitizers. */
static void
fuzz_run(const uint8_t *data, size_t size)
{
    uint8_t *in = malloc(size ? size : 1);
    if (in == NULL) {
        abort();
    }
    memcpy(in, data, size);
    fuzz_cur_data = in;
    fuzz_cur_size = size;
    LLVMFuzzerTestOneInput(in, size);
    fuzz_cur_data = NULL;
    free(in);
}

static int
fuzz_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 4096, n = 0, k;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (k = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    if (buf == NULL || n > FUZZ_MAX_INPUT) {
        fprintf(stderr, "%s: %s\n", path, buf == NULL ? "out of memory" : "too large");
        free(buf);
        return 1;
    }
    if (fuzz_nfiles < FUZZ_MAX_FILES) {
        fuzz_files[fuzz_nfiles].data = buf;
        fuzz_files[fuzz_nfiles].size = n;
        fuzz_nfiles++;
    }
    else {
        free(buf);
    }
    return 0;
}

static int
fuzz_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
fuzz_read_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0; /* a folder of reproducers not made yet */
        }
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return fuzz_read_file(path);
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
    qsort(names, n, sizeof(*names), fuzz_cmp_names);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += fuzz_read_file(names[i]);
        free(names[i]);
    }
    free(names);
    return bad;
}

static const uint32_t fuzz_interesting[] = {
    0,    1,     2,     3,          4,          7,          8,         15,  16,
    17,   31,    32,    64,         127,        128,        255,       256, 1024,
    4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

/* One mutated copy of `seed` into buf (capacity cap); returns its size. */
static size_t
fuzz_mutate(uint8_t *buf, size_t cap, const fuzz_input_t *seed)
{
    size_t n = seed->size < cap ? seed->size : cap;
    memcpy(buf, seed->data, n);
    int nmut = 1 + (int)(fuzz_rng() % 4);
    for (int m = 0; m < nmut; m++) {
        /* Half of the mutations near the start, where headers are. */
        size_t span = fuzz_rng() % 2 && n > 64 ? 64 : n;
        size_t at = span ? fuzz_rng() % span : 0;
        switch (fuzz_rng() % 7) {
            case 0:
                if (n) {
                    buf[at] ^= (uint8_t)(1u << (fuzz_rng() % 8));
                }
                break;
            case 1:
                if (n) {
                    buf[at] = (uint8_t)fuzz_rng();
                }
                break;
            case 2:
            case 3:
                if (n >= 4) {
                    at = at > n - 4 ? n - 4 : at;
                    uint32_t v =
                        fuzz_interesting[fuzz_rng() % (sizeof(fuzz_interesting) /
                                                       sizeof(*fuzz_interesting))];
                    if (fuzz_rng() % 3 == 0) {
                        v = (uint32_t)(buf[at] | buf[at + 1] << 8) +
                            (uint32_t)(fuzz_rng() % 33) - 16;
                    }
                    int big = (int)(fuzz_rng() % 2);
                    for (int i = 0; i < 4; i++) {
                        buf[at + (size_t)(big ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
                    }
                }
                break;
            case 4:
                n = n ? (size_t)(fuzz_rng() % n) : 0; /* truncate */
                break;
            case 5: {
                size_t more = (size_t)(fuzz_rng() % 64); /* append */
                for (size_t i = 0; i < more && n < cap; i++) {
                    buf[n++] = (uint8_t)fuzz_rng();
                }
                break;
            }
            default:
                if (n > 16) { /* copy a range over another */
                    size_t a = fuzz_rng() % n, b = fuzz_rng() % n,
                           len = fuzz_rng() % (n / 4 + 1);
                    len = len > n - a ? n - a : len;
                    len = len > n - b ? n - b : len;
                    memmove(buf + a, buf + b, len);
                }
                break;
        }
    }
    return n;
}

int
main(int argc, char **argv)
{
    long iterations = 100000;
    unsigned long long seed = 1;
    int bad = 0;
    signal(SIGSEGV, fuzz_on_crash);
    signal(SIGBUS, fuzz_on_crash);
    signal(SIGABRT, fuzz_on_crash);
    signal(SIGFPE, fuzz_on_crash);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            iterations = atol(argv[++a]);
        }
        else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
            seed = strtoull(argv[++a], NULL, 10);
        }
        else {
            bad += fuzz_read_path(argv[a]);
        }
    }
    for (int i = 0; i < fuzz_nfiles; i++) {
        snprintf(fuzz_crash_name, sizeof(fuzz_crash_name),
                 "fuzz-crash-" FUZZ_NAME "-file%d.bin", i);
        fuzz_run(fuzz_files[i].data, fuzz_files[i].size);
    }
    fuzz_rng_state = 0x9E3779B97F4A7C15ULL ^ (seed * 0xBF58476D1CE4E5B9ULL);
    if (fuzz_rng_state == 0) {
        fuzz_rng_state = 1;
    }
    size_t cap = 1 << 16;
    for (int i = 0; i < fuzz_nfiles; i++) {
        cap = fuzz_files[i].size + 64 > cap ? fuzz_files[i].size + 64 : cap;
    }
    uint8_t *buf = malloc(cap);
    long done = 0;
    for (; done < iterations && fuzz_nfiles > 0 && buf != NULL; done++) {
        size_t n =
            fuzz_mutate(buf, cap, &fuzz_files[fuzz_rng() % (uint64_t)fuzz_nfiles]);
        snprintf(fuzz_crash_name, sizeof(fuzz_crash_name),
                 "fuzz-crash-" FUZZ_NAME "-%llu-%ld.bin", seed, done);
        fuzz_run(buf, n);
    }
    free(buf);
    for (int i = 0; i < fuzz_nfiles; i++) {
        free(fuzz_files[i].data);
    }
    if (fuzz_nfiles == 0) {
        fprintf(stderr, FUZZ_NAME ": no input files\n");
        bad++;
    }
    printf(FUZZ_NAME ": %d files, %ld mutated inputs (seed %llu): %s\n", fuzz_nfiles,
           done, seed, bad ? "errors" : "no crash");
    return bad ? 1 : 0;
}

#endif /* CW_LIBFUZZER */
#endif
