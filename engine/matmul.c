/*
 * matmul.c -- the matrix product of two sources, as a source: stacks of
 * matrices (numpy.matmul's batches) included.
 *
 * The operands have one rank nd >= 2: A is (..., m, k), B is (..., k, n),
 * and each leading (batch) axis has one extent or extent 1 in either, which
 * broadcasts as in NumPy.  Reading a region of the product visits its batch
 * elements one after the other; for each, [i0, i1) x [j0, j1) accumulates,
 * block by block along the shared dimension, A[b, i0:i1, k0:k1] @
 * B[b, k0:k1, j0:j1] into an accumulator tile; A and B blocks come from
 * cw__read_region, so the operands can be stored datasets, views or
 * programs.  Per thread: one block of A, one of B and the accumulator.  The
 * float kernels are gemm.c's; the integer and bool ones run over a row of B
 * (i-k-j order), contiguous, so the compiler vectorises them.
 *
 * The partial products (cw_source_matmul_partials) are the same source
 * with one more, leading axis: element s covers the shared dimension's
 * slice s only, so a product of few tiles is computed by many tasks and
 * summed by a reduction.
 */
#include <string.h>

#include "engine_impl.h"

typedef struct mm {
    cw_source_t *a, *b; /* borrowed */
    int64_t tk;         /* block along the shared dimension */
    int64_t slice;      /* partial products: the shared dimension's slices; 0: none */
    cw_dtype_t acc;     /* accumulator dtype (float32 for float16) */
} mm_t;

