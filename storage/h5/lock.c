/*
 * h5lock.c -- the process-wide HDF5 lock and one-time library set-up.
 *
 * libhdf5 serialises its API internally; chunkwise adds one mutex of its
 * own around every libhdf5 call so that sequences of calls (look up a
 * chunk, then read it) are atomic and so that a non-threadsafe libhdf5
 * build is safe too.  Only raw bytes cross this lock: decoding happens
 * outside it, in the worker threads.
 *
 * A fork waits for the lock (pthread_atfork), so a child never inherits
 * it held by a thread that does not exist there.
 *
 * Set-up (once, under the lock): silence HDF5's automatic error printing
 * on each thread that calls it (the error stack is per thread in
 * threadsafe builds) and register the Blosc filter (32001) so that HDF5's
 * own pipeline can read and write Blosc datasets in this process, and the
 * Bitshuffle filter (32008, chunkwise's codec/bitshuffle.c), so that
 * HDF5's pipeline decodes it where the native path does not (a pipeline
 * of several compressors) and never loads a plugin for it: bitshuffle's
 * plugin rewrites cd_values at dataset creation, and a plugin built for
 * another HDF5 than this one fails there.
 */
#include <blosc.h>
#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage_impl.h"

#define BLOSC_FILTER_ID 32001

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
static int h5_ready;
static _Thread_local int h5_thread_ready;

/*
 * The Blosc filter for HDF5's pipeline, compatible with the reference
 * hdf5-blosc filter: cd_values = {filter version, blosc format, typesize,
 * chunk bytes, clevel, shuffle, compressor code}.  Buffers belong to HDF5,
 * which allocates and frees them with malloc/free.
 */
static size_t
blosc_h5_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                size_t nbytes, size_t *buf_size, void **buf)
{
    void *out = NULL;
    int n;
    if (flags & H5Z_FLAG_REVERSE) {
        size_t outsize = 0;
        if (blosc_cbuffer_validate(*buf, nbytes, &outsize) < 0) {
            return 0;
        }
        out = malloc(outsize ? outsize : 1);
        if (out == NULL) {
            return 0;
        }
        n = blosc_decompress_ctx(*buf, out, outsize, 1);
        if (n < 0 || (size_t)n != outsize) {
            free(out);
            return 0;
        }
    }
    else {
        size_t typesize = cd_nelmts > 2 ? cd_values[2] : 1;
        int clevel = cd_nelmts > 4 ? (int)cd_values[4] : 5;
        int shuffle = cd_nelmts > 5 ? (int)cd_values[5] : 1;
        int code = cd_nelmts > 6 ? (int)cd_values[6] : 0;
        out = malloc(nbytes ? nbytes : 1);
        if (out == NULL) {
            return 0;
        }
        n = blosc_compress_ctx(clevel, shuffle, typesize > 255 ? 1 : typesize, nbytes,
                               *buf, out, nbytes, cw__blosc_name(code), 0, 1);
        if (n <= 0) {
            /* Not smaller: fail, and HDF5 stores the chunk unfiltered
             * (the filter is optional). */
            free(out);
            return 0;
        }
    }
    free(*buf);
    *buf = out;
    *buf_size = (flags & H5Z_FLAG_REVERSE) ? (size_t)n : nbytes;
    return (size_t)n;
}

static const H5Z_class2_t blosc_class = {
    H5Z_CLASS_T_VERS,
    BLOSC_FILTER_ID,
    1,
    1,
    "blosc",
    NULL,
    NULL,
    (H5Z_func_t)blosc_h5_filter,
};

/*
 * Bitshuffle for HDF5's pipeline: cd_values as bitshuffle's set_local
 * leaves them (codec/bitshuffle.c).  Encoding writes default-sized blocks
 * only, so a dataset asking for another block size gets its chunks
 * unfiltered (the filter is optional).
 */
