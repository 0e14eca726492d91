/*
 * test_net.c - the network runtime: builder errors, a whole-network gradient check by finite
 * differences, buffer reuse, batch-norm folding, quantization and multipliers.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "eng_zoo.h"
#include "testutil.h"

/* A small DAG with every operation: 2x6x6 input, 4 classes. */
static eng_net *tiny_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(2, 6, 6, 4, &net), ENG_OK);
    int c1 = eng_net_conv2d(net, ENG_NET_INPUT, 4, 3, 1, 1, 1, true);
    int b1 = eng_net_batchnorm(net, c1, 0.1f, 1e-5f);
    int r1 = eng_net_relu(net, b1);
    int d1 = eng_net_depthwise(net, r1, 3, 1, 1, 1, true);
    int c2 = eng_net_conv2d(net, r1, 4, 1, 1, 0, 1, false);
    int sum[2] = {d1, c2};
    int a = eng_net_add(net, sum, 2);
    int r6 = eng_net_relu6(net, a);
    int mp = eng_net_maxpool(net, r6, 2, 2, 0);
    int ap = eng_net_avgpool(net, r1, 3, 2, 1, false);
    int cat[2] = {mp, ap};
    int cc = eng_net_concat(net, cat, 2);
    int cp = eng_net_channel_pad(net, cc, 1, 1);
    int g = eng_net_global_avgpool(net, cp);
    int f = eng_net_flatten(net, mp);
    int cat2[2] = {g, f};
    int cc2 = eng_net_concat(net, cat2, 2);
    int out = eng_net_dense(net, cc2, 4, true);
    ck_assert_int_gt(out, 0);
    ck_assert_int_eq(eng_net_node_count(net), out + 1);
    return net;
}

static void random_batch(float *x, size_t count, uint8_t *labels, int n, int classes,
                         uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < count; i++) x[i] = test_rand_uniform(&s, -1.0f, 1.0f);
    for (int b = 0; b < n; b++) labels[b] = (uint8_t)(test_rand_u64(&s) % (uint64_t)classes);
}

static double net_loss(eng_net *net, const float *x, const uint8_t *labels, int n)
{
    float loss;
    ck_assert_int_eq(eng_net_forward(net, x, n, true), ENG_OK);
    ck_assert_int_eq(eng_net_loss(net, labels, n, &loss, NULL), ENG_OK);
    return loss;
}

/* A residual block whose batch norms and adds run fused with their ReLUs (one add sums the
 * same node twice): 2x6x6 input, 4 classes. */
static eng_net *residual_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(2, 6, 6, 4, &net), ENG_OK);
    int r1 = eng_net_relu(net, eng_net_batchnorm(net, eng_net_conv2d(net, ENG_NET_INPUT, 3, 3,
                                                                       1, 1, 1, false),
                                                 0.1f, 1e-5f));
    int b2 = eng_net_batchnorm(net, eng_net_conv2d(net, r1, 3, 3, 1, 1, 1, false), 0.1f, 1e-5f);
    int sum[2] = {b2, r1};
    int r2 = eng_net_relu(net, eng_net_add(net, sum, 2));
    int twice[2] = {r2, r2};
    int r3 = eng_net_relu(net, eng_net_add(net, twice, 2));
    int out = eng_net_dense(net, eng_net_flatten(net, eng_net_global_avgpool(net, r3)), 4, true);
    ck_assert_int_gt(out, 0);
    return net;
}

/* An inverted residual block (1x1 expansion, 3x3 depthwise stride 2, 1x1 projection, batch
 * norms fused with their ReLU6s) on a stem: 2x6x6 input, 4 classes. */
