/*
 * test_common.c - eng_common.h: the thread-count calls (eng_set_threads, eng_threads,
 * eng_cpu_count, eng_set_nesting, eng_thread_id), with and without OpenMP, and the abort hook.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_common.h"
#include "engine_config.h"

START_TEST(test_set_threads)
{
    ck_assert_int_ge(eng_cpu_count(), 1);
    const int saved = eng_threads();
    eng_set_threads(3);
#if ENG_HAVE_OPENMP
    ck_assert_int_eq(eng_threads(), 3);
    eng_set_threads(0);   /* n <= 0: unchanged */
    ck_assert_int_eq(eng_threads(), 3);
    eng_set_threads(-2);
    ck_assert_int_eq(eng_threads(), 3);
#else
    ck_assert_int_eq(eng_threads(), 1);
    ck_assert_int_eq(eng_cpu_count(), 1);
#endif
    eng_set_threads(saved);
    ck_assert_int_eq(eng_threads(), saved);
}
END_TEST

/* Every thread of a region of three sees its own number, 0..2; outside one, 0. */
START_TEST(test_thread_id)
{
    ck_assert_int_eq(eng_thread_id(), 0);
    bool seen[3] = {false, false, false};
    int bad = 0;
#pragma omp parallel num_threads(3)
    {
        const int id = eng_thread_id();
        if (id < 0 || id > 2) {
#pragma omp atomic
            bad++;
        } else {
            seen[id] = true;
        }
    }
    ck_assert_int_eq(bad, 0);
    ck_assert(seen[0]);
#if ENG_HAVE_OPENMP
    ck_assert(seen[1] && seen[2]);
#else
    ck_assert(!seen[1] && !seen[2]);
#endif
}
END_TEST

/* Counts the inner threads numbered 1 in regions of two nested in a region of two. */
static int nested_second_threads(void)
{
    int n = 0;
#pragma omp parallel num_threads(2)
#pragma omp parallel num_threads(2)
    if (eng_thread_id() == 1) {
#pragma omp atomic
        n++;
    }
    return n;
}

START_TEST(test_nesting)
{
    eng_set_nesting(1);   /* inner regions run on one thread */
    ck_assert_int_eq(nested_second_threads(), 0);
    eng_set_nesting(2);
#if ENG_HAVE_OPENMP
    ck_assert_int_eq(nested_second_threads(), 2);
#else
    ck_assert_int_eq(nested_second_threads(), 0);
#endif
    eng_set_nesting(1);
}
END_TEST

/* Leaves the process with 42 when called with what ENG_ASSERT below passes, else 43. */
static void exit_hook(const char *file, int line, const char *msg)
{
    const bool ok = strstr(file, "test_common.c") != NULL && line > 0 &&
                    strcmp(msg, "ENG_ASSERT(1 + 1 == 3) failed") == 0;
    _exit(ok ? 42 : 43);
}

/* The hook runs before abort() with file, line and message (here it exits instead). */
START_TEST(test_abort_hook)
{
    eng_set_abort_callback(exit_hook);
    ENG_ASSERT(1 + 1 == 3);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, test_set_threads);
    tcase_add_test(tc, test_thread_id);
    tcase_add_test(tc, test_nesting);
    suite_add_tcase(s, tc);
    tc = tcase_create("abort");
    tcase_add_exit_test(tc, test_abort_hook, 42);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
