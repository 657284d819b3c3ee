/*
 * program.c -- the Expr type: a program (cw_expr_t) built from inputs,
 * scalars, casts, NumPy ufunc loops, selects and builtins, described or
 * wrapped as a source.  Running it is run.c's.
 */
#include "cwpy.h"

static int
Expr_traverse(ExprObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->refs);
    return 0;
}

static int
Expr_clear(ExprObject *self)
{
    Py_CLEAR(self->refs);
    return 0;
}

static void
Expr_dealloc(ExprObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    cw_expr_free(self->e);
    self->e = NULL;
    Expr_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyObject *
cwpy_expr_status(ExprObject *self, int rc, int id)
{
    if (rc < 0) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc);
    }
    return PyLong_FromLong(id);
}

static PyObject *
Expr_input(ExprObject *self, PyObject *args)
{
    PyObject *srcobj, *start, *step, *count, *axes;
    if (!PyArg_ParseTuple(args, "OOOOO:input", &srcobj, &start, &step, &count, &axes)) {
        return NULL;
    }
    PyObject *module = PyType_GetModule(Py_TYPE(self));
    cw_source_t *src;
    cw_sel_t sel;
    int64_t ax[CW_MAXDIM];
    int axis[CW_MAXDIM];
    if (cwpy_get_source(module, srcobj, &src) < 0 ||
        cwpy_fill_sel(src, start, step, count, &sel) < 0) {
        return NULL;
    }
    if (cwpy_int64_seq(axes, ax, CW_MAXDIM, "axes") != sel.ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "axes rank does not match");
        }
        return NULL;
    }
    for (int d = 0; d < sel.ndim; d++) {
        axis[d] = (int)ax[d];
    }
    if (PyList_Append(self->refs, srcobj) < 0) {
        return NULL;
    }
    int id = -1;
    int rc = cw_expr_input(self->e, src, &sel, axis, &id);
    return cwpy_expr_status(self, rc, id);
}

static PyObject *
Expr_scalar(ExprObject *self, PyObject *args)
{
    PyObject *dtypeobj;
    Py_buffer value;
    if (!PyArg_ParseTuple(args, "Oy*:scalar", &dtypeobj, &value)) {
        return NULL;
    }
    cw_dtype_t dt;
    PyObject *res = NULL;
    if (cwpy_parse_dtype(dtypeobj, &dt) == 0) {
        if ((size_t)value.len != cw_dtype_size(dt)) {
            PyErr_SetString(PyExc_ValueError, "scalar has the wrong size");
        }
        else {
            int id = -1;
            int rc = cw_expr_scalar(self->e, dt, value.buf, &id);
            res = cwpy_expr_status(self, rc, id);
        }
    }
    PyBuffer_Release(&value);
    return res;
}

static PyObject *
Expr_cast(ExprObject *self, PyObject *args)
{
    int in;
    PyObject *dtypeobj;
    if (!PyArg_ParseTuple(args, "iO:cast", &in, &dtypeobj)) {
        return NULL;
    }
    cw_dtype_t dt;
    if (cwpy_parse_dtype(dtypeobj, &dt) < 0) {
        return NULL;
    }
    int id = -1;
    int rc = cw_expr_cast(self->e, in, dt, &id);
    return cwpy_expr_status(self, rc, id);
}

/* Add NumPy's inner loop number `index` of `ufunc` over `ins`. */
static PyObject *
Expr_ufunc(ExprObject *self, PyObject *args)
{
    PyObject *ufobj, *insobj;
    int index;
    if (!PyArg_ParseTuple(args, "O!iO:ufunc", &PyUFunc_Type, &ufobj, &index, &insobj)) {
        return NULL;
    }
    PyUFuncObject *uf = (PyUFuncObject *)ufobj;
    int64_t ins64[4];
    int nin = cwpy_int64_seq(insobj, ins64, 4, "inputs");
    if (nin < 0) {
        return NULL;
    }
    if (uf->nout != 1 || nin != uf->nin || index < 0 || index >= uf->ntypes ||
        uf->functions == NULL || uf->functions[index] == NULL) {
        PyErr_Format(PyExc_TypeError, "no usable inner loop %d for %s", index,
                     uf->name ? uf->name : "ufunc");
        return NULL;
    }
    /* The loop's output type. */
    int outnum = uf->types[index * uf->nargs + uf->nin];
    cw_dtype_t out = CW_NDTYPES;
    for (int i = 0; i < CW_NDTYPES; i++) {
        if (PyArray_EquivTypenums(outnum, cwpy_dtype_to_npy[i])) {
            out = (cw_dtype_t)i;
            break;
        }
    }
    if (out == CW_NDTYPES) {
        PyErr_Format(PyExc_TypeError, "%s: unsupported loop output type",
                     uf->name ? uf->name : "ufunc");
        return NULL;
    }
    int ins[4];
    for (int i = 0; i < nin; i++) {
        ins[i] = (int)ins64[i];
    }
    if (PyList_Append(self->refs, ufobj) < 0) {
        return NULL;
    }
    int id = -1;
    int rc = cw_expr_loop(self->e, uf->name, (cw_loop_fn)uf->functions[index],
                          uf->data ? uf->data[index] : NULL, cwpy_loop_flags(uf, index),
                          nin, ins, out, &id);
    return cwpy_expr_status(self, rc, id);
}

