/*
 * expr.c -- elementwise programs: the fused kernel VM.
 *
 * A program is a list of values in dependency order: inputs (selections of
 * sources broadcast onto the output), scalars, casts and loops (NumPy's own
 * ufunc inner loops, handed in as plain function pointers, or any loop of
 * that shape).  Evaluating a tile of the output:
 *
 *  1. each input's region for the tile is read into a per-thread tile
 *     buffer (cw__read_region: only the chunks it overlaps are decoded);
 *     broadcast axes get stride 0, so nothing is expanded;
 *  2. the tile is walked with the operands' strides merged where they are
 *     contiguous together, and the innermost run is cut into blocks of
 *     CW_BLOCK elements; for each block every instruction runs once,
 *     temporaries live in per-thread registers of one block each (in cache),
 *     and the last instruction writes straight into the destination.
 *
 * No temporary is ever the size of the array: per thread, memory is the
 * input tiles plus one block per instruction.  Tiles are the tasks the
 * scheduler (sched.c) runs in parallel; sinks are a caller's buffer
 * (cw_expr_read) or the HDF5 store (cw_expr_store, via store.c).
 */
#include <stdio.h>
#include <string.h>

#include "engine_impl.h"

#define CW_BLOCK 4096
#define MAX_VALUES 128

typedef enum { V_INPUT, V_SCALAR, V_CAST, V_LOOP } vkind_t;

typedef struct value {
    vkind_t kind;
    cw_dtype_t dtype;
    size_t itemsize;
    /* V_INPUT */
    cw_source_t *src;
    cw_sel_t sel;
    int axis[CW_MAXDIM];        /* output axis of each source dim, or -1 */
    bool bcast[CW_MAXDIM];      /* source dim broadcast (count 1 < extent) */
    int slot;                   /* index among inputs (tile buffer) */
    /* V_SCALAR */
    _Alignas(8) unsigned char scalar[8];  /* loops read it as its type */
    /* V_CAST, V_LOOP */
    int nin;
    int in[4];
    cw_loop_fn fn;
    void *data;
    char name[32];
    int reg;                    /* register of a computed value */
} value_t;

struct cw_expr {
    int ndim;
    int64_t shape[CW_MAXDIM];
    int64_t tile[CW_MAXDIM];
    int n;
    value_t v[MAX_VALUES];
    int ninputs;
    cw_source_t *srcs[MAX_VALUES];  /* each input's source, by slot */
    int nregs;
    int result;
    bool finished;
};

int
cw_expr_new(int ndim, const int64_t *shape, cw_expr_t **out)
{
    *out = NULL;
    if (ndim < 0 || ndim > CW_MAXDIM) {
        return cw__error(CW_EINVAL, "rank %d is outside 0..%d", ndim, CW_MAXDIM);
    }
    cw_expr_t *e = cw__calloc(1, sizeof(*e));
    if (e == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            cw__free(e);
            return cw__error(CW_EINVAL, "negative extent");
        }
        e->shape[d] = shape[d];
    }
    e->result = -1;
    *out = e;
    return CW_OK;
}

void
cw_expr_free(cw_expr_t *e)
{
    cw__free(e);
}

static value_t *
new_value(cw_expr_t *e, vkind_t kind, cw_dtype_t dtype, int *id)
{
    if (e->finished || e->n >= MAX_VALUES || (unsigned)dtype >= CW_NDTYPES) {
        cw__error(CW_EINVAL, e->n >= MAX_VALUES ? "expression has too many values"
                                                : "invalid expression value");
        return NULL;
    }
    value_t *v = &e->v[e->n];
    memset(v, 0, sizeof(*v));
    v->kind = kind;
    v->dtype = dtype;
    v->itemsize = cw_dtype_size(dtype);
    v->reg = -1;
    *id = e->n++;
    return v;
}

