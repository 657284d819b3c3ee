/*
 * h5/file.c -- opening HDF5 files and naming their types: the checks that
 * turn a missing file, a directory, a non-HDF5 file, a missing group or an
 * unsupported element type into one clear error.
 *
 * Locks: the caller holds cw__h5_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "h5_impl.h"
#include "storage_impl.h"

/* ------------------------------------------------------------- types */

/* The IEEE float type `type` is (CW_FLOAT16/32/64), or -1. */
static int
ieee_float(hid_t type)
{
    size_t size = H5Tget_size(type), spos, epos, esize, mpos, msize;
    if (H5Tget_class(type) != H5T_FLOAT ||
        H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) {
        return -1;
    }
    size_t bias = H5Tget_ebias(type);
    if (size == 2 && spos == 15 && epos == 10 && esize == 5 && mpos == 0 &&
        msize == 10 && bias == 15) {
        return CW_FLOAT16;
    }
    if (size == 4 && spos == 31 && epos == 23 && esize == 8 && mpos == 0 &&
        msize == 23 && bias == 127) {
        return CW_FLOAT32;
    }
    if (size == 8 && spos == 63 && epos == 52 && esize == 11 && mpos == 0 &&
        msize == 52 && bias == 1023) {
        return CW_FLOAT64;
    }
    return -1;
}

/* Complex numbers as h5py and PyTables store them: a compound of two IEEE
 * floats of one size and byte order named "r" and "i", packed.  Returns
 * CW_COMPLEX64/128 or -1; *order is the members' byte order. */
static int
complex_compound(hid_t type, H5T_order_t *order)
{
    if (H5Tget_nmembers(type) != 2) {
        return -1;
    }
    static const char *const names[2] = {"r", "i"};
    int part = -1;
    size_t psize = 0;
    for (unsigned k = 0; k < 2; k++) {
        char *name = H5Tget_member_name(type, k);
        hid_t mt = H5Tget_member_type(type, k);
        int kind = mt >= 0 ? ieee_float(mt) : -1;
        size_t msize = mt >= 0 ? H5Tget_size(mt) : 0;
        H5T_order_t mo = mt >= 0 ? H5Tget_order(mt) : H5T_ORDER_ERROR;
        bool ok = name != NULL && strcmp(name, names[k]) == 0 &&
                  (kind == CW_FLOAT32 || kind == CW_FLOAT64) &&
                  H5Tget_member_offset(type, k) == k * msize &&
                  (k == 0 || (kind == part && mo == *order));
        H5free_memory(name);
        if (mt >= 0) {
            H5Tclose(mt);
        }
        if (!ok) {
            return -1;
        }
        part = kind;
        psize = msize;
        *order = mo;
    }
    if (H5Tget_size(type) != 2 * psize) {
        return -1;
    }
    return part == CW_FLOAT32 ? CW_COMPLEX64 : CW_COMPLEX128;
}

hid_t
cw__h5_native_complex(hid_t ftype)
{
    H5T_order_t order;
    int dtype = complex_compound(ftype, &order);
    if (dtype < 0) {
        return -1;
    }
    hid_t part = dtype == CW_COMPLEX64 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    size_t psize = H5Tget_size(part);
    hid_t t = H5Tcreate(H5T_COMPOUND, 2 * psize);
    if (t >= 0 &&
        (H5Tinsert(t, "r", 0, part) < 0 || H5Tinsert(t, "i", psize, part) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

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
            int kind = ieee_float(type);
            if (kind < 0) {
                snprintf(desc, desclen, "non-IEEE float of %zu bytes", size);
                return CW_ETYPE;
            }
            *dtype = (cw_dtype_t)kind;
            break;
        }
        case H5T_COMPOUND: {
            int kind = complex_compound(type, &order);
            if (kind < 0) {
                snprintf(desc, desclen,
                         "compound of %d members (complex numbers are read from "
                         "{r, i} pairs of IEEE floats)",
                         H5Tget_nmembers(type));
                return CW_ETYPE;
            }
            *dtype = (cw_dtype_t)kind;
            *swap = order == H5T_ORDER_BE;
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

/* Who holds a lock on the file st describes, from /proc/locks (Linux):
 * "process 12 (python), which has it open for writing" in buf, or
 * "another process" when /proc/locks does not say. */
static void
lock_holder(const struct stat *st, char *buf, size_t n)
{
    snprintf(buf, n, "another process");
    FILE *locks = fopen("/proc/locks", "r");
    if (locks == NULL) {
        return;
    }
    char line[256];
    while (fgets(line, sizeof(line), locks) != NULL) {
        int pid = 0;
        unsigned maj = 0, min = 0;
        unsigned long ino = 0;
        char mode[16];
        if (strstr(line, "->") != NULL /* a waiter, not a holder */
            || sscanf(line, "%*d: %*s %*s %15s %d %x:%x:%lu", mode, &pid, &maj, &min,
                      &ino) != 5 ||
            ino != (unsigned long)st->st_ino || maj != major(st->st_dev) ||
            min != minor(st->st_dev)) {
            continue;
        }
        char comm[64] = "?", cpath[64];
        snprintf(cpath, sizeof(cpath), "/proc/%d/comm", pid);
        FILE *c = fopen(cpath, "r");
        if (c != NULL) {
            if (fgets(comm, sizeof(comm), c) != NULL) {
                comm[strcspn(comm, "\n")] = '\0';
            }
            fclose(c);
        }
        const char *how = strcmp(mode, "WRITE") == 0 ? "for writing" : "for reading";
        if (pid == (int)getpid()) {
            snprintf(buf, n,
                     "this process (%d, %s) holds it open %s through another HDF5 "
                     "library (h5py's, PyTables')",
                     pid, comm, how);
        }
        else {
            snprintf(buf, n, "process %d (%s) holds it open %s", pid, comm, how);
        }
        break;
    }
    fclose(locks);
}

/*
 * H5Fclose, and when `file` is the last handle of its file, the file's
 * lock (flock) released on the open file description itself: a child
 * forked while the file was open holds a copy of the descriptor, and the
 * lock would otherwise stay until that child exits, so that the next store
 * into the file here would find it "locked".
 */
herr_t
cw__h5_close_file(hid_t file)
{
    int copy = -1, *fd = NULL;
    if (H5Fget_obj_count(file, H5F_OBJ_ALL) == 1 &&
        H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) >= 0 && fd != NULL &&
        *fd >= 0) {
        copy = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
    }
    herr_t e = H5Fclose(file);
    if (copy >= 0) {
        flock(copy, LOCK_UN);
        close(copy);
    }
    return e;
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
    /* HDF5 opens no file read-only and for writing at once, and shares an
     * open file's cached metadata with new opens. */
    cw__h5_release_kept(&st, !(flags & H5F_ACC_RDWR));
    hid_t f = H5Fopen(path, flags, H5P_DEFAULT);
    if (f < 0) {
        cw__error(CW_EIO, "cannot open '%s'%s", path,
                  flags == H5F_ACC_RDWR ? " for writing" : "");
        if (cw__h5_error_mentions("unable to lock file")) {
            char holder[192];
            lock_holder(&st, holder, sizeof(holder));
            cw__error(
                CW_EIO,
                "cannot open '%s'%s: the file is locked: %s; close it there, or, only "
                "if nothing writes it any more, set HDF5_USE_FILE_LOCKING=FALSE",
                path, flags == H5F_ACC_RDWR ? " for writing" : "", holder);
            return CW_EIO;
        }
        cw__h5_error_detail();
        return CW_EIO;
    }
    *out = f;
    return CW_OK;
}
