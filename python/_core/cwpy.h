/*
 * cwpy.h -- what the files of the extension share: the module state, the
 * two Python types' layouts, argument conversions and the run epilogue.
 *
 * The extension is the only C code that touches PyObject.  Each file calls
 * library functions with the GIL released and maps statuses to exceptions
 * with cwpy_raise.  The poll callback is the only code that re-takes the
 * GIL during a run: it checks for signals (Ctrl-C cancels) and reports
 * progress to an optional Python callable.  module.c is the one file that
 * imports NumPy's C API; the others see NO_IMPORT_ARRAY.
 */
#ifndef CWPY_H
#define CWPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define PY_ARRAY_UNIQUE_SYMBOL cwpy_ARRAY_API
#define PY_UFUNC_UNIQUE_SYMBOL cwpy_UFUNC_API
#ifndef CWPY_IMPORT_NUMPY
#define NO_IMPORT_ARRAY
#define NO_IMPORT_UFUNC
#endif
#include <numpy/arrayobject.h>
/* NumPy's ufunc API header declares _import_umath() without a prototype. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <numpy/ufuncobject.h>
#pragma GCC diagnostic pop

#include "chunkwise.h"

/* Module state (multi-phase init, no globals): the heap types and the
 * CorruptChunkError and MemoryBudgetError exception types. */
typedef struct {
    PyTypeObject *source_type;
    PyTypeObject *expr_type;
    PyObject *corrupt_error;
    PyObject *budget_error;
} cwpy_state;

static inline cwpy_state *
get_state(PyObject *module)
{
    return (cwpy_state *)PyModule_GetState(module);
}

/* A chunk source (cw_source_t). */
typedef struct {
    PyObject_HEAD cw_source_t *src;
    PyObject *base; /* keeps a memory source's buffer alive */
} SourceObject;

/* A program under construction or ready to run (cw_expr_t), with the
 * Python objects it borrows from (sources, ufuncs) kept alive. */
typedef struct {
    PyObject_HEAD cw_expr_t *e;
    PyObject *refs; /* list */
} ExprObject;

/* What the poll callback reports to. */
typedef struct {
    PyObject *progress; /* callable(done, total) or None */
} poll_ctx;

/* ------------------------------------------------------------ module.c */

/* Raise the exception for `status` with cw_errmsg(), unless one is already
 * set (by the poll callback, e.g. KeyboardInterrupt).  Returns NULL. */
PyObject *cwpy_raise(PyObject *module, int status);

/* ------------------------------------------------------------ source.c */

extern PyType_Spec cwpy_source_spec;
extern PyMethodDef cwpy_source_functions[];
/* A Source owning `src` (freed on failure); `base` is kept alive. */
PyObject *cwpy_wrap_source(PyObject *module, cw_source_t *src, PyObject *base);
/* The cw_source_t of a Source; -1 with TypeError for anything else. */
int cwpy_get_source(PyObject *module, PyObject *obj, cw_source_t **out);

/* ----------------------------------------------------------- program.c */

extern PyType_Spec cwpy_expr_spec;
extern PyMethodDef cwpy_program_functions[];
/* NULL with the exception for a failed status; else `id` as an int. */
PyObject *cwpy_expr_status(ExprObject *self, int rc, int id);
/* The CW_LOOP_* flags of loop `index` of a ufunc, from what NumPy knows. */
unsigned cwpy_loop_flags(PyUFuncObject *uf, int index);

/* --------------------------------------------------------------- run.c */

/* Outputs one Expr.run takes at most (a pass shares at most 8). */
#define CW__PY_MAX_OUTS 16
/* Expr.run(outputs, threads, memory_limit, progress). */
PyObject *Expr_run(ExprObject *self, PyObject *args);

/* ------------------------------------------------------------ blocks.c */

extern PyMethodDef cwpy_blocks_functions[];

/* --------------------------------------------------------- resultmem.c */

/* empty(shape, dtype, keep): new results' ndarrays, from a bounded pool. */
extern PyMethodDef cwpy_resultmem_functions[];

/* ------------------------------------------------------------ h5meta.c */

extern PyMethodDef cwpy_h5meta_functions[];

/* ----------------------------------------------------------- convert.c */

extern const int cwpy_dtype_to_npy[CW_NDTYPES];
PyObject *cwpy_tuple_of(const int64_t *v, int n);
int cwpy_npy_to_dtype(PyArray_Descr *d, cw_dtype_t *out);
int cwpy_int64_seq(PyObject *seq, int64_t *v, int maxn, const char *what);
int cwpy_parse_dtype(PyObject *obj, cw_dtype_t *out);
int cwpy_poll(void *data, int64_t done, int64_t total);
int cwpy_fill_sel(cw_source_t *src, PyObject *start, PyObject *step, PyObject *count,
                  cw_sel_t *sel);
/* Store options (zeroed, then chunks and the codec fields) from a codec
 * name ("blosc", "deflate", "none"), a Blosc codec, level and flags. */
int cwpy_parse_config(PyObject *threads, PyObject *limit, PyObject *progress,
                      cw_config_t *cfg, poll_ctx *pc);
int cwpy_parse_store_opts(PyObject *chunks, const char *codec, const char *blosc_codec,
                          int level, int shuffle, int bitshuffle, int overwrite,
                          cw_store_opts_t *o);

#endif