static PyObject *
Expr_select(ExprObject *self, PyObject *args)
{
    int c, a, b;
    if (!PyArg_ParseTuple(args, "iii:select", &c, &a, &b)) {
        return NULL;
    }
    int id = -1;
    int rc = cw_expr_select(self->e, c, a, b, &id);
    return cwpy_expr_status(self, rc, id);
}

static PyObject *
Expr_builtin(ExprObject *self, PyObject *args)
{
    const char *name;
    PyObject *insobj, *dtypeobj;
    if (!PyArg_ParseTuple(args, "sOO:builtin", &name, &insobj, &dtypeobj)) {
        return NULL;
    }
    int64_t ins64[4];
    int ins[4];
    int nin = cwpy_int64_seq(insobj, ins64, 4, "inputs");
    cw_dtype_t dt;
    if (nin < 0 || cwpy_parse_dtype(dtypeobj, &dt) < 0) {
        return NULL;
    }
    for (int i = 0; i < nin; i++) {
        ins[i] = (int)ins64[i];
    }
    int id = -1;
    int rc = cw_expr_builtin(self->e, name, nin, ins, dt, &id);
    return cwpy_expr_status(self, rc, id);
}

/* A lookup of value `in` in a 1-d table (an ndarray kept alive by the
 * program): "search_left", "search_right", "take" or "uniform_bins". */
static PyObject *
Expr_table(ExprObject *self, PyObject *args)
{
    const char *op;
    int in;
    PyObject *tobj;
    if (!PyArg_ParseTuple(args, "siO!:table", &op, &in, &PyArray_Type, &tobj)) {
        return NULL;
    }
    PyArrayObject *t = (PyArrayObject *)tobj;
    cw_table_op_t top;
    if (strcmp(op, "search_left") == 0) {
        top = CW_TABLE_SEARCH_LEFT;
    }
    else if (strcmp(op, "search_right") == 0) {
        top = CW_TABLE_SEARCH_RIGHT;
    }
    else if (strcmp(op, "take") == 0) {
        top = CW_TABLE_TAKE;
    }
    else if (strcmp(op, "uniform_bins") == 0) {
        top = CW_TABLE_UNIFORM_BINS;
    }
    else {
        PyErr_Format(PyExc_ValueError, "unknown table operation '%s'", op);
        return NULL;
    }
    if (PyArray_NDIM(t) != 1 || !PyArray_IS_C_CONTIGUOUS(t) || !PyArray_ISALIGNED(t) ||
        PyArray_ISBYTESWAPPED(t)) {
        PyErr_SetString(PyExc_ValueError, "a table is a 1-d contiguous native array");
        return NULL;
    }
    cw_dtype_t dt;
    if (cwpy_parse_dtype((PyObject *)PyArray_DESCR(t), &dt) < 0) {
        return NULL;
    }
    if (top == CW_TABLE_UNIFORM_BINS) {
        /* A float64 table of parameters and edges for values of their own
         * dtype. */
        if (dt != CW_FLOAT64) {
            PyErr_SetString(PyExc_ValueError, "uniform_bins takes a float64 table");
            return NULL;
        }
        dt = cw_expr_dtype(self->e, in);
    }
    if (PyList_Append(self->refs, tobj) < 0) {
        return NULL;
    }
    int id = -1;
    int rc =
        cw_expr_table(self->e, top, in, PyArray_DATA(t), PyArray_DIM(t, 0), dt, &id);
    return cwpy_expr_status(self, rc, id);
}

static PyObject *
Expr_finish(ExprObject *self, PyObject *args)
{
    int result;
    PyObject *tileobj;
    if (!PyArg_ParseTuple(args, "iO:finish", &result, &tileobj)) {
        return NULL;
    }
    int64_t tile[CW_MAXDIM];
    if (tileobj != Py_None && cwpy_int64_seq(tileobj, tile, CW_MAXDIM, "tile") < 0) {
        return NULL;
    }
    int rc = cw_expr_finish(self->e, result, tileobj == Py_None ? NULL : tile);
    if (rc < 0) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc);
    }
    Py_RETURN_NONE;
}

/* The finished program's tile shape, a tuple. */
static PyObject *
Expr_tile(ExprObject *self, PyObject *noargs)
{
    (void)noargs;
    int64_t tile[CW_MAXDIM];
    int n = cw_expr_tile(self->e, tile);
    if (n < 0) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), n);
    }
    PyObject *t = PyTuple_New(n);
    for (int k = 0; t != NULL && k < n; k++) {
        PyObject *v = PyLong_FromLongLong((long long)tile[k]);
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, k, v);
    }
    return t;
}

