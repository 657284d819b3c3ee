/*
 * storage_impl.h -- the internal interface of storage/, and all the engine
 * sees of it: sources and their chunk streams, the region read, codecs.
 *
 * A source is a vtable plus geometry.  The engine asks a source either to
 * decode one whole chunk into a buffer (read_chunk: stored data) or to write
 * an arbitrary strided region straight into a destination (read_direct:
 * memory and generators, which have nothing to decode).
 */
#if !defined(CW_BUILDING_STORAGE) && !defined(CW_BUILDING_ENGINE)
#error "storage_impl.h is internal to the storage and engine layers"
#endif
#ifndef CW_STORAGE_IMPL_H
#define CW_STORAGE_IMPL_H

#include "chunkwise.h"
#include "core_impl.h"

/*
 * What reading and writing chunks needs, per thread: allocated once per
 * thread of a run and reused for every chunk.  Buffers grow only; `chunk`
 * doubles as a one-entry cache of the last decoded chunk (cached_src/
 * cached_chunk) so that a task whose region spans a chunk already decoded
 * by the previous task skips the work.  Layers above keep their own
 * scratch beside this one (the engine's worker holds both).
 */
typedef struct cw__io_scratch {
    void *raw; /* stored (compressed) bytes */
    size_t raw_cap;
    void *tmp; /* intermediate stage of a filter pipeline */
    size_t tmp_cap;
    void *chunk; /* one decoded chunk */
    size_t chunk_cap;
    const cw_source_t *cached_src;
    int64_t cached_chunk; /* linear index of the chunk held in `chunk` */
    struct libdeflate_decompressor *inflater;
    struct libdeflate_compressor *deflater;
    int deflater_level;
    void *zstd_d, *zstd_c; /* block-wise Blosc codec contexts */
    /* The Blosc block encoder's pending block and shuffle stage. */
    void *bpend;
    size_t bpend_cap;
    void *bshuf;
    size_t bshuf_cap;
    void *enc; /* one encoded chunk */
    size_t enc_cap;
    void *bitshuf; /* a Bitshuffle block's rows and byte planes */
    size_t bitshuf_cap;
    void *blosc2_d; /* Blosc2 decompression context (one thread) */
    void *b2buf;    /* a b2nd chunk's padded blocks */
    size_t b2buf_cap;
} cw__io_scratch_t;

/*
 * A chunk read as a stream of byte ranges (cw__cstream_get), so that a
 * computation holds one Blosc block of it at a time instead of the whole
 * decoded chunk.  Unfiltered chunks are read range by range; chunks that
 * cannot be decoded block by block (other filters, codecs without a
 * block-level decoder here, chunks read through HDF5) are decoded whole
 * once and served from memory.  Buffers grow only and are reused.
 */
typedef struct cw__bframe {
    int format; /* Blosc compressor format (flags >> 5) */
    bool memcpyed, shuffled, dont_split;
    size_t typesize, nbytes, blocksize, cbytes;
    int64_t nblocks;
} cw__bframe_t;

typedef struct cw__cstream {
    const cw_source_t *src;
    int kind;        /* CW__CS_* */
    uint64_t offset; /* file offset of the stored chunk */
    int fd;
    cw__bframe_t f;
    unsigned char *bstarts; /* the frame's block offsets (little-endian) */
    size_t bstarts_cap;
    unsigned char *cbuf; /* stored bytes of one block */
    size_t cbuf_cap;
    unsigned char *blk; /* one decoded block (byte planes if shuffled) */
    size_t blk_cap;
    int64_t blk_at;     /* which block `blk` holds, -1 none */
    unsigned char *out; /* a range handed out (or the whole chunk) */
    size_t out_cap;
    bool swap;
    unsigned char fill[8];
    /* For error messages: the chunk and its dataset. */
    int64_t cidx[CW_MAXDIM];
    const char *name, *path;
} cw__cstream_t;

enum { CW__CS_NONE, CW__CS_WHOLE, CW__CS_FILL, CW__CS_RAW, CW__CS_BLOSC };

/* Bytes [off, off + n) of the chunk opened in `cs` (native byte order);
 * *ptr stays valid until the next call on `cs`. */
int cw__cstream_get(cw__cstream_t *cs, size_t off, size_t n, const char **ptr,
                    cw__io_scratch_t *s);
