/*
 * test_energy_net.c - the adapter from engine networks to energy layers
 * (energy_layers_from_net): MAC and parameter counts of the zoo networks against the engine's
 * own counts and the published figures, the translation of each operation, multipliers and
 * weight widths of quantized layers, and bad networks.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "eng_zoo.h"
#include "energy/energy.h"
#include "engine_config.h"
#include "testutil.h"

#define ACC16 EVOAPPROXNAS_SOURCE_DIR "/configs/accelerators/eyeriss_like_16b.yaml"
#define ACC8 EVOAPPROXNAS_SOURCE_DIR "/configs/accelerators/eyeriss_like_8b.yaml"

static energy_accel load_accel(const char *path)
{
    energy_accel a;
    ck_assert_msg(energy_accel_load(path, &a) == ENG_OK, "%s", eng_last_error());
    return a;
}

static eng_net *zoo(const char *name)
{
    eng_net *net;
    ck_assert_msg(eng_zoo_build(name, NULL, &net) == ENG_OK, "%s", eng_last_error());
    return net;
}

/* Costs of every layer of net on accelerator a; returns the total, fills per (count). */
static energy_layer_cost net_cost(const energy_accel *a, const eng_net *net, energy_layer **ls,
                                  int **nodes, int *count, energy_layer_cost **per)
{
    ck_assert_msg(energy_layers_from_net(net, a->word_bits, ls, nodes, count) == ENG_OK, "%s",
                  eng_last_error());
    energy_model *m;
    ck_assert_int_eq(energy_model_create(a, &m), ENG_OK);
    *per = calloc((size_t)*count, sizeof **per);
    ck_assert_ptr_nonnull(*per);
    energy_layer_cost total;
    ck_assert_msg(energy_net_estimate(m, *ls, *count, *per, &total) == ENG_OK, "%s",
                  eng_last_error());
    energy_model_free(m);
    return total;
}

/* ------------------------------------------------------------------------------------------
 * Zoo networks: counts
 * ---------------------------------------------------------------------------------------- */

/* Published counts (/work/shared/perf/peers.md and the zoo's sources: He et al. 2016,
 * Sandler et al. 2018, LeCun et al. 1998): parameters, and MACs per image in millions with
 * the precision they were published at. */
static const struct published {
    const char *model;
    long long params;
    double mmacs, mmacs_tol;
} published[] = {
    {"resnet20_v1", 269722, 40.55, 0.005},
    {"resnet20_v2", 272282, 40.81, 0.005},
    {"mobilenetv2_cifar", 2296922, 91.15, 0.005},
    {"lenet", 61706, 0.42, 0.005},
};

START_TEST(test_published_counts)
{
    const struct published *p = &published[_i];
    const energy_accel a = load_accel(ACC16);
    eng_net *net = zoo(p->model);
    energy_layer *ls;
    int *nodes, n;
    energy_layer_cost *per;
    energy_layer_cost t = net_cost(&a, net, &ls, &nodes, &n, &per);
    ck_assert_int_eq(t.params, p->params);
    ck_assert_msg(fabs((double)t.macs / 1e6 - p->mmacs) <= p->mmacs_tol, "%s: %.4f MMAC",
                  p->model, (double)t.macs / 1e6);
    /* and the engine's own totals */
    ck_assert_int_eq(t.params, (long long)eng_net_param_total(net));
    ck_assert_int_eq(t.macs, (long long)eng_net_mac_total(net));
    free(per);
    free(nodes);
    free(ls);
    eng_net_free(net);
}
END_TEST

/* Every zoo network: layer by layer, the MACs and parameters of a multiplying layer equal its
 * node's, and the mapper finds a mapping on both shipped designs. */
