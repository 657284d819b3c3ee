/*
 * test_storage.c -- C tests of the chunkwise library, without Python.
 *
 * Sources: memory, generators and HDF5 (selections read, stores read
 * back, open and read errors, corrupt chunks); direct reads of a file.
 */
#include <blosc.h>
#include <fcntl.h>
#include <hdf5.h>

#include "runner.h"
#include "storage_impl.h"

/* Reference: element (i0,i1,i2) of a selection over a C-contiguous int32
 * 3-d array of shape sh. */
static int32_t
ref_at(const int32_t *a, const int64_t *sh, const cw_sel_t *sel, const int64_t *j)
{
    int64_t idx = 0;
    for (int d = 0; d < 3; d++) {
        idx = idx * sh[d] + sel->start[d] + j[d] * sel->step[d];
    }
    return a[idx];
}

static void
random_sel(const int64_t *shape, int ndim, cw_sel_t *sel)
{
    memset(sel, 0, sizeof(*sel));
    sel->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        int64_t n = shape[d];
        int64_t step = (int64_t)(rng() % 7) + 1;
        if (rng() % 3 == 0) {
            step = -step;
        }
        int64_t start = (int64_t)(rng() % (uint64_t)n);
        int64_t maxcount = step > 0 ? (n - 1 - start) / step + 1 : start / -step + 1;
        sel->start[d] = start;
        sel->step[d] = step;
        sel->count[d] = 1 + (int64_t)(rng() % (uint64_t)maxcount);
    }
}

/* Compare cw_read of a selection with the reference, into a C-contiguous
 * output. */
static int
check_sel(cw_source_t *src, const int32_t *a, const int64_t *sh, const cw_sel_t *sel,
          int threads)
{
    int64_t n = sel->count[0] * sel->count[1] * sel->count[2];
    int32_t *out = malloc((size_t)n * sizeof(*out));
    int64_t strides[3] = {sel->count[1] * sel->count[2] * 4, sel->count[2] * 4, 4};
    cw_config_t cfg = {.threads = threads, .memory_limit = 1 << 26};
    int rc = cw_read(src, sel, out, strides, &cfg);
    int bad = rc != CW_OK;
    int64_t j[3];
    for (j[0] = 0; !bad && j[0] < sel->count[0]; j[0]++) {
        for (j[1] = 0; !bad && j[1] < sel->count[1]; j[1]++) {
            for (j[2] = 0; !bad && j[2] < sel->count[2]; j[2]++) {
                int64_t k = (j[0] * sel->count[1] + j[1]) * sel->count[2] + j[2];
                bad = out[k] != ref_at(a, sh, sel, j);
            }
        }
    }
    free(out);
    return bad ? (rc < 0 ? rc : -100) : CW_OK;
}

static void
test_memory_source_selections(void)
{
    int64_t sh[3] = {23, 17, 9};
    int64_t n = sh[0] * sh[1] * sh[2];
    int32_t *a = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        a[i] = (int32_t)(i * 7 + 3);
    }
    int64_t strides[3] = {sh[1] * sh[2] * 4, sh[2] * 4, 4};
    int64_t chunks[3] = {5, 4, 9};
    cw_source_t *src = NULL;
    ASSERT_OK(cw_source_from_memory(a, 3, sh, strides, CW_INT32, chunks, &src));
    for (int it = 0; it < 200; it++) {
        cw_sel_t sel;
        random_sel(sh, 3, &sel);
        ASSERT_OK(check_sel(src, a, sh, &sel, 1 + it % 2));
    }
    cw_source_free(src);
    free(a);
}

