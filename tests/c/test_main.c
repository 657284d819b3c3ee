/*
 * test_main.c -- C tests of the chunkwise library, without Python.
 *
 * One runner with a table of tests.  ASSERT_* macros print both operands
 * and work whatever NDEBUG says.  Files go to a temporary directory that
 * the runner creates and removes.
 */
#include <fcntl.h>
#include <blosc.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkwise.h"
#include "core_impl.h"
#include "storage_impl.h"

static int failures;
static char tmpdir[256];

#define ASSERT_EQ(a, b)                                                       \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            fprintf(stderr, "%s:%d: ASSERT_EQ(%s, %s) failed: %lld != %lld\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                      \
            fprintf(stderr, "  last error: %s\n", cw_errmsg());               \
            failures++;                                                       \
            return;                                                           \
        }                                                                     \
    } while (0)

#define ASSERT_OK(expr) ASSERT_EQ((expr), CW_OK)

#define ASSERT_TRUE(c)                                                        \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "%s:%d: ASSERT_TRUE(%s) failed\n", __FILE__,      \
                    __LINE__, #c);                                            \
            failures++;                                                       \
            return;                                                           \
        }                                                                     \
    } while (0)

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void
path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

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

/* ------------------------------------------------------------------ tests */

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
    int64_t ds[2] = {6 * 2, 2};      /* dst is 5x6 */
    int64_t ss[2] = {-2, 5 * 2};     /* column j of src, rows walked */
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
    cw__scratch_t s;
    cw__scratch_init(&s);
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
                    size_t start = (size_t)enc[16 + 4 * j] | (size_t)enc[17 + 4 * j] << 8 |
                                   (size_t)enc[18 + 4 * j] << 16 |
                                   (size_t)enc[19 + 4 * j] << 24;
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
    cw__scratch_destroy(&s);
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
    ASSERT_TRUE(access(path, F_OK) != 0);  /* nothing left behind */
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

static int poll_calls;

static int
cancel_poll(void *data, int64_t done, int64_t total)
{
    (void)data;
    (void)done;
    (void)total;
    poll_calls++;
    return 1;
}

static void
test_cancel_store(void)
{
    int64_t shape[2] = {2000, 1000}, chunks[2] = {10, 1000};
    cw_source_t *src = NULL;
    ASSERT_OK(cw_source_new_arange(0, 0, 1, 0, 0, CW_INT32, NULL, &src));
    cw_source_free(src);
    ASSERT_OK(cw_source_new_full(2, shape, CW_INT32, NULL, chunks, &src));
    char path[512];
    path_in_tmp(path, sizeof(path), "cancelled.h5");
    cw_sel_t sel;
    cw_sel_all(src, &sel);
    cw_store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.ndim = 2;
    o.shape[0] = 2000;
    o.shape[1] = 1000;
    o.src_dim[1] = 1;
    o.codec = CW_CODEC_DEFLATE;
    o.level = 9;
    cw_config_t cfg = {.threads = 2, .poll = cancel_poll};
    int rc = cw_store(src, &sel, path, "/x", &o, &cfg);
    ASSERT_EQ(rc, CW_ECANCEL);
    ASSERT_TRUE(poll_calls > 0);
    ASSERT_TRUE(access(path, F_OK) != 0);
    cw_source_free(src);
}

#ifdef CW_TESTING_HOOKS
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
        snprintf(path, sizeof(path), "%s/alloc-%ld.h5", tmpdir, k);
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
#endif

/* NumPy-shaped inner loops for the expression tests. */
static void
loop_add_f64(char **args, const intptr_t *n, const intptr_t *steps, void *data)
{
    (void)data;
    for (intptr_t i = 0; i < *n; i++) {
        *(double *)(args[2] + i * steps[2]) =
            *(double *)(args[0] + i * steps[0]) + *(double *)(args[1] + i * steps[1]);
    }
}

