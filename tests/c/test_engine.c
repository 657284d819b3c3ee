/*
 * test_engine.c -- C tests of the chunkwise library, without Python.
 *
 * The engine: expressions read, reduced and stored; a store cancelled
 * through the poll callback; table lookups and bin counts.
 */
#include "runner.h"

#include <stdatomic.h>

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
    ASSERT_OK(cw_expr_loop(e, "add", loop_add_f64, NULL, CW_LOOP_REORDERABLE, 2, a1,
                           CW_FLOAT64, &isum));
    int a2[2] = {isum, ih};
    ASSERT_OK(cw_expr_loop(e, "multiply", loop_mul_f64, NULL, CW_LOOP_REORDERABLE, 2,
                           a2, CW_FLOAT64, &iprod));
    /* A loop that needs the Python API is refused. */
    int ibad;
    ASSERT_EQ(cw_expr_loop(e, "pyloop", loop_add_f64, NULL, CW_LOOP_NEEDS_GIL, 2, a1,
                           CW_FLOAT64, &ibad),
              CW_ETYPE);
    ASSERT_TRUE(strstr(cw_errmsg(), "needs the Python API") != NULL);
    ASSERT_OK(cw_expr_finish(e, iprod, NULL));
    for (int threads = 1; threads <= 2; threads++) {
        cw_config_t cfg = {.threads = threads, .memory_limit = 1 << 22};
        memset(out, 0, sizeof(out));
        cw_output_t read = {
            .kind = CW_OUT_BUFFER, .id = iprod, .dst = out, .strides = xst};
        ASSERT_OK(cw_expr_run(e, 1, &read, &cfg));
        ASSERT_TRUE(memcmp(out, ref, sizeof(ref)) == 0);
        /* In one pass: the values again, column sums (reduce axis 0) and row
         * sums (axis 1). */
        bool red0[2] = {true, false}, red1[2] = {false, true};
        double cs[C], rs[R];
        cw_output_t outs[3] = {
            {.kind = CW_OUT_BUFFER, .id = iprod, .dst = out, .strides = xst},
            {.kind = CW_OUT_REDUCE,
             .id = iprod,
             .fn = loop_add_f64,
             .name = "add",
             .fn_flags = CW_LOOP_REORDERABLE,
             .reduce_axis = red0,
             .dst = cs},
            {.kind = CW_OUT_REDUCE,
             .id = iprod,
             .fn = loop_add_f64,
             .name = "add",
             .fn_flags = CW_LOOP_REORDERABLE,
             .reduce_axis = red1,
             .dst = rs}};
        memset(out, 0, sizeof(out));
        cw_stats_t before, after;
        cw_stats_get(&before);
        ASSERT_OK(cw_expr_run(e, 3, outs, &cfg));
        cw_stats_get(&after);
        ASSERT_EQ(after.runs - before.runs, 1);
        ASSERT_TRUE(memcmp(out, ref, sizeof(ref)) == 0);
        for (int j = 0; j < C; j++) {
            double t = 0;
            for (int i = 0; i < R; i++) {
                t += ref[i * C + j];
            }
            ASSERT_TRUE(cs[j] == t); /* exact: multiples of 1/8 */
        }
        for (int i = 0; i < R; i++) {
            double t = 0;
            for (int j = 0; j < C; j++) {
                t += ref[i * C + j];
            }
            ASSERT_TRUE(rs[i] == t);
        }
        /* A reduction whose loop is not reorderable is refused. */
        cw_output_t sub = outs[1];
        sub.fn_flags = 0;
        sub.name = "subtract";
        ASSERT_EQ(cw_expr_run(e, 1, &sub, &cfg), CW_EINVAL);
        ASSERT_TRUE(strstr(cw_errmsg(), "subtract is not reorderable") != NULL);
        /* Arg-reductions, accumulations and stores are of the result. */
        int64_t idx[C];
        cw_output_t arg = {.kind = CW_OUT_ARGREDUCE, .id = isum, .axis = 0, .dst = idx};
        ASSERT_EQ(cw_expr_run(e, 1, &arg, &cfg), CW_EINVAL);
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
    cw_output_t st = {.kind = CW_OUT_STORE,
                      .id = icast,
                      .path = path,
                      .dataset = "/cast",
                      .store = &o2};
    ASSERT_OK(cw_expr_run(e2, 1, &st, NULL));
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

/* A stack of products, batch axes broadcast: A is (3, 1, 2, 4), B is
 * (1, 2, 4, 3); the product (3, 2, 2, 3) against a direct sum, read whole
 * and through a strided selection.  Mismatched batch axes are refused. */
static void
test_matmul_batched(void)
{
    enum { K = 4 };
    int64_t as[4] = {3, 1, 2, K}, bs[4] = {1, 2, K, 3};
    int64_t a[3 * 2 * K], b[2 * K * 3];
    for (int i = 0; i < 3 * 2 * K; i++) {
        a[i] = i % 7 - 3;
    }
    for (int i = 0; i < 2 * K * 3; i++) {
        b[i] = i % 5 - 1;
    }
    int64_t ast[4] = {2 * K * 8, 2 * K * 8, K * 8, 8};
    int64_t bst[4] = {2 * K * 3 * 8, K * 3 * 8, 3 * 8, 8};
    int64_t ach[4] = {2, 1, 1, 3}, bch[4] = {1, 1, 3, 2};
    cw_source_t *sa = NULL, *sb = NULL, *p = NULL;
    ASSERT_OK(cw_source_from_memory(a, 4, as, ast, CW_INT64, ach, &sa));
    ASSERT_OK(cw_source_from_memory(b, 4, bs, bst, CW_INT64, bch, &sb));
    ASSERT_OK(cw_source_matmul(sa, sb, NULL, &p));
    ASSERT_EQ(cw_source_ndim(p), 4);
    int64_t out[3 * 2 * 2 * 3];
    int64_t ost[4] = {2 * 2 * 3 * 8, 2 * 3 * 8, 3 * 8, 8};
    cw_sel_t sel;
    cw_sel_all(p, &sel);
    ASSERT_OK(cw_read(p, &sel, out, ost, NULL));
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            for (int r = 0; r < 2; r++) {
                for (int c = 0; c < 3; c++) {
                    int64_t want = 0;
                    for (int k = 0; k < K; k++) {
                        want += a[(i * 2 + r) * K + k] * b[(j * K + k) * 3 + c];
                    }
                    ASSERT_EQ(out[((i * 2 + j) * 2 + r) * 3 + c], want);
                }
            }
        }
    }
    /* Batch elements 2 and 0 (step -2), one row, columns 2 and 0. */
    cw_sel_t s2;
    cw_sel_all(p, &s2);
    s2.start[0] = 2;
    s2.step[0] = -2;
    s2.count[0] = 2;
    s2.start[2] = 1;
    s2.count[2] = 1;
    s2.start[3] = 2;
    s2.step[3] = -2;
    s2.count[3] = 2;
    int64_t part[2 * 2 * 1 * 2];
    int64_t pst[4] = {2 * 2 * 8, 2 * 8, 2 * 8, 8};
    ASSERT_OK(cw_read(p, &s2, part, pst, NULL));
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            for (int c = 0; c < 2; c++) {
                ASSERT_EQ(part[(i * 2 + j) * 2 + c],
                          out[(((2 - 2 * i) * 2 + j) * 2 + 1) * 3 + (2 - 2 * c)]);
            }
        }
    }
    cw_source_free(p);
    int64_t cs[4] = {2, 2, K, 3};
    cw_source_t *sc = NULL, *bad = NULL;
    ASSERT_OK(cw_source_from_memory(b, 4, cs, bst, CW_INT64, NULL, &sc));
    ASSERT_EQ(cw_source_matmul(sa, sc, NULL, &bad), CW_EINVAL);
    ASSERT_TRUE(strstr(cw_errmsg(), "broadcastable batch axes") != NULL);
    ASSERT_TRUE(bad == NULL);
    cw_source_free(sc);
    cw_source_free(sa);
    cw_source_free(sb);
}

