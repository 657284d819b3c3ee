/*
 * shuffle_impl.h -- the ISA variants of the byte-plane transposes
 * (codec/shuffle_sse2.c, codec/shuffle_avx2.c), chosen by codec/shuffle.c.
 * Each moves whole groups of 16 (SSE2) or 32 (AVX2) elements of ts bytes
 * (2, 4, 8 or 16) between byte planes `stride` bytes apart and interleaved
 * elements, and returns the elements it moved.
 */
#ifndef CW_BUILDING_STORAGE
#error "shuffle_impl.h is internal to the storage layer"
#endif
#ifndef CW_SHUFFLE_IMPL_H
#define CW_SHUFFLE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "storage_impl.h"

#if defined(__SSE2__)
/* Elements [e0, e0 + 16*n16) from the planes into dst. */
size_t cw__unshuffle_sse2(const unsigned char *planes, size_t stride, size_t ts,
                          size_t e0, size_t n16, unsigned char *dst);
/* Elements [0, 16*n16) of src into the planes. */
size_t cw__shuffle_sse2(const unsigned char *src, size_t ts, size_t n16,
                        unsigned char *planes, size_t stride);
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define CW__SHUFFLE_AVX2 1
/* Whether this processor runs the AVX2 variants. */
bool cw__have_avx2(void);
/* As the SSE2 variants, 32 elements a group. */
size_t cw__unshuffle_avx2(const unsigned char *planes, size_t stride, size_t ts,
                          size_t e0, size_t n32, unsigned char *dst);
size_t cw__shuffle_avx2(const unsigned char *src, size_t ts, size_t n32,
                        unsigned char *planes, size_t stride);
#endif

#endif
