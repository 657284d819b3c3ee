/*
 * h5_impl.h -- HDF5 helpers shared by the files of storage/h5/.  Every
 * function here expects the caller to hold cw__h5_lock.
 */
#ifndef CW_BUILDING_STORAGE
#error "h5_impl.h is internal to the storage layer"
#endif
#ifndef CW_H5_IMPL_H
#define CW_H5_IMPL_H

#include <hdf5.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "chunkwise.h"

/* Map an HDF5 type to a dtype; on CW_ETYPE `desc` names the type. */
int cw__h5_classify_type(hid_t type, cw_dtype_t *dtype, bool *swap, char *desc,
                         size_t desclen);
/* The native-order memory type of a complex {r, i} compound file type
 * (new id), or -1 when `ftype` is not one. */
hid_t cw__h5_native_complex(hid_t ftype);
/* Whether every component of `name` exists in `file`. */
int cw__h5_path_exists(hid_t file, const char *name);
/* Open an existing file with clear errors for missing/non-HDF5 files. */
int cw__h5_open_file(const char *path, unsigned flags, hid_t *out);
herr_t cw__h5_close_file(hid_t file);
/* Whether chunkwise decodes filter `id` itself (else HDF5's pipeline must). */
bool cw__h5_filter_native(H5Z_filter_t id);
/* HDF5's plugin search path as "folder, folder" in buf (len bytes). */
void cw__h5_plugin_path_text(char *buf, size_t len);
/* Close the handles sources keep open between runs on the file `st`
 * describes (stat of it now): all of them (before it is opened for
 * writing), or, with stale_only, all when one was opened before the file
 * last changed (before it is opened again). */
void cw__h5_release_kept(const struct stat *st, bool stale_only);

#endif
