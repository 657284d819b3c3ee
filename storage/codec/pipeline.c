/*
 * codec/pipeline.c -- a chunk through HDF5's filter pipeline, both ways,
 * with chunkwise's own codecs: undo the filters a stored chunk went
 * through (those its filter mask does not skip), and encode a chunk for a
 * dataset being written, choosing the mask that says which filters were
 * skipped.  Filter ids are the file format's numbers; no libhdf5 call is
 * made here, so both directions run in worker threads without a lock.
 */
#include <string.h>

#include "storage_impl.h"

int
cw__pipeline_decode(const cw__filter_t *filters, int nfilters, unsigned mask,
                    const void *raw, size_t nbytes, void *buf, size_t n,
                    cw__io_scratch_t *s)
{
    int rc;
    int active[CW__MAX_FILTERS], nact = 0;
    for (int i = nfilters - 1; i >= 0; i--) {
        if (!(mask & (1u << i))) {
            active[nact++] = i;
        }
    }
    if (nact == 0) {
        if (nbytes != n) {
            return cw__error(CW_ECORRUPT, "stored %zu bytes, expected %zu", nbytes, n);
        }
        memcpy(buf, raw, n);
        return CW_OK;
    }
    if (nact > 1) {
        CW_TRY(cw__reserve(&s->tmp, &s->tmp_cap, n));
    }
    /* Stage outputs alternate so that the last stage writes `buf`. */
    const void *in = raw;
    size_t inlen = nbytes;
    for (int k = 0; k < nact; k++) {
        void *out = ((nact - 1 - k) % 2 == 0) ? buf : s->tmp;
        const cw__filter_t *f = &filters[active[k]];
        switch (f->id) {
            case CW__FILTER_BLOSC:
                CW_TRY(cw__blosc_check(in, inlen, n));
                CW_TRY(cw__blosc2_decompress(s, in, inlen, out, n));
                break;
            case CW__FILTER_DEFLATE:
                CW_TRY(cw__deflate_decode(s, in, inlen, out, n));
                break;
            case CW__FILTER_ZSTD:
                CW_TRY(cw__zstd_decode(s, in, inlen, out, n));
                break;
            case CW__FILTER_LZ4:
                CW_TRY(cw__lz4_decode(in, inlen, out, n));
                break;
            case CW__FILTER_BZIP2:
                CW_TRY(cw__bzip2_decode(in, inlen, out, n));
                break;
            case CW__FILTER_LZF:
                CW_TRY(cw__lzf_decode(in, inlen, out, n));
                break;
            case CW__FILTER_BITSHUFFLE:
                CW_TRY(cw__bitshuffle_decode(s, f, in, inlen, out, n));
                break;
            case CW__FILTER_BLOSC2:
                CW_TRY(cw__blosc2_decode(s, f, in, inlen, out, n));
                break;
            case CW__FILTER_SHUFFLE:
                if (inlen != n) {
                    return cw__error(CW_ECORRUPT,
                                     "shuffled data of %zu bytes, "
                                     "expected %zu",
                                     inlen, n);
                }
                cw__unshuffle(in, out, n, f->typesize);
                break;
            default:
                return cw__error(CW_EIO, "internal: filter %u on the native path",
                                 f->id);
        }
        in = out;
        inlen = n;
    }
    return CW_OK;
fail:
    return rc;
}

size_t
cw__pipeline_encode_bytes(const cw_store_opts_t *o, size_t n)
{
    switch (o->codec) {
        case CW_CODEC_BLOSC:
            return n;
        case CW_CODEC_DEFLATE:
        case CW_CODEC_ZSTD:
        case CW_CODEC_BZIP2:
        case CW_CODEC_LZF:
            return n + (o->shuffle ? n : 0);
        case CW_CODEC_LZ4:
            return cw__lz4_encode_bound(n) + (o->shuffle ? n : 0);
        case CW_CODEC_BITSHUFFLE:
        case CW_CODEC_BITSHUFFLE_LZ4:
        case CW_CODEC_BITSHUFFLE_ZSTD:
            /* The encoded chunk (at most n bytes kept) and a block's rows
             * and byte planes (8 kB each). */
            return n + 2 * 8192;
        case CW_CODEC_BLOSC2:
            return cw__blosc2_encode_bound(n);
        default:
            return 0;
    }
}

