/*
 * blocks.c -- block functions: a Python callable applied block by block
 * (chunkwise.blocks), as a cw_source_blocks source.
 *
 * The engine calls block_call on its worker threads without the GIL; it
 * takes the GIL (PyGILState_Ensure) only around the Python call: the
 * argument tiles are wrapped as ndarrays (no copy), the callable returns
 * the block, whose shape and dtype are checked before it is copied into
 * the engine's buffer.  An exception raised by the callable (or by the
 * check) is stored on the callable as its `error` attribute (the first one
 * wins) and the block fails; the Python layer raises it from compute.
 * The callable and the argument sources are kept alive by the Source.
 */
#include "cwpy.h"

#include <fenv.h>    // fegetexceptflag, fesetexceptflag
#include <string.h>  // memcpy

/* Keep the first exception of the run on the callable (`error`), clear
 * the indicator.  GIL held, an exception set. */
static void
record_error(PyObject *call)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    PyObject *prev = PyObject_GetAttrString(call, "error");
    if (prev == NULL) {
        PyErr_Clear();
    }
    if (prev == Py_None && value != NULL) {
        if (PyObject_SetAttrString(call, "error", value) < 0) {
            PyErr_Clear();
        }
    }
    Py_XDECREF(prev);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static PyObject *
wrap_tile(const cw_tile_t *t)
{
    npy_intp dims[CW_MAXDIM];
    for (int d = 0; d < t->ndim; d++) {
        dims[d] = (npy_intp)t->shape[d];
    }
    return PyArray_SimpleNewFromData(t->ndim, dims, cwpy_dtype_to_npy[t->dtype],
                                     t->data);
}

/* The result's shape and dtype against the block's; -1 with an
 * exception on a mismatch. */
static int
check_result(PyObject *res, const cw_tile_t *out, const int64_t *block)
{
    PyObject *where = cwpy_tuple_of(block, out->ndim);
    if (where == NULL) {
        return -1;
    }
    int rc = -1;
    if (!PyArray_Check(res)) {
        PyErr_Format(PyExc_TypeError,
                     "the block function returned a %s for block %R, not an ndarray",
                     Py_TYPE(res)->tp_name, where);
        goto done;
    }
    PyArrayObject *a = (PyArrayObject *)res;
    int want = cwpy_dtype_to_npy[out->dtype];
    if (!PyArray_EquivTypenums(PyArray_TYPE(a), want) || PyArray_ISBYTESWAPPED(a)) {
        PyObject *w = (PyObject *)PyArray_DescrFromType(want);
        PyErr_Format(PyExc_TypeError,
                     "the block function returned dtype %S for block %R, expected "
                     "%S (pass dtype= to say what it returns)",
                     (PyObject *)PyArray_DESCR(a), where, w);
        Py_XDECREF(w);
        goto done;
    }
    bool same = PyArray_NDIM(a) == out->ndim;
    for (int d = 0; same && d < out->ndim; d++) {
        same = PyArray_DIM(a, d) == out->shape[d];
    }
    if (!same) {
        PyObject *got = PyObject_GetAttrString(res, "shape");
        PyObject *exp = cwpy_tuple_of(out->shape, out->ndim);
        PyErr_Format(PyExc_ValueError,
                     "the block function returned shape %R for block %R, expected "
                     "%R (pass chunks= to say what it returns)",
                     got, where, exp);
        Py_XDECREF(got);
        Py_XDECREF(exp);
        goto done;
    }
    rc = 0;
done:
    Py_DECREF(where);
    return rc;
}

/* cw_block_fn: the GIL is taken here only.  The thread's floating-point
 * flags are saved before the Python call and put back after it: NumPy
 * inside the function reports (or, under the caller's np.errstate,
 * ignores) what it raises itself, and clears the flags before its own
 * loops, so without this the function's flags would be reported again as
 * chunkwise's RuntimeWarning and flags raised by chunkwise's own kernels
 * earlier on this thread would be lost. */
