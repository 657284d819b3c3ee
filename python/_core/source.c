/*
 * source.c -- the Source type (a cw_source_t) and the functions that make
 * sources: HDF5 datasets, ndarrays (zero-copy), fills, ranges,
 * concatenations and matrix products.
 */
#include "cwpy.h"

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
        Py_BEGIN_ALLOW_THREADS cw_source_free(src);
        Py_END_ALLOW_THREADS
    }
    Source_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
Source_get_shape(SourceObject *self, void *closure)
{
    (void)closure;
    return cwpy_tuple_of(cw_source_shape(self->src), cw_source_ndim(self->src));
}

static PyObject *
Source_get_chunks(SourceObject *self, void *closure)
{
    (void)closure;
    return cwpy_tuple_of(cw_source_chunks(self->src), cw_source_ndim(self->src));
}

static PyObject *
Source_get_dtype(SourceObject *self, void *closure)
{
    (void)closure;
    return (PyObject *)PyArray_DescrFromType(
        cwpy_dtype_to_npy[cw_source_dtype(self->src)]);
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

PyType_Spec cwpy_source_spec = {
    .name = "chunkwise._core.Source",
    .basicsize = sizeof(SourceObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Source_slots,
};

PyObject *
cwpy_wrap_source(PyObject *module, cw_source_t *src, PyObject *base)
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

int
cwpy_get_source(PyObject *module, PyObject *obj, cw_source_t **out)
{
    if (!PyObject_TypeCheck(obj, get_state(module)->source_type)) {
        PyErr_SetString(PyExc_TypeError, "expected a chunkwise Source");
        return -1;
    }
    *out = ((SourceObject *)obj)->src;
    return 0;
}

static PyObject *
py_open_hdf5(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *name;
    int swmr = 0;
    if (!PyArg_ParseTuple(args, "O&s|p:open_hdf5", PyUnicode_FSConverter, &pathobj,
                          &name, &swmr)) {
        return NULL;
    }
    cw_source_t *src = NULL;
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS rc = cw_source_open_hdf5_swmr(path, name, swmr != 0, &src);
    Py_END_ALLOW_THREADS Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return cwpy_wrap_source(module, src, NULL);
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
    if (PyArray_ISBYTESWAPPED(arr) ||
        cwpy_npy_to_dtype(PyArray_DESCR(arr), &dtype) < 0) {
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
        if (cwpy_int64_seq(chunksobj, chunks, CW_MAXDIM, "chunks") != ndim) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "chunks rank does not match");
            }
            return NULL;
        }
        cptr = chunks;
    }
    cw_source_t *src = NULL;
    int rc = cw_source_from_memory(PyArray_DATA(arr), ndim, shape, strides, dtype, cptr,
                                   &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return cwpy_wrap_source(module, src, arrobj);
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
    int ndim = cwpy_int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (ndim < 0 || cwpy_parse_dtype(dtypeobj, &dtype) < 0) {
        goto done;
    }
    if ((size_t)value.len != cw_dtype_size(dtype)) {
        PyErr_SetString(PyExc_ValueError, "fill value has the wrong size");
        goto done;
    }
    if (chunksobj != Py_None &&
        cwpy_int64_seq(chunksobj, chunks, CW_MAXDIM, "chunks") != ndim) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "chunks rank does not match");
        }
        goto done;
    }
    int rc = cw_source_new_full(ndim, shape, dtype, value.buf,
                                chunksobj == Py_None ? NULL : chunks, &src);
    res = rc < 0 ? cwpy_raise(module, rc) : cwpy_wrap_source(module, src, NULL);
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
    if (cwpy_parse_dtype(dtypeobj, &dtype) < 0) {
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
    return cwpy_wrap_source(module, src, NULL);
}

/* `src` wrapped for Python, holding `keep` (new reference, or NULL after
 * a failed allocation: then `src` is freed) for as long as it lives. */
