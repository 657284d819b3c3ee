/*
 * budget.c -- the memory budget of one run: what it may hold, planned
 * before anything is read.
 *
 * A run's limit is cfg->memory_limit, or 1 GiB when the caller sets none
 * (the only place that default is written).  Long-lived bytes that exist
 * once per run (a reduction's partial results) are reserved first, and
 * together they may take at most half of the limit; the threads are then
 * planned in what is left, each holding one task's working set.  The
 * budget is planned, not charged in the allocator: these functions only
 * count.  A budget lives on the submitting thread's stack; no locks.
 */
#include <stdio.h>

#include "engine_impl.h"

#define DEFAULT_LIMIT ((int64_t)1 << 30) /* 1 GiB */

/* `bytes` for a message: MiB, or KiB and bytes for small budgets, so that
 * "needs 0.1 MiB but memory_limit is 0.1 MiB" does not happen. */
static const char *
size_text(char *buf, size_t len, double bytes)
{
    if (bytes >= 1048576.0) {
        snprintf(buf, len, "%.1f MiB", bytes / 1048576.0);
    }
    else if (bytes >= 10240.0) {
        snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
    }
    else {
        snprintf(buf, len, "%.0f bytes", bytes);
    }
    return buf;
}

void
cw__budget_init(cw__budget_t *b, const cw_config_t *cfg)
{
    b->limit = cfg && cfg->memory_limit > 0 ? cfg->memory_limit : DEFAULT_LIMIT;
    b->reserved = 0;
}

int
cw__budget_reserve(cw__budget_t *b, int64_t bytes, const char *what, const char *hint)
{
    /* limit / 2 - reserved cannot overflow: reserved stays below it. */
    if (bytes > b->limit / 2 - b->reserved) {
        char take[32], lim[32];
        size_text(take, sizeof(take), (double)b->reserved + (double)bytes);
        if (hint == NULL) {
            return cw__error(CW_EBUDGET,
                             "%s take %s, more than half of "
                             "memory_limit",
                             what, take);
        }
        return cw__error(CW_EBUDGET,
                         "%s take %s, more than half of "
                         "memory_limit (%s); %s",
                         what, take, size_text(lim, sizeof(lim), (double)b->limit),
                         hint);
    }
    b->reserved += bytes;
    return CW_OK;
}

int
cw__budget_threads(const cw__budget_t *b, const cw_config_t *cfg, int64_t ntasks,
                   size_t per_task, int *nthreads)
{
    int n = cfg && cfg->threads > 0 ? cfg->threads : cw_default_threads();
    int64_t limit = b->limit - b->reserved;
    if ((int64_t)per_task > limit) {
        char need[32], lim[32], left[32];
        size_text(need, sizeof(need), (double)per_task);
        size_text(lim, sizeof(lim), (double)b->limit);
        if (b->reserved > 0) {
            return cw__error(CW_EBUDGET,
                             "one task needs %s but memory_limit is %s, %s of it "
                             "left after the run's partial results; raise "
                             "memory_limit or use smaller chunks",
                             need, lim, size_text(left, sizeof(left), (double)limit));
        }
        return cw__error(CW_EBUDGET,
                         "one task needs %s but memory_limit "
                         "is %s; raise memory_limit or use smaller chunks",
                         need, lim);
    }
    if (per_task > 0 && (int64_t)n * (int64_t)per_task > limit) {
        n = (int)(limit / (int64_t)per_task);
    }
    if (ntasks < n) {
        n = ntasks > 0 ? (int)ntasks : 1;
    }
    *nthreads = n < 1 ? 1 : n;
    return CW_OK;
}

size_t
cw__budget_store_task(size_t chunk, size_t sink, size_t fill, size_t carry)
{
    return chunk + sink + fill + carry;
}
