/*
 * evo_common.h - status codes and thread-local error messages of the search library.
 *
 * The generic search code (RNG, NSGA-II, indicators, test problems) is independent of the
 * engine: it has its own small status enum and message buffer, built like the engine's.
 * Every fallible evo_ function returns an evo_status and, on failure, leaves a message in a
 * thread-local buffer:
 *
 *     evo_status st = evo_nsga2_restore(ga, blob, size);
 *     if (st != EVO_OK) fprintf(stderr, "resume: %s\n", evo_last_error());
 *
 * Callbacks supplied by an application (evaluate, mutate, ...) report their failures the same
 * way: `return evo_error(EVO_ERR_CALLBACK, "training of %llu diverged", id);`. The library
 * passes the callback's status through unchanged and keeps its message.
 */
#ifndef EVO_COMMON_H
#define EVO_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum evo_status {
    EVO_OK = 0,
    EVO_ERR_NOMEM,           /* an allocation failed */
    EVO_ERR_ARG,             /* an argument is out of range or inconsistent */
    EVO_ERR_FORMAT,          /* a serialized state is malformed or does not fit this run */
    EVO_ERR_CALLBACK,        /* an application callback failed or broke its contract */
    EVO_ERR_INTERRUPTED,     /* stopped on request (a generation hook asked to stop) */
    EVO_ERR_INTERNAL,        /* a bug: an invariant failed */
    EVO_STATUS_COUNT
} evo_status;

/* Stable lower-case name of a status ("ok", "nomem", ...). Never NULL. */
const char *evo_status_name(evo_status st);

/* Formats a message into the calling thread's error buffer and returns st unchanged:
 * `return evo_error(EVO_ERR_ARG, "pop_size %d < 2", n);`. */
evo_status evo_error(evo_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The calling thread's last message; "" when none. Valid until the next evo_error(). */
const char *evo_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* EVO_COMMON_H */