/* Partial products of a (5 x 23) @ (23 x 9) float64 product over slices of
 * 8 (the last one 7): shape (3, 5, 9), chunked by 1 along the slices; each
 * partial against a direct sum over its slice (small integers: exact), and
 * their sum against the whole product.  A slice below 1 is refused. */
static void
test_matmul_partials(void)
{
    enum { M = 5, K = 23, N = 9, S = 8, P = 3 };
    double a[M * K], b[K * N];
    for (int i = 0; i < M * K; i++) {
        a[i] = i % 11 - 5;
    }
    for (int i = 0; i < K * N; i++) {
        b[i] = i % 7 - 2;
    }
    int64_t as[2] = {M, K}, bs[2] = {K, N}, ast[2] = {K * 8, 8}, bst[2] = {N * 8, 8};
    int64_t ach[2] = {2, 6}, bch[2] = {6, 4};
    cw_source_t *sa = NULL, *sb = NULL, *p = NULL, *whole = NULL, *bad = NULL;
    ASSERT_OK(cw_source_from_memory(a, 2, as, ast, CW_FLOAT64, ach, &sa));
    ASSERT_OK(cw_source_from_memory(b, 2, bs, bst, CW_FLOAT64, bch, &sb));
    ASSERT_OK(cw_source_matmul_partials(sa, sb, NULL, S, &p));
    ASSERT_OK(cw_source_matmul(sa, sb, NULL, &whole));
    ASSERT_EQ(cw_source_ndim(p), 3);
    double part[P * M * N], full[M * N];
    int64_t pst[3] = {M * N * 8, N * 8, 8}, fst[2] = {N * 8, 8};
    cw_sel_t sel, fsel;
    cw_sel_all(p, &sel);
    ASSERT_EQ(sel.count[0], P);
    ASSERT_OK(cw_read(p, &sel, part, pst, NULL));
    cw_sel_all(whole, &fsel);
    ASSERT_OK(cw_read(whole, &fsel, full, fst, NULL));
    for (int r = 0; r < M; r++) {
        for (int c = 0; c < N; c++) {
            double sum = 0;
            for (int s = 0; s < P; s++) {
                double want = 0;
                for (int k = s * S; k < K && k < (s + 1) * S; k++) {
                    want += a[r * K + k] * b[k * N + c];
                }
                ASSERT_TRUE(part[(s * M + r) * N + c] == want);
                sum += want;
            }
            ASSERT_TRUE(full[r * N + c] == sum);
        }
    }
    ASSERT_EQ(cw_source_matmul_partials(sa, sb, NULL, 0, &bad), CW_EINVAL);
    ASSERT_TRUE(bad == NULL);
    cw_source_free(p);
    cw_source_free(whole);
    cw_source_free(sa);
    cw_source_free(sb);
}

