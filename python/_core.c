/*
 * _core.c -- the CPython extension over the chunkwise C library.
 *
 * The only C file that touches PyObject.  It converts arguments, calls one
 * library function with the GIL released, and maps statuses to exceptions
 * (cwpy_raise).  The poll callback is the only code that re-takes the GIL
 * during a run: it checks for signals (Ctrl-C cancels) and reports
 * progress to an optional Python callable.
 *
 * Module state holds the Source heap type and the CorruptChunkError and
 * MemoryBudgetError exception types (multi-phase init, no globals).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
/* NumPy's ufunc API header declares _import_umath() without a prototype. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <numpy/ufuncobject.h>
#pragma GCC diagnostic pop

#include "chunkwise.h"

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

/* ---------------------------------------------------------------- errors */

/* Raise the exception for `status` with cw_errmsg(), unless one is already
 * set (by the poll callback, e.g. KeyboardInterrupt).  Returns NULL. */
static PyObject *
cwpy_raise(PyObject *module, int status)
{
    if (PyErr_Occurred()) {
        return NULL;
    }
    const char *msg = cw_errmsg();
    if (msg == NULL || msg[0] == '\0') {
        msg = cw_status_str(status);
    }
    cwpy_state *st = get_state(module);
    PyObject *type;
    switch (status) {
    case CW_ENOMEM: type = PyExc_MemoryError; break;
    case CW_EINVAL: type = PyExc_ValueError; break;
    case CW_ETYPE: type = PyExc_TypeError; break;
    case CW_ENOENT: type = PyExc_FileNotFoundError; break;
    case CW_ENOKEY: type = PyExc_KeyError; break;
    case CW_ECORRUPT: type = st->corrupt_error; break;
    case CW_EEXIST: type = PyExc_FileExistsError; break;
    case CW_EBUDGET: type = st->budget_error; break;
    case CW_ECANCEL: type = PyExc_KeyboardInterrupt; break;
    case CW_EINDEX: type = PyExc_IndexError; break;
    default: type = PyExc_OSError; break;
    }
    if (type == PyExc_KeyError) {
        /* KeyError repr()s its argument; give it a str that reads well. */
        PyObject *s = PyUnicode_FromString(msg);
        if (s) {
            PyErr_SetObject(type, s);
            Py_DECREF(s);
        }
        return NULL;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

/* ---------------------------------------------------------------- Source */

typedef struct {
    PyObject_HEAD
    cw_source_t *src;
    PyObject *base;   /* keeps a memory source's buffer alive */
} SourceObject;

static int
Source_traverse(SourceObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->base);
    return 0;
}

static int
Source_clear(SourceObject *self)
{
    Py_CLEAR(self->base);
    return 0;
}

static void
Source_dealloc(SourceObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    cw_source_t *src = self->src;
    self->src = NULL;
    if (src) {
        Py_BEGIN_ALLOW_THREADS
        cw_source_free(src);
        Py_END_ALLOW_THREADS
    }
    Source_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
tuple_of(const int64_t *v, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *x = PyLong_FromLongLong(v[i]);
        if (x == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

#define NPY_OF(NAME, STR, SIZE) [CW_##NAME] = NPY_##NAME,
static const int dtype_to_npy[CW_NDTYPES] = {CW_DTYPE_MAP(NPY_OF)};
#undef NPY_OF

static int
npy_to_dtype(PyArray_Descr *d, cw_dtype_t *out)
{
    int num = d->type_num;
    for (int i = 0; i < CW_NDTYPES; i++) {
        if (PyArray_EquivTypenums(num, dtype_to_npy[i])) {
            *out = (cw_dtype_t)i;
            return 0;
        }
    }
    return -1;
}

static PyObject *
Source_get_shape(SourceObject *self, void *closure)
{
    (void)closure;
    return tuple_of(cw_source_shape(self->src), cw_source_ndim(self->src));
}

static PyObject *
Source_get_chunks(SourceObject *self, void *closure)
{
    (void)closure;
    return tuple_of(cw_source_chunks(self->src), cw_source_ndim(self->src));
}

static PyObject *
Source_get_dtype(SourceObject *self, void *closure)
{
    (void)closure;
    return (PyObject *)PyArray_DescrFromType(dtype_to_npy[cw_source_dtype(self->src)]);
}

static PyObject *
Source_get_kind(SourceObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(cw_source_kind(self->src));
}

static PyGetSetDef Source_getset[] = {
    {"shape", (getter)Source_get_shape, NULL, "shape", NULL},
    {"chunks", (getter)Source_get_chunks, NULL, "chunk shape", NULL},
    {"dtype", (getter)Source_get_dtype, NULL, "numpy dtype", NULL},
    {"kind", (getter)Source_get_kind, NULL, "hdf5, memory, full or arange", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Source_slots[] = {
    {Py_tp_dealloc, Source_dealloc},
    {Py_tp_traverse, Source_traverse},
    {Py_tp_clear, Source_clear},
    {Py_tp_getset, Source_getset},
    {Py_tp_doc, "A chunk source (HDF5 dataset, memory buffer or generator)."},
    {0, NULL},
};

static PyType_Spec Source_spec = {
    .name = "chunkwise._core.Source",
    .basicsize = sizeof(SourceObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Source_slots,
};

static PyObject *
wrap_source(PyObject *module, cw_source_t *src, PyObject *base)
{
    cwpy_state *st = get_state(module);
    SourceObject *self = PyObject_GC_New(SourceObject, st->source_type);
    if (self == NULL) {
        cw_source_free(src);
        return NULL;
    }
    self->src = src;
    self->base = Py_XNewRef(base);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
get_source(PyObject *module, PyObject *obj, cw_source_t **out)
{
    if (!PyObject_TypeCheck(obj, get_state(module)->source_type)) {
        PyErr_SetString(PyExc_TypeError, "expected a chunkwise Source");
        return -1;
    }
    *out = ((SourceObject *)obj)->src;
    return 0;
}

/* --------------------------------------------------------------- helpers */

/* Convert a sequence of ints into v[0..n); returns n or -1. */
static int
int64_seq(PyObject *seq, int64_t *v, int maxn, const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > maxn) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: at most %d dimensions", what, maxn);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long x = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (x == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        v[i] = x;
    }
    Py_DECREF(fast);
    return (int)n;
}

static int
parse_dtype(PyObject *obj, cw_dtype_t *out)
{
    PyArray_Descr *d = NULL;
    if (!PyArray_DescrConverter(obj, &d)) {
        return -1;
    }
    int bad = !PyDataType_ISNOTSWAPPED(d) || npy_to_dtype(d, out) < 0;
    if (bad) {
        PyErr_Format(PyExc_TypeError, "unsupported dtype %R", (PyObject *)d);
    }
    Py_DECREF(d);
    return bad ? -1 : 0;
}

typedef struct {
    PyObject *progress;  /* callable(done, total) or None */
} poll_ctx;

/* Called on the submitting thread between tasks, without the GIL. */
static int
poll_cb(void *data, int64_t done, int64_t total)
{
    poll_ctx *pc = data;
    PyGILState_STATE g = PyGILState_Ensure();
    int stop = PyErr_CheckSignals() != 0;
    if (!stop && pc->progress && pc->progress != Py_None) {
        PyObject *r = PyObject_CallFunction(pc->progress, "LL", (long long)done,
                                            (long long)total);
        stop = r == NULL;
        Py_XDECREF(r);
    }
    PyGILState_Release(g);
    return stop;
}

static int
fill_sel(cw_source_t *src, PyObject *start, PyObject *step, PyObject *count,
         cw_sel_t *sel)
{
    memset(sel, 0, sizeof(*sel));
    int a = int64_seq(start, sel->start, CW_MAXDIM, "start");
    int b = a < 0 ? -1 : int64_seq(step, sel->step, CW_MAXDIM, "step");
    int c = b < 0 ? -1 : int64_seq(count, sel->count, CW_MAXDIM, "count");
    if (c < 0) {
        return -1;
    }
    if (a != b || b != c || a != cw_source_ndim(src)) {
        PyErr_SetString(PyExc_ValueError, "selection rank does not match the source");
        return -1;
    }
    sel->ndim = a;
    return 0;
}

/* ------------------------------------------------------------------ Expr */

static int parse_config(PyObject *threads, PyObject *limit, PyObject *progress,
                        cw_config_t *cfg, poll_ctx *pc);
static int parse_store_opts(PyObject *chunks, const char *codec, const char *blosc_codec,
                            int level, int shuffle, int bitshuffle, int overwrite,
                            cw_store_opts_t *o);

/* A program under construction or ready to run (cw_expr_t), with the
 * Python objects it borrows from (sources, ufuncs) kept alive. */
typedef struct {
    PyObject_HEAD
    cw_expr_t *e;
    PyObject *refs;   /* list */
} ExprObject;

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

static PyObject *
expr_status(ExprObject *self, int rc, int id)
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
    if (get_source(module, srcobj, &src) < 0 ||
        fill_sel(src, start, step, count, &sel) < 0) {
        return NULL;
    }
    if (int64_seq(axes, ax, CW_MAXDIM, "axes") != sel.ndim) {
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
    return expr_status(self, rc, id);
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
    if (parse_dtype(dtypeobj, &dt) == 0) {
        if ((size_t)value.len != cw_dtype_size(dt)) {
            PyErr_SetString(PyExc_ValueError, "scalar has the wrong size");
        }
        else {
            int id = -1;
            int rc = cw_expr_scalar(self->e, dt, value.buf, &id);
            res = expr_status(self, rc, id);
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
    if (parse_dtype(dtypeobj, &dt) < 0) {
        return NULL;
    }
    int id = -1;
    int rc = cw_expr_cast(self->e, in, dt, &id);
    return expr_status(self, rc, id);
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
    int nin = int64_seq(insobj, ins64, 4, "inputs");
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
        if (PyArray_EquivTypenums(outnum, dtype_to_npy[i])) {
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
                          uf->data ? uf->data[index] : NULL, nin, ins, out, &id);
    return expr_status(self, rc, id);
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
    return expr_status(self, rc, id);
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
    int nin = int64_seq(insobj, ins64, 4, "inputs");
    cw_dtype_t dt;
    if (nin < 0 || parse_dtype(dtypeobj, &dt) < 0) {
        return NULL;
    }
    for (int i = 0; i < nin; i++) {
        ins[i] = (int)ins64[i];
    }
    int id = -1;
    int rc = cw_expr_builtin(self->e, name, nin, ins, dt, &id);
    return expr_status(self, rc, id);
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
    if (tileobj != Py_None && int64_seq(tileobj, tile, CW_MAXDIM, "tile") < 0) {
        return NULL;
    }
    int rc = cw_expr_finish(self->e, result, tileobj == Py_None ? NULL : tile);
    if (rc < 0) {
        return cwpy_raise(PyType_GetModule(Py_TYPE(self)), rc);
    }
    Py_RETURN_NONE;
}

static PyObject *
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0) {
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


static PyObject *
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0 ||
        parse_store_opts(chunks, codec, blosc_codec, level, shuffle, bitshuffle,
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
static PyObject *
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0) {
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

static PyObject *
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0 ||
        parse_store_opts(chunks, codec, blosc_codec, level, shuffle, bitshuffle,
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

static PyObject *
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0) {
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

/* Value ids and output arrays of a multi-output run (n of each). */
static int
parse_outputs(PyObject *idsobj, PyObject *outsobj, Py_ssize_t n, int *ids, void **dsts,
              int64_t (*strides)[CW_MAXDIM], const int64_t **sp)
{
    for (Py_ssize_t o = 0; o < n; o++) {
        ids[o] = (int)PyLong_AsLong(PyList_GET_ITEM(idsobj, o));
        PyObject *ob = PyList_GET_ITEM(outsobj, o);
        if (!PyArray_Check(ob)) {
            PyErr_SetString(PyExc_TypeError, "outputs must be ndarrays");
            return -1;
        }
        PyArrayObject *a = (PyArrayObject *)ob;
        if (!PyArray_ISWRITEABLE(a) || !PyArray_ISALIGNED(a) || PyArray_NDIM(a) > CW_MAXDIM) {
            PyErr_SetString(PyExc_ValueError, "outputs must be writeable, aligned arrays");
            return -1;
        }
        for (int k = 0; k < PyArray_NDIM(a); k++) {
            strides[o][k] = PyArray_STRIDE(a, k);
        }
        dsts[o] = PyArray_DATA(a);
        sp[o] = strides[o];
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* One pass: values `ids` into `outs` and reductions, a list of tuples
 * (id, ufunc, loop index, axes mask, out), reading every chunk once. */
static PyObject *
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
    if (parse_outputs(idsobj, outsobj, n, ids, dsts, strides, sp) < 0) {
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
        int k = int64_seq(axesobj, ax, CW_MAXDIM, "axes");
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
    if (parse_config(threads, limit, progress, &cfg, &pc) < 0) {
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
    return wrap_source(module, src, (PyObject *)self);
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
    if (parse_config(threads, limit, Py_None, &cfg, &pc) < 0) {
        return NULL;
    }
    char buf[16384];
    cw_expr_describe(self->e, &cfg, buf, sizeof(buf));
    return PyUnicode_FromString(buf);
}

static PyMethodDef Expr_methods[] = {
    {"input", (PyCFunction)Expr_input, METH_VARARGS, "input(src, start, step, count, axes) -> id"},
    {"scalar", (PyCFunction)Expr_scalar, METH_VARARGS, "scalar(dtype, bytes) -> id"},
    {"cast", (PyCFunction)Expr_cast, METH_VARARGS, "cast(id, dtype) -> id"},
    {"ufunc", (PyCFunction)Expr_ufunc, METH_VARARGS, "ufunc(ufunc, loop_index, ids) -> id"},
    {"select", (PyCFunction)Expr_select, METH_VARARGS, "select(cond, a, b) -> id"},
    {"builtin", (PyCFunction)Expr_builtin, METH_VARARGS,
     "builtin(name, ids, dtype) -> id"},
    {"finish", (PyCFunction)Expr_finish, METH_VARARGS, "finish(result, tile)"},
    {"read", (PyCFunction)Expr_read, METH_VARARGS, "read(out, threads, memory_limit, progress)"},
    {"store", (PyCFunction)Expr_store, METH_VARARGS, "store(path, name, chunks, ...)"},
    {"accumulate", (PyCFunction)Expr_accumulate, METH_VARARGS,
     "accumulate(ufunc, loop_index, axis, out, threads, memory_limit, progress)"},
    {"pass_", (PyCFunction)Expr_pass, METH_VARARGS,
     "pass_(ids, outs, reductions, threads, memory_limit, progress): one pass "
     "computing values and reductions (id, ufunc, loop, axes mask, out)"},
    {"as_source", (PyCFunction)Expr_as_source, METH_NOARGS,
     "as_source() -> Source evaluating the program on demand"},
    {"accumulate_store", (PyCFunction)Expr_accumulate_store, METH_VARARGS,
     "accumulate_store(ufunc, loop_index, axis, path, name, chunks, codec, ...)"},
    {"argreduce", (PyCFunction)Expr_argreduce, METH_VARARGS,
     "argreduce(is_max, axis, out, threads, memory_limit, progress)"},
    {"describe", (PyCFunction)Expr_describe, METH_VARARGS, "describe(threads, memory_limit) -> str"},
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

static PyType_Spec Expr_spec = {
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
    int ndim = int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
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

/* ------------------------------------------------------------- functions */

static PyObject *
py_open_hdf5(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *name;
    if (!PyArg_ParseTuple(args, "O&s:open_hdf5", PyUnicode_FSConverter, &pathobj,
                          &name)) {
        return NULL;
    }
    cw_source_t *src = NULL;
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    rc = cw_source_open_hdf5(path, name, &src);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return wrap_source(module, src, NULL);
}

static PyObject *
py_from_array(PyObject *module, PyObject *args)
{
    PyObject *arrobj, *chunksobj;
    if (!PyArg_ParseTuple(args, "OO:from_array", &arrobj, &chunksobj)) {
        return NULL;
    }
    if (!PyArray_Check(arrobj)) {
        PyErr_SetString(PyExc_TypeError, "from_array expects an ndarray");
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)arrobj;
    cw_dtype_t dtype;
    if (PyArray_ISBYTESWAPPED(arr) || npy_to_dtype(PyArray_DESCR(arr), &dtype) < 0) {
        PyErr_Format(PyExc_TypeError, "unsupported dtype %R",
                     (PyObject *)PyArray_DESCR(arr));
        return NULL;
    }
    if (!PyArray_ISALIGNED(arr)) {
        PyErr_SetString(PyExc_ValueError, "array is not aligned");
        return NULL;
    }
    int ndim = PyArray_NDIM(arr);
    int64_t shape[CW_MAXDIM], strides[CW_MAXDIM], chunks[CW_MAXDIM];
    if (ndim > CW_MAXDIM) {
        PyErr_Format(PyExc_ValueError, "at most %d dimensions", CW_MAXDIM);
        return NULL;
    }
    for (int d = 0; d < ndim; d++) {
        shape[d] = PyArray_DIM(arr, d);
        strides[d] = PyArray_STRIDE(arr, d);
    }
    const int64_t *cptr = NULL;
    if (chunksobj != Py_None) {
        if (int64_seq(chunksobj, chunks, CW_MAXDIM, "chunks") != ndim) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "chunks rank does not match");
            }
            return NULL;
        }
        cptr = chunks;
    }
    cw_source_t *src = NULL;
    int rc = cw_source_from_memory(PyArray_DATA(arr), ndim, shape, strides, dtype,
                                   cptr, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return wrap_source(module, src, arrobj);
}

static PyObject *
py_full(PyObject *module, PyObject *args)
{
    PyObject *shapeobj, *dtypeobj, *chunksobj;
    Py_buffer value;
    if (!PyArg_ParseTuple(args, "OOy*O:full", &shapeobj, &dtypeobj, &value,
                          &chunksobj)) {
        return NULL;
    }
    int64_t shape[CW_MAXDIM], chunks[CW_MAXDIM];
    cw_dtype_t dtype;
    cw_source_t *src = NULL;
    PyObject *res = NULL;
    int ndim = int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (ndim < 0 || parse_dtype(dtypeobj, &dtype) < 0) {
        goto done;
    }
    if ((size_t)value.len != cw_dtype_size(dtype)) {
        PyErr_SetString(PyExc_ValueError, "fill value has the wrong size");
        goto done;
    }
    if (chunksobj != Py_None &&
        int64_seq(chunksobj, chunks, CW_MAXDIM, "chunks") != ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "chunks rank does not match");
        }
        goto done;
    }
    int rc = cw_source_new_full(ndim, shape, dtype, value.buf,
                                chunksobj == Py_None ? NULL : chunks, &src);
    res = rc < 0 ? cwpy_raise(module, rc) : wrap_source(module, src, NULL);
done:
    PyBuffer_Release(&value);
    return res;
}

static PyObject *
py_arange(PyObject *module, PyObject *args)
{
    long long n, istart, istep;
    double ffirst, fsecond;
    PyObject *dtypeobj, *chunkobj;
    if (!PyArg_ParseTuple(args, "LLLddOO:arange", &n, &istart, &istep, &ffirst,
                          &fsecond, &dtypeobj, &chunkobj)) {
        return NULL;
    }
    cw_dtype_t dtype;
    if (parse_dtype(dtypeobj, &dtype) < 0) {
        return NULL;
    }
    int64_t chunk = 0;
    if (chunkobj != Py_None) {
        chunk = PyLong_AsLongLong(chunkobj);
        if (chunk == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    cw_source_t *src = NULL;
    int rc = cw_source_new_arange(n, istart, istep, ffirst, fsecond, dtype,
                                  chunkobj == Py_None ? NULL : &chunk, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return wrap_source(module, src, NULL);
}

static int
parse_config(PyObject *threads, PyObject *limit, PyObject *progress,
             cw_config_t *cfg, poll_ctx *pc)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = (int)PyLong_AsLong(threads);
    cfg->memory_limit = PyLong_AsLongLong(limit);
    if (PyErr_Occurred()) {
        return -1;
    }
    pc->progress = progress;
    cfg->poll = poll_cb;
    cfg->poll_data = pc;
    return 0;
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
    if (get_source(module, srcobj, &src) < 0 ||
        fill_sel(src, start, step, count, &sel) < 0 ||
        parse_config(threads, limit, progress, &cfg, &pc) < 0) {
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
        npy_to_dtype(PyArray_DESCR(out), &dt) < 0 || dt != cw_source_dtype(src)) {
        PyErr_SetString(PyExc_ValueError,
                        "out must be a writeable, aligned array of the source's dtype");
        return NULL;
    }
    if (int64_seq(axes, axis, CW_MAXDIM, "axes") != sel.ndim) {
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

static int
set_codec(const char *codec, const char *blosc_codec, int level, int shuffle,
          int bitshuffle, int overwrite, cw_store_opts_t *o)
{
    if (strcmp(codec, "blosc") == 0) {
        o->codec = CW_CODEC_BLOSC;
    }
    else if (strcmp(codec, "deflate") == 0) {
        o->codec = CW_CODEC_DEFLATE;
    }
    else if (strcmp(codec, "none") == 0) {
        o->codec = CW_CODEC_NONE;
    }
    else {
        PyErr_Format(PyExc_ValueError, "unknown codec '%s'", codec);
        return -1;
    }
    o->blosc_codec = blosc_codec;
    o->level = level;
    o->shuffle = shuffle;
    o->bitshuffle = bitshuffle;
    o->overwrite = overwrite;
    return 0;
}

static int
parse_store_opts(PyObject *chunks, const char *codec, const char *blosc_codec,
                 int level, int shuffle, int bitshuffle, int overwrite,
                 cw_store_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    if (chunks != Py_None && int64_seq(chunks, o->chunks, CW_MAXDIM, "chunks") < 0) {
        return -1;
    }
    return set_codec(codec, blosc_codec, level, shuffle, bitshuffle, overwrite, o);
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
    if (get_source(module, srcobj, &src) < 0 ||
        fill_sel(src, start, step, count, &sel) < 0 ||
        parse_config(threads, limit, progress, &cfg, &pc) < 0) {
        goto done;
    }
    o.ndim = int64_seq(shape, o.shape, CW_MAXDIM, "shape");
    if (o.ndim < 0 || int64_seq(chunks, o.chunks, CW_MAXDIM, "chunks") != o.ndim ||
        int64_seq(src_dim, sd, CW_MAXDIM, "src_dim") != o.ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "shape, chunks and src_dim differ in rank");
        }
        goto done;
    }
    for (int d = 0; d < o.ndim; d++) {
        o.src_dim[d] = (int)sd[d];
    }
    if (set_codec(codec, blosc_codec, level, shuffle, bitshuffle, overwrite, &o) < 0) {
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

static PyObject *
py_concat(PyObject *module, PyObject *args)
{
    PyObject *partsobj;
    int axis;
    if (!PyArg_ParseTuple(args, "O!i:concat", &PyList_Type, &partsobj, &axis)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(partsobj);
    if (n < 1 || n > 1 << 20) {
        PyErr_SetString(PyExc_ValueError, "need at least one array to concatenate");
        return NULL;
    }
    cw_source_t **parts = PyMem_Malloc((size_t)n * sizeof(*parts));
    if (parts == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (get_source(module, PyList_GET_ITEM(partsobj, i), &parts[i]) < 0) {
            PyMem_Free(parts);
            return NULL;
        }
    }
    cw_source_t *src = NULL;
    int rc = cw_source_concat((int)n, parts, axis, &src);
    PyMem_Free(parts);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    /* The list keeps the parts alive as long as the composite. */
    PyObject *keep = PyList_GetSlice(partsobj, 0, n);
    if (keep == NULL) {
        cw_source_free(src);
        return NULL;
    }
    PyObject *res = wrap_source(module, src, keep);
    Py_DECREF(keep);
    return res;
}

static PyObject *
py_matmul(PyObject *module, PyObject *args)
{
    PyObject *aobj, *bobj, *tileobj;
    if (!PyArg_ParseTuple(args, "OOO:matmul", &aobj, &bobj, &tileobj)) {
        return NULL;
    }
    cw_source_t *a, *b, *src = NULL;
    int64_t tile[3] = {0, 0, 0};
    if (get_source(module, aobj, &a) < 0 || get_source(module, bobj, &b) < 0) {
        return NULL;
    }
    if (tileobj != Py_None && int64_seq(tileobj, tile, 3, "tile") < 0) {
        return NULL;
    }
    int rc = cw_source_matmul(a, b, tile, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *keep = PyTuple_Pack(2, aobj, bobj);
    if (keep == NULL) {
        cw_source_free(src);
        return NULL;
    }
    PyObject *res = wrap_source(module, src, keep);
    Py_DECREF(keep);
    return res;
}

static PyObject *
py_list_datasets(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    if (!PyArg_ParseTuple(args, "O&:list_datasets", PyUnicode_FSConverter, &pathobj)) {
        return NULL;
    }
    cw_dsinfo_t *items = NULL;
    size_t n = 0;
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS
    rc = cw_file_list(path, &items, &n);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        cw_dsinfo_t *it = &items[i];
        bool chunked = strcmp(it->layout, "chunked") == 0;
        PyObject *shape = tuple_of(it->shape, it->ndim);
        PyObject *chunks = chunked ? tuple_of(it->chunks, it->ndim) : Py_NewRef(Py_None);
        PyObject *d = Py_BuildValue(
            "{s:s,s:N,s:N,s:s,s:s,s:O,s:s,s:L,s:L}", "name", it->name, "shape", shape,
            "chunks", chunks, "layout", it->layout, "dtype", it->dtype, "supported",
            it->supported ? Py_True : Py_False, "filters", it->filters, "nbytes",
            (long long)it->nbytes, "storage_size", (long long)it->storage_size);
        if (d == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    cw_dsinfo_free(items);
    return list;
}

static PyObject *
py_stats(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    cw_stats_t s;
    cw_stats_get(&s);
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "chunks_read",
                         (long long)s.chunks_read, "bytes_read", (long long)s.bytes_read,
                         "chunks_decoded", (long long)s.chunks_decoded,
                         "chunks_pipeline", (long long)s.chunks_pipeline,
                         "chunks_lockfree", (long long)s.chunks_lockfree,
                         "chunks_written", (long long)s.chunks_written,
                         "bytes_written", (long long)s.bytes_written,
                         "runs", (long long)s.runs);
}

static PyObject *
py_reset_stats(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    cw_stats_reset();
    Py_RETURN_NONE;
}

static PyObject *
py_version_info(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    return PyUnicode_FromString(cw_version_info());
}

static PyObject *
py_fp_flags(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    return PyLong_FromLong(cw_fp_flags());
}

static PyObject *
py_default_threads(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    return PyLong_FromLong(cw_default_threads());
}

static PyMethodDef core_methods[] = {
    {"open_hdf5", py_open_hdf5, METH_VARARGS, "open_hdf5(path, name) -> Source"},
    {"from_array", py_from_array, METH_VARARGS, "from_array(ndarray, chunks) -> Source"},
    {"full", py_full, METH_VARARGS, "full(shape, dtype, value_bytes, chunks) -> Source"},
    {"arange", py_arange, METH_VARARGS,
     "arange(n, istart, istep, ffirst, fsecond, dtype, chunk) -> Source"},
    {"read", py_read, METH_VARARGS,
     "read(src, start, step, count, out, axes, threads, memory_limit, progress)"},
    {"store", (PyCFunction)(void (*)(void))py_store, METH_VARARGS | METH_KEYWORDS,
     "store(...): stream a selection into a new HDF5 dataset"},
    {"expr_new", py_expr_new, METH_VARARGS, "expr_new(shape) -> Expr"},
    {"concat", py_concat, METH_VARARGS, "concat([Source], axis) -> Source"},
    {"matmul", py_matmul, METH_VARARGS, "matmul(Source, Source, tile) -> Source"},
    {"list_datasets", py_list_datasets, METH_VARARGS, "list_datasets(path) -> list"},
    {"stats", py_stats, METH_NOARGS, "process-wide counters"},
    {"reset_stats", py_reset_stats, METH_NOARGS, "zero the counters"},
    {"version_info", py_version_info, METH_NOARGS, "library versions"},
    {"default_threads", py_default_threads, METH_NOARGS, "cores used by default"},
    {"fp_flags", py_fp_flags, METH_NOARGS,
     "floating-point conditions raised by the last run on this thread"},
    {NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- module */

static int
core_exec(PyObject *module)
{
    import_array1(-1);
    import_umath1(-1);
    cwpy_state *st = get_state(module);
    st->source_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &Source_spec, NULL);
    if (st->source_type == NULL ||
        PyModule_AddType(module, st->source_type) < 0) {
        return -1;
    }
    st->expr_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Expr_spec, NULL);
    if (st->expr_type == NULL || PyModule_AddType(module, st->expr_type) < 0) {
        return -1;
    }
    st->corrupt_error = PyErr_NewExceptionWithDoc(
        "chunkwise.CorruptChunkError",
        "A stored chunk could not be decoded; the message names the chunk.",
        PyExc_OSError, NULL);
    st->budget_error = PyErr_NewExceptionWithDoc(
        "chunkwise.MemoryBudgetError",
        "The work cannot fit in the configured memory_limit.",
        PyExc_MemoryError, NULL);
    if (st->corrupt_error == NULL || st->budget_error == NULL ||
        PyModule_AddObjectRef(module, "CorruptChunkError", st->corrupt_error) < 0 ||
        PyModule_AddObjectRef(module, "MemoryBudgetError", st->budget_error) < 0) {
        return -1;
    }
    return 0;
}

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    cwpy_state *st = get_state(module);
    Py_VISIT(st->source_type);
    Py_VISIT(st->expr_type);
    Py_VISIT(st->corrupt_error);
    Py_VISIT(st->budget_error);
    return 0;
}

static int
core_clear(PyObject *module)
{
    cwpy_state *st = get_state(module);
    Py_CLEAR(st->source_type);
    Py_CLEAR(st->expr_type);
    Py_CLEAR(st->corrupt_error);
    Py_CLEAR(st->budget_error);
    return 0;
}

static void
core_free(void *module)
{
    core_clear((PyObject *)module);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "chunkwise._core",
    .m_doc = "C engine of chunkwise.",
    .m_size = sizeof(cwpy_state),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
