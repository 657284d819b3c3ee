/*
 * chunkwise.h -- the public C API of chunkwise.
 *
 * chunkwise evaluates work over chunked N-dimensional arrays in parallel with
 * a bounded memory budget.  A *source* yields an array chunk by chunk (an HDF5
 * dataset, a strided buffer in memory, a generator such as zeros or arange).
 * A *selection* picks a regular subset of a source (start, step, count per
 * dimension, steps may be negative).  The engine materialises a selection into
 * a caller's buffer (cw_read) or streams it into a new HDF5 dataset
 * (cw_store), scheduling one OpenMP task per chunk.
 *
 * Conventions:
 *  - every function that can fail returns a status (CW_OK == 0, errors < 0)
 *    and delivers results through out-parameters, which stay NULL on failure;
 *  - the text of the last error on the calling thread is cw_errmsg();
 *  - pointer parameters are borrowed unless documented as owned;
 *  - *_free(NULL) is a no-op.
 */
#ifndef CHUNKWISE_H
#define CHUNKWISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CW_BUILDING_LIBRARY)
#define CW_API __attribute__((visibility("default")))
#else
#define CW_API
#endif

/** Maximum number of dimensions (HDF5's limit). */
#define CW_MAXDIM 32

/* ---------------------------------------------------------------- status */

/** X-macro of every status: name, value, description. */
#define CW_STATUS_MAP(X)                         \
    X(CW_OK, 0, "success")                       \
    X(CW_ENOMEM, -1, "out of memory")            \
    X(CW_EINVAL, -2, "invalid argument")         \
    X(CW_ETYPE, -3, "unsupported data type")     \
    X(CW_ENOENT, -4, "no such file")             \
    X(CW_ENOKEY, -11, "no such dataset")         \
    X(CW_EIO, -5, "input/output error")          \
    X(CW_ECORRUPT, -6, "corrupt chunk")          \
    X(CW_EEXIST, -7, "already exists")           \
    X(CW_EBUDGET, -8, "memory budget too small") \
    X(CW_ECANCEL, -9, "cancelled")               \
    X(CW_EINDEX, -10, "index out of range")

typedef enum cw_status {
#define CW_X_ENUM(name, value, text) name = value,
    CW_STATUS_MAP(CW_X_ENUM)
#undef CW_X_ENUM
} cw_status_t;

/** @brief Symbolic name of a status ("CW_EIO"); never NULL. */
CW_API const char *cw_status_name(int status);
/** @brief One-line description of a status; never NULL. */
CW_API const char *cw_status_str(int status);
/**
 * @brief The message recorded by the last failing call on this thread.
 * @return A borrowed, NUL-terminated string valid until the next chunkwise
 *         call on this thread; "" if none.
 * @note Thread-local: errors raised in worker threads are copied to the
 *       submitting thread before the call returns.
 */
CW_API const char *cw_errmsg(void);

/* ----------------------------------------------------------------- dtypes */

/** Every element type, once: enum suffix, NumPy name, bytes.  The enum,
 *  the size and name tables, the casts, the extension's NumPy types and
 *  chunkwise._core.dtypes all expand from this table (laid out by hand:
 *  clang-format is told to leave it). */
/* clang-format off */
#define CW_DTYPE_MAP(X)                                                   \
    X(BOOL, "bool", 1) X(INT8, "int8", 1) X(INT16, "int16", 2)            \
    X(INT32, "int32", 4) X(INT64, "int64", 8) X(UINT8, "uint8", 1)        \
    X(UINT16, "uint16", 2) X(UINT32, "uint32", 4) X(UINT64, "uint64", 8)  \
    X(FLOAT16, "float16", 2) X(FLOAT32, "float32", 4) X(FLOAT64, "float64", 8) \
    X(COMPLEX64, "complex64", 8) X(COMPLEX128, "complex128", 16)
/* clang-format on */

/** Element types (CW_BOOL is 0).  Values in memory are always native-endian. */
typedef enum cw_dtype {
#define CW__DTYPE_ENUM(NAME, STR, SIZE) CW_##NAME,
    CW_DTYPE_MAP(CW__DTYPE_ENUM)
#undef CW__DTYPE_ENUM
        CW_NDTYPES
} cw_dtype_t;

/** @brief Size in bytes of one element of @p dtype (0 if invalid). */
CW_API size_t cw_dtype_size(cw_dtype_t dtype);
/** @brief NumPy-style name of @p dtype ("float32"); never NULL. */
CW_API const char *cw_dtype_name(cw_dtype_t dtype);

/* ---------------------------------------------------------------- config */

/**
 * Poll callback, called on the submitting thread between chunks (at most
 * every few milliseconds).  @p done and @p total count tasks.  Return 0 to
 * continue, non-zero to cancel the run (it then fails with CW_ECANCEL).
 */
typedef int (*cw_poll_fn)(void *userdata, int64_t done, int64_t total);

