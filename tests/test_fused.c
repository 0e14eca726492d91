/*
 * test_fused.c - the evaluation epilogue (a batch norm and its ReLU/ReLU6 run inside the
 * convolution before it) and the channel groups of the quantized depthwise forward, against
 * the same layers run one after another.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_layers.h"
#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "kernel_sets.h"
#include "testutil.h"

static const char *const set_names[] = {"scalar", "avx2", "avx512"};
enum { SET_COUNT = 3 };

static float *random_floats(size_t count, uint64_t *rng, float lo, float hi)
{
    float *v = malloc(sizeof(float) * (count ? count : 1));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < count; i++)
        v[i] = test_rand_uniform(rng, lo, hi);
    return v;
}

/* A random evaluation batch norm of c channels: gamma, beta, running mean and variance. */
typedef struct bn_params {
    float *gamma, *beta, *mean, *var, *scale, *shift;
} bn_params;

static bn_params bn_random(int c, uint64_t *rng)
{
    bn_params b = {random_floats((size_t)c, rng, -2.0f, 2.0f),
                   random_floats((size_t)c, rng, -1.0f, 3.0f),
                   random_floats((size_t)c, rng, -0.5f, 0.5f),
                   random_floats((size_t)c, rng, 0.01f, 2.0f),
                   malloc(sizeof(float) * (size_t)c), malloc(sizeof(float) * (size_t)c)};
    eng_batchnorm_eval_affine(c, b.gamma, b.beta, b.mean, b.var, 1e-5f, b.scale, b.shift);
    return b;
}

static void bn_free(bn_params *b)
{
    free(b->gamma), free(b->beta), free(b->mean), free(b->var), free(b->scale), free(b->shift);
}

/* The batch norm (+ activation) run as its own layer, in place. */
static void bn_layer(const bn_params *b, int c, size_t m, eng_epilogue_act act, float *y)
{
    (act == ENG_EPILOGUE_RELU6  ? eng_batchnorm_relu6_forward_eval
     : act == ENG_EPILOGUE_RELU ? eng_batchnorm_relu_forward_eval
                                : eng_batchnorm_forward_eval)(c, m, y, b->gamma, b->beta,
                                                              b->mean, b->var, 1e-5f, y);
}

/* Geometries: n, c, h, w, kernel, stride, pad, output channels of the regular convolution.
 * 1x1 (the pointwise GEMM), 3x3 stride 1 pad 1 (the direct kernels), stride 2, 5x5, tiny
 * images, and large ones whose quantized depthwise layers span several channel groups
 * (QUANT_BLOCK). */
typedef struct fuse_case {
    int n, c, h, w, k, stride, pad, oc;
} fuse_case;

