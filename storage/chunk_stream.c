/*
 * cstream.c -- reading one stored chunk as byte ranges (see source_impl.h).
 *
 * A Blosc chunk keeps its block offsets and one decoded block: ranges
 * inside that block are handed out in place (or unshuffled from its byte
 * planes), ranges across blocks are gathered.  Each block's stored bytes
 * are read with pread on their own, so nothing the size of the chunk is
 * ever held; or, where the source read the stored chunk ahead with O_DIRECT
 * (dio.c), served from those bytes in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage_impl.h"

#define HEADER 16

int
cw__pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return cw__error(CW_EIO, "cannot read %zu bytes at offset %llu: %s", n,
                             (unsigned long long)off,
                             k < 0 ? strerror(errno) : "file truncated");
        }
        done += (size_t)k;
    }
    return CW_OK;
}

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Bytes [pos, pos + n) of the file: inside the stored chunk held in
 * memory, or read into *buf.  *out points to them. */
static int
stored_range(cw__cstream_t *cs, uint64_t pos, size_t n, unsigned char **buf,
             size_t *cap, const unsigned char **out)
{
    if (cs->mem) {
        uint64_t at = pos - cs->mem_off;
        if (pos < cs->mem_off || at > cs->mem_len || n > cs->mem_len - at) {
            return cw__error(CW_ECORRUPT,
                             "%zu bytes at offset %llu lie outside the stored chunk", n,
                             (unsigned long long)pos);
        }
        *out = cs->mem + at;
        return CW_OK;
    }
    CW_TRY_RET(cw__reserve((void **)buf, cap, n ? n : 1));
    CW_TRY_RET(cw__pread_all(cs->fd, *buf, n, pos));
    *out = *buf;
    return CW_OK;
}

int
cw__cstream_open_stored(cw__cstream_t *cs, int fd, uint64_t offset, size_t stored,
                        const unsigned char *mem, bool blosc, bool *ok)
{
    const cw_source_t *src = cs->src;
    *ok = true;
    cs->fd = fd;
    cs->blk_at = -1;
    cs->mem = mem;
    cs->mem_off = offset;
    cs->mem_len = mem ? stored : 0;
    if (!blosc) {
        cs->kind = CW__CS_RAW;
        cs->offset = offset;
        return CW_OK;
    }
    const unsigned char *hdr;
    CW_TRY_RET(stored_range(cs, offset, stored < HEADER ? stored : HEADER, &cs->cbuf,
                            &cs->cbuf_cap, &hdr));
    bool blockwise;
    CW_TRY_RET(cw__bframe_parse(hdr, stored, src->chunk_nbytes, &cs->f, &blockwise));
    if (!blockwise) {
        *ok = false;
        return CW_OK;
    }
    if (cs->f.memcpyed) {
        cs->kind = CW__CS_RAW;
        cs->offset = offset + HEADER;
        return CW_OK;
    }
    size_t nb = 4 * (size_t)cs->f.nblocks;
    const unsigned char *starts;
    CW_TRY_RET(
        stored_range(cs, offset + HEADER, nb, &cs->cbuf, &cs->cbuf_cap, &starts));
    CW_TRY_RET(cw__reserve((void **)&cs->bstarts, &cs->bstarts_cap, nb));
    memcpy(cs->bstarts, starts, nb);
    cs->kind = CW__CS_BLOSC;
    cs->offset = offset;
    return CW_OK;
}

/* Decode block b into cs->blk.  A block split into byte-plane streams is
 * read a stream at a time (each read also fetches the next stream's
 * length), so only one stream's stored bytes are held. */
static int
load_block(cw__cstream_t *cs, int64_t b, cw__io_scratch_t *s)
{
    if (cs->blk_at == b) {
        return CW_OK;
    }
    const cw__bframe_t *f = &cs->f;
    size_t len = cw__bframe_block_len(f, b);
    size_t start = rd32(cs->bstarts + 4 * b);
    size_t first = HEADER + 4 * (size_t)f->nblocks;
    if (start < first || start >= f->cbytes) {
        return cw__error(CW_ECORRUPT,
                         "Blosc block %lld starts outside its "
                         "frame",
                         (long long)b);
    }
    CW_TRY_RET(cw__reserve((void **)&cs->blk, &cs->blk_cap,
                           f->blocksize < f->nbytes ? f->blocksize : f->nbytes));
    cs->blk_at = -1;
    size_t nsplits = cw__bframe_nsplits(f, len);
    if (nsplits == 1) {
        /* Blocks need not be stored in order: read as much as the block
         * can take (stored raw) and let the decoder find its end. */
        size_t n = f->cbytes - start < len + 4 ? f->cbytes - start : len + 4;
        const unsigned char *p;
        CW_TRY_RET(
            stored_range(cs, cs->offset + start, n, &cs->cbuf, &cs->cbuf_cap, &p));
        CW_TRY_RET(cw__bframe_decode_block(f, b, p, n, cs->blk, s));
        cs->blk_at = b;
        return CW_OK;
    }
    size_t neblock = len / nsplits, pos = start;
    const unsigned char *p = NULL;
    if (f->cbytes - pos < 4) {
        goto corrupt;
    }
    CW_TRY_RET(stored_range(cs, cs->offset + pos, 4, &cs->cbuf, &cs->cbuf_cap, &p));
    size_t n = rd32(p);
    for (size_t j = 0; j < nsplits; j++) {
        size_t more = j + 1 < nsplits ? 4 : 0;
        if (n == 0 || n > f->cbytes - pos - 4 || more > f->cbytes - pos - 4 - n) {
            goto corrupt;
        }
        CW_TRY_RET(stored_range(cs, cs->offset + pos + 4, n + more, &cs->cbuf,
                                &cs->cbuf_cap, &p));
        if (cw__bframe_decode_stream(f, p, n, cs->blk + j * neblock, neblock, s) < 0) {
            goto corrupt;
        }
        pos += 4 + n;
        n = more ? rd32(p + n) : 0;
    }
    cs->blk_at = b;
    return CW_OK;
corrupt:
    return cw__error(CW_ECORRUPT, "Blosc block %lld does not decode", (long long)b);
}