int
cw_expr_input(cw_expr_t *e, cw_source_t *src, const cw_sel_t *sel,
              const int *axis, int *id)
{
    int rc = cw__sel_check(src, sel);
    if (rc < 0) {
        return rc;
    }
    bool used[CW_MAXDIM] = {false};
    for (int d = 0; d < sel->ndim; d++) {
        int k = axis[d];
        if (k < -1 || k >= e->ndim || (k >= 0 && used[k]) ||
            (k < 0 && sel->count[d] != 1) ||
            (k >= 0 && sel->count[d] != e->shape[k] && sel->count[d] != 1)) {
            return cw__error(CW_EINVAL, "input %d does not broadcast to the output",
                             e->ninputs);
        }
        if (k >= 0) {
            used[k] = true;
        }
    }
    value_t *v = new_value(e, V_INPUT, src->dtype, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->src = src;
    v->sel = *sel;
    for (int d = 0; d < sel->ndim; d++) {
        v->axis[d] = axis[d];
        v->bcast[d] = axis[d] >= 0 && sel->count[d] == 1 && e->shape[axis[d]] != 1;
    }
    v->slot = e->ninputs;
    e->srcs[e->ninputs++] = src;
    return CW_OK;
}

int
cw_expr_scalar(cw_expr_t *e, cw_dtype_t dtype, const void *value, int *id)
{
    value_t *v = new_value(e, V_SCALAR, dtype, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    memcpy(v->scalar, value, v->itemsize);
    return CW_OK;
}

static int
check_ref(const cw_expr_t *e, int in)
{
    if (in < 0 || in >= e->n) {
        return cw__error(CW_EINVAL, "reference to an unknown value %d", in);
    }
    return CW_OK;
}

int
cw_expr_cast(cw_expr_t *e, int in, cw_dtype_t to, int *id)
{
    if (check_ref(e, in) < 0) {
        return CW_EINVAL;
    }
    value_t *v = new_value(e, V_CAST, to, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->nin = 1;
    v->in[0] = in;
    snprintf(v->name, sizeof(v->name), "astype");
    v->reg = e->nregs++;
    return CW_OK;
}

int
cw_expr_loop(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data, int nin,
             const int *ins, cw_dtype_t out, int *id)
{
    if (fn == NULL || nin < 1 || nin > 3) {
        return cw__error(CW_EINVAL, "a loop takes 1 to 3 inputs");
    }
    for (int i = 0; i < nin; i++) {
        if (check_ref(e, ins[i]) < 0) {
            return CW_EINVAL;
        }
    }
    value_t *v = new_value(e, V_LOOP, out, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->nin = nin;
    memcpy(v->in, ins, (size_t)nin * sizeof(*ins));
    v->fn = fn;
    v->data = data;
    snprintf(v->name, sizeof(v->name), "%s", name ? name : "loop");
    v->reg = e->nregs++;
    return CW_OK;
}

/* where(c, a, b) for each element size: plain loops of NumPy's shape. */
#define SELECT_LOOP(NAME, T)                                                \
    static void NAME(char **args, const intptr_t *n, const intptr_t *steps, \
                     void *data)                                            \
    {                                                                       \
        (void)data;                                                         \
        const char *c = args[0], *a = args[1], *b = args[2];                \
        char *o = args[3];                                                  \
        for (intptr_t i = 0; i < *n; i++) {                                 \
            *(T *)(o + i * steps[3]) = *(const uint8_t *)(c + i * steps[0])  \
                                           ? *(const T *)(a + i * steps[1]) \
                                           : *(const T *)(b + i * steps[2]); \
        }                                                                   \
    }
SELECT_LOOP(select1, uint8_t)
SELECT_LOOP(select2, uint16_t)
SELECT_LOOP(select4, uint32_t)
SELECT_LOOP(select8, uint64_t)

/* NumPy's integer power, wrapping in the type; a negative exponent of a
 * signed type is flagged for the caller (NumPy raises ValueError). */
#define NEG_SIGNED(b) ((b) < 0)
#define NEG_UNSIGNED(b) ((void)(b), 0)
#define IPOW_LOOP(NAME, T, IS_NEG)                                            \
    static void NAME(char **args, const intptr_t *n, const intptr_t *steps,   \
                     void *data)                                              \
    {                                                                         \
        (void)data;                                                           \
        for (intptr_t i = 0; i < *n; i++) {                                   \
            T a = *(const T *)(args[0] + i * steps[0]);                       \
            T b = *(const T *)(args[1] + i * steps[1]);                       \
            uint64_t r = 1;                                                   \
            if (IS_NEG(b)) {                                                  \
                cw__loop_flag(CW_FP_NEGPOW);                                  \
                r = 0;                                                        \
            }                                                                 \
            else {                                                            \
                uint64_t ua = (uint64_t)a, ub = (uint64_t)b;                  \
                while (ub) {                                                  \
                    if (ub & 1) {                                             \
                        r *= ua;                                              \
                    }                                                         \
                    ua *= ua;                                                 \
                    ub >>= 1;                                                 \
                }                                                             \
            }                                                                 \
            *(T *)(args[2] + i * steps[2]) = (T)r;                            \
        }                                                                     \
    }
IPOW_LOOP(ipow_i8, int8_t, NEG_SIGNED)
IPOW_LOOP(ipow_i16, int16_t, NEG_SIGNED)
IPOW_LOOP(ipow_i32, int32_t, NEG_SIGNED)
IPOW_LOOP(ipow_i64, int64_t, NEG_SIGNED)
IPOW_LOOP(ipow_u8, uint8_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u16, uint16_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u32, uint32_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u64, uint64_t, NEG_UNSIGNED)

int
cw_expr_builtin(cw_expr_t *e, const char *name, int nin, const int *ins,
                cw_dtype_t dtype, int *id)
{
    static const cw_loop_fn ipow[CW_NDTYPES] = {
        [CW_INT8] = ipow_i8,   [CW_INT16] = ipow_i16,  [CW_INT32] = ipow_i32,
        [CW_INT64] = ipow_i64, [CW_UINT8] = ipow_u8,   [CW_UINT16] = ipow_u16,
        [CW_UINT32] = ipow_u32, [CW_UINT64] = ipow_u64};
    if (strcmp(name, "power") == 0 && nin == 2 && (unsigned)dtype < CW_NDTYPES &&
        ipow[dtype] != NULL) {
        return cw_expr_loop(e, "power", ipow[dtype], NULL, 2, ins, dtype, id);
    }
    return cw__error(CW_EINVAL, "no built-in loop %s for %s", name,
                     cw_dtype_name(dtype));
}

int
cw_expr_select(cw_expr_t *e, int cond, int a, int b, int *id)
{
    if (check_ref(e, cond) < 0 || check_ref(e, a) < 0 || check_ref(e, b) < 0) {
        return CW_EINVAL;
    }
    if (e->v[cond].dtype != CW_BOOL || e->v[a].dtype != e->v[b].dtype) {
        return cw__error(CW_EINVAL, "where needs a bool condition and two values "
                         "of one dtype");
    }
    size_t sz = e->v[a].itemsize;
    cw_loop_fn fn = sz == 1 ? select1 : sz == 2 ? select2 : sz == 4 ? select4 : select8;
    int ins[3] = {cond, a, b};
    return cw_expr_loop(e, "where", fn, NULL, 3, ins, e->v[a].dtype, id);
}

cw_dtype_t
cw_expr_dtype(const cw_expr_t *e, int id)
{
    return id >= 0 && id < e->n ? e->v[id].dtype : CW_NDTYPES;
}

int
cw_expr_finish(cw_expr_t *e, int result, const int64_t *tile)
{
    if (check_ref(e, result) < 0) {
        return CW_EINVAL;
    }
    e->result = result;
    /* Default tiles: the chunks of the first input that is chunked along
     * the output's axes, seen through its steps. */
    const value_t *first = NULL;
    for (int i = 0; i < e->n && first == NULL; i++) {
        if (e->v[i].kind == V_INPUT) {
            first = &e->v[i];
        }
    }
    for (int k = 0; k < e->ndim; k++) {
        int64_t t = tile ? tile[k] : 0;
        if (t <= 0 && first != NULL) {
            for (int d = 0; d < first->sel.ndim; d++) {
                if (first->axis[d] == k && !first->bcast[d]) {
                    int64_t st = first->sel.step[d] < 0 ? -first->sel.step[d]
                                                        : first->sel.step[d];
                    t = (first->src->chunks[d] + st - 1) / st;
                }
            }
        }
        if (t <= 0) {
            t = e->shape[k];
        }
        e->tile[k] = t < 1 ? 1 : t > e->shape[k] && e->shape[k] > 0 ? e->shape[k] : t;
    }
    /* Keep tiles from being huge when nothing is chunked: about 4 MiB. */
    if (first == NULL) {
        cw__default_chunks(e->ndim, e->shape, e->v[result].itemsize, 4 << 20, e->tile);
    }
    e->finished = true;
    return CW_OK;
}

/* -------------------------------------------------------------- evaluation */

/* Per-thread buffers of a run, carved out of the scratch's `work` buffer:
 * one tile buffer per input, then one block per register. */
typedef struct layout {
    size_t tile_off[MAX_VALUES];
    size_t reg_off[MAX_VALUES];
    size_t total;
} layout_t;

typedef struct eval_ctx {
    const cw_expr_t *e;
    layout_t lay;
    char *dst;                  /* cw_expr_read */
    const int64_t *strides;
    int64_t ntiles[CW_MAXDIM];
} eval_ctx_t;

static size_t
tile_elems(const cw_expr_t *e, const value_t *v, const int64_t *tile)
{
    size_t n = 1;
    for (int d = 0; d < v->sel.ndim; d++) {
        int k = v->axis[d];
        n *= (size_t)(k >= 0 && !v->bcast[d] ? tile[k] : 1);
    }
    (void)e;
    return n;
}

static void
plan_layout(const cw_expr_t *e, const int64_t *tile, layout_t *lay)
{
    size_t off = 0;
    for (int i = 0; i < e->n; i++) {
        const value_t *v = &e->v[i];
        if (v->kind == V_INPUT && v->src->ops->address == NULL) {
            lay->tile_off[i] = off;
            off += (tile_elems(e, v, tile) * v->itemsize + 63) & ~(size_t)63;
        }
    }
    for (int i = 0; i < e->n; i++) {
        const value_t *v = &e->v[i];
        if (v->reg >= 0) {
            lay->reg_off[i] = off;
            off += CW_BLOCK * 8;
        }
    }
    lay->total = off;
}

/* Working set of one task: tiles and registers, plus what reading the
 * inputs needs (decoded chunks, stored bytes). */
static size_t
working_set(const cw_expr_t *e, const int64_t *tile)
{
    layout_t lay;
    plan_layout(e, tile, &lay);
    size_t extra = 0;
    for (int i = 0; i < e->n; i++) {
        if (e->v[i].kind == V_INPUT) {
            size_t w = cw__source_working_set(e->v[i].src);
            extra = w > extra ? w : extra;
        }
    }
    return lay.total + extra;
}

#define MAX_OUTS 8

/* Advance the C-order index idx over axes 0..last of extents n, leaving
 * the axes skip1 and skip2 (-1: none) alone; false once it wraps around. */
/* Bytes of one slab of rows per streamed operand: a slab's inputs, its
 * registers and its output stay in cache between being decoded, computed
 * and consumed. */
#define SLAB_BYTES ((int64_t)64 << 10)

/*
 * Where the rows of a region go, slab by slab (NULL: straight into the
 * destination).  begin() says where rows [r0, r1) of axis `ax` are written
 * (dsts[o] at row r0, the region's strides); end() is handed the computed
 * rows: the destination, or with `in_place` the program's only input where
 * it lies, when the program computes nothing.
 */
typedef struct slab_sink {
    int (*begin)(void *ctx, int ax, int64_t r0, int64_t r1, char **dsts);
    int (*end)(void *ctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
               const int64_t *const *strides);
    void *ctx;
    bool in_place;
} slab_sink_t;

/* Run the program over a region of `count`, inputs at inbase with byte
 * strides opstride per output axis (0: broadcast), results to dsts. */
static void
run_kernel(const cw_expr_t *e, const layout_t *lay, const int64_t *count, int nout,
           const int *outs, char *const *dsts, const int64_t *const *dstr,
           const char *const *inbase, int64_t (*opstride)[CW_MAXDIM], char *base)
{
    int nd = e->ndim;
    /* 2. Merge axes that are contiguous for every input and the output;
     * axes of extent 1 drop out.  What remains is walked with an odometer,
     * the last axis in blocks. */
    int64_t n[CW_MAXDIM + 1], ds[MAX_OUTS][CW_MAXDIM + 1];
    int64_t ist[MAX_VALUES][CW_MAXDIM + 1];
    int m = 0;
    for (int k = 0; k < nd; k++) {
        if (count[k] == 1) {
            continue;
        }
        bool merge = m > 0;
        for (int o = 0; merge && o < nout; o++) {
            merge = ds[o][m - 1] == dstr[o][k] * count[k];
        }
        for (int i = 0; merge && i < e->n; i++) {
            if (e->v[i].kind == V_INPUT) {
                merge = ist[i][m - 1] == opstride[i][k] * count[k];
            }
        }
        if (merge) {
            n[m - 1] *= count[k];
            for (int o = 0; o < nout; o++) {
                ds[o][m - 1] = dstr[o][k];
            }
            for (int i = 0; i < e->n; i++) {
                if (e->v[i].kind == V_INPUT) {
                    ist[i][m - 1] = opstride[i][k];
                }
            }
            continue;
        }
        n[m] = count[k];
        for (int o = 0; o < nout; o++) {
            ds[o][m] = dstr[o][k];
        }
        for (int i = 0; i < e->n; i++) {
            ist[i][m] = e->v[i].kind == V_INPUT ? opstride[i][k] : 0;
        }
        m++;
    }
    if (m == 0) {
        n[0] = 1;
        for (int o = 0; o < nout; o++) {
            ds[o][0] = 0;
        }
        for (int i = 0; i < e->n; i++) {
            ist[i][0] = 0;
        }
        m = 1;
    }

    int64_t idx[CW_MAXDIM + 1];
    memset(idx, 0, sizeof(idx));
    char *ptr[MAX_VALUES];
    int64_t step[MAX_VALUES];
    /* The output a computed value writes straight into (-1: a register);
     * an output whose value is an input, a scalar or another output's is
     * copied after each block. */
    int home[MAX_VALUES];
    bool copy[MAX_OUTS];
    for (int i = 0; i < e->n; i++) {
        home[i] = -1;
    }
    for (int o = 0; o < nout; o++) {
        const value_t *v = &e->v[outs[o]];
        /* Loops write straight into a destination only where it is
         * contiguous: NumPy's SIMD loops mishandle some strided outputs
         * (isnan into a strided bool array, NumPy 2.4 with AVX-512). */
        copy[o] = v->kind == V_INPUT || v->kind == V_SCALAR || home[outs[o]] >= 0 ||
                  ds[o][m - 1] != (int64_t)v->itemsize;
        if (!copy[o]) {
            home[outs[o]] = o;
        }
    }
    for (;;) {
        /* Offsets of this row for the inputs and the destinations. */
        int64_t doff[MAX_OUTS] = {0};
        int64_t ioff[MAX_VALUES];
        for (int i = 0; i < e->n; i++) {
            ioff[i] = 0;
        }
        for (int a = 0; a < m - 1; a++) {
            for (int o = 0; o < nout; o++) {
                doff[o] += idx[a] * ds[o][a];
            }
            for (int i = 0; i < e->n; i++) {
                ioff[i] += idx[a] * ist[i][a];
            }
        }
        int64_t len = n[m - 1];
        for (int64_t j0 = 0; j0 < len; j0 += CW_BLOCK) {
            intptr_t b = (intptr_t)(len - j0 < CW_BLOCK ? len - j0 : CW_BLOCK);
            char *out[MAX_OUTS];
            for (int o = 0; o < nout; o++) {
                out[o] = dsts[o] + doff[o] + j0 * ds[o][m - 1];
            }
            for (int i = 0; i < e->n; i++) {
                const value_t *v = &e->v[i];
                switch (v->kind) {
                case V_INPUT:
                    step[i] = ist[i][m - 1];
                    ptr[i] = (char *)inbase[i] + ioff[i] + j0 * step[i];
                    break;
                case V_SCALAR:
                    step[i] = 0;
                    ptr[i] = (char *)v->scalar;
                    break;
                default: {
                    int o = home[i];
                    ptr[i] = o >= 0 ? out[o] : base + lay->reg_off[i];
                    step[i] = o >= 0 ? ds[o][m - 1] : (int64_t)v->itemsize;
                    if (v->kind == V_CAST) {
                        cw__cast(e->v[v->in[0]].dtype, v->dtype, ptr[v->in[0]],
                                 step[v->in[0]], ptr[i], step[i], b);
                    }
                    else {
                        char *args[4];
                        intptr_t steps[4];
                        for (int a = 0; a < v->nin; a++) {
                            args[a] = ptr[v->in[a]];
                            steps[a] = (intptr_t)step[v->in[a]];
                        }
                        args[v->nin] = ptr[i];
                        steps[v->nin] = (intptr_t)step[i];
                        v->fn(args, &b, steps, v->data);
                    }
                    break;
                }
                }
            }
            for (int o = 0; o < nout; o++) {
                if (copy[o]) {
                    int64_t cnt1[1] = {b}, dst1[1] = {ds[o][m - 1]},
                            src1[1] = {step[outs[o]]};
                    cw__copy_strided(1, cnt1, out[o], dst1, ptr[outs[o]], src1,
                                     e->v[outs[o]].itemsize);
                }
            }
        }
        if (!cw__next_index(idx, n, m - 2, -1, -1)) {
            break;
        }
    }
}

/* Whether the program's only output is one of its inputs, unbroadcast, so
 * a region of it is that input's region. */
static bool
is_plain(const cw_expr_t *e, int nout, const int *outs, const int64_t *count)
{
    const value_t *only = &e->v[outs[0]];
    if (nout != 1 || only->kind != V_INPUT) {
        return false;
    }
    bool mapped[CW_MAXDIM] = {false};
    for (int d = 0; d < only->sel.ndim; d++) {
        if (only->bcast[d]) {
            return false;
        }
        if (only->axis[d] >= 0) {
            mapped[only->axis[d]] = true;
        }
    }
    /* Output axes no input dimension maps to are broadcast: only when they
     * have extent 1 is this a plain read. */
    for (int k = 0; k < e->ndim; k++) {
        if (!mapped[k] && count[k] != 1) {
            return false;
        }
    }
    return true;
}

/*
 * Input i's region for the tile as a range of one stored chunk, when it
 * lies in one chunk and its rows along output axis `ax` are the chunk's
 * outermost dimension in use: opens the chunk stream and sets the input's
 * byte offset in the chunk (*base), its byte strides per output axis and
 * the bytes one row spans past its start (*rowspan).  false: read the
 * region whole instead.
 */
static int
open_stream(const cw_expr_t *e, const value_t *v, const int64_t *start,
            const int64_t *cnt, int ax, cw__cstream_t *cs, int64_t *base,
            int64_t *stride, int64_t *rowspan, cw__scratch_t *s, bool *ok)
{
    const cw_source_t *src = v->src;
    *ok = false;
    if (src->ops->stream_open == NULL || v->sel.ndim == 0 || ax < 0) {
        return CW_OK;
    }
    int64_t cidx[CW_MAXDIM], cst[CW_MAXDIM];
    int64_t st = (int64_t)src->itemsize;
    for (int d = v->sel.ndim - 1; d >= 0; d--) {
        cst[d] = st;
        st *= src->chunks[d];
    }
    int dax = -1;
    *base = 0;
    *rowspan = (int64_t)src->itemsize;
    for (int k = 0; k < e->ndim; k++) {
        stride[k] = 0;
    }
    for (int d = 0; d < v->sel.ndim; d++) {
        int64_t step = v->sel.step[d];
        int64_t last = start[d] + (cnt[d] - 1) * step;
        if (step <= 0 || cnt[d] <= 0) {
            return CW_OK;
        }
        cidx[d] = start[d] / src->chunks[d];
        if (last / src->chunks[d] != cidx[d]) {
            return CW_OK;  /* spans chunks */
        }
        *base += (start[d] - cidx[d] * src->chunks[d]) * cst[d];
        int k = v->axis[d];
        bool live = k >= 0 && !v->bcast[d];
        if (live && k == ax) {
            dax = d;
        }
        else if (cnt[d] > 1 && dax < 0) {
            return CW_OK;  /* rows would not be the outer dimension */
        }
        if (live) {
            stride[k] = step * cst[d];
        }
        if (dax != d) {
            *rowspan += (cnt[d] - 1) * step * cst[d];
        }
    }
    if (dax < 0) {
        return CW_OK;  /* broadcast along the rows: read it once, whole */
    }
    CW_TRY_RET(src->ops->stream_open((cw_source_t *)src, cidx, cs, s));
    *ok = true;
    return CW_OK;
}

/*
 * Evaluate the output region [off, off+count) of values outs[0..nout) into
 * dsts[k] (byte strides dstr[k]), or through a sink.
 *
 * Inputs whose region lies in one stored chunk are streamed: the region is
 * cut into slabs of rows along its first axis of extent above one, and for
 * each slab only the Blosc blocks under it are decoded.  Other inputs are
 * read whole for the region first.
 */
static int
eval_region_sink(const cw_expr_t *e, const layout_t *lay, const int64_t *off,
                 const int64_t *count, int nout, const int *outs, char *const *dsts,
                 const int64_t *const *dstr, const slab_sink_t *sink,
                 cw__scratch_t *s)
{
    int rc;
    int nd = e->ndim;
    for (int k = 0; k < nd; k++) {
        if (count[k] <= 0) {
            return CW_OK;
        }
    }
    bool plain = is_plain(e, nout, outs, count);
    if (plain && sink == NULL) {
        /* Read it straight into the destination, no copy. */
        const value_t *only = &e->v[outs[0]];
        int64_t start[CW_MAXDIM], cnt[CW_MAXDIM], str[CW_MAXDIM];
        for (int d = 0; d < only->sel.ndim; d++) {
            int k = only->axis[d];
            start[d] = only->sel.start[d] + (k >= 0 ? off[k] * only->sel.step[d] : 0);
            cnt[d] = k >= 0 ? count[k] : 1;
            str[d] = k >= 0 ? dstr[0][k] : 0;
        }
        return cw__read_region(only->src, start, only->sel.step, cnt, dsts[0],
                               str, s);
    }
    /* Inputs may themselves be programs (composite sources): each nesting
     * level has its own buffers. */
    int lvl = s->depth;
    if (lvl >= 4) {
        return cw__error(CW_EINVAL, "programs nested more than 4 deep");
    }
    CW_TRY(cw__reserve(&s->eval[lvl], &s->eval_cap[lvl], lay->total));
    if (s->streams[lvl] == NULL) {
        s->streams[lvl] = cw__calloc(MAX_VALUES, sizeof(cw__cstream_t));
        if (s->streams[lvl] == NULL) {
            return cw__error(CW_ENOMEM, "out of memory");
        }
        s->nstreams[lvl] = MAX_VALUES;
    }
    char *base = s->eval[lvl];
    cw__cstream_t *streams = s->streams[lvl];

    /* The rows: the first axis of extent above one. */
    int ax = -1;
    for (int k = 0; k < nd && ax < 0; k++) {
        if (count[k] > 1) {
            ax = k;
        }
    }

    /* 1. Open each input: a chunk stream, or its region read whole into its
     * tile buffer (strides per output axis; 0: broadcast).  Inputs in
     * memory are used in place. */
    int64_t opstride[MAX_VALUES][CW_MAXDIM];
    const char *inbase[MAX_VALUES];
    bool streamed[MAX_VALUES];
    int64_t sbase[MAX_VALUES], span[MAX_VALUES];
    int64_t rows = ax >= 0 ? count[ax] : 1, slab = rows;
    bool any = false;
    s->depth = lvl + 1;
    for (int i = 0; i < e->n; i++) {
        const value_t *v = &e->v[i];
        streamed[i] = false;
        if (v->kind != V_INPUT) {
            continue;
        }
        int64_t start[CW_MAXDIM], cnt[CW_MAXDIM], bstr[CW_MAXDIM];
        int64_t stride = (int64_t)v->itemsize;
        for (int d = v->sel.ndim - 1; d >= 0; d--) {
            int k = v->axis[d];
            bool live = k >= 0 && !v->bcast[d];
            start[d] = v->sel.start[d] + (live ? off[k] * v->sel.step[d] : 0);
            cnt[d] = live ? count[k] : 1;
            bstr[d] = stride;
            stride *= cnt[d];
        }
        for (int k = 0; k < nd; k++) {
            opstride[i][k] = 0;
        }
        if (v->src->ops->address) {
            v->src->ops->address(v->src, start, v->sel.step, &inbase[i], bstr);
        }
        else {
            rc = open_stream(e, v, start, cnt, ax, &streams[i], &sbase[i],
                             opstride[i], &span[i], s, &streamed[i]);
            if (rc < 0) {
                s->depth = lvl;
                goto fail;
            }
            if (streamed[i]) {
                int64_t per = SLAB_BYTES / (opstride[i][ax] > 0 ? opstride[i][ax] : 1);
                slab = any && slab < per ? slab : per;
                any = true;
                continue;
            }
            inbase[i] = base + lay->tile_off[i];
            rc = cw__read_region(v->src, start, v->sel.step, cnt,
                                 base + lay->tile_off[i], bstr, s);
            if (rc < 0) {
                s->depth = lvl;
                goto fail;
            }
        }
        for (int d = 0; d < v->sel.ndim; d++) {
            int k = v->axis[d];
            if (k >= 0 && !v->bcast[d]) {
                opstride[i][k] = bstr[d];
            }
        }
    }
    s->depth = lvl;
    if (sink && ax >= 0) {
        /* Bound the sink's slab too: one row of each output. */
        int64_t rowbytes = 8;
        for (int k = ax + 1; k < nd; k++) {
            rowbytes *= count[k];
        }
        int64_t per = SLAB_BYTES / rowbytes;
        slab = any && slab < per ? slab : per;
        any = true;
    }
    if (!any || ax < 0) {
        slab = rows;
    }
    slab = slab < 1 ? 1 : slab > rows ? rows : slab;

    /* 2. Slab by slab: streamed inputs decode the rows' bytes, the kernel
     * (or the sink, for a program that computes nothing) takes them. */
    for (int64_t r0 = 0; r0 < rows; r0 += slab) {
        int64_t r1 = r0 + slab < rows ? r0 + slab : rows;
        int64_t cnt[CW_MAXDIM];
        const char *in[MAX_VALUES];
        char *out[MAX_OUTS];
        memcpy(cnt, count, sizeof(int64_t) * (size_t)nd);
        if (ax >= 0) {
            cnt[ax] = r1 - r0;
        }
        for (int i = 0; i < e->n; i++) {
            if (e->v[i].kind != V_INPUT) {
                continue;
            }
            if (streamed[i]) {
                int64_t lo = sbase[i] + r0 * opstride[i][ax];
                int64_t hi = sbase[i] + (r1 - 1) * opstride[i][ax] + span[i];
                CW_TRY(cw__cstream_get(&streams[i], (size_t)lo, (size_t)(hi - lo),
                                       &in[i], s));
            }
            else {
                in[i] = inbase[i] + (ax >= 0 ? r0 * opstride[i][ax] : 0);
            }
        }
        if (sink) {
            CW_TRY(sink->begin(sink->ctx, ax, r0, r1, out));
        }
        else {
            for (int o = 0; o < nout; o++) {
                out[o] = dsts[o] + (ax >= 0 ? r0 * dstr[o][ax] : 0);
            }
        }
        if (sink && plain && sink->in_place) {
            const int64_t *str1 = opstride[outs[0]];
            CW_TRY(sink->end(sink->ctx, ax, r0, r1, &in[outs[0]], &str1));
            continue;
        }
        run_kernel(e, lay, cnt, nout, outs, out, dstr, in, opstride, base);
        if (sink) {
            CW_TRY(sink->end(sink->ctx, ax, r0, r1, (const char *const *)out, dstr));
        }
    }
    rc = CW_OK;
fail:
    return rc;
}

/* Evaluate the region of the program's result into dst. */
static int
eval_region(const cw_expr_t *e, const layout_t *lay, const int64_t *off,
            const int64_t *count, char *dst, const int64_t *dstrides,
            cw__scratch_t *s)
{
    return eval_region_sink(e, lay, off, count, 1, &e->result, &dst, &dstrides, NULL,
                            s);
}

/* The tile number `task` of a grid of `ntiles` tiles (row-major): its
 * offset and extent along each axis. */
static void
tile_at(const cw_expr_t *e, const int64_t *ntiles, int64_t task, int64_t *off,
        int64_t *count)
{
    cw__grid_cell(e->ndim, e->shape, e->tile, ntiles, task, -1, off, count);
}

/* Tiles per axis of the program's shape and their number (0 for an empty
 * shape); CW_EINVAL when the number does not fit in 64 bits. */
static int
tile_grid(const cw_expr_t *e, int64_t *ntiles, int64_t *ntasks)
{
    *ntasks = 1;
    for (int k = 0; k < e->ndim; k++) {
        ntiles[k] = e->shape[k] ? (e->shape[k] + e->tile[k] - 1) / e->tile[k] : 0;
        if (!cw__mul_ok(*ntasks, ntiles[k], ntasks)) {
            return cw__error(CW_EINVAL, "too many tiles");
        }
    }
    return CW_OK;
}

static int
read_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    eval_ctx_t *ctx = vctx;
    const cw_expr_t *e = ctx->e;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    char *dst = ctx->dst;
    tile_at(e, ctx->ntiles, task, off, count);
    for (int k = 0; k < e->ndim; k++) {
        dst += off[k] * ctx->strides[k];
    }
    return eval_region(e, &ctx->lay, off, count, dst, ctx->strides, s);
}

static int
check_finished(const cw_expr_t *e)
{
    if (!e->finished) {
        return cw__error(CW_EINVAL, "expression not finished (cw_expr_finish)");
    }
    return CW_OK;
}

int
cw_expr_read(cw_expr_t *e, void *dst, const int64_t *strides,
             const cw_config_t *cfg)
{
    int rc;
    eval_ctx_t ctx;
    cw__error_clear();
    CW_TRY(check_finished(e));
    memset(&ctx, 0, sizeof(ctx));
    ctx.e = e;
    ctx.dst = dst;
    ctx.strides = strides;
    int64_t ntasks;
    CW_TRY(tile_grid(e, ctx.ntiles, &ntasks));
    if (ntasks == 0) {
        return CW_OK;
    }
    plan_layout(e, e->tile, &ctx.lay);
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    cw__job_t job = {.ntasks = ntasks, .per_task = working_set(e, e->tile),
                     .nsources = e->ninputs, .sources = e->srcs,
                     .task = read_task, .ctx = &ctx};
    rc = cw__job_run(&job, &budget, cfg);
fail:
    return rc;
}

/* Several values at once: a pass without reductions (cw_expr_pass). */
int
cw_expr_read_many(cw_expr_t *e, int n, const int *ids, void *const *dsts,
                  const int64_t *const *strides, const cw_config_t *cfg)
{
    return cw_expr_pass(e, n, ids, dsts, strides, 0, NULL, cfg);
}

/* ------------------------------------------------------------------ store */

typedef struct store_job {
    const cw_expr_t *e;
    layout_t lay;
} store_job_t;

static int
job_fill(void *vctx, const int64_t *off, const int64_t *count, char *dst,
         const int64_t *strides, cw__scratch_t *s)
{
    store_job_t *j = vctx;
    return eval_region(j->e, &j->lay, off, count, dst, strides, s);
}

/* A store's sink: slabs of the output chunk's rows are computed into a
 * slab-sized buffer and fed to the chunk's encoder in order. */
typedef struct store_slab {
    const int64_t *count;       /* the region (the chunk's part in shape) */
    const int64_t *strides;     /* the chunk's C strides */
    size_t itemsize;
    bool edge;                  /* rows hold padding: clear them first */
    cw__benc_t *enc;
    cw__scratch_t *s;
} store_slab_t;

static size_t
slab_bytes(const store_slab_t *ss, int ax, int64_t r0, int64_t r1)
{
    return ax >= 0 ? (size_t)((r1 - r0) * ss->strides[ax]) : ss->itemsize;
}

static int
store_slab_begin(void *vctx, int ax, int64_t r0, int64_t r1, char **dsts)
{
    store_slab_t *ss = vctx;
    size_t n = slab_bytes(ss, ax, r0, r1);
    CW_TRY_RET(cw__reserve(&ss->s->work, &ss->s->work_cap, n));
    if (ss->edge) {
        memset(ss->s->work, 0, n);
    }
    dsts[0] = ss->s->work;
    return CW_OK;
}

static int
store_slab_end(void *vctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
               const int64_t *const *strides)
{
    store_slab_t *ss = vctx;
    (void)strides;
    return cw__benc_feed(ss->enc, ptrs[0], slab_bytes(ss, ax, r0, r1));
}

static int
job_fill_stream(void *vctx, const int64_t *off, const int64_t *count,
                const int64_t *strides, size_t chunk_nbytes, cw__benc_t *enc,
                cw__scratch_t *s)
{
    store_job_t *j = vctx;
    const cw_expr_t *e = j->e;
    store_slab_t ss = {.count = count, .strides = strides,
                       .itemsize = e->v[e->result].itemsize, .enc = enc, .s = s};
    /* The region starts at the chunk's origin; rows of it are whole rows
     * of the chunk only when no later axis is cut by the shape's edge. */
    int ax = -1;
    for (int k = 0; k < e->ndim; k++) {
        if (ax >= 0 && count[k] * strides[k] != strides[k - 1]) {
            ss.edge = true;  /* fewer than the chunk's extent along k */
        }
        if (ax < 0 && count[k] > 1) {
            ax = k;
        }
    }
    slab_sink_t sink = {.begin = store_slab_begin, .end = store_slab_end, .ctx = &ss};
    char *dst = NULL;
    CW_TRY_RET(eval_region_sink(e, &j->lay, off, count, 1, &e->result, &dst,
                                &strides, &sink, s));
    /* The rest of the chunk past the shape's edge: padding. */
    return cw__benc_feed(enc, NULL, chunk_nbytes - enc->fed);
}

static size_t
job_working_set(void *vctx, const int64_t *chunks)
{
    store_job_t *j = vctx;
    /* The store's tiles are its chunks. */
    plan_layout(j->e, chunks, &j->lay);
    return working_set(j->e, chunks);
}

int
cw_expr_store(cw_expr_t *e, const char *path, const char *name,
              const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    cw__error_clear();
    CW_TRY(check_finished(e));
    store_job_t j = {.e = e};
    cw__store_job_t job = {.ndim = e->ndim, .dtype = e->v[e->result].dtype,
                           .ctx = &j, .fill = job_fill,
                           .fill_stream = job_fill_stream,
                           .working_set = job_working_set,
                           .nsources = e->ninputs, .sources = e->srcs};
    memcpy(job.shape, e->shape, sizeof(job.shape));
    memcpy(job.chunks, e->tile, sizeof(job.chunks));
    rc = cw__store_run(&job, path, name, opts, cfg);
fail:
    return rc;
}

/* --------------------------------------------------------------- describe */

static const char *
kind_name(vkind_t k)
{
    return k == V_INPUT ? "input" : k == V_SCALAR ? "scalar" : k == V_CAST ? "cast"
                                                                           : "loop";
}

int
cw_expr_describe(const cw_expr_t *e, const cw_config_t *cfg, char *buf, size_t len)
{
    size_t k = 0;
#define OUT(...)                                                            \
    do {                                                                    \
        int w_ = snprintf(buf + k, k < len ? len - k : 0, __VA_ARGS__);     \
        k += w_ > 0 ? (size_t)w_ : 0;                                       \
    } while (0)
    if (len > 0) {
        buf[0] = '\0';
    }
    int nloops = 0;
    for (int i = 0; i < e->n; i++) {
        nloops += e->v[i].kind == V_LOOP || e->v[i].kind == V_CAST;
    }
    OUT("fused kernel: %d operation%s over %d input%s, blocks of %d elements\n",
        nloops, nloops == 1 ? "" : "s", e->ninputs, e->ninputs == 1 ? "" : "s",
        CW_BLOCK);
    for (int i = 0; i < e->n; i++) {
        const value_t *v = &e->v[i];
        OUT("  %%%d = %s", i, kind_name(v->kind));
        if (v->kind == V_INPUT) {
            OUT(" %s source", cw_source_kind(v->src));
            OUT(" (chunks");
            for (int d = 0; d < v->src->ndim; d++) {
                OUT("%s%lld", d ? "x" : " ", (long long)v->src->chunks[d]);
            }
            OUT(")%s", v->src->ops->stream_open ? ", streamed" : "");
        }
        else if (v->kind == V_LOOP) {
            OUT(" %s(", v->name);
            for (int a = 0; a < v->nin; a++) {
                OUT("%s%%%d", a ? ", " : "", v->in[a]);
            }
            OUT(")");
        }
        else if (v->kind == V_CAST) {
            OUT("(%%%d)", v->in[0]);
        }
        OUT(" -> %s%s\n", cw_dtype_name(v->dtype), i == e->result ? "  [result]" : "");
    }
    int64_t ntasks = 1;
    OUT("tiles:");
    for (int d = 0; d < e->ndim; d++) {
        OUT("%s%lld", d ? "x" : " ", (long long)e->tile[d]);
        ntasks *= e->shape[d] ? (e->shape[d] + e->tile[d] - 1) / e->tile[d] : 0;
    }
    size_t ws = e->finished ? working_set(e, e->tile) : 0;
    int nthreads = 1;
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    int rc = e->finished ? cw__budget_threads(&budget, cfg, ntasks, ws, &nthreads)
                         : CW_OK;
    OUT("; %lld task%s; %d thread%s x %.1f MiB per task = %.1f MiB projected%s\n",
        (long long)ntasks, ntasks == 1 ? "" : "s", nthreads, nthreads == 1 ? "" : "s",
        (double)ws / 1048576.0, (double)ws * nthreads / 1048576.0,
        rc < 0 ? " (exceeds memory_limit)" : "");
    bool streams = false;
    for (int i = 0; i < e->n; i++) {
        streams = streams || (e->v[i].kind == V_INPUT && e->v[i].src->ops->stream_open);
    }
    if (streams) {
        OUT("streamed inputs: chunks inside one tile are read by Blosc block in slabs "
            "of about %lld KiB; the projection assumes chunks decoded whole\n",
            (long long)(SLAB_BYTES >> 10));
    }
#undef OUT
    return CW_OK;
}

/* -------------------------------------------------------------- reduction */

typedef struct reduce_ctx {
    const cw_expr_t *e;
    const bool *red;            /* per output axis */
    cw_loop_fn fn;
    void *data;
    size_t itemsize;
    int64_t kstride[CW_MAXDIM]; /* byte strides of the kept output (0: reduced) */
    int64_t kbytes;             /* bytes of one kept output */
    char *partials;             /* R x kept output */
} reduce_ctx_t;

/*
 * Reduce a block of `tcount` values (byte strides tstrides) into acc (byte
 * strides per output axis, 0 along reduced axes): acc = first slice, then
 * acc = fn(acc, x) over the rest in C order; with `cont` acc already holds
 * earlier rows of the same reduction and every slice is combined.  Along a
 * reduced innermost axis the loop runs in NumPy's reduce mode (acc step 0),
 * which sums pairwise.
 */
static void
reduce_block(const reduce_ctx_t *c, int ndim, const int64_t *tcount,
             const char *tile, const int64_t *tstrides, char *acc,
             const int64_t *kstrides, bool cont)
{
    size_t isz = c->itemsize;
    /* Axes of extent 1 drop out; trailing reduced axes that are contiguous
     * together merge into one run: a full reduction of a contiguous block
     * is one pairwise pass. */
    int64_t count[CW_MAXDIM], kstride[CW_MAXDIM], tstr[CW_MAXDIM];
    bool red[CW_MAXDIM];
    int nd = 0;
    for (int k = 0; k < ndim; k++) {
        if (tcount[k] == 1) {
            continue;
        }
        if (nd > 0 && red[nd - 1] && c->red[k] &&
            tstr[nd - 1] == tstrides[k] * tcount[k]) {
            count[nd - 1] *= tcount[k];
            tstr[nd - 1] = tstrides[k];
            continue;
        }
        count[nd] = tcount[k];
        kstride[nd] = kstrides[k];
        red[nd] = c->red[k];
        tstr[nd] = tstrides[k];
        nd++;
    }
    if (nd == 0) {
        count[0] = 1;
        kstride[0] = 0;
        red[0] = true;
        tstr[0] = (int64_t)isz;
        nd = 1;
    }
    int in = nd - 1;
    int64_t len = count[in];
    bool inner_red = red[in];
    int64_t idx[CW_MAXDIM];
    memset(idx, 0, sizeof(idx));
    for (;;) {
        /* Is this row the first along every reduced outer axis? */
        bool first = !cont;
        int64_t aoff = 0, toff = 0;
        for (int k = 0; k < in; k++) {
            toff += idx[k] * tstr[k];
            aoff += idx[k] * kstride[k];
            if (red[k] && idx[k] != 0) {
                first = false;
            }
        }
        const char *row = tile + toff;
        char *a = acc + aoff;
        if (inner_red) {
            if (first) {
                memcpy(a, row, isz);
                row += tstr[in];
            }
            intptr_t n = (intptr_t)(first ? len - 1 : len);
            if (n > 0) {
                char *args[3] = {a, (char *)row, a};
                intptr_t steps[3] = {0, (intptr_t)tstr[in], 0};
                c->fn(args, &n, steps, c->data);
            }
        }
        else if (first) {
            int64_t cnt1[1] = {len}, dst1[1] = {kstride[in]}, src1[1] = {tstr[in]};
            cw__copy_strided(1, cnt1, a, dst1, row, src1, isz);
        }
        else {
            intptr_t n = (intptr_t)len;
            char *args[3] = {a, (char *)row, a};
            intptr_t steps[3] = {(intptr_t)kstride[in], (intptr_t)tstr[in],
                                 (intptr_t)kstride[in]};
            c->fn(args, &n, steps, c->data);
        }
        if (!cw__next_index(idx, count, in - 1, -1, -1)) {
            break;
        }
    }
}

/*
 * Reductions and shared passes.  A pass evaluates tiles slab by slab; each
 * slab goes to the values read into caller buffers and to each reduction,
 * which folds it into the tile's partial.  Slabs along a kept axis fill
 * their own part of the partial.  Slabs along a reduced axis each get a
 * partial of their own, combined pairwise (a binary counter of partials),
 * so cutting a tile into slabs keeps sums pairwise.
 */
typedef struct reduce_slab {
    const reduce_ctx_t *c;
    const int64_t *count;       /* the tile */
    int64_t tstr[CW_MAXDIM];    /* C strides of the tile's values */
    char *acc;                  /* the tile's part of its partial */
    int64_t kcount[CW_MAXDIM];  /* the tile's kept extents (1: reduced) */
    int64_t kstr[CW_MAXDIM];    /* C strides of a partial of the tile */
    size_t kt;                  /* bytes of one such partial */
    char *stack;                /* partials of slabs along a reduced axis */
    int depth;                  /* partials on it */
    int level[64];              /* log2 of the slabs each one holds */
} reduce_slab_t;

static void
combine(const reduce_ctx_t *c, char *a, const char *b, size_t nbytes)
{
    intptr_t n = (intptr_t)(nbytes / c->itemsize);
    char *args[3] = {a, (char *)b, a};
    intptr_t steps[3] = {(intptr_t)c->itemsize, (intptr_t)c->itemsize,
                         (intptr_t)c->itemsize};
    c->fn(args, &n, steps, c->data);
}

/* Fold rows [r0, r1) along axis ax (values at ptr, byte strides) in. */
static void
reduce_slab_fold(reduce_slab_t *rs, int ax, int64_t r0, int64_t r1, const char *ptr,
                 const int64_t *strides)
{
    const reduce_ctx_t *c = rs->c;
    int nd = c->e->ndim;
    int64_t cnt[CW_MAXDIM];
    memcpy(cnt, rs->count, sizeof(int64_t) * (size_t)nd);
    if (ax < 0 || !c->red[ax]) {
        char *acc = rs->acc;
        if (ax >= 0) {
            cnt[ax] = r1 - r0;
            acc += r0 * c->kstride[ax];
        }
        reduce_block(c, nd, cnt, ptr, strides, acc, c->kstride, false);
        return;
    }
    cnt[ax] = r1 - r0;
    if (r0 == 0) {
        rs->depth = 0;
    }
    reduce_block(c, nd, cnt, ptr, strides, rs->stack + (size_t)rs->depth * rs->kt,
                 rs->kstr, false);
    rs->level[rs->depth++] = 0;
    while (rs->depth >= 2 && rs->level[rs->depth - 1] == rs->level[rs->depth - 2]) {
        combine(c, rs->stack + (size_t)(rs->depth - 2) * rs->kt,
                rs->stack + (size_t)(rs->depth - 1) * rs->kt, rs->kt);
        rs->level[rs->depth - 2]++;
        rs->depth--;
    }
}

/* After the last slab: fold the stack in order into the tile's partial. */
static void
reduce_slab_finish(reduce_slab_t *rs)
{
    const reduce_ctx_t *c = rs->c;
    int nd = c->e->ndim;
    if (rs->depth == 0) {
        return;
    }
    for (int i = 1; i < rs->depth; i++) {
        combine(c, rs->stack, rs->stack + (size_t)i * rs->kt, rs->kt);
    }
    int64_t sstr[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        sstr[k] = c->red[k] ? 0 : rs->kstr[k];
    }
    cw__copy_strided(nd, rs->kcount, rs->acc, c->kstride, rs->stack, sstr, c->itemsize);
    rs->depth = 0;
}

typedef struct pass_ctx {
    const cw_expr_t *e;
    layout_t lay;
    int64_t ntiles[CW_MAXDIM];
    int nread, nred;
    int outs[MAX_OUTS];             /* value ids: the reads, then reductions */
    char *rdst[MAX_OUTS];
    const int64_t *rstr[MAX_OUTS];
    reduce_ctx_t red[MAX_OUTS];
} pass_ctx_t;

/* One task's sink: where each slab goes. */
typedef struct pass_slab {
    const pass_ctx_t *p;
    char *rdst[MAX_OUTS];           /* the tile's origin in each read */
    reduce_slab_t rs[MAX_OUTS];
    cw__scratch_t *s;
} pass_slab_t;

static int
pass_slab_begin(void *vctx, int ax, int64_t r0, int64_t r1, char **dsts)
{
    pass_slab_t *ps = vctx;
    const pass_ctx_t *p = ps->p;
    for (int j = 0; j < p->nread; j++) {
        dsts[j] = ps->rdst[j] + (ax >= 0 ? r0 * p->rstr[j][ax] : 0);
    }
    /* Each reduction's slab, 64-byte aligned, in one buffer; at the first
     * slab also the stacks, which live until the tile is done. */
    size_t off[MAX_OUTS], total = 0, stotal = 0, soff[MAX_OUTS];
    for (int k = 0; k < p->nred; k++) {
        reduce_slab_t *rs = &ps->rs[k];
        size_t n = ax >= 0 ? (size_t)((r1 - r0) * rs->tstr[ax]) : rs->c->itemsize;
        off[k] = total;
        total += (n + 63) & ~(size_t)63;
        if (r0 == 0 && ax >= 0 && rs->c->red[ax]) {
            int64_t nslabs = (rs->count[ax] + (r1 - r0) - 1) / (r1 - r0);
            int levels = 2;
            while (((int64_t)1 << (levels - 2)) < nslabs) {
                levels++;
            }
            soff[k] = stotal;
            stotal += ((size_t)levels * rs->kt + 63) & ~(size_t)63;
        }
    }
    CW_TRY_RET(cw__reserve(&ps->s->enc, &ps->s->enc_cap, total));
    if (stotal > 0) {
        CW_TRY_RET(cw__reserve(&ps->s->red, &ps->s->red_cap, stotal));
    }
    for (int k = 0; k < p->nred; k++) {
        reduce_slab_t *rs = &ps->rs[k];
        dsts[p->nread + k] = (char *)ps->s->enc + off[k];
        if (r0 == 0 && ax >= 0 && rs->c->red[ax]) {
            rs->stack = (char *)ps->s->red + soff[k];
        }
    }
    return CW_OK;
}

static int
pass_slab_end(void *vctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
              const int64_t *const *strides)
{
    pass_slab_t *ps = vctx;
    const pass_ctx_t *p = ps->p;
    for (int k = 0; k < p->nred; k++) {
        reduce_slab_fold(&ps->rs[k], ax, r0, r1, ptrs[p->nread + k],
                         strides[p->nread + k]);
    }
    return CW_OK;
}

static int
pass_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    const pass_ctx_t *p = vctx;
    const cw_expr_t *e = p->e;
    int nd = e->ndim;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    tile_at(e, p->ntiles, task, off, count);
    pass_slab_t ps;
    ps.p = p;
    ps.s = s;
    const int64_t *dstr[MAX_OUTS];
    char *dsts[MAX_OUTS];
    for (int j = 0; j < p->nread; j++) {
        ps.rdst[j] = p->rdst[j];
        for (int k = 0; k < nd; k++) {
            ps.rdst[j] += off[k] * p->rstr[j][k];
        }
        dstr[j] = p->rstr[j];
        dsts[j] = ps.rdst[j];
    }
    for (int i = 0; i < p->nred; i++) {
        const reduce_ctx_t *c = &p->red[i];
        reduce_slab_t *rs = &ps.rs[i];
        memset(rs, 0, sizeof(*rs));
        rs->c = c;
        rs->count = count;
        int64_t r = 0, koff = 0;        /* the tile's partial, its part of it */
        for (int k = 0; k < nd; k++) {
            koff += off[k] * c->kstride[k];
            if (c->red[k]) {
                r = r * p->ntiles[k] + off[k] / e->tile[k];
            }
        }
        rs->acc = c->partials + r * c->kbytes + koff;
        int64_t st = (int64_t)c->itemsize, ks = (int64_t)c->itemsize;
        for (int k = nd - 1; k >= 0; k--) {
            rs->tstr[k] = st;
            st *= count[k];
            rs->kcount[k] = c->red[k] ? 1 : count[k];
            rs->kstr[k] = c->red[k] ? 0 : ks;
            ks *= rs->kcount[k];
        }
        rs->kt = (size_t)ks;
        dstr[p->nread + i] = rs->tstr;
        dsts[p->nread + i] = NULL;
    }
    slab_sink_t sink = {.begin = pass_slab_begin, .end = pass_slab_end, .ctx = &ps,
                        .in_place = p->nread == 0 && p->nred == 1};
    int n = p->nread + p->nred;
    int rc = eval_region_sink(e, &p->lay, off, count, n, p->outs, dsts, dstr,
                              p->nred > 0 ? &sink : NULL, s);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < p->nred; i++) {
        reduce_slab_finish(&ps.rs[i]);
    }
    return CW_OK;
}

int
cw_expr_pass(cw_expr_t *e, int nread, const int *read_ids, void *const *read_dsts,
             const int64_t *const *read_strides, int nred, const cw_reduction_t *reds,
             const cw_config_t *cfg)
{
    int rc;
    pass_ctx_t *p = NULL;
    cw__error_clear();
    CW_TRY(check_finished(e));
    if (nread < 0 || nred < 0 || nread + nred < 1 || nread + nred > MAX_OUTS) {
        return cw__error(CW_EINVAL, "a pass computes 1 to %d results", MAX_OUTS);
    }
    p = cw__calloc(1, sizeof(*p));
    if (p == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    p->e = e;
    p->nread = nread;
    p->nred = nred;
    int64_t ntasks;
    CW_TRY(tile_grid(e, p->ntiles, &ntasks));
    if (ntasks == 0 && nred > 0) {
        rc = cw__error(CW_EINVAL, "%s: reduction over an empty array",
                       reds[0].name ? reds[0].name : "reduce");
        goto fail;
    }
    if (ntasks == 0) {
        rc = CW_OK;  /* nothing to read */
        goto fail;
    }
    for (int j = 0; j < nread; j++) {
        CW_TRY(check_ref(e, read_ids[j]));
        p->outs[j] = read_ids[j];
        p->rdst[j] = read_dsts[j];
        p->rstr[j] = read_strides[j];
    }
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    size_t extra = 0;
    for (int i = 0; i < nred; i++) {
        const cw_reduction_t *q = &reds[i];
        reduce_ctx_t *c = &p->red[i];
        CW_TRY(check_ref(e, q->id));
        p->outs[nread + i] = q->id;
        c->e = e;
        c->red = q->reduce_axis;
        c->fn = q->fn;
        c->data = q->data;
        c->itemsize = e->v[q->id].itemsize;
        int64_t R = 1, kept = 1, ks = (int64_t)c->itemsize;
        for (int k = e->ndim - 1; k >= 0; k--) {
            c->kstride[k] = c->red[k] ? 0 : ks;
            ks *= c->red[k] ? 1 : e->shape[k];
            if (c->red[k]) {
                R *= p->ntiles[k];
            }
            else {
                kept *= e->shape[k];
            }
        }
        c->kbytes = kept * (int64_t)c->itemsize;
        int64_t pb;
        if (!cw__mul_ok(R, c->kbytes, &pb)) {
            pb = INT64_MAX;
        }
        char what[128];
        snprintf(what, sizeof(what), "%s: the partial results",
                 q->name ? q->name : "reduce");
        CW_TRY(cw__budget_reserve(&budget, pb, what, "use larger chunks along the "
                                  "reduced axes or raise memory_limit"));
        size_t te = c->itemsize;
        for (int k = 0; k < e->ndim; k++) {
            te *= (size_t)e->tile[k];
        }
        extra += te;  /* the planner's worst case: a tile evaluated whole */
        c->partials = cw__malloc((size_t)(pb > 0 ? pb : 1));
        if (c->partials == NULL) {
            rc = cw__error(CW_ENOMEM, "out of memory for %lld bytes of partials",
                           (long long)pb);
            goto fail;
        }
    }
    plan_layout(e, e->tile, &p->lay);
    cw__job_t job = {.ntasks = ntasks, .per_task = working_set(e, e->tile) + extra,
                     .nsources = e->ninputs, .sources = e->srcs,
                     .task = pass_task, .ctx = p};
    CW_TRY(cw__job_run(&job, &budget, cfg));
    /* Combine partials pairwise in a fixed order: independent of threads. */
    for (int i = 0; i < nred; i++) {
        reduce_ctx_t *c = &p->red[i];
        int64_t R = 1;
        for (int k = 0; k < e->ndim; k++) {
            R *= c->red[k] ? p->ntiles[k] : 1;
        }
        for (int64_t step = 1; step < R; step *= 2) {
            for (int64_t r = 0; r + step < R; r += 2 * step) {
                char *a = c->partials + r * c->kbytes;
                combine(c, a, a + step * c->kbytes, (size_t)c->kbytes);
            }
        }
        memcpy(reds[i].dst, c->partials, (size_t)c->kbytes);
    }
    rc = CW_OK;
fail:
    if (p) {
        for (int i = 0; i < nred; i++) {
            cw__free(p->red[i].partials);
        }
        cw__free(p);
    }
    return rc;
}

int
cw_expr_reduce(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data,
               const bool *reduce_axis, void *dst, const cw_config_t *cfg)
{
    cw__error_clear();
    int rc = check_finished(e);
    if (rc < 0) {
        return rc;
    }
    cw_reduction_t r = {.id = e->result, .name = name, .fn = fn, .data = data,
                        .reduce_axis = reduce_axis, .dst = dst};
    return cw_expr_pass(e, 0, NULL, NULL, NULL, 1, &r, cfg);
}

/* ----------------------------------------------------------- accumulation */

typedef struct acc_ctx {
    const cw_expr_t *e;
    layout_t lay;
    int axis;
    cw_loop_fn fn;
    void *data;
    size_t itemsize;
    char *dst;
    const int64_t *strides;
    int64_t ntiles[CW_MAXDIM];  /* along `axis`: 1 (one task walks them) */
    int64_t nalong;             /* tiles along `axis` */
} acc_ctx_t;

/*
 * Accumulate in place along `ax`: row i = fn(row i-1, row i), each row
 * walked with an odometer over the other axes (innermost as the loop's
 * run).  Row 0 continues from `prev0` (a row with the same strides) or,
 * when NULL, stays as it is.
 */
static void
acc_rows(cw_loop_fn fn, void *data, int nd, int ax, const int64_t *count,
         const int64_t *strides, char *tile, const char *prev0)
{
    int inner = nd - 1 == ax ? nd - 2 : nd - 1;
    for (int64_t i = prev0 ? 0 : 1; i < count[ax]; i++) {
        char *row = tile + i * strides[ax];
        const char *prev = i == 0 ? prev0 : row - strides[ax];
        int64_t idx[CW_MAXDIM];
        memset(idx, 0, sizeof(idx));
        for (;;) {
            int64_t o = 0;
            for (int k = 0; k < nd; k++) {
                if (k != ax && k != inner) {
                    o += idx[k] * strides[k];
                }
            }
            intptr_t n = inner >= 0 ? (intptr_t)count[inner] : 1;
            intptr_t st = inner >= 0 ? (intptr_t)strides[inner] : 0;
            char *args[3] = {(char *)prev + o, row + o, row + o};
            intptr_t steps[3] = {st, st, st};
            fn(args, &n, steps, data);
            if (!cw__next_index(idx, count, nd - 1, ax, inner)) {
                break;
            }
        }
    }
}

static int
acc_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    acc_ctx_t *c = vctx;
    const cw_expr_t *e = c->e;
    int nd = e->ndim, ax = c->axis;
    int rc = CW_OK;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM];
    tile_at(e, c->ntiles, task, off, count);
    /* The row carried along `axis`: the other axes of this tile, in the
     * destination's own layout so the loops write it in place. */
    for (int64_t t = 0; t < c->nalong; t++) {
        off[ax] = t * e->tile[ax];
        int64_t end = off[ax] + e->tile[ax];
        count[ax] = (end < e->shape[ax] ? end : e->shape[ax]) - off[ax];
        char *tile = c->dst;
        for (int k = 0; k < nd; k++) {
            tile += off[k] * c->strides[k];
        }
        CW_TRY(eval_region(e, &c->lay, off, count, tile, c->strides, s));
        /* The first row of the tile continues from the last row of the
         * previous one, which is already final in dst. */
        acc_rows(c->fn, c->data, nd, ax, count, c->strides, tile,
                 t == 0 ? NULL : tile - c->strides[ax]);
    }
fail:
    return rc;
}