static eng_net *inverted_residual_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(2, 6, 6, 4, &net), ENG_OK);
    int stem = eng_net_relu6(net, eng_net_batchnorm(net, eng_net_conv2d(net, ENG_NET_INPUT, 3,
                                                                         3, 1, 1, 1, false),
                                                    0.1f, 1e-5f));
    int e = eng_net_relu6(net, eng_net_batchnorm(net, eng_net_conv2d(net, stem, 6, 1, 1, 0, 1,
                                                                      false), 0.1f, 1e-5f));
    int d = eng_net_relu6(net, eng_net_batchnorm(net, eng_net_depthwise(net, e, 3, 2, 1, 1,
                                                                         false), 0.1f, 1e-5f));
    int p = eng_net_batchnorm(net, eng_net_conv2d(net, d, 3, 1, 1, 0, 1, false), 0.1f, 1e-5f);
    int out = eng_net_dense(net, eng_net_flatten(net, eng_net_global_avgpool(net, p)), 4, true);
    ck_assert_int_gt(out, 0);
    return net;
}

/* Hard swish after a batch norm and after a depthwise convolution (MobileNetV3's pattern):
 * 2x6x6 input, 4 classes. */
static eng_net *hardswish_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(2, 6, 6, 4, &net), ENG_OK);
    int h1 = eng_net_hardswish(net, eng_net_batchnorm(net, eng_net_conv2d(net, ENG_NET_INPUT, 4,
                                                                           3, 1, 1, 1, false),
                                                      0.1f, 1e-5f));
    int h2 = eng_net_hardswish(net, eng_net_depthwise(net, h1, 3, 1, 1, 1, true));
    int out = eng_net_dense(net, eng_net_flatten(net, eng_net_global_avgpool(net, h2)), 4, true);
    ck_assert_int_gt(out, 0);
    return net;
}

/* Backward of the whole network against finite differences of the loss, every trainable
 * value of every parameter tensor. */
static void check_gradients(eng_net *net, int tensors_expected)
{
    ck_assert_int_eq(eng_net_init_params(net, 3), ENG_OK);
    const int n = 3;
    float x[2 * 3 * 36];
    uint8_t labels[3];
    random_batch(x, sizeof x / sizeof x[0], labels, n, 4, 5);
    net_loss(net, x, labels, n);
    ck_assert_int_eq(eng_net_backward(net), ENG_OK);
    int tensors = eng_net_param_count(net);
    ck_assert_int_eq(tensors, tensors_expected);
    /* keep the analytic gradients, then perturb every trainable value */
    size_t checked = 0;
    for (int t = 0; t < tensors; t++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, t, &p), ENG_OK);
        if (!p.trainable) {
            ck_assert_ptr_null(p.grad);
            continue;
        }
        ck_assert_ptr_nonnull(p.grad);
        float *ana = malloc(p.count * sizeof *ana);
        memcpy(ana, p.grad, p.count * sizeof *ana);
        for (size_t i = 0; i < p.count; i++) {
            /* central differences, or one of the one-sided ones when the perturbation
             * crosses a ReLU or max-pool kink on the other side */
            const float eps = 1e-3f;
            float keep = p.data[i];
            double l0 = net_loss(net, x, labels, n);
            p.data[i] = keep + eps;
            double lp = net_loss(net, x, labels, n);
            p.data[i] = keep - eps;
            double lm = net_loss(net, x, labels, n);
            p.data[i] = keep;
            double diffs[3] = {(lp - lm) / (2.0 * eps), (lp - l0) / eps, (l0 - lm) / eps};
            bool ok = false;
            for (int d = 0; d < 3; d++)
                ok |= fabs(diffs[d] - ana[i]) <= 2e-3 + 2e-2 * fabs(diffs[d]);
            ck_assert_msg(ok, "node %d %s[%zu]: backward %.6g, finite differences %.6g",
                          p.node, eng_param_kind_name(p.kind), i, (double)ana[i], diffs[0]);
            checked++;
        }
        free(ana);
    }
    ck_assert_uint_eq(checked, eng_net_param_total(net));
    eng_net_free(net);
}

START_TEST(test_gradient_check)
{
    check_gradients(tiny_net(), 11);  /* conv w, b; bn 4; depthwise w, b; conv w; dense w, b */
}
END_TEST

START_TEST(test_gradient_check_fused)
{
    check_gradients(residual_net(), 12);  /* 2 x (conv w, bn 4); dense w, b */
}
END_TEST

START_TEST(test_gradient_check_fused_relu6)
{
    check_gradients(inverted_residual_net(), 22);  /* 3 x conv w, dw w, 4 x bn 4, dense w, b */
}
END_TEST

