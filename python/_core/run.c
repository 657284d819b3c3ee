/*
 * run.c -- the engine runs: a program's outputs into arrays, reductions,
 * accumulations, arg-reductions and stores, and plain reads and stores of
 * a selection.  Each converts its arguments, runs with the GIL released
 * and raises for a failed status.
 */
#include "cwpy.h"

PyObject *
Expr_read(ExprObject *self, PyObject *args)
{
    PyObject *outobj, *threads, *limit, *progress;
    if (!PyArg_ParseTuple(args, "O!OOO:read", &PyArray_Type, &outobj, &threads, &limit,
                          &progress)) {
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)outobj;
    cw_config_t cfg;
    poll_ctx pc;
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        return NULL;
    }
    if (!PyArray_ISWRITEABLE(out) || !PyArray_ISALIGNED(out) ||
        PyArray_ISBYTESWAPPED(out)) {
        PyErr_SetString(PyExc_ValueError, "out must be a writeable, aligned array");
        return NULL;
    }
    int ndim = PyArray_NDIM(out);
    int64_t strides[CW_MAXDIM];
    if (ndim > CW_MAXDIM) {
        PyErr_Format(PyExc_ValueError, "at most %d dimensions", CW_MAXDIM);
        return NULL;
    }
    for (int k = 0; k < ndim; k++) {
        strides[k] = PyArray_STRIDE(out, k);
    }
    /* The shape and dtype are checked by the caller (array.py) and the
     * program (its rank); the program writes exactly its own shape. */
    int rc;
    void *data = PyArray_DATA(out);
    cw_expr_t *e = self->e;
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_read(e, data, strides, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
    }
    Py_RETURN_NONE;
}

PyObject *
Expr_store(ExprObject *self, PyObject *args)
{
    PyObject *pathobj = NULL, *chunks, *threads, *limit, *progress;
    const char *name, *codec, *blosc_codec;
    int level, shuffle, bitshuffle, overwrite;
    if (!PyArg_ParseTuple(args, "O&sOssipppOOO:store", PyUnicode_FSConverter, &pathobj,
                          &name, &chunks, &codec, &blosc_codec, &level, &shuffle,
                          &bitshuffle, &overwrite, &threads, &limit, &progress)) {
        return NULL;
    }
    PyObject *res = NULL;
    cw_config_t cfg;
    poll_ctx pc;
    cw_store_opts_t o;
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0 ||
        cwpy_parse_store_opts(chunks, codec, blosc_codec, level, shuffle, bitshuffle,
                         overwrite, &o) < 0) {
        goto done;
    }
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    cw_expr_t *e = self->e;
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_store(e, path, name, &o, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    Py_XDECREF(pathobj);
    return res;
}

/* Accumulate with NumPy's binary loop `index` of `ufunc` along `axis`
 * into `out` (any strides, the program's shape and dtype). */
PyObject *
Expr_accumulate(ExprObject *self, PyObject *args)
{
    PyObject *ufobj, *outobj, *threads, *limit, *progress;
    int index, axis;
    if (!PyArg_ParseTuple(args, "O!iiO!OOO:accumulate", &PyUFunc_Type, &ufobj, &index,
                          &axis, &PyArray_Type, &outobj, &threads, &limit, &progress)) {
        return NULL;
    }
    PyUFuncObject *uf = (PyUFuncObject *)ufobj;
    PyArrayObject *out = (PyArrayObject *)outobj;
    if (uf->nin != 2 || uf->nout != 1 || index < 0 || index >= uf->ntypes ||
        uf->functions == NULL || uf->functions[index] == NULL) {
        PyErr_SetString(PyExc_TypeError, "accumulate needs a binary ufunc loop");
        return NULL;
    }
    if (!PyArray_ISWRITEABLE(out) || !PyArray_ISALIGNED(out) ||
        PyArray_NDIM(out) > CW_MAXDIM) {
        PyErr_SetString(PyExc_ValueError, "out must be a writeable, aligned array");
        return NULL;
    }
    int64_t strides[CW_MAXDIM];
    for (int k = 0; k < PyArray_NDIM(out); k++) {
        strides[k] = PyArray_STRIDE(out, k);
    }
    cw_config_t cfg;
    poll_ctx pc;
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        return NULL;
    }
    int rc;
    cw_expr_t *e = self->e;
    void *data = PyArray_DATA(out);
    cw_loop_fn fn = (cw_loop_fn)uf->functions[index];
    void *fdata = uf->data ? uf->data[index] : NULL;
    const char *name = uf->name;
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_accumulate(e, name, fn, fdata, axis, data, strides, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
    }
    Py_RETURN_NONE;
}

