/*
 * program.c -- building a program: the values of an elementwise program
 * (inputs, scalars, casts and loops) in dependency order, then finishing
 * it with its result and its tile shape.
 *
 * A program is built on one thread and is immutable once finished; runs
 * only read it, so any number of them may use it at once.  No locks.
 */
#include <stdio.h>
#include <string.h>

#include "program_impl.h"

int
cw_expr_new(int ndim, const int64_t *shape, cw_expr_t **out)
{
    *out = NULL;
    if (ndim < 0 || ndim > CW_MAXDIM) {
        return cw__error(CW_EINVAL, "rank %d is outside 0..%d", ndim, CW_MAXDIM);
    }
    cw_expr_t *e = cw__calloc(1, sizeof(*e));
    if (e == NULL) {
        return cw__error(CW_ENOMEM, "out of memory");
    }
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            cw__free(e);
            return cw__error(CW_EINVAL, "negative extent");
        }
        e->shape[d] = shape[d];
    }
    e->result = -1;
    *out = e;
    return CW_OK;
}

void
cw_expr_free(cw_expr_t *e)
{
    cw__free(e);
}

static cw__value_t *
new_value(cw_expr_t *e, cw__vkind_t kind, cw_dtype_t dtype, int *id)
{
    if (e->finished || e->n >= CW__MAX_VALUES || (unsigned)dtype >= CW_NDTYPES) {
        cw__error(CW_EINVAL, e->n >= CW__MAX_VALUES ? "expression has too many values"
                                                    : "invalid expression value");
        return NULL;
    }
    cw__value_t *v = &e->v[e->n];
    memset(v, 0, sizeof(*v));
    v->kind = kind;
    v->dtype = dtype;
    v->itemsize = cw_dtype_size(dtype);
    v->reg = -1;
    *id = e->n++;
    return v;
}

int
cw_expr_input(cw_expr_t *e, cw_source_t *src, const cw_sel_t *sel, const int *axis,
              int *id)
{
    int rc = cw__sel_check(src, sel);
    if (rc < 0) {
        return rc;
    }
    bool used[CW_MAXDIM] = {false};
    for (int d = 0; d < sel->ndim; d++) {
        int k = axis[d];
        if (k < -1 || k >= e->ndim || (k >= 0 && used[k]) ||
            (k < 0 && sel->count[d] != 1) ||
            (k >= 0 && sel->count[d] != e->shape[k] && sel->count[d] != 1)) {
            return cw__error(CW_EINVAL, "input %d does not broadcast to the output",
                             e->ninputs);
        }
        if (k >= 0) {
            used[k] = true;
        }
    }
    cw__value_t *v = new_value(e, CW__V_INPUT, src->dtype, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->src = src;
    v->sel = *sel;
    for (int d = 0; d < sel->ndim; d++) {
        v->axis[d] = axis[d];
        v->bcast[d] = axis[d] >= 0 && sel->count[d] == 1 && e->shape[axis[d]] != 1;
    }
    v->slot = e->ninputs;
    e->srcs[e->ninputs++] = src;
    return CW_OK;
}

int
cw_expr_scalar(cw_expr_t *e, cw_dtype_t dtype, const void *value, int *id)
{
    cw__value_t *v = new_value(e, CW__V_SCALAR, dtype, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    memcpy(v->scalar, value, v->itemsize);
    return CW_OK;
}

int
cw__expr_check_ref(const cw_expr_t *e, int in)
{
    if (in < 0 || in >= e->n) {
        return cw__error(CW_EINVAL, "reference to an unknown value %d", in);
    }
    return CW_OK;
}

int
cw_expr_cast(cw_expr_t *e, int in, cw_dtype_t to, int *id)
{
    if (cw__expr_check_ref(e, in) < 0) {
        return CW_EINVAL;
    }
    cw__value_t *v = new_value(e, CW__V_CAST, to, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->nin = 1;
    v->in[0] = in;
    snprintf(v->name, sizeof(v->name), "astype");
    v->reg = e->nregs++;
    return CW_OK;
}

int
cw_expr_loop(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data, unsigned flags,
             int nin, const int *ins, cw_dtype_t out, int *id)
{
    if (fn == NULL || nin < 1 || nin > 3) {
        return cw__error(CW_EINVAL, "a loop takes 1 to 3 inputs");
    }
    if (flags & CW_LOOP_NEEDS_GIL) {
        return cw__error(CW_ETYPE, "the loop of %s needs the Python API",
                         name ? name : "a loop");
    }
    for (int i = 0; i < nin; i++) {
        if (cw__expr_check_ref(e, ins[i]) < 0) {
            return CW_EINVAL;
        }
    }
    cw__value_t *v = new_value(e, CW__V_LOOP, out, id);
    if (v == NULL) {
        return CW_EINVAL;
    }
    v->nin = nin;
    memcpy(v->in, ins, (size_t)nin * sizeof(*ins));
    v->fn = fn;
    v->data = data;
    snprintf(v->name, sizeof(v->name), "%s", name ? name : "loop");
    v->reg = e->nregs++;
    return CW_OK;
}

cw_dtype_t
cw_expr_dtype(const cw_expr_t *e, int id)
{
    return id >= 0 && id < e->n ? e->v[id].dtype : CW_NDTYPES;
}

int
cw_expr_tile(const cw_expr_t *e, int64_t *tile)
{
    if (e->result < 0) {
        return cw__error(CW_EINVAL, "the program is not finished");
    }
    memcpy(tile, e->tile, sizeof(int64_t) * (size_t)e->ndim);
    return e->ndim;
}

int
cw_expr_finish(cw_expr_t *e, int result, const int64_t *tile)
{
    if (cw__expr_check_ref(e, result) < 0) {
        return CW_EINVAL;
    }
    e->result = result;
    /* Default tiles: the chunks of the first input that is chunked along
     * the output's axes, seen through its steps. */
    const cw__value_t *first = NULL;
    for (int i = 0; i < e->n && first == NULL; i++) {
        if (e->v[i].kind == CW__V_INPUT) {
            first = &e->v[i];
        }
    }
    for (int k = 0; k < e->ndim; k++) {
        int64_t t = tile ? tile[k] : 0;
        if (t <= 0 && first != NULL) {
            for (int d = 0; d < first->sel.ndim; d++) {
                if (first->axis[d] == k && !first->bcast[d]) {
                    int64_t st = first->sel.step[d] < 0 ? -first->sel.step[d]
                                                        : first->sel.step[d];
                    t = (first->src->chunks[d] + st - 1) / st;
                }
            }
        }
        if (t <= 0) {
            t = e->shape[k];
        }
        e->tile[k] = t < 1 ? 1 : t > e->shape[k] && e->shape[k] > 0 ? e->shape[k] : t;
    }
    /* Keep tiles from being huge when nothing is chunked: about 4 MiB. */
    if (first == NULL) {
        cw__default_chunks(e->ndim, e->shape, e->v[result].itemsize, 4 << 20, e->tile);
    }
    e->finished = true;
    return CW_OK;
}

int
cw__expr_check_finished(const cw_expr_t *e)
{
    if (!e->finished) {
        return cw__error(CW_EINVAL, "expression not finished (cw_expr_finish)");
    }
    return CW_OK;
}
