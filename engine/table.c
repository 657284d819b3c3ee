/*
 * table.c -- elementwise lookups in an in-memory table (cw_expr_table):
 * the insertion index of each value in a sorted table (numpy.searchsorted,
 * side "left" or "right"), the table's element at each index (a take,
 * clipped to the table), and numpy.histogram's bin for equal float64 bins.  These are
 * loops like NumPy's, whose data is the value's own cw__table_t, so a program holds its
 * tables by pointer (the caller keeps them alive) and evaluates them in its fused
 * kernel.
 *
 * The order is NumPy's sort order: NaN after every other value, so a table
 * sorted by numpy.sort and searched here gives numpy.searchsorted's
 * indices.  Loops only read the table.  No locks.
 */
#include <string.h>

#include "program_impl.h"

/* NumPy's "less than" for sorting: NaN sorts last.  Quiet comparisons
 * (isless, ==, !=): a NaN raises no floating-point flag, as in NumPy. */
#define LT_PLAIN(a, b) ((a) < (b))
#define LT_NAN(a, b) (__builtin_isless((a), (b)) || ((b) != (b) && (a) == (a)))

/* One searchsorted loop per dtype: args[0] values, args[1] int64 indices.
 * Left: the first i with !(t[i] < x); right: the first i with x < t[i]. */
#define SEARCH_LOOPS(T, LT)                                                            \
    static void search_left_##T(char **args, const intptr_t *n, const intptr_t *steps, \
                                void *data)                                            \
    {                                                                                  \
        const cw__table_t *tb = data;                                                  \
        const T *t = tb->data;                                                         \
        int64_t len = tb->n;                                                           \
        for (intptr_t i = 0; i < *n; i++) {                                            \
            T x;                                                                       \
            memcpy(&x, args[0] + i * steps[0], sizeof(T));                             \
            int64_t lo = 0, hi = len;                                                  \
            while (lo < hi) {                                                          \
                int64_t mid = lo + ((hi - lo) >> 1);                                   \
                if (LT(t[mid], x)) {                                                   \
                    lo = mid + 1;                                                      \
                }                                                                      \
                else {                                                                 \
                    hi = mid;                                                          \
                }                                                                      \
            }                                                                          \
            memcpy(args[1] + i * steps[1], &lo, sizeof(lo));                           \
        }                                                                              \
    }                                                                                  \
    static void search_right_##T(char **args, const intptr_t *n,                       \
                                 const intptr_t *steps, void *data)                    \
    {                                                                                  \
        const cw__table_t *tb = data;                                                  \
        const T *t = tb->data;                                                         \
        int64_t len = tb->n;                                                           \
        for (intptr_t i = 0; i < *n; i++) {                                            \
            T x;                                                                       \
            memcpy(&x, args[0] + i * steps[0], sizeof(T));                             \
            int64_t lo = 0, hi = len;                                                  \
            while (lo < hi) {                                                          \
                int64_t mid = lo + ((hi - lo) >> 1);                                   \
                if (LT(x, t[mid])) {                                                   \
                    hi = mid;                                                          \
                }                                                                      \
                else {                                                                 \
                    lo = mid + 1;                                                      \
                }                                                                      \
            }                                                                          \
            memcpy(args[1] + i * steps[1], &lo, sizeof(lo));                           \
        }                                                                              \
    }

typedef _Bool bool_t;
typedef _Float16 f16_t;
SEARCH_LOOPS(bool_t, LT_PLAIN)
SEARCH_LOOPS(int8_t, LT_PLAIN)
SEARCH_LOOPS(int16_t, LT_PLAIN)
SEARCH_LOOPS(int32_t, LT_PLAIN)
SEARCH_LOOPS(int64_t, LT_PLAIN)
SEARCH_LOOPS(uint8_t, LT_PLAIN)
SEARCH_LOOPS(uint16_t, LT_PLAIN)
SEARCH_LOOPS(uint32_t, LT_PLAIN)
SEARCH_LOOPS(uint64_t, LT_PLAIN)
SEARCH_LOOPS(f16_t, LT_NAN)
SEARCH_LOOPS(float, LT_NAN)
SEARCH_LOOPS(double, LT_NAN)

static const cw_loop_fn search_left[CW_NDTYPES] = {search_left_bool_t,
                                                   search_left_int8_t,
                                                   search_left_int16_t,
                                                   search_left_int32_t,
                                                   search_left_int64_t,
                                                   search_left_uint8_t,
                                                   search_left_uint16_t,
                                                   search_left_uint32_t,
                                                   search_left_uint64_t,
                                                   search_left_f16_t,
                                                   search_left_float,
                                                   search_left_double,
                                                   NULL,
                                                   NULL};
static const cw_loop_fn search_right[CW_NDTYPES] = {search_right_bool_t,
                                                    search_right_int8_t,
                                                    search_right_int16_t,
                                                    search_right_int32_t,
                                                    search_right_int64_t,
                                                    search_right_uint8_t,
                                                    search_right_uint16_t,
                                                    search_right_uint32_t,
                                                    search_right_uint64_t,
                                                    search_right_f16_t,
                                                    search_right_float,
                                                    search_right_double,
                                                    NULL,
                                                    NULL};

/* The table's element at each int64 index, clipped to [0, n). */
static void
take_loop(char **args, const intptr_t *n, const intptr_t *steps, void *data)
{
    const cw__table_t *tb = data;
    size_t isz = tb->itemsize;
    for (intptr_t i = 0; i < *n; i++) {
        int64_t k;
        memcpy(&k, args[0] + i * steps[0], sizeof(k));
        k = k < 0 ? 0 : k >= tb->n ? tb->n - 1 : k;
        memcpy(args[1] + i * steps[1], (const char *)tb->data + (size_t)k * isz, isz);
    }
}