PyObject *
Expr_accumulate_store(ExprObject *self, PyObject *args)
{
    PyObject *ufobj, *pathobj = NULL, *chunks, *threads, *limit, *progress;
    int index, axis, level, shuffle, bitshuffle, overwrite;
    const char *name, *codec, *blosc_codec;
    if (!PyArg_ParseTuple(args, "O!iiO&sOssipppOOO:accumulate_store", &PyUFunc_Type,
                          &ufobj, &index, &axis, PyUnicode_FSConverter, &pathobj, &name,
                          &chunks, &codec, &blosc_codec, &level, &shuffle, &bitshuffle,
                          &overwrite, &threads, &limit, &progress)) {
        return NULL;
    }
    PyObject *res = NULL;
    PyUFuncObject *uf = (PyUFuncObject *)ufobj;
    cw_config_t cfg;
    poll_ctx pc;
    cw_store_opts_t o;
    if (uf->nin != 2 || uf->nout != 1 || index < 0 || index >= uf->ntypes ||
        uf->functions == NULL || uf->functions[index] == NULL) {
        PyErr_SetString(PyExc_TypeError, "accumulate needs a binary ufunc loop");
        goto done;
    }
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0 ||
        cwpy_parse_store_opts(chunks, codec, blosc_codec, level, shuffle, bitshuffle,
                         overwrite, &o) < 0) {
        goto done;
    }
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    cw_expr_t *e = self->e;
    cw_loop_fn fn = (cw_loop_fn)uf->functions[index];
    void *fdata = uf->data ? uf->data[index] : NULL;
    const char *uname = uf->name;
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_accumulate_store(e, uname, fn, fdata, axis, path, name, &o, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    Py_XDECREF(pathobj);
    return res;
}

PyObject *
Expr_argreduce(ExprObject *self, PyObject *args)
{
    int is_max, axis;
    PyObject *outobj, *threads, *limit, *progress;
    if (!PyArg_ParseTuple(args, "piO!OOO:argreduce", &is_max, &axis, &PyArray_Type,
                          &outobj, &threads, &limit, &progress)) {
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)outobj;
    if (!PyArray_IS_C_CONTIGUOUS(out) || !PyArray_ISWRITEABLE(out) ||
        PyArray_TYPE(out) != NPY_INT64) {
        PyErr_SetString(PyExc_ValueError, "out must be a writeable C-contiguous int64 array");
        return NULL;
    }
    cw_config_t cfg;
    poll_ctx pc;
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        return NULL;
    }
    int rc;
    cw_expr_t *e = self->e;
    int64_t *data = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_argreduce(e, is_max, axis, data, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
    }
    Py_RETURN_NONE;
}

/* One pass: values `ids` into `outs` and reductions, a list of tuples
 * (id, ufunc, loop index, axes mask, out), reading every chunk once. */
