/*
 * test_zoo.c - the model zoo against published parameter counts and MACs, architecture text
 * round trips, options and errors.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_zoo.h"
#include "testutil.h"

typedef struct published {
    const char *name;
    size_t params;          /* trainable parameters, PyTorch/Keras count */
    double mmacs;           /* MACs per image in millions, 0 = not checked */
} published;

/* ResNet CIFAR: He et al. 2016 (0.27M for depth 20, 0.85M for 56) and /work/shared/perf/peers
 * (PyTorch counts); MobileNetV2 CIFAR: the PyTorch CIFAR port (2,296,922); MobileNetV2
 * ImageNet: torchvision (3,504,872, ~300M MACs); ResNet50V2: Keras trainable parameters
 * (25,568,360); LeNet-5 style: 61,706. */
static const published table[] = {
    {"lenet", 61706, 0.4165},
    {"resnet8_v1", 75290, 0},
    {"resnet14_v1", 172506, 0},
    {"resnet20_v1", 269722, 40.55},
    {"resnet32_v1", 464154, 0},
    {"resnet56_v1", 853018, 0},
    {"resnet20_v2", 272282, 40.81},
    {"mobilenetv2_cifar", 2296922, 91.15},
    {"mobilenetv2", 3504872, 300.8},
    {"resnet50v2", 25568360, 0},
};

START_TEST(test_published_counts)
{
    const published *p = &table[_i];
    eng_net *net;
    ck_assert_msg(eng_zoo_build(p->name, NULL, &net) == ENG_OK, "%s: %s", p->name,
                  eng_last_error());
    ck_assert_msg(eng_net_param_total(net) == p->params, "%s: %zu params, published %zu",
                  p->name, eng_net_param_total(net), p->params);
    if (p->mmacs > 0) {
        double m = (double)eng_net_mac_total(net) / 1e6;
        ck_assert_msg(fabs(m - p->mmacs) < 0.01 * p->mmacs + 0.01, "%s: %.3f MMAC, expected "
                      "%.2f", p->name, m, p->mmacs);
    }
    eng_net_free(net);
}
END_TEST

START_TEST(test_v2_projections)
{
    /* v2 differs from v1 by exactly the two 1x1 projections 16->32 and 32->64 */
    const int depths[] = {8, 14, 32, 56};
    for (int i = 0; i < 4; i++) {
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "resnet%d_v1", depths[i]);
        snprintf(n2, sizeof n2, "resnet%d_v2", depths[i]);
        eng_net *a, *b;
        ck_assert_int_eq(eng_zoo_build(n1, NULL, &a), ENG_OK);
        ck_assert_int_eq(eng_zoo_build(n2, NULL, &b), ENG_OK);
        ck_assert_uint_eq(eng_net_param_total(b), eng_net_param_total(a) + 16 * 32 + 32 * 64);
        eng_net_free(a);
        eng_net_free(b);
    }
}
END_TEST

START_TEST(test_arch_round_trip)
{
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.width = 0.5f;
    opt.classes = 7;
    eng_net *net, *again;
    ck_assert_int_eq(eng_zoo_build("mobilenetv2_cifar", &opt, &net), ENG_OK);
    ck_assert_uint_lt(eng_net_param_total(net), 2296922 / 2);
    ck_assert_int_eq(eng_net_classes(net), 7);
    ck_assert_int_eq(eng_zoo_build_arch(eng_net_arch(net), &again), ENG_OK);
    ck_assert_str_eq(eng_net_arch(again), eng_net_arch(net));
    ck_assert_uint_eq(eng_net_param_total(again), eng_net_param_total(net));
    ck_assert_int_eq(eng_net_node_count(again), eng_net_node_count(net));
    eng_net_free(net);
    eng_net_free(again);
    ck_assert_int_eq(eng_zoo_build_arch("lenet classes=10", &net), ENG_ERR_FORMAT);
    ck_assert_ptr_null(net);
    ck_assert_int_eq(eng_zoo_build_arch("lenet classes=1 input=28x28x1 width=1", &net),
                     ENG_ERR_FORMAT);
    ck_assert_int_eq(eng_zoo_build_arch("lenet classes=10 input=28x28x1 width=1 x", &net),
                     ENG_ERR_FORMAT);
}
END_TEST

