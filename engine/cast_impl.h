/* cast_impl.h -- dtype conversions (engine/cast.c). */
#ifndef CW_BUILDING_LIBRARY
#error "cast_impl.h is internal to the chunkwise library"
#endif
#ifndef CW_CAST_IMPL_H
#define CW_CAST_IMPL_H

#include <stdint.h>

#include "chunkwise.h"

/* Convert n strided elements; steps in bytes (a source step may be 0). */
void cw__cast(cw_dtype_t from, cw_dtype_t to, const char *src, int64_t sstep,
              char *dst, int64_t dstep, int64_t n);

#endif