int
cw_expr_accumulate(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data,
                   int axis, void *dst, const int64_t *strides, const cw_config_t *cfg)
{
    int rc;
    acc_ctx_t c;
    cw__error_clear();
    CW_TRY(check_finished(e));
    if (axis < 0 || axis >= e->ndim) {
        return cw__error(CW_EINVAL, "%s: axis %d out of range", name ? name : "accumulate",
                         axis);
    }
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.axis = axis;
    c.fn = fn;
    c.data = data;
    c.itemsize = e->v[e->result].itemsize;
    c.dst = dst;
    c.strides = strides;
    int64_t ntasks;
    CW_TRY(tile_grid(e, c.ntiles, &ntasks));
    if (ntasks == 0) {
        return CW_OK;
    }
    /* One task per column of tiles along the axis. */
    c.nalong = c.ntiles[axis];
    c.ntiles[axis] = 1;
    ntasks /= c.nalong;
    plan_layout(e, e->tile, &c.lay);
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    cw__job_t job = {.ntasks = ntasks, .per_task = working_set(e, e->tile),
                     .nsources = e->ninputs, .sources = e->srcs,
                     .task = acc_task, .ctx = &c};
    rc = cw__job_run(&job, &budget, cfg);
fail:
    return rc;
}

/* -------------------------------------------------------- argmax, argmin */

