/*
 * run_claim.h - one writer per archive: the claim that search, resume and finalize hold on a
 * run while they write it, and what `status` reads of it.
 *
 * A claim names its holder: command, host, pid, the process's start time and a heartbeat. It
 * lives in two places:
 *
 *   DB.lock        a file beside the archive, published with link() (atomic, also on NFS: it
 *                  fails when the name exists) and rewritten in place by the heartbeat. This
 *                  is the guard: whoever made DB.lock owns the run.
 *   claim table    the same in the archive (archive.h), for `status` and sqlite3; a writer
 *                  also refuses a live claim found there (a lock file deleted by hand).
 *
 * A claim is stale when its holder is gone: on the same host, its pid is dead (or belongs to
 * a process started at another time); on another host, its heartbeat is older than
 * EVOAPPROXNAS_STALE_AFTER seconds (default 30; the hosts' clocks must agree to within that).
 * A lock file that cannot be read (torn by a power loss) is stale once unchanged that long.
 * Taking a claim over a stale one prints a one-line notice; a live one is refused with
 * ENG_ERR_EXISTS naming the holder.
 *
 *     run_claim *claim;
 *     ENG_TRY(run_claim_take(path, "resume", stderr, &claim));   // before opening for write
 *     ... db_open(path, DB_OPEN_WRITE, &db) ...
 *     st = run_claim_attach(claim, db);                          // row + heartbeat thread
 *     ... write ...
 *     run_claim_release(claim);                                  // before db_close
 */
#ifndef RUN_CLAIM_H
#define RUN_CLAIM_H

#include <stddef.h>
#include <stdio.h>

#include "archive.h"
#include "eng_common.h"

#define RUN_CLAIM_SUFFIX ".lock"        /* the lock file: DB.lock */
#define RUN_CLAIM_HEARTBEAT_S 1.0       /* seconds between heartbeats */
#define RUN_CLAIM_STALE_S 30.0          /* default of EVOAPPROXNAS_STALE_AFTER */

typedef struct run_claim run_claim;

typedef enum run_claim_state {
    RUN_CLAIM_NONE,             /* no one holds the run */
    RUN_CLAIM_LIVE,             /* held by a running process */
    RUN_CLAIM_STALE,            /* held by a process that is gone */
} run_claim_state;

/* Takes the claim of the archive db_path for `command` (the archive need not exist yet).
 * A live holder: ENG_ERR_EXISTS, "DB: in use by `search` (pid 1234 on host, ...)". A stale one
 * is taken over with a notice on `notice` (may be NULL). ENG_ERR_IO when the lock file cannot
 * be written. */
eng_status run_claim_take(const char *db_path, const char *command, FILE *notice,
                          run_claim **out);

/* Records the claim in the archive (refusing, ENG_ERR_EXISTS, a live claim of another process
 * found there) and starts the heartbeat thread, which opens its own connection. */
eng_status run_claim_attach(run_claim *claim, db_archive *db);

/* Stops the heartbeat, clears the archive's claim row and removes the lock file (each only if
 * still this claim's). NULL-safe; cannot fail. */
void run_claim_release(run_claim *claim);

/* Who holds the archive db_path: the lock file, else db's claim row (db may be NULL). Fills
 * *holder and *age_s (seconds since its last heartbeat) unless RUN_CLAIM_NONE. */
run_claim_state run_claim_inspect(const char *db_path, db_archive *db, db_claim *holder,
                                  double *age_s);

/* "pid 1234 on host, heartbeat 3 s ago" (live) or "pid 1234 on host is gone" / "pid 1234 on
 * host, no heartbeat for 95 s" (stale); "an unreadable lock file, unchanged for 5 s" (pid 0). */
void run_claim_describe(const db_claim *holder, run_claim_state state, double age_s, char *buf,
                        size_t size);

#endif /* RUN_CLAIM_H */