START_TEST(test_errors_and_list)
{
    eng_net *net;
    ck_assert_int_eq(eng_zoo_build("resnet21_v1", NULL, &net), ENG_ERR_NOT_FOUND);
    ck_assert_ptr_null(net);
    ck_assert(strstr(eng_last_error(), "resnet21_v1") != NULL);
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.in_h = opt.in_w = 8;   /* too small for LeNet's two 5x5 convolutions and pools */
    opt.in_c = 1;
    ck_assert_int_eq(eng_zoo_build("lenet", &opt, &net), ENG_ERR_SHAPE);
    ck_assert_ptr_null(net);
    ck_assert_int_ge(eng_zoo_count(), 14);
    for (int i = 0; i < eng_zoo_count(); i++) {
        ck_assert_ptr_nonnull(eng_zoo_name(i));
        ck_assert_ptr_nonnull(eng_zoo_description(i));
    }
    ck_assert_ptr_null(eng_zoo_name(eng_zoo_count()));
}
END_TEST

/* Planned activation memory: LeNet's inference plan must hold the two largest buffers alive
 * at once (the 28x28x6 conv output and its ReLU: 2 x 4704 floats) and stay below keeping all
 * 15,786 floats; training keeps all of them plus gradients. ResNet-20 reuses nearly all. */
START_TEST(test_memory_plan)
{
    eng_net *net;
    size_t eval, train;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &net), ENG_OK);
    ck_assert_int_eq(eng_net_memory(net, false, &eval), ENG_OK);
    ck_assert_int_eq(eng_net_memory(net, true, &train), ENG_OK);
    ck_assert_uint_ge(eval, 2 * 4704 * sizeof(float));
    ck_assert_uint_lt(eval, 15786 * sizeof(float));
    ck_assert_uint_gt(train, 15786 * sizeof(float));
    eng_net_free(net);
    ck_assert_int_eq(eng_zoo_build("resnet20_v1", NULL, &net), ENG_OK);
    ck_assert_int_eq(eng_net_memory(net, false, &eval), ENG_OK);
    ck_assert_int_eq(eng_net_memory(net, true, &train), ENG_OK);
    /* all activations; kept: without the batch norms and adds that run fused with the ReLU
     * right after them (they have no activation of their own) */
    size_t all = 0, kept = 0;
    int count = eng_net_node_count(net), fused = 0;
    for (int i = 0; i < count; i++) {
        eng_layer_info li, next;
        ck_assert_int_eq(eng_net_layer_info(net, i, &li), ENG_OK);
        size_t bytes = (size_t)li.out_c * li.out_h * li.out_w * sizeof(float);
        all += bytes;
        bool pair = (li.op == ENG_OP_BATCHNORM || li.op == ENG_OP_ADD) && i + 1 < count &&
                    eng_net_layer_info(net, i + 1, &next) == ENG_OK &&
                    next.op == ENG_OP_RELU && next.inputs[0] == i;
        fused += pair;
        kept += pair ? 0 : bytes;
    }
    ck_assert_int_eq(fused, 10 + 9);        /* its BN-ReLU and add-ReLU pairs */
    ck_assert_uint_lt(eval, all / 10);
    ck_assert_uint_gt(train, kept);        /* every kept activation, plus gradients */
    ck_assert_uint_lt(train, kept + kept / 2);
    eng_net_free(net);
}
END_TEST

START_TEST(test_resnet8_runs)
{
    eng_net *net;
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.seed = 4;
    ck_assert_int_eq(eng_zoo_build("resnet8_v1", &opt, &net), ENG_OK);
    float *x = malloc(sizeof(float) * 3 * 2 * 32 * 32);
    uint64_t s = 1;
    for (int i = 0; i < 3 * 2 * 32 * 32; i++) x[i] = test_rand_uniform(&s, -1.0f, 1.0f);
    ck_assert_int_eq(eng_net_forward(net, x, 2, false), ENG_OK);
    const float *y = eng_net_output(net);
    for (int i = 0; i < 20; i++) ck_assert(isfinite(y[i]));
    ck_assert(y[0] != y[1]);
    free(x);
    eng_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zoo");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_published_counts, 0, (int)(sizeof table / sizeof table[0]));
    tcase_add_test(tc, test_v2_projections);
    tcase_add_test(tc, test_arch_round_trip);
    tcase_add_test(tc, test_errors_and_list);
    tcase_add_test(tc, test_resnet8_runs);
    tcase_add_test(tc, test_memory_plan);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