void cw__cstream_free(cw__cstream_t *cs);
/* pread exactly n bytes at off (retrying short reads and EINTR). */
int cw__pread_all(int fd, void *buf, size_t n, uint64_t off);
/* Prefix this thread's error message with "chunk (i, j) of 'name' in
 * 'path': ". */
void cw__prefix_chunk(const cw_source_t *src, const int64_t *cidx, const char *name,
                      const char *path);
/* Set `cs` (src set) to read `stored` bytes at `offset` of fd: raw bytes,
 * or a Blosc frame (*ok false: the frame needs the whole-frame decoder). */
int cw__cstream_open_stored(cw__cstream_t *cs, int fd, uint64_t offset, size_t stored,
                            bool blosc, bool *ok);

void cw__io_scratch_init(cw__io_scratch_t *s);
void cw__io_scratch_destroy(cw__io_scratch_t *s);
/* Swap the buffer *buf (capacity *cap) with the scratch's encode buffer
 * `enc`: a caller whose own buffer is free while a chunk is encoded lends
 * it, so that the thread holds one buffer less; a second call with the
 * same arguments gives it back. */
void cw__io_lend_enc(cw__io_scratch_t *s, void **buf, size_t *cap);

struct cw__source_ops {
    const char *kind;
    /* Prepare for a run (open files); called on the submitting thread. */
    int (*begin)(cw_source_t *src);
    /* Undo begin; called once per successful begin. */
    void (*end)(cw_source_t *src);
    /* Decode chunk `cidx` (chunk coordinates) into `buf`, a C-contiguous
     * buffer of the full chunk shape.  Called from worker threads. */
    int (*read_chunk)(cw_source_t *src, const int64_t *cidx, void *buf,
                      cw__io_scratch_t *s);
    /* Write elements start + j*step, j < count, to dst with byte strides.
     * NULL for sources that must go through read_chunk. */
    int (*read_direct)(cw_source_t *src, const int64_t *start, const int64_t *step,
                       const int64_t *count, char *dst, const int64_t *strides,
                       cw__io_scratch_t *s);
    /* For sources that live in memory: the address of element `start` and
     * the byte strides of a selection with steps `step`, so computations
     * read them in place.  NULL otherwise. */
    void (*address)(const cw_source_t *src, const int64_t *start, const int64_t *step,
                    const char **ptr, int64_t *strides);
    /* Extra per-thread bytes one task of this source may use beyond the
     * decoded chunk (compressed bytes, pipeline stage). */
    size_t (*scratch_bytes)(const cw_source_t *src);
    /* Open chunk `cidx` as a stream of byte ranges; NULL for sources that
     * do not store chunks. */
    int (*stream_open)(cw_source_t *src, const int64_t *cidx, cw__cstream_t *cs,
                       cw__io_scratch_t *s);
    void (*destroy)(cw_source_t *src);
};

struct cw_source {
    const struct cw__source_ops *ops;
    int ndim;
    cw_dtype_t dtype;
    size_t itemsize;
    int64_t shape[CW_MAXDIM];
    int64_t chunks[CW_MAXDIM];
    int64_t nchunks[CW_MAXDIM]; /* chunks per dimension */
    size_t chunk_nbytes;        /* bytes of one full chunk */
    void *impl;
};

/*
 * Fill in geometry (shape, chunks, nchunks, chunk_nbytes) of a new source,
 * checking ranges and overflow.  `chunks` NULL or zeros pick a default of
 * about `target_bytes` per chunk.
 */
int cw__source_init(cw_source_t *src, const struct cw__source_ops *ops, int ndim,
                    const int64_t *shape, cw_dtype_t dtype, const int64_t *chunks,
                    size_t target_bytes);

/*
 * Begin srcs[0..n) in order for a run (ops->begin, where a source has one).
 * When one fails, the sources begun before it are ended and its status is
 * returned, so on failure nothing is left begun.  Submitting thread.
 */
int cw__sources_begin(cw_source_t *const *srcs, int n);
/* End srcs[0..n) in order, after a successful cw__sources_begin. */
void cw__sources_end(cw_source_t *const *srcs, int n);

/* ----------------------------------------------------------- region.c */

/*
 * Write the elements start + j*step (j < count, per source dim) of `src`
 * to dst with byte strides, decoding the chunks they live in.  A chunk
 * that maps onto a contiguous block of dst is decoded straight into it.
 * Called from worker threads; `s` is the calling thread's scratch.
 */
int cw__read_region(cw_source_t *src, const int64_t *start, const int64_t *step,
                    const int64_t *count, char *dst, const int64_t *strides,
                    cw__io_scratch_t *s);

