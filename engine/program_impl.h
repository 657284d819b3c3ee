/*
 * program_impl.h -- the inside of a program, shared by the files that
 * build, plan, evaluate and run programs (program.c, loops.c, plan.c,
 * vm.c, region_eval.c, reduce.c, run.c, accumulate.c, argreduce.c,
 * bincount.c, table.c, exprsrc.c): the program and its values, the per-thread tile
 * layout, the slab sink, a reduction's context, and the cw__ functions between them.
 */
#ifndef CW_BUILDING_ENGINE
#error "program_impl.h is internal to the engine layer"
#endif
#ifndef CW_PROGRAM_IMPL_H
#define CW_PROGRAM_IMPL_H

#include "engine_impl.h"

/* Elements of the innermost run the VM computes at a time: every
 * register holds one block. */
#define CW_BLOCK 4096
/* Values of one program; results of one pass. */
#define CW__MAX_VALUES 128
#define CW__MAX_OUTS 8

typedef enum { CW__V_INPUT, CW__V_SCALAR, CW__V_CAST, CW__V_LOOP } cw__vkind_t;

/* An in-memory table a loop reads (table.c): borrowed from the caller. */
typedef struct cw__table {
    const void *data;
    int64_t n;
    size_t itemsize;
} cw__table_t;

/* One value of a program. */
typedef struct cw__value {
    cw__vkind_t kind;
    cw_dtype_t dtype;
    size_t itemsize;
    /* CW__V_INPUT */
    cw_source_t *src;
    cw_sel_t sel;
    int axis[CW_MAXDIM];   /* output axis of each source dim, or -1 */
    bool bcast[CW_MAXDIM]; /* source dim broadcast (count 1 < extent) */
    int slot;              /* index among inputs (tile buffer) */
    /* CW__V_SCALAR */
    _Alignas(8) unsigned char scalar[8]; /* loops read it as its type */
    /* CW__V_CAST, CW__V_LOOP */
    int nin;
    int in[4];
    cw_loop_fn fn;
    void *data;
    char name[32];
    cw__table_t table; /* a table lookup's table (data points here) */
    int reg;           /* register of a computed value */
} cw__value_t;

/* A program: values in dependency order; immutable once finished. */
struct cw_expr {
    int ndim;
    int64_t shape[CW_MAXDIM];
    int64_t tile[CW_MAXDIM];
    int n;
    cw__value_t v[CW__MAX_VALUES];
    int ninputs;
    cw_source_t *srcs[CW__MAX_VALUES]; /* each input's source, by slot */
    int nregs;
    int result;
    bool finished;
};

/* Per-thread buffers of a run, carved out of the worker's tile buffer of
 * its nesting depth (w->vm.tiles[depth]):
 * one tile buffer per input, then one block per register. */
typedef struct cw__layout {
    size_t tile_off[CW__MAX_VALUES];
    size_t reg_off[CW__MAX_VALUES];
    size_t total;
} cw__layout_t;

/* Bytes of one slab of rows per streamed operand: a slab's inputs, its
 * registers and its output stay in cache between being decoded, computed
 * and consumed. */
#define CW__SLAB_BYTES ((int64_t)64 << 10)

/*
 * Where the rows of a region go, slab by slab (NULL: straight into the
 * destination).  begin() says where rows [r0, r1) of axis `ax` are written
 * (dsts[o] at row r0, the region's strides); end() is handed the computed
 * rows: the destination, or with `in_place` the program's only input where
 * it lies, when the program computes nothing.
 */
typedef struct cw__slab_sink {
    int (*begin)(void *ctx, int ax, int64_t r0, int64_t r1, char **dsts);
    int (*end)(void *ctx, int ax, int64_t r0, int64_t r1, const char *const *ptrs,
               const int64_t *const *strides);
    void *ctx;
    bool in_place;
} cw__slab_sink_t;

/* A reduction in a pass (reduce.c): its loop and its partial results. */
typedef struct cw__reduce_ctx {
    const cw_expr_t *e;
    const bool *red; /* per output axis */
    cw_loop_fn fn;
    void *data;
    size_t itemsize;
    int64_t kstride[CW_MAXDIM]; /* byte strides of the kept output (0: reduced) */
    int64_t kbytes;             /* bytes of one kept output */
    char *partials;             /* R x kept output */
} cw__reduce_ctx_t;

/*
 * Reductions and shared passes.  A pass evaluates tiles slab by slab; each
 * slab goes to the values read into caller buffers and to each reduction,
 * which folds it into the tile's partial.  Slabs along a kept axis fill
 * their own part of the partial.  Slabs along a reduced axis each get a
 * partial of their own, combined pairwise (a binary counter of partials),
 * so cutting a tile into slabs keeps sums pairwise.
 */
typedef struct cw__reduce_slab {
    const cw__reduce_ctx_t *c;
    const int64_t *count;      /* the tile */
    int64_t tstr[CW_MAXDIM];   /* C strides of the tile's values */
    char *acc;                 /* the tile's part of its partial */
    int64_t kcount[CW_MAXDIM]; /* the tile's kept extents (1: reduced) */
    int64_t kstr[CW_MAXDIM];   /* C strides of a partial of the tile */
    size_t kt;                 /* bytes of one such partial */
    char *stack;               /* partials of slabs along a reduced axis */
    int depth;                 /* partials on it */
    int level[64];             /* log2 of the slabs each one holds */
} cw__reduce_slab_t;