static const fuse_case cases[] = {
    {2, 3, 1, 1, 1, 1, 0, 5},   {2, 5, 2, 2, 3, 1, 1, 4},   {3, 4, 7, 7, 3, 2, 1, 6},
    {2, 6, 7, 7, 5, 1, 2, 3},   {1, 3, 7, 7, 1, 1, 0, 7},   {2, 4, 9, 6, 3, 1, 0, 5},
    {64, 9, 32, 32, 3, 1, 1, 4}, {64, 20, 16, 16, 3, 2, 1, 3}, {16, 24, 32, 32, 1, 1, 0, 40},
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

/* Fused forward (depthwise or regular) of set k against the layer then bn_layer, bit for
 * bit. */
static void check_fused(const eng_kernels *k, const fuse_case *fc, bool depthwise,
                        const eng_mul *mul, eng_epilogue_act act, uint64_t *rng)
{
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, fc->n, fc->c, fc->h, fc->w, fc->k, fc->k,
                                         fc->stride, fc->pad, 1), ENG_OK);
    const int oc = depthwise ? fc->c : fc->oc;
    const size_t X = (size_t)fc->c * fc->n * fc->h * fc->w, Y = (size_t)oc * fc->n * s.oh * s.ow;
    const size_t W = (size_t)oc * (depthwise ? 1 : fc->c) * fc->k * fc->k;
    float *x = random_floats(X, rng, -1.0f, 2.0f), *w = random_floats(W, rng, -1.0f, 1.0f);
    float *bias = random_floats((size_t)oc, rng, -0.5f, 0.5f);
    bn_params b = bn_random(oc, rng);
    eng_approx *q = NULL;
    if (mul) {
        eng_approx_cfg cfg;
        eng_approx_cfg_default(&cfg);
        cfg.per_channel = true;
        ck_assert_int_eq(eng_approx_create(&cfg, mul, oc, &q), ENG_OK);
        ck_assert_int_eq(eng_approx_set_act_range(q, -1.0f, 2.0f), ENG_OK);
    }
    size_t wss = depthwise ? eng_depthwise_workspace_size(&s, q)
                           : eng_conv2d_workspace_size(&s, oc, q);
    void *ws = malloc(wss + 64);
    float *want = malloc(sizeof(float) * Y), *got = malloc(sizeof(float) * Y);
    for (size_t i = 0; i < Y; i++)
        got[i] = NAN; /* every output written */
    const eng_epilogue ep = {b.scale, b.shift, act};
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bs = with_bias ? bias : NULL;
        if (depthwise) {
            ck_assert_int_eq(eng_depthwise_forward(k, &s, x, w, bs, q, false, want, ws), ENG_OK);
            ck_assert_int_eq(eng_depthwise_forward_fused(k, &s, x, w, bs, q, false, &ep, got, ws),
                             ENG_OK);
        } else {
            ck_assert_int_eq(eng_conv2d_forward(k, &s, oc, x, w, bs, q, false, want, ws), ENG_OK);
            ck_assert_int_eq(eng_conv2d_forward_fused(k, &s, oc, x, w, bs, q, false, &ep, got,
                                                      ws), ENG_OK);
        }
        bn_layer(&b, oc, Y / (size_t)oc, act, want);
        for (size_t i = 0; i < Y; i++) {
            ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0, "%s %s %s, case %dx%dx%dx%d k%d s%d, act %d, bias %d: y[%zu] = "
                          "%.9g, layers one after another %.9g", k->name,
                          depthwise ? "depthwise" : "conv2d", mul ? "quantized" : "float",
                          fc->n, fc->c, fc->h, fc->w, fc->k, fc->stride, (int)act, with_bias, i,
                          (double)got[i], (double)want[i]);
        }
    }
    eng_approx_free(q);
    free(ws), free(want), free(got), free(x), free(w), free(bias);
    bn_free(&b);
}

/* Every set, 1 and 2 threads, float and quantized (exact products and mul8u_DM1), the three
 * activations: the epilogue gives the layers' values bit for bit. */
START_TEST(test_fused_equals_layers)
{
    const fuse_case *fc = &cases[_i];
    eng_mul *dm1, *exact;
    ck_assert_int_eq(eng_mul_load("mul8u_DM1", &dm1), ENG_OK);
    ck_assert_int_eq(eng_mul_exact(8, false, &exact), ENG_OK);
    uint64_t rng = 11 + (uint64_t)_i;
    const bool large = fc->n >= 16; /* the groups: one activation, optimized sets */
    for (int si = large ? 1 : 0; si < SET_COUNT; si++) {
        const eng_kernels *k = test_kernel_set(set_names[si]);
        if (k == NULL)
            continue;
        for (int t = 1; t <= 2; t++) {
            test_set_threads(t);
            for (int act = large ? 2 : 0; act < 3; act++)
                for (int m = 0; m < 3; m += large ? 2 : 1) {
                    const eng_mul *mul = m == 0 ? NULL : m == 1 ? exact : dm1;
                    check_fused(k, fc, true, mul, (eng_epilogue_act)act, &rng);
                    check_fused(k, fc, false, mul, (eng_epilogue_act)act, &rng);
                }
        }
    }
    test_set_threads(2);
    eng_mul_free(dm1);
    eng_mul_free(exact);
}
END_TEST