/* Searches of a sorted table (NaN last), a take, and the counts of the
 * found indices, with and without weights, over a chunked input; the same
 * for 1 and 3 threads. */
static void
test_table_bincount(void)
{
    enum { N = 1001 };
    static double x[N], w[N];
    double nan = __builtin_nan("");
    double table[5] = {-1.0, 0.0, 0.0, 2.5, nan};
    int64_t want_l[N], want_r[N];
    for (int i = 0; i < N; i++) {
        x[i] = i % 7 == 0 ? nan : (double)(i % 9) * 0.5 - 1.5;
        w[i] = (double)(i % 4);
        int64_t l = 0, r = 0;
        for (int k = 0; k < 5; k++) {
            bool tn = k == 4, xn = x[i] != x[i];
            bool t_lt_x = tn ? false : (xn ? true : table[k] < x[i]);
            bool x_lt_t = xn ? false : (tn ? true : x[i] < table[k]);
            l += t_lt_x;
            r += !x_lt_t;
        }
        want_l[i] = l;
        want_r[i] = r;
    }
    int64_t shape[1] = {N}, st[1] = {8}, ch[1] = {100};
    cw_source_t *sx = NULL, *sw = NULL;
    ASSERT_OK(cw_source_from_memory(x, 1, shape, st, CW_FLOAT64, ch, &sx));
    ASSERT_OK(cw_source_from_memory(w, 1, shape, st, CW_FLOAT64, ch, &sw));
    cw_expr_t *e = NULL;
    ASSERT_OK(cw_expr_new(1, shape, &e));
    int ax[1] = {0}, ix, iw, il, ir, it;
    cw_sel_t sel;
    cw_sel_all(sx, &sel);
    ASSERT_OK(cw_expr_input(e, sx, &sel, ax, &ix));
    ASSERT_OK(cw_expr_input(e, sw, &sel, ax, &iw));
    ASSERT_OK(cw_expr_table(e, CW_TABLE_SEARCH_LEFT, ix, table, 5, CW_FLOAT64, &il));
    ASSERT_OK(cw_expr_table(e, CW_TABLE_SEARCH_RIGHT, ix, table, 5, CW_FLOAT64, &ir));
    ASSERT_OK(cw_expr_table(e, CW_TABLE_TAKE, ir, table, 5, CW_FLOAT64, &it));
    ASSERT_EQ(cw_expr_table(e, CW_TABLE_TAKE, ix, table, 5, CW_FLOAT64, &it),
              CW_EINVAL);
    ASSERT_OK(cw_expr_finish(e, il, NULL));
    static int64_t got_l[N], got_r[N];
    static double got_t[N];
    int64_t s8[1] = {8};
    int64_t counts[2][6], ext[2];
    double sums[2][6];
    for (int t = 0; t < 2; t++) {
        cw_config_t cfg = {.threads = t == 0 ? 1 : 3};
        cw_output_t outs[5] = {
            {.kind = CW_OUT_BUFFER, .id = il, .dst = got_l, .strides = s8},
            {.kind = CW_OUT_BUFFER, .id = ir, .dst = got_r, .strides = s8},
            {.kind = CW_OUT_BUFFER, .id = it, .dst = got_t, .strides = s8},
            {.kind = CW_OUT_BINCOUNT,
             .id = ir,
             .nbins = 4,
             .dst = counts[t],
             .extremes = ext},
            {.kind = CW_OUT_BINCOUNT,
             .id = il,
             .nbins = 6,
             .dst = sums[t],
             .weighted = true,
             .weights = iw},
        };
        ASSERT_OK(cw_expr_run(e, 5, outs, &cfg));
        ASSERT_EQ(cw_fp_flags(), 0);
    }
    int64_t want_c[6] = {0}, want_s[6] = {0}, lo = 99, hi = -1;
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(got_l[i], want_l[i]);
        ASSERT_EQ(got_r[i], want_r[i]);
        int64_t k = want_r[i] > 4 ? 4 : want_r[i];
        ASSERT_TRUE(memcmp(&got_t[i], &table[k], 8) == 0);
        want_c[want_r[i]]++;
        lo = want_r[i] < lo ? want_r[i] : lo;
        hi = want_r[i] > hi ? want_r[i] : hi;
        want_s[want_l[i]] += (int64_t)w[i];
    }
    ASSERT_EQ(ext[0], lo);
    ASSERT_EQ(ext[1], hi);
    ASSERT_TRUE(hi >= 4); /* indices past nbins were left out */
    for (int k = 0; k < 6; k++) {
        if (k < 4) {
            ASSERT_EQ(counts[0][k], want_c[k]);
            ASSERT_EQ(counts[1][k], want_c[k]);
        }
        ASSERT_EQ((int64_t)sums[0][k], want_s[k]);
        ASSERT_TRUE(memcmp(&sums[0][k], &sums[1][k], 8) == 0);
    }
    cw_expr_free(e);
    cw_source_free(sx);
    cw_source_free(sw);
}