/* Whether candidate `a` (index ia) beats the best so far `b` (index ib):
 * NaN beats everything, equal values go to the smaller index. */
#define ARG_BETTER(T, ISNAN)                                                 \
    static bool better_##T(const void *pa, int64_t ia, const void *pb,        \
                           int64_t ib, bool is_max)                          \
    {                                                                        \
        T a, b;                                                              \
        memcpy(&a, pa, sizeof(T));                                           \
        memcpy(&b, pb, sizeof(T));                                           \
        bool na = ISNAN(a), nb = ISNAN(b);                                   \
        if (na || nb) {                                                      \
            return na && (!nb || ia < ib);                                   \
        }                                                                    \
        if (a == b) {                                                        \
            return ia < ib;                                                  \
        }                                                                    \
        return is_max ? a > b : a < b;                                       \
    }
#define NO_NAN(x) ((void)(x), false)
#define IS_NAN(x) ((x) != (x))
typedef _Bool bool_t;
typedef _Float16 f16_t;
ARG_BETTER(bool_t, NO_NAN)
ARG_BETTER(int8_t, NO_NAN)
ARG_BETTER(int16_t, NO_NAN)
ARG_BETTER(int32_t, NO_NAN)
ARG_BETTER(int64_t, NO_NAN)
ARG_BETTER(uint8_t, NO_NAN)
ARG_BETTER(uint16_t, NO_NAN)
ARG_BETTER(uint32_t, NO_NAN)
ARG_BETTER(uint64_t, NO_NAN)
ARG_BETTER(f16_t, IS_NAN)
ARG_BETTER(float, IS_NAN)
ARG_BETTER(double, IS_NAN)

