/*
 * cast.c -- strided conversions between the engine's dtypes, as NumPy's
 * astype(casting="unsafe") converts: C conversions, != 0 for bool, and
 * IEEE binary16 through the compiler's _Float16.
 */
#include "core_impl.h"

/* cw__cast is a switch over `from` whose cases are switches over `to`, so
 * CW_DTYPE_MAP is expanded inside its own expansion, which the
 * preprocessor does not do (a macro is not expanded within itself).  The
 * inner use is therefore deferred (DTYPES_LATER leaves `DTYPES_AGAIN ()`
 * behind) and expanded by one more scan (RESCAN), after the outer table
 * has been expanded. */
#define NOTHING
#define DTYPES_AGAIN() CW_DTYPE_MAP
#define DTYPES_LATER DTYPES_AGAIN NOTHING()
#define RESCAN(...) __VA_ARGS__

/* One loop per (from, to) pair.  Conversions of out-of-range floats to
 * integers are whatever the hardware gives, as in NumPy. */
#define CAST_LOOP(FROM, TO)                        \
    for (int64_t i = 0; i < n; i++) {              \
        FROM v = *(const FROM *)(src + i * sstep); \
        *(TO *)(dst + i * dstep) = (TO)v;          \
    }

#define TO_CASE(NAME, STR, SIZE)            \
    case CW_##NAME:                         \
        CAST_LOOP(FROM_T, CW__CTYPE(NAME)); \
        return;

#define FROM_CASE(NAME, STR, SIZE)                  \
    case CW_##NAME: {                               \
        typedef CW__CTYPE(NAME) FROM_T;             \
        switch (to) {                               \
            DTYPES_LATER(TO_CASE) default : return; \
        }                                           \
    }

void
cw__cast(cw_dtype_t from, cw_dtype_t to, const char *src, int64_t sstep, char *dst,
         int64_t dstep, int64_t n)
{
    switch (from) {
        RESCAN(CW_DTYPE_MAP(FROM_CASE))
        default:
            return;
    }
}
