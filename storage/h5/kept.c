/*
 * h5/kept.c -- the handles an HDF5 source keeps open between runs (see
 * src.c): unlocked in between, taken up again while the file is unchanged,
 * closed when it changed or is opened for writing.
 *
 * Locks: every function expects the caller to hold cw__h5_lock.
 */
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "h5_impl.h"
#include "src_impl.h"
#include "storage_impl.h"

static h5src_t *kept_list; /* guarded by the HDF5 lock */

bool
cw__h5src_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The POSIX descriptor under `file` (sec2 driver), or -1. */
static int
file_fd(hid_t file)
{
    int *fd = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || fd == NULL) {
        return -1;
    }
    return *fd;
}

/* Whether HDF5 locks files (HDF5_USE_FILE_LOCKING not FALSE). */
static bool
hdf5_locks(void)
{
    const char *v = getenv("HDF5_USE_FILE_LOCKING");
    return v == NULL || (strcmp(v, "FALSE") != 0 && strcmp(v, "0") != 0);
}

void
cw__h5src_close(h5src_t *h)
{
    if (h->memtype >= 0) {
        H5Tclose(h->memtype);
    }
    if (h->dset >= 0) {
        H5Dclose(h->dset);
    }
    if (h->file >= 0) {
        cw__h5_close_file(h->file);
    }
    h->file = h->dset = h->memtype = -1;
}

void
cw__h5src_unkeep(h5src_t *h)
{
    for (h5src_t **p = &kept_list; *p != NULL; p = &(*p)->kept_next) {
        if (*p == h) {
            *p = h->kept_next;
            break;
        }
    }
    h->kept_next = NULL;
    h->kept = false;
}

void
cw__h5_release_kept(const struct stat *st, bool stale_only)
{
    if (stale_only) {
        /* HDF5 shares one open file among its handles, with the metadata
         * it cached: a handle opened before the file changed must not
         * serve a new open. One stale handle closes them all. */
        bool stale = false;
        for (h5src_t *h = kept_list; h != NULL && !stale; h = h->kept_next) {
            stale = h->opened_st.st_dev == st->st_dev &&
                    h->opened_st.st_ino == st->st_ino &&
                    !cw__h5src_same_file(&h->opened_st, st);
        }
        if (!stale) {
            return;
        }
    }
    h5src_t **p = &kept_list;
    while (*p != NULL) {
        h5src_t *h = *p;
        if (h->opened_st.st_dev == st->st_dev && h->opened_st.st_ino == st->st_ino) {
            *p = h->kept_next;
            h->kept_next = NULL;
            h->kept = false;
            cw__h5src_close(h);
        }
        else {
            p = &h->kept_next;
        }
    }
}

/* Take up the kept handles for a run: true when the file is unchanged and
 * its shared lock could be taken again; else they are closed. */
bool
cw__h5src_resume(h5src_t *h)
{
    cw__h5src_unkeep(h);
    struct stat st;
    int fd = file_fd(h->file);
    bool same = stat(h->path, &st) == 0 && cw__h5src_same_file(&st, &h->opened_st);
    if (fd >= 0 && same) {
        if (!hdf5_locks() || flock(fd, LOCK_SH | LOCK_NB) == 0 || errno == ENOSYS ||
            errno == ENOLCK) {
            return true;
        }
    }
    cw__h5src_close(h);
    /* The other kept handles of the file are stale too, or unlocked while
     * a writer holds the file: the new open must be a real one (HDF5
     * would share theirs, without its lock). */
    cw__h5_release_kept(&h->opened_st, false);
    return false;
}

/* At the end of the last run: keep the handles (unlocked) or close them. */
void
cw__h5src_keep_or_close(h5src_t *h)
{
    unsigned intent = 0;
    int fd = file_fd(h->file);
    if (!h->swmr && fd >= 0 && H5Fget_intent(h->file, &intent) >= 0 &&
        intent == H5F_ACC_RDONLY) {
        if (hdf5_locks()) {
            flock(fd, LOCK_UN);
        }
        h->kept = true;
        h->kept_next = kept_list;
        kept_list = h;
        return;
    }
    cw__h5src_close(h);
}