/* Bytes one thread needs to read regions of `src` (decoded chunk and the
 * source's own scratch). */
size_t cw__source_working_set(const cw_source_t *src);

/* ----------------------------------------------------------- gather.c */

/* Write element flat[i] (C-order flat index) of `in` to dst + dstoff[i],
 * for i < n, reading each chunk that holds one of them once, as the box
 * that bounds its elements.  Worker threads. */
int cw__gather_elems(cw_source_t *in, int64_t n, const int64_t *flat,
                     const int64_t *dstoff, char *dst, cw__io_scratch_t *s);
/* A region read of a source (as cw__source_ops.read_direct). */
typedef int (*cw__region_fn)(cw_source_t *src, const int64_t *start,
                             const int64_t *step, const int64_t *count, char *dst,
                             const int64_t *strides, cw__io_scratch_t *s);
/* Read a region as pieces of at most max_elems elements (split along the
 * outermost axes), each with `piece`: bounds what a piece lists per
 * element. */
int cw__region_in_pieces(cw_source_t *src, const int64_t *start, const int64_t *step,
                         const int64_t *count, char *dst, const int64_t *strides,
                         cw__io_scratch_t *s, int64_t max_elems, cw__region_fn piece);
/* The elements of one piece of a gather or reshape region: a chunk's
 * elements, but no more than make index tables (four int64 per element)
 * of four times the chunk's bytes, as for 8-byte items; so a bool or int8
 * reshape lists 32 bytes per element of a piece, not per byte of a chunk. */
static inline int64_t
cw__piece_elems(const cw_source_t *src)
{
    int64_t elems = (int64_t)(src->chunk_nbytes / src->itemsize);
    int64_t cap = (int64_t)(src->chunk_nbytes / sizeof(int64_t));
    cap = cap < 4096 ? 4096 : cap;
    return elems < cap ? elems : cap;
}
/* For a region of `src`: the C-order flat index of each element over
 * src's shape and its byte offset in dst (owned arrays of *n entries,
 * free with cw__free). */
int cw__region_elems(const cw_source_t *src, const int64_t *start, const int64_t *step,
                     const int64_t *count, const int64_t *strides, int64_t **flat,
                     int64_t **off, int64_t *n);

/* ------------------------------------------------------------- codecs */

/* Decode a Blosc frame of `srclen` bytes into exactly `dstlen` bytes. */
int cw__blosc_decode(const void *src, size_t srclen, void *dst, size_t dstlen);
/* cw__blosc_decode's checks of a frame's header against srclen and
 * dstlen, without decoding it. */
int cw__blosc_check(const void *src, size_t srclen, size_t dstlen);
/* Encode; returns the encoded size, or 0 if it would not be smaller than
 * `srclen` (store the chunk raw with the filter skipped). */
int cw__blosc_encode(const char *codec, int level, int shuffle, size_t typesize,
                     const void *src, size_t srclen, void *dst, size_t dstcap,
                     size_t *outlen);
/* Parse a frame's header (`stored` bytes in all, decoding to `expect`);
 * *blockwise false when this frame needs the whole-frame decoder. */
int cw__bframe_parse(const void *hdr, size_t stored, size_t expect, cw__bframe_t *f,
                     bool *blockwise);
/* Bytes of block b, and its stored bytes (src, srclen) decoded into dst
 * (byte planes when f->shuffled). */
size_t cw__bframe_block_len(const cw__bframe_t *f, int64_t b);
int cw__bframe_decode_block(const cw__bframe_t *f, int64_t b, const void *src,
                            size_t srclen, void *dst, cw__io_scratch_t *s);
/* Streams a block of len bytes is stored as (one per byte plane, or one),
 * and one stream of n stored bytes decoded to exactly len bytes (-1 when
 * it does not decode). */
size_t cw__bframe_nsplits(const cw__bframe_t *f, size_t len);
int cw__bframe_decode_stream(const cw__bframe_t *f, const void *src, size_t n,
                             void *dst, size_t len, cw__io_scratch_t *s);
void cw__bframe_scratch_free(cw__io_scratch_t *s);

/* Streaming Blosc encoder: a frame built block by block from bytes fed in
 * order, so the uncompressed chunk never exists whole. */
typedef struct cw__benc {
    int format, code, level;
    bool shuffle;
    size_t typesize, nbytes, blocksize, fed, npend;
    int64_t nblocks, next;
    unsigned char *out;
    size_t cap, pos;
    cw__io_scratch_t *s;
} cw__benc_t;