PyObject *
Expr_pass(ExprObject *self, PyObject *args)
{
    PyObject *idsobj, *outsobj, *redsobj, *threads, *limit, *progress;
    if (!PyArg_ParseTuple(args, "O!O!O!OOO:pass_", &PyList_Type, &idsobj, &PyList_Type,
                          &outsobj, &PyList_Type, &redsobj, &threads, &limit,
                          &progress)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(idsobj), m = PyList_GET_SIZE(redsobj);
    if (PyList_GET_SIZE(outsobj) != n || n + m < 1 || n + m > 8) {
        PyErr_SetString(PyExc_ValueError, "1 to 8 results, an output per id");
        return NULL;
    }
    int ids[8];
    void *dsts[8];
    int64_t strides[8][CW_MAXDIM];
    const int64_t *sp[8];
    if (cwpy_parse_outputs(idsobj, outsobj, n, ids, dsts, strides, sp) < 0) {
        return NULL;
    }
    cw_reduction_t reds[8];
    bool masks[8][CW_MAXDIM];
    for (Py_ssize_t r = 0; r < m; r++) {
        PyObject *t = PyList_GET_ITEM(redsobj, r), *ufobj, *axesobj, *outobj;
        int id, index;
        if (!PyArg_ParseTuple(t, "iO!iOO!:reduction", &id, &PyUFunc_Type, &ufobj, &index,
                              &axesobj, &PyArray_Type, &outobj)) {
            return NULL;
        }
        PyUFuncObject *uf = (PyUFuncObject *)ufobj;
        PyArrayObject *out = (PyArrayObject *)outobj;
        if (uf->nin != 2 || uf->nout != 1 || index < 0 || index >= uf->ntypes ||
            uf->functions == NULL || uf->functions[index] == NULL) {
            PyErr_SetString(PyExc_TypeError, "reduce needs a binary ufunc loop");
            return NULL;
        }
        if (!PyArray_IS_C_CONTIGUOUS(out) || !PyArray_ISWRITEABLE(out)) {
            PyErr_SetString(PyExc_ValueError, "out must be a writeable C-contiguous array");
            return NULL;
        }
        int64_t ax[CW_MAXDIM];
        int k = cwpy_int64_seq(axesobj, ax, CW_MAXDIM, "axes");
        if (k < 0) {
            return NULL;
        }
        for (int d = 0; d < k; d++) {
            masks[r][d] = ax[d] != 0;
        }
        reds[r] = (cw_reduction_t){.id = id, .name = uf->name,
                                   .fn = (cw_loop_fn)uf->functions[index],
                                   .data = uf->data ? uf->data[index] : NULL,
                                   .reduce_axis = masks[r], .dst = PyArray_DATA(out)};
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    cw_config_t cfg;
    poll_ctx pc;
    if (cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        return NULL;
    }
    int rc;
    cw_expr_t *e = self->e;
    Py_BEGIN_ALLOW_THREADS
    rc = cw_expr_pass(e, (int)n, ids, dsts, sp, (int)m, reds, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc < 0 ? rc : CW_ECANCEL);
    }
    Py_RETURN_NONE;
}

static PyObject *
py_read(PyObject *module, PyObject *args)
{
    PyObject *srcobj, *start, *step, *count, *outobj, *axes, *threads, *limit,
        *progress;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO:read", &srcobj, &start, &step, &count,
                          &outobj, &axes, &threads, &limit, &progress)) {
        return NULL;
    }
    cw_source_t *src;
    cw_sel_t sel;
    cw_config_t cfg;
    poll_ctx pc;
    int64_t axis[CW_MAXDIM], strides[CW_MAXDIM];
    if (cwpy_get_source(module, srcobj, &src) < 0 ||
        cwpy_fill_sel(src, start, step, count, &sel) < 0 ||
        cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        return NULL;
    }
    if (!PyArray_Check(outobj)) {
        PyErr_SetString(PyExc_TypeError, "out must be an ndarray");
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)outobj;
    cw_dtype_t dt;
    if (!PyArray_ISWRITEABLE(out) || !PyArray_ISALIGNED(out) ||
        PyArray_ISBYTESWAPPED(out) ||
        cwpy_npy_to_dtype(PyArray_DESCR(out), &dt) < 0 || dt != cw_source_dtype(src)) {
        PyErr_SetString(PyExc_ValueError,
                        "out must be a writeable, aligned array of the source's dtype");
        return NULL;
    }
    if (cwpy_int64_seq(axes, axis, CW_MAXDIM, "axes") != sel.ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "axes rank does not match");
        }
        return NULL;
    }
    /* Each source dim maps to a distinct axis of out (or is dropped, with
     * extent 1); every other axis of out must have extent 1. */
    int used[64] = {0};
    if (PyArray_NDIM(out) > 64) {
        PyErr_SetString(PyExc_ValueError, "out has too many dimensions");
        return NULL;
    }
    for (int d = 0; d < sel.ndim; d++) {
        if (axis[d] >= 0 && axis[d] < PyArray_NDIM(out) && used[axis[d]]++) {
            PyErr_SetString(PyExc_ValueError, "axes repeat an axis");
            return NULL;
        }
    }
    for (int k = 0; k < PyArray_NDIM(out); k++) {
        if (!used[k] && PyArray_DIM(out, k) != 1) {
            PyErr_SetString(PyExc_ValueError, "out has the wrong shape");
            return NULL;
        }
    }
    for (int d = 0; d < sel.ndim; d++) {
        if (axis[d] < 0) {
            if (sel.count[d] != 1) {
                PyErr_SetString(PyExc_ValueError, "a dropped dimension must have extent 1");
                return NULL;
            }
            strides[d] = 0;
        }
        else if (axis[d] >= PyArray_NDIM(out) ||
                 PyArray_DIM(out, (int)axis[d]) != sel.count[d]) {
            PyErr_SetString(PyExc_ValueError, "out has the wrong shape");
            return NULL;
        }
        else {
            strides[d] = PyArray_STRIDE(out, (int)axis[d]);
        }
    }
    int rc;
    void *data = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    rc = cw_read(src, &sel, data, strides, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        return cwpy_raise(module, rc < 0 ? rc : CW_ECANCEL);
    }
    Py_RETURN_NONE;
}

