/*
 * h5/file.c -- opening HDF5 files and naming their types: the checks that
 * turn a missing file, a directory, a non-HDF5 file, a missing group or an
 * unsupported element type into one clear error.
 *
 * Locks: the caller holds cw__h5_lock.
 */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "h5_impl.h"
#include "storage_impl.h"

/* ------------------------------------------------------------- types */

int
cw__h5_classify_type(hid_t type, cw_dtype_t *dtype, bool *swap, char *desc,
                     size_t desclen)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    H5T_order_t order = H5Tget_order(type);
    *swap = order == H5T_ORDER_BE;
    switch (cls) {
        case H5T_INTEGER: {
            H5T_sign_t sign = H5Tget_sign(type);
            size_t prec = H5Tget_precision(type);
            int k = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
            if (k < 0 || prec != size * 8 || H5Tget_offset(type) != 0) {
                snprintf(desc, desclen, "integer of %zu bytes, %zu bits", size, prec);
                return CW_ETYPE;
            }
            *dtype = (sign == H5T_SGN_NONE ? CW_UINT8 : CW_INT8) + k;
            break;
        }
        case H5T_FLOAT: {
            size_t spos, epos, esize, mpos, msize;
            H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
            size_t bias = H5Tget_ebias(type);
            if (size == 2 && spos == 15 && epos == 10 && esize == 5 && mpos == 0 &&
                msize == 10 && bias == 15) {
                *dtype = CW_FLOAT16;
            }
            else if (size == 4 && spos == 31 && epos == 23 && esize == 8 && mpos == 0 &&
                     msize == 23 && bias == 127) {
                *dtype = CW_FLOAT32;
            }
            else if (size == 8 && spos == 63 && epos == 52 && esize == 11 &&
                     mpos == 0 && msize == 52 && bias == 1023) {
                *dtype = CW_FLOAT64;
            }
            else {
                snprintf(desc, desclen, "non-IEEE float of %zu bytes", size);
                return CW_ETYPE;
            }
            break;
        }
        case H5T_ENUM: {
            /* h5py stores bool as an int8 enum {FALSE: 0, TRUE: 1}. */
            int ok = size == 1 && H5Tget_nmembers(type) == 2;
            for (unsigned i = 0; ok && i < 2; i++) {
                char *mname = H5Tget_member_name(type, i);
                signed char v = -1;
                ok = mname != NULL && H5Tget_member_value(type, i, &v) >= 0 &&
                     ((strcmp(mname, "FALSE") == 0 && v == 0) ||
                      (strcmp(mname, "TRUE") == 0 && v == 1));
                H5free_memory(mname);
            }
            if (!ok) {
                snprintf(desc, desclen, "enum");
                return CW_ETYPE;
            }
            *dtype = CW_BOOL;
            *swap = false;
            break;
        }
        case H5T_BITFIELD:
            /* PyTables stores bool as an 8-bit bitfield. */
            if (size != 1) {
                snprintf(desc, desclen, "bitfield of %zu bytes", size);
                return CW_ETYPE;
            }
            *dtype = CW_BOOL;
            *swap = false;
            break;
        default: {
            static const char *const names[] = {
                "integer",  "float",           "time",     "string",
                "bitfield", "opaque",          "compound", "reference",
                "enum",     "variable-length", "array"};
            snprintf(desc, desclen, "%s",
                     cls >= 0 && cls < (int)(sizeof(names) / sizeof(*names))
                         ? names[cls]
                         : "unknown class");
            return CW_ETYPE;
        }
    }
    if (*dtype != CW_BOOL && size == 1) {
        *swap = false;
    }
    snprintf(desc, desclen, "%s%s", cw_dtype_name(*dtype),
             *swap ? " (big-endian)" : "");
    return CW_OK;
}

/* ------------------------------------------------------------- opening */

/* Check that every component of `name` exists, so a missing intermediate
 * group is reported as a missing dataset rather than an HDF5 error. */
int
cw__h5_path_exists(hid_t file, const char *name)
{
    char buf[1024];
    if (strlen(name) >= sizeof(buf)) {
        return 0;
    }
    snprintf(buf, sizeof(buf), "%s", name);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (p > buf && !(p == buf + 1 && buf[0] == '/')) {
                if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) {
                    return 0;
                }
                if (c != '\0' && H5Oexists_by_name(file, buf, H5P_DEFAULT) <= 0) {
                    return 0;
                }
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    return H5Oexists_by_name(file, name, H5P_DEFAULT) > 0;
}

int
cw__h5_open_file(const char *path, unsigned flags, hid_t *out)
{
    struct stat st;
    *out = -1;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            return cw__error(CW_ENOENT, "no such file: '%s'", path);
        }
        return cw__error(CW_EIO, "cannot access '%s': %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return cw__error(CW_EIO, "'%s' is a directory, not an HDF5 file", path);
    }
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        if (is < 0) {
            return cw__error(CW_EIO, "cannot read '%s'", path);
        }
        return cw__error(CW_EIO, "'%s' is not an HDF5 file", path);
    }
    hid_t f = H5Fopen(path, flags, H5P_DEFAULT);
    if (f < 0) {
        cw__error(CW_EIO, "cannot open '%s'%s", path,
                  flags == H5F_ACC_RDWR ? " for writing" : "");
        cw__h5_error_detail();
        return CW_EIO;
    }
    *out = f;
    return CW_OK;
}
