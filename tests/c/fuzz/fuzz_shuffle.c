/*
 * fuzz_shuffle.c -- the byte-plane transposes (storage/codec/shuffle*.c)
 * against a scalar reference, on every element size.
 *
 * The input's first byte picks the element size (1 to 64 bytes), the
 * next two a range of elements, the rest is the data.  Checked:
 * cw__shuffle and cw__unshuffle (which take the AVX2 path where the
 * processor has it, SSE2 otherwise) equal the scalar loops, including the
 * bytes after the last whole element; unshuffle undoes shuffle;
 * cw__unshuffle_range equals a slice of the reference; and for the sizes
 * with vector code (2, 4, 8, 16), the SSE2 and AVX2 group transposes
 * called directly equal the reference on their groups.
 */
#define CW_BUILDING_STORAGE 1
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkwise.h"
#include "codec/shuffle_impl.h"
#include "storage_impl.h"

#define FUZZ_NAME "shuffle"

static void
ref_shuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t ts)
{
    size_t nelem = n / ts;
    for (size_t k = 0; k < ts; k++) {
        for (size_t i = 0; i < nelem; i++) {
            dst[k * nelem + i] = src[i * ts + k];
        }
    }
    memcpy(dst + nelem * ts, src + nelem * ts, n - nelem * ts);
}

static void
ref_unshuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t ts)
{
    size_t nelem = n / ts;
    for (size_t k = 0; k < ts; k++) {
        for (size_t i = 0; i < nelem; i++) {
            dst[i * ts + k] = src[k * nelem + i];
        }
    }
    memcpy(dst + nelem * ts, src + nelem * ts, n - nelem * ts);
}

static void
same(const uint8_t *a, const uint8_t *b, size_t n, const char *what, size_t ts,
     size_t len)
{
    if (memcmp(a, b, n) != 0) {
        size_t i = 0;
        while (a[i] == b[i]) {
            i++;
        }
        fprintf(stderr, "shuffle: %s differs at byte %zu (typesize %zu, %zu bytes)\n",
                what, i, ts, len);
        abort();
    }
}

static uint8_t *
alloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    size_t ts = 1 + data[0] % 64;
    const uint8_t *in = data + 3;
    size_t n = size - 3, nelem = n / ts;
    uint8_t *got = alloc(n), *want = alloc(n), *back = alloc(n);

    cw__shuffle(in, got, n, ts);
    ref_shuffle(in, want, n, ts);
    same(got, want, n, "cw__shuffle", ts, n);
    cw__unshuffle(got, back, n, ts);
    same(back, in, n, "cw__unshuffle(cw__shuffle(x))", ts, n);

    cw__unshuffle(in, got, n, ts);
    ref_unshuffle(in, want, n, ts);
    same(got, want, n, "cw__unshuffle", ts, n);

    if (nelem > 0) {
        size_t e0 = data[1] % nelem, e1 = e0 + data[2] % (nelem - e0 + 1);
        cw__unshuffle_range(in, nelem, ts, e0, e1, got);
        same(got, want + e0 * ts, (e1 - e0) * ts, "cw__unshuffle_range", ts, n);
    }

#if defined(__SSE2__)
    if ((ts == 2 || ts == 4 || ts == 8 || ts == 16) && nelem >= 16) {
        size_t n16 = nelem / 16;
        /* Elements [e0, e0 + 16 * groups) of the planes. */
        size_t e0 = data[1] % (nelem - 16 * n16 + 1);
        size_t groups = (nelem - e0) / 16;
        size_t k = cw__unshuffle_sse2(in, nelem, ts, e0, groups, got);
        if (k != 16 * groups) {
            fprintf(stderr, "shuffle: SSE2 unshuffle moved %zu of %zu\n", k,
                    16 * groups);
            abort();
        }
        same(got, want + e0 * ts, k * ts, "cw__unshuffle_sse2", ts, n);
        memset(got, 0, n);
        k = cw__shuffle_sse2(in, ts, n16, got, nelem);
        ref_shuffle(in, want, n, ts);
        for (size_t p = 0; p < ts; p++) {
            same(got + p * nelem, want + p * nelem, 16 * n16, "cw__shuffle_sse2", ts,
                 n);
        }
#ifdef CW__SHUFFLE_AVX2
        if (cw__have_avx2() && nelem >= 32) {
            size_t n32 = nelem / 32;
            ref_unshuffle(in, want, n, ts);
            k = cw__unshuffle_avx2(in, nelem, ts, 0, n32, got);
            if (k > 32 * n32) {
                fprintf(stderr, "shuffle: AVX2 unshuffle moved %zu of %zu\n", k,
                        32 * n32);
                abort();
            }
            same(got, want, k * ts, "cw__unshuffle_avx2", ts, n);
            memset(got, 0, n);
            k = cw__shuffle_avx2(in, ts, n32, got, nelem);
            if (k > 32 * n32) {
                fprintf(stderr, "shuffle: AVX2 shuffle moved %zu of %zu\n", k,
                        32 * n32);
                abort();
            }
            ref_shuffle(in, want, n, ts);
            for (size_t p = 0; p < ts; p++) {
                same(got + p * nelem, want + p * nelem, k, "cw__shuffle_avx2", ts, n);
            }
        }
#endif
    }
#endif
    free(got);
    free(want);
    free(back);
    return 0;
}

#include "fuzz_main.h"