START_TEST(test_gradient_check_hardswish)
{
    check_gradients(hardswish_net(), 9);  /* conv w, bn 4, dw w, b, dense w, b */
}
END_TEST

START_TEST(test_builder_errors)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(0, 6, 6, 4, &net), ENG_ERR_ARG);
    ck_assert_ptr_null(net);
    ck_assert_int_eq(eng_net_create(1, 8, 8, 3, &net), ENG_OK);
    int a = eng_net_conv2d(net, ENG_NET_INPUT, 4, 3, 1, 1, 1, false);
    int b = eng_net_conv2d(net, ENG_NET_INPUT, 4, 3, 2, 1, 1, false);
    ck_assert_int_gt(b, a);
    int count = eng_net_node_count(net);
    int pair[2] = {a, b};
    ck_assert_int_eq(eng_net_add(net, pair, 2), -ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_net_add(net, pair, 1), -ENG_ERR_ARG);
    ck_assert_int_eq(eng_net_dense(net, a, 3, true), -ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_net_relu(net, 99), -ENG_ERR_ARG);
    ck_assert_int_eq(eng_net_conv2d(net, a, 4, 11, 1, 0, 1, false), -ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_net_maxpool(net, a, 2, 2, 2), -ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_net_node_count(net), count);
    /* concat accepts different channel counts, add does not */
    int c = eng_net_conv2d(net, ENG_NET_INPUT, 2, 3, 1, 1, 1, false);
    int trio[2] = {a, c};
    ck_assert_int_eq(eng_net_add(net, trio, 2), -ENG_ERR_SHAPE);
    int cat = eng_net_concat(net, trio, 2);
    ck_assert_int_gt(cat, 0);
    eng_layer_info info;
    ck_assert_int_eq(eng_net_layer_info(net, cat, &info), ENG_OK);
    ck_assert_int_eq(info.out_c, 6);
    /* the last node is not 1x1x3 logits: using the network fails */
    ck_assert_int_eq(eng_net_init_params(net, 1), ENG_ERR_SHAPE);
    ck_assert_int_eq(eng_net_set_output(net, cat), ENG_ERR_SHAPE);
    int g = eng_net_global_avgpool(net, cat);
    int d = eng_net_dense(net, g, 3, true);
    ck_assert_int_eq(eng_net_init_params(net, 1), ENG_OK);
    ck_assert_int_eq(eng_net_relu(net, d), -ENG_ERR_ARG);  /* closed after first use */
    float x[64] = {0};
    ck_assert_int_eq(eng_net_forward(net, x, 0, false), ENG_ERR_ARG);
    ck_assert_int_eq(eng_net_backward(net), ENG_ERR_ARG);
    eng_net_free(net);
}
END_TEST

START_TEST(test_layer_info)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(3, 32, 32, 10, &net), ENG_OK);
    int c = eng_net_conv2d(net, ENG_NET_INPUT, 16, 3, 2, 1, 1, false);
    int d = eng_net_depthwise(net, c, 3, 1, 1, 1, true);
    int g = eng_net_global_avgpool(net, d);
    int o = eng_net_dense(net, g, 10, true);
    eng_layer_info info;
    ck_assert_int_eq(eng_net_layer_info(net, c, &info), ENG_OK);
    ck_assert_int_eq(info.op, ENG_OP_CONV2D);
    ck_assert_int_eq(info.out_h, 16);
    ck_assert_uint_eq(info.params, 16 * 3 * 9);
    ck_assert_uint_eq(info.macs, 16ull * 16 * 16 * 27);
    ck_assert_int_eq(eng_net_layer_info(net, d, &info), ENG_OK);
    ck_assert_int_eq(info.groups, 16);
    ck_assert_uint_eq(info.params, 16 * 9 + 16);
    ck_assert_uint_eq(info.macs, 16ull * 16 * 16 * 9);
    ck_assert_int_eq(eng_net_layer_info(net, o, &info), ENG_OK);
    ck_assert_uint_eq(info.macs, 160);
    ck_assert_int_eq(info.n_inputs, 1);
    ck_assert_int_eq(info.inputs[0], g);
    ck_assert_uint_eq(eng_net_param_total(net), 432 + 160 + 170);
    int ids[8];
    ck_assert_int_eq(eng_net_mul_layers(net, ids, 8), 3);
    ck_assert_int_eq(ids[1], d);
    ck_assert_int_eq(eng_net_layer_info(net, 99, &info), ENG_ERR_ARG);
    eng_net_free(net);
}
END_TEST

