/*
 * run_claim.c - the exclusive claim on a run: lock file published with link(), a row in the
 * archive, a heartbeat thread, and the staleness rules.
 */
#include "run_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct run_claim {
    char db_path[4096];
    char lock_path[4200];
    db_claim me;
    db_claim replaced;          /* the stale claim taken over (pid 0: none) */
    int fd;                     /* the lock file, rewritten by the heartbeat */
    db_archive *hb_db;          /* the heartbeat's own connection */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double stale_after(void)
{
    const char *v = getenv("EVOAPPROXNAS_STALE_AFTER");
    char *end;
    double s = v ? strtod(v, &end) : 0;
    return v && end != v && *end == '\0' && s > 0 ? s : RUN_CLAIM_STALE_S;
}

/* Field 22 of /proc/PID/stat (start time in clock ticks after boot); 0 when unknown. */
static uint64_t proc_start_of(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    p++;
    for (int field = 3; field < 22 && *p; field++) { /* skip fields 3..21 */
        while (*p == ' ') p++;
        while (*p && *p != ' ') p++;
    }
    return strtoull(p, NULL, 10);
}

/* The lock file's text: fixed width, so that a heartbeat rewrites it in place. */
static int format_lock(const db_claim *c, char *buf, size_t size)
{
    return snprintf(buf, size, "evoapproxnas claim\ncommand %s\nhost %s\npid %lld\n"
                    "proc_start %llu\nstarted_at %s\nheartbeat %017.3f\n", c->command, c->host,
                    (long long)c->pid, (unsigned long long)c->proc_start, c->started_at,
                    c->heartbeat);
}

static bool parse_lock(const char *text, db_claim *c)
{
    memset(c, 0, sizeof *c);
    long long pid = 0;
    unsigned long long ps = 0;
    int n = sscanf(text, "evoapproxnas claim\ncommand %15s\nhost %255s\npid %lld\n"
                   "proc_start %llu\nstarted_at %31s\nheartbeat %lf", c->command, c->host, &pid,
                   &ps, c->started_at, &c->heartbeat);
    c->pid = pid;
    c->proc_start = ps;
    return n == 6 && pid > 0;
}

/* Reads the lock file: 1 parsed, 0 absent, -1 unreadable (a heartbeat rewriting it, or junk). */
static int read_lock(const char *lock_path, db_claim *c)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        FILE *f = fopen(lock_path, "r");
        if (!f) return errno == ENOENT ? 0 : -1;
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        if (parse_lock(buf, c)) return 1;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return -1;
}

static run_claim_state state_of(const db_claim *h, double *age_s)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    *age_s = wall_now() - h->heartbeat;
    if (strcmp(h->host, host) == 0) {
        if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH) return RUN_CLAIM_STALE;
        uint64_t ps = proc_start_of((long)h->pid);
        if (h->proc_start && ps && ps != h->proc_start) return RUN_CLAIM_STALE;
        return RUN_CLAIM_LIVE;
    }
    return *age_s > stale_after() ? RUN_CLAIM_STALE : RUN_CLAIM_LIVE;
}

static bool same_holder(const db_claim *a, const db_claim *b)
{
    return a->pid == b->pid && strcmp(a->host, b->host) == 0 &&
           strcmp(a->started_at, b->started_at) == 0;
}

/* The holder named by a lock file and its state: 0 when there is no lock file. A lock file
 * that cannot be parsed (a torn write at a power loss) names no one (pid 0) and is stale once
 * it has not changed for EVOAPPROXNAS_STALE_AFTER seconds. */