typedef bool (*better_fn)(const void *, int64_t, const void *, int64_t, bool);

static const better_fn better_of[CW_NDTYPES] = {
    better_bool_t, better_int8_t,  better_int16_t,  better_int32_t,
    better_int64_t, better_uint8_t, better_uint16_t, better_uint32_t,
    better_uint64_t, better_f16_t,  better_float,    better_double};

typedef struct arg_ctx {
    const cw_expr_t *e;
    layout_t lay;
    bool is_max;
    int axis;                   /* -1: all */
    better_fn better;
    size_t itemsize;
    size_t tile_bytes;
    int64_t ntiles[CW_MAXDIM];
    int64_t kept;               /* output elements */
    int64_t kstride[CW_MAXDIM]; /* element strides of the output (0: reduced) */
    int64_t gstride[CW_MAXDIM]; /* element strides of the index counted */
    /* Partials: per tile along the reduced axes, per output element. */
    unsigned char *pval;        /* R x kept x itemsize */
    int64_t *pidx;              /* R x kept; -1: none yet */
} arg_ctx_t;

static int
arg_task(void *vctx, int64_t task, cw__scratch_t *s)
{
    arg_ctx_t *c = vctx;
    const cw_expr_t *e = c->e;
    int nd = e->ndim, rc;
    int64_t off[CW_MAXDIM], count[CW_MAXDIM], tstr[CW_MAXDIM];
    tile_at(e, c->ntiles, task, off, count);
    int64_t r = 0;
    for (int k = 0; k < nd; k++) {
        if (c->axis < 0 || k == c->axis) {
            r = r * c->ntiles[k] + off[k] / e->tile[k];
        }
    }
    int64_t st = (int64_t)c->itemsize;
    for (int k = nd - 1; k >= 0; k--) {
        tstr[k] = st;
        st *= count[k];
    }
    CW_TRY(cw__reserve(&s->enc, &s->enc_cap, c->tile_bytes));
    CW_TRY(eval_region(e, &c->lay, off, count, s->enc, tstr, s));
    unsigned char *pv = c->pval + (size_t)(r * c->kept) * c->itemsize;
    int64_t *pi = c->pidx + r * c->kept;
    /* Walk the tile in C order: indices grow, so the first best stays. */
    int64_t idx[CW_MAXDIM];
    memset(idx, 0, sizeof(idx));
    int64_t n = 1;
    for (int k = 0; k < nd; k++) {
        n *= count[k];
    }
    const unsigned char *p = s->enc;
    for (int64_t i = 0; i < n; i++, p += c->itemsize) {
        int64_t o = 0, g = 0;
        for (int k = 0; k < nd; k++) {
            o += (off[k] + idx[k]) * c->kstride[k];
            g += (off[k] + idx[k]) * c->gstride[k];
        }
        if (pi[o] < 0 || c->better(p, g, pv + (size_t)o * c->itemsize, pi[o], c->is_max)) {
            memcpy(pv + (size_t)o * c->itemsize, p, c->itemsize);
            pi[o] = g;
        }
        cw__next_index(idx, count, nd - 1, -1, -1);
    }
    rc = CW_OK;
fail:
    return rc;
}