/** Parameters of one run.  Zero-initialise, then set what you need. */
typedef struct cw_config {
    int threads;          /**< worker threads; <= 0 means all cores */
    int64_t memory_limit; /**< byte budget for work in flight; <= 0: 1 GiB */
    cw_poll_fn poll;      /**< optional; borrowed */
    void *poll_data;      /**< passed to @c poll; borrowed */
    /** How stored HDF5 chunks are read: 0 auto (O_DIRECT for scans of
     *  datasets larger than half of the available memory, once a run has
     *  read 256 MiB of one and for chunks not in the page cache), > 0
     *  always O_DIRECT where the file system takes it, < 0 never. */
    int direct_io;
} cw_config_t;

/** Floating-point conditions raised during a run (cw_fp_flags). */
#define CW_FP_DIVBYZERO 1
#define CW_FP_OVERFLOW 2
#define CW_FP_UNDERFLOW 4
#define CW_FP_INVALID 8
/** An integer raised to a negative integer power (cw_expr_builtin "power"). */
#define CW_FP_NEGPOW 16

/**
 * @brief The floating-point conditions (CW_FP_*) the last run started on
 *        this thread raised in any of its threads, as NumPy reports after a
 *        ufunc: division by zero, overflow, underflow, invalid operation.
 * @note Thread-local to the submitting thread.
 */
CW_API int cw_fp_flags(void);

/**
 * @brief Clear this thread's cw_fp_flags: a call that then runs no task (an
 *        empty array) reports no conditions rather than an earlier run's.
 */
CW_API void cw_fp_flags_clear(void);

/** @brief Number of cores the engine uses when threads <= 0. */
CW_API int cw_default_threads(void);

/* --------------------------------------------------------------- sources */

/** Opaque chunk source. */
typedef struct cw_source cw_source_t;
/** Opaque elementwise program (see "expressions" below). */
typedef struct cw_expr cw_expr_t;

/**
 * @brief Open an HDF5 dataset as a source, read-only.
 *
 * Validates the file, the dataset and its type now; the file is reopened for
 * the duration of each run and is not held open in between.
 * @param path  file name (borrowed).
 * @param name  dataset path inside the file (borrowed).
 * @param out   receives the new source (owned by the caller, free with
 *              cw_source_free); NULL on failure.
 * @return CW_OK, CW_ENOENT (missing file), CW_ENOKEY (missing dataset),
 *         CW_ETYPE (unsupported type, or @p name is not a dataset), CW_EIO
 *         (not an HDF5 file, unreadable).
 * @note Thread-safe; takes the process-wide HDF5 lock.
 */
CW_API int cw_source_open_hdf5(const char *path, const char *name, cw_source_t **out);
/**
 * @brief As cw_source_open_hdf5; with @p swmr the file is opened with
 *        H5F_ACC_SWMR_READ, so that a writer in SWMR mode may append to it
 *        (the shape is the one at opening; reopen to see appended data).
 */
CW_API int cw_source_open_hdf5_swmr(const char *path, const char *name, bool swmr,
                                    cw_source_t **out);

/**
 * @brief Wrap a strided buffer in memory as a source (no copy).
 * @param data    first element (borrowed: it must outlive the source).
 * @param strides byte strides per dimension, may be negative or zero.
 * @param chunks  chunk shape used to split work; NULL picks one.
 */
CW_API int cw_source_from_memory(const void *data, int ndim, const int64_t *shape,
                                 const int64_t *strides, cw_dtype_t dtype,
                                 const int64_t *chunks, cw_source_t **out);

/**
 * @brief A source whose every element is @p value (itemsize bytes, native
 *        order; copied).  NULL means zeros.
 */
CW_API int cw_source_new_full(int ndim, const int64_t *shape, cw_dtype_t dtype,
                              const void *value, const int64_t *chunks,
                              cw_source_t **out);

/**
 * @brief A 1-d source equal to numpy.arange(start, stop, step, dtype) of
 *        length @p n, element for element as NumPy fills it: elements 0
 *        and 1 are start and start+step converted to @p dtype, element
 *        i >= 2 is first + i*(second - first) in @p dtype's arithmetic
 *        (float16 in float32).
 * @param istart,istep    used for integer dtypes (exact, wrapping).
 * @param ffirst,fsecond  start and start+step, used for floating dtypes.
 * @return CW_ETYPE for bool.
 */
CW_API int cw_source_new_arange(int64_t n, int64_t istart, int64_t istep, double ffirst,
                                double fsecond, cw_dtype_t dtype, const int64_t *chunk,
                                cw_source_t **out);

/**
 * @brief A finished program (cw_expr_finish) read as a source: regions are
 *        evaluated on demand.  @p e is borrowed and must outlive the source.
 */
CW_API int cw_source_from_expr(cw_expr_t *e, cw_source_t **out);

/**
 * @brief The concatenation of @p n sources along @p axis (numpy.concatenate):
 *        same rank, dtype and extents except along @p axis.  The parts are
 *        borrowed and must outlive the result.  Reads of a region go to the
 *        parts it overlaps.
 */