static PyObject *
py_store(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"source", "start", "step", "count", "path", "name",
                             "shape", "chunks", "src_dim", "codec", "blosc_codec",
                             "level", "shuffle", "bitshuffle", "overwrite",
                             "threads", "memory_limit", "progress", NULL};
    PyObject *srcobj, *start, *step, *count, *pathobj = NULL, *shape, *chunks,
        *src_dim, *threads, *limit, *progress;
    const char *name, *codec, *blosc_codec;
    int level, shuffle, bitshuffle, overwrite;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "OOOOO&sOOOssipppOOO:store", kwlist, &srcobj, &start,
            &step, &count, PyUnicode_FSConverter, &pathobj, &name, &shape, &chunks,
            &src_dim, &codec, &blosc_codec, &level, &shuffle, &bitshuffle,
            &overwrite, &threads, &limit, &progress)) {
        return NULL;
    }
    PyObject *res = NULL;
    cw_source_t *src;
    cw_sel_t sel;
    cw_config_t cfg;
    poll_ctx pc;
    cw_store_opts_t o;
    int64_t sd[CW_MAXDIM];
    memset(&o, 0, sizeof(o));
    if (cwpy_get_source(module, srcobj, &src) < 0 ||
        cwpy_fill_sel(src, start, step, count, &sel) < 0 ||
        cwpy_parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        goto done;
    }
    o.ndim = cwpy_int64_seq(shape, o.shape, CW_MAXDIM, "shape");
    if (o.ndim < 0 || cwpy_int64_seq(chunks, o.chunks, CW_MAXDIM, "chunks") != o.ndim ||
        cwpy_int64_seq(src_dim, sd, CW_MAXDIM, "src_dim") != o.ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "shape, chunks and src_dim differ in rank");
        }
        goto done;
    }
    for (int d = 0; d < o.ndim; d++) {
        o.src_dim[d] = (int)sd[d];
    }
    if (cwpy_set_codec(codec, blosc_codec, level, shuffle, bitshuffle, overwrite, &o) < 0) {
        goto done;
    }
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    rc = cw_store(src, &sel, path, name, &o, &cfg);
    Py_END_ALLOW_THREADS
    if (rc < 0 || PyErr_Occurred()) {
        cwpy_raise(module, rc < 0 ? rc : CW_ECANCEL);
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    Py_XDECREF(pathobj);
    return res;
}

PyMethodDef cwpy_run_functions[] = {
    {"read", py_read, METH_VARARGS,
     "read(src, start, step, count, out, axes, threads, memory_limit, progress)"},
    {"store", (PyCFunction)(void (*)(void))py_store, METH_VARARGS | METH_KEYWORDS,
     "store(...): stream a selection into a new HDF5 dataset"},
    {NULL, NULL, 0, NULL},
};