int
cw_expr_argreduce(cw_expr_t *e, bool is_max, int axis, int64_t *dst,
                  const cw_config_t *cfg)
{
    int rc;
    arg_ctx_t c;
    cw__error_clear();
    CW_TRY(check_finished(e));
    if (axis < -1 || axis >= e->ndim) {
        return cw__error(CW_EINVAL, "axis %d out of range", axis);
    }
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.is_max = is_max;
    c.axis = axis;
    c.itemsize = e->v[e->result].itemsize;
    c.better = better_of[e->v[e->result].dtype];
    int64_t ntasks, R = 1, kept = 1;
    size_t tile_elems1 = 1;
    CW_TRY(tile_grid(e, c.ntiles, &ntasks));
    if (ntasks == 0) {
        return cw__error(CW_EINVAL, "attempt to get %s of an empty sequence",
                         is_max ? "argmax" : "argmin");
    }
    for (int k = 0; k < e->ndim; k++) {
        tile_elems1 *= (size_t)e->tile[k];
        bool red = axis < 0 || k == axis;
        R *= red ? c.ntiles[k] : 1;
        kept *= red ? 1 : e->shape[k];
    }
    int64_t ks = 1, gs = 1;
    for (int k = e->ndim - 1; k >= 0; k--) {
        bool red = axis < 0 || k == axis;
        c.kstride[k] = red ? 0 : ks;
        ks *= red ? 1 : e->shape[k];
        c.gstride[k] = red ? gs : 0;
        gs *= red ? e->shape[k] : 1;
    }
    c.kept = kept;
    c.tile_bytes = tile_elems1 * c.itemsize;
    plan_layout(e, e->tile, &c.lay);
    cw__budget_t budget;
    cw__budget_init(&budget, cfg);
    CW_TRY(cw__budget_reserve(&budget, R * kept * (int64_t)(c.itemsize + 8),
                              is_max ? "argmax: partial results"
                                     : "argmin: partial results", NULL));
    /* The threads are planned before the partials are allocated. */
    cw__job_t job = {.ntasks = ntasks,
                     .per_task = working_set(e, e->tile) + c.tile_bytes,
                     .nsources = e->ninputs, .sources = e->srcs,
                     .task = arg_task, .ctx = &c};
    int nthreads;
    CW_TRY(cw__job_plan(&job, &budget, cfg, &nthreads));
    c.pval = cw__malloc((size_t)(R * kept) * c.itemsize);
    c.pidx = cw__malloc((size_t)(R * kept) * sizeof(int64_t));
    if (c.pval == NULL || c.pidx == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory for partials");
        goto fail;
    }
    for (int64_t i = 0; i < R * kept; i++) {
        c.pidx[i] = -1;
    }
    CW_TRY(cw__job_exec(&job, nthreads, cfg));
    /* Combine: the rule is order-independent (ties go to the smaller
     * index), so the result does not depend on the schedule. */
    for (int64_t o = 0; o < kept; o++) {
        int64_t best = -1;
        for (int64_t r = 0; r < R; r++) {
            int64_t j = r * kept + o;
            if (c.pidx[j] >= 0 &&
                (best < 0 || c.better(c.pval + (size_t)j * c.itemsize, c.pidx[j],
                                      c.pval + (size_t)best * c.itemsize,
                                      c.pidx[best], is_max))) {
                best = j;
            }
        }
        dst[o] = c.pidx[best];
    }
    rc = CW_OK;
fail:
    cw__free(c.pval);
    cw__free(c.pidx);
    return rc;
}