CW_API int cw_source_concat(int n, cw_source_t *const *parts, int axis,
                            cw_source_t **out);

/**
 * @brief The matrix product of two sources (numpy.matmul), as a source:
 *        @p a is (..., m, k) and @p b (..., k, n), of one rank >= 2; each
 *        batch axis has one extent in both or extent 1 in one of them
 *        (broadcast).  A region of the product is computed when it is
 *        read, batch element by batch element, from blocks
 *        of @p a's rows and @p b's columns along the shared dimension, so
 *        memory stays at a few blocks however large the operands.  Both
 *        sources have the result's dtype (bool: or of ands; integers wrap;
 *        float16 accumulates in float32).  Borrowed; they must outlive it.
 * @param tile  the chunk extents of the product's last two axes and the
 *              block along the shared dimension: {rows, cols, inner}; zeros
 *              pick the operands'.  Batch axes are chunked as the operand
 *              that is not broadcast along them.
 */
CW_API int cw_source_matmul(cw_source_t *a, cw_source_t *b, const int64_t *tile,
                            cw_source_t **out);

/**
 * @brief cw_source_matmul's partial products, along a new first axis
 *        chunked by 1: element [s, ...] is the product over the shared
 *        dimension's slice [s*slice, (s+1)*slice) (@p slice >= 1), so
 *        their sum along that axis (a reduction, in parallel) is the product.
 */
CW_API int cw_source_matmul_partials(cw_source_t *a, cw_source_t *b,
                                     const int64_t *tile, int64_t slice,
                                     cw_source_t **out);

/**
 * @brief @p in seen with shape @p shape (same size), in C order
 *        (numpy.reshape): element i in C order of the result is element i
 *        of the input.  A region read reads only the input chunks holding
 *        its elements.  @p in is borrowed and must outlive the result.
 * @return CW_EINVAL when the sizes differ.
 */
CW_API int cw_source_reshape(cw_source_t *in, int ndim, const int64_t *shape,
                             cw_source_t **out);

/**
 * @brief Integer-array indexing (numpy's advanced indexing) of @p in, as a
 *        source of rank @p ndim and shape @p shape.
 *
 * Output axes [pos, pos + m) are the broadcast shape of the index tables;
 * every other output axis shows one input dimension whole.  For each input
 * dimension d, @p map[d] is the output axis showing it, or -1 - t when
 * table t (C-contiguous int64 over the m table axes, values in
 * [0, shape[d])) gives its index.  A region read groups its elements by
 * input chunk and reads only chunks holding selected elements.  @p in and
 * the tables are borrowed and must outlive the result.
 * @return CW_EINDEX for a table value out of range, CW_EINVAL for a
 *         malformed mapping.
 */
CW_API int cw_source_gather(cw_source_t *in, int ndim, const int64_t *shape,
                            const int *map, int ntab, const int64_t *const *tables,
                            int pos, int m, cw_source_t **out);

/** Boundary rules for the halo of a block function's argument tiles. */
enum {
    CW_HALO_NONE = 0, /* no halo past the array's edges (smaller tiles) */
    CW_HALO_REFLECT,  /* mirrored, the edge element included (numpy.pad 'symmetric') */
    CW_HALO_PERIODIC, /* wrapped around */
    CW_HALO_NEAREST,  /* the edge element repeated */
    CW_HALO_CONSTANT  /* a constant (cw_block_arg_t.fill) */
};

/** Arguments a block function takes at most. */
#define CW_BLOCK_MAX_ARGS 32

/** One argument of a block function (cw_source_blocks). */
typedef struct cw_block_arg {
    cw_source_t *src; /**< borrowed; must outlive the result */
    /** Per dimension of @p src: the output axis whose block index picks
     *  the argument's block along it, or -1: the whole extent. */
    int axis[CW_MAXDIM];
    /** For a dimension that follows an output axis: that axis's block
     *  count + 1 offsets into this dimension, from 0 to its extent
     *  (borrowed, copied). */
    const int64_t *bounds[CW_MAXDIM];
    int64_t depth[CW_MAXDIM]; /**< halo on each side (0: none) */
    int boundary[CW_MAXDIM];  /**< CW_HALO_* */
    unsigned char fill[16];   /**< the CW_HALO_CONSTANT value, in the dtype */
} cw_block_arg_t;

/** A C-contiguous block of a block function. */
typedef struct cw_tile {
    char *data;
    int ndim;
    cw_dtype_t dtype;
    int64_t shape[CW_MAXDIM];
} cw_tile_t;

/**
 * @brief A block function: fill @p out (its shape and dtype set) from the
 *        argument tiles @p in for output block @p block (block indices).
 * @return CW_OK, or a negative status (the run fails with it).
 * @note Called on worker threads, one call at a time per thread.
 */
typedef int (*cw_block_fn)(void *data, const int64_t *block, int nin,
                           const cw_tile_t *in, const cw_tile_t *out);