/* The quantized depthwise forward runs its channels in groups of QUANT_BLOCK outputs: the
 * result equals each channel run as a one-channel layer (same activation range, per-channel
 * weights), bit for bit, at 1 and 2 threads. */
START_TEST(test_quantized_depthwise_groups)
{
    eng_mul *dm1;
    ck_assert_int_eq(eng_mul_load("mul8u_DM1", &dm1), ENG_OK);
    const int n = 64, c = 7, h = 32;
    uint64_t rng = 3;
    eng_conv_shape s, s1;
    ck_assert_int_eq(eng_conv_shape_init(&s, n, c, h, h, 3, 3, 1, 1, 1), ENG_OK);
    ck_assert_int_eq(eng_conv_shape_init(&s1, n, 1, h, h, 3, 3, 1, 1, 1), ENG_OK);
    const size_t plane = (size_t)n * h * h, X = plane * c;
    float *x = random_floats(X, &rng, -1.0f, 2.0f), *w = random_floats((size_t)c * 9, &rng,
                                                                       -1.0f, 1.0f);
    float *bias = random_floats((size_t)c, &rng, -0.5f, 0.5f);
    float *got = malloc(sizeof(float) * X), *want = malloc(sizeof(float) * X);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.per_channel = true;
    for (int si = 0; si < SET_COUNT; si++) {
        const eng_kernels *k = test_kernel_set(set_names[si]);
        if (k == NULL)
            continue;
        for (int t = 1; t <= 2; t++) {
            test_set_threads(t);
            eng_approx *q, *q1;
            ck_assert_int_eq(eng_approx_create(&cfg, dm1, c, &q), ENG_OK);
            ck_assert_int_eq(eng_approx_create(&cfg, dm1, 1, &q1), ENG_OK);
            ck_assert_int_eq(eng_approx_set_act_range(q, -1.0f, 2.0f), ENG_OK);
            ck_assert_int_eq(eng_approx_set_act_range(q1, -1.0f, 2.0f), ENG_OK);
            void *ws = malloc(eng_depthwise_workspace_size(&s, q) + 64);
            ck_assert_int_eq(eng_depthwise_forward(k, &s, x, w, bias, q, false, got, ws), ENG_OK);
            for (int ch = 0; ch < c; ch++)
                ck_assert_int_eq(eng_depthwise_forward(k, &s1, x + ch * plane, w + ch * 9,
                                                       bias + ch, q1, false, want + ch * plane,
                                                       ws), ENG_OK);
            ck_assert_msg(memcmp(got, want, sizeof(float) * X) == 0,
                          "%s, %d threads: grouped channels differ from one-channel layers",
                          k->name, t);
            free(ws);
            eng_approx_free(q);
            eng_approx_free(q1);
        }
    }
    test_set_threads(2);
    free(x), free(w), free(bias), free(got), free(want);
    eng_mul_free(dm1);
}
END_TEST

/* Sets every parameter of the network to random values (batch norm variances positive). */
static void randomize_params(eng_net *net, uint64_t *rng)
{
    for (int i = 0; i < eng_net_param_count(net); i++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, i, &p), ENG_OK);
        for (size_t j = 0; j < p.count; j++)
            p.data[j] = p.kind == ENG_PARAM_BN_VAR ? test_rand_uniform(rng, 0.05f, 2.0f)
                                                   : test_rand_uniform(rng, -0.8f, 0.8f);
    }
}

static const float *param_of(eng_net *net, int node, eng_param_kind kind)
{
    for (int i = 0; i < eng_net_param_count(net); i++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, i, &p), ENG_OK);
        if (p.node == node && p.kind == kind) return p.data;
    }
    ck_abort_msg("node %d has no parameter of kind %d", node, (int)kind);
    return NULL;
}