static size_t
bitshuffle_h5_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                     size_t nbytes, size_t *buf_size, void **buf)
{
    if (cd_nelmts < 3 || cd_values[2] == 0) {
        return 0;
    }
    cw__filter_t f = {.id = CW__FILTER_BITSHUFFLE,
                      .typesize = cd_values[2],
                      .block = cd_nelmts > 3 ? cd_values[3] : 0,
                      .comp = cd_nelmts > 4 ? cd_values[4] : 0};
    int level = cd_nelmts > 5 ? (int)cd_values[5] : 0;
    size_t outsize = nbytes, n = 0;
    const unsigned char *in = *buf;
    if ((flags & H5Z_FLAG_REVERSE) && f.comp != CW__BSHUF_NONE) {
        if (nbytes < 12) {
            return 0;
        }
        outsize = 0;
        for (int i = 0; i < 8; i++) {
            outsize = (outsize << 8) | in[i];
        }
    }
    else if (!(flags & H5Z_FLAG_REVERSE)) {
        if (f.block != 0 && f.block != cw__bitshuffle_block_elems(f.typesize, 0)) {
            return 0;
        }
        outsize = cw__bitshuffle_encode_bound(f.comp, f.typesize, nbytes);
    }
    void *out = malloc(outsize ? outsize : 1);
    if (out == NULL) {
        return 0;
    }
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    int rc = (flags & H5Z_FLAG_REVERSE)
                 ? cw__bitshuffle_decode(&s, &f, in, nbytes, out, outsize)
                 : cw__bitshuffle_encode(&s, f.comp, level, f.typesize, in, nbytes, out,
                                         outsize, &n);
    cw__io_scratch_destroy(&s);
    if (rc != CW_OK || (!(flags & H5Z_FLAG_REVERSE) && n == 0)) {
        free(out);
        return 0;
    }
    n = (flags & H5Z_FLAG_REVERSE) ? outsize : n;
    free(*buf);
    *buf = out;
    *buf_size = outsize ? outsize : 1;
    return n;
}

static const H5Z_class2_t bitshuffle_class = {
    H5Z_CLASS_T_VERS,
    CW__FILTER_BITSHUFFLE,
    1,
    1,
    "bitshuffle (chunkwise)",
    NULL,
    NULL,
    (H5Z_func_t)bitshuffle_h5_filter,
};

/*
 * Blosc2 for HDF5's pipeline, decoding only: cd_values as hdf5plugin's
 * filter records them ({version, 0, typesize, chunk bytes, level, shuffle,
 * codec[, rank, chunk shape]}).  chunkwise writes Blosc2 chunks itself
 * (H5Dwrite_chunk); registering this class keeps HDF5 from loading
 * hdf5plugin's plugin for the filter, whose callbacks fail in this HDF5.
 * Encoding fails, and the filter being optional, a chunk HDF5 would
 * write itself is stored unfiltered.
 */
static size_t
blosc2_h5_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[],
                 size_t nbytes, size_t *buf_size, void **buf)
{
    if (!(flags & H5Z_FLAG_REVERSE) || cd_nelmts < 4 || cd_values[3] == 0) {
        return 0;
    }
    cw__filter_t f = {.id = CW__FILTER_BLOSC2, .typesize = cd_values[2]};
    if (cd_nelmts > 7 && cd_values[7] >= 2 && cd_values[7] <= CW_MAXDIM &&
        cd_nelmts >= 8 + (size_t)cd_values[7]) {
        f.ndim = (int)cd_values[7];
        for (int d = 0; d < f.ndim; d++) {
            f.chunks[d] = cd_values[8 + d];
        }
    }
    size_t outsize = cd_values[3];
    void *out = malloc(outsize);
    if (out == NULL) {
        return 0;
    }
    cw__io_scratch_t s;
    cw__io_scratch_init(&s);
    int rc = cw__blosc2_decode(&s, &f, *buf, nbytes, out, outsize);
    cw__io_scratch_destroy(&s);
    if (rc != CW_OK) {
        free(out);
        return 0;
    }
    free(*buf);
    *buf = out;
    *buf_size = outsize;
    return outsize;
}