static int lock_holder(const char *lock_path, db_claim *h, run_claim_state *state, double *age)
{
    int r = read_lock(lock_path, h);
    if (r == 0) return 0;
    if (r > 0) {
        *state = state_of(h, age);
        return 1;
    }
    memset(h, 0, sizeof *h);
    snprintf(h->command, sizeof h->command, "?");
    snprintf(h->host, sizeof h->host, "?");
    snprintf(h->started_at, sizeof h->started_at, "?");
    struct stat sb;
    h->heartbeat = stat(lock_path, &sb) == 0 ? (double)sb.st_mtime : wall_now();
    *age = wall_now() - h->heartbeat;
    *state = *age > stale_after() ? RUN_CLAIM_STALE : RUN_CLAIM_LIVE;
    return 1;
}

void run_claim_describe(const db_claim *h, run_claim_state state, double age_s, char *buf,
                        size_t size)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (h->pid == 0)
        snprintf(buf, size, "an unreadable lock file, unchanged for %.0f s", age_s);
    else if (state == RUN_CLAIM_LIVE)
        snprintf(buf, size, "pid %lld on %s, heartbeat %.0f s ago", (long long)h->pid, h->host,
                 age_s > 0 ? age_s : 0);
    else if (strcmp(h->host, host) == 0)
        snprintf(buf, size, "pid %lld on %s is gone", (long long)h->pid, h->host);
    else
        snprintf(buf, size, "pid %lld on %s, no heartbeat for %.0f s", (long long)h->pid,
                 h->host, age_s);
}

static void write_lock(run_claim *c)
{
    char buf[1024];
    int n = format_lock(&c->me, buf, sizeof buf);
    if (pwrite(c->fd, buf, (size_t)n, 0) == n) fsync(c->fd);
}