/* Whether a codec has a block-level encoder here. */
bool cw__benc_supported(const char *codec);
/* Capacity `out` needs for a chunk of nbytes. */
size_t cw__benc_bound(int level, size_t typesize, size_t nbytes);
int cw__benc_start(cw__benc_t *b, const char *codec, int level, bool shuffle,
                   size_t typesize, size_t nbytes, void *out, size_t cap,
                   cw__io_scratch_t *s);
/* Feed n bytes (NULL: n zero bytes). */
int cw__benc_feed(cw__benc_t *b, const void *data, size_t n);
/* After exactly nbytes were fed: the frame's length. */
int cw__benc_finish(cw__benc_t *b, size_t *outlen);

/* Compression code of a Blosc codec name, or -1. */
int cw__blosc_code(const char *codec);
const char *cw__blosc_name(int code);

/* Decode a zlib stream (HDF5 deflate filter) into exactly dstlen bytes. */
int cw__deflate_decode(cw__io_scratch_t *s, const void *src, size_t srclen, void *dst,
                       size_t dstlen);
/* Encode at `level`; *outlen 0 when not smaller than the input. */
int cw__deflate_encode(cw__io_scratch_t *s, int level, const void *src, size_t srclen,
                       void *dst, size_t dstcap, size_t *outlen);
/* Release the scratch's deflate coders. */
void cw__deflate_scratch_free(cw__io_scratch_t *s);

/* Decode one zstd frame (HDF5 filter 32015) into exactly dstlen bytes. */
int cw__zstd_decode(cw__io_scratch_t *s, const void *src, size_t srclen, void *dst,
                    size_t dstlen);
/* Encode at `level`; *outlen 0 when not smaller than the input. */
int cw__zstd_encode(cw__io_scratch_t *s, int level, const void *src, size_t srclen,
                    void *dst, size_t dstcap, size_t *outlen);
/* The big-endian integers of the LZ4 filter's and Bitshuffle's chunk headers
 * (total size, block size, each block's compressed length): n bytes at p. */
static inline uint64_t
cw__get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static inline void
cw__put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* Decode an LZ4 filter chunk (HDF5 filter 32004) into exactly dstlen bytes. */
int cw__lz4_decode(const void *src, size_t srclen, void *dst, size_t dstlen);
/* Capacity cw__lz4_encode needs for n bytes (0: too large to encode). */
size_t cw__lz4_encode_bound(size_t n);
/* Encode as one block; *outlen 0 when not smaller than the input. */
int cw__lz4_encode(const void *src, size_t srclen, void *dst, size_t dstcap,
                   size_t *outlen);

/* Decode one bzip2 stream (HDF5 filter 307) into exactly dstlen bytes. */
int cw__bzip2_decode(const void *src, size_t srclen, void *dst, size_t dstlen);
/* Encode with cw__bzip2_block(level); *outlen 0 when not smaller. */
int cw__bzip2_encode(int level, const void *src, size_t srclen, void *dst,
                     size_t dstcap, size_t *outlen);
/* bzip2's block size (in 100 kB) for a level: 1-9 as given, else 9. */
int cw__bzip2_block(int level);

/* Initialise c-blosc2 once per process (never torn down). */
void cw__blosc2_init(void);
/* Blosc2 compressor code of a codec name, or -1. */
int cw__blosc2_code(const char *codec);
/* Codec name of a Blosc2 compressor code ("unknown" if none). */
const char *cw__blosc2_name(int code);
/* Release the scratch's Blosc2 context and buffer. */
void cw__blosc2_scratch_free(cw__io_scratch_t *s);
/* Decode a Blosc2 filter chunk (HDF5 filter 32026: a frame, with or
 * without a b2nd metalayer, or a bare chunk) into exactly dstlen bytes;
 * f->ndim and f->chunks, when set, must match a b2nd array's shape. */
struct cw__filter;
int cw__blosc2_decode(cw__io_scratch_t *s, const struct cw__filter *f, const void *src,
                      size_t srclen, void *dst, size_t dstlen);
/* Decompress one Blosc chunk (Blosc2's, or a Blosc v1 frame, which
 * c-blosc2 reads too) of exactly dstlen bytes, with the thread's
 * context. */
int cw__blosc2_decompress(cw__io_scratch_t *s, const void *src, size_t srclen,
                          void *dst, size_t dstlen);
