/*
 * codec/blosc2.c -- HDF5 filter 32026 (Blosc2), as hdf5plugin.Blosc2 and
 * PyTables' "blosc2:<codec>" write it, decoded and encoded with c-blosc2.
 *
 * Each stored chunk is a Blosc2 contiguous frame (cframe) holding a
 * super-chunk of one Blosc2 chunk.  For datasets of rank 2 and more the
 * frame carries a "b2nd" metalayer: the chunk is then a b2nd array whose
 * shape is the HDF5 chunk's, partitioned into blocks of a block shape;
 * the decoded Blosc2 chunk holds those blocks one after the other, each
 * in C order and padded to the full block shape, so it is scattered into
 * the C-order chunk unless the blocks already tile it in C order.  A bare
 * Blosc2 chunk (no frame) is accepted too.
 *
 * Decoding runs in worker threads with a per-thread decompression context
 * of one thread (blosc2_create_dctx, blosc2_decompress_ctx); the frame is
 * parsed in place (blosc2_schunk_from_buffer without a copy).  Encoding
 * builds the frame the same way hdf5plugin's filter does, with one
 * compression thread per worker, and block shapes that tile the chunk in
 * C order (so a reader that decompresses the chunk without reordering it
 * sees the same bytes).  c-blosc2 is initialised once (blosc2_init) and
 * never torn down: another user in the process (python-blosc2) shares it.
 */
#include <b2nd.h>
#include <blosc2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_impl.h"

static pthread_once_t blosc2_once = PTHREAD_ONCE_INIT;

static void
init_once(void)
{
    blosc2_init();
}

void
cw__blosc2_init(void)
{
    pthread_once(&blosc2_once, init_once);
}

/* Codec names and their Blosc2 compressor codes (blosc2.h's BLOSC_*). */
static const struct {
    const char *name;
    int code;
} blosc2_codecs[] = {
    {"blosclz", BLOSC_BLOSCLZ}, {"lz4", BLOSC_LZ4},   {"lz4hc", BLOSC_LZ4HC},
    {"zlib", BLOSC_ZLIB},       {"zstd", BLOSC_ZSTD},
};

int
cw__blosc2_code(const char *codec)
{
    for (size_t i = 0;
         codec != NULL && i < sizeof(blosc2_codecs) / sizeof(*blosc2_codecs); i++) {
        if (strcmp(codec, blosc2_codecs[i].name) == 0) {
            return blosc2_codecs[i].code;
        }
    }
    return -1;
}

const char *
cw__blosc2_name(int code)
{
    for (size_t i = 0; i < sizeof(blosc2_codecs) / sizeof(*blosc2_codecs); i++) {
        if (blosc2_codecs[i].code == code) {
            return blosc2_codecs[i].name;
        }
    }
    return "unknown";
}

void
cw__blosc2_scratch_free(cw__io_scratch_t *s)
{
    if (s->blosc2_d != NULL) {
        blosc2_free_ctx(s->blosc2_d);
        s->blosc2_d = NULL;
    }
    cw__free(s->b2buf);
    s->b2buf = NULL;
    s->b2buf_cap = 0;
}

static int
dctx(cw__io_scratch_t *s, blosc2_context **out)
{
    if (s->blosc2_d == NULL) {
        cw__blosc2_init();
        blosc2_dparams dp = BLOSC2_DPARAMS_DEFAULTS;
        dp.nthreads = 1;
        s->blosc2_d = blosc2_create_dctx(dp);
        if (s->blosc2_d == NULL) {
            return cw__error(CW_ENOMEM, "out of memory for a Blosc2 decoder");
        }
    }
    *out = s->blosc2_d;
    return CW_OK;
}