eng_status run_claim_take(const char *db_path, const char *command, FILE *notice,
                          run_claim **out)
{
    *out = NULL;
    run_claim *c = calloc(1, sizeof *c);
    if (!c) return eng_error(ENG_ERR_NOMEM, "out of memory");
    c->fd = -1;
    snprintf(c->db_path, sizeof c->db_path, "%s", db_path);
    snprintf(c->lock_path, sizeof c->lock_path, "%s" RUN_CLAIM_SUFFIX, db_path);
    snprintf(c->me.command, sizeof c->me.command, "%s", command);
    gethostname(c->me.host, sizeof c->me.host - 1);
    for (char *p = c->me.host; *p; p++)
        if (*p == ' ' || *p == '\n') *p = '_';
    c->me.pid = (int64_t)getpid();
    c->me.proc_start = proc_start_of((long)getpid());
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(c->me.started_at, sizeof c->me.started_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    c->me.heartbeat = wall_now();

    /* the whole text goes into a private file first, then link() publishes it at once */
    char tmp[4500], buf[1024];
    snprintf(tmp, sizeof tmp, "%s.%s.%lld", c->lock_path, c->me.host, (long long)c->me.pid);
    unlink(tmp);
    c->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0644);
    int n = format_lock(&c->me, buf, sizeof buf);
    if (c->fd < 0 || write(c->fd, buf, (size_t)n) != n || fsync(c->fd) != 0) {
        eng_status st = eng_error(ENG_ERR_IO, "%s: cannot write the lock file: %s", tmp,
                                  strerror(errno));
        if (c->fd >= 0) close(c->fd);
        unlink(tmp);
        free(c);
        return st;
    }
    eng_status st = ENG_OK;
    for (int attempt = 0;; attempt++) {
        struct stat sb;
        int rc = link(tmp, c->lock_path), err = errno;
        /* NFS: link() can report failure although it succeeded; the link count tells */
        if (rc == 0 || (fstat(c->fd, &sb) == 0 && sb.st_nlink == 2)) break;
        if (err != EEXIST || attempt > 10) {
            st = eng_error(ENG_ERR_IO, "%s: cannot create the lock file: %s", c->lock_path,
                           strerror(err));
            break;
        }
        db_claim h;
        double age = 0;
        run_claim_state hs;
        if (!lock_holder(c->lock_path, &h, &hs, &age)) continue; /* released meanwhile */
        if (hs == RUN_CLAIM_LIVE || attempt >= 3) {
            char who[512];
            run_claim_describe(&h, RUN_CLAIM_LIVE, age, who, sizeof who);
            st = eng_error(ENG_ERR_EXISTS, "%s: in use by `%s` (%s, since %s); one writer at a "
                           "time: wait for it or stop it", db_path, h.command, who,
                           h.started_at);
            break;
        }
        /* Take the stale lock away under a private name, and check that what was moved is
         * the stale claim (not one that replaced it meanwhile) before removing it. */
        char moved[4600];
        snprintf(moved, sizeof moved, "%s.stale.%s.%lld", c->lock_path, c->me.host,
                 (long long)c->me.pid);
        if (rename(c->lock_path, moved) != 0) continue;
        db_claim m;
        if (h.pid && read_lock(moved, &m) == 1 && !same_holder(&m, &h)) {
            /* someone else's live claim: give it back (fails only if a third one exists) */
            if (link(moved, c->lock_path) == 0) unlink(moved);
            continue;
        }
        unlink(moved);
        char who[512];
        run_claim_describe(&h, RUN_CLAIM_STALE, age, who, sizeof who);
        if (notice)
            fprintf(notice, "evoapproxnas: %s: taking over the stale claim of `%s` (%s)\n",
                    db_path, h.command, who);
        c->replaced = h;
    }
    unlink(tmp);
    if (st != ENG_OK) {
        close(c->fd);
        free(c);
        return st;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return ENG_OK;
}

static void *heartbeat_main(void *arg)
{
    run_claim *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)RUN_CLAIM_HEARTBEAT_S;
        pthread_cond_timedwait(&c->cv, &c->mu, &until);
        if (c->stop) break;
        pthread_mutex_unlock(&c->mu);
        c->me.heartbeat = wall_now();
        write_lock(c);
        if (c->hb_db) db_claim_heartbeat(c->hb_db, &c->me, c->me.heartbeat);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

eng_status run_claim_attach(run_claim *c, db_archive *db)
{
    db_claim h;
    if (db_claim_load(db, &h) == ENG_OK && !same_holder(&h, &c->me) &&
        !(c->replaced.pid && same_holder(&h, &c->replaced))) {
        double age;
        if (state_of(&h, &age) == RUN_CLAIM_LIVE) {
            char who[512];
            run_claim_describe(&h, RUN_CLAIM_LIVE, age, who, sizeof who);
            return eng_error(ENG_ERR_EXISTS, "%s: in use by `%s` (%s, since %s) according to "
                             "the archive's claim, although %s is missing; one writer at a "
                             "time", c->db_path, h.command, who, h.started_at, c->lock_path);
        }
    }
    c->me.heartbeat = wall_now();
    ENG_TRY(db_claim_store(db, &c->me));
    /* the heartbeat's connection; without it only the lock file beats */
    if (db_open(db_path(db), DB_OPEN_CLAIM, &c->hb_db) != ENG_OK) c->hb_db = NULL;
    /* stop signals go to the other threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    c->running = pthread_create(&c->thread, NULL, heartbeat_main, c) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!c->running) return eng_error(ENG_ERR_INTERNAL, "cannot start the heartbeat thread");
    return ENG_OK;
}

void run_claim_release(run_claim *c)
{
    if (!c) return;
    if (c->running) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    if (c->hb_db) {
        db_claim_clear(c->hb_db, &c->me);
        db_close(c->hb_db);
    }
    db_claim h;
    if (read_lock(c->lock_path, &h) == 1 && same_holder(&h, &c->me)) unlink(c->lock_path);
    close(c->fd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

run_claim_state run_claim_inspect(const char *db_path, db_archive *db, db_claim *holder,
                                  double *age_s)
{
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s" RUN_CLAIM_SUFFIX, db_path);
    *age_s = 0;
    run_claim_state st;
    if (lock_holder(lock_path, holder, &st, age_s)) return st;
    if (!db || db_claim_load(db, holder) != ENG_OK) return RUN_CLAIM_NONE;
    return state_of(holder, age_s);
}
