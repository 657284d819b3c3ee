/*
 * dio.c -- direct reads of a file's stored bytes (cw__dio_t): a second
 * descriptor of the file, opened O_RDONLY | O_DIRECT, read into aligned
 * buffers, so that a scan of more data than the page cache holds reads at
 * the disk's speed instead of through the kernel's copy into the cache.
 *
 * A read of bytes [off, off + n) is rounded out to the file's direct-I/O
 * alignment (statx's STATX_DIOALIGN where the kernel reports it, else
 * 4096 bytes) and lands in a buffer aligned to it; the caller gets a
 * pointer to its bytes inside that buffer.  Where the system refuses
 * O_DIRECT (the open fails, statx reports no direct I/O, or a read fails
 * with EINVAL) the file is read with its buffered descriptor instead, from
 * then on.  Short reads and a truncated file fail as cw__pread_all fails.
 *
 * Whether bytes are in the page cache (cw__dio_resident) is mincore()
 * over a read-only mapping of the file, which maps nothing in: the kernel
 * reports the cache of files the process may write, and "not resident"
 * for others (Linux 5.2 and later).
 *
 * Locks: none.  One cw__dio_t is shared by the threads of a run; `off` is
 * the only field written after cw__dio_open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_impl.h"

#define DEFAULT_ALIGN 4096
#define PAGE 4096

void
cw__dio_init(cw__dio_t *d)
{
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    d->bfd = -1;
}

/* The direct-I/O alignment of `path` (0: the file system has none). */
static size_t
dio_align(const char *path)
{
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &sx) == 0 &&
        (sx.stx_mask & STATX_DIOALIGN)) {
        if (sx.stx_dio_offset_align == 0) {
            return 0;
        }
        size_t a = sx.stx_dio_offset_align > sx.stx_dio_mem_align
                       ? sx.stx_dio_offset_align
                       : sx.stx_dio_mem_align;
        /* A power of two not above a page, as mapped buffers allow. */
        return (a & (a - 1)) == 0 && a <= PAGE ? a : DEFAULT_ALIGN;
    }
#endif
    (void)path;
    return DEFAULT_ALIGN;
}

void
cw__dio_open(cw__dio_t *d, const char *path, int bfd)
{
    cw__dio_init(d);
    d->bfd = bfd;
    struct stat st;
    if (fstat(bfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, bfd, 0);
        if (m != MAP_FAILED) {
            d->map = m;
            d->map_len = (size_t)st.st_size;
        }
    }
    d->align = dio_align(path);
    if (d->align == 0) {
        return;
    }
    d->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
}

void
cw__dio_close(cw__dio_t *d)
{
    if (d->fd >= 0) {
        close(d->fd);
    }
    if (d->map) {
        munmap(d->map, d->map_len);
    }
    cw__dio_init(d);
}

bool
cw__dio_available(const cw__dio_t *d)
{
    return d->fd >= 0 && !atomic_load_explicit(&d->off, memory_order_relaxed);
}

bool
cw__dio_resident(const cw__dio_t *d, uint64_t off, size_t n)
{
    if (d->map == NULL || off > d->map_len || n > d->map_len - off) {
        return false;
    }
    unsigned char vec[256];
    uint64_t lo = off / PAGE * PAGE, hi = off + n;
    while (lo < hi) {
        uint64_t len = hi - lo < sizeof(vec) * PAGE ? hi - lo : sizeof(vec) * PAGE;
        if (mincore((char *)d->map + lo, (size_t)len, vec) != 0) {
            return false;
        }
        for (uint64_t i = 0; i < (len + PAGE - 1) / PAGE; i++) {
            if (!(vec[i] & 1)) {
                return false;
            }
        }
        lo += len;
    }
    return true;
}

static int
truncated(size_t n, uint64_t off, const char *why)
{
    return cw__error(CW_EIO, "cannot read %zu bytes at offset %llu: %s", n,
                     (unsigned long long)off, why);
}

/* Make *buf (capacity *cap, from cw__malloc) hold `need` bytes at an
 * address aligned to `a`; the aligned address. */
static unsigned char *
aligned(void **buf, size_t *cap, size_t need, size_t a)
{
    if (cw__reserve(buf, cap, need + a) < 0) {
        return NULL;
    }
    uintptr_t p = (uintptr_t)*buf;
    return (unsigned char *)((p + a - 1) / a * a);
}

int
cw__dio_read(cw__dio_t *d, uint64_t off, size_t n, void **buf, size_t *cap,
             const unsigned char **out, bool *direct)
{
    *direct = false;
    if (!cw__dio_available(d)) {
        CW_TRY_RET(cw__reserve(buf, cap, n ? n : 1));
        CW_TRY_RET(cw__pread_all(d->bfd, *buf, n, off));
        *out = *buf;
        return CW_OK;
    }
    size_t a = d->align;
    uint64_t lo = off / a * a, hi = (off + n + a - 1) / a * a;
    size_t len = (size_t)(hi - lo);
    unsigned char *p = aligned(buf, cap, len, a);
    if (p == NULL) {
        return CW_ENOMEM;
    }
    size_t done = 0;
    while (lo + done < off + n) {
        ssize_t k = pread(d->fd, p + done, len - done, (off_t)(lo + done));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0 && errno == EINVAL && done == 0) {
            /* The file system takes no direct reads of this alignment:
             * buffered reads from now on. */
            atomic_store_explicit(&d->off, true, memory_order_relaxed);
            CW_TRY_RET(cw__pread_all(d->bfd, p, n, off));
            *out = p;
            return CW_OK;
        }
        if (k < 0) {
            return truncated(n, off, strerror(errno));
        }
        done += (size_t)k;
        /* A read that stops short of an aligned end met the end of the
         * file (the next one would start unaligned). */
        if (k == 0 || (done % a != 0 && lo + done < off + n)) {
            return truncated(n, off, "file truncated");
        }
    }
    CW_STAT_ADD(bytes_direct, done < len ? done : len);
    *out = p + (off - lo);
    *direct = true;
    return CW_OK;
}

int64_t
cw__mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    long long kib = -1;
    if (f) {
        char line[128];
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1) {
                break;
            }
        }
        fclose(f);
    }
    if (kib >= 0) {
        return (int64_t)kib * 1024;
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    return pages > 0 && ps > 0 ? (int64_t)pages * ps : 0;
}