/**
 * @brief A function applied block by block, as a source (map_blocks,
 *        map_overlap, blockwise).  The output of rank @p ndim and shape
 *        @p shape is cut along axis k into @p nblocks[k] blocks at the
 *        offsets @p bounds[k] (nblocks[k] + 1 of them, from 0 to
 *        shape[k]; copied).  Reading a region calls @p fn once for each
 *        block it overlaps, with one tile per argument: along a
 *        dimension following output axis k, its block of that index,
 *        widened by its halo (read per its boundary rule); along the
 *        others, whole.  The chunk shape is the first block's.
 * @return CW_EINVAL for a malformed grid or argument (a mirrored or
 *         wrapped halo deeper than its axis).
 */
CW_API int cw_source_blocks(int nin, const cw_block_arg_t *args, int ndim,
                            const int64_t *shape, const int64_t *nblocks,
                            const int64_t *const *bounds, cw_dtype_t dtype,
                            cw_block_fn fn, void *data, cw_source_t **out);

/** @brief Release a source; NULL is a no-op. */
CW_API void cw_source_free(cw_source_t *src);

/** @brief Rank of the source. */
CW_API int cw_source_ndim(const cw_source_t *src);
/** @brief Shape (borrowed array of cw_source_ndim() entries). */
CW_API const int64_t *cw_source_shape(const cw_source_t *src);
/** @brief Chunk shape (borrowed array of cw_source_ndim() entries). */
CW_API const int64_t *cw_source_chunks(const cw_source_t *src);
/** @brief Element type. */
CW_API cw_dtype_t cw_source_dtype(const cw_source_t *src);
/** @brief Kind: "hdf5", "memory", "full" or "arange". */
CW_API const char *cw_source_kind(const cw_source_t *src);

/* ------------------------------------------------------------ selections */

/**
 * A regular selection of a source, one entry per source dimension: indices
 * start + j*step for j in [0, count).  step != 0; negative steps walk
 * backwards.  Every selected index must lie inside the source.
 */
typedef struct cw_sel {
    int ndim;
    int64_t start[CW_MAXDIM];
    int64_t step[CW_MAXDIM];
    int64_t count[CW_MAXDIM];
} cw_sel_t;

/** @brief Fill @p sel with the whole of @p src. */
CW_API void cw_sel_all(const cw_source_t *src, cw_sel_t *sel);

/* ------------------------------------------------------------------- run */

/**
 * @brief Materialise a selection into a caller's buffer, in parallel.
 *
 * Only the chunks that hold selected elements are read.  Chunks are decoded
 * outside the HDF5 lock, straight into @p dst when a chunk maps onto a
 * contiguous block of it.
 * @param dst      destination, element (0,...,0) of the selection (borrowed).
 * @param strides  byte strides of @p dst per *source* dimension.
 * @return CW_OK, CW_EINDEX, CW_ECORRUPT (message names the chunk), CW_EIO,
 *         CW_ECANCEL, CW_EBUDGET, CW_ENOMEM.
 * @note Runs without the Python GIL; @p cfg->poll is called on this thread.
 */
CW_API int cw_read(cw_source_t *src, const cw_sel_t *sel, void *dst,
                   const int64_t *strides, const cw_config_t *cfg);

/** Codecs for cw_store. */
typedef enum cw_codec {
    CW_CODEC_NONE = 0,
    CW_CODEC_BLOSC,           /**< HDF5 filter 32001 */
    CW_CODEC_DEFLATE,         /**< HDF5 filter 1 (gzip) */
    CW_CODEC_ZSTD,            /**< HDF5 filter 32015 (hdf5plugin.Zstd) */
    CW_CODEC_LZ4,             /**< HDF5 filter 32004 (hdf5plugin.LZ4) */
    CW_CODEC_BZIP2,           /**< HDF5 filter 307 (hdf5plugin.BZip2) */
    CW_CODEC_LZF,             /**< HDF5 filter 32000 (h5py's "lzf") */
    CW_CODEC_BITSHUFFLE,      /**< HDF5 filter 32008 without compression */
    CW_CODEC_BITSHUFFLE_LZ4,  /**< filter 32008 with LZ4 (hdf5plugin.Bitshuffle) */
    CW_CODEC_BITSHUFFLE_ZSTD, /**< filter 32008 with Zstd */
    CW_CODEC_BLOSC2           /**< HDF5 filter 32026 (hdf5plugin.Blosc2, PyTables
                                   "blosc2:<codec>") */
} cw_codec_t;