/* Stores of an accumulation: chunks along the axis in order, the last row
 * of each carried to the next in the thread's scratch. */
typedef struct acc_job {
    store_job_t j;
    cw_loop_fn fn;
    void *data;
    int axis;
    size_t itemsize;
} acc_job_t;

static int
acc_post(void *vctx, const int64_t *off, const int64_t *count, char *buf,
         const int64_t *strides, cw__scratch_t *s)
{
    acc_job_t *a = vctx;
    int nd = a->j.e->ndim, ax = a->axis;
    acc_rows(a->fn, a->data, nd, ax, count, strides, buf, off[ax] == 0 ? NULL : s->carry);
    /* Keep the last row, laid out like a chunk's row 0. */
    int64_t row[CW_MAXDIM];
    size_t span = a->itemsize;
    for (int k = 0; k < nd; k++) {
        row[k] = k == ax ? 1 : count[k];
        span += (size_t)((row[k] - 1) * strides[k]);
    }
    int rc = cw__reserve(&s->carry, &s->carry_cap, span);
    if (rc == CW_OK) {
        cw__copy_strided(nd, row, s->carry, strides,
                         buf + (count[ax] - 1) * strides[ax], strides, a->itemsize);
    }
    return rc;
}

int
cw_expr_accumulate_store(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data,
                         int axis, const char *path, const char *dset,
                         const cw_store_opts_t *opts, const cw_config_t *cfg)
{
    int rc;
    cw__error_clear();
    CW_TRY(check_finished(e));
    if (axis < 0 || axis >= e->ndim) {
        return cw__error(CW_EINVAL, "%s: axis %d out of range", name ? name : "accumulate",
                         axis);
    }
    acc_job_t a = {.j = {.e = e}, .fn = fn, .data = data, .axis = axis,
                   .itemsize = e->v[e->result].itemsize};
    cw__store_job_t job = {.ndim = e->ndim, .dtype = e->v[e->result].dtype,
                           .ctx = &a, .fill = job_fill,
                           .working_set = job_working_set,
                           .nsources = e->ninputs, .sources = e->srcs,
                           .post = acc_post, .sequential = true, .axis = axis};
    memcpy(job.shape, e->shape, sizeof(job.shape));
    memcpy(job.chunks, e->tile, sizeof(job.chunks));
    rc = cw__store_run(&job, path, dset, opts, cfg);
fail:
    return rc;
}

