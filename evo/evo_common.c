/*
 * evo_common.c - status names and the thread-local error message of the search library.
 */
#include "evo_common.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_buf[1024];

static const char *const status_names[] = {
    [EVO_OK] = "ok",
    [EVO_ERR_NOMEM] = "nomem",
    [EVO_ERR_ARG] = "arg",
    [EVO_ERR_FORMAT] = "format",
    [EVO_ERR_CALLBACK] = "callback",
    [EVO_ERR_INTERRUPTED] = "interrupted",
    [EVO_ERR_INTERNAL] = "internal",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == EVO_STATUS_COUNT,
               "status_names out of sync with evo_status");

const char *evo_status_name(evo_status st)
{
    if ((unsigned)st >= EVO_STATUS_COUNT) return "unknown";
    return status_names[st];
}

evo_status evo_error(evo_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return st;
}

const char *evo_last_error(void)
{
    return error_buf;
}