/** Options of cw_store.  Zero-initialise, then set what you need. */
typedef struct cw_store_opts {
    int ndim;                  /**< rank of the stored dataset */
    int64_t shape[CW_MAXDIM];  /**< its shape: the selection's counts, with
                                    dims of extent 1 dropped or inserted */
    int64_t chunks[CW_MAXDIM]; /**< its chunk shape; zeros pick one */
    int src_dim[CW_MAXDIM];    /**< source dimension of each stored dim, or
                                    -1 for an inserted dim of extent 1 */
    cw_codec_t codec;
    const char *blosc_codec; /**< Blosc or Blosc2 codec: "blosclz", "lz4",
                                  "lz4hc", "zlib", "zstd" */
    int level;               /**< 0-9 */
    bool shuffle;            /**< byte shuffle (Blosc's own, or HDF5's filter
                                  before deflate) */
    bool bitshuffle;         /**< Blosc/Blosc2 bit shuffle instead of byte
                                  shuffle */
    bool overwrite;          /**< replace an existing dataset of that name */
} cw_store_opts_t;

/**
 * @brief Stream a selection into a new chunked HDF5 dataset.
 *
 * Chunks are gathered and encoded by worker threads and written with
 * H5Dwrite_chunk under the HDF5 lock.  Memory in flight is bounded by
 * cfg->memory_limit.  The dataset is written under a temporary name and
 * linked under @p name only when complete; a new file is written under a
 * temporary file name and renamed.  Intermediate groups are created.
 * @return CW_OK, CW_EEXIST (dataset exists and !overwrite), CW_EIO,
 *         CW_EBUDGET (one task does not fit the budget), CW_ECANCEL, ...
 */
CW_API int cw_store(cw_source_t *src, const cw_sel_t *sel, const char *path,
                    const char *name, const cw_store_opts_t *opts,
                    const cw_config_t *cfg);

/* ------------------------------------------------------------ expressions */

/**
 * A loop over n elements of strided 1-d operands, inputs first, then the
 * output: NumPy's PyUFuncGenericFunction, so NumPy's own ufunc inner loops
 * can be handed to the engine.  Must not need the Python GIL.
 */
typedef void (*cw_loop_fn)(char **args, const intptr_t *n, const intptr_t *steps,
                           void *data);

/**
 * An elementwise program over sources: the engine's fused kernel.  Values
 * are inputs (selections of sources, broadcast onto the output shape),
 * scalars, casts and loops; one value is the result.  The program is
 * evaluated tile by tile (one OpenMP task per tile), and within a tile in
 * blocks of a few thousand elements, so temporaries stay in cache.
 */

/** @brief A new, empty program whose result has @p ndim / @p shape. */
CW_API int cw_expr_new(int ndim, const int64_t *shape, cw_expr_t **out);
/** @brief Release a program; NULL is a no-op.  Sources are not freed. */
CW_API void cw_expr_free(cw_expr_t *e);

/**
 * @brief Add an input: selection @p sel of @p src (borrowed: it must outlive
 *        @p e).  @p axis gives, per source dimension, the output axis it
 *        lines up with, or -1 for a dimension of count 1 that is dropped.
 *        A mapped dimension of count 1 under an output axis of larger
 *        extent is broadcast; output axes no dimension maps to are too.
 * @param id  receives the value's id.
 */
CW_API int cw_expr_input(cw_expr_t *e, cw_source_t *src, const cw_sel_t *sel,
                         const int *axis, int *id);
/** @brief Add a scalar of @p dtype (itemsize bytes at @p value, copied). */
CW_API int cw_expr_scalar(cw_expr_t *e, cw_dtype_t dtype, const void *value, int *id);
/** @brief Add a conversion of value @p in to @p to (unsafe casting). */
CW_API int cw_expr_cast(cw_expr_t *e, int in, cw_dtype_t to, int *id);
/** What is known about a loop (cw_expr_loop, cw_output_t.fn_flags), as
 *  NumPy knows it of its own loops (NPY_METH_REQUIRES_PYAPI,
 *  NPY_METH_IS_REORDERABLE, NPY_METH_NO_FLOATINGPOINT_ERRORS). */
enum {
    CW_LOOP_NEEDS_GIL = 1,   /**< calls the Python API: refused, the engine
                                  runs without the GIL */
    CW_LOOP_REORDERABLE = 2, /**< as a reduction, any grouping of the
                                  operands gives the same result: required
                                  by CW_OUT_REDUCE */
    CW_LOOP_NO_FPE = 4       /**< raises no floating-point flags */
};

/**
 * @brief Add a loop over @p nin values (of the dtypes the loop expects)
 *        producing one value of @p out.  @p data is passed to @p fn.
 * @param name   for cw_expr_describe (borrowed, copied).
 * @param flags  CW_LOOP_* flags of @p fn; CW_ETYPE for CW_LOOP_NEEDS_GIL.
 */
CW_API int cw_expr_loop(cw_expr_t *e, const char *name, cw_loop_fn fn, void *data,
                        unsigned flags, int nin, const int *ins, cw_dtype_t out,
                        int *id);
/**
 * @brief Add where(@p cond, @p a, @p b): @p cond a bool value, @p a and
 *        @p b values of one dtype, which the result has.
 */
