/*
 * h5_impl.h -- HDF5 helpers shared by storage/h5*.c, and the HDF5 sink used
 * by the engine's store.  Every function here expects the caller to hold
 * cw__h5_lock unless it says otherwise.
 */
/* engine/store.c still drives the HDF5 sink directly; the sink vtable in
 * storage_impl.h replaces that. */
#if !defined(CW_BUILDING_STORAGE) && !defined(CW_BUILDING_ENGINE)
#error "h5_impl.h is internal to the storage layer"
#endif
#ifndef CW_H5_IMPL_H
#define CW_H5_IMPL_H

#include <hdf5.h>
#include <stdbool.h>

#include "chunkwise.h"

/* Map an HDF5 type to a dtype; on CW_ETYPE `desc` names the type. */
int cw__h5_classify_type(hid_t type, cw_dtype_t *dtype, bool *swap, char *desc,
                         size_t desclen);
/* Whether every component of `name` exists in `file`. */
int cw__h5_path_exists(hid_t file, const char *name);
/* Open an existing file with clear errors for missing/non-HDF5 files. */
int cw__h5_open_file(const char *path, unsigned flags, hid_t *out);

/* -------------------------------------------------------------- sink */

typedef struct cw__h5sink cw__h5sink_t;

/* Create the output dataset under a temporary name (or in a temporary
 * file when `path` does not exist yet).  Takes the lock itself. */
int cw__h5sink_create(const char *path, const char *name,
                      const cw_store_opts_t *opts, cw_dtype_t dtype,
                      cw__h5sink_t **out);
/* Write one stored chunk (offset in elements).  Takes the lock itself. */
int cw__h5sink_write(cw__h5sink_t *k, const int64_t *offset, uint32_t mask,
                     const void *data, size_t nbytes);
/* Write a whole dataset that is not chunked (0-d or empty) from a
 * C-contiguous native buffer.  Takes the lock itself. */
int cw__h5sink_write_all(cw__h5sink_t *k, const void *data);
/* Whether the dataset is chunked (else use cw__h5sink_write_all). */
bool cw__h5sink_chunked(const cw__h5sink_t *k);
/* Link the dataset under its final name and close; frees `k`. */
int cw__h5sink_commit(cw__h5sink_t *k);
/* Remove everything written and close; frees `k`.  NULL is a no-op. */
void cw__h5sink_abort(cw__h5sink_t *k);

#endif
