/*
 * shuffle.c -- byte-level transforms: the HDF5 shuffle filter, byte
 * swapping of big-endian data, and pattern fills (fill values).
 */
#include <string.h>

#include "source_impl.h"

/* HDF5's shuffle stores byte k of every element together (plane k); bytes
 * past the last whole element are copied unchanged. */
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
    for (size_t k = 0; k < typesize; k++) {
        const unsigned char *plane = s + k * nelem;
        for (size_t i = 0; i < nelem; i++) {
            d[i * typesize + k] = plane[i];
        }
    }
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
    for (size_t k = 0; k < typesize; k++) {
        unsigned char *plane = d + k * nelem;
        for (size_t i = 0; i < nelem; i++) {
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

void
cw__fill_pattern(void *dst, size_t n, const void *pattern, size_t itemsize)
{
    unsigned char *d = dst;
    int zero = 1;
    for (size_t i = 0; i < itemsize; i++) {
        if (((const unsigned char *)pattern)[i] != 0) {
            zero = 0;
            break;
        }
    }
    if (zero || itemsize == 0) {
        memset(dst, 0, n);
        return;
    }
    /* Doubling copies: log2(n) memcpy calls. */
    size_t done = itemsize < n ? itemsize : n;
    memcpy(d, pattern, done);
    while (done < n) {
        size_t len = done < n - done ? done : n - done;
        memcpy(d + done, d, len);
        done += len;
    }
}