CW_API int cw_expr_select(cw_expr_t *e, int cond, int a, int b, int *id);
/**
 * @brief Add a built-in loop: "power" for integer dtypes (NumPy's integer
 *        power, which cannot run as NumPy's own loop here because it
 *        reports negative exponents to Python from inside the loop; this
 *        one raises CW_FP_NEGPOW in cw_fp_flags instead).  Both inputs and
 *        the result have @p dtype.  "real" and "imag": the parts of one
 *        complex64 / complex128 input; @p dtype is float32 / float64.
 */
CW_API int cw_expr_builtin(cw_expr_t *e, const char *name, int nin, const int *ins,
                           cw_dtype_t dtype, int *id);
/** Lookups in an in-memory table (cw_expr_table). */
typedef enum cw_table_op {
    CW_TABLE_SEARCH_LEFT,  /**< int64 insertion index of each value in the
                                sorted table, before equal elements
                                (numpy.searchsorted side="left") */
    CW_TABLE_SEARCH_RIGHT, /**< ... after equal elements (side="right") */
    CW_TABLE_TAKE,         /**< the table's element at each int64 index,
                                clipped to [0, n) */
    CW_TABLE_UNIFORM_BINS  /**< numpy.histogram's int64 bin of each value
                                for equal bins, @p dtype float64 or float32
                                (the values'): the table is float64, first
                                edge, last - first, for float32 values 1.0
                                if NumPy divides in float32 (else 0.0),
                                then the n + 1 edges (n >= 1); values
                                outside the range must be replaced by an
                                edge first */
} cw_table_op_t;

/**
 * @brief Add a lookup of value @p in in @p table (@p n elements of @p dtype,
 *        C-contiguous).  Searches take values of @p dtype and give int64
 *        indices; the table must be sorted in NumPy's order (NaN last), as
 *        numpy.sort leaves it.  A take takes int64 indices and gives values
 *        of @p dtype; @p n must be at least 1.
 * @param table  borrowed: it must outlive @p e and stay unchanged.
 * @return CW_ETYPE for complex searches (NumPy's order is not kept here).
 */
CW_API int cw_expr_table(cw_expr_t *e, cw_table_op_t op, int in, const void *table,
                         int64_t n, cw_dtype_t dtype, int *id);
/** @brief Choose the result value and the tile shape work is split by
 *         (zeros: the first chunked input's chunks). */
CW_API int cw_expr_finish(cw_expr_t *e, int result, const int64_t *tile);
/** @brief Dtype of a value. */
CW_API cw_dtype_t cw_expr_dtype(const cw_expr_t *e, int id);
/** @brief The tile shape of a finished program into @p tile (ndim
 *  values); returns the number of axes, or CW_EINVAL before finish. */
CW_API int cw_expr_tile(const cw_expr_t *e, int64_t *tile);

/** What one output of a run computes (cw_output_t.kind). */
typedef enum cw_out_kind {
    CW_OUT_BUFFER,     /**< the value into dst, byte strides per axis */
    CW_OUT_REDUCE,     /**< fn over the axes where reduce_axis is true into
                            dst: C-contiguous, the shape without them */
    CW_OUT_ACCUMULATE, /**< fn along axis into dst (byte strides), or into a
                            new dataset when path is set */
    CW_OUT_ARGREDUCE,  /**< int64 indices of the extreme along axis (-1:
                            the array in C order) into dst, C-contiguous */
    CW_OUT_STORE,      /**< the value into a new HDF5 dataset */
    CW_OUT_BINCOUNT    /**< counts (or sums of weights) of each int64 bin
                            index in [0, nbins) into dst */
} cw_out_kind_t;

/**
 * One output of cw_expr_run: a kind and the fields that kind reads; the
 * others are ignored.  Every pointer is borrowed for the run.
 *
 * - CW_OUT_BUFFER: id, dst, strides.
 * - CW_OUT_REDUCE: id, fn and data (acc = fn(acc, x), of the value's
 *   dtype; every output element starts from the first element along the
 *   reduced axes, so the program must not be empty there), fn_flags (must
 *   include CW_LOOP_REORDERABLE: partials of tiles are combined in a fixed
 *   pairwise order of tiles, so results are bit-identical for any thread
 *   count), name, reduce_axis (per axis of the program), dst.
 * - CW_OUT_ACCUMULATE: fn, data, name, axis (out[i] = fn(out[i-1], x[i]),
 *   out[0] = x[0], as NumPy's ufunc.accumulate); dst and strides, or path,
 *   dataset and store to write chunks along the axis in order with the
 *   running row carried between them.
 * - CW_OUT_ARGREDUCE: is_max, axis, dst.  The first occurrence wins, and a
 *   NaN counts as the extreme (the first NaN), as NumPy's argmax/argmin.
 * - CW_OUT_STORE: path, dataset, store (see cw_store; only chunks, codec,
 *   blosc_codec, level, shuffle, bitshuffle and overwrite are used; the
 *   shape is the program's).
 * - CW_OUT_BINCOUNT: id (an int64 value: bin indices; those outside
 *   [0, nbins) are left out), nbins, dst (nbins elements), and when
 *   weighted the value `weights` (int64 or float64), whose sum per bin dst
 *   receives in that dtype; else dst holds int64 counts.  Tiles are
 *   counted in groups of consecutive tiles, one task per group, whose
 *   partials are combined pairwise in group order; the grouping depends
 *   only on the shape, the tiles, nbins and the memory limit, so float
 *   sums are bit-identical for any thread count.
 *
 * Accumulations, arg-reductions and stores are of the program's result:
 * their id must be that value.
 */