static void
loop_mul_f64(char **args, const intptr_t *n, const intptr_t *steps, void *data)
{
    (void)data;
    for (intptr_t i = 0; i < *n; i++) {
        *(double *)(args[2] + i * steps[2]) =
            *(double *)(args[0] + i * steps[0]) * *(double *)(args[1] + i * steps[1]);
    }
}

/* (x + y[None, :]) * 0.5 over a stored x and an in-memory y: read, reduce
 * along each axis, store; compared with a direct computation. */
static void
test_expr(void)
{
    enum { R = 53, C = 37 };
    static double x[R * C], y[C], out[R * C], ref[R * C];
    for (int i = 0; i < R * C; i++) {
        x[i] = (double)(i % 101) - 50.0;
    }
    for (int j = 0; j < C; j++) {
        y[j] = 0.25 * j;
    }
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < C; j++) {
            ref[i * C + j] = (x[i * C + j] + y[j]) * 0.5;
        }
    }
    int64_t xs[2] = {R, C}, xst[2] = {C * 8, 8}, xch[2] = {10, 8};
    int64_t ys[1] = {C}, yst[1] = {8};
    cw_source_t *mx = NULL, *my = NULL, *hx = NULL;
    ASSERT_OK(cw_source_from_memory(x, 2, xs, xst, CW_FLOAT64, xch, &mx));
    ASSERT_OK(cw_source_from_memory(y, 1, ys, yst, CW_FLOAT64, NULL, &my));
    char path[512];
    path_in_tmp(path, sizeof(path), "expr.h5");
    cw_sel_t sel;
    cw_sel_all(mx, &sel);
    cw_store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.ndim = 2;
    o.shape[0] = R;
    o.shape[1] = C;
    o.src_dim[1] = 1;
    o.chunks[0] = 10;
    o.chunks[1] = 8;
    o.codec = CW_CODEC_BLOSC;
    o.blosc_codec = "lz4";
    ASSERT_OK(cw_store(mx, &sel, path, "/x", &o, NULL));
    ASSERT_OK(cw_source_open_hdf5(path, "/x", &hx));

    cw_expr_t *e = NULL;
    ASSERT_OK(cw_expr_new(2, xs, &e));
    int ix, iy, ih, isum, iprod;
    int ax2[2] = {0, 1}, ax1[1] = {1};
    cw_sel_t s2, s1;
    cw_sel_all(hx, &s2);
    cw_sel_all(my, &s1);
    ASSERT_OK(cw_expr_input(e, hx, &s2, ax2, &ix));
    ASSERT_OK(cw_expr_input(e, my, &s1, ax1, &iy));
    double half = 0.5;
    ASSERT_OK(cw_expr_scalar(e, CW_FLOAT64, &half, &ih));
    int a1[2] = {ix, iy};
    ASSERT_OK(cw_expr_loop(e, "add", loop_add_f64, NULL, 2, a1, CW_FLOAT64, &isum));
    int a2[2] = {isum, ih};
    ASSERT_OK(cw_expr_loop(e, "multiply", loop_mul_f64, NULL, 2, a2, CW_FLOAT64, &iprod));
    ASSERT_OK(cw_expr_finish(e, iprod, NULL));
    for (int threads = 1; threads <= 2; threads++) {
        cw_config_t cfg = {.threads = threads, .memory_limit = 1 << 22};
        memset(out, 0, sizeof(out));
        ASSERT_OK(cw_expr_read(e, out, xst, &cfg));
        ASSERT_TRUE(memcmp(out, ref, sizeof(ref)) == 0);
        /* Column sums (reduce axis 0) and row sums (axis 1). */
        bool red0[2] = {true, false}, red1[2] = {false, true};
        double cs[C], rs[R];
        ASSERT_OK(cw_expr_reduce(e, "add", loop_add_f64, NULL, red0, cs, &cfg));
        ASSERT_OK(cw_expr_reduce(e, "add", loop_add_f64, NULL, red1, rs, &cfg));
        for (int j = 0; j < C; j++) {
            double t = 0;
            for (int i = 0; i < R; i++) {
                t += ref[i * C + j];
            }
            ASSERT_TRUE(cs[j] == t);  /* exact: multiples of 1/8 */
        }
        for (int i = 0; i < R; i++) {
            double t = 0;
            for (int j = 0; j < C; j++) {
                t += ref[i * C + j];
            }
            ASSERT_TRUE(rs[i] == t);
        }
    }
    /* Cast to int16, then store with other chunks and read back. */
    int icast;
    cw_expr_t *e2 = NULL;
    ASSERT_OK(cw_expr_new(2, xs, &e2));
    ASSERT_OK(cw_expr_input(e2, hx, &s2, ax2, &ix));
    ASSERT_OK(cw_expr_cast(e2, ix, CW_INT16, &icast));
    ASSERT_OK(cw_expr_finish(e2, icast, NULL));
    cw_store_opts_t o2;
    memset(&o2, 0, sizeof(o2));
    o2.chunks[0] = 7;
    o2.chunks[1] = 5;
    o2.codec = CW_CODEC_DEFLATE;
    o2.level = 3;
    ASSERT_OK(cw_expr_store(e2, path, "/cast", &o2, NULL));
    cw_source_t *hc = NULL;
    ASSERT_OK(cw_source_open_hdf5(path, "/cast", &hc));
    ASSERT_EQ(cw_source_dtype(hc), CW_INT16);
    int16_t back[R * C];
    int64_t bst[2] = {C * 2, 2};
    cw_sel_t sc;
    cw_sel_all(hc, &sc);
    ASSERT_OK(cw_read(hc, &sc, back, bst, NULL));
    for (int i = 0; i < R * C; i++) {
        ASSERT_EQ(back[i], (int16_t)x[i]);
    }
    char text[4096];
    ASSERT_OK(cw_expr_describe(e, NULL, text, sizeof(text)));
    ASSERT_TRUE(strstr(text, "multiply(%3, %2)") != NULL);
    /* Mismatched shapes are refused (y has C elements, axis 0 has R). */
    cw_expr_t *e3 = NULL;
    ASSERT_OK(cw_expr_new(2, xs, &e3));
    int bad_axis[1] = {0};
    int id;
    ASSERT_EQ(cw_expr_input(e3, my, &s1, bad_axis, &id), CW_EINVAL);
    ASSERT_TRUE(strstr(cw_errmsg(), "does not broadcast") != NULL);
    cw_expr_free(e3);
    cw_expr_free(e);
    cw_expr_free(e2);
    cw_source_free(hc);
    cw_source_free(hx);
    cw_source_free(mx);
    cw_source_free(my);
}

/* ----------------------------------------------------------------- runner */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"status_names", test_status_names},
    {"copy_strided", test_copy_strided},
    {"shuffle_roundtrip", test_shuffle_roundtrip},
    {"shuffle_reference", test_shuffle_reference},
    {"blosc_blocks", test_blosc_blocks},
    {"blosc_codec", test_blosc_codec},
    {"memory_source_selections", test_memory_source_selections},
    {"generators", test_generators},
    {"hdf5_roundtrip", test_hdf5_roundtrip},
    {"errors", test_errors},
    {"corrupt_chunk", test_corrupt_chunk},
    {"cancel_store", test_cancel_store},
    {"expr", test_expr},
#ifdef CW_TESTING_HOOKS
    {"alloc_failures", test_alloc_failures},
#endif
};

int
main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/chunkwise-ctest-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    int ntests = (int)(sizeof(tests) / sizeof(*tests)), failed = 0;
    for (int i = 0; i < ntests; i++) {
        int before = failures;
        tests[i].fn();
        int ok = failures == before;
        failed += !ok;
        printf("%-28s %s\n", tests[i].name, ok ? "ok" : "FAILED");
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", ntests - failed, failed);
    return failed ? 1 : 0;
}
