/*
 * shuffle.c -- byte-level transforms: the HDF5 shuffle filter, byte
 * swapping of big-endian data, and pattern fills (fill values).
 */
#include <string.h>

#include "storage_impl.h"

/* HDF5's and Blosc's shuffle store byte k of every element together (plane
 * k); bytes past the last whole element are copied unchanged.
 *
 * For element sizes 2, 4, 8 and 16, groups of 16 elements are transposed
 * in SSE2 registers with byte interleaves.  One interleave of a vector pair
 * that differs in bit k of the vector index moves that bit into the lowest
 * bit of the byte index and the byte index's top bit into bit k: a fixed
 * sequence of them turns [plane | element] into [element | byte] order
 * (log2(size) steps) and back (4 steps, for 8 bytes with the planes left
 * in a permuted vector order). */
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
unshuffle16(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
            size_t n, unsigned char *dst)
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
    static const int steps[5][4] = {{0}, {0, 0, 0, 0}, {1, 0, 1, 0},
                                    {2, 1, 0, 2}, {3, 2, 1, 0}};
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
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

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
unshuffle32(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
            size_t n, unsigned char *dst)
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

__attribute__((target("avx2"))) static size_t
unshuffle_avx2(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
               size_t n32, unsigned char *dst)
{
    switch (ts) {
    case 2: return unshuffle32(planes, stride, 2, e0, n32, dst);
    case 4: return unshuffle32(planes, stride, 4, e0, n32, dst);
    case 8: return unshuffle32(planes, stride, 8, e0, n32, dst);
    default: return unshuffle32(planes, stride, 16, e0, n32, dst);
    }
}

/* Shuffle 32 elements at a time: lane 0 takes elements 0-15, lane 1
 * elements 16-31, each lane runs the SSE2 sequence. */
__attribute__((target("avx2"))) INLINE size_t
shuffle32(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
          size_t stride)
{
    static const int steps[5][4] = {{0}, {0, 0, 0, 0}, {1, 0, 1, 0},
                                    {2, 1, 0, 2}, {3, 2, 1, 0}};
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

__attribute__((target("avx2"))) static size_t
shuffle_avx2(const unsigned char *src, size_t ts, size_t n32, unsigned char *planes,
             size_t stride)
{
    switch (ts) {
    case 2: return shuffle32(src, 2, n32, planes, stride);
    case 4: return shuffle32(src, 4, n32, planes, stride);
    case 8: return shuffle32(src, 8, n32, planes, stride);
    default: return shuffle32(src, 16, n32, planes, stride);
    }
}

static bool
have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

static size_t
unshuffle_simd(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
               size_t n, unsigned char *dst)
{
#ifdef HAVE_AVX2_PATH
    if (n >= 2 && have_avx2()) {
        size_t done = unshuffle_avx2(planes, stride, ts, e0, n / 2, dst);
        if (done == n * 16) {
            return done;
        }
        return done + unshuffle_simd(planes, stride, ts, e0 + done, n - done / 16,
                                     dst + done * ts);
    }
#endif
    switch (ts) {
    case 2: return unshuffle16(planes, stride, 2, e0, n, dst);
    case 4: return unshuffle16(planes, stride, 4, e0, n, dst);
    case 8: return unshuffle16(planes, stride, 8, e0, n, dst);
    default: return unshuffle16(planes, stride, 16, e0, n, dst);
    }
}

static size_t
shuffle_simd(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
             size_t stride)
{
#ifdef HAVE_AVX2_PATH
    if (n >= 2 && have_avx2()) {
        size_t done = shuffle_avx2(src, ts, n / 2, planes, stride);
        if (done < n * 16) {
            /* One group of 16 left: the SSE2 code on shifted pointers. */
            done += shuffle16(src + done * ts, ts, 1, planes + done, stride);
        }
        return done;
    }
#endif
    switch (ts) {
    case 2: return shuffle16(src, 2, n, planes, stride);
    case 4: return shuffle16(src, 4, n, planes, stride);
    case 8: return shuffle16(src, 8, n, planes, stride);
    default: return shuffle16(src, 16, n, planes, stride);
    }
}
#endif

static bool
simd_size(size_t ts)
{
#if defined(__SSE2__)
    return ts == 2 || ts == 4 || ts == 8 || ts == 16;
#else
    (void)ts;
    return false;
#endif
}

void
cw__unshuffle_range(const void *planes, size_t nelem, size_t typesize,
                    size_t e0, size_t e1, void *dst)
{
    const unsigned char *s = planes;
    unsigned char *d = dst;
    size_t e = e0;
#if defined(__SSE2__)
    if (simd_size(typesize) && e1 - e0 >= 16) {
        e += unshuffle_simd(s, nelem, typesize, e0, (e1 - e0) / 16, d);
    }
#endif
    for (; e < e1; e++) {
        for (size_t k = 0; k < typesize; k++) {
            d[(e - e0) * typesize + k] = s[k * nelem + e];
        }
    }
}

void
cw__unshuffle(const void *src, void *dst, size_t n, size_t typesize)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    size_t nelem = typesize ? n / typesize : 0;
    if (typesize <= 1 || nelem <= 1) {
        memcpy(dst, src, n);
        return;
    }
    cw__unshuffle_range(s, nelem, typesize, 0, nelem, d);
    memcpy(d + nelem * typesize, s + nelem * typesize, n - nelem * typesize);
}

void
cw__shuffle(const void *src, void *dst, size_t n, size_t typesize)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    size_t nelem = typesize ? n / typesize : 0;
    if (typesize <= 1 || nelem <= 1) {
        memcpy(dst, src, n);
        return;
    }
    size_t i0 = 0;
#if defined(__SSE2__)
    if (simd_size(typesize)) {
        i0 = shuffle_simd(s, typesize, nelem / 16, d, nelem);
    }
#endif
    for (size_t k = 0; k < typesize; k++) {
        unsigned char *plane = d + k * nelem;
        for (size_t i = i0; i < nelem; i++) {
            plane[i] = s[i * typesize + k];
        }
    }
    memcpy(d + nelem * typesize, s + nelem * typesize, n - nelem * typesize);
}

void
cw__byteswap(void *buf, size_t n, size_t itemsize)
{
    size_t count = n / itemsize;
    switch (itemsize) {
    case 2: {
        uint16_t *p = buf;
        for (size_t i = 0; i < count; i++) {
            p[i] = __builtin_bswap16(p[i]);
        }
        break;
    }
    case 4: {
        uint32_t *p = buf;
        for (size_t i = 0; i < count; i++) {
            p[i] = __builtin_bswap32(p[i]);
        }
        break;
    }
    case 8: {
        uint64_t *p = buf;
        for (size_t i = 0; i < count; i++) {
            p[i] = __builtin_bswap64(p[i]);
        }
        break;
    }
    default:
        break;
    }
}
