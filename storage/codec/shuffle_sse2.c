/*
 * codec/shuffle_sse2.c -- byte-plane transposes of 16 elements at a time
 * in SSE2 registers, for element sizes 2, 4, 8 and 16 (see shuffle.c for
 * the layout and the interleave sequence).  Every x86-64 processor has
 * SSE2; elsewhere this file compiles to nothing and shuffle.c loops.
 */
#include "shuffle_impl.h"

#if defined(__SSE2__)
#include <emmintrin.h>

#define INLINE static inline __attribute__((always_inline))

INLINE void
interleave(__m128i *x, int nvec, int k)
{
    int bit = 1 << k;
    for (int i = 0; i < nvec; i++) {
        if (!(i & bit)) {
            __m128i lo = _mm_unpacklo_epi8(x[i], x[i | bit]);
            __m128i hi = _mm_unpackhi_epi8(x[i], x[i | bit]);
            x[i] = lo;
            x[i | bit] = hi;
        }
    }
}

/* Elements [e0, e0 + 16*n) from planes of `stride` bytes into dst.  The
 * callers below pass constant sizes, so each size gets its own code with
 * the vectors in registers. */
INLINE size_t
unshuffle16(const unsigned char *planes, size_t stride, size_t ts, size_t e0, size_t n,
            unsigned char *dst)
{
    int t = ts == 2 ? 1 : ts == 4 ? 2 : ts == 8 ? 3 : 4;
    __m128i x[16];
    for (size_t g = 0; g < n; g++) {
        size_t e = e0 + g * 16;
        for (size_t v = 0; v < ts; v++) {
            x[v] = _mm_loadu_si128((const __m128i *)(planes + v * stride + e));
        }
        for (int k = t - 1; k >= 0; k--) {
            interleave(x, (int)ts, k);
        }
        for (size_t v = 0; v < ts; v++) {
            _mm_storeu_si128((__m128i *)(dst + g * 16 * ts + v * 16), x[v]);
        }
    }
    return n * 16;
}

/* Elements [0, 16*n) of src into planes of `stride` bytes. */
INLINE size_t
shuffle16(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
          size_t stride)
{
    static const int steps[5][4] = {
        {0}, {0, 0, 0, 0}, {1, 0, 1, 0}, {2, 1, 0, 2}, {3, 2, 1, 0}};
    int t = ts == 2 ? 1 : ts == 4 ? 2 : ts == 8 ? 3 : 4;
    __m128i x[16];
    for (size_t g = 0; g < n; g++) {
        for (size_t v = 0; v < ts; v++) {
            x[v] = _mm_loadu_si128((const __m128i *)(src + g * 16 * ts + v * 16));
        }
        for (int r = 0; r < 4; r++) {
            interleave(x, (int)ts, steps[t][r]);
        }
        for (size_t v = 0; v < ts; v++) {
            /* For 8-byte elements vector v holds plane (b2 b1 b0) with
             * v = (b0 b2 b1). */
            size_t plane = ts == 8 ? ((v >> 1) & 1) << 2 | (v & 1) << 1 | v >> 2 : v;
            _mm_storeu_si128((__m128i *)(planes + plane * stride + g * 16), x[v]);
        }
    }
    return n * 16;
}

size_t
cw__unshuffle_sse2(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
                   size_t n, unsigned char *dst)
{
    switch (ts) {
        case 2:
            return unshuffle16(planes, stride, 2, e0, n, dst);
        case 4:
            return unshuffle16(planes, stride, 4, e0, n, dst);
        case 8:
            return unshuffle16(planes, stride, 8, e0, n, dst);
        default:
            return unshuffle16(planes, stride, 16, e0, n, dst);
    }
}

size_t
cw__shuffle_sse2(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
                 size_t stride)
{
    switch (ts) {
        case 2:
            return shuffle16(src, 2, n, planes, stride);
        case 4:
            return shuffle16(src, 4, n, planes, stride);
        case 8:
            return shuffle16(src, 8, n, planes, stride);
        default:
            return shuffle16(src, 16, n, planes, stride);
    }
}
#endif