static void
test_generators(void)
{
    cw_source_t *src = NULL;
    int64_t n = 10, chunk = 3;
    /* numpy.arange(5, 5 + 10*-3, -3, dtype=int16) */
    ASSERT_OK(cw_source_new_arange(n, 5, -3, 0, 0, CW_INT16, &chunk, &src));
    int16_t out[10];
    cw_sel_t sel;
    cw_sel_all(src, &sel);
    int64_t st[1] = {2};
    ASSERT_OK(cw_read(src, &sel, out, st, NULL));
    for (int i = 0; i < 10; i++) {
        ASSERT_EQ(out[i], 5 - 3 * i);
    }
    cw_source_free(src);
    ASSERT_EQ(cw_source_new_arange(3, 0, 1, 0, 0, CW_BOOL, NULL, &src), CW_ETYPE);
    ASSERT_TRUE(src == NULL);

    int64_t shape[2] = {4, 5};
    double v = 2.5, buf[20];
    ASSERT_OK(cw_source_new_full(2, shape, CW_FLOAT64, &v, NULL, &src));
    cw_sel_all(src, &sel);
    int64_t st2[2] = {40, 8};
    ASSERT_OK(cw_read(src, &sel, buf, st2, NULL));
    for (int i = 0; i < 20; i++) {
        ASSERT_TRUE(buf[i] == 2.5);
    }
    cw_source_free(src);
    cw_source_free(NULL);
}

/* Store a memory source with each codec, reopen, read back selections. */
static void
test_hdf5_roundtrip(void)
{
    int64_t sh[3] = {31, 20, 7};
    int64_t n = sh[0] * sh[1] * sh[2];
    int32_t *a = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        a[i] = (int32_t)(i % 1000) - 500;
    }
    int64_t strides[3] = {sh[1] * sh[2] * 4, sh[2] * 4, 4};
    cw_source_t *mem = NULL, *h = NULL;
    ASSERT_OK(cw_source_from_memory(a, 3, sh, strides, CW_INT32, NULL, &mem));
    char path[512];
    path_in_tmp(path, sizeof(path), "roundtrip.h5");
    struct {
        cw_codec_t codec;
        const char *blosc;
        bool shuffle;
        const char *name;
    } cases[] = {
        {CW_CODEC_BLOSC, "lz4", true, "/b/lz4"},
        {CW_CODEC_BLOSC, "zstd", false, "/b/zstd"},
        {CW_CODEC_DEFLATE, NULL, true, "/gz/shuf"},
        {CW_CODEC_DEFLATE, NULL, false, "/gz/plain"},
        {CW_CODEC_NONE, NULL, false, "/raw"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) {
        cw_sel_t sel;
        cw_sel_all(mem, &sel);
        cw_store_opts_t o;
        memset(&o, 0, sizeof(o));
        o.ndim = 3;
        for (int d = 0; d < 3; d++) {
            o.shape[d] = sh[d];
            o.src_dim[d] = d;
        }
        o.chunks[0] = 8;
        o.chunks[1] = 6;
        o.chunks[2] = 7;
        o.codec = cases[k].codec;
        o.blosc_codec = cases[k].blosc;
        o.level = 5;
        o.shuffle = cases[k].shuffle;
        cw_config_t cfg = {.threads = 2, .memory_limit = 1 << 24};
        ASSERT_OK(cw_store(mem, &sel, path, cases[k].name, &o, &cfg));
        ASSERT_EQ(cw_store(mem, &sel, path, cases[k].name, &o, &cfg), CW_EEXIST);
        ASSERT_OK(cw_source_open_hdf5(path, cases[k].name, &h));
        ASSERT_EQ(cw_source_dtype(h), CW_INT32);
        ASSERT_EQ(cw_source_chunks(h)[1], 6);
        for (int it = 0; it < 40; it++) {
            random_sel(sh, 3, &sel);
            ASSERT_OK(check_sel(h, a, sh, &sel, 1 + it % 2));
        }
        cw_source_free(h);
        h = NULL;
    }
    cw_source_free(mem);
    free(a);
}

