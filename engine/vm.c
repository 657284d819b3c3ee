/*
 * vm.c -- the fused kernel VM: one region of a program whose operands are
 * in memory.  The region is walked with the operands' strides merged
 * where they are contiguous together, and the innermost run is cut into
 * blocks of CW_BLOCK elements; for each block every instruction runs once
 * (NumPy's own ufunc inner loops, handed in as plain function pointers,
 * or casts), temporaries live in per-thread registers of one block each
 * (in cache), and the last instruction writes straight into the
 * destination where it is contiguous.
 *
 * No temporary is ever the size of the array: per thread, memory is the
 * input tiles plus one block per instruction.  Runs on worker threads, on
 * the thread's own buffers.  No locks.
 */
#include <string.h>

#include "program_impl.h"

/* Run the program over a region of `count`, inputs at inbase with byte
 * strides opstride per output axis (0: broadcast), results to dsts. */
void
cw__run_kernel(const cw_expr_t *e, const cw__layout_t *lay, const int64_t *count,
               int nout, const int *outs, char *const *dsts, const int64_t *const *dstr,
               const char *const *inbase, int64_t (*opstride)[CW_MAXDIM], char *base)
{
    int nd = e->ndim;
    /* 2. Merge axes that are contiguous for every input and the output;
     * axes of extent 1 drop out.  What remains is walked with an odometer,
     * the last axis in blocks. */
    int64_t n[CW_MAXDIM + 1], ds[CW__MAX_OUTS][CW_MAXDIM + 1];
    int64_t ist[CW__MAX_VALUES][CW_MAXDIM + 1];
    int m = 0;
    for (int k = 0; k < nd; k++) {
        if (count[k] == 1) {
            continue;
        }
        bool merge = m > 0;
        for (int o = 0; merge && o < nout; o++) {
            merge = ds[o][m - 1] == dstr[o][k] * count[k];
        }
        for (int i = 0; merge && i < e->n; i++) {
            if (e->v[i].kind == CW__V_INPUT) {
                merge = ist[i][m - 1] == opstride[i][k] * count[k];
            }
        }
        if (merge) {
            n[m - 1] *= count[k];
            for (int o = 0; o < nout; o++) {
                ds[o][m - 1] = dstr[o][k];
            }
            for (int i = 0; i < e->n; i++) {
                if (e->v[i].kind == CW__V_INPUT) {
                    ist[i][m - 1] = opstride[i][k];
                }
            }
            continue;
        }
        n[m] = count[k];
        for (int o = 0; o < nout; o++) {
            ds[o][m] = dstr[o][k];
        }
        for (int i = 0; i < e->n; i++) {
            ist[i][m] = e->v[i].kind == CW__V_INPUT ? opstride[i][k] : 0;
        }
        m++;
    }
    if (m == 0) {
        n[0] = 1;
        for (int o = 0; o < nout; o++) {
            ds[o][0] = 0;
        }
        for (int i = 0; i < e->n; i++) {
            ist[i][0] = 0;
        }
        m = 1;
    }

    int64_t idx[CW_MAXDIM + 1];
    memset(idx, 0, sizeof(idx));
    char *ptr[CW__MAX_VALUES];
    int64_t step[CW__MAX_VALUES];
    /* The output a computed value writes straight into (-1: a register);
     * an output whose value is an input, a scalar or another output's is
     * copied after each block. */
    int home[CW__MAX_VALUES];
    bool copy[CW__MAX_OUTS];
    for (int i = 0; i < e->n; i++) {
        home[i] = -1;
    }
    for (int o = 0; o < nout; o++) {
        const cw__value_t *v = &e->v[outs[o]];
        /* Loops write straight into a destination only where it is
         * contiguous: NumPy's SIMD loops mishandle some strided outputs
         * (isnan into a strided bool array, NumPy 2.4 with AVX-512). */
        copy[o] = v->kind == CW__V_INPUT || v->kind == CW__V_SCALAR ||
                  home[outs[o]] >= 0 || ds[o][m - 1] != (int64_t)v->itemsize;
        if (!copy[o]) {
            home[outs[o]] = o;
        }
    }
    for (;;) {
        /* Offsets of this row for the inputs and the destinations. */
        int64_t doff[CW__MAX_OUTS] = {0};
        int64_t ioff[CW__MAX_VALUES];
        for (int i = 0; i < e->n; i++) {
            ioff[i] = 0;
        }
        for (int a = 0; a < m - 1; a++) {
            for (int o = 0; o < nout; o++) {
                doff[o] += idx[a] * ds[o][a];
            }
            for (int i = 0; i < e->n; i++) {
                ioff[i] += idx[a] * ist[i][a];
            }
        }
        int64_t len = n[m - 1];
        for (int64_t j0 = 0; j0 < len; j0 += CW_BLOCK) {
            intptr_t b = (intptr_t)(len - j0 < CW_BLOCK ? len - j0 : CW_BLOCK);
            char *out[CW__MAX_OUTS];
            for (int o = 0; o < nout; o++) {
                out[o] = dsts[o] + doff[o] + j0 * ds[o][m - 1];
            }
            for (int i = 0; i < e->n; i++) {
                const cw__value_t *v = &e->v[i];
                switch (v->kind) {
                    case CW__V_INPUT:
                        step[i] = ist[i][m - 1];
                        ptr[i] = (char *)inbase[i] + ioff[i] + j0 * step[i];
                        break;
                    case CW__V_SCALAR:
                        step[i] = 0;
                        ptr[i] = (char *)v->scalar;
                        break;
                    default: {
                        int o = home[i];
                        ptr[i] = o >= 0 ? out[o] : base + lay->reg_off[i];
                        step[i] = o >= 0 ? ds[o][m - 1] : (int64_t)v->itemsize;
                        if (v->kind == CW__V_CAST) {
                            cw__cast(e->v[v->in[0]].dtype, v->dtype, ptr[v->in[0]],
                                     step[v->in[0]], ptr[i], step[i], b);
                        }
                        else {
                            char *args[4];
                            intptr_t steps[4];
                            for (int a = 0; a < v->nin; a++) {
                                args[a] = ptr[v->in[a]];
                                steps[a] = (intptr_t)step[v->in[a]];
                            }
                            args[v->nin] = ptr[i];
                            steps[v->nin] = (intptr_t)step[i];
                            v->fn(args, &b, steps, v->data);
                        }
                        break;
                    }
                }
            }
            for (int o = 0; o < nout; o++) {
                if (copy[o]) {
                    int64_t cnt1[1] = {b}, dst1[1] = {ds[o][m - 1]},
                            src1[1] = {step[outs[o]]};
                    cw__copy_strided(1, cnt1, out[o], dst1, ptr[outs[o]], src1,
                                     e->v[outs[o]].itemsize);
                }
            }
        }
        if (!cw__next_index(idx, n, m - 2, -1, -1)) {
            break;
        }
    }
}

/* Whether the program's only output is one of its inputs, unbroadcast, so
 * a region of it is that input's region. */
bool
cw__is_plain(const cw_expr_t *e, int nout, const int *outs, const int64_t *count)
{
    const cw__value_t *only = &e->v[outs[0]];
    if (nout != 1 || only->kind != CW__V_INPUT) {
        return false;
    }
    bool mapped[CW_MAXDIM] = {false};
    for (int d = 0; d < only->sel.ndim; d++) {
        if (only->bcast[d]) {
            return false;
        }
        if (only->axis[d] >= 0) {
            mapped[only->axis[d]] = true;
        }
    }
    /* Output axes no input dimension maps to are broadcast: only when they
     * have extent 1 is this a plain read. */
    for (int k = 0; k < e->ndim; k++) {
        if (!mapped[k] && count[k] != 1) {
            return false;
        }
    }
    return true;
}
