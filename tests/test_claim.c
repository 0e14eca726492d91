/*
 * test_claim.c - run claims: a second writer refused naming the holder, a dead holder taken
 * over with a notice, the heartbeat, release, another host's claim, and the stop signals.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "run_claim.h"
#include "run_signal.h"
#include "testutil.h"

static char dir[4096], path[4200], lock[4300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", test_mkdtemp());
    snprintf(path, sizeof path, "%s/a.db", dir);
    snprintf(lock, sizeof lock, "%s" RUN_CLAIM_SUFFIX, path);
}

static void teardown(void) { test_rmtree(dir); }

static db_archive *create(void)
{
    db_archive *db;
    db_run run = {.name = "t", .config_text = "name: t\n", .config_path = "/c.yaml", .seed = 1,
                  .threads = 1, .objectives = "error"};
    ck_assert_msg(db_create(path, &run, false, &db) == ENG_OK, "%s", eng_last_error());
    return db;
}

/* The pid of a process that has exited (and was reaped). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void write_lock(const char *host, long pid, double heartbeat)
{
    FILE *f = fopen(lock, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "evoapproxnas claim\ncommand search\nhost %s\npid %ld\nproc_start 0\n"
            "started_at 2026-01-01T00:00:00Z\nheartbeat %017.3f\n", host, pid, heartbeat);
    fclose(f);
}

START_TEST(test_second_writer_refused)
{
    db_archive *db = create();
    run_claim *a, *b;
    ck_assert_int_eq(run_claim_take(path, "search", NULL, &a), ENG_OK);
    ck_assert_int_eq(access(lock, F_OK), 0);
    ck_assert_int_eq(run_claim_attach(a, db), ENG_OK);
    db_claim h;
    ck_assert_int_eq(db_claim_load(db, &h), ENG_OK);
    ck_assert_int_eq(h.pid, getpid());
    ck_assert_str_eq(h.command, "search");
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &b), ENG_ERR_EXISTS);
    ck_assert_ptr_null(b);
    char want[128];
    snprintf(want, sizeof want, "in use by `search` (pid %ld on ", (long)getpid());
    ck_assert_msg(strstr(eng_last_error(), want), "%s", eng_last_error());
    double age;
    ck_assert_int_eq(run_claim_inspect(path, db, &h, &age), RUN_CLAIM_LIVE);
    /* the heartbeat renews the archive's row and the lock file */
    double before = h.heartbeat;
    nanosleep(&(struct timespec){1, 300 * 1000 * 1000}, NULL);
    ck_assert_int_eq(db_claim_load(db, &h), ENG_OK);
    ck_assert(h.heartbeat > before);
    ck_assert_int_eq(run_claim_inspect(path, NULL, &h, &age), RUN_CLAIM_LIVE);
    ck_assert(age < RUN_CLAIM_HEARTBEAT_S + 1);
    run_claim_release(a);
    ck_assert_int_ne(access(lock, F_OK), 0);
    ck_assert_int_eq(db_claim_load(db, &h), ENG_ERR_NOT_FOUND);
    ck_assert_int_eq(run_claim_inspect(path, db, &h, &age), RUN_CLAIM_NONE);
    db_close(db);
}
END_TEST

START_TEST(test_dead_holder_taken_over)
{
    db_archive *db = create();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    pid_t gone = dead_pid();
    write_lock(host, gone, 1.0);
    db_claim old = {.command = "search", .pid = gone, .started_at = "2026-01-01T00:00:00Z"};
    snprintf(old.host, sizeof old.host, "%s", host);
    ck_assert_int_eq(db_claim_store(db, &old), ENG_OK);
    db_claim h;
    double age;
    ck_assert_int_eq(run_claim_inspect(path, db, &h, &age), RUN_CLAIM_STALE);
    char notice[1024] = "";
    FILE *f = fmemopen(notice, sizeof notice, "w");
    run_claim *c;
    ck_assert_int_eq(run_claim_take(path, "resume", f, &c), ENG_OK);
    fclose(f);
    char want[256];
    snprintf(want, sizeof want, "taking over the stale claim of `search` (pid %ld on %s is "
             "gone)\n", (long)gone, host);
    ck_assert_msg(strstr(notice, want), "%s", notice);
    ck_assert_int_eq(run_claim_attach(c, db), ENG_OK);
    ck_assert_int_eq(db_claim_load(db, &h), ENG_OK);
    ck_assert_int_eq(h.pid, getpid());
    run_claim_release(c);
    db_close(db);
}
END_TEST