static void
test_errors(void)
{
    cw_source_t *src = NULL;
    char path[512];
    ASSERT_EQ(cw_source_open_hdf5("/nonexistent/x.h5", "/a", &src), CW_ENOENT);
    ASSERT_TRUE(src == NULL);
    path_in_tmp(path, sizeof(path), "roundtrip.h5");
    ASSERT_EQ(cw_source_open_hdf5(path, "/missing", &src), CW_ENOKEY);
    ASSERT_EQ(cw_source_open_hdf5(path, "/nogroup/x", &src), CW_ENOKEY);
    ASSERT_EQ(cw_source_open_hdf5(path, "/b", &src), CW_ETYPE);
    ASSERT_TRUE(strstr(cw_errmsg(), "group") != NULL);
    /* A text file is not HDF5. */
    path_in_tmp(path, sizeof(path), "text.h5");
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    ASSERT_EQ(cw_source_open_hdf5(path, "/a", &src), CW_EIO);

    /* Selections out of range; a budget too small for one chunk. */
    int64_t shape[2] = {10, 10}, chunks[2] = {5, 5};
    ASSERT_OK(cw_source_new_full(2, shape, CW_INT8, NULL, chunks, &src));
    cw_sel_t sel;
    cw_sel_all(src, &sel);
    sel.count[0] = 11;
    int8_t out[200];
    int64_t st[2] = {10, 1};
    ASSERT_EQ(cw_read(src, &sel, out, st, NULL), CW_EINDEX);
    sel.count[0] = 4;
    sel.start[0] = 9;
    sel.step[0] = -3;
    ASSERT_OK(cw_read(src, &sel, out, st, NULL));
    sel.count[0] = 5;
    ASSERT_EQ(cw_read(src, &sel, out, st, NULL), CW_EINDEX);
    cw_source_free(src);

    path_in_tmp(path, sizeof(path), "h5roundtrip-budget.h5");
    ASSERT_OK(cw_source_new_full(2, shape, CW_INT8, NULL, chunks, &src));
    cw_sel_all(src, &sel);
    cw_store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.ndim = 2;
    o.shape[0] = o.shape[1] = 10;
    o.src_dim[1] = 1;
    o.chunks[0] = o.chunks[1] = 10;
    o.codec = CW_CODEC_BLOSC;
    o.blosc_codec = "lz4";
    cw_config_t cfg = {.threads = 2, .memory_limit = 50};
    ASSERT_EQ(cw_store(src, &sel, path, "/x", &o, &cfg), CW_EBUDGET);
    ASSERT_TRUE(access(path, F_OK) != 0); /* nothing left behind */
    o.blosc_codec = "nope";
    cfg.memory_limit = 1 << 20;
    ASSERT_EQ(cw_store(src, &sel, path, "/x", &o, &cfg), CW_EINVAL);
    cw_source_free(src);
}

/* Overwrite the stored bytes of one chunk: the read names that chunk. */
static void
test_corrupt_chunk(void)
{
    int64_t shape[2] = {40, 40}, chunks[2] = {10, 40};
    int64_t n = 1600;
    float *a = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        a[i] = (float)(i % 17);
    }
    int64_t strides[2] = {160, 4};
    cw_source_t *mem = NULL, *h = NULL;
    ASSERT_OK(cw_source_from_memory(a, 2, shape, strides, CW_FLOAT32, chunks, &mem));
    char path[512];
    path_in_tmp(path, sizeof(path), "corrupt.h5");
    cw_sel_t sel;
    cw_sel_all(mem, &sel);
    cw_store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.ndim = 2;
    o.shape[0] = o.shape[1] = 40;
    o.src_dim[1] = 1;
    o.codec = CW_CODEC_BLOSC;
    o.blosc_codec = "lz4";
    o.level = 5;
    o.shuffle = true;
    ASSERT_OK(cw_store(mem, &sel, path, "/x", &o, NULL));
    /* Find chunk (2, 0) in the file with HDF5 itself. */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dset = H5Dopen2(file, "/x", H5P_DEFAULT);
    hsize_t off[2] = {20, 0}, size = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    ASSERT_TRUE(H5Dget_chunk_info_by_coord(dset, off, &mask, &addr, &size) >= 0);
    H5Dclose(dset);
    H5Fclose(file);
    int fd = open(path, O_WRONLY);
    unsigned char junk[32];
    memset(junk, 0x5a, sizeof(junk));
    ASSERT_EQ(pwrite(fd, junk, sizeof(junk), (off_t)addr), (long long)sizeof(junk));
    close(fd);
    ASSERT_OK(cw_source_open_hdf5(path, "/x", &h));
    float out[1600];
    int64_t st[2] = {160, 4};
    cw_sel_all(h, &sel);
    cw_config_t cfg = {.threads = 2};
    ASSERT_EQ(cw_read(h, &sel, out, st, &cfg), CW_ECORRUPT);
    ASSERT_TRUE(strstr(cw_errmsg(), "chunk (2, 0)") != NULL);
    /* Rows outside the corrupt chunk still read. */
    sel.count[0] = 20;
    ASSERT_OK(cw_read(h, &sel, out, st, &cfg));
    ASSERT_TRUE(out[399] == a[399]);
    cw_source_free(h);
    cw_source_free(mem);
    free(a);
}

