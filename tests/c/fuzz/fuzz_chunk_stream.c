/*
 * fuzz_chunk_stream.c -- the stored-chunk stream (storage/chunk_stream.c)
 * on arbitrary stored chunks: what a computation does with a chunk it
 * reads range by range, without the HDF5 lock.
 *
 * Input: byte 0 holds the flags (bit 0: a Blosc chunk, else raw bytes;
 * bit 1: byte-swapped) and the dtype (bits 2-7, modulo the dtypes); bytes
 * 1-3 the chunk's elements (little-endian, modulo FUZZ_MAX_ELEMS + 1);
 * bytes 4-19 four ranges of whole elements (first element and count, 2
 * bytes each, taken modulo what is left of the chunk); the rest is the stored chunk,
 * put at byte FUZZ_AT of a memory file as the index points into a real one.
 *
 * The stream is opened with cw__cstream_open_stored, reading the memory
 * file, or (inputs of odd length) served from the stored bytes in memory,
 * as after a read with O_DIRECT; when it takes the
 * chunk, the four ranges and then the whole chunk are read with
 * cw__cstream_get.  Any input gives CW_OK or an error status (never a
 * crash, a sanitizer report or a hang), and what reads succeed agree:
 * each range equals those bytes of the whole chunk, and a whole chunk
 * read from a Blosc stream equals what the whole-frame decoder
 * (cw__blosc_decode) gives when it accepts the frame too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chunkwise.h"
#include "storage_impl.h"

#define FUZZ_NAME "chunk_stream"
#define FUZZ_MAX_ELEMS ((size_t)1 << 18)
#define FUZZ_AT 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static cw__io_scratch_t s;
    if (fd < 0) {
        if ((fd = memfd_create("fuzz_chunk_stream", 0)) < 0) {
            perror("memfd_create");
            abort();
        }
        cw__io_scratch_init(&s);
    }
    if (size < 20) {
        return 0;
    }
    bool blosc = data[0] & 1, swap = data[0] & 2;
    cw_dtype_t dtype = (cw_dtype_t)((data[0] >> 2) % CW_NDTYPES);
    int64_t nelem =
        (int64_t)(((size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16) %
                  (FUZZ_MAX_ELEMS + 1));
    cw_source_t src;
    memset(&src, 0, sizeof(src));
    if (cw__source_init(&src, NULL, 1, &nelem, dtype, nelem > 0 ? &nelem : NULL, 0) !=
        CW_OK) {
        return 0;
    }
    size_t nbytes = src.chunk_nbytes;
    const uint8_t *stored = data + 20;
    size_t len = size - 20;
    static const uint8_t junk[FUZZ_AT] = {0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe};
    if (ftruncate(fd, 0) != 0 || pwrite(fd, junk, FUZZ_AT, 0) != FUZZ_AT ||
        pwrite(fd, stored, len, FUZZ_AT) != (ssize_t)len) {
        perror("memfd");
        abort();
    }
    cw__cstream_t cs;
    memset(&cs, 0, sizeof(cs));
    cs.src = &src;
    cs.kind = CW__CS_NONE;
    cs.blk_at = -1;
    cs.swap = swap;
    cs.name = "fuzz";
    cs.path = "fuzz.h5";
    bool ok = false;
    const uint8_t *mem = size % 2 ? stored : NULL;
    if (cw__cstream_open_stored(&cs, fd, FUZZ_AT, len, mem, blosc, &ok) != CW_OK ||
        !ok) {
        cw__cstream_free(&cs);
        return 0;
    }
    size_t off[4], n[4];
    uint8_t *got[4] = {NULL, NULL, NULL, NULL};
    for (int r = 0; r < 4; r++) {
        const uint8_t *p = data + 4 + 4 * r;
        /* Whole elements, as a computation asks for them. */
        size_t ne = (size_t)nelem, e0 = ((size_t)p[0] | (size_t)p[1] << 8) % (ne + 1);
        off[r] = e0 * src.itemsize;
        n[r] = ((size_t)p[2] | (size_t)p[3] << 8) % (ne - e0 + 1) * src.itemsize;
        const char *ptr;
        if (cw__cstream_get(&cs, off[r], n[r], &ptr, &s) == CW_OK) {
            /* (an empty range may point nowhere) */
            got[r] = malloc(n[r] ? n[r] : 1);
            if (n[r] > 0) {
                memcpy(got[r], ptr, n[r]);
            }
        }
    }
    const char *whole;
    if (cw__cstream_get(&cs, 0, nbytes, &whole, &s) == CW_OK) {
        for (int r = 0; r < 4; r++) {
            if (got[r] != NULL && n[r] > 0 &&
                memcmp(got[r], whole + off[r], n[r]) != 0) {
                fprintf(
                    stderr,
                    "chunk_stream: bytes [%zu, %zu) differ from the whole chunk's\n",
                    off[r], off[r] + n[r]);
                abort();
            }
        }
        if (blosc) {
            uint8_t *ref = malloc(nbytes ? nbytes : 1);
            if (nbytes > 0 && cw__blosc_decode(stored, len, ref, nbytes) == CW_OK) {
                if (swap) {
                    cw__byteswap(ref, nbytes, cw__dtype_part_size(dtype));
                }
                if (memcmp(ref, whole, nbytes) != 0) {
                    fprintf(stderr,
                            "chunk_stream: the stream and the frame decoder "
                            "give different chunks\n");
                    abort();
                }
            }
            free(ref);
        }
    }
    for (int r = 0; r < 4; r++) {
        free(got[r]);
    }
    cw__cstream_free(&cs);
    return 0;
}

#include "fuzz_main.h"