typedef struct cw_output {
    cw_out_kind_t kind;
    int id; /**< the value computed */
    void *dst;
    const int64_t *strides;
    cw_loop_fn fn;
    void *data;
    unsigned fn_flags; /**< CW_LOOP_* flags of fn */
    const char *name;  /**< fn's name, for messages */
    const bool *reduce_axis;
    int axis;
    bool is_max;
    const char *path, *dataset;
    const cw_store_opts_t *store;
    int64_t nbins;     /**< CW_OUT_BINCOUNT: bins counted */
    bool weighted;     /**< CW_OUT_BINCOUNT: sum value `weights` per bin */
    int weights;       /**< CW_OUT_BINCOUNT: that value's id */
    int64_t *extremes; /**< CW_OUT_BINCOUNT, optional: receives the least
                            and the greatest index (INT64_MAX, INT64_MIN
                            for none) */
    /** CW_OUT_REDUCE, optional (part_hi > part_lo): only the tiles whose
     *  partial index is in [part_lo, part_hi) are computed, and dst
     *  receives those partials uncombined: (part_hi - part_lo) x the kept
     *  shape, C-contiguous.  A tile's partial index is its index in C order
     *  over the tile grid of the reduced axes (see cw_expr_tile); combining
     *  all of them pairwise in index order (step 1, 2, 4, ...: r with
     *  r + step) gives the result of the whole run, bit for bit.  Every
     *  output of such a pass must be a reduction over the same axes with
     *  the same range. */
    int64_t part_lo, part_hi;
} cw_output_t;

/**
 * @brief Compute @p n outputs of a finished program, in parallel.
 *
 * Buffers and reductions share one pass over the program's tiles, so every
 * input chunk is read and decoded once for all of them (at most 8 in all).
 * Accumulations, arg-reductions and stores run after it, one at a time, in
 * the order given.
 *
 * @return CW_OK; CW_EINVAL naming an output that is malformed (an id that is
 *         not the result where it must be, an axis out of range, more than 8
 *         results of a pass, a reduction whose loop is not reorderable, a
 *         reduction over an empty array); CW_EBUDGET, CW_EIO, CW_ECORRUPT,
 *         CW_ECANCEL, ... from the run (see cw_read and cw_store).
 */
CW_API int cw_expr_run(cw_expr_t *e, int n, const cw_output_t *outs,
                       const cw_config_t *cfg);

/**
 * @brief Describe the plan (one line per value, the tiling, tasks and
 *        projected memory for @p cfg) into @p buf (NUL-terminated).
 */
CW_API int cw_expr_describe(const cw_expr_t *e, const cw_config_t *cfg, char *buf,
                            size_t len);

/* ------------------------------------------------------------ inspection */

/** Description of one dataset of a file (see cw_file_list). */
typedef struct cw_dsinfo {
    char name[1024]; /**< absolute path inside the file */
    int ndim;
    int64_t shape[CW_MAXDIM];
    int64_t chunks[CW_MAXDIM]; /**< zeros when not chunked */
    char layout[16];           /**< "chunked", "contiguous", "compact", ... */
    char dtype[32];            /**< "float32", "int16 (big-endian)", or the
                                    HDF5 class of an unsupported type */
    bool supported;            /**< readable by chunkwise */
    char filters[256];         /**< "blosc(lz4,shuffle,5)+..." or "" */
    int64_t nbytes;            /**< logical size */
    int64_t storage_size;      /**< bytes allocated in the file */
    char decode[16];           /**< how its filters are decoded: "native",
                                    "pipeline" (HDF5's, a registered or
                                    plugin filter) or "unavailable" */
} cw_dsinfo_t;

/**
 * @brief List every dataset of an HDF5 file, in name order.
 * @param out  receives an array (owned; free with cw_dsinfo_free) of @p n
 *             entries.
 */
CW_API int cw_file_list(const char *path, cw_dsinfo_t **out, size_t *n);
/** @brief Release the array returned by cw_file_list; NULL is a no-op. */
CW_API void cw_dsinfo_free(cw_dsinfo_t *items);

/* ------------------------------------------------------------ metadata */

/** What a cw_attr_t holds. */
enum {
    CW_ATTR_VALUE = 0,      /**< data: elements of typestr (or of fields) */
    CW_ATTR_STRINGS = 1,    /**< strings: variable-length strings */
    CW_ATTR_UNSUPPORTED = 2 /**< desc names the type */
};

