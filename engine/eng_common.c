/*
 * eng_common.c - status names, thread-local error messages, aligned allocation, threads, abort
 * hook.
 */
#include "eng_common.h"
#include "engine_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

#define ENG_ERROR_BUF 1024

static _Thread_local char error_buf[ENG_ERROR_BUF];

static const char *const status_names[] = {
    [ENG_OK] = "ok",
    [ENG_ERR_NOMEM] = "nomem",
    [ENG_ERR_IO] = "io",
    [ENG_ERR_FORMAT] = "format",
    [ENG_ERR_ARG] = "arg",
    [ENG_ERR_SHAPE] = "shape",
    [ENG_ERR_NOT_FOUND] = "not_found",
    [ENG_ERR_EXISTS] = "exists",
    [ENG_ERR_UNSUPPORTED] = "unsupported",
    [ENG_ERR_INTERRUPTED] = "interrupted",
    [ENG_ERR_INTERNAL] = "internal",
    [ENG_ERR_DIVERGED] = "diverged",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == ENG_STATUS_COUNT,
               "status_names out of sync with eng_status");

const char *eng_status_name(eng_status st)
{
    if ((unsigned)st >= ENG_STATUS_COUNT) return "unknown";
    return status_names[st];
}

eng_status eng_error(eng_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return st;
}

eng_status eng_error_prefix(eng_status st, const char *fmt, ...)
{
    char prefix[ENG_ERROR_BUF];
    va_list ap;
    va_start(ap, fmt);
    int plen = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (plen < 0) return st;
    size_t p = (size_t)plen < ENG_ERROR_BUF - 3 ? (size_t)plen : ENG_ERROR_BUF - 3;
    size_t old = strlen(error_buf);
    if (old > ENG_ERROR_BUF - 1 - (p + 2)) old = ENG_ERROR_BUF - 1 - (p + 2);
    memmove(error_buf + p + 2, error_buf, old);
    error_buf[p + 2 + old] = '\0';
    memcpy(error_buf, prefix, p);
    error_buf[p] = ':';
    error_buf[p + 1] = ' ';
    if (old == 0) error_buf[p] = '\0';
    return st;
}

const char *eng_last_error(void)
{
    return error_buf;
}

void eng_error_clear(void)
{
    error_buf[0] = '\0';
}

void *eng_alloc(size_t size)
{
    size_t rounded = (size + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN;
    if (rounded < size) {
        eng_error(ENG_ERR_NOMEM, "allocation of %zu bytes overflows", size);
        return NULL;
    }
    void *p = aligned_alloc(ENG_ALIGN, rounded ? rounded : ENG_ALIGN);
    if (!p) eng_error(ENG_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *eng_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        eng_error(ENG_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = eng_alloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void eng_free(void *ptr)
{
    free(ptr);
}

void eng_set_threads(int n)
{
#if ENG_HAVE_OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int eng_threads(void)
{
#if ENG_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int eng_cpu_count(void)
{
#if ENG_HAVE_OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

void eng_set_nesting(int levels)
{
#if ENG_HAVE_OPENMP
    omp_set_max_active_levels(levels);
#else
    (void)levels;
#endif
}

int eng_thread_id(void)
{
#if ENG_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static eng_abort_callback abort_cb;

void eng_set_abort_callback(eng_abort_callback cb)
{
    abort_cb = cb;
}

void eng_abort(const char *file, int line, const char *fmt, ...)
{
    char msg[ENG_ERROR_BUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (abort_cb)
        abort_cb(file, line, msg);
    else
        fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    abort();
}
