/*
 * test_alloc_failures.c -- C tests of the chunkwise library, without Python.
 *
 * Allocation-failure injection (cw__testing_fail_alloc_after): needs
 * the library built with -Dtesting-hooks=true (tests/sanitize.sh does).
 */
#include "core_impl.h"
#include "runner.h"

#ifndef CW_TESTING_HOOKS
#error "test_alloc_failures.c needs the library built with -Dtesting-hooks=true"
#endif

/* Make the n-th allocation fail for growing n: every run either succeeds
 * or reports CW_ENOMEM; nothing crashes or leaks (checked under ASan). */
static void
test_alloc_failures(void)
{
    int64_t sh[2] = {50, 30};
    int32_t a[1500];
    for (int i = 0; i < 1500; i++) {
        a[i] = i;
    }
    int64_t strides[2] = {120, 4};
    char path[512];
    for (long k = 0; k < 60; k++) {
        snprintf(path, sizeof(path), "%s/alloc-%ld.h5", cw_tmpdir, k);
        cw_source_t *mem = NULL;
        cw__testing_fail_alloc_after(k);
        int rc = cw_source_from_memory(a, 2, sh, strides, CW_INT32, NULL, &mem);
        if (rc == CW_OK) {
            cw_sel_t sel;
            cw_sel_all(mem, &sel);
            cw_store_opts_t o;
            memset(&o, 0, sizeof(o));
            o.ndim = 2;
            o.shape[0] = 50;
            o.shape[1] = 30;
            o.src_dim[1] = 1;
            o.chunks[0] = 7;
            o.chunks[1] = 30;
            o.codec = CW_CODEC_BLOSC;
            o.blosc_codec = "lz4";
            cw_config_t cfg = {.threads = 2};
            rc = cw_store(mem, &sel, path, "/x", &o, &cfg);
            if (rc == CW_OK) {
                cw_source_t *h = NULL;
                rc = cw_source_open_hdf5(path, "/x", &h);
                if (rc == CW_OK) {
                    int32_t out[1500];
                    rc = cw_read(h, &sel, out, strides, &cfg);
                    if (rc == CW_OK) {
                        ASSERT_TRUE(memcmp(out, a, sizeof(a)) == 0);
                    }
                }
                cw_source_free(h);
            }
        }
        cw__testing_fail_alloc_after(-1);
        ASSERT_TRUE(rc == CW_OK || rc == CW_ENOMEM);
        cw_source_free(mem);
        unlink(path);
    }
}

static const cw_test_t tests[] = {
    {"alloc_failures", test_alloc_failures, NULL},
};

CW_TEST_MAIN(tests)