/* Decompress one Blosc2 chunk of exactly `want` bytes into dst. */
int
cw__blosc2_decompress(cw__io_scratch_t *s, const void *src, size_t cbytes, void *dst,
                      size_t want)
{
    int rc;
    const uint8_t *chunk = src;
    int32_t nbytes = 0, cb = 0, blocksize = 0;
    blosc2_context *ctx = NULL;
    if (cbytes < BLOSC_MIN_HEADER_LENGTH || cbytes > (size_t)INT32_MAX ||
        blosc2_cbuffer_sizes(chunk, &nbytes, &cb, &blocksize) < 0) {
        return cw__error(CW_ECORRUPT, "invalid Blosc2 chunk header");
    }
    if (nbytes < 0 || (size_t)nbytes != want) {
        return cw__error(CW_ECORRUPT, "Blosc2 chunk holds %d bytes, expected %zu",
                         (int)nbytes, want);
    }
    if (cb < 0 || (size_t)cb > cbytes) {
        return cw__error(CW_ECORRUPT,
                         "Blosc2 chunk of %d bytes is longer than the %zu "
                         "bytes stored",
                         (int)cb, cbytes);
    }
    CW_TRY(dctx(s, &ctx));
    int n = blosc2_decompress_ctx(ctx, chunk, (int32_t)cb, dst, (int32_t)want);
    if (n < 0 || (size_t)n != want) {
        return cw__error(CW_ECORRUPT, "Blosc2 decompression failed (code %d)", n);
    }
    return CW_OK;
fail:
    return rc;
}

/* Copy the blocks of a decoded b2nd chunk (each `block` elements in C
 * order, blocks in C order over the padded block grid) into the C-order
 * chunk of shape `shape`. */
static void
scatter_blocks(const uint8_t *blocks, int ndim, const int64_t *shape,
               const int32_t *block, size_t es, uint8_t *dst)
{
    int64_t nb[B2ND_MAX_DIM], bi[B2ND_MAX_DIM], dstride[B2ND_MAX_DIM],
        bstride[B2ND_MAX_DIM];
    int64_t nblocks = 1;
    dstride[ndim - 1] = (int64_t)es;
    bstride[ndim - 1] = (int64_t)es;
    for (int d = ndim - 1; d >= 0; d--) {
        nb[d] = (shape[d] + block[d] - 1) / block[d];
        nblocks *= nb[d];
        bi[d] = 0;
        if (d > 0) {
            dstride[d - 1] = dstride[d] * shape[d];
            bstride[d - 1] = bstride[d] * block[d];
        }
    }
    size_t blockbytes = (size_t)bstride[0] * (size_t)block[0];
    for (int64_t b = 0; b < nblocks; b++) {
        const uint8_t *bsrc = blocks + (size_t)b * blockbytes;
        int64_t v[B2ND_MAX_DIM], row[B2ND_MAX_DIM];
        uint8_t *bdst = dst;
        for (int d = 0; d < ndim; d++) {
            int64_t o = bi[d] * block[d];
            v[d] = shape[d] - o < block[d] ? shape[d] - o : block[d];
            bdst += o * dstride[d];
            row[d] = 0;
        }
        /* The block's valid box, row by row along the last dimension. */
        size_t rowbytes = (size_t)v[ndim - 1] * es;
        for (;;) {
            size_t so = 0, doff = 0;
            for (int d = 0; d < ndim - 1; d++) {
                so += (size_t)(row[d] * bstride[d]);
                doff += (size_t)(row[d] * dstride[d]);
            }
            memcpy(bdst + doff, bsrc + so, rowbytes);
            int d = ndim - 2;
            while (d >= 0 && ++row[d] == v[d]) {
                row[d] = 0;
                d--;
            }
            if (d < 0) {
                break;
            }
        }
        for (int d = ndim - 1; d >= 0 && ++bi[d] == nb[d]; d--) {
            bi[d] = 0;
        }
    }
}

/* Whether blocks of `block` tile `shape` in C order: no padding, and only
 * dimensions whose later dimensions are whole have blocks wider than 1. */
