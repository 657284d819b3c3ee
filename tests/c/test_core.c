/*
 * test_core.c -- C tests of the chunkwise library, without Python.
 *
 * Statuses and their names, strided copies and fills.
 */
#include "core_impl.h"
#include "runner.h"

static void
test_status_names(void)
{
    ASSERT_TRUE(strcmp(cw_status_name(CW_ECORRUPT), "CW_ECORRUPT") == 0);
    ASSERT_TRUE(strcmp(cw_status_str(CW_OK), "success") == 0);
    ASSERT_TRUE(strcmp(cw_status_name(12345), "CW_UNKNOWN") == 0);
}

static void
test_copy_strided(void)
{
    int16_t src[6 * 5], dst[6 * 5];
    for (int i = 0; i < 30; i++) {
        src[i] = (int16_t)i;
        dst[i] = -1;
    }
    /* Transpose-like copy with a negative source stride. */
    int64_t count[2] = {5, 6};
    int64_t ds[2] = {6 * 2, 2};  /* dst is 5x6 */
    int64_t ss[2] = {-2, 5 * 2}; /* column j of src, rows walked */
    cw__copy_strided(2, count, (char *)dst, ds, (const char *)(src + 4), ss, 2);
    for (int r = 0; r < 5; r++) {
        for (int c = 0; c < 6; c++) {
            ASSERT_EQ(dst[r * 6 + c], src[4 - r + c * 5]);
        }
    }
    int32_t v = 42, buf[12];
    int64_t fc[2] = {3, 2}, fs[2] = {16, 4};
    memset(buf, 0, sizeof(buf));
    cw__fill_strided(2, fc, (char *)buf, fs, &v, 4);
    ASSERT_EQ(buf[0], 42);
    ASSERT_EQ(buf[1], 42);
    ASSERT_EQ(buf[2], 0);
    ASSERT_EQ(buf[4], 42);
    ASSERT_EQ(buf[9], 42);
    ASSERT_EQ(buf[10], 0);
}

static const cw_test_t tests[] = {
    {"status_names", test_status_names, NULL},
    {"copy_strided", test_copy_strided, NULL},
};

CW_TEST_MAIN(tests)
