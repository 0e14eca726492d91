/*
 * test_exec.c - the network executor's fingerprint: zoo networks trained a few fixed-seed steps
 * and evaluated (exact and approximate, plain and batch-norm folded) on the scalar reference
 * kernels, every loss, output and parameter hashed bit for bit against recorded values.
 *
 * Also: a network with hard swish trained one step at 1 and 2 threads, bit for bit the same.
 *
 * `test_exec --print` prints the table of fingerprints (with the losses as hex floats) instead
 * of checking it; `--print --best` does the same on the kernels this process would use, for a
 * before/after comparison of a change on one machine.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_config.h"
#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

#include "eng_kernels.h"
#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "eng_train.h"
#include "eng_zoo.h"
#include "testutil.h"

enum { BATCH = 4, STEPS = 3 };

/* Check's assertions report even a success to the runner, which --print runs without: a
 * failure aborts with its message, a success says nothing. */
#define OK(expr)                                                                            \
    do {                                                                                    \
        if ((expr) != ENG_OK) ck_abort_msg("%s: %s", #expr, eng_last_error());              \
    } while (0)

typedef struct fp_case {
    const char *model;
    float width;
    bool approx;
    uint64_t expect;        /* fingerprint with the scalar kernels */
} fp_case;

static const fp_case cases[] = {
    {"resnet8_v1", 0.0f, false, 0xf00db256a795d031ull},
    {"resnet8_v1", 0.0f, true, 0xfd1a8d40d6e1f8c7ull},
    {"resnet8_v2", 0.0f, false, 0xf909e7a6dbadc653ull},
    {"resnet8_v2", 0.0f, true, 0xb4dc7bc28ac71fbfull},
    {"mobilenetv2_cifar", 0.25f, false, 0xd399dec50be186ceull},
    {"mobilenetv2_cifar", 0.25f, true, 0xb6afc900d6e844cdull},
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

static uint64_t fnv(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Trains case c STEPS steps and evaluates it, plain and folded; returns the hash of every
 * loss, output and final parameter. print: also prints the losses as hex floats. */
static uint64_t fingerprint(const fp_case *c, const eng_kernels *k, bool print)
{
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.width = c->width;
    opt.seed = 7;
    eng_net *net;
    OK(eng_zoo_build(c->model, &opt, &net));
    eng_net_set_kernels(net, k);
    eng_mul *mul = NULL;
    if (c->approx) {
        OK(eng_mul_load("mul8u_1JFF", &mul));
        eng_approx_cfg q;
        eng_approx_cfg_default(&q);
        OK(eng_net_set_multiplier(net, -1, mul));
        OK(eng_net_set_quant(net, -1, &q));
    }
    size_t count = (size_t)3 * 32 * 32 * BATCH;
    float *x = malloc(count * sizeof *x);
    if (!x) abort();
    uint64_t rng = 11;
    for (size_t i = 0; i < count; i++) x[i] = test_rand_uniform(&rng, -1.0f, 1.0f);
    uint8_t labels[BATCH] = {3, 1, 4, 1};

    eng_sgd_cfg sc = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f,
                      .schedule = ENG_LR_CONSTANT, .step_epochs = 1, .step_gamma = 1.0f};
    eng_sgd *sgd;
    OK(eng_sgd_create(net, &sc, &sgd));
    uint64_t h = 0xcbf29ce484222325ull;
    if (print) printf("%s%s%s:", c->model, c->width > 0.0f ? "/w" : "", c->approx ? "/approx" : "");
    for (int s = 0; s < STEPS; s++) {
        float loss;
        int correct;
        OK(eng_net_forward(net, x, BATCH, true));
        OK(eng_net_loss(net, labels, BATCH, &loss, &correct));
        OK(eng_net_backward(net));
        OK(eng_sgd_step(sgd, 0.05f));
        h = fnv(h, &loss, sizeof loss);
        h = fnv(h, &correct, sizeof correct);
        if (print) printf(" %a", loss);
    }
    size_t outs = (size_t)10 * BATCH;
    OK(eng_net_forward(net, x, BATCH, false));
    h = fnv(h, eng_net_output(net), outs * sizeof(float));
    if (print) printf(" eval %a", eng_net_output(net)[0]);
    int folded = 0;
    OK(eng_net_fold_batchnorm(net, &folded));
    if (folded < 1) ck_abort_msg("%s: no batch norm folded", c->model);
    OK(eng_net_forward(net, x, BATCH, false));
    h = fnv(h, eng_net_output(net), outs * sizeof(float));
    if (print) printf(" folded %a", eng_net_output(net)[0]);
    for (int i = 0; i < eng_net_param_count(net); i++) {
        eng_param p;
        OK(eng_net_param_get(net, i, &p));
        h = fnv(h, p.data, p.count * sizeof(float));
    }
    if (print) printf(" hash 0x%016llxull\n", (unsigned long long)h);
    eng_sgd_free(sgd);
    eng_net_free(net);
    eng_mul_free(mul);
    free(x);
    return h;
}

START_TEST(test_fingerprint_scalar)
{
    const fp_case *c = &cases[_i];
    uint64_t h = fingerprint(c, eng_kernels_ref(), false);
    ck_assert_msg(h == c->expect, "%s%s: fingerprint 0x%016llx, recorded 0x%016llx", c->model,
                  c->approx ? " approx" : "", (unsigned long long)h,
                  (unsigned long long)c->expect);
}
END_TEST

/* One SGD step of a conv + BN + hard swish + depthwise + hard swish network (16x16x16 maps of
 * 16 images: the element-wise loops run in parallel) on `threads` threads; returns the hash of
 * the loss, all parameters after the step and the evaluation outputs after it. */
static uint64_t hardswish_step(int threads)
{
#if ENG_HAVE_OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    enum { N = 16 };
    eng_net *net;
    OK(eng_net_create(3, 16, 16, 10, &net));
    int h1 = eng_net_hardswish(net, eng_net_batchnorm(net, eng_net_conv2d(net, ENG_NET_INPUT, 16,
                                                                           3, 1, 1, 1, false),
                                                      0.1f, 1e-5f));
    int h2 = eng_net_hardswish(net, eng_net_depthwise(net, h1, 3, 1, 1, 1, true));
    int out = eng_net_dense(net, eng_net_flatten(net, eng_net_global_avgpool(net, h2)), 10, true);
    ck_assert_int_gt(out, 0);
    OK(eng_net_init_params(net, 5));
    size_t count = (size_t)3 * 16 * 16 * N;
    float *x = malloc(count * sizeof *x);
    if (!x) abort();
    uint64_t rng = 21;
    for (size_t i = 0; i < count; i++) x[i] = test_rand_uniform(&rng, -4.0f, 4.0f);
    uint8_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)(i % 10);
    eng_sgd_cfg sc = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-4f,
                      .schedule = ENG_LR_CONSTANT, .step_epochs = 1, .step_gamma = 1.0f};
    eng_sgd *sgd;
    OK(eng_sgd_create(net, &sc, &sgd));
    float loss;
    OK(eng_net_forward(net, x, N, true));
    OK(eng_net_loss(net, labels, N, &loss, NULL));
    OK(eng_net_backward(net));
    OK(eng_sgd_step(sgd, 0.1f));
    uint64_t h = fnv(0xcbf29ce484222325ull, &loss, sizeof loss);
    for (int i = 0; i < eng_net_param_count(net); i++) {
        eng_param p;
        OK(eng_net_param_get(net, i, &p));
        h = fnv(h, p.data, p.count * sizeof(float));
    }
    OK(eng_net_forward(net, x, N, false));
    h = fnv(h, eng_net_output(net), (size_t)10 * N * sizeof(float));
    eng_sgd_free(sgd);
    eng_net_free(net);
    free(x);
    return h;
}

START_TEST(test_hardswish_threads)
{
    uint64_t one = hardswish_step(1), two = hardswish_step(2);
    ck_assert_msg(one == two, "1 thread 0x%016llx, 2 threads 0x%016llx",
                  (unsigned long long)one, (unsigned long long)two);
#if ENG_HAVE_OPENMP
    omp_set_num_threads(2);
#endif
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        bool best = argc > 2 && strcmp(argv[2], "--best") == 0;
        printf("kernels %s\n", best ? eng_kernels_get()->name : "scalar");
        for (int i = 0; i < CASE_COUNT; i++)
            fingerprint(&cases[i], best ? eng_kernels_get() : eng_kernels_ref(), true);
        return 0;
    }
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("fingerprint");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_fingerprint_scalar, 0, CASE_COUNT);
    tcase_add_test(tc, test_hardswish_threads);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