/* input -> dense -> batch norm -> ReLU -> dense, all 1 x 1 x 4: the batch norm runs fused with
 * its ReLU (no buffer of its own) until it is made the output. */
static eng_net *bn_chain_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(4, 1, 1, 4, &net), ENG_OK);
    int d1 = eng_net_dense(net, ENG_NET_INPUT, 4, true);
    int bn = eng_net_batchnorm(net, d1, 0.1f, 1e-5f);
    int out = eng_net_dense(net, eng_net_relu(net, bn), 4, true);
    ck_assert_int_eq(bn, 2);
    ck_assert_int_gt(out, 0);
    ck_assert_int_eq(eng_net_init_params(net, 11), ENG_OK);
    return net;
}

/* Moving the output after a forward pass plans the buffers again: the former fused batch norm
 * then gets a buffer of its own (sharing none with activations that the backward pass reads),
 * and outputs and gradients equal those of a network built with that output. */
START_TEST(test_output_moved_after_run)
{
    float x[4 * 6];
    uint8_t labels[6];
    random_batch(x, sizeof x / sizeof x[0], labels, 6, 4, 21);
    eng_net *moved = bn_chain_net(), *fresh = bn_chain_net();
    ck_assert_int_eq(eng_net_forward(moved, x, 6, true), ENG_OK);
    ck_assert_ptr_null(eng_net_activation(moved, 2));
    ck_assert_int_eq(eng_net_set_output(moved, 2), ENG_OK);
    ck_assert_int_eq(eng_net_set_output(fresh, 2), ENG_OK);
    eng_net *nets[2] = {moved, fresh};
    for (int i = 0; i < 2; i++) {
        float loss;
        ck_assert_int_eq(eng_net_forward(nets[i], x, 6, true), ENG_OK);
        ck_assert_int_eq(eng_net_loss(nets[i], labels, 6, &loss, NULL), ENG_OK);
        ck_assert_int_eq(eng_net_backward(nets[i]), ENG_OK);
    }
    ck_assert_mem_eq(eng_net_output(moved), eng_net_output(fresh), sizeof(float) * 4 * 6);
    eng_param a, b;
    ck_assert_int_eq(eng_net_param_get(moved, 0, &a), ENG_OK);   /* first dense weights */
    ck_assert_int_eq(eng_net_param_get(fresh, 0, &b), ENG_OK);
    ck_assert_mem_eq(a.grad, b.grad, sizeof(float) * a.count);
    eng_net_free(moved);
    eng_net_free(fresh);
}
END_TEST

START_TEST(test_buffers_reused)
{
    eng_net *net = tiny_net();
    ck_assert_int_eq(eng_net_init_params(net, 1), ENG_OK);
    ck_assert_int_eq(eng_net_reserve(net, 8, true), ENG_OK);
    float x[2 * 8 * 36];
    uint8_t labels[8];
    random_batch(x, sizeof x / sizeof x[0], labels, 8, 4, 9);
    ck_assert_int_eq(eng_net_forward(net, x, 5, true), ENG_OK);
    const float *act = eng_net_activation(net, 3);
    float loss;
    ck_assert_int_eq(eng_net_loss(net, labels, 5, &loss, NULL), ENG_OK);
    ck_assert_int_eq(eng_net_backward(net), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, 8, true), ENG_OK);
    ck_assert_ptr_eq(eng_net_activation(net, 3), act);
    /* evaluation is deterministic and independent of the batch it is in */
    ck_assert_int_eq(eng_net_forward(net, x, 8, false), ENG_OK);
    float first[4 * 8];
    const float *out = eng_net_output(net);
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 8; b++) first[k * 8 + b] = out[k * 8 + b];
    float x1[2 * 36];
    for (int c = 0; c < 2; c++) memcpy(x1 + c * 36, x + (c * 8 + 2) * 36, 36 * sizeof(float));
    ck_assert_int_eq(eng_net_forward(net, x1, 1, false), ENG_OK);
    for (int k = 0; k < 4; k++)
        ck_assert_float_eq_tol(eng_net_output(net)[k], first[k * 8 + 2], 1e-5f);
    eng_net_free(net);
}
END_TEST