static PyObject *
wrap_keeping(PyObject *module, cw_source_t *src, PyObject *keep)
{
    if (keep == NULL) {
        cw_source_free(src);
        return NULL;
    }
    PyObject *res = cwpy_wrap_source(module, src, keep);
    Py_DECREF(keep);
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
        if (cwpy_get_source(module, PyList_GET_ITEM(partsobj, i), &parts[i]) < 0) {
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
    return wrap_keeping(module, src, keep);
}

static PyObject *
py_matmul(PyObject *module, PyObject *args)
{
    PyObject *aobj, *bobj, *tileobj;
    long long slice = 0;
    if (!PyArg_ParseTuple(args, "OOO|L:matmul", &aobj, &bobj, &tileobj, &slice)) {
        return NULL;
    }
    cw_source_t *a, *b, *src = NULL;
    int64_t tile[3] = {0, 0, 0};
    if (cwpy_get_source(module, aobj, &a) < 0 ||
        cwpy_get_source(module, bobj, &b) < 0) {
        return NULL;
    }
    if (tileobj != Py_None && cwpy_int64_seq(tileobj, tile, 3, "tile") < 0) {
        return NULL;
    }
    int rc = slice > 0 ? cw_source_matmul_partials(a, b, tile, (int64_t)slice, &src)
                       : cw_source_matmul(a, b, tile, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *keep = PyTuple_Pack(2, aobj, bobj);
    return wrap_keeping(module, src, keep);
}

static PyObject *
py_reshape(PyObject *module, PyObject *args)
{
    PyObject *inobj, *shapeobj;
    if (!PyArg_ParseTuple(args, "OO:reshape", &inobj, &shapeobj)) {
        return NULL;
    }
    cw_source_t *in, *src = NULL;
    int64_t shape[CW_MAXDIM];
    if (cwpy_get_source(module, inobj, &in) < 0) {
        return NULL;
    }
    int nd = cwpy_int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (nd < 0) {
        return NULL;
    }
    int rc = cw_source_reshape(in, nd, shape, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return cwpy_wrap_source(module, src, inobj);
}

/* gather(Source, shape, map, [int64 C-contiguous ndarray], pos, m) */
static PyObject *
py_gather(PyObject *module, PyObject *args)
{
    PyObject *inobj, *shapeobj, *mapobj, *tabobj;
    int pos, m;
    if (!PyArg_ParseTuple(args, "OOOO!ii:gather", &inobj, &shapeobj, &mapobj,
                          &PyList_Type, &tabobj, &pos, &m)) {
        return NULL;
    }
    cw_source_t *in, *src = NULL;
    int64_t shape[CW_MAXDIM], map64[CW_MAXDIM];
    int map[CW_MAXDIM];
    const int64_t *tables[CW_MAXDIM];
    if (cwpy_get_source(module, inobj, &in) < 0) {
        return NULL;
    }
    int nd = cwpy_int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (nd < 0) {
        return NULL;
    }
    if (cwpy_int64_seq(mapobj, map64, CW_MAXDIM, "map") != cw_source_ndim(in)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "map rank does not match");
        }
        return NULL;
    }
    for (int d = 0; d < cw_source_ndim(in); d++) {
        map[d] = (int)map64[d];
    }
    Py_ssize_t nt = PyList_GET_SIZE(tabobj);
    if (nt > CW_MAXDIM) {
        PyErr_SetString(PyExc_ValueError, "too many index tables");
        return NULL;
    }
    int64_t nb = 1;
    for (int i = 0; i < m && pos + i < nd; i++) {
        nb *= shape[pos + i];
    }
    for (Py_ssize_t i = 0; i < nt; i++) {
        PyObject *t = PyList_GET_ITEM(tabobj, i);
        if (!PyArray_Check(t) || PyArray_TYPE((PyArrayObject *)t) != NPY_INT64 ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)t) ||
            PyArray_SIZE((PyArrayObject *)t) != nb) {
            PyErr_SetString(PyExc_TypeError,
                            "index tables must be C-contiguous int64 ndarrays of the "
                            "broadcast shape");
            return NULL;
        }
        tables[i] = PyArray_DATA((PyArrayObject *)t);
    }
    int rc = cw_source_gather(in, nd, shape, map, (int)nt, tables, pos, m, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *keep = Py_BuildValue("(OO)", inobj, tabobj);
    return wrap_keeping(module, src, keep);
}

PyMethodDef cwpy_source_functions[] = {
    {"open_hdf5", py_open_hdf5, METH_VARARGS,
     "open_hdf5(path, name, swmr=False) -> Source"},
    {"from_array", py_from_array, METH_VARARGS,
     "from_array(ndarray, chunks) -> Source"},
    {"full", py_full, METH_VARARGS,
     "full(shape, dtype, value_bytes, chunks) -> Source"},
    {"arange", py_arange, METH_VARARGS,
     "arange(n, istart, istep, ffirst, fsecond, dtype, chunk) -> Source"},
    {"concat", py_concat, METH_VARARGS, "concat([Source], axis) -> Source"},
    {"matmul", py_matmul, METH_VARARGS,
     "matmul(Source, Source, tile, slice=0) -> Source (slice > 0: the partial "
     "products along a first axis)"},
    {"reshape", py_reshape, METH_VARARGS, "reshape(Source, shape) -> Source"},
    {"gather", py_gather, METH_VARARGS,
     "gather(Source, shape, map, tables, pos, m) -> Source"},
    {NULL, NULL, 0, NULL},
};