START_TEST(test_zoo_layer_counts)
{
    const char *name = eng_zoo_name(_i);
    ck_assert_ptr_nonnull(name);
    const char *acc[2] = {ACC16, ACC8};
    eng_net *net = zoo(name);
    for (int d = 0; d < 2; d++) {
        const energy_accel a = load_accel(acc[d]);
        energy_layer *ls;
        int *nodes, n;
        energy_layer_cost *per;
        energy_layer_cost t = net_cost(&a, net, &ls, &nodes, &n, &per);
        ck_assert_int_eq(t.macs, (long long)eng_net_mac_total(net));
        ck_assert_int_eq(t.params, (long long)eng_net_param_total(net));
        for (int i = 0; i < n; i++) {
            eng_layer_info info;
            ck_assert_int_eq(eng_net_layer_info(net, nodes[i], &info), ENG_OK);
            ck_assert_int_eq(per[i].macs, (long long)info.macs);
            if (energy_layer_multiplies(&ls[i])) ck_assert(per[i].mapped);
            ck_assert(per[i].total_pj > 0);
        }
        free(per);
        free(nodes);
        free(ls);
    }
    eng_net_free(net);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Translation of each operation
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_translation)
{
    /* conv-bn-relu, a second conv with two consumers and its bn, maxpool, add, a standalone
     * batch norm after the add, global pool, flatten, dense */
    eng_net *net;
    ck_assert_int_eq(eng_net_create(3, 16, 16, 10, &net), ENG_OK);
    int x = eng_net_conv2d(net, ENG_NET_INPUT, 8, 3, 1, 1, 1, false);
    x = eng_net_relu(net, eng_net_batchnorm(net, x, 0.1f, 1e-5f));
    int y = eng_net_conv2d(net, x, 8, 3, 1, 1, 1, false);
    int yb = eng_net_batchnorm(net, y, 0.1f, 1e-5f);       /* y feeds this bn and the add */
    int in2[2] = {y, yb};
    int s = eng_net_add(net, in2, 2);
    int b = eng_net_batchnorm(net, s, 0.1f, 1e-5f);        /* no conv before it */
    int p = eng_net_maxpool(net, b, 2, 2, 0);
    int d = eng_net_depthwise(net, p, 3, 2, 1, 1, true);
    int g = eng_net_global_avgpool(net, d);
    int out = eng_net_dense(net, eng_net_flatten(net, g), 10, true);
    ck_assert_int_ge(out, 0);
    energy_layer *ls;
    int *nodes, n;
    ck_assert_msg(energy_layers_from_net(net, 16, &ls, &nodes, &n) == ENG_OK, "%s",
                  eng_last_error());
    const energy_layer_kind kinds[] = {ENERGY_LAYER_CONV, ENERGY_LAYER_CONV, ENERGY_LAYER_ELTWISE,
                                       ENERGY_LAYER_ELTWISE, ENERGY_LAYER_ELTWISE, ENERGY_LAYER_POOL,
                                       ENERGY_LAYER_DEPTHWISE, ENERGY_LAYER_POOL, ENERGY_LAYER_DENSE};
    ck_assert_int_eq(n, 9);
    for (int i = 0; i < n; i++) ck_assert_int_eq(ls[i].kind, kinds[i]);
    ck_assert(ls[0].batchnorm);                 /* folded: the bn was the conv's only consumer */
    ck_assert(!ls[1].batchnorm);                /* two consumers: a standalone bn */
    ck_assert_int_eq(nodes[2], yb);
    ck_assert(ls[2].batchnorm && ls[2].inputs == 1);
    ck_assert_int_eq(nodes[3], s);
    ck_assert(!ls[3].batchnorm && ls[3].inputs == 2);
    ck_assert_int_eq(nodes[4], b);
    ck_assert_int_eq(energy_layer_params(&ls[4]), 16);     /* gamma, beta of 8 channels */
    ck_assert_int_eq(ls[5].p, 8);                           /* maxpool 2/2 of 16 */
    ck_assert_int_eq(ls[6].stride, 2);
    ck_assert(ls[6].bias);
    ck_assert_int_eq(ls[6].p, 4);
    ck_assert_int_eq(ls[7].r, 4);                           /* global pool over 4x4 */
    ck_assert_int_eq(ls[7].p, 1);
    ck_assert_int_eq(ls[8].c, 8);
    ck_assert_int_eq(ls[8].m, 10);
    ck_assert_int_eq(nodes[8], out);
    long long params = 0;
    for (int i = 0; i < n; i++) params += energy_layer_params(&ls[i]);
    ck_assert_int_eq(params, (long long)eng_net_param_total(net));
    free(nodes);
    free(ls);
    eng_net_free(net);
}
END_TEST

START_TEST(test_bad_networks)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(3, 16, 16, 10, &net), ENG_OK);
    int x = eng_net_conv2d(net, ENG_NET_INPUT, 8, 3, 1, 2, 2, false);     /* dilation 2 */
    ck_assert_int_ge(eng_net_set_name(net, x, "atrous"), 0);
    x = eng_net_dense(net, eng_net_global_avgpool(net, x), 10, true);
    ck_assert_int_ge(x, 0);
    energy_layer *ls = NULL;
    int n = -1;
    ck_assert_int_eq(energy_layers_from_net(net, 16, &ls, NULL, &n), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "node atrous: dilated"));
    ck_assert_ptr_null(ls);
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(energy_layers_from_net(net, 0, &ls, NULL, &n), ENG_ERR_ARG);
    eng_net_free(net);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Multipliers
 * ---------------------------------------------------------------------------------------- */

static void quantize_all(eng_net *net)
{
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    ck_assert_msg(eng_net_set_quant(net, -1, &cfg) == ENG_OK, "%s", eng_last_error());
}

/* One layer of ResNet-20 gets mul8u_12N4: only that layer's multiplier energy changes, by
 * its power over the exact multiplier's (0.142 / 0.391, EvoApproxLib). */
