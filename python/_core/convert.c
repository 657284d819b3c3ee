/*
 * convert.c -- Python arguments to library values, written once: dtypes,
 * int64 sequences, selections, run configurations with the poll callback,
 * store options and the output-array checks.
 */
#include "cwpy.h"

PyObject *
cwpy_tuple_of(const int64_t *v, int n)
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
const int cwpy_dtype_to_npy[CW_NDTYPES] = {CW_DTYPE_MAP(NPY_OF)};
#undef NPY_OF

int
cwpy_npy_to_dtype(PyArray_Descr *d, cw_dtype_t *out)
{
    int num = d->type_num;
    for (int i = 0; i < CW_NDTYPES; i++) {
        if (PyArray_EquivTypenums(num, cwpy_dtype_to_npy[i])) {
            *out = (cw_dtype_t)i;
            return 0;
        }
    }
    return -1;
}

/* Convert a sequence of ints into v[0..n); returns n or -1. */
int
cwpy_int64_seq(PyObject *seq, int64_t *v, int maxn, const char *what)
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

int
cwpy_parse_dtype(PyObject *obj, cw_dtype_t *out)
{
    PyArray_Descr *d = NULL;
    if (!PyArray_DescrConverter(obj, &d)) {
        return -1;
    }
    int bad = !PyDataType_ISNOTSWAPPED(d) || cwpy_npy_to_dtype(d, out) < 0;
    if (bad) {
        PyErr_Format(PyExc_TypeError, "unsupported dtype %R", (PyObject *)d);
    }
    Py_DECREF(d);
    return bad ? -1 : 0;
}

/* Called on the submitting thread between tasks, without the GIL. */
int
cwpy_poll(void *data, int64_t done, int64_t total)
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

int
cwpy_fill_sel(cw_source_t *src, PyObject *start, PyObject *step, PyObject *count,
              cw_sel_t *sel)
{
    memset(sel, 0, sizeof(*sel));
    int a = cwpy_int64_seq(start, sel->start, CW_MAXDIM, "start");
    int b = a < 0 ? -1 : cwpy_int64_seq(step, sel->step, CW_MAXDIM, "step");
    int c = b < 0 ? -1 : cwpy_int64_seq(count, sel->count, CW_MAXDIM, "count");
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

int
cwpy_parse_config(PyObject *threads, PyObject *limit, PyObject *progress,
                  cw_config_t *cfg, poll_ctx *pc)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = (int)PyLong_AsLong(threads);
    cfg->memory_limit = PyLong_AsLongLong(limit);
    if (PyErr_Occurred()) {
        return -1;
    }
    pc->progress = progress;
    cfg->poll = cwpy_poll;
    cfg->poll_data = pc;
    return 0;
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
    else if (strcmp(codec, "zstd") == 0) {
        o->codec = CW_CODEC_ZSTD;
    }
    else if (strcmp(codec, "lz4") == 0) {
        o->codec = CW_CODEC_LZ4;
    }
    else if (strcmp(codec, "bzip2") == 0) {
        o->codec = CW_CODEC_BZIP2;
    }
    else if (strcmp(codec, "lzf") == 0) {
        o->codec = CW_CODEC_LZF;
    }
    else if (strcmp(codec, "bitshuffle") == 0) {
        o->codec = CW_CODEC_BITSHUFFLE;
    }
    else if (strcmp(codec, "bitshuffle-lz4") == 0) {
        o->codec = CW_CODEC_BITSHUFFLE_LZ4;
    }
    else if (strcmp(codec, "bitshuffle-zstd") == 0) {
        o->codec = CW_CODEC_BITSHUFFLE_ZSTD;
    }
    else if (strcmp(codec, "blosc2") == 0) {
        o->codec = CW_CODEC_BLOSC2;
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

int
cwpy_parse_store_opts(PyObject *chunks, const char *codec, const char *blosc_codec,
                      int level, int shuffle, int bitshuffle, int overwrite,
                      cw_store_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    if (chunks != Py_None &&
        cwpy_int64_seq(chunks, o->chunks, CW_MAXDIM, "chunks") < 0) {
        return -1;
    }
    return set_codec(codec, blosc_codec, level, shuffle, bitshuffle, overwrite, o);
}
