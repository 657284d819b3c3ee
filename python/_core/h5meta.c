/*
 * h5meta.c -- metadata of HDF5 files as Python objects: attributes as
 * NumPy values (following h5py's attrs), group members and the dimension
 * scales of a dataset's axes.
 */
#include "cwpy.h"

/* A NumPy value for one attribute read with cw_attrs_read. */
static PyObject *
attr_value(const cw_attr_t *a)
{
    npy_intp shape[CW_MAXDIM];
    for (int d = 0; d < a->ndim; d++) {
        shape[d] = (npy_intp)a->shape[d];
    }
    PyArrayObject *arr = NULL;
    if (a->kind == CW_ATTR_STRINGS) {
        arr = (PyArrayObject *)PyArray_SimpleNew(a->ndim, shape, NPY_OBJECT);
        if (arr == NULL) {
            return NULL;
        }
        PyObject **items = (PyObject **)PyArray_DATA(arr);
        for (size_t i = 0; i < a->nstrings; i++) {
            const char *s = a->strings[i] ? a->strings[i] : "";
            PyObject *o =
                PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
            if (o == NULL) {
                Py_DECREF(arr);
                return NULL;
            }
            Py_XSETREF(items[i], o);
        }
    }
    else {
        PyObject *spec;
        if (a->nfields > 0) {
            PyObject *names = PyList_New(a->nfields), *formats = PyList_New(a->nfields),
                     *offsets = PyList_New(a->nfields);
            for (int i = 0; names && formats && offsets && i < a->nfields; i++) {
                PyList_SET_ITEM(names, i, PyUnicode_FromString(a->fields[i].name));
                PyList_SET_ITEM(formats, i, PyUnicode_FromString(a->fields[i].typestr));
                PyList_SET_ITEM(offsets, i, PyLong_FromSize_t(a->fields[i].offset));
            }
            spec = names && formats && offsets
                       ? Py_BuildValue("{s:O,s:O,s:O,s:n}", "names", names, "formats",
                                       formats, "offsets", offsets, "itemsize",
                                       (Py_ssize_t)a->itemsize)
                       : NULL;
            Py_XDECREF(names);
            Py_XDECREF(formats);
            Py_XDECREF(offsets);
        }
        else {
            spec = PyUnicode_FromString(a->typestr);
        }
        if (spec == NULL) {
            return NULL;
        }
        PyArray_Descr *descr = NULL;
        int ok = PyArray_DescrConverter(spec, &descr);
        Py_DECREF(spec);
        if (!ok) {
            return NULL;
        }
        arr = (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, descr, a->ndim,
                                                    shape, NULL, NULL, 0, NULL);
        if (arr == NULL) {
            return NULL;
        }
        if (a->nbytes) {
            memcpy(PyArray_DATA(arr), a->data, a->nbytes);
        }
    }
    if (a->scalar) {
        /* h5py returns arr[()] for a scalar dataspace. */
        PyObject *v = PyArray_GETITEM(arr, PyArray_DATA(arr));
        if (v != NULL && a->kind == CW_ATTR_VALUE) {
            Py_DECREF(v);
            v = PyArray_ToScalar(PyArray_DATA(arr), arr);
        }
        Py_DECREF(arr);
        return v;
    }
    return (PyObject *)arr;
}

/* read_attrs(path, name) -> [(name, value or None, error or None, is_reference)] */
static PyObject *
py_read_attrs(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *name;
    if (!PyArg_ParseTuple(args, "O&s:read_attrs", PyUnicode_FSConverter, &pathobj,
                          &name)) {
        return NULL;
    }
    cw_attr_t *items = NULL;
    size_t n = 0;
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS rc = cw_attrs_read(path, name, &items, &n);
    Py_END_ALLOW_THREADS Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        const cw_attr_t *a = &items[i];
        PyObject *t;
        if (a->kind == CW_ATTR_UNSUPPORTED) {
            t = Py_BuildValue("(sOsO)", a->name, Py_None, a->desc,
                              a->reference ? Py_True : Py_False);
        }
        else {
            PyObject *v = attr_value(a);
            t = v ? Py_BuildValue("(sNOO)", a->name, v, Py_None,
                                  a->reference ? Py_True : Py_False)
                  : NULL;
        }
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    cw_attrs_free(items, n);
    return list;
}