/* Evaluation-only networks reuse activation buffers: outputs equal those of a network laid
 * out for training (every activation kept), for DAGs with residuals and concatenations. */
START_TEST(test_planned_eval_matches)
{
    const char *names[] = {"resnet8_v1", "resnet8_v2", "mobilenetv2_cifar"};
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.width = 0.25f;
    opt.seed = 3;
    eng_net *a, *b, *tiny_a = tiny_net(), *tiny_b = tiny_net();
    ck_assert_int_eq(eng_zoo_build(names[_i], &opt, &a), ENG_OK);
    ck_assert_int_eq(eng_zoo_build(names[_i], &opt, &b), ENG_OK);
    const int n = 3;
    size_t count = 3 * n * 32 * 32;
    float *x = malloc(count * sizeof *x);
    uint8_t labels[3];
    random_batch(x, count, labels, n, 10, 21);
    ck_assert_int_eq(eng_net_reserve(b, n, true), ENG_OK);
    ck_assert_int_eq(eng_net_forward(a, x, n, false), ENG_OK);
    ck_assert_int_eq(eng_net_forward(b, x, n, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(a), eng_net_output(b), 10 * n * sizeof(float));
    /* the tiny DAG too (concat of pooled branches, a node with three consumers) */
    ck_assert_int_eq(eng_net_init_params(tiny_a, 4), ENG_OK);
    ck_assert_int_eq(eng_net_init_params(tiny_b, 4), ENG_OK);
    ck_assert_int_eq(eng_net_reserve(tiny_b, n, true), ENG_OK);
    ck_assert_int_eq(eng_net_forward(tiny_a, x, n, false), ENG_OK);
    ck_assert_int_eq(eng_net_forward(tiny_b, x, n, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(tiny_a), eng_net_output(tiny_b), 4 * n * sizeof(float));
    free(x);
    eng_net_free(a);
    eng_net_free(b);
    eng_net_free(tiny_a);
    eng_net_free(tiny_b);
}
END_TEST

START_TEST(test_fold_batchnorm)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(3, 8, 8, 5, &net), ENG_OK);
    int x = eng_net_conv2d(net, ENG_NET_INPUT, 6, 3, 1, 1, 1, false);
    x = eng_net_relu(net, eng_net_batchnorm(net, x, 0.1f, 1e-5f));
    x = eng_net_depthwise(net, x, 3, 2, 1, 1, true);
    x = eng_net_relu6(net, eng_net_batchnorm(net, x, 0.1f, 1e-5f));
    x = eng_net_dense(net, eng_net_global_avgpool(net, x), 5, true);
    ck_assert_int_gt(x, 0);
    ck_assert_int_eq(eng_net_init_params(net, 7), ENG_OK);
    /* non-trivial statistics and affine parameters */
    uint64_t s = 11;
    for (int t = 0; t < eng_net_param_count(net); t++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, t, &p), ENG_OK);
        for (size_t i = 0; i < p.count; i++) {
            if (p.kind == ENG_PARAM_BN_VAR) p.data[i] = test_rand_uniform(&s, 0.2f, 3.0f);
            else if (p.kind != ENG_PARAM_WEIGHT) p.data[i] = test_rand_uniform(&s, -1.0f, 1.0f);
        }
    }
    float in[3 * 4 * 64];
    uint8_t labels[4];
    random_batch(in, sizeof in / sizeof in[0], labels, 4, 5, 3);
    ck_assert_int_eq(eng_net_forward(net, in, 4, false), ENG_OK);
    float before[20];
    memcpy(before, eng_net_output(net), sizeof before);
    int folded = 0;
    ck_assert_int_eq(eng_net_fold_batchnorm(net, &folded), ENG_OK);
    ck_assert_int_eq(folded, 2);
    ck_assert_int_eq(eng_net_forward(net, in, 4, false), ENG_OK);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(eng_net_output(net)[i], before[i], 1e-4f);
    ck_assert_int_eq(eng_net_forward(net, in, 4, true), ENG_ERR_ARG);
    eng_net_free(net);
}
END_TEST

START_TEST(test_quantized_network)
{
    eng_net *net = tiny_net();
    ck_assert_int_eq(eng_net_init_params(net, 2), ENG_OK);
    const int n = 4;
    float x[2 * 4 * 36];
    uint8_t labels[4];
    random_batch(x, sizeof x / sizeof x[0], labels, n, 4, 13);
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    float ref[16];
    memcpy(ref, eng_net_output(net), sizeof ref);

    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    ck_assert_int_eq(eng_net_set_quant(net, -1, &cfg), ENG_OK);
    eng_layer_info info;
    ck_assert_int_eq(eng_net_layer_info(net, 1, &info), ENG_OK);
    ck_assert(info.quantized);
    ck_assert_int_eq(info.weight_bits, 8);
    ck_assert_int_eq(eng_net_calibrate_begin(net), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    ck_assert_int_eq(eng_net_calibrate_end(net), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    float exact[16];
    memcpy(exact, eng_net_output(net), sizeof exact);
    double err = 0.0, mag = 0.0;
    for (int i = 0; i < 16; i++) {
        err += fabs(exact[i] - ref[i]);
        mag += fabs(ref[i]);
        ck_assert(exact[i] == exact[i]);
    }
    ck_assert_msg(err > 0.0 && err < 0.05 * mag, "8-bit error %g of %g", err, mag);

    /* the exact table gives the same bits as exact integer products */
    eng_mul *m1, *dm1;
    ck_assert_int_eq(eng_mul_load("mul8u_1JFF", &m1), ENG_OK);
    ck_assert_int_eq(eng_net_set_multiplier(net, -1, m1), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(net), exact, sizeof exact);
    ck_assert_int_eq(eng_net_layer_info(net, 1, &info), ENG_OK);
    ck_assert_ptr_eq(info.mul, m1);
    /* an approximate one changes the result */
    ck_assert_int_eq(eng_mul_load("mul8u_DM1", &dm1), ENG_OK);
    ck_assert_int_eq(eng_net_set_multiplier(net, -1, dm1), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    ck_assert(memcmp(eng_net_output(net), exact, sizeof exact) != 0);
    /* back to float */
    ck_assert_int_eq(eng_net_set_quant(net, -1, NULL), ENG_OK);
    ck_assert_int_eq(eng_net_set_quant(net, 2, &cfg), ENG_ERR_ARG);   /* a batch norm */
    ck_assert_int_eq(eng_net_forward(net, x, n, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(net), ref, sizeof ref);
    ck_assert_int_eq(eng_net_set_quant(net, -1, &cfg), ENG_OK);
    /* training through it works and gives finite gradients */
    float loss;
    ck_assert_int_eq(eng_net_forward(net, x, n, true), ENG_OK);
    ck_assert_int_eq(eng_net_loss(net, labels, n, &loss, NULL), ENG_OK);
    ck_assert_int_eq(eng_net_backward(net), ENG_OK);
    eng_param p;
    ck_assert_int_eq(eng_net_param_get(net, 0, &p), ENG_OK);
    for (size_t i = 0; i < p.count; i++) ck_assert(isfinite(p.grad[i]));
    eng_net_free(net);
    eng_mul_free(m1);
    eng_mul_free(dm1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gradient_check);
    tcase_add_test(tc, test_gradient_check_fused);
    tcase_add_test(tc, test_gradient_check_fused_relu6);
    tcase_add_test(tc, test_gradient_check_hardswish);
    tcase_add_test(tc, test_output_moved_after_run);
    tcase_add_test(tc, test_builder_errors);
    tcase_add_test(tc, test_layer_info);
    tcase_add_test(tc, test_buffers_reused);
    tcase_add_loop_test(tc, test_planned_eval_matches, 0, 3);
    tcase_add_test(tc, test_fold_batchnorm);
    tcase_add_test(tc, test_quantized_network);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