START_TEST(test_other_host)
{
    run_claim *c;
    write_lock("elsewhere", 1, (double)time(NULL));
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &c), ENG_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "pid 1 on elsewhere, heartbeat "));
    /* no heartbeat for longer than EVOAPPROXNAS_STALE_AFTER: stale */
    write_lock("elsewhere", 1, (double)time(NULL) - 100);
    setenv("EVOAPPROXNAS_STALE_AFTER", "200", 1);
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &c), ENG_ERR_EXISTS);
    setenv("EVOAPPROXNAS_STALE_AFTER", "50", 1);
    db_claim h;
    double age;
    ck_assert_int_eq(run_claim_inspect(path, NULL, &h, &age), RUN_CLAIM_STALE);
    char text[256];
    run_claim_describe(&h, RUN_CLAIM_STALE, age, text, sizeof text);
    ck_assert_msg(strncmp(text, "pid 1 on elsewhere, no heartbeat for 10", 39) == 0, "%s", text);
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &c), ENG_OK);
    run_claim_release(c);
    unsetenv("EVOAPPROXNAS_STALE_AFTER");
    ck_assert_int_ne(access(lock, F_OK), 0);
}
END_TEST

START_TEST(test_unreadable_lock)
{
    FILE *f = fopen(lock, "w");
    fputs("evoapproxnas claim\ncommand sea", f); /* torn */
    fclose(f);
    run_claim *c;
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &c), ENG_ERR_EXISTS);
    ck_assert_msg(strstr(eng_last_error(), "an unreadable lock file, unchanged for"), "%s",
                  eng_last_error());
    setenv("EVOAPPROXNAS_STALE_AFTER", "0.5", 1);
    nanosleep(&(struct timespec){1, 100 * 1000 * 1000}, NULL);
    db_claim h;
    double age;
    ck_assert_int_eq(run_claim_inspect(path, NULL, &h, &age), RUN_CLAIM_STALE);
    ck_assert_int_eq(run_claim_take(path, "resume", NULL, &c), ENG_OK);
    unsetenv("EVOAPPROXNAS_STALE_AFTER");
    ck_assert_int_eq(run_claim_inspect(path, NULL, &h, &age), RUN_CLAIM_LIVE);
    ck_assert_int_eq(h.pid, getpid());
    run_claim_release(c);
    ck_assert_int_ne(access(lock, F_OK), 0);
}
END_TEST

START_TEST(test_stop_signals)
{
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        volatile sig_atomic_t *stop = run_signal_install();
        ck_assert_int_eq(*stop, 0);
        raise(sigs[i]);
        ck_assert_int_eq(*stop, sigs[i]);
        ck_assert_int_eq(run_signal_caught(), sigs[i]);
        ck_assert_ptr_nonnull(run_signal_name(sigs[i]));
        /* the handler put the default action back: a second signal would kill */
        struct sigaction sa;
        sigaction(sigs[(i + 1) % 3], NULL, &sa);
        ck_assert(sa.sa_handler == SIG_DFL);
    }
    run_signal_restore();
    ck_assert_str_eq(run_signal_name(SIGHUP), "SIGHUP");
    ck_assert_ptr_null(run_signal_name(SIGUSR1));
}
END_TEST

static Suite *claim_suite(void)
{
    Suite *s = suite_create("claim");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_second_writer_refused);
    tcase_add_test(tc, test_dead_holder_taken_over);
    tcase_add_test(tc, test_other_host);
    tcase_add_test(tc, test_unreadable_lock);
    tcase_add_test(tc, test_stop_signals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(claim_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