/* The batch norm node bn of net in evaluation (+ act), in place on y. */
static void net_bn(eng_net *net, int bn, int c, size_t m, eng_epilogue_act act, float *y)
{
    (act == ENG_EPILOGUE_RELU6 ? eng_batchnorm_relu6_forward_eval
                               : eng_batchnorm_forward_eval)(
        c, m, y, param_of(net, bn, ENG_PARAM_BN_GAMMA), param_of(net, bn, ENG_PARAM_BN_BETA),
        param_of(net, bn, ENG_PARAM_BN_MEAN), param_of(net, bn, ENG_PARAM_BN_VAR), 1e-5f, y);
}

/* An inverted residual block in a network (conv 3x3 + BN + ReLU6, depthwise 3x3 stride 2 +
 * BN + ReLU6, 1x1 + BN, global pool, dense), float and quantized: the evaluation output, where
 * the three batch norms run as epilogues, equals the layers run one after another by the ops,
 * and the fused convolutions report no activation of their own. */
START_TEST(test_network_evaluation)
{
    enum { N = 3, C = 3, HW = 9 };
    for (int quant = 0; quant < 2; quant++) {
        eng_net *net;
        ck_assert_int_eq(eng_net_create(C, HW, HW, 4, &net), ENG_OK);
        int c1 = eng_net_conv2d(net, ENG_NET_INPUT, 8, 3, 1, 1, 1, false);
        int b1 = eng_net_batchnorm(net, c1, 0.1f, 1e-5f);
        int r1 = eng_net_relu6(net, b1);
        int d2 = eng_net_depthwise(net, r1, 3, 2, 1, 1, true);
        int b2 = eng_net_batchnorm(net, d2, 0.1f, 1e-5f);
        int r2 = eng_net_relu6(net, b2);
        int c3 = eng_net_conv2d(net, r2, 5, 1, 1, 0, 1, false);
        int b3 = eng_net_batchnorm(net, c3, 0.1f, 1e-5f);
        int gp = eng_net_global_avgpool(net, b3);
        int fc = eng_net_dense(net, gp, 4, true);
        ck_assert_int_ge(fc, 0);
        ck_assert_int_eq(eng_net_set_output(net, fc), ENG_OK);
        eng_approx_cfg cfg;
        eng_approx_cfg_default(&cfg);
        const int qnodes[3] = {c1, d2, c3};
        if (quant)
            for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(eng_net_set_quant(net, qnodes[i], &cfg), ENG_OK);
                ck_assert_int_eq(eng_net_set_act_range(net, qnodes[i], -1.0f, 6.0f), ENG_OK);
            }
        uint64_t rng = 21;
        randomize_params(net, &rng);
        const size_t nx = (size_t)C * N * HW * HW;
        float *x = random_floats(nx, &rng, -1.0f, 1.0f);
        ck_assert_int_eq(eng_net_forward(net, x, N, false), ENG_OK);
        ck_assert_ptr_null(eng_net_activation(net, c1));
        ck_assert_ptr_null(eng_net_activation(net, d2));
        ck_assert_ptr_null(eng_net_activation(net, c3));

        /* the reference: the ops one by one, each quantized layer with the network's range */
        const eng_kernels *k = eng_kernels_get();
        eng_conv_shape s1, s2, s3;
        eng_conv_shape_init(&s1, N, C, HW, HW, 3, 3, 1, 1, 1);
        eng_conv_shape_init(&s2, N, 8, HW, HW, 3, 3, 2, 1, 1);
        eng_conv_shape_init(&s3, N, 8, s2.oh, s2.ow, 1, 1, 1, 0, 1);
        eng_approx *q[3] = {NULL, NULL, NULL};
        const int qc[3] = {8, 8, 5};
        for (int i = 0; quant && i < 3; i++) {
            ck_assert_int_eq(eng_approx_create(&cfg, NULL, qc[i], &q[i]), ENG_OK);
            ck_assert_int_eq(eng_approx_set_act_range(q[i], -1.0f, 6.0f), ENG_OK);
        }
        const size_t m1 = (size_t)N * HW * HW, m2 = (size_t)N * s2.oh * s2.ow;
        float *y1 = malloc(sizeof(float) * 8 * m1), *y2 = malloc(sizeof(float) * 8 * m2);
        float *y3 = malloc(sizeof(float) * 5 * m2), *pool = malloc(sizeof(float) * 5 * N);
        float *logits = malloc(sizeof(float) * 4 * N);
        size_t wss = eng_conv2d_workspace_size(&s1, 8, q[0]);
        if (eng_depthwise_workspace_size(&s2, q[1]) > wss)
            wss = eng_depthwise_workspace_size(&s2, q[1]);
        if (eng_conv2d_workspace_size(&s3, 5, q[2]) > wss)
            wss = eng_conv2d_workspace_size(&s3, 5, q[2]);
        void *ws = malloc(wss + 64);
        ck_assert_int_eq(eng_conv2d_forward(k, &s1, 8, x, param_of(net, c1, ENG_PARAM_WEIGHT),
                                            NULL, q[0], false, y1, ws), ENG_OK);
        net_bn(net, b1, 8, m1, ENG_EPILOGUE_RELU6, y1);
        ck_assert_int_eq(eng_depthwise_forward(k, &s2, y1, param_of(net, d2, ENG_PARAM_WEIGHT),
                                               param_of(net, d2, ENG_PARAM_BIAS), q[1], false,
                                               y2, ws), ENG_OK);
        net_bn(net, b2, 8, m2, ENG_EPILOGUE_RELU6, y2);
        ck_assert_int_eq(eng_conv2d_forward(k, &s3, 5, y2, param_of(net, c3, ENG_PARAM_WEIGHT),
                                            NULL, q[2], false, y3, ws), ENG_OK);
        net_bn(net, b3, 5, m2, ENG_EPILOGUE_NONE, y3);
        eng_global_avgpool_forward((size_t)5 * N, (size_t)s2.oh * s2.ow, y3, pool);
        ck_assert_int_eq(eng_dense_forward(k, 5, 4, N, pool, param_of(net, fc, ENG_PARAM_WEIGHT),
                                           param_of(net, fc, ENG_PARAM_BIAS), NULL, false,
                                           logits, ws), ENG_OK);
        const float *out = eng_net_output(net);
        for (int i = 0; i < 4 * N; i++)
            ck_assert_msg(memcmp(&out[i], &logits[i], sizeof(float)) == 0,
                          "%s logit %d: %.9g, layers one by one %.9g",
                          quant ? "quantized" : "float", i, (double)out[i], (double)logits[i]);
        /* the batch norm's output itself, where no activation follows it */
        const float *bn3 = eng_net_activation(net, b3);
        if (bn3)
            ck_assert_int_eq(memcmp(bn3, y3, sizeof(float) * 5 * m2), 0);
        /* folding the batch norms plans the buffers again: the convolutions write their own
         * outputs, the folded batch norms copy them; the same logits up to rounding */
        int folded = 0;
        ck_assert_int_eq(eng_net_fold_batchnorm(net, &folded), ENG_OK);
        ck_assert_int_eq(folded, 3);
        ck_assert_int_eq(eng_net_forward(net, x, N, false), ENG_OK);
        out = eng_net_output(net);
        for (int i = 0; quant == 0 && i < 4 * N; i++)
            ck_assert_msg(fabsf(out[i] - logits[i]) <= 1e-4f * (1.0f + fabsf(logits[i])),
                          "folded logit %d: %.9g, unfolded %.9g", i, (double)out[i],
                          (double)logits[i]);
        for (int i = 0; i < 3; i++)
            eng_approx_free(q[i]);
        free(y1), free(y2), free(y3), free(pool), free(logits), free(ws), free(x);
        eng_net_free(net);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fused");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_fused_equals_layers, 0, CASE_COUNT);
    tcase_add_test(tc, test_quantized_depthwise_groups);
    tcase_add_test(tc, test_network_evaluation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