/* list_group(path, name) -> [(member, kind)]: kind "dataset", "group", "other" */
static PyObject *
py_list_group(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *name;
    if (!PyArg_ParseTuple(args, "O&s:list_group", PyUnicode_FSConverter, &pathobj,
                          &name)) {
        return NULL;
    }
    cw_member_t *items = NULL;
    size_t n = 0;
    int rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS rc = cw_group_list(path, name, &items, &n);
    Py_END_ALLOW_THREADS Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    static const char *const kinds[] = {"dataset", "group", "other"};
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = Py_BuildValue("(ss)", items[i].name, kinds[items[i].kind]);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    cw_members_free(items);
    return list;
}

/* dim_scales(path, name) -> [(scale path, NAME) or None per axis] */
static PyObject *
py_dim_scales(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *name;
    if (!PyArg_ParseTuple(args, "O&s:dim_scales", PyUnicode_FSConverter, &pathobj,
                          &name)) {
        return NULL;
    }
    cw_dimscale_t *dims = PyMem_Calloc(CW_MAXDIM, sizeof(*dims));
    if (dims == NULL) {
        Py_DECREF(pathobj);
        return PyErr_NoMemory();
    }
    int nd = 0, rc;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS rc = cw_dims_read(path, name, dims, &nd);
    Py_END_ALLOW_THREADS Py_DECREF(pathobj);
    if (rc < 0) {
        PyMem_Free(dims);
        return cwpy_raise(module, rc);
    }
    PyObject *list = PyList_New(nd);
    for (int d = 0; list && d < nd; d++) {
        PyObject *t = dims[d].path[0]
                          ? Py_BuildValue("(ss)", dims[d].path, dims[d].name)
                          : Py_NewRef(Py_None);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, d, t);
    }
    PyMem_Free(dims);
    return list;
}

/* plugin_path_add(folder) -> bool: whether it was appended */
static PyObject *
py_plugin_path_add(PyObject *module, PyObject *args)
{
    PyObject *pathobj = NULL;
    if (!PyArg_ParseTuple(args, "O&:plugin_path_add", PyUnicode_FSConverter,
                          &pathobj)) {
        return NULL;
    }
    int added = 0;
    int rc = cw_plugin_path_add(PyBytes_AS_STRING(pathobj), &added);
    Py_DECREF(pathobj);
    if (rc < 0) {
        return cwpy_raise(module, rc);
    }
    return PyBool_FromLong(added);
}

/* plugin_paths() -> [folder]: HDF5's plugin search path, in order */
static PyObject *
py_plugin_paths(PyObject *module, PyObject *Py_UNUSED(args))
{
    size_t len = 1 << 16;
    char *buf = PyMem_Malloc(len);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    unsigned n = 0;
    int rc = cw_plugin_paths(buf, len, &n);
    if (rc < 0) {
        PyMem_Free(buf);
        return cwpy_raise(module, rc);
    }
    PyObject *list = PyList_New(n);
    const char *p = buf;
    for (unsigned i = 0; list && i < n; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(p);
        if (s == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, s);
        p += strlen(p) + 1;
    }
    PyMem_Free(buf);
    return list;
}

PyMethodDef cwpy_h5meta_functions[] = {
    {"plugin_path_add", py_plugin_path_add, METH_VARARGS,
     "plugin_path_add(folder) -> bool: appended to HDF5's plugin search path"},
    {"plugin_paths", py_plugin_paths, METH_NOARGS,
     "plugin_paths() -> [folder]: HDF5's plugin search path"},
    {"read_attrs", py_read_attrs, METH_VARARGS,
     "read_attrs(path, name) -> [(name, value, error, is_reference)]"},
    {"list_group", py_list_group, METH_VARARGS,
     "list_group(path, name) -> [(name, kind)]"},
    {"dim_scales", py_dim_scales, METH_VARARGS,
     "dim_scales(path, name) -> [(scale path, NAME) or None]"},
    {NULL, NULL, 0, NULL},
};
