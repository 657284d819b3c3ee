/*
 * run.c -- Expr.run, the extension's one engine run: a program's outputs
 * (buffers, reductions, accumulations, arg-reductions, stores) converted
 * to cw_output_t, run with the GIL released (cw_expr_run), and a raise for
 * a failed status.
 */
#include <string.h>

#include "cwpy.h"

/* Owned and borrowed pieces of the outputs of one Expr.run. */
typedef struct {
    cw_output_t outs[CW__PY_MAX_OUTS];
    int64_t strides[CW__PY_MAX_OUTS][CW_MAXDIM];
    bool axes[CW__PY_MAX_OUTS][CW_MAXDIM];
    cw_store_opts_t store[CW__PY_MAX_OUTS];
    PyObject *paths[CW__PY_MAX_OUTS]; /* bytes, owned */
} run_args;

/* A writeable, aligned, native array of at most CW_MAXDIM axes: its data and
 * byte strides. */
static int
out_array(PyObject *obj, bool contiguous, void **data, int64_t *strides)
{
    if (!PyArray_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "outputs must be ndarrays");
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (!PyArray_ISWRITEABLE(a) || !PyArray_ISALIGNED(a) || PyArray_ISBYTESWAPPED(a) ||
        PyArray_NDIM(a) > CW_MAXDIM || (contiguous && !PyArray_IS_C_CONTIGUOUS(a))) {
        PyErr_SetString(PyExc_ValueError,
                        contiguous ? "out must be a writeable C-contiguous array"
                                   : "out must be a writeable, aligned array");
        return -1;
    }
    for (int k = 0; k < PyArray_NDIM(a); k++) {
        strides[k] = PyArray_STRIDE(a, k);
    }
    *data = PyArray_DATA(a);
    return 0;
}

/* NumPy's binary loop `index` of `ufobj` as an output's fn, with what NumPy
 * knows of it: a ufunc with an identity, or one marked reorderable without
 * one (maximum, minimum), groups its operands in any order. */
static int
binary_loop(PyObject *ufobj, int index, cw_output_t *o)
{
    PyUFuncObject *uf = (PyUFuncObject *)ufobj;
    if (!PyObject_TypeCheck(ufobj, &PyUFunc_Type) || uf->nin != 2 || uf->nout != 1 ||
        index < 0 || index >= uf->ntypes || uf->functions == NULL ||
        uf->functions[index] == NULL) {
        PyErr_SetString(PyExc_TypeError, "a reduction needs a binary ufunc loop");
        return -1;
    }
    o->fn = (cw_loop_fn)uf->functions[index];
    o->data = uf->data ? uf->data[index] : NULL;
    o->name = uf->name;
    o->fn_flags = cwpy_loop_flags(uf, index);
    return 0;
}

/* A store target: (path, name, chunks, codec, blosc_codec, level, shuffle,
 * bitshuffle, overwrite). */
static int
store_target(PyObject *t, run_args *ra, int k)
{
    PyObject *chunks;
    const char *name, *codec, *blosc_codec;
    int level, shuffle, bitshuffle, overwrite;
    if (!PyArg_ParseTuple(t, "O&sOssippp:target", PyUnicode_FSConverter, &ra->paths[k],
                          &name, &chunks, &codec, &blosc_codec, &level, &shuffle,
                          &bitshuffle, &overwrite) ||
        cwpy_parse_store_opts(chunks, codec, blosc_codec, level, shuffle, bitshuffle,
                              overwrite, &ra->store[k]) < 0) {
        return -1;
    }
    ra->outs[k].path = PyBytes_AS_STRING(ra->paths[k]);
    ra->outs[k].dataset = name;
    ra->outs[k].store = &ra->store[k];
    return 0;
}

/* One output, a tuple whose first item names its kind:
 *   ("buffer", id, out)
 *   ("reduce", id, ufunc, loop, axes_mask, out)
 *   ("accumulate", id, ufunc, loop, axis, out | target)
 *   ("argreduce", id, is_max, axis, out)
 *   ("store", id, target)
 *   ("bincount", id, weights_id or -1, out[, extremes])
 * Borrowed strings stay valid while the tuple lives (the caller's list). */