static bool
blocks_in_c_order(int ndim, const int64_t *shape, const int32_t *block)
{
    for (int d = 0; d < ndim; d++) {
        if (shape[d] % block[d] != 0) {
            return false;
        }
        if (block[d] > 1) {
            for (int e = d + 1; e < ndim; e++) {
                if (block[e] != shape[e]) {
                    return false;
                }
            }
        }
    }
    return true;
}

/* The chunk of a frame with a b2nd metalayer. */
static int
decode_b2nd(cw__io_scratch_t *s, const cw__filter_t *f, blosc2_schunk *sc,
            const uint8_t *chunk, size_t cbytes, void *dst, size_t dstlen)
{
    int rc = CW_OK;
    uint8_t *meta = NULL;
    int32_t metalen = 0;
    char *dtype = NULL;
    int8_t ndim = 0, dformat = 0;
    int64_t shape[B2ND_MAX_DIM];
    int32_t cshape[B2ND_MAX_DIM], bshape[B2ND_MAX_DIM];
    if (blosc2_meta_get(sc, "b2nd", &meta, &metalen) < 0 || metalen <= 0 ||
        b2nd_deserialize_meta(meta, metalen, &ndim, shape, cshape, bshape, &dtype,
                              &dformat) < 0) {
        rc = cw__error(CW_ECORRUPT, "invalid b2nd metalayer in the Blosc2 frame");
        goto done;
    }
    if (ndim < 1 || ndim > B2ND_MAX_DIM || (f->ndim > 0 && ndim != f->ndim)) {
        rc = cw__error(CW_ECORRUPT, "b2nd array of rank %d in a chunk of rank %d",
                       (int)ndim, f->ndim);
        goto done;
    }
    int64_t nelem = 1, next = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1 || cshape[d] != shape[d] || bshape[d] < 1 ||
            bshape[d] > cshape[d] || (f->ndim > 0 && shape[d] != f->chunks[d])) {
            rc = cw__error(CW_ECORRUPT,
                           "b2nd array of shape[%d] %lld (chunk %d, block %d) "
                           "where the HDF5 chunk has %lld",
                           d, (long long)shape[d], (int)cshape[d], (int)bshape[d],
                           (long long)(f->ndim > 0 ? f->chunks[d] : shape[d]));
            goto done;
        }
        int64_t ext = (shape[d] + bshape[d] - 1) / bshape[d] * bshape[d];
        if (!cw__mul_ok(nelem, shape[d], &nelem) || !cw__mul_ok(next, ext, &next)) {
            rc = cw__error(CW_ECORRUPT, "b2nd array too large");
            goto done;
        }
    }
    if (nelem == 0 || dstlen % (size_t)nelem != 0) {
        rc = cw__error(CW_ECORRUPT,
                       "b2nd array of %lld elements in a chunk of %zu bytes",
                       (long long)nelem, dstlen);
        goto done;
    }
    size_t es = dstlen / (size_t)nelem;
    if (blocks_in_c_order(ndim, shape, bshape)) {
        rc = cw__blosc2_decompress(s, chunk, cbytes, dst, dstlen);
    }
    else {
        int64_t padded64 = 0;
        if (!cw__mul_ok(next, (int64_t)es, &padded64) || padded64 > INT32_MAX) {
            rc = cw__error(CW_ECORRUPT, "b2nd blocks of %lld elements too large",
                           (long long)next);
            goto done;
        }
        size_t padded = (size_t)padded64;
        rc = cw__reserve(&s->b2buf, &s->b2buf_cap, padded);
        if (rc == CW_OK) {
            rc = cw__blosc2_decompress(s, chunk, cbytes, s->b2buf, padded);
        }
        if (rc == CW_OK) {
            scatter_blocks(s->b2buf, ndim, shape, bshape, es, dst);
        }
    }
done:
    free(meta);
    free(dtype);
    return rc;
}

