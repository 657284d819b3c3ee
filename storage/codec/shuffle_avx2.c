/*
 * codec/shuffle_avx2.c -- the SSE2 transposes of shuffle_sse2.c on 32-byte
 * vectors, 32 elements at a time.  Compiled for AVX2 with a target
 * attribute and called only when the processor has it (cw__have_avx2,
 * asked at run time), so one build runs everywhere.
 */
#include "shuffle_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* The same interleaves on 32-byte vectors work within each 16-byte lane:
 * lane 0 of vector v holds what the SSE2 code's vector v holds for
 * elements 0-15, lane 1 the same for elements 16-31. */
__attribute__((target("avx2"))) INLINE void
interleave256(__m256i *x, int nvec, int k)
{
    int bit = 1 << k;
    for (int i = 0; i < nvec; i++) {
        if (!(i & bit)) {
            __m256i lo = _mm256_unpacklo_epi8(x[i], x[i | bit]);
            __m256i hi = _mm256_unpackhi_epi8(x[i], x[i | bit]);
            x[i] = lo;
            x[i | bit] = hi;
        }
    }
}

__attribute__((target("avx2"))) INLINE size_t
unshuffle32(const unsigned char *planes, size_t stride, size_t ts, size_t e0, size_t n,
            unsigned char *dst)
{
    int t = ts == 2 ? 1 : ts == 4 ? 2 : ts == 8 ? 3 : 4;
    __m256i x[16];
    for (size_t g = 0; g < n; g++) {
        size_t e = e0 + g * 32;
        for (size_t v = 0; v < ts; v++) {
            x[v] = _mm256_loadu_si256((const __m256i *)(planes + v * stride + e));
        }
        for (int k = t - 1; k >= 0; k--) {
            interleave256(x, (int)ts, k);
        }
        unsigned char *o = dst + g * 32 * ts;
        for (size_t v = 0; v < ts; v += 2) {
            _mm256_storeu_si256((__m256i *)(o + v * 16),
                                _mm256_permute2x128_si256(x[v], x[v + 1], 0x20));
            _mm256_storeu_si256((__m256i *)(o + 16 * ts + v * 16),
                                _mm256_permute2x128_si256(x[v], x[v + 1], 0x31));
        }
    }
    return n * 32;
}

__attribute__((target("avx2"))) size_t
cw__unshuffle_avx2(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
                   size_t n32, unsigned char *dst)
{
    switch (ts) {
        case 2:
            return unshuffle32(planes, stride, 2, e0, n32, dst);
        case 4:
            return unshuffle32(planes, stride, 4, e0, n32, dst);
        case 8:
            return unshuffle32(planes, stride, 8, e0, n32, dst);
        default:
            return unshuffle32(planes, stride, 16, e0, n32, dst);
    }
}

/* Shuffle 32 elements at a time: lane 0 takes elements 0-15, lane 1
 * elements 16-31, each lane runs the SSE2 sequence. */
__attribute__((target("avx2"))) INLINE size_t
shuffle32(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
          size_t stride)
{
    static const int steps[5][4] = {
        {0}, {0, 0, 0, 0}, {1, 0, 1, 0}, {2, 1, 0, 2}, {3, 2, 1, 0}};
    int t = ts == 2 ? 1 : ts == 4 ? 2 : ts == 8 ? 3 : 4;
    __m256i x[16];
    for (size_t g = 0; g < n; g++) {
        const unsigned char *in = src + g * 32 * ts;
        for (size_t v = 0; v < ts; v++) {
            __m128i lo = _mm_loadu_si128((const __m128i *)(in + v * 16));
            __m128i hi = _mm_loadu_si128((const __m128i *)(in + 16 * ts + v * 16));
            x[v] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        }
        for (int r = 0; r < 4; r++) {
            interleave256(x, (int)ts, steps[t][r]);
        }
        for (size_t v = 0; v < ts; v++) {
            size_t plane = ts == 8 ? ((v >> 1) & 1) << 2 | (v & 1) << 1 | v >> 2 : v;
            _mm256_storeu_si256((__m256i *)(planes + plane * stride + g * 32), x[v]);
        }
    }
    return n * 32;
}

__attribute__((target("avx2"))) size_t
cw__shuffle_avx2(const unsigned char *src, size_t ts, size_t n32, unsigned char *planes,
                 size_t stride)
{
    switch (ts) {
        case 2:
            return shuffle32(src, 2, n32, planes, stride);
        case 4:
            return shuffle32(src, 4, n32, planes, stride);
        case 8:
            return shuffle32(src, 8, n32, planes, stride);
        default:
            return shuffle32(src, 16, n32, planes, stride);
    }
}

bool
cw__have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif
