/*
 * test_yaml_strict.c - the strict YAML reader on texts: typed getters, defaults of absent
 * keys, hints, free-key mappings, lists, and the FILE:LINE:COL form of every error.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_strict.h"

static ys_doc parse(const char *text)
{
    ys_doc d;
    ck_assert_msg(ys_doc_parse(&d, "t.yaml", text, strlen(text)) == ENG_OK, "%s",
                  eng_last_error());
    return d;
}

static void expect_msg(eng_status got, eng_status want, const char *msg)
{
    ck_assert_msg(got == want, "status %s, expected %s (%s)", eng_status_name(got),
                  eng_status_name(want), eng_last_error());
    ck_assert_msg(strcmp(eng_last_error(), msg) == 0, "'%s' is not '%s'", eng_last_error(), msg);
}

START_TEST(test_getters)
{
    static const char *const keys[] = {"i", "x", "b", "s", "e", "l", "m", "absent", NULL};
    static const char *const names[] = {"red", "green"};
    ys_doc d = parse("i: -7\nx: 2.5e-1\nb: yes\ns: word\ne: green\nl: [1, 2, 3]\nm: {k: v}\n");
    ys_map top, sub;
    ck_assert_int_eq(ys_map_open(&d, ys_doc_root(&d), "", keys, &top), ENG_OK);
    int i = 0, e = 0, len = 0, absent = 42;
    double x = 0;
    bool b = false;
    char s[8];
    yaml_node_t *l;
    ck_assert_int_eq(ys_get_int(&top, "i", true, -10, 10, &i), ENG_OK);
    ck_assert_int_eq(ys_get_double(&top, "x", true, 0, 1, &x), ENG_OK);
    ck_assert_int_eq(ys_get_bool(&top, "b", true, &b), ENG_OK);
    ck_assert_int_eq(ys_get_string(&top, "s", true, s, sizeof s), ENG_OK);
    ck_assert_int_eq(ys_get_enum(&top, "e", true, names, 2, &e), ENG_OK);
    ck_assert_int_eq(ys_get_seq(&top, "l", true, 1, 3, &l, &len), ENG_OK);
    ck_assert_int_eq(ys_get_int(&top, "absent", false, 0, 100, &absent), ENG_OK);
    ck_assert_int_eq(ys_get_map(&top, "m", true, NULL, &sub), ENG_OK);
    ck_assert_int_eq(i, -7);
    ck_assert_double_eq(x, 0.25);
    ck_assert(b);
    ck_assert_str_eq(s, "word");
    ck_assert_int_eq(e, 1);
    ck_assert_int_eq(len, 3);
    ck_assert_int_eq(absent, 42);   /* absent and optional: unchanged */
    int third;
    ck_assert_int_eq(ys_node_int(&d, ys_seq_item(&d, l, 2), "l", 0, 9, &third), ENG_OK);
    ck_assert_int_eq(third, 3);
    ck_assert_int_eq(ys_map_len(&sub), 1);
    ck_assert_str_eq(ys_scalar(ys_map_key(&sub, 0)), "k");
    ck_assert_str_eq(ys_scalar(ys_map_value(&sub, 0)), "v");
    ck_assert_str_eq(sub.where, "m");
    /* errors through the getters, each at the value */
    expect_msg(ys_get_int(&top, "i", true, 0, 10, &i), ENG_ERR_ARG,
               "t.yaml:1:4: i: -7 is out of range (allowed: 0 to 10)");
    expect_msg(ys_get_int(&top, "x", true, 0, 10, &i), ENG_ERR_FORMAT,
               "t.yaml:2:4: x: expected an integer, found '2.5e-1'");
    expect_msg(ys_get_bool(&top, "s", true, &b), ENG_ERR_FORMAT,
               "t.yaml:4:4: s: expected true or false, found 'word'");
    expect_msg(ys_get_string(&top, "s", true, s, 4), ENG_ERR_ARG,
               "t.yaml:4:4: s: longer than 3 characters");
    expect_msg(ys_get_seq(&top, "l", true, 1, 2, &l, &len), ENG_ERR_ARG,
               "t.yaml:6:4: l: 3 items, allowed 1 to 2");
    expect_msg(ys_get_string(&top, "m", true, s, sizeof s), ENG_ERR_FORMAT,
               "t.yaml:7:4: m: expected a string, found a mapping");
    expect_msg(ys_get_double(&top, "absent", true, 0, 1, &x), ENG_ERR_FORMAT,
               "t.yaml:1:1: missing required key 'absent' (a number from 0 to 1)");
    expect_msg(ys_get_enum(&top, "s", true, names, 2, &e), ENG_ERR_ARG,
               "t.yaml:4:4: s: 'word' is not one of: red, green");
    ys_doc_free(&d);
}
END_TEST