static int
parse_output(PyObject *t, run_args *ra, int k)
{
    cw_output_t *o = &ra->outs[k];
    PyObject *a = NULL, *b = NULL, *c = NULL;
    const char *kind = NULL;
    int id = -1, i1 = 0, i2 = 0;
    if (PyTuple_Check(t) && PyTuple_GET_SIZE(t) >= 2 &&
        PyUnicode_Check(PyTuple_GET_ITEM(t, 0))) {
        kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 0));
        long v = PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
        if (v == -1 && PyErr_Occurred()) {
            id = -1;
        }
        else if (v < 0 || v > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "output id out of range");
            id = -1;
        }
        else {
            id = (int)v;
        }
    }
    if (kind == NULL || (id == -1 && PyErr_Occurred())) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "an output is a (kind, id, ...) tuple");
        }
        return -1;
    }
    o->id = id;
    if (strcmp(kind, "buffer") == 0) {
        o->kind = CW_OUT_BUFFER;
        o->strides = ra->strides[k];
        return PyArg_ParseTuple(t, "siO:buffer", &kind, &id, &a) &&
                       out_array(a, false, &o->dst, ra->strides[k]) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(kind, "reduce") == 0) {
        int64_t mask[CW_MAXDIM];
        o->kind = CW_OUT_REDUCE;
        long long lo = 0, hi = 0;
        if (!PyArg_ParseTuple(t, "siOiOO|(LL):reduce", &kind, &id, &a, &i1, &b, &c, &lo,
                              &hi) ||
            binary_loop(a, i1, o) < 0 ||
            out_array(c, true, &o->dst, ra->strides[k]) < 0) {
            return -1;
        }
        int n = cwpy_int64_seq(b, mask, CW_MAXDIM, "axes");
        for (int d = 0; d < n; d++) {
            ra->axes[k][d] = mask[d] != 0;
        }
        o->reduce_axis = ra->axes[k];
        o->part_lo = lo;
        o->part_hi = hi;
        return n < 0 ? -1 : 0;
    }
    if (strcmp(kind, "accumulate") == 0) {
        o->kind = CW_OUT_ACCUMULATE;
        o->strides = ra->strides[k];
        if (!PyArg_ParseTuple(t, "siOiiO:accumulate", &kind, &id, &a, &i1, &o->axis,
                              &b) ||
            binary_loop(a, i1, o) < 0) {
            return -1;
        }
        return PyTuple_Check(b) ? store_target(b, ra, k)
                                : out_array(b, false, &o->dst, ra->strides[k]);
    }
    if (strcmp(kind, "argreduce") == 0) {
        o->kind = CW_OUT_ARGREDUCE;
        if (!PyArg_ParseTuple(t, "sipiO:argreduce", &kind, &id, &i2, &o->axis, &a) ||
            out_array(a, true, &o->dst, ra->strides[k]) < 0) {
            return -1;
        }
        o->is_max = i2 != 0;
        if (PyArray_TYPE((PyArrayObject *)a) != NPY_INT64) {
            PyErr_SetString(PyExc_ValueError, "argreduce writes int64 indices");
            return -1;
        }
        return 0;
    }
    if (strcmp(kind, "bincount") == 0) {
        /* ("bincount", id, weights id or -1, out[, extremes]): out's
         * length is nbins; extremes, an int64 array of 2, receives the
         * least and greatest index. */
        int wid = -1;
        int64_t est[CW_MAXDIM];
        o->kind = CW_OUT_BINCOUNT;
        if (!PyArg_ParseTuple(t, "siiO|O:bincount", &kind, &id, &wid, &a, &b) ||
            out_array(a, true, &o->dst, ra->strides[k]) < 0) {
            return -1;
        }
        if (b != NULL) {
            void *ext;
            if (out_array(b, true, &ext, est) < 0) {
                return -1;
            }
            if (PyArray_TYPE((PyArrayObject *)b) != NPY_INT64 ||
                PyArray_SIZE((PyArrayObject *)b) != 2) {
                PyErr_SetString(PyExc_ValueError, "extremes are an int64 array of 2");
                return -1;
            }
            o->extremes = ext;
        }
        int tn = PyArray_TYPE((PyArrayObject *)a);
        if (PyArray_NDIM((PyArrayObject *)a) != 1 ||
            (tn != NPY_INT64 && tn != NPY_FLOAT64)) {
            PyErr_SetString(PyExc_ValueError,
                            "bincount writes a 1-d int64 or float64 array");
            return -1;
        }
        o->nbins = PyArray_DIM((PyArrayObject *)a, 0);
        o->weighted = wid >= 0;
        o->weights = wid;
        return 0;
    }
    if (strcmp(kind, "store") == 0) {
        o->kind = CW_OUT_STORE;
        return PyArg_ParseTuple(t, "siO!:store", &kind, &id, &PyTuple_Type, &a)
                   ? store_target(a, ra, k)
                   : -1;
    }
    PyErr_Format(PyExc_ValueError, "unknown output kind '%s'", kind);
    return -1;
}

/* Expr.run(outputs, threads, memory_limit, progress[, direct_io]): the one
 * run of the extension (cw_expr_run; direct_io as cw_config_t's: 0 auto,
 * 1 on, -1 off).  The shapes and dtypes of the arrays are the caller's to
 * match (the package's executor makes them); the engine checks ids, axes
 * and what it can. */
PyObject *
Expr_run(ExprObject *self, PyObject *args)
{
    PyObject *outsobj, *threads, *limit, *progress, *res = NULL;
    int direct_io = 0;
    if (!PyArg_ParseTuple(args, "O!OOO|i:run", &PyList_Type, &outsobj, &threads, &limit,
                          &progress, &direct_io)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(outsobj);
    if (n < 1 || n > CW__PY_MAX_OUTS) {
        PyErr_Format(PyExc_ValueError, "a run computes 1 to %d outputs",
                     CW__PY_MAX_OUTS);
        return NULL;
    }
    run_args *ra = PyMem_Calloc(1, sizeof(*ra));
    if (ra == NULL) {
        return PyErr_NoMemory();
    }
    cw_config_t cfg;
    poll_ctx pc;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (parse_output(PyList_GET_ITEM(outsobj, k), ra, (int)k) < 0) {
            goto done;
        }
    }
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        goto done;
    }
    cfg.direct_io = direct_io;
    int rc;
    cw_expr_t *e = self->e;
    const cw_output_t *outs = ra->outs;
    Py_BEGIN_ALLOW_THREADS rc = cw_expr_run(e, (int)n, outs, &cfg);
    Py_END_ALLOW_THREADS if (rc < 0 || PyErr_Occurred())
    {
        cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_XDECREF(ra->paths[k]);
    }
    PyMem_Free(ra);
    return res;
}