/* The finished program as a Source that evaluates regions on demand. */
static PyObject *
Expr_as_source(ExprObject *self, PyObject *noargs)
{
    (void)noargs;
    PyObject *module = PyType_GetModule(Py_TYPE(self));
    cw_source_t *src = NULL;
    int rc = cw_source_from_expr(self->e, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return cwpy_wrap_source(module, src, (PyObject *)self);
}

static PyObject *
Expr_describe(ExprObject *self, PyObject *args)
{
    PyObject *threads, *limit;
    if (!PyArg_ParseTuple(args, "OO:describe", &threads, &limit)) {
        return NULL;
    }
    cw_config_t cfg;
    poll_ctx pc;
    if (cwpy_parse_config(threads, limit, Py_None, &cfg, &pc) < 0) {
        return NULL;
    }
    char buf[16384];
    cw_expr_describe(self->e, &cfg, buf, sizeof(buf));
    return PyUnicode_FromString(buf);
}

static PyMethodDef Expr_methods[] = {
    {"input", (PyCFunction)Expr_input, METH_VARARGS,
     "input(src, start, step, count, axes) -> id"},
    {"scalar", (PyCFunction)Expr_scalar, METH_VARARGS, "scalar(dtype, bytes) -> id"},
    {"cast", (PyCFunction)Expr_cast, METH_VARARGS, "cast(id, dtype) -> id"},
    {"ufunc", (PyCFunction)Expr_ufunc, METH_VARARGS,
     "ufunc(ufunc, loop_index, ids) -> id"},
    {"select", (PyCFunction)Expr_select, METH_VARARGS, "select(cond, a, b) -> id"},
    {"builtin", (PyCFunction)Expr_builtin, METH_VARARGS,
     "builtin(name, ids, dtype) -> id"},
    {"table", (PyCFunction)Expr_table, METH_VARARGS,
     "table(op, id, table) -> id: 'search_left', 'search_right', 'take' or "
     "'uniform_bins'"},
    {"finish", (PyCFunction)Expr_finish, METH_VARARGS, "finish(result, tile)"},
    {"tile", (PyCFunction)Expr_tile, METH_NOARGS, "tile() -> the tile shape"},
    {"run", (PyCFunction)Expr_run, METH_VARARGS,
     "run(outputs, threads, memory_limit, progress[, direct_io]): compute the "
     "outputs (direct_io: 0 auto, 1 O_DIRECT reads, -1 none), a list "
     "of (kind, id, ...) tuples: ('buffer', id, out), ('reduce', id, ufunc, loop, "
     "axes_mask, out[, (part_lo, part_hi)]), ('accumulate', id, ufunc, loop, axis, out "
     "| target), "
     "('argreduce', id, is_max, axis, out), ('store', id, target), ('bincount', "
     "id, weights_id or -1, out); a target is "
     "(path, name, chunks, codec, blosc_codec, level, shuffle, bitshuffle, "
     "overwrite)"},
    {"as_source", (PyCFunction)Expr_as_source, METH_NOARGS,
     "as_source() -> Source evaluating the program on demand"},
    {"describe", (PyCFunction)Expr_describe, METH_VARARGS,
     "describe(threads, memory_limit) -> str"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Expr_slots[] = {
    {Py_tp_dealloc, Expr_dealloc},
    {Py_tp_traverse, Expr_traverse},
    {Py_tp_clear, Expr_clear},
    {Py_tp_methods, Expr_methods},
    {Py_tp_doc, "An elementwise program for the C engine."},
    {0, NULL},
};

PyType_Spec cwpy_expr_spec = {
    .name = "chunkwise._core.Expr",
    .basicsize = sizeof(ExprObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Expr_slots,
};

static PyObject *
py_expr_new(PyObject *module, PyObject *args)
{
    PyObject *shapeobj;
    if (!PyArg_ParseTuple(args, "O:expr_new", &shapeobj)) {
        return NULL;
    }
    int64_t shape[CW_MAXDIM];
    int ndim = cwpy_int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (ndim < 0) {
        return NULL;
    }
    cw_expr_t *e = NULL;
    int rc = cw_expr_new(ndim, shape, &e);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    cwpy_state *st = get_state(module);
    ExprObject *self = PyObject_GC_New(ExprObject, st->expr_type);
    if (self == NULL) {
        cw_expr_free(e);
        return NULL;
    }
    self->e = e;
    self->refs = PyList_New(0);
    PyObject_GC_Track(self);
    if (self->refs == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

PyMethodDef cwpy_program_functions[] = {
    {"expr_new", py_expr_new, METH_VARARGS, "expr_new(shape) -> Expr"},
    {NULL, NULL, 0, NULL},
};

unsigned
cwpy_loop_flags(PyUFuncObject *uf, int index)
{
    /* NumPy's rule for its legacy loops: a ufunc with an identity, or one
     * marked PyUFunc_ReorderableNone (maximum, minimum), is reorderable;
     * object loops call the Python API. */
    unsigned flags = uf->identity != PyUFunc_None ? CW_LOOP_REORDERABLE : 0;
    for (int i = 0; i < uf->nargs; i++) {
        if (uf->types[index * uf->nargs + i] == NPY_OBJECT) {
            flags |= CW_LOOP_NEEDS_GIL;
        }
    }
    return flags;
}