/** One member of a compound attribute's type (native, packed layout). */
typedef struct cw_attr_field {
    char name[128];
    char typestr[16]; /**< NumPy type string: "<i4", "|b1", "|S8" */
    size_t offset;
} cw_attr_field_t;

/** One attribute of an HDF5 object, read into plain memory. */
typedef struct cw_attr {
    char name[256];
    int kind;       /**< CW_ATTR_VALUE, CW_ATTR_STRINGS or CW_ATTR_UNSUPPORTED */
    bool scalar;    /**< scalar dataspace (ndim 0) */
    bool reference; /**< of object references (dimension-scale bookkeeping) */
    bool utf8;      /**< strings: UTF-8 (else ASCII) */
    int ndim;
    int64_t shape[CW_MAXDIM];
    char typestr[16]; /**< CW_ATTR_VALUE without fields */
    size_t itemsize;
    int nfields; /**< > 0: compound, see fields */
    cw_attr_field_t *fields;
    void *data; /**< CW_ATTR_VALUE: nbytes of elements */
    size_t nbytes;
    char **strings; /**< CW_ATTR_STRINGS: nstrings, NULL for null */
    size_t nstrings;
    char desc[128]; /**< CW_ATTR_UNSUPPORTED: the type */
} cw_attr_t;

/**
 * @brief Read every attribute of object @p name (a dataset or a group) of
 *        file @p path, in creation order when tracked, else name order.
 * @param out  receives @p n attributes (free with cw_attrs_free).
 */
CW_API int cw_attrs_read(const char *path, const char *name, cw_attr_t **out,
                         size_t *n);
/** @brief Release what cw_attrs_read returned; NULL is a no-op. */
CW_API void cw_attrs_free(cw_attr_t *attrs, size_t n);

/** One member of a group (see cw_group_list). */
typedef struct cw_member {
    char name[256]; /**< link name inside the group */
    int kind;       /**< 0 dataset, 1 group, 2 other (named type, dangling) */
} cw_member_t;

/** @brief List the members of group @p name of file @p path, name order. */
CW_API int cw_group_list(const char *path, const char *name, cw_member_t **out,
                         size_t *n);
/** @brief Release what cw_group_list returned; NULL is a no-op. */
CW_API void cw_members_free(cw_member_t *members);

/** The dimension scale attached to one axis of a dataset. */
typedef struct cw_dimscale {
    char path[1024]; /**< the scale dataset's path; "" when none */
    char name[256];  /**< its NAME attribute (ASCII/UTF-8), "" when none */
} cw_dimscale_t;

/**
 * @brief Resolve the DIMENSION_LIST of dataset @p name: the first scale
 *        attached to each of its @p ndim axes.
 */
CW_API int cw_dims_read(const char *path, const char *name, cw_dimscale_t *out,
                        int *ndim);

/* -------------------------------------------------------------- plugins */

/**
 * @brief Append folder @p dir to HDF5's filter-plugin search path, unless it
 *        is there already; folders of that path that do not exist are
 *        dropped (HDF5 1.10 ends its search at the first it cannot open).
 * @param added  receives 1 when it was appended, 0 when it was there.
 */
CW_API int cw_plugin_path_add(const char *dir, int *added);
/**
 * @brief HDF5's filter-plugin search path: @p n folders written into @p buf
 *        (@p len bytes), each ended by a NUL, in search order.
 */
CW_API int cw_plugin_paths(char *buf, size_t len, unsigned *n);

/* ---------------------------------------------------------------- stats */

/** Process-wide counters, for tests and diagnostics. */
typedef struct cw_stats {
    int64_t chunks_read;     /**< stored chunks fetched from HDF5 files */
    int64_t bytes_read;      /**< stored bytes fetched */
    int64_t chunks_decoded;  /**< chunks decoded outside the HDF5 lock */
    int64_t chunks_pipeline; /**< chunks read through HDF5's filter pipeline */
    int64_t chunks_lockfree; /**< chunks read with pread, without the HDF5
                                  lock (from a parsed chunk index) */
    int64_t chunks_written;  /**< chunks written by cw_store */
    int64_t bytes_written;   /**< stored bytes written */
    int64_t runs;            /**< parallel runs the engine started */
    int64_t chunks_direct;   /**< stored chunks read with O_DIRECT */
    int64_t chunks_buffered; /**< stored chunks read with pread through the
                                  page cache (chunks_lockfree less direct) */
    int64_t bytes_direct;    /**< bytes read with O_DIRECT (rounded out to
                                  the alignment) */
} cw_stats_t;

/** @brief Copy the counters. */
CW_API void cw_stats_get(cw_stats_t *out);
/** @brief Zero the counters. */
CW_API void cw_stats_reset(void);

/** @brief Versions of the libraries chunkwise runs on, one line. */
CW_API const char *cw_version_info(void);

#ifdef __cplusplus
}
#endif
#endif /* CHUNKWISE_H */