START_TEST(test_swap_one_multiplier)
{
    const energy_accel a = load_accel(ACC16);
    eng_net *net = zoo("resnet20_v1");
    quantize_all(net);
    energy_layer *l0, *l1;
    int *n0, *n1, c0, c1;
    energy_layer_cost *p0, *p1;
    energy_layer_cost t0 = net_cost(&a, net, &l0, &n0, &c0, &p0);
    eng_mul *mul;
    ck_assert_msg(eng_mul_load("mul8u_12N4", &mul) == ENG_OK, "%s", eng_last_error());
    int ids[64];
    ck_assert_int_eq(eng_net_mul_layers(net, ids, 64), 20);
    const int node = ids[7];
    ck_assert_msg(eng_net_set_multiplier(net, node, mul) == ENG_OK, "%s", eng_last_error());
    energy_layer_cost t1 = net_cost(&a, net, &l1, &n1, &c1, &p1);
    ck_assert_int_eq(c0, c1);
    int changed = 0;
    for (int i = 0; i < c0; i++) {
        ck_assert_int_eq(n0[i], n1[i]);
        ck_assert_double_eq(p0[i].mac_rest_pj, p1[i].mac_rest_pj);
        for (int k = 0; k < a.n_levels; k++) ck_assert_double_eq(p0[i].level_pj[k], p1[i].level_pj[k]);
        if (n0[i] != node) {
            ck_assert_double_eq(p0[i].mul_pj, p1[i].mul_pj);
            continue;
        }
        changed++;
        ck_assert_double_eq_tol(p1[i].mul_pj / p0[i].mul_pj, 0.142 / 0.391, 1e-9);
    }
    ck_assert_int_eq(changed, 1);
    ck_assert_double_lt(t1.total_pj, t0.total_pj);
    /* exact everywhere: the arithmetic of the multiplying layers = MACs x MAC energy */
    double arith = 0;
    for (int i = 0; i < c0; i++)
        if (energy_layer_multiplies(&l0[i])) arith += p0[i].mul_pj + p0[i].mac_rest_pj;
    ck_assert_double_eq_tol(arith, (double)t0.macs * a.mac_pj, 1e-9 * arith);
    free(p0), free(p1), free(n0), free(n1), free(l0), free(l1);
    eng_net_free(net);
    eng_mul_free(mul);
}
END_TEST

/* An 8x4 multiplier narrows its layer's weights to half the word; a 4-bit quantized layer
 * with the exact multiplier too; float layers keep the word. A table without a published
 * power is refused. */
START_TEST(test_weight_widths)
{
    eng_net *net = zoo("lenet");
    int ids[8];
    ck_assert_int_eq(eng_net_mul_layers(net, ids, 8), 5);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    ck_assert_int_eq(eng_net_set_quant(net, ids[0], &cfg), ENG_OK);
    eng_mul *m84;
    ck_assert_msg(eng_mul_load("mul8x4u_2UU", &m84) == ENG_OK, "%s", eng_last_error());
    ck_assert_msg(eng_net_set_multiplier(net, ids[0], m84) == ENG_OK, "%s", eng_last_error());
    cfg.weight_bits = 4;
    ck_assert_int_eq(eng_net_set_quant(net, ids[1], &cfg), ENG_OK);
    energy_layer *ls;
    int *nodes, n;
    ck_assert_int_eq(energy_layers_from_net(net, 16, &ls, &nodes, &n), ENG_OK);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (!energy_layer_multiplies(&ls[i])) continue;
        if (nodes[i] == ids[0]) {
            ck_assert_int_eq(ls[i].weight_bits, 8);
            ck_assert_double_eq_tol(ls[i].mul_power_mw, m84->published.power_mw, 1e-12);
        } else if (nodes[i] == ids[1]) {
            ck_assert_int_eq(ls[i].weight_bits, 8);
            ck_assert_double_eq(ls[i].mul_power_mw, 0);
        } else {
            ck_assert_int_eq(ls[i].weight_bits, 0);
        }
        seen++;
    }
    ck_assert_int_eq(seen, 5);
    free(nodes);
    free(ls);
    eng_mul *bare;
    ck_assert_int_eq(eng_mul_exact(8, false, &bare), ENG_OK);
    bare->published.power_mw = NAN;
    snprintf(bare->name, sizeof bare->name, "bare");
    ck_assert_int_eq(eng_net_set_multiplier(net, ids[0], bare), ENG_OK);
    ck_assert_int_eq(energy_layers_from_net(net, 16, &ls, NULL, &n), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "multiplier bare has no published power"));
    eng_net_free(net);
    eng_mul_free(bare);
    eng_mul_free(m84);
}
END_TEST

static Suite *energy_net_suite(void)
{
    Suite *s = suite_create("energy_net");
    TCase *tc = tcase_create("adapter");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_published_counts, 0,
                        (int)(sizeof published / sizeof published[0]));
    tcase_add_loop_test(tc, test_zoo_layer_counts, 0, eng_zoo_count());
    tcase_add_test(tc, test_translation);
    tcase_add_test(tc, test_bad_networks);
    tcase_add_test(tc, test_swap_one_multiplier);
    tcase_add_test(tc, test_weight_widths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(energy_net_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
