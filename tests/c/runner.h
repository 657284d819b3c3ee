/*
 * runner.h -- the C tests' assertions and runner, without Python.
 *
 * Each tests/c/test_*.c is one executable with a table of tests:
 *
 *     static const cw_test_t tests[] = {{"name", test_name, NULL}, ...};
 *     CW_TEST_MAIN(tests)
 *
 * run with no arguments it runs every test; with names, only those (and,
 * first, the tests they need); with --list it prints the names.  ASSERT_*
 * macros print both operands and work whatever NDEBUG says; a failed
 * assertion ends its test.  Files go to a temporary directory (cw_tmpdir,
 * path_in_tmp) that the runner creates and removes.
 */
#ifndef CW_TESTS_RUNNER_H
#define CW_TESTS_RUNNER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkwise.h"

static int failures;
static char cw_tmpdir[256];

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_) {                                                        \
            fprintf(stderr, "%s:%d: ASSERT_EQ(%s, %s) failed: %lld != %lld\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                       \
            fprintf(stderr, "  last error: %s\n", cw_errmsg());                \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_OK(expr) ASSERT_EQ((expr), CW_OK)

#define ASSERT_TRUE(c)                                                             \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: ASSERT_TRUE(%s) failed\n", __FILE__, __LINE__, \
                    #c);                                                           \
            failures++;                                                            \
            return;                                                                \
        }                                                                          \
    } while (0)

/* One test: its name on the command line, its function, and the name of a
 * test of the same table whose files it reads (run first when this one is
 * asked for alone), or NULL. */
typedef struct {
    const char *name;
    void (*fn)(void);
    const char *needs;
} cw_test_t;

/* xorshift64: the same deterministic sequence in every run. */
static uint64_t rng_state = 88172645463325252ULL;

static inline uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static inline void
path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", cw_tmpdir, name);
}

static int
cw_test_find(const cw_test_t *tests, int ntests, const char *name)
{
    for (int i = 0; i < ntests; i++) {
        if (strcmp(tests[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Run test i (after the one it needs) unless it has run; 1 if it failed. */
static int
cw_test_run_one(const cw_test_t *tests, int ntests, int i, char *done)
{
    int failed = 0;
    if (done[i]) {
        return 0;
    }
    done[i] = 1;
    if (tests[i].needs != NULL) {
        int j = cw_test_find(tests, ntests, tests[i].needs);
        if (j >= 0) {
            failed += cw_test_run_one(tests, ntests, j, done);
        }
    }
    int before = failures;
    tests[i].fn();
    int ok = failures == before;
    printf("%-28s %s\n", tests[i].name, ok ? "ok" : "FAILED");
    fflush(stdout);
    return failed + !ok;
}

static int
cw_test_main(int argc, char **argv, const cw_test_t *tests, int ntests)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < ntests; i++) {
            printf("%s\n", tests[i].name);
        }
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        if (cw_test_find(tests, ntests, argv[a]) < 0) {
            fprintf(stderr, "%s: no test named '%s' (--list lists them)\n", argv[0],
                    argv[a]);
            return 2;
        }
    }
    snprintf(cw_tmpdir, sizeof(cw_tmpdir), "/tmp/chunkwise-ctest-XXXXXX");
    if (mkdtemp(cw_tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    char *done = calloc((size_t)ntests, 1);
    if (done == NULL) {
        perror("calloc");
        return 2;
    }
    int failed = 0;
    if (argc > 1) {
        for (int a = 1; a < argc; a++) {
            failed += cw_test_run_one(tests, ntests,
                                      cw_test_find(tests, ntests, argv[a]), done);
        }
    }
    else {
        for (int i = 0; i < ntests; i++) {
            failed += cw_test_run_one(tests, ntests, i, done);
        }
    }
    int ran = 0;
    for (int i = 0; i < ntests; i++) {
        ran += done[i];
    }
    free(done);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cw_tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", cw_tmpdir);
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed ? 1 : 0;
}

#define CW_TEST_MAIN(table)                                           \
    int main(int argc, char **argv)                                   \
    {                                                                 \
        return cw_test_main(argc, argv, (table),                      \
                            (int)(sizeof(table) / sizeof(*(table)))); \
    }

#endif /* CW_TESTS_RUNNER_H */