static const H5Z_class2_t blosc2_class = {
    H5Z_CLASS_T_VERS,
    CW__FILTER_BLOSC2,
    1,
    1,
    "blosc2",
    NULL,
    NULL,
    (H5Z_func_t)blosc2_h5_filter,
};

/*
 * fork() while another thread holds the lock would leave it held for ever
 * in the child (and HDF5's state half-changed): the forking thread takes
 * it first, so the child starts with HDF5 between calls and the lock free.
 * Nothing run under the lock waits for Python's GIL, which the thread
 * calling os.fork holds.
 */
static void
fork_prepare(void)
{
    pthread_mutex_lock(&h5_mutex);
}

static void
fork_release(void)
{
    pthread_mutex_unlock(&h5_mutex);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void
install_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_release, fork_release);
}

void
cw__h5_lock(void)
{
    pthread_once(&fork_once, install_fork_handlers);
    pthread_mutex_lock(&h5_mutex);
    if (!h5_ready) {
        /* HDF5's exit handler closes the files left open; one whose close
         * failed (a store aborted on a full disk) crashes it. The handles
         * chunkwise keeps at exit are read-only: nothing to flush. */
        H5dont_atexit();
        H5open();
        H5Zregister(&blosc_class);
        H5Zregister(&blosc2_class);
        H5Zregister(&bitshuffle_class);
        h5_ready = 1;
    }
    if (!h5_thread_ready) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5_thread_ready = 1;
    }
}

void
cw__h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mutex);
}

static herr_t
innermost(unsigned n, const H5E_error2_t *err, void *data)
{
    if (n == 0 && err->desc != NULL) {
        snprintf(data, 256, "%s", err->desc);
    }
    return 0;
}

static herr_t
mentions(unsigned n, const H5E_error2_t *err, void *data)
{
    (void)n;
    const char **text = data;
    if (*text != NULL && err->desc != NULL && strstr(err->desc, *text) != NULL) {
        *text = NULL; /* found */
    }
    return 0;
}

bool
cw__h5_error_mentions(const char *text)
{
    const char *t = text;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, mentions, &t);
    return t == NULL;
}

void
cw__h5_error_detail(void)
{
    char detail[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, detail);
    if (detail[0] == '\0') {
        return;
    }
    char msg[1024];
    const char *en = strstr(detail, "errno = ");
    if (en != NULL) {
        /* A system call failed ("file write failed: time = ..., errno = 28,
         * ..."): its first words and the error, as the system says it. */
        int code = atoi(en + 8);
        size_t head = strcspn(detail, ":");
        snprintf(msg, sizeof(msg), "%s (HDF5: %.*s: %s%s)", cw_errmsg(), (int)head,
                 detail, strerror(code),
                 code == ENOSPC ? "; the disk is full"
                 : code == EFBIG
                     ? "; the process's file size limit (ulimit -f) is reached"
                     : "");
    }
    else if (strstr(detail, "version") != NULL) {
        /* Typically a file written by a newer HDF5 with its latest format. */
        unsigned maj = 0, min = 0, rel = 0;
        H5get_libversion(&maj, &min, &rel);
        snprintf(msg, sizeof(msg),
                 "%s (HDF5: %s; the file uses a format newer "
                 "than HDF5 %u.%u.%u, which chunkwise is built on, can read; "
                 "h5py writes a readable one with libver=('earliest', 'v110'))",
                 cw_errmsg(), detail, maj, min, rel);
    }
    else {
        snprintf(msg, sizeof(msg), "%s (HDF5: %s)", cw_errmsg(), detail);
    }
    cw__error_set_text(msg);
}

const char *
cw_version_info(void)
{
    static char info[256];
    unsigned maj = 0, min = 0, rel = 0;
    cw__h5_lock();
    H5get_libversion(&maj, &min, &rel);
    cw__h5_unlock();
    snprintf(info, sizeof(info), "HDF5 %u.%u.%u, Blosc %s", maj, min, rel,
             BLOSC_VERSION_STRING);
    return info;
}