/* A reshape and a gather of a memory source in chunks that split every
 * axis, read whole and with negative steps; their argument checks. */
static void
test_reshape_and_gather(void)
{
    int32_t a[24];
    for (int i = 0; i < 24; i++) {
        a[i] = 3 * i - 7;
    }
    int64_t sh[2] = {6, 4}, st[2] = {16, 4}, ch[2] = {4, 3};
    cw_source_t *mem = NULL, *r = NULL, *g = NULL, *bad = NULL;
    ASSERT_OK(cw_source_from_memory(a, 2, sh, st, CW_INT32, ch, &mem));
    int64_t rs[3] = {2, 3, 4};
    ASSERT_OK(cw_source_reshape(mem, 3, rs, &r));
    cw_config_t cfg = {.threads = 2, .memory_limit = 1 << 20};
    int32_t out[24];
    int64_t ost[3] = {48, 16, 4};
    cw_sel_t sel;
    cw_sel_all(r, &sel);
    ASSERT_OK(cw_read(r, &sel, out, ost, &cfg));
    for (int i = 0; i < 24; i++) {
        ASSERT_EQ(out[i], a[i]);
    }
    /* r[::-1, 2, ::-2]: elements (1 - i, 2, 3 - 2k). */
    sel.start[0] = 1, sel.step[0] = -1, sel.count[0] = 2;
    sel.start[1] = 2, sel.step[1] = 1, sel.count[1] = 1;
    sel.start[2] = 3, sel.step[2] = -2, sel.count[2] = 2;
    int64_t sst[3] = {8, 0, 4};
    ASSERT_OK(cw_read(r, &sel, out, sst, &cfg));
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            ASSERT_EQ(out[i * 2 + k], a[(1 - i) * 12 + 2 * 4 + 3 - 2 * k]);
        }
    }
    int64_t wrong[1] = {25};
    ASSERT_EQ(cw_source_reshape(mem, 1, wrong, &bad), CW_EINVAL);
    ASSERT_TRUE(bad == NULL);
    /* a[[5, 0, 2]] as a gather: table axis 0, input axis 1 shown whole. */
    int64_t t0[3] = {5, 0, 2}, gs[2] = {3, 4};
    const int64_t *tabs[1] = {t0};
    int map[2] = {-1, 1};
    ASSERT_OK(cw_source_gather(mem, 2, gs, map, 1, tabs, 0, 1, &g));
    cw_sel_all(g, &sel);
    ASSERT_OK(cw_read(g, &sel, out, st, &cfg));
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 4; k++) {
            ASSERT_EQ(out[i * 4 + k], a[t0[i] * 4 + k]);
        }
    }
    int64_t t1[3] = {5, 6, 2};
    tabs[0] = t1;
    ASSERT_EQ(cw_source_gather(mem, 2, gs, map, 1, tabs, 0, 1, &bad), CW_EINDEX);
    ASSERT_TRUE(bad == NULL);
    int badmap[2] = {-1, 0};
    tabs[0] = t0;
    ASSERT_EQ(cw_source_gather(mem, 2, gs, badmap, 1, tabs, 0, 1, &bad), CW_EINVAL);
    cw_source_free(g);
    cw_source_free(r);
    cw_source_free(mem);
}

