/*
 * matmul.c -- the matrix product of two 2-d sources, as a source.
 *
 * Reading a region [i0, i1) x [j0, j1) of the product accumulates, block by
 * block along the shared dimension, A[i0:i1, k0:k1] @ B[k0:k1, j0:j1] into
 * an accumulator tile; A and B blocks come from cw__read_region, so the
 * operands can be stored datasets, views or programs.  Per thread: one
 * block of A, one of B and the accumulator.  The inner loop runs over a row
 * of B (i-k-j order), contiguous, so the compiler vectorises it.
 */
#include <string.h>

#include "engine_impl.h"

typedef struct mm {
    cw_source_t *a, *b; /* borrowed */
    int64_t tk;         /* block along the shared dimension */
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
MM_KERNEL(mm_f64, double, F_MUL, F_ADD)
MM_KERNEL(mm_f32, float, F_MUL, F_ADD)
MM_KERNEL(mm_u8, uint8_t, W_MUL, W_ADD)
MM_KERNEL(mm_u16, uint16_t, W_MUL, W_ADD)
MM_KERNEL(mm_u32, uint32_t, F_MUL, F_ADD)
MM_KERNEL(mm_u64, uint64_t, F_MUL, F_ADD)
MM_KERNEL(mm_bool, uint8_t, B_MUL, B_ADD)

typedef void (*mm_fn)(const void *, const void *, void *, int64_t, int64_t, int64_t);

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

/* Read rows r0 + i*rs (i < nr), columns c0 + j*cs (j < nc) of a 2-d source
 * into a C-ordered buffer, converted to `to`. */
static int
read_block(cw_source_t *src, int64_t r0, int64_t rs, int64_t nr, int64_t c0, int64_t cs,
           int64_t nc, cw_dtype_t to, void **buf, size_t *cap, void **tmp, size_t *tcap,
           cw__io_scratch_t *io)
{
    int rc;
    int64_t start[2] = {r0, c0}, step[2] = {rs, cs}, count[2] = {nr, nc};
    size_t isz = src->itemsize, osz = cw_dtype_size(to);
    int64_t strides[2] = {nc * (int64_t)isz, (int64_t)isz};
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

/* Rows start[0] + i*step[0] and columns start[1] + j*step[1] of the
 * product: the product of those rows of A and those columns of B. */
static int
mm_read(cw_source_t *src, const int64_t *off, const int64_t *step, const int64_t *count,
        char *dst, const int64_t *strides, cw__io_scratch_t *io)
{
    mm_t *m = src->impl;
    int rc;
    /* Called by storage (the region read) with the io scratch of a worker;
     * the product's blocks are vm scratch, by nesting depth. */
    cw__vm_scratch_t *vm = &cw__worker_of(io)->vm;
    int lvl = vm->depth;
    if (lvl >= CW__MAX_DEPTH) {
        return cw__error(CW_EINVAL, "products nested more than 4 deep");
    }
    int64_t K = m->a->shape[1], M = count[0], N = count[1];
    size_t asz = cw_dtype_size(m->acc);
    void **acc = &vm->mm[lvl][2];
    CW_TRY(cw__reserve(acc, &vm->mm_cap[lvl][2], (size_t)(M * N) * asz + 1));
    memset(*acc, 0, (size_t)(M * N) * asz);
    mm_fn kern = kernel_of(m->acc);
    vm->depth = lvl + 1;
    for (int64_t k0 = 0; k0 < K; k0 += m->tk) {
        int64_t nk = K - k0 < m->tk ? K - k0 : m->tk;
        /* Blocks needing a conversion are read through slot 3 first. */
        rc = read_block(m->a, off[0], step[0], M, k0, 1, nk, m->acc, &vm->mm[lvl][0],
                        &vm->mm_cap[lvl][0], &vm->mm[lvl][3], &vm->mm_cap[lvl][3], io);
        if (rc == CW_OK) {
            rc = read_block(m->b, k0, 1, nk, off[1], step[1], N, m->acc,
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
    if (m->acc == src->dtype) {
        cw__copy_strided(2, count, dst, strides, *acc, cs, asz);
    }
    else {
        /* float16: accumulated in float32, rounded once at the end. */
        for (int64_t i = 0; i < M; i++) {
            cw__cast(m->acc, src->dtype, (const char *)*acc + i * cs[0], cs[1],
                     dst + i * strides[0], strides[1], N);
        }
    }
    rc = CW_OK;
fail:
    return rc;
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
    size_t blocks = (size_t)(src->chunks[0] * m->tk + m->tk * src->chunks[1] +
                             src->chunks[0] * src->chunks[1]) *
                    asz;
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

int
cw_source_matmul(cw_source_t *a, cw_source_t *b, const int64_t *tile, cw_source_t **out)
{
    int rc;
    *out = NULL;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0] ||
        a->dtype != b->dtype) {
        return cw__error(CW_EINVAL,
                         "matmul needs (m, k) and (k, n) operands of "
                         "one dtype");
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
    int64_t t0 = tile && tile[0] > 0 ? tile[0] : a->chunks[0];
    int64_t t1 = tile && tile[1] > 0 ? tile[1] : b->chunks[1];
    m->tk = tile && tile[2] > 0 ? tile[2] : a->chunks[1];
    if (m->tk < 1) {
        m->tk = 1;
    }
    src->impl = m;
    int64_t shape[2] = {a->shape[0], b->shape[1]}, chunks[2] = {t0, t1};
    rc = cw__source_init(src, &mm_ops, 2, shape, a->dtype, chunks, 0);
    if (rc < 0) {
        cw_source_free(src);
        return rc;
    }
    *out = src;
    return CW_OK;
}