/* A block function that copies its one argument's tile (trim=False).
 * Blocks run on several threads at once: the call count is atomic. */
static int
copy_tile(void *data, const int64_t *block, int nin, const cw_tile_t *in,
          const cw_tile_t *out)
{
    (void)block;
    _Atomic int *calls = data;
    atomic_fetch_add(calls, 1);
    if (nin != 1 || in[0].shape[0] != out->shape[0]) {
        return CW_EINVAL;
    }
    memcpy(out->data, in[0].data, (size_t)out->shape[0] * sizeof(int64_t));
    return CW_OK;
}

static int
fail_block(void *data, const int64_t *block, int nin, const cw_tile_t *in,
           const cw_tile_t *out)
{
    (void)data;
    (void)nin;
    (void)in;
    (void)out;
    return block[0] == 1 ? CW_EIO : CW_OK;
}

/* Halos of 2 around blocks of 4 over 0..9: each boundary rule's values. */
static void
test_blocks_halos(void)
{
    int64_t v[10], shape[1] = {10}, st[1] = {8}, ch[1] = {3};
    for (int i = 0; i < 10; i++) {
        v[i] = i;
    }
    cw_source_t *in = NULL;
    ASSERT_OK(cw_source_from_memory(v, 1, shape, st, CW_INT64, ch, &in));
    int64_t inb[4] = {0, 4, 8, 10};
    static const int64_t want[4][20] = {
        /* reflect */ {1, 0, 0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9, 6, 7, 8, 9},
        /* periodic */ {8, 9, 0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9, 6, 7, 8, 9},
        /* nearest */ {0, 0, 0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9, 6, 7, 8, 9},
        /* constant */ {-7, -7, 0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9, 6, 7, 8, 9},
    };
    static const int64_t tails[4][2] = {{9, 8}, {0, 1}, {9, 9}, {-7, -7}};
    for (int rule = CW_HALO_REFLECT; rule <= CW_HALO_CONSTANT; rule++) {
        cw_block_arg_t a;
        memset(&a, 0, sizeof(a));
        a.src = in;
        a.axis[0] = 0;
        a.bounds[0] = inb;
        a.depth[0] = 2;
        a.boundary[0] = rule;
        int64_t fill = -7;
        memcpy(a.fill, &fill, sizeof(fill));
        int64_t ob[4] = {0, 8, 16, 22}, nb[1] = {3}, oshape[1] = {22};
        const int64_t *obs[1] = {ob};
        _Atomic int calls = 0;
        cw_source_t *b = NULL;
        ASSERT_OK(cw_source_blocks(1, &a, 1, oshape, nb, obs, CW_INT64, copy_tile,
                                   &calls, &b));
        int64_t out[22], ost[1] = {8};
        cw_sel_t sel;
        cw_sel_all(b, &sel);
        ASSERT_OK(cw_read(b, &sel, out, ost, NULL));
        for (int i = 0; i < 20; i++) {
            ASSERT_EQ(out[i], want[rule - 1][i]);
        }
        ASSERT_EQ(out[20], tails[rule - 1][0]);
        ASSERT_EQ(out[21], tails[rule - 1][1]);
        ASSERT_TRUE(calls >= 3);
        cw_source_free(b);
    }
    /* No halo past the edges: tiles of 6, 8 and 4. */
    cw_block_arg_t a;
    memset(&a, 0, sizeof(a));
    a.src = in;
    a.bounds[0] = inb;
    a.depth[0] = 2;
    int64_t ob[4] = {0, 6, 14, 18}, nb[1] = {3}, oshape[1] = {18};
    const int64_t *obs[1] = {ob};
    _Atomic int calls = 0;
    cw_source_t *b = NULL;
    ASSERT_OK(
        cw_source_blocks(1, &a, 1, oshape, nb, obs, CW_INT64, copy_tile, &calls, &b));
    int64_t out[18], ost[1] = {8};
    cw_sel_t sel;
    cw_sel_all(b, &sel);
    ASSERT_OK(cw_read(b, &sel, out, ost, NULL));
    static const int64_t none[18] = {0, 1, 2, 3, 4, 5, 2, 3, 4,
                                     5, 6, 7, 8, 9, 6, 7, 8, 9};
    for (int i = 0; i < 18; i++) {
        ASSERT_EQ(out[i], none[i]);
    }
    cw_source_free(b);
    /* A failing block fails the read with its status, naming the block. */
    ASSERT_OK(
        cw_source_blocks(1, &a, 1, oshape, nb, obs, CW_INT64, fail_block, NULL, &b));
    cw_sel_all(b, &sel);
    ASSERT_EQ(cw_read(b, &sel, out, ost, NULL), CW_EIO);
    ASSERT_TRUE(strstr(cw_errmsg(), "block (1)") != NULL);
    cw_source_free(b);
    /* A mirrored halo deeper than the axis is refused. */
    a.boundary[0] = CW_HALO_REFLECT;
    a.depth[0] = 11;
    ASSERT_EQ(
        cw_source_blocks(1, &a, 1, oshape, nb, obs, CW_INT64, copy_tile, &calls, &b),
        CW_EINVAL);
    cw_source_free(in);
}

static const cw_test_t tests[] = {
    {"cancel_store", test_cancel_store, NULL},
    {"expr", test_expr, NULL},
    {"matmul_batched", test_matmul_batched, NULL},
    {"matmul_partials", test_matmul_partials, NULL},
    {"table_bincount", test_table_bincount, NULL},
    {"blocks_halos", test_blocks_halos, NULL},
};

CW_TEST_MAIN(tests)