int
cw__blosc2_decode(cw__io_scratch_t *s, const cw__filter_t *f, const void *src,
                  size_t srclen, void *dst, size_t dstlen)
{
    cw__blosc2_init();
    if (srclen > (size_t)INT64_MAX / 2) {
        return cw__error(CW_ECORRUPT, "Blosc2 frame too large");
    }
    blosc2_schunk *sc =
        blosc2_schunk_from_buffer((uint8_t *)src, (int64_t)srclen, false);
    if (sc == NULL) {
        /* Not a frame: a bare Blosc2 chunk, or nothing valid. */
        return cw__blosc2_decompress(s, src, srclen, dst, dstlen);
    }
    int rc = CW_OK;
    uint8_t *chunk = NULL;
    bool needs_free = false;
    if (sc->nchunks != 1) {
        rc = cw__error(CW_ECORRUPT, "Blosc2 frame holds %lld chunks, expected 1",
                       (long long)sc->nchunks);
        goto done;
    }
    int cbytes = blosc2_schunk_get_lazychunk(sc, 0, &chunk, &needs_free);
    if (cbytes < 0 || chunk == NULL ||
        (!needs_free &&
         (chunk < (const uint8_t *)src ||
          (size_t)(chunk - (const uint8_t *)src) + (size_t)cbytes > srclen))) {
        rc = cw__error(CW_ECORRUPT, "invalid chunk index in the Blosc2 frame");
        goto done;
    }
    if (blosc2_meta_exists(sc, "b2nd") >= 0 || blosc2_meta_exists(sc, "caterva") >= 0) {
        rc = decode_b2nd(s, f, sc, chunk, (size_t)cbytes, dst, dstlen);
    }
    else {
        rc = cw__blosc2_decompress(s, chunk, (size_t)cbytes, dst, dstlen);
    }
done:
    if (needs_free) {
        free(chunk);
    }
    blosc2_schunk_free(sc);
    return rc;
}

/* --------------------------------------------------------------- encode */

/* Block shape for a chunk: whole trailing dimensions, then a divisor of
 * the next dimension, ones before it, close to `items` elements. */
static void
block_shape(int ndim, const int64_t *shape, int64_t items, int32_t *block)
{
    int64_t have = 1;
    int d = ndim - 1;
    for (int e = 0; e < ndim; e++) {
        block[e] = 1;
    }
    for (; d >= 0; d--) {
        if (have * shape[d] <= items) {
            block[d] = (int32_t)shape[d];
            have *= shape[d];
            continue;
        }
        int64_t k = items / have;
        while (k > 1 && shape[d] % k != 0) {
            k--;
        }
        block[d] = (int32_t)(k < 1 ? 1 : k);
        break;
    }
}

size_t
cw__blosc2_encode_bound(size_t n)
{
    /* Blosc2's header, one memcpy'd block, and the frame around it. */
    return n + BLOSC2_MAX_OVERHEAD + 4096;
}