/* Direct reads (storage/dio.c) of a file in cw_tmpdir: the bytes asked for
 * at any offset and length, a range past the end failing as a truncated
 * file, the page-cache check, and the buffered fallback once a direct
 * read fails with EINVAL. */
static void
test_direct_reads(void)
{
    char path[512];
    path_in_tmp(path, sizeof(path), "dio.bin");
    size_t n = 3 * 65536 + 123;
    unsigned char *data = malloc(n);
    ASSERT_TRUE(data != NULL);
    for (size_t i = 0; i < n; i++) {
        data[i] = (unsigned char)rng();
    }
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, data, n), (ssize_t)n);
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
    int bfd = open(path, O_RDONLY);
    ASSERT_TRUE(bfd >= 0);
    cw__dio_t d;
    cw__dio_open(&d, path, bfd);
    bool avail = cw__dio_available(&d);
    printf("  (O_DIRECT on %s: %s, alignment %zu)\n", cw_tmpdir, avail ? "yes" : "no",
           d.align);
    void *buf = NULL;
    size_t cap = 0;
    const unsigned char *p;
    bool direct;
    const size_t cases[][2] = {{0, 4096},  {1, 1},     {4095, 2}, {777, 70000},
                               {n - 5, 5}, {0, n},     {n, 0},    {65536, 65536},
                               {n - 1, 1}, {513, 1023}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t off = cases[k][0], len = cases[k][1];
        ASSERT_OK(cw__dio_read(&d, off, len, &buf, &cap, &p, &direct));
        ASSERT_EQ(direct, avail);
        ASSERT_TRUE(len == 0 || memcmp(p, data + off, len) == 0);
        if (direct) {
            ASSERT_EQ(((uintptr_t)p - off % d.align) % d.align, 0);
        }
    }
    /* Past the end: the error a buffered read gives. */
    ASSERT_EQ(cw__dio_read(&d, n - 10, 20, &buf, &cap, &p, &direct), CW_EIO);
    ASSERT_TRUE(strstr(cw_errmsg(), "file truncated") != NULL);
    ASSERT_EQ(cw__dio_read(&d, n + 4096, 1, &buf, &cap, &p, &direct), CW_EIO);
    /* The page cache: read in, then dropped. */
    ASSERT_EQ(pread(bfd, data, n, 0), (ssize_t)n);
    ASSERT_TRUE(cw__dio_resident(&d, 0, n));
    ASSERT_TRUE(cw__dio_resident(&d, 5000, 10));
    ASSERT_TRUE(!cw__dio_resident(&d, n, 4096));
    ASSERT_EQ(posix_fadvise(bfd, 0, 0, POSIX_FADV_DONTNEED), 0);
    ASSERT_TRUE(!cw__dio_resident(&d, 0, n));
    if (avail) {
        /* An alignment the file system refuses: EINVAL, then buffered. */
        d.align = 1;
        ASSERT_OK(cw__dio_read(&d, 3, 5, &buf, &cap, &p, &direct));
        ASSERT_TRUE(!direct);
        ASSERT_TRUE(memcmp(p, data + 3, 5) == 0);
        ASSERT_TRUE(!cw__dio_available(&d));
        ASSERT_OK(cw__dio_read(&d, 4096, 4096, &buf, &cap, &p, &direct));
        ASSERT_TRUE(!direct);
        ASSERT_TRUE(memcmp(p, data + 4096, 4096) == 0);
    }
    cw__dio_close(&d);
    ASSERT_EQ(d.fd, -1);
    cw__free(buf);
    close(bfd);
    free(data);
    unlink(path);
}

static const cw_test_t tests[] = {
    {"memory_source_selections", test_memory_source_selections, NULL},
    {"generators", test_generators, NULL},
    {"hdf5_roundtrip", test_hdf5_roundtrip, NULL},
    {"errors", test_errors, "hdf5_roundtrip"},
    {"corrupt_chunk", test_corrupt_chunk, NULL},
    {"reshape_and_gather", test_reshape_and_gather, NULL},
    {"direct_reads", test_direct_reads, NULL},
};

CW_TEST_MAIN(tests)
