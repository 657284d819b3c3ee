/*
 * h5/src_impl.h -- what the files of an HDF5 source share (src.c: the
 * source's runs and reads; describe.c: opening and describing a dataset;
 * kept.c: the handles kept open between runs).
 *
 * Every function here expects the caller to hold cw__h5_lock.
 */
#ifndef CW_BUILDING_STORAGE
#error "src_impl.h is internal to the storage layer"
#endif
#ifndef CW_H5_SRC_IMPL_H
#define CW_H5_SRC_IMPL_H

#include <hdf5.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "h5index_impl.h"
#include "storage_impl.h"

#define MAX_FILTERS CW__MAX_FILTERS
#define BLOSC_FILTER_ID CW__FILTER_BLOSC

typedef struct h5filter {
    H5Z_filter_t id;
    unsigned flags;
    size_t ncd;
    unsigned cd[8];
} h5filter_t;

typedef struct h5src {
    char *path;
    char *name;
    H5D_layout_t layout;
    bool native; /* raw chunk path */
    bool swap;   /* stored big-endian */
    int nfilters;
    h5filter_t filters[MAX_FILTERS];
    cw__filter_t pipe[MAX_FILTERS]; /* what the native path decodes */
    uint64_t max_stored;            /* stored chunks above this are corrupt */
    unsigned char fill[8];          /* fill value, native order */
    /* Per run, guarded by the HDF5 lock. */
    int runs;
    bool empty; /* no chunk allocated at all: all fill */
    /* `index` holds every chunk's address. Set under the lock, read by
     * workers without it (it may be set during a run: see maybe_index). */
    _Atomic bool indexed;
    int64_t lookups;     /* chunks looked up in HDF5's index this file state */
    cw__h5index_t index; /* kept across runs while the file is unchanged */
    bool index_tried;    /* `file_id` says for which file state */
    /* Direct reads (dio.c), opened with the index when a run asks for
     * them and closed with it.  Set before `indexed` is published. */
    cw__dio_t dio;
    bool dio_open;
    bool dio_big;               /* stored bytes above half of MemAvailable */
    int dio_mode;               /* the direct_io of the run that began first */
    uint64_t stored;            /* stored bytes of all chunks (from the index) */
    _Atomic uint64_t run_bytes; /* stored bytes read since the runs began */
    struct stat file_id;
    /* Which dataset was opened: its object header's address and birth
     * time, and the file's device and inode.  A dataset replaced under the
     * same name (to_hdf5(..., overwrite=True), h5py deleting and creating
     * it, the file written anew) differs in one of them. */
    haddr_t obj_addr;
    time_t obj_btime;
    dev_t file_dev;
    ino_t file_ino;
    hid_t file, dset, memtype;
    bool swmr; /* opened with H5F_ACC_SWMR_READ */
    /* Between runs: handles kept open (file unlocked), on kept_list. */
    bool kept;
    struct stat opened_st; /* the file when `file` was opened */
    struct h5src *kept_next;
} h5src_t;

/* --- describe.c */

/* The file type with native byte order: what H5Dread converts to. */
hid_t cw__h5src_memtype(hid_t ftype);
/* Open file + dataset; on success *file and *dset are open. */
int cw__h5src_open(const char *path, const char *name, bool swmr, hid_t *file,
                   hid_t *dset);
/* Fill src's geometry and dtype and h's filters, fill value and read path
 * from the open dataset `dset`. */
int cw__h5src_describe(cw_source_t *src, h5src_t *h, hid_t dset);
/* The identity of the open dataset `dset` of file `path` (see h5src_t). */
int cw__h5src_identify(const char *path, hid_t dset, haddr_t *addr, time_t *btime,
                       dev_t *dev, ino_t *ino);
/* Whether the open dataset (h->dset) is the one opened first and still
 * matches what `src` describes. */
bool cw__h5src_unchanged(const cw_source_t *src, h5src_t *h);

/* --- kept.c */

/* Whether two stats describe the same file in the same state (device,
 * inode, size, mtime, ctime). */
bool cw__h5src_same_file(const struct stat *a, const struct stat *b);
/* Close h's file, dataset and memory type handles (those open). */
void cw__h5src_close(h5src_t *h);
/* Take h off the list of kept handles (they stay open). */
void cw__h5src_unkeep(h5src_t *h);
/* Take up h's kept handles for a run: true when the file is unchanged
 * and its shared lock could be taken again; else they are closed. */
bool cw__h5src_resume(h5src_t *h);
/* At the end of the last run: keep h's handles (unlocked) or close them. */
void cw__h5src_keep_or_close(h5src_t *h);

#endif