/* Bytes [lo, hi) of the loaded block, unshuffled, to dst. */
static int
copy_from_block(cw__cstream_t *cs, size_t lo, size_t hi, unsigned char *dst,
                cw__io_scratch_t *s)
{
    const cw__bframe_t *f = &cs->f;
    if (!f->shuffled) {
        memcpy(dst, cs->blk + lo, hi - lo);
        return CW_OK;
    }
    size_t len = cw__bframe_block_len(f, cs->blk_at);
    size_t ts = f->typesize, nelem = len / ts;
    if (lo % ts == 0 && hi % ts == 0 && hi <= nelem * ts) {
        cw__unshuffle_range(cs->blk, nelem, ts, lo / ts, hi / ts, dst);
        return CW_OK;
    }
    /* Ranges that cut elements of the frame's typesize, or reach the
     * bytes after its last whole element: unshuffle the block whole. */
    CW_TRY_RET(cw__reserve(&s->tmp, &s->tmp_cap, len));
    cw__unshuffle(cs->blk, s->tmp, len, ts);
    memcpy(dst, (char *)s->tmp + lo, hi - lo);
    return CW_OK;
}

void
cw__prefix_chunk(const cw_source_t *src, const int64_t *cidx, const char *name,
                 const char *path)
{
    char where[256];
    int k = snprintf(where, sizeof(where), "chunk (");
    for (int d = 0; d < src->ndim && k < (int)sizeof(where) - 32; d++) {
        k += snprintf(where + k, sizeof(where) - (size_t)k, "%s%lld", d ? ", " : "",
                      (long long)cidx[d]);
    }
    cw__error_prefix("%s%s) of '%s' in '%s': ", where, src->ndim == 1 ? "," : "", name,
                     path);
}

/* Name the chunk in a failure's message. */
static int
located(const cw__cstream_t *cs, int rc)
{
    if (rc < 0 && cs->path) {
        cw__prefix_chunk(cs->src, cs->cidx, cs->name, cs->path);
    }
    return rc;
}

static int
get_range(cw__cstream_t *cs, size_t off, size_t n, const char **ptr,
          cw__io_scratch_t *s)
{
    const cw_source_t *src = cs->src;
    if (off > src->chunk_nbytes || n > src->chunk_nbytes - off) {
        return cw__error(CW_EINVAL, "internal: range outside the chunk");
    }
    switch (cs->kind) {
        case CW__CS_WHOLE:
            *ptr = (const char *)cs->out + off;
            return CW_OK;
        case CW__CS_FILL:
            CW_TRY_RET(cw__reserve((void **)&cs->out, &cs->out_cap, n));
            cw__fill_pattern(cs->out, n, cs->fill, src->itemsize);
            *ptr = (const char *)cs->out;
            return CW_OK;
        case CW__CS_RAW: {
            const unsigned char *p;
            CW_TRY_RET(
                stored_range(cs, cs->offset + off, n, &cs->out, &cs->out_cap, &p));
            if (!cs->swap) {
                *ptr = (const char *)p; /* in place */
                return CW_OK;
            }
            if (p != cs->out) {
                CW_TRY_RET(cw__reserve((void **)&cs->out, &cs->out_cap, n ? n : 1));
                memcpy(cs->out, p, n);
            }
            break;
        }
        case CW__CS_BLOSC: {
            size_t bs = cs->f.blocksize;
            int64_t b0 = (int64_t)(off / bs), b1 = (int64_t)((off + n - 1) / bs);
            if (n == 0) {
                *ptr = (const char *)cs->out;
                return CW_OK;
            }
            if (b0 == b1 && !cs->f.shuffled && !cs->swap) {
                CW_TRY_RET(load_block(cs, b0, s));
                *ptr = (const char *)cs->blk + (off - (size_t)b0 * bs);
                return CW_OK;
            }
            CW_TRY_RET(cw__reserve((void **)&cs->out, &cs->out_cap, n));
            for (int64_t b = b0; b <= b1; b++) {
                size_t start = (size_t)b * bs;
                size_t lo = off > start ? off - start : 0;
                size_t end = off + n - start;
                size_t hi = end < cw__bframe_block_len(&cs->f, b)
                                ? end
                                : cw__bframe_block_len(&cs->f, b);
                CW_TRY_RET(load_block(cs, b, s));
                CW_TRY_RET(
                    copy_from_block(cs, lo, hi, cs->out + (start + lo - off), s));
            }
            break;
        }
        default:
            return cw__error(CW_EINVAL, "internal: chunk stream not open");
    }
    if (cs->swap) {
        cw__byteswap(cs->out, n, cw__dtype_part_size(src->dtype));
    }
    *ptr = (const char *)cs->out;
    return CW_OK;
}

int
cw__cstream_get(cw__cstream_t *cs, size_t off, size_t n, const char **ptr,
                cw__io_scratch_t *s)
{
    return located(cs, get_range(cs, off, n, ptr, s));
}

void
cw__cstream_free(cw__cstream_t *cs)
{
    cw__free(cs->bstarts);
    cw__free(cs->cbuf);
    cw__free(cs->blk);
    cw__free(cs->out);
    cw__free(cs->dio);
    memset(cs, 0, sizeof(*cs));
}