/* ------------------------------------------------- a program as a source */

/* A finished program read like any source: regions are evaluated on
 * demand.  Composite sources (concatenation) are built from these. */
typedef struct exprsrc {
    cw_expr_t *e;               /* borrowed */
} exprsrc_t;

static int
exprsrc_begin(cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    return cw__sources_begin(e->srcs, e->ninputs);
}

static void
exprsrc_end(cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    cw__sources_end(e->srcs, e->ninputs);
}

static int
exprsrc_read(cw_source_t *src, const int64_t *start, const int64_t *step,
             const int64_t *count, char *dst, const int64_t *strides,
             cw__scratch_t *s)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    int nd = e->ndim, rc;
    bool unit = true;
    int64_t lo[CW_MAXDIM], box[CW_MAXDIM];
    for (int k = 0; k < nd; k++) {
        int64_t last = start[k] + (count[k] - 1) * step[k];
        lo[k] = start[k] < last ? start[k] : last;
        box[k] = (start[k] < last ? last - start[k] : start[k] - last) + 1;
        unit = unit && step[k] == 1;
    }
    layout_t lay;
    plan_layout(e, unit ? count : box, &lay);
    if (unit) {
        return eval_region(e, &lay, start, count, dst, strides, s);
    }
    /* Steps: evaluate the box that holds the selection, then pick. */
    int64_t bstr[CW_MAXDIM], sstr[CW_MAXDIM];
    int64_t st = (int64_t)src->itemsize;
    for (int k = nd - 1; k >= 0; k--) {
        bstr[k] = st;
        st *= box[k];
    }
    CW_TRY(cw__reserve(&s->box, &s->box_cap, (size_t)st));
    CW_TRY(eval_region(e, &lay, lo, box, s->box, bstr, s));
    const char *first = s->box;
    for (int k = 0; k < nd; k++) {
        first += (start[k] - lo[k]) * bstr[k];
        sstr[k] = bstr[k] * step[k];
    }
    cw__copy_strided(nd, count, dst, strides, first, sstr, src->itemsize);
    rc = CW_OK;
fail:
    return rc;
}

static size_t
exprsrc_scratch(const cw_source_t *src)
{
    const cw_expr_t *e = ((exprsrc_t *)src->impl)->e;
    return working_set(e, e->tile) + src->chunk_nbytes;
}

static void
exprsrc_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops exprsrc_ops = {
    .kind = "expression",
    .begin = exprsrc_begin,
    .end = exprsrc_end,
    .read_direct = exprsrc_read,
    .scratch_bytes = exprsrc_scratch,
    .destroy = exprsrc_destroy,
};

int
cw_source_from_expr(cw_expr_t *e, cw_source_t **out)
{
    int rc;
    *out = NULL;
    CW_TRY(check_finished(e));
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    exprsrc_t *x = cw__calloc(1, sizeof(*x));
    if (src == NULL || x == NULL) {
        cw__free(src);
        cw__free(x);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    x->e = e;
    src->impl = x;
    rc = cw__source_init(src, &exprsrc_ops, e->ndim, e->shape, e->v[e->result].dtype,
                         e->tile, 0);
    if (rc < 0) {
        cw_source_free(src);
        return rc;
    }
    *out = src;
    return CW_OK;
fail:
    return rc;
}