int
cw__pipeline_encode(const cw_store_opts_t *o, size_t itemsize, const void *chunk,
                    size_t n, cw__io_scratch_t *s, const void **data, size_t *len,
                    uint32_t *mask)
{
    int rc = CW_OK;
    size_t enclen = 0;
    *data = chunk;
    *len = n;
    *mask = 0;
    if (o->codec == CW_CODEC_BLOSC) {
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, n));
        CW_TRY(cw__blosc_encode(o->blosc_codec, o->level,
                                o->bitshuffle ? 2
                                : o->shuffle  ? 1
                                              : 0,
                                itemsize, chunk, n, s->enc, n, &enclen));
        if (enclen > 0) {
            *data = s->enc;
            *len = enclen;
        }
        else {
            *mask = 1; /* filter 0 (Blosc) skipped: stored raw */
        }
    }
    else if (o->codec == CW_CODEC_BITSHUFFLE || o->codec == CW_CODEC_BITSHUFFLE_LZ4 ||
             o->codec == CW_CODEC_BITSHUFFLE_ZSTD) {
        unsigned comp = cw__bitshuffle_comp(o->codec);
        /* Bit-shuffled data are stored as they come (n bytes); compressed
         * chunks only when smaller, so encoding stops at n bytes. */
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, n > 0 ? n : 1));
        CW_TRY(cw__bitshuffle_encode(s, comp, o->level, itemsize, chunk, n, s->enc, n,
                                     &enclen));
        if (enclen > 0 && (comp == CW__BSHUF_NONE || enclen < n)) {
            *data = s->enc;
            *len = enclen;
        }
        else {
            *mask = 1; /* filter 0 (Bitshuffle) skipped: stored raw */
        }
    }
    else if (o->codec == CW_CODEC_BLOSC2) {
        /* Always a frame, as hdf5plugin writes it, even when it does not
         * shrink: PyTables' own reader decodes chunks without looking at
         * the filter mask. */
        CW_TRY(cw__blosc2_encode(o, itemsize, chunk, n, s, &enclen));
        *data = s->enc;
        *len = enclen;
    }
    else if (o->codec == CW_CODEC_DEFLATE || o->codec == CW_CODEC_ZSTD ||
             o->codec == CW_CODEC_LZ4 || o->codec == CW_CODEC_BZIP2 ||
             o->codec == CW_CODEC_LZF) {
        size_t cap = o->codec == CW_CODEC_LZ4 ? cw__lz4_encode_bound(n) : n;
        CW_TRY(cw__reserve(&s->enc, &s->enc_cap, cap > 0 ? cap : 1));
        const void *in = chunk;
        if (o->shuffle) {
            CW_TRY(cw__reserve(&s->tmp, &s->tmp_cap, n));
            cw__shuffle(chunk, s->tmp, n, itemsize);
            in = s->tmp;
        }
        if (o->codec == CW_CODEC_DEFLATE) {
            CW_TRY(cw__deflate_encode(s, o->level, in, n, s->enc, n, &enclen));
        }
        else if (o->codec == CW_CODEC_ZSTD) {
            CW_TRY(cw__zstd_encode(s, o->level, in, n, s->enc, n, &enclen));
        }
        else if (o->codec == CW_CODEC_BZIP2) {
            CW_TRY(cw__bzip2_encode(o->level, in, n, s->enc, n, &enclen));
        }
        else if (o->codec == CW_CODEC_LZF) {
            CW_TRY(cw__lzf_encode(in, n, s->enc, n, &enclen));
        }
        else if (cap > 0) {
            CW_TRY(cw__lz4_encode(in, n, s->enc, cap, &enclen));
        }
        if (enclen > 0) {
            *data = s->enc;
            *len = enclen;
        }
        else {
            /* Compressor skipped; store unshuffled data with shuffle skipped
             * too, so every reader sees plain bytes. */
            *mask = o->shuffle ? 3u : 1u;
        }
    }
fail:
    return rc;
}