/* Capacity a Blosc2 frame of a chunk of n bytes may need. */
size_t cw__blosc2_encode_bound(size_t n);
/* Encode a chunk of `o`'s chunk shape into s->enc as hdf5plugin writes
 * it (a b2nd frame for ranks 2..16, else a plain frame); *outlen its
 * length. */
int cw__blosc2_encode(const cw_store_opts_t *o, size_t itemsize, const void *src,
                      size_t srclen, cw__io_scratch_t *s, size_t *outlen);

/* Decode an LZF chunk (HDF5 filter 32000) into exactly dstlen bytes. */
int cw__lzf_decode(const void *src, size_t srclen, void *dst, size_t dstlen);
/* Encode; *outlen 0 when not smaller than the input. */
int cw__lzf_encode(const void *src, size_t srclen, void *dst, size_t dstcap,
                   size_t *outlen);

/* Bitshuffle (HDF5 filter 32008): the block size in elements a filter
 * with cd_values[3] == block uses for elements of elem_size bytes. */
size_t cw__bitshuffle_block_elems(size_t elem_size, size_t block);
/* Decode a chunk of the filter f (typesize, block, comp) into exactly
 * dstlen bytes. */
struct cw__filter;
int cw__bitshuffle_decode(cw__io_scratch_t *s, const struct cw__filter *f,
                          const void *src, size_t srclen, void *dst, size_t dstlen);
/* The most bytes a valid chunk of n decoded bytes can take in the file. */
uint64_t cw__bitshuffle_stored_bound(const struct cw__filter *f, size_t n);
/* Capacity cw__bitshuffle_encode needs for n bytes. */
size_t cw__bitshuffle_encode_bound(unsigned comp, size_t es, size_t n);
/* Encode n bytes of elements of es bytes with compressor comp (CW__BSHUF_*)
 * at `level` (Zstd), in blocks of the default size; *outlen 0 when it does
 * not fit in cap. */
int cw__bitshuffle_encode(cw__io_scratch_t *s, unsigned comp, int level, size_t es,
                          const void *src, size_t n, void *dst, size_t cap,
                          size_t *outlen);
/* The Bitshuffle compressor (CW__BSHUF_*) of a CW_CODEC_BITSHUFFLE* codec. */
unsigned cw__bitshuffle_comp(cw_codec_t codec);
/* One block of nelem elements (a multiple of 8) of es bytes, both ways;
 * `planes` holds nelem * es bytes when es > 1. */
void cw__bitunshuffle(const void *src, void *dst, size_t nelem, size_t es,
                      void *planes);
void cw__bitshuffle(const void *src, void *dst, size_t nelem, size_t es, void *planes);

/* Elements [e0, e1) of byte planes of nelem elements, interleaved. */
void cw__unshuffle_range(const void *planes, size_t nelem, size_t typesize, size_t e0,
                         size_t e1, void *dst);
/* HDF5 shuffle filter (byte planes) and its inverse. */
void cw__unshuffle(const void *src, void *dst, size_t n, size_t typesize);
void cw__shuffle(const void *src, void *dst, size_t n, size_t typesize);
/* Reverse the byte order of n/itemsize elements in place. */
void cw__byteswap(void *buf, size_t n, size_t itemsize);

/* ---------------------------------------------------- codec/pipeline.c */

/* HDF5 filter ids: numbers of the file format. */
enum {
    CW__FILTER_DEFLATE = 1,
    CW__FILTER_SHUFFLE = 2,
    CW__FILTER_BZIP2 = 307,
    CW__FILTER_LZF = 32000,
    CW__FILTER_BLOSC = 32001,
    CW__FILTER_LZ4 = 32004,
    CW__FILTER_BITSHUFFLE = 32008,
    CW__FILTER_ZSTD = 32015,
    CW__FILTER_BLOSC2 = 32026
};
/* The Bitshuffle filter's compressors (its cd_values[4]). */
enum { CW__BSHUF_NONE = 0, CW__BSHUF_LZ4 = 2, CW__BSHUF_ZSTD = 3 };
#define CW__MAX_FILTERS 16

/* One filter of a dataset's pipeline, as the native path decodes it. */
typedef struct cw__filter {
    unsigned id;     /* CW__FILTER_* */
    size_t typesize; /* the shuffle or Bitshuffle filter's element size */
    size_t block;    /* Bitshuffle: block size in elements, 0 the default */
    unsigned comp;   /* Bitshuffle: CW__BSHUF_* */
    int ndim;        /* Blosc2: the chunk's rank and shape (0: unchecked) */
    int64_t chunks[CW_MAXDIM];
} cw__filter_t;

