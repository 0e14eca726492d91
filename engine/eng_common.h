/*
 * eng_common.h - status codes, error messages, aligned memory and assertions of the engine.
 *
 * Every fallible engine function returns an eng_status. On failure it also leaves a
 * human-readable message in a thread-local buffer (eng_last_error()), so callers can print
 * what went wrong ("luts/manifest.tsv: line 12: expected 17 fields, found 3") without the
 * engine ever printing or exiting by itself.
 *
 *     eng_status st = eng_mul_load_file("x.bin", 0, false, &mul);   // width from the size
 *     if (st != ENG_OK) {
 *         fprintf(stderr, "error: %s\n", eng_last_error());
 *         return 2;
 *     }
 *
 * Programmer errors (violated preconditions) are ENG_ASSERT()ed: they call the abort hook,
 * which prints file and line and aborts unless an application installed its own hook.
 */
#ifndef ENG_COMMON_H
#define ENG_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Status codes
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_status {
    ENG_OK = 0,
    ENG_ERR_NOMEM,           /* an allocation failed */
    ENG_ERR_IO,              /* a file could not be opened, read or written */
    ENG_ERR_FORMAT,          /* a file or string is malformed (wrong size, bad magic, checksum) */
    ENG_ERR_ARG,             /* an argument is out of range or inconsistent */
    ENG_ERR_SHAPE,           /* tensor shapes do not fit together */
    ENG_ERR_NOT_FOUND,       /* a named object (multiplier, model, layer) does not exist */
    ENG_ERR_EXISTS,          /* a named object already exists */
    ENG_ERR_UNSUPPORTED,     /* valid request this build or backend cannot do */
    ENG_ERR_INTERRUPTED,     /* stopped on request (signal, callback) */
    ENG_ERR_INTERNAL,        /* a bug: an invariant failed */
    ENG_ERR_DIVERGED,        /* training met a loss that is not finite (eng_train) */
    ENG_STATUS_COUNT
} eng_status;

/* Stable lower-case name of a status ("nomem", "io", ...). Never NULL. */
const char *eng_status_name(eng_status st);

/* ------------------------------------------------------------------------------------------
 * Error messages (thread-local)
 * ---------------------------------------------------------------------------------------- */

/* Formats a message into the calling thread's error buffer and returns st unchanged, so that
 * error paths read `return eng_error(ENG_ERR_FORMAT, "%s: bad magic", path);`. */
eng_status eng_error(eng_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepends "prefix: " to the current message (adds context on the way up). Returns st. */
eng_status eng_error_prefix(eng_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The calling thread's last message; "" when none. Valid until the next eng_error*(). */
const char *eng_last_error(void);

/* Forgets the calling thread's last message. */
void eng_error_clear(void);

/* ------------------------------------------------------------------------------------------
 * Aligned memory (64-byte alignment for AVX-512 and cache lines)
 * ---------------------------------------------------------------------------------------- */

#define ENG_ALIGN 64

/* Allocates size bytes aligned to ENG_ALIGN (size 0 gives a valid unique pointer).
 * Returns NULL on failure and sets the error message. */
void *eng_alloc(size_t size);

/* Like eng_alloc, zero-filled. */
void *eng_calloc(size_t count, size_t size);

/* Frees memory from eng_alloc/eng_calloc; NULL is allowed. */
void eng_free(void *ptr);

/* ------------------------------------------------------------------------------------------
 * Threads. The engine's kernels run on OpenMP threads (without OpenMP, on the calling thread);
 * these calls are the application's handle on them, so that OpenMP stays inside the engine.
 * Like OpenMP's own settings, they apply to the calling thread and the regions it starts.
 * ---------------------------------------------------------------------------------------- */

/* Sets the number of threads of the next parallel regions the calling thread starts (its
 * kernels'); n <= 0 leaves it unchanged. No effect without OpenMP. */
void eng_set_threads(int n);

/* The number of threads the next parallel region started here would use; 1 without OpenMP. */
int eng_threads(void);

/* The number of processors the engine can use (the default thread count of a command given
 * 0 threads); 1 without OpenMP. */
int eng_cpu_count(void);

/* Lets parallel regions nest `levels` deep (1: a kernel called inside a parallel region of the
 * application runs on its thread alone). No effect without OpenMP. */
void eng_set_nesting(int levels);

/* The calling thread's number in the innermost parallel region, from 0; 0 outside one and
 * without OpenMP. */
int eng_thread_id(void);

/* ------------------------------------------------------------------------------------------
 * Assertions (programmer errors only; recoverable errors return a status)
 * ---------------------------------------------------------------------------------------- */

typedef void (*eng_abort_callback)(const char *file, int line, const char *msg);

/* Installs a hook called before abort(); NULL restores the default (print to stderr). */
void eng_set_abort_callback(eng_abort_callback cb);

/* Calls the abort hook, then abort(). */
void eng_abort(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 3, 4)))
#endif
    ;

#define ENG_ASSERT(x)                                                        \
    do {                                                                     \
        if (!(x)) eng_abort(__FILE__, __LINE__, "ENG_ASSERT(%s) failed", #x); \
    } while (0)

/* Propagates a failing status: ENG_TRY(eng_net_forward(net, x, n, false)); */
#define ENG_TRY(call)                        \
    do {                                     \
        eng_status eng_try_st_ = (call);     \
        if (eng_try_st_ != ENG_OK) return eng_try_st_; \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* ENG_COMMON_H */
