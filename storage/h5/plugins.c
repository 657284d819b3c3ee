/*
 * h5/plugins.c -- the folders HDF5 searches for filter plugins.
 *
 * HDF5 builds its plugin search path once, from HDF5_PLUGIN_PATH (or its
 * compiled-in default) at its first plugin lookup. Other packages change
 * that variable (netCDF4 points it at its own plugins at import), so the
 * extension appends the folders it knows (hdf5plugin's, the system's)
 * explicitly; then what opens never depends on the environment.
 *
 * Locks: each function takes cw__h5_lock around its HDF5 calls.
 */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5_impl.h"
#include "storage_impl.h"

/* Whether folder dir is in HDF5's plugin search path. Called locked. */
static bool
plugin_path_has(const char *dir)
{
    unsigned n = 0;
    if (H5PLsize(&n) < 0) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        char buf[4096];
        ssize_t len = H5PLget(i, buf, sizeof(buf));
        if (len > 0 && (size_t)len < sizeof(buf) && strcmp(buf, dir) == 0) {
            return true;
        }
    }
    return false;
}

void
cw__h5_plugin_path_text(char *buf, size_t len)
{
    unsigned n = 0;
    size_t used = 0;
    buf[0] = '\0';
    if (H5PLsize(&n) < 0) {
        return;
    }
    for (unsigned i = 0; i < n && used + 3 < len; i++) {
        if (i > 0) {
            used += (size_t)snprintf(buf + used, len - used, ", ");
        }
        ssize_t l = H5PLget(i, buf + used, len - used);
        if (l < 0 || used + (size_t)l >= len) {
            buf[used] = '\0';
            return;
        }
        used += (size_t)l;
    }
}

int
cw_plugin_path_add(const char *dir, int *added)
{
    *added = 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return cw__error(CW_EINVAL, "no such folder: '%s'", dir);
    }
    int rc = CW_OK;
    cw__h5_lock();
    /* HDF5 1.10 ends a plugin search at the first folder it cannot open:
     * drop those first (a stale HDF5_PLUGIN_PATH entry would hide the rest). */
    unsigned n = 0;
    if (H5PLsize(&n) >= 0) {
        for (unsigned i = n; i-- > 0;) {
            char buf[4096];
            ssize_t len = H5PLget(i, buf, sizeof(buf));
            if (len > 0 && (size_t)len < sizeof(buf) &&
                (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))) {
                H5PLremove(i);
            }
        }
    }
    if (!plugin_path_has(dir)) {
        if (H5PLappend(dir) < 0) {
            rc = cw__error(CW_EIO, "HDF5 refused the plugin folder '%s'", dir);
        }
        else {
            *added = 1;
        }
    }
    cw__h5_unlock();
    return rc;
}

int
cw_plugin_paths(char *buf, size_t len, unsigned *n)
{
    int rc = CW_OK;
    size_t used = 0;
    *n = 0;
    cw__h5_lock();
    unsigned count = 0;
    if (H5PLsize(&count) < 0) {
        rc = cw__error(CW_EIO, "cannot read HDF5's plugin search path");
    }
    for (unsigned i = 0; rc == CW_OK && i < count; i++) {
        ssize_t l = H5PLget(i, buf + used, len - used);
        if (l < 0 || used + (size_t)l + 1 > len) {
            rc = cw__error(CW_EIO, "cannot read HDF5's plugin search path");
            break;
        }
        used += (size_t)l + 1; /* entries are NUL-separated */
        (*n)++;
    }
    cw__h5_unlock();
    return rc;
}