/* Undo the filters of `filters` (in the order they were applied on write)
 * that `mask` does not skip, from `raw` (nbytes stored) into exactly n
 * bytes of `buf`.  Worker thread, no lock. */
int cw__pipeline_decode(const cw__filter_t *filters, int nfilters, unsigned mask,
                        const void *raw, size_t nbytes, void *buf, size_t n,
                        cw__io_scratch_t *s);
/* Per-thread bytes encoding a chunk of n bytes for `o` needs. */
size_t cw__pipeline_encode_bytes(const cw_store_opts_t *o, size_t n);
/* Encode a chunk of n bytes for a dataset written with `o`: *data and *len
 * are what to store (the scratch's `enc`, or `chunk` itself when encoding
 * does not make it smaller) and *mask the filters skipped. */
int cw__pipeline_encode(const cw_store_opts_t *o, size_t itemsize, const void *chunk,
                        size_t n, cw__io_scratch_t *s, const void **data, size_t *len,
                        uint32_t *mask);

/* -------------------------------------------------------------- sinks */

/*
 * A dataset being written.  The sink owns its codec and filter pipeline:
 * the engine hands it decoded chunks (C order, padded to the chunk shape),
 * whole or as bytes in order, and never sees a mask, a level or a Blosc
 * header.  Nothing appears under the final name before commit.
 */
typedef struct cw__sink cw__sink_t;

/* One chunk being written as bytes in order (stream_begin .. stream_end). */
typedef struct cw__chunk_writer {
    cw__sink_t *k;
    int64_t off[CW_MAXDIM];
    cw__benc_t enc;
    cw__io_scratch_t *s;
} cw__chunk_writer_t;

struct cw__sink_ops {
    const char *kind;
    /* Per-thread bytes a writer needs beyond the chunk itself. */
    size_t (*scratch_bytes)(const cw__sink_t *k);
    /* Create the dataset under a temporary name.  Submitting thread. */
    int (*open)(cw__sink_t *k);
    /* Encode and write one whole chunk at element offset `off`; `chunk`
     * is borrowed.  Worker thread. */
    int (*put_chunk)(cw__sink_t *k, const int64_t *off, const void *chunk,
                     cw__io_scratch_t *s);
    /* Write a dataset that is not chunked (0-d or empty) from a
     * C-contiguous buffer.  Submitting thread. */
    int (*put_all)(cw__sink_t *k, const void *data);
    /* Or stream a chunk (only when k->streams): feed its chunk_nbytes in
     * order (NULL bytes: zeros); stream_end pads what was not fed with
     * zeros, then writes.  Worker thread. */
    int (*stream_begin)(cw__sink_t *k, const int64_t *off, cw__chunk_writer_t *w,
                        cw__io_scratch_t *s);
    int (*stream_feed)(cw__chunk_writer_t *w, const void *bytes, size_t n);
    int (*stream_end)(cw__chunk_writer_t *w);
    /* Link under the final name and close / remove everything written and
     * close.  Either frees the sink.  Submitting thread. */
    int (*commit)(cw__sink_t *k);
    void (*abort)(cw__sink_t *k);
};

struct cw__sink {
    const struct cw__sink_ops *ops;
    cw_store_opts_t o; /* resolved: shape, chunks, codec */
    cw_dtype_t dtype;
    size_t itemsize;
    size_t chunk_nbytes; /* bytes of one decoded chunk */
    bool chunked;        /* false: put_all writes the dataset whole */
    bool streams;        /* the codec encodes bytes fed in order */
};

/* A sink for a new dataset `name` of `path` with options `opts` (shape,
 * chunks resolved).  Checks the options; creates nothing until open. */
int cw__sink_new_hdf5(const char *path, const char *name, const cw_store_opts_t *opts,
                      cw_dtype_t dtype, cw__sink_t **out);

/* ------------------------------------------------------------- HDF5 */

/* The process-wide lock around every libhdf5 call (storage/h5lock.c). */
void cw__h5_lock(void);
void cw__h5_unlock(void);
/* Append HDF5's innermost error description to this thread's message. */
void cw__h5_error_detail(void);
/* Whether a description on this thread's HDF5 error stack contains text. */
bool cw__h5_error_mentions(const char *text);

#endif
