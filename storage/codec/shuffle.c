/*
 * shuffle.c -- byte-level transforms: the HDF5 shuffle filter and byte
 * swapping of big-endian data.  The byte-plane transposes of whole groups
 * of elements are ISA variants in sibling files (shuffle_sse2.c,
 * shuffle_avx2.c), chosen here; what is left is looped here.
 */
#include <string.h>

#include "shuffle_impl.h"

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
static size_t
unshuffle_simd(const unsigned char *planes, size_t stride, size_t ts, size_t e0,
               size_t n, unsigned char *dst)
{
#ifdef CW__SHUFFLE_AVX2
    if (n >= 2 && cw__have_avx2()) {
        size_t done = cw__unshuffle_avx2(planes, stride, ts, e0, n / 2, dst);
        if (done == n * 16) {
            return done;
        }
        return done + unshuffle_simd(planes, stride, ts, e0 + done, n - done / 16,
                                     dst + done * ts);
    }
#endif
    return cw__unshuffle_sse2(planes, stride, ts, e0, n, dst);
}

static size_t
shuffle_simd(const unsigned char *src, size_t ts, size_t n, unsigned char *planes,
             size_t stride)
{
#ifdef CW__SHUFFLE_AVX2
    if (n >= 2 && cw__have_avx2()) {
        size_t done = cw__shuffle_avx2(src, ts, n / 2, planes, stride);
        if (done < n * 16) {
            /* One group of 16 left: the SSE2 code on shifted pointers. */
            done += cw__shuffle_sse2(src + done * ts, ts, 1, planes + done, stride);
        }
        return done;
    }
#endif
    return cw__shuffle_sse2(src, ts, n, planes, stride);
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
cw__unshuffle_range(const void *planes, size_t nelem, size_t typesize, size_t e0,
                    size_t e1, void *dst)
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