int
cw__blosc2_encode(const cw_store_opts_t *o, size_t itemsize, const void *src,
                  size_t srclen, cw__io_scratch_t *s, size_t *outlen)
{
    int rc = CW_OK;
    cw__blosc2_init();
    *outlen = 0;
    if (srclen > (size_t)BLOSC2_MAX_BUFFERSIZE) {
        return cw__error(CW_EINVAL, "a chunk of %zu bytes is too large for Blosc2",
                         srclen);
    }
    blosc2_cparams cp = BLOSC2_CPARAMS_DEFAULTS;
    cp.compcode = (uint8_t)cw__blosc2_code(o->blosc_codec);
    cp.clevel = (uint8_t)o->level;
    cp.typesize = (int32_t)(itemsize > 255 ? 1 : itemsize);
    cp.nthreads = 1;
    cp.filters[BLOSC2_MAX_FILTERS - 1] = o->bitshuffle ? BLOSC_BITSHUFFLE
                                         : o->shuffle  ? BLOSC_SHUFFLE
                                                       : BLOSC_NOSHUFFLE;
    blosc2_dparams dp = BLOSC2_DPARAMS_DEFAULTS;
    dp.nthreads = 1;
    blosc2_storage storage = {.contiguous = true, .cparams = &cp, .dparams = &dp};
    uint8_t *frame = NULL;
    bool needs_free = false;
    int64_t len = -1;

    int64_t nelem = 1;
    int64_t shape[B2ND_MAX_DIM];
    int32_t block[B2ND_MAX_DIM];
    bool nd = o->ndim >= 2 && o->ndim <= B2ND_MAX_DIM;
    for (int d = 0; nd && d < o->ndim; d++) {
        shape[d] = o->chunks[d];
        nd = shape[d] >= 1 && shape[d] <= INT32_MAX &&
             cw__mul_ok(nelem, shape[d], &nelem);
    }
    nd = nd && (size_t)nelem * itemsize == srclen;
    if (nd) {
        /* Blocks of about the size Blosc2 picks for the whole chunk. */
        uint8_t hdr[BLOSC_EXTENDED_HEADER_LENGTH];
        int32_t bs = 0;
        if (blosc2_chunk_zeros(cp, (int32_t)srclen, hdr, sizeof(hdr)) < 0 ||
            blosc2_cbuffer_sizes(hdr, NULL, NULL, &bs) < 0 || bs <= 0) {
            bs = 1 << 17;
        }
        block_shape(o->ndim, shape, bs / (int64_t)itemsize, block);
        char dtype[32];
        snprintf(dtype, sizeof(dtype), "|V%zu", itemsize);
        /* One chunk: the b2nd chunk shape is the array's. */
        int32_t cshape[B2ND_MAX_DIM];
        for (int d = 0; d < o->ndim; d++) {
            cshape[d] = (int32_t)shape[d];
        }
        b2nd_context_t *ctx =
            b2nd_create_ctx(&storage, (int8_t)o->ndim, shape, cshape, block, dtype,
                            DTYPE_NUMPY_FORMAT, NULL, 0);
        b2nd_array_t *arr = NULL;
        if (ctx == NULL || b2nd_from_cbuffer(ctx, &arr, src, (int64_t)srclen) < 0 ||
            b2nd_to_cframe(arr, &frame, &len, &needs_free) < 0) {
            len = -1;
        }
        if (len >= 0 && !needs_free) {
            /* The frame belongs to the array: copy it out before freeing. */
            rc = cw__reserve(&s->enc, &s->enc_cap, (size_t)len);
            if (rc == CW_OK) {
                memcpy(s->enc, frame, (size_t)len);
            }
            frame = NULL;
        }
        if (arr != NULL) {
            b2nd_free(arr);
        }
        if (ctx != NULL) {
            b2nd_free_ctx(ctx);
        }
    }
    else {
        blosc2_schunk *sc = blosc2_schunk_new(&storage);
        if (sc != NULL && blosc2_schunk_append_buffer(sc, src, (int32_t)srclen) == 1) {
            len = blosc2_schunk_to_buffer(sc, &frame, &needs_free);
        }
        if (len >= 0 && !needs_free) {
            rc = cw__reserve(&s->enc, &s->enc_cap, (size_t)len);
            if (rc == CW_OK) {
                memcpy(s->enc, frame, (size_t)len);
            }
            frame = NULL;
        }
        if (sc != NULL) {
            blosc2_schunk_free(sc);
        }
    }
    if (len < 0) {
        rc = cw__error(CW_EIO, "Blosc2 compression failed");
    }
    else if (frame != NULL && rc == CW_OK) {
        rc = cw__reserve(&s->enc, &s->enc_cap, (size_t)len);
        if (rc == CW_OK) {
            memcpy(s->enc, frame, (size_t)len);
        }
    }
    if (frame != NULL && needs_free) {
        free(frame);
    }
    if (rc == CW_OK) {
        *outlen = (size_t)len;
    }
    return rc;
}
