/*
 * error.c -- statuses and the thread-local error message.
 *
 * Every failing site records one sentence in its thread's buffer.  Parallel
 * runs copy the first worker failure into the submitting thread's buffer
 * (see sched.c), so cw_errmsg() on the caller always explains the status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core_impl.h"

#define CW_ERRMSG_SIZE 1024

static _Thread_local char errmsg[CW_ERRMSG_SIZE];

const char *
cw_status_name(int status)
{
    switch (status) {
#define CW_X_NAME(name, value, text) \
    case value:                      \
        return #name;
        CW_STATUS_MAP(CW_X_NAME)
#undef CW_X_NAME
    }
    return "CW_UNKNOWN";
}

const char *
cw_status_str(int status)
{
    switch (status) {
#define CW_X_STR(name, value, text) \
    case value:                     \
        return text;
        CW_STATUS_MAP(CW_X_STR)
#undef CW_X_STR
    }
    return "unknown status";
}

const char *
cw_errmsg(void)
{
    return errmsg;
}

int
cw__error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
    va_end(ap);
    return status;
}

void
cw__error_prefix(const char *fmt, ...)
{
    char prefix[256], old[CW_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Truncation is fine here; copy by hand so the compiler sees no
     * unchecked overflow. */
    memcpy(old, errmsg, sizeof(old));
    size_t np = strnlen(prefix, sizeof(prefix));
    size_t no = strnlen(old, sizeof(old) - 1);
    if (np > CW_ERRMSG_SIZE - 1) {
        np = CW_ERRMSG_SIZE - 1;
    }
    if (no > CW_ERRMSG_SIZE - 1 - np) {
        no = CW_ERRMSG_SIZE - 1 - np;
    }
    memcpy(errmsg, prefix, np);
    memcpy(errmsg + np, old, no);
    errmsg[np + no] = '\0';
}

void
cw__error_set_text(const char *msg)
{
    snprintf(errmsg, sizeof(errmsg), "%s", msg);
}

void
cw__error_clear(void)
{
    errmsg[0] = '\0';
}