START_TEST(test_keys)
{
    static const char *const keys[] = {"alpha", "beta", NULL};
    ys_map m;
    ys_doc d = parse("alpha: 1\nbeat: 2\n");
    expect_msg(ys_map_open(&d, ys_doc_root(&d), "", keys, &m), ENG_ERR_FORMAT,
               "t.yaml:2:1: unknown key 'beat' (did you mean 'beta'?)");
    ys_doc_free(&d);
    d = parse("sec:\n  alpha: 1\n  zzz: 2\n");
    ys_map top;
    ck_assert_int_eq(ys_map_open(&d, ys_doc_root(&d), "", NULL, &top), ENG_OK);
    expect_msg(ys_get_map(&top, "sec", true, keys, &m), ENG_ERR_FORMAT,
               "t.yaml:3:3: unknown key 'sec.zzz'; known keys here: alpha, beta");
    ys_doc_free(&d);
    d = parse("{a: 1, b: 2, a: 3}\n");
    expect_msg(ys_map_open(&d, ys_doc_root(&d), "", NULL, &m), ENG_ERR_FORMAT,
               "t.yaml:1:14: duplicate key 'a' (first given on line 1)");
    ys_doc_free(&d);
    d = parse("- 1\n");
    expect_msg(ys_map_open(&d, ys_doc_root(&d), "sec", keys, &m), ENG_ERR_FORMAT,
               "t.yaml:1:1: sec: expected a mapping of 'key: value' lines");
    ys_doc_free(&d);
}
END_TEST

/* The hint is given for a likely typo only: not when every letter differs. */
START_TEST(test_nearest)
{
    static const char *const dims[] = {"N", "G", "M"};
    static const char *const words[] = {"training", "energy"};
    ck_assert_ptr_null(ys_nearest("K", dims, 3));
    ck_assert_str_eq(ys_nearest("traning", words, 2), "training");
    ck_assert_str_eq(ys_nearest("enrgy", words, 2), "energy");
    ck_assert_ptr_null(ys_nearest("frobnicate", words, 2));
}
END_TEST

START_TEST(test_documents)
{
    ys_doc d;
    const char *bad = "a: [1, 2\n";
    expect_msg(ys_doc_parse(&d, "t.yaml", bad, strlen(bad)), ENG_ERR_FORMAT,
               "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' while parsing "
               "a flow sequence");
    ys_doc_free(&d);
    ck_assert_int_eq(ys_doc_parse(&d, "t.yaml", "# nothing\n", 10), ENG_OK);
    ck_assert_ptr_null(ys_doc_root(&d));
    ys_doc_free(&d);
    ys_doc_free(&d);    /* twice is harmless */
    expect_msg(ys_doc_load(&d, "/nonexistent/t.yaml"), ENG_ERR_NOT_FOUND,
               "/nonexistent/t.yaml: cannot open: No such file or directory");
    ys_doc_free(&d);
    ck_assert_int_eq(ys_doc_parse(&d, "t.yaml", "a: 1\n", 5), ENG_OK);
    expect_msg(ys_fail(&d, NULL, ENG_ERR_ARG, "x is %d", 3), ENG_ERR_ARG, "t.yaml: x is 3");
    ys_doc_free(&d);
}
END_TEST

static Suite *yaml_strict_suite(void)
{
    Suite *s = suite_create("yaml_strict");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_getters);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_nearest);
    tcase_add_test(tc, test_documents);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(yaml_strict_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