/*
 * numpy.histogram's bin of each float64 value for n equal bins, step by
 * step as NumPy computes it: f = ((x - first) / denom) * n, cast to an
 * index, n moved to n - 1, then corrected by one against the edges (the
 * last bin closed).  The table is first, denom, then the n + 1 edges.
 * Values the caller leaves out (outside the range, NaN) must be replaced
 * by an edge first; an index out of range is clipped, never read past.
 */
static void
uniform_bins_loop(char **args, const intptr_t *n, const intptr_t *steps, void *data)
{
    const cw__table_t *tb = data;
    const double *t = tb->data;
    double first = t[0], denom = t[1];
    const double *edges = t + 2;
    int64_t nb = tb->n - 3;
    double dn = (double)nb;
    for (intptr_t i = 0; i < *n; i++) {
        double x;
        memcpy(&x, args[0] + i * steps[0], sizeof(x));
        double f = ((x - first) / denom) * dn;
        int64_t k = f >= 0 ? (f < dn ? (int64_t)f : nb) : 0;
        if (k == nb) {
            k--;
        }
        if (__builtin_isless(x, edges[k])) {
            k--;
        }
        if (__builtin_isgreaterequal(x, edges[k + 1]) && k != nb - 1) {
            k++;
        }
        memcpy(args[1] + i * steps[1], &k, sizeof(k));
    }
}

/* The same for float32 values: the table is first, denom, then 1.0 when
 * NumPy divides in float32 (first and last float32 scalars) or 0.0 when
 * in float64, then the edges (float32 values, exact as doubles); x - first
 * is a float32 subtraction, as NumPy's. */
static void
uniform_bins_f4_loop(char **args, const intptr_t *n, const intptr_t *steps, void *data)
{
    const cw__table_t *tb = data;
    const double *t = tb->data;
    float first = (float)t[0];
    double denom = t[1];
    bool f32 = t[2] != 0.0;
    const double *edges = t + 3;
    int64_t nb = tb->n - 4;
    double dn = (double)nb;
    for (intptr_t i = 0; i < *n; i++) {
        float x;
        memcpy(&x, args[0] + i * steps[0], sizeof(x));
        float d = x - first;
        double f =
            f32 ? (double)((d / (float)denom) * (float)nb) : ((double)d / denom) * dn;
        int64_t k = f >= 0 ? (f < dn ? (int64_t)f : nb) : 0;
        if (k == nb) {
            k--;
        }
        if (__builtin_isless((double)x, edges[k])) {
            k--;
        }
        if (__builtin_isgreaterequal((double)x, edges[k + 1]) && k != nb - 1) {
            k++;
        }
        memcpy(args[1] + i * steps[1], &k, sizeof(k));
    }
}

int
cw_expr_table(cw_expr_t *e, cw_table_op_t op, int in, const void *table, int64_t n,
              cw_dtype_t dtype, int *id)
{
    CW_TRY_RET(cw__expr_check_ref(e, in));
    if ((unsigned)dtype >= CW_NDTYPES || n < 0 || (n > 0 && table == NULL)) {
        return cw__error(CW_EINVAL, "invalid table");
    }
    cw_loop_fn fn;
    cw_dtype_t want, out;
    const char *name;
    switch (op) {
        case CW_TABLE_SEARCH_LEFT:
        case CW_TABLE_SEARCH_RIGHT:
            fn = op == CW_TABLE_SEARCH_LEFT ? search_left[dtype] : search_right[dtype];
            name =
                op == CW_TABLE_SEARCH_LEFT ? "searchsorted left" : "searchsorted right";
            want = dtype;
            out = CW_INT64;
            break;
        case CW_TABLE_UNIFORM_BINS:
            /* The table is float64; `dtype` is the values'. */
            fn = dtype == CW_FLOAT64 && n >= 4   ? uniform_bins_loop
                 : dtype == CW_FLOAT32 && n >= 5 ? uniform_bins_f4_loop
                                                 : NULL;
            name = "uniform bins";
            want = dtype;
            out = CW_INT64;
            break;
        case CW_TABLE_TAKE:
            fn = take_loop;
            name = "take";
            want = CW_INT64;
            out = dtype;
            if (n == 0) {
                return cw__error(CW_EINVAL, "take from an empty table");
            }
            break;
        default:
            return cw__error(CW_EINVAL, "unknown table operation %d", (int)op);
    }
    if (fn == NULL) {
        return cw__error(CW_ETYPE, "%s: no order for %s", name, cw_dtype_name(dtype));
    }
    if (e->v[in].dtype != want) {
        return cw__error(CW_EINVAL, "%s takes %s values, not %s", name,
                         cw_dtype_name(want), cw_dtype_name(e->v[in].dtype));
    }
    CW_TRY_RET(cw_expr_loop(e, name, fn, NULL, CW_LOOP_NO_FPE, 1, &in, out, id));
    /* The loop's data is the value's own table description: the program
     * is never copied, so the address stays valid for its life. */
    cw__value_t *v = &e->v[*id];
    size_t isz = op == CW_TABLE_UNIFORM_BINS ? sizeof(double) : cw_dtype_size(dtype);
    v->table = (cw__table_t){.data = table, .n = n, .itemsize = isz};
    v->data = &v->table;
    return CW_OK;
}