static int
block_call(void *data, const int64_t *block, int nin, const cw_tile_t *in,
           const cw_tile_t *out)
{
    PyObject *call = data;
    fexcept_t fpsaved;
    int fpsave = fegetexceptflag(&fpsaved, FE_ALL_EXCEPT);
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = CW_EINVAL;
    PyObject *res = NULL, *dst = NULL;
    PyObject *args = PyTuple_New(nin + 1);
    if (args == NULL) {
        goto done;
    }
    PyObject *where = cwpy_tuple_of(block, out->ndim);
    if (where == NULL) {
        goto done;
    }
    PyTuple_SET_ITEM(args, 0, where);
    for (int i = 0; i < nin; i++) {
        PyObject *t = wrap_tile(&in[i]);
        if (t == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(args, i + 1, t);
    }
    res = PyObject_Call(call, args, NULL);
    if (res == NULL || check_result(res, out, block) < 0) {
        goto done;
    }
    PyArrayObject *r = (PyArrayObject *)res;
    if (PyArray_IS_C_CONTIGUOUS(r)) {
        /* The common case: one copy, without the GIL (res keeps the
         * result alive meanwhile). */
        size_t n = (size_t)PyArray_NBYTES(r);
        const void *from = PyArray_DATA(r);
        Py_BEGIN_ALLOW_THREADS memcpy(out->data, from, n);
        Py_END_ALLOW_THREADS rc = CW_OK;
        goto done;
    }
    dst = wrap_tile(out);
    if (dst == NULL || PyArray_CopyInto((PyArrayObject *)dst, r) < 0) {
        goto done;
    }
    rc = CW_OK;
done:
    if (rc < 0) {
        record_error(call);
    }
    Py_XDECREF(dst);
    Py_XDECREF(res);
    Py_XDECREF(args);
    PyGILState_Release(g);
    if (fpsave == 0) {
        fesetexceptflag(&fpsaved, FE_ALL_EXCEPT);
    }
    return rc;
}

/* One argument: (Source, axis, bounds, depth, boundary, fill bytes), with
 * bounds a list of C-contiguous int64 ndarrays or None per dimension. */
static int
parse_arg(PyObject *module, PyObject *item, cw_block_arg_t *a, const int64_t *nblocks,
          int ndim)
{
    PyObject *srcobj, *axisobj, *boundsobj, *depthobj, *bndobj;
    Py_buffer fill;
    if (!PyArg_ParseTuple(item, "OOO!OOy*:blocks argument", &srcobj, &axisobj,
                          &PyList_Type, &boundsobj, &depthobj, &bndobj, &fill)) {
        return -1;
    }
    int rc = -1;
    int64_t axis[CW_MAXDIM], depth[CW_MAXDIM], bnd[CW_MAXDIM];
    memset(a, 0, sizeof(*a));
    if (cwpy_get_source(module, srcobj, &a->src) < 0) {
        goto done;
    }
    int nd = cw_source_ndim(a->src);
    if (cwpy_int64_seq(axisobj, axis, CW_MAXDIM, "axis") != nd ||
        cwpy_int64_seq(depthobj, depth, CW_MAXDIM, "depth") != nd ||
        cwpy_int64_seq(bndobj, bnd, CW_MAXDIM, "boundary") != nd ||
        PyList_GET_SIZE(boundsobj) != nd || (size_t)fill.len > sizeof(a->fill)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "blocks: argument rank does not match");
        }
        goto done;
    }
    memcpy(a->fill, fill.buf, (size_t)fill.len);
    for (int d = 0; d < nd; d++) {
        a->axis[d] = (int)axis[d];
        a->depth[d] = depth[d];
        a->boundary[d] = (int)bnd[d];
        if (axis[d] < 0) {
            continue;
        }
        PyObject *b = PyList_GET_ITEM(boundsobj, d);
        if (axis[d] >= ndim || !PyArray_Check(b) ||
            PyArray_TYPE((PyArrayObject *)b) != NPY_INT64 ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)b) ||
            PyArray_SIZE((PyArrayObject *)b) != nblocks[axis[d]] + 1) {
            PyErr_SetString(PyExc_ValueError,
                            "blocks: argument offsets must be int64 ndarrays of one "
                            "more entry than the blocks of their axis");
            goto done;
        }
        a->bounds[d] = PyArray_DATA((PyArrayObject *)b);
    }
    rc = 0;
done:
    PyBuffer_Release(&fill);
    return rc;
}

/* blocks([args], shape, [bounds], dtype, call) -> Source */
static PyObject *
py_blocks(PyObject *module, PyObject *args)
{
    PyObject *argsobj, *shapeobj, *boundsobj, *dtypeobj, *call;
    if (!PyArg_ParseTuple(args, "O!OO!OO:blocks", &PyList_Type, &argsobj, &shapeobj,
                          &PyList_Type, &boundsobj, &dtypeobj, &call)) {
        return NULL;
    }
    int64_t shape[CW_MAXDIM], nblocks[CW_MAXDIM];
    const int64_t *bounds[CW_MAXDIM];
    cw_block_arg_t bargs[CW_BLOCK_MAX_ARGS];
    cw_dtype_t dtype;
    int nd = cwpy_int64_seq(shapeobj, shape, CW_MAXDIM, "shape");
    if (nd < 0 || cwpy_parse_dtype(dtypeobj, &dtype) < 0) {
        return NULL;
    }
    Py_ssize_t nin = PyList_GET_SIZE(argsobj);
    if (PyList_GET_SIZE(boundsobj) != nd || nin > CW_BLOCK_MAX_ARGS) {
        PyErr_Format(PyExc_ValueError,
                     "blocks: one offsets array per axis and at most %d arrays",
                     CW_BLOCK_MAX_ARGS);
        return NULL;
    }
    for (int k = 0; k < nd; k++) {
        PyObject *b = PyList_GET_ITEM(boundsobj, k);
        if (!PyArray_Check(b) || PyArray_TYPE((PyArrayObject *)b) != NPY_INT64 ||
            !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)b) ||
            PyArray_SIZE((PyArrayObject *)b) < 2) {
            PyErr_SetString(PyExc_ValueError,
                            "blocks: offsets must be int64 ndarrays of 2 or more");
            return NULL;
        }
        nblocks[k] = PyArray_SIZE((PyArrayObject *)b) - 1;
        bounds[k] = PyArray_DATA((PyArrayObject *)b);
    }
    for (Py_ssize_t i = 0; i < nin; i++) {
        if (parse_arg(module, PyList_GET_ITEM(argsobj, i), &bargs[i], nblocks, nd) <
            0) {
            return NULL;
        }
    }
    cw_source_t *src = NULL;
    int rc = cw_source_blocks((int)nin, bargs, nd, shape, nblocks, bounds, dtype,
                              block_call, call, &src);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    /* The callable and the argument sources live as long as the source. */
    PyObject *keep = Py_BuildValue("(OO)", call, argsobj);
    if (keep == NULL) {
        cw_source_free(src);
        return NULL;
    }
    PyObject *res = cwpy_wrap_source(module, src, keep);
    Py_DECREF(keep);
    return res;
}

PyMethodDef cwpy_blocks_functions[] = {
    {"blocks", py_blocks, METH_VARARGS,
     "blocks([(Source, axis, bounds, depth, boundary, fill)], shape, bounds, dtype, "
     "call) -> Source"},
    {NULL, NULL, 0, NULL},
};