/* A store of a program's result (run.c): the program and the layout of
 * its tiles, which are the store's chunks. */
typedef struct cw__expr_store {
    const cw_expr_t *e;
    cw__layout_t lay;
} cw__expr_store_t;

/* ---------------------------------------------------------- program.c */

/* CW_EINVAL unless `in` names a value of e. */
int cw__expr_check_ref(const cw_expr_t *e, int in);
/* CW_EINVAL unless cw_expr_finish was called. */
int cw__expr_check_finished(const cw_expr_t *e);

/* ------------------------------------------------------------- plan.c */

/* Carve one thread's buffers for tiles of extent `tile`. */
void cw__plan_layout(const cw_expr_t *e, const int64_t *tile, cw__layout_t *lay);
/* Bytes one task holds for tiles of extent `tile`. */
size_t cw__expr_working_set(const cw_expr_t *e, const int64_t *tile);
/* Offset and extent of tile number `task` of a grid of `ntiles`. */
void cw__tile_at(const cw_expr_t *e, const int64_t *ntiles, int64_t task, int64_t *off,
                 int64_t *count);
/* Tiles per axis and their number; CW_EINVAL past 64 bits. */
int cw__tile_grid(const cw_expr_t *e, int64_t *ntiles, int64_t *ntasks);
/* The job of `ntasks` tasks over e's tiles: *lay planned for the tiles,
 * each task's bytes their working set plus `extra`, the program's inputs
 * as its sources. */
cw__job_t cw__expr_job(const cw_expr_t *e, cw__layout_t *lay, int64_t ntasks,
                       size_t extra, cw__task_fn task, void *ctx);

/* --------------------------------------------------------------- vm.c */

/* Run the program over a region of `count`, inputs at inbase with byte
 * strides opstride per output axis (0: broadcast), values outs[0..nout)
 * to dsts with byte strides dstr; registers at base (lay->reg_off). */
void cw__run_kernel(const cw_expr_t *e, const cw__layout_t *lay, const int64_t *count,
                    int nout, const int *outs, char *const *dsts,
                    const int64_t *const *dstr, const char *const *inbase,
                    int64_t (*opstride)[CW_MAXDIM], char *base);
/* Whether the only output is an unbroadcast input (a plain read). */
bool cw__is_plain(const cw_expr_t *e, int nout, const int *outs, const int64_t *count);

/* ------------------------------------------------------ region_eval.c */

/* Evaluate values outs[0..nout) over the region [off, off+count) into
 * dsts (byte strides dstr), or slab by slab through `sink`. */
int cw__eval_region_sink(const cw_expr_t *e, const cw__layout_t *lay,
                         const int64_t *off, const int64_t *count, int nout,
                         const int *outs, char *const *dsts, const int64_t *const *dstr,
                         const cw__slab_sink_t *sink, cw__worker_t *w);
/* Evaluate the region of the program's result into dst. */
int cw__eval_region(const cw_expr_t *e, const cw__layout_t *lay, const int64_t *off,
                    const int64_t *count, char *dst, const int64_t *dstrides,
                    cw__worker_t *w);

/* ----------------------------------------------------------- reduce.c */

/* Fold rows [r0, r1) along axis ax of a tile (values at ptr, byte
 * strides) into its partial. */
void cw__reduce_slab_fold(cw__reduce_slab_t *rs, int ax, int64_t r0, int64_t r1,
                          const char *ptr, const int64_t *strides);
/* After a tile's last slab: fold the slabs' partials into the tile's. */
void cw__reduce_slab_finish(cw__reduce_slab_t *rs);
/* Combine the R partials pairwise in tile order into the first. */
void cw__reduce_tree(const cw__reduce_ctx_t *c, int64_t R);

/* -------------------------------------------------------------- run.c */

/* Run `task` over `ntasks` of e's tiles in the whole memory budget, *lay
 * planned for them (see cw__expr_job). */
int cw__expr_run(const cw_expr_t *e, cw__layout_t *lay, int64_t ntasks,
                 cw__task_fn task, void *ctx, const cw_config_t *cfg);
/* The store job of e's result: its shape, dtype and tiles, regions
 * evaluated by `j` (which holds e), the program's inputs as sources. */
void cw__expr_store_job(cw__store_job_t *job, cw__expr_store_t *j, const cw_expr_t *e);

/* The runs cw_expr_run dispatches to (accumulate.c, argreduce.c); the
 * output is checked, the program finished. */
int cw__expr_accumulate(cw_expr_t *e, const cw_output_t *o, const cw_config_t *cfg);
int cw__expr_accumulate_store(cw_expr_t *e, const cw_output_t *o,
                              const cw_config_t *cfg);
int cw__expr_argreduce(cw_expr_t *e, bool is_max, int axis, int64_t *dst,
                       const cw_config_t *cfg);
/* The bincount run (bincount.c). */
int cw__expr_bincount(cw_expr_t *e, const cw_output_t *o, const cw_config_t *cfg);

#endif
