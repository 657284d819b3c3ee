/*
 * stats.c -- the process-wide counters (cw_stats_t).  Updated with relaxed
 * atomics from any thread (CW_STAT_ADD); read and zeroed by the caller.
 */
#include "core_impl.h"

struct cw__stats cw__stats;

void
cw_stats_get(cw_stats_t *out)
{
    out->chunks_read = atomic_load(&cw__stats.chunks_read);
    out->bytes_read = atomic_load(&cw__stats.bytes_read);
    out->chunks_decoded = atomic_load(&cw__stats.chunks_decoded);
    out->chunks_pipeline = atomic_load(&cw__stats.chunks_pipeline);
    out->chunks_lockfree = atomic_load(&cw__stats.chunks_lockfree);
    out->chunks_written = atomic_load(&cw__stats.chunks_written);
    out->bytes_written = atomic_load(&cw__stats.bytes_written);
    out->runs = atomic_load(&cw__stats.runs);
    out->chunks_direct = atomic_load(&cw__stats.chunks_direct);
    out->chunks_buffered = atomic_load(&cw__stats.chunks_buffered);
    out->bytes_direct = atomic_load(&cw__stats.bytes_direct);
}

void
cw_stats_reset(void)
{
    atomic_store(&cw__stats.chunks_read, 0);
    atomic_store(&cw__stats.bytes_read, 0);
    atomic_store(&cw__stats.chunks_decoded, 0);
    atomic_store(&cw__stats.chunks_pipeline, 0);
    atomic_store(&cw__stats.chunks_lockfree, 0);
    atomic_store(&cw__stats.chunks_written, 0);
    atomic_store(&cw__stats.bytes_written, 0);
    atomic_store(&cw__stats.runs, 0);
    atomic_store(&cw__stats.chunks_direct, 0);
    atomic_store(&cw__stats.chunks_buffered, 0);
    atomic_store(&cw__stats.bytes_direct, 0);
}
