/*
 * copy_impl.h -- strided N-d copies and fills shared by sources and the
 * engine (engine/copy.c).
 */
#ifndef CW_BUILDING_LIBRARY
#error "copy_impl.h is internal to the chunkwise library"
#endif
#ifndef CW_COPY_IMPL_H
#define CW_COPY_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Copy count[0] x ... x count[ndim-1] elements of `itemsize` bytes; strides
 * in bytes, any sign.  Source and destination must not overlap. */
void cw__copy_strided(int ndim, const int64_t *count, char *dst,
                      const int64_t *dstrides, const char *src,
                      const int64_t *sstrides, size_t itemsize);

/* Set every element of a strided region to `value`. */
void cw__fill_strided(int ndim, const int64_t *count, char *dst,
                      const int64_t *strides, const void *value,
                      size_t itemsize);

/* True if a block of `count` with byte `strides` is one C-contiguous run. */
int cw__is_contiguous(int ndim, const int64_t *count, const int64_t *strides,
                      size_t itemsize);

#endif
