/*
 * cast.c -- strided conversions between the engine's dtypes, as NumPy's
 * astype(casting="unsafe") converts: C conversions, != 0 for bool, and
 * IEEE binary16 through the compiler's _Float16.
 */
#include "core_impl.h"

#define CW_TYPES(X)                                                        \
    X(CW_BOOL, _Bool) X(CW_INT8, int8_t) X(CW_INT16, int16_t)              \
    X(CW_INT32, int32_t) X(CW_INT64, int64_t) X(CW_UINT8, uint8_t)         \
    X(CW_UINT16, uint16_t) X(CW_UINT32, uint32_t) X(CW_UINT64, uint64_t)   \
    X(CW_FLOAT16, _Float16) X(CW_FLOAT32, float) X(CW_FLOAT64, double)

/* The same list again: a macro cannot expand inside its own expansion, and
 * the inner switch needs the list while the outer one is expanding. */
#define CW_TYPES2(X)                                                       \
    X(CW_BOOL, _Bool) X(CW_INT8, int8_t) X(CW_INT16, int16_t)              \
    X(CW_INT32, int32_t) X(CW_INT64, int64_t) X(CW_UINT8, uint8_t)         \
    X(CW_UINT16, uint16_t) X(CW_UINT32, uint32_t) X(CW_UINT64, uint64_t)   \
    X(CW_FLOAT16, _Float16) X(CW_FLOAT32, float) X(CW_FLOAT64, double)

/* One loop per (from, to) pair.  Conversions of out-of-range floats to
 * integers are whatever the hardware gives, as in NumPy. */
#define CAST_LOOP(FROM, TO)                                                \
    for (int64_t i = 0; i < n; i++) {                                      \
        FROM v = *(const FROM *)(src + i * sstep);                         \
        *(TO *)(dst + i * dstep) = (TO)v;                                  \
    }

#define TO_CASE(TCODE, TO)                                                 \
    case TCODE:                                                            \
        CAST_LOOP(FROM_T, TO);                                             \
        return;

#define FROM_CASE(FCODE, FROM)                                             \
    case FCODE: {                                                          \
        typedef FROM FROM_T;                                               \
        switch (to) { CW_TYPES2(TO_CASE) default: return; }                \
    }

void
cw__cast(cw_dtype_t from, cw_dtype_t to, const char *src, int64_t sstep,
         char *dst, int64_t dstep, int64_t n)
{
    switch (from) {
        CW_TYPES(FROM_CASE)
    default:
        return;
    }
}
