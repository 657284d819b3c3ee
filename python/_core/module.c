/*
 * module.c -- the chunkwise._core module: multi-phase init with a state
 * struct, the exception mapping (cwpy_raise), the diagnostics functions
 * (stats, versions, the file listing), and the one import of NumPy's C API.
 */
#define CWPY_IMPORT_NUMPY
#include "cwpy.h"

/* Raise the exception for `status` with cw_errmsg(), unless one is already
 * set (by the poll callback, e.g. KeyboardInterrupt).  Returns NULL. */
PyObject *
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
        case CW_ENOMEM:
            type = PyExc_MemoryError;
            break;
        case CW_EINVAL:
            type = PyExc_ValueError;
            break;
        case CW_ETYPE:
            type = PyExc_TypeError;
            break;
        case CW_ENOENT:
            type = PyExc_FileNotFoundError;
            break;
        case CW_ENOKEY:
            type = PyExc_KeyError;
            break;
        case CW_ECORRUPT:
            type = st->corrupt_error;
            break;
        case CW_EEXIST:
            type = PyExc_FileExistsError;
            break;
        case CW_EBUDGET:
            type = st->budget_error;
            break;
        case CW_ECANCEL:
            type = PyExc_KeyboardInterrupt;
            break;
        case CW_EINDEX:
            type = PyExc_IndexError;
            break;
        default:
            type = PyExc_OSError;
            break;
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
    Py_BEGIN_ALLOW_THREADS rc = cw_file_list(path, &items, &n);
    Py_END_ALLOW_THREADS Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        cw_dsinfo_t *it = &items[i];
        bool chunked = strcmp(it->layout, "chunked") == 0;
        PyObject *shape = cwpy_tuple_of(it->shape, it->ndim);
        PyObject *chunks =
            chunked ? cwpy_tuple_of(it->chunks, it->ndim) : Py_NewRef(Py_None);
        PyObject *d = Py_BuildValue(
            "{s:s,s:N,s:N,s:s,s:s,s:O,s:s,s:L,s:L,s:s}", "name", it->name, "shape",
            shape, "chunks", chunks, "layout", it->layout, "dtype", it->dtype,
            "supported", it->supported ? Py_True : Py_False, "filters", it->filters,
            "nbytes", (long long)it->nbytes, "storage_size",
            (long long)it->storage_size, "decode", it->decode);
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
    return Py_BuildValue(
        "{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "chunks_read", (long long)s.chunks_read,
        "bytes_read", (long long)s.bytes_read, "chunks_decoded",
        (long long)s.chunks_decoded, "chunks_pipeline", (long long)s.chunks_pipeline,
        "chunks_lockfree", (long long)s.chunks_lockfree, "chunks_written",
        (long long)s.chunks_written, "bytes_written", (long long)s.bytes_written,
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
py_fp_flags_clear(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    cw_fp_flags_clear();
    Py_RETURN_NONE;
}

static PyObject *
py_default_threads(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    return PyLong_FromLong(cw_default_threads());
}

/* The element type of a DLPack capsule ("dltensor" or "dltensor_versioned"),
 * as (type code, bits, lanes), without consuming it: the capsule keeps its
 * name, so its own destructor releases the tensor. */
static PyObject *
py_dlpack_dtype(PyObject *self, PyObject *capsule)
{
    (void)self;
    /* dlpack.h: DLTensor {void *data; DLDevice device; int32_t ndim;
     * DLDataType dtype; ...}; DLManagedTensorVersioned starts with a
     * DLPackVersion, manager_ctx, deleter and flags before its DLTensor. */
    typedef struct {
        uint8_t code, bits;
        uint16_t lanes;
    } dl_dtype;
    typedef struct {
        void *data;
        int32_t device_type, device_id;
        int32_t ndim;
        dl_dtype dtype;
    } dl_tensor;
    typedef struct {
        uint32_t major, minor;
        void *manager_ctx;
        void (*deleter)(void *);
        uint64_t flags;
        dl_tensor tensor;
    } dl_versioned;
    const dl_tensor *t = NULL;
    if (PyCapsule_IsValid(capsule, "dltensor")) {
        t = PyCapsule_GetPointer(capsule, "dltensor");
    }
    else if (PyCapsule_IsValid(capsule, "dltensor_versioned")) {
        const dl_versioned *v = PyCapsule_GetPointer(capsule, "dltensor_versioned");
        t = v ? &v->tensor : NULL;
    }
    if (t == NULL) {
        PyErr_SetString(PyExc_TypeError, "not an unconsumed DLPack capsule");
        return NULL;
    }
    return Py_BuildValue("iii", t->dtype.code, t->dtype.bits, t->dtype.lanes);
}

static PyMethodDef core_methods[] = {
    {"dlpack_dtype", py_dlpack_dtype, METH_O,
     "dlpack_dtype(capsule) -> (code, bits, lanes) of an unconsumed DLPack capsule"},
    {"list_datasets", py_list_datasets, METH_VARARGS, "list_datasets(path) -> list"},
    {"stats", py_stats, METH_NOARGS, "process-wide counters"},
    {"reset_stats", py_reset_stats, METH_NOARGS, "zero the counters"},
    {"version_info", py_version_info, METH_NOARGS, "library versions"},
    {"default_threads", py_default_threads, METH_NOARGS, "cores used by default"},
    {"fp_flags", py_fp_flags, METH_NOARGS,
     "floating-point conditions raised by the last run on this thread"},
    {"fp_flags_clear", py_fp_flags_clear, METH_NOARGS,
     "forget the last run's floating-point conditions"},
    {NULL, NULL, 0, NULL},
};

static int
core_exec(PyObject *module)
{
    import_array1(-1);
    import_umath1(-1);
    cwpy_state *st = get_state(module);
    st->source_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &cwpy_source_spec, NULL);
    if (st->source_type == NULL || PyModule_AddType(module, st->source_type) < 0) {
        return -1;
    }
    st->expr_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &cwpy_expr_spec, NULL);
    if (st->expr_type == NULL || PyModule_AddType(module, st->expr_type) < 0) {
        return -1;
    }
    st->corrupt_error = PyErr_NewExceptionWithDoc(
        "chunkwise.CorruptChunkError",
        "A stored chunk could not be decoded; the message names the chunk.",
        PyExc_OSError, NULL);
    st->budget_error = PyErr_NewExceptionWithDoc(
        "chunkwise.MemoryBudgetError",
        "The work cannot fit in the configured memory_limit.", PyExc_MemoryError, NULL);
    if (st->corrupt_error == NULL || st->budget_error == NULL ||
        PyModule_AddObjectRef(module, "CorruptChunkError", st->corrupt_error) < 0 ||
        PyModule_AddObjectRef(module, "MemoryBudgetError", st->budget_error) < 0) {
        return -1;
    }
    if (PyModule_AddFunctions(module, cwpy_source_functions) < 0 ||
        PyModule_AddFunctions(module, cwpy_program_functions) < 0 ||
        PyModule_AddFunctions(module, cwpy_h5meta_functions) < 0 ||
        PyModule_AddFunctions(module, cwpy_blocks_functions) < 0 ||
        PyModule_AddFunctions(module, cwpy_resultmem_functions) < 0) {
        return -1;
    }
    /* The dtypes the engine computes in, from the library's one table. */
    PyObject *dtypes = PyTuple_New(CW_NDTYPES);
    for (int i = 0; dtypes != NULL && i < CW_NDTYPES; i++) {
        PyObject *name = PyUnicode_FromString(cw_dtype_name((cw_dtype_t)i));
        if (name == NULL) {
            Py_CLEAR(dtypes);
            break;
        }
        PyTuple_SET_ITEM(dtypes, i, name);
    }
    int rc = dtypes == NULL ? -1 : PyModule_AddObjectRef(module, "dtypes", dtypes);
    Py_XDECREF(dtypes);
    return rc;
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
