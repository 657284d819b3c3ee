/*
 * loops.c -- the loops the engine brings itself, of NumPy's inner-loop
 * shape: where(c, a, b) for each element size (1 to 16 bytes), integer
 * power for each integer type, the parts of complex values, and the entries that add
 * them to a program (cw_expr_select, cw_expr_builtin).
 *
 * Loops are pure functions of their arguments; they run on worker threads
 * and report conditions with cw__loop_flag.  No locks.
 */
#include <string.h>

#include "program_impl.h"

/* where(c, a, b) for each element size: plain loops of NumPy's shape. */
#define SELECT_LOOP(NAME, T)                                                 \
    static void NAME(char **args, const intptr_t *n, const intptr_t *steps,  \
                     void *data)                                             \
    {                                                                        \
        (void)data;                                                          \
        const char *c = args[0], *a = args[1], *b = args[2];                 \
        char *o = args[3];                                                   \
        for (intptr_t i = 0; i < *n; i++) {                                  \
            *(T *)(o + i * steps[3]) = *(const uint8_t *)(c + i * steps[0])  \
                                           ? *(const T *)(a + i * steps[1])  \
                                           : *(const T *)(b + i * steps[2]); \
        }                                                                    \
    }
SELECT_LOOP(select1, uint8_t)
SELECT_LOOP(select2, uint16_t)
SELECT_LOOP(select4, uint32_t)
SELECT_LOOP(select8, uint64_t)
typedef struct {
    uint64_t part[2];
} u128_t;
SELECT_LOOP(select16, u128_t)

/* NumPy's integer power, wrapping in the type; a negative exponent of a
 * signed type is flagged for the caller (NumPy raises ValueError). */
#define NEG_SIGNED(b) ((b) < 0)
#define NEG_UNSIGNED(b) ((void)(b), 0)
#define IPOW_LOOP(NAME, T, IS_NEG)                                          \
    static void NAME(char **args, const intptr_t *n, const intptr_t *steps, \
                     void *data)                                            \
    {                                                                       \
        (void)data;                                                         \
        for (intptr_t i = 0; i < *n; i++) {                                 \
            T a = *(const T *)(args[0] + i * steps[0]);                     \
            T b = *(const T *)(args[1] + i * steps[1]);                     \
            uint64_t r = 1;                                                 \
            if (IS_NEG(b)) {                                                \
                cw__loop_flag(CW_FP_NEGPOW);                                \
                r = 0;                                                      \
            }                                                               \
            else {                                                          \
                uint64_t ua = (uint64_t)a, ub = (uint64_t)b;                \
                while (ub) {                                                \
                    if (ub & 1) {                                           \
                        r *= ua;                                            \
                    }                                                       \
                    ua *= ua;                                               \
                    ub >>= 1;                                               \
                }                                                           \
            }                                                               \
            *(T *)(args[2] + i * steps[2]) = (T)r;                          \
        }                                                                   \
    }
IPOW_LOOP(ipow_i8, int8_t, NEG_SIGNED)
IPOW_LOOP(ipow_i16, int16_t, NEG_SIGNED)
IPOW_LOOP(ipow_i32, int32_t, NEG_SIGNED)
IPOW_LOOP(ipow_i64, int64_t, NEG_SIGNED)
IPOW_LOOP(ipow_u8, uint8_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u16, uint16_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u32, uint32_t, NEG_UNSIGNED)
IPOW_LOOP(ipow_u64, uint64_t, NEG_UNSIGNED)

/* The real or imaginary part (K = 0 or 1) of complex values. */
#define PART_LOOP(NAME, T, K)                                               \
    static void NAME(char **args, const intptr_t *n, const intptr_t *steps, \
                     void *data)                                            \
    {                                                                       \
        (void)data;                                                         \
        for (intptr_t i = 0; i < *n; i++) {                                 \
            T v[2];                                                         \
            memcpy(v, args[0] + i * steps[0], sizeof(v));                   \
            *(T *)(args[1] + i * steps[1]) = v[K];                          \
        }                                                                   \
    }
PART_LOOP(real_c64, float, 0)
PART_LOOP(imag_c64, float, 1)
PART_LOOP(real_c128, double, 0)
PART_LOOP(imag_c128, double, 1)

/* "real" / "imag" of a complex value: the part, of the part's dtype. */
static int
part_builtin(cw_expr_t *e, const char *name, int nin, const int *ins, cw_dtype_t dtype,
             int *id)
{
    bool imag = strcmp(name, "imag") == 0;
    if (nin != 1 || cw__expr_check_ref(e, ins[0]) < 0) {
        return cw__error(CW_EINVAL, "%s takes one value", name);
    }
    cw_dtype_t in = e->v[ins[0]].dtype;
    cw_loop_fn fn = NULL;
    if (in == CW_COMPLEX64 && dtype == CW_FLOAT32) {
        fn = imag ? imag_c64 : real_c64;
    }
    else if (in == CW_COMPLEX128 && dtype == CW_FLOAT64) {
        fn = imag ? imag_c128 : real_c128;
    }
    if (fn == NULL) {
        return cw__error(CW_EINVAL, "no built-in loop %s from %s to %s", name,
                         cw_dtype_name(in), cw_dtype_name(dtype));
    }
    return cw_expr_loop(e, name, fn, NULL, CW_LOOP_NO_FPE, 1, ins, dtype, id);
}

int
cw_expr_builtin(cw_expr_t *e, const char *name, int nin, const int *ins,
                cw_dtype_t dtype, int *id)
{
    static const cw_loop_fn ipow[CW_NDTYPES] = {
        [CW_INT8] = ipow_i8,    [CW_INT16] = ipow_i16, [CW_INT32] = ipow_i32,
        [CW_INT64] = ipow_i64,  [CW_UINT8] = ipow_u8,  [CW_UINT16] = ipow_u16,
        [CW_UINT32] = ipow_u32, [CW_UINT64] = ipow_u64};
    if (strcmp(name, "power") == 0 && nin == 2 && (unsigned)dtype < CW_NDTYPES &&
        ipow[dtype] != NULL) {
        return cw_expr_loop(e, "power", ipow[dtype], NULL, CW_LOOP_NO_FPE, 2, ins,
                            dtype, id);
    }
    if (strcmp(name, "real") == 0 || strcmp(name, "imag") == 0) {
        return part_builtin(e, name, nin, ins, dtype, id);
    }
    return cw__error(CW_EINVAL, "no built-in loop %s for %s", name,
                     cw_dtype_name(dtype));
}

int
cw_expr_select(cw_expr_t *e, int cond, int a, int b, int *id)
{
    if (cw__expr_check_ref(e, cond) < 0 || cw__expr_check_ref(e, a) < 0 ||
        cw__expr_check_ref(e, b) < 0) {
        return CW_EINVAL;
    }
    if (e->v[cond].dtype != CW_BOOL || e->v[a].dtype != e->v[b].dtype) {
        return cw__error(CW_EINVAL,
                         "where needs a bool condition and two values "
                         "of one dtype");
    }
    size_t sz = e->v[a].itemsize;
    cw_loop_fn fn = sz == 1   ? select1
                    : sz == 2 ? select2
                    : sz == 4 ? select4
                    : sz == 8 ? select8
                              : select16;
    int ins[3] = {cond, a, b};
    return cw_expr_loop(e, "where", fn, NULL, CW_LOOP_NO_FPE, 3, ins, e->v[a].dtype,
                        id);
}