/* C[m x n] += A[m x k] @ B[k x n], all C-contiguous. */
#define MM_KERNEL(NAME, T, MUL, ADD)                                                 \
    static void NAME(const void *va, const void *vb, void *vc, int64_t m, int64_t k, \
                     int64_t n)                                                      \
    {                                                                                \
        const T *A = va, *B = vb;                                                    \
        T *C = vc;                                                                   \
        for (int64_t i = 0; i < m; i++) {                                            \
            T *c = C + i * n;                                                        \
            for (int64_t p = 0; p < k; p++) {                                        \
                const T av = A[i * k + p];                                           \
                const T *b = B + p * n;                                              \
                for (int64_t j = 0; j < n; j++) {                                    \
                    c[j] = ADD(c[j], MUL(av, b[j]));                                 \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    }
#define F_MUL(x, y) ((x) * (y))
#define F_ADD(x, y) ((x) + (y))
/* Integers wrap, as NumPy's: unsigned arithmetic of at least 32 bits (the
 * narrower ones would be promoted to signed int, which may overflow). */
#define W_MUL(x, y) ((uint32_t)(x) * (uint32_t)(y))
#define W_ADD(x, y) ((uint32_t)(x) + (uint32_t)(y))
#define B_MUL(x, y) ((x) & (y))
#define B_ADD(x, y) ((x) | (y))
MM_KERNEL(mm_u8, uint8_t, W_MUL, W_ADD)
MM_KERNEL(mm_u16, uint16_t, W_MUL, W_ADD)
MM_KERNEL(mm_u32, uint32_t, F_MUL, F_ADD)
MM_KERNEL(mm_u64, uint64_t, F_MUL, F_ADD)
MM_KERNEL(mm_bool, uint8_t, B_MUL, B_ADD)

typedef void (*mm_fn)(const void *, const void *, void *, int64_t, int64_t, int64_t);

static void
mm_f64(const void *a, const void *b, void *c, int64_t m, int64_t k, int64_t n)
{
    cw__gemm_f64(a, b, c, m, k, n);
}

static void
mm_f32(const void *a, const void *b, void *c, int64_t m, int64_t k, int64_t n)
{
    cw__gemm_f32(a, b, c, m, k, n);
}

/* Signed integers are multiplied and added as unsigned of the same width
 * (two's complement: the same bits, no undefined overflow). */
static mm_fn
kernel_of(cw_dtype_t acc)
{
    switch (acc) {
        case CW_FLOAT64:
            return mm_f64;
        case CW_FLOAT32:
            return mm_f32;
        case CW_INT8:
        case CW_UINT8:
            return mm_u8;
        case CW_INT16:
        case CW_UINT16:
            return mm_u16;
        case CW_INT32:
        case CW_UINT32:
            return mm_u32;
        case CW_INT64:
        case CW_UINT64:
            return mm_u64;
        case CW_BOOL:
            return mm_bool;
        default:
            return NULL;
    }
}

/* Read rows r0 + i*rs (i < nr), columns c0 + j*cs (j < nc) of batch element
 * `batch` (nd - 2 coordinates) of a source into a C-ordered buffer, converted
 * to `to`. */
static int
read_block(cw_source_t *src, const int64_t *batch, int64_t r0, int64_t rs, int64_t nr,
           int64_t c0, int64_t cs, int64_t nc, cw_dtype_t to, void **buf, size_t *cap,
           void **tmp, size_t *tcap, cw__io_scratch_t *io)
{
    int rc;
    int nd = src->ndim;
    int64_t start[CW_MAXDIM], step[CW_MAXDIM], count[CW_MAXDIM], strides[CW_MAXDIM];
    size_t isz = src->itemsize, osz = cw_dtype_size(to);
    for (int d = 0; d < nd - 2; d++) {
        start[d] = batch[d];
        step[d] = 1;
        count[d] = 1;
        strides[d] = nr * nc * (int64_t)isz;
    }
    start[nd - 2] = r0;
    start[nd - 1] = c0;
    step[nd - 2] = rs;
    step[nd - 1] = cs;
    count[nd - 2] = nr;
    count[nd - 1] = nc;
    strides[nd - 2] = nc * (int64_t)isz;
    strides[nd - 1] = (int64_t)isz;
    if (src->dtype == to) {
        CW_TRY(cw__reserve(buf, cap, (size_t)(nr * nc) * osz));
        return cw__read_region(src, start, step, count, *buf, strides, io);
    }
    CW_TRY(cw__reserve(tmp, tcap, (size_t)(nr * nc) * isz));
    CW_TRY(cw__read_region(src, start, step, count, *tmp, strides, io));
    CW_TRY(cw__reserve(buf, cap, (size_t)(nr * nc) * osz));
    cw__cast(src->dtype, to, *tmp, (int64_t)isz, *buf, (int64_t)osz, nr * nc);
fail:
    return rc;
}

/* The product of one batch element over the shared dimension's [K0, K1):
 * rows off[0] + i*step[0] and columns off[1] + j*step[1] of it are the
 * product of those rows of A's and those columns of B's matrix (a_batch,
 * b_batch: their batch coordinates). */
static int
mm_one(const mm_t *m, const int64_t *a_batch, const int64_t *b_batch, int64_t K0,
       int64_t K1, const int64_t *off, const int64_t *step, const int64_t *count,
       cw_dtype_t out_dtype, char *dst, const int64_t *strides, cw__io_scratch_t *io)
{
    int rc;
    /* Called by storage (the region read) with the io scratch of a worker;
     * the product's blocks are vm scratch, by nesting depth. */
    cw__vm_scratch_t *vm = &cw__worker_of(io)->vm;
    int lvl = vm->depth;
    if (lvl >= CW__MAX_DEPTH) {
        return cw__error(CW_EINVAL, "products nested more than %d deep", CW__MAX_DEPTH);
    }
    int64_t M = count[0], N = count[1];
    size_t asz = cw_dtype_size(m->acc);
    void **acc = &vm->mm[lvl][2];
    CW_TRY(cw__reserve(acc, &vm->mm_cap[lvl][2], (size_t)(M * N) * asz + 1));
    memset(*acc, 0, (size_t)(M * N) * asz);
    mm_fn kern = kernel_of(m->acc);
    vm->depth = lvl + 1;
    for (int64_t k0 = K0; k0 < K1; k0 += m->tk) {
        int64_t nk = K1 - k0 < m->tk ? K1 - k0 : m->tk;
        /* Blocks needing a conversion are read through slot 3 first. */
        rc = read_block(m->a, a_batch, off[0], step[0], M, k0, 1, nk, m->acc,
                        &vm->mm[lvl][0], &vm->mm_cap[lvl][0], &vm->mm[lvl][3],
                        &vm->mm_cap[lvl][3], io);
        if (rc == CW_OK) {
            rc = read_block(m->b, b_batch, k0, 1, nk, off[1], step[1], N, m->acc,
                            &vm->mm[lvl][1], &vm->mm_cap[lvl][1], &vm->mm[lvl][3],
                            &vm->mm_cap[lvl][3], io);
        }
        if (rc < 0) {
            vm->depth = lvl;
            return rc;
        }
        kern(vm->mm[lvl][0], vm->mm[lvl][1], *acc, M, nk, N);
    }
    vm->depth = lvl;
    int64_t cs[2] = {N * (int64_t)asz, (int64_t)asz};
    if (m->acc == out_dtype) {
        cw__copy_strided(2, count, dst, strides, *acc, cs, asz);
    }
    else {
        /* float16: accumulated in float32, rounded once at the end. */
        for (int64_t i = 0; i < M; i++) {
            cw__cast(m->acc, out_dtype, (const char *)*acc + i * cs[0], cs[1],
                     dst + i * strides[0], strides[1], N);
        }
    }
    rc = CW_OK;
fail:
    return rc;
}

/* A region of the product over the shared dimension's [K0, K1): its batch
 * elements in C order, each one matrix region (mm_one). */
static int
mm_batches(const mm_t *m, int nb, int64_t K0, int64_t K1, cw_dtype_t dtype,
           const int64_t *off, const int64_t *step, const int64_t *count, char *dst,
           const int64_t *strides, cw__io_scratch_t *io)
{
    int rc = CW_OK;
    int64_t idx[CW_MAXDIM] = {0}, ab[CW_MAXDIM], bb[CW_MAXDIM];
    for (int d = 0; d < nb; d++) {
        if (count[d] == 0) {
            return CW_OK;
        }
    }
    for (;;) {
        char *at = dst;
        for (int d = 0; d < nb; d++) {
            int64_t c = off[d] + idx[d] * step[d];
            ab[d] = m->a->shape[d] == 1 ? 0 : c;
            bb[d] = m->b->shape[d] == 1 ? 0 : c;
            at += idx[d] * strides[d];
        }
        CW_TRY(mm_one(m, ab, bb, K0, K1, off + nb, step + nb, count + nb, dtype, at,
                      strides + nb, io));
        int d = nb - 1;
        while (d >= 0 && ++idx[d] == count[d]) {
            idx[d] = 0;
            d--;
        }
        if (d < 0) {
            break;
        }
    }
fail:
    return rc;
}

/* A region of the product, or of the partial products: along the leading
 * axis of those, slice s covers the shared dimension's [s*slice,
 * (s+1)*slice). */
static int
mm_read(cw_source_t *src, const int64_t *off, const int64_t *step, const int64_t *count,
        char *dst, const int64_t *strides, cw__io_scratch_t *io)
{
    mm_t *m = src->impl;
    int nd = m->a->ndim;
    int64_t K = m->a->shape[nd - 1];
    if (m->slice == 0) {
        return mm_batches(m, nd - 2, 0, K, src->dtype, off, step, count, dst, strides,
                          io);
    }
    for (int64_t i = 0; i < count[0]; i++) {
        int64_t k0 = (off[0] + i * step[0]) * m->slice;
        int64_t k1 = K - k0 < m->slice ? K : k0 + m->slice;
        int rc = mm_batches(m, nd - 2, k0, k1, src->dtype, off + 1, step + 1, count + 1,
                            dst + i * strides[0], strides + 1, io);
        if (rc < 0) {
            return rc;
        }
    }
    return CW_OK;
}

static int
mm_begin(cw_source_t *src)
{
    mm_t *m = src->impl;
    cw_source_t *ab[2] = {m->a, m->b};
    return cw__sources_begin(ab, 2);
}

static void
mm_end(cw_source_t *src)
{
    mm_t *m = src->impl;
    cw_source_t *ab[2] = {m->a, m->b};
    cw__sources_end(ab, 2);
}

static size_t
mm_scratch(const cw_source_t *src)
{
    const mm_t *m = src->impl;
    size_t asz = cw_dtype_size(m->acc);
    int nd = src->ndim;
    int64_t cr = src->chunks[nd - 2], cc = src->chunks[nd - 1];
    size_t blocks = (size_t)(cr * m->tk + m->tk * cc + cr * cc) * asz;
    size_t wa = cw__source_working_set(m->a), wb = cw__source_working_set(m->b);
    return blocks + (wa > wb ? wa : wb);
}

static void
mm_destroy(cw_source_t *src)
{
    cw__free(src->impl);
}

static const struct cw__source_ops mm_ops = {
    .kind = "matmul",
    .begin = mm_begin,
    .end = mm_end,
    .read_direct = mm_read,
    .scratch_bytes = mm_scratch,
    .destroy = mm_destroy,
};

static int
make(cw_source_t *a, cw_source_t *b, const int64_t *tile, int64_t slice,
     cw_source_t **out)
{
    int rc;
    *out = NULL;
    int nd = a->ndim;
    bool ok = nd >= 2 && b->ndim == nd && a->shape[nd - 1] == b->shape[nd - 2] &&
              a->dtype == b->dtype && (slice == 0 || nd < CW_MAXDIM);
    int64_t shape[CW_MAXDIM], chunks[CW_MAXDIM];
    int lead = slice > 0; /* the axis of partial products, first */
    for (int d = 0; ok && d < nd - 2; d++) {
        int64_t x = a->shape[d], y = b->shape[d];
        ok = x == y || x == 1 || y == 1;
        shape[lead + d] = x == 1 ? y : x;
        /* Batch axes are split as the operand that is not broadcast along
         * them is chunked. */
        chunks[lead + d] = x == 1 ? b->chunks[d] : a->chunks[d];
    }
    if (!ok) {
        return cw__error(CW_EINVAL,
                         "matmul needs (..., m, k) and (..., k, n) operands of "
                         "one rank and dtype, with broadcastable batch axes");
    }
    cw_dtype_t acc = a->dtype == CW_FLOAT16 ? CW_FLOAT32 : a->dtype;
    if (kernel_of(acc) == NULL) {
        return cw__error(CW_ETYPE, "matmul of %s", cw_dtype_name(a->dtype));
    }
    cw_source_t *src = cw__calloc(1, sizeof(*src));
    mm_t *m = cw__calloc(1, sizeof(*m));
    if (src == NULL || m == NULL) {
        cw__free(src);
        cw__free(m);
        return cw__error(CW_ENOMEM, "out of memory");
    }
    m->a = a;
    m->b = b;
    m->acc = acc;
    m->slice = slice;
    int64_t t0 = tile && tile[0] > 0 ? tile[0] : a->chunks[nd - 2];
    int64_t t1 = tile && tile[1] > 0 ? tile[1] : b->chunks[nd - 1];
    m->tk = tile && tile[2] > 0 ? tile[2] : a->chunks[nd - 1];
    if (slice > 0 && m->tk > slice) {
        m->tk = slice;
    }
    if (m->tk < 1) {
        m->tk = 1;
    }
    src->impl = m;
    int64_t K = a->shape[nd - 1];
    if (lead) {
        shape[0] = K == 0 ? 0 : (K - 1) / slice + 1;
        chunks[0] = 1;
    }
    shape[lead + nd - 2] = a->shape[nd - 2];
    shape[lead + nd - 1] = b->shape[nd - 1];
    chunks[lead + nd - 2] = t0;
    chunks[lead + nd - 1] = t1;
    rc = cw__source_init(src, &mm_ops, lead + nd, shape, a->dtype, chunks, 0);
    if (rc < 0) {
        cw_source_free(src);
        return rc;
    }
    *out = src;
    return CW_OK;
}

int
cw_source_matmul(cw_source_t *a, cw_source_t *b, const int64_t *tile, cw_source_t **out)
{
    return make(a, b, tile, 0, out);
}

int
cw_source_matmul_partials(cw_source_t *a, cw_source_t *b, const int64_t *tile,
                          int64_t slice, cw_source_t **out)
{
    if (slice < 1) {
        *out = NULL;
        return cw__error(CW_EINVAL, "matmul partials need a slice of at least 1");
    }
    return make(a, b, tile, slice, out);
}
