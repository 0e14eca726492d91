/*
 * test_mixed_widths.c - one network whose multiplying layers take 8-, 6- and 4-bit weights
 * (each layer its multiplier's width): layer by layer, the codes and outputs of the reference
 * quantization, with every kernel set and at 1 and 2 threads.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "eng_quant.h"
#include "kernel_sets.h"
#include "testutil.h"

#define BATCH 2
#define IN_C 3
#define IN_HW 7

typedef struct mixed_layer {
    const char *mul;    /* multiplier (its width is the layer's weight width) */
    int node;
    float lo, hi;       /* frozen activation range of the layer's input */
} mixed_layer;

/* conv 3x3 (8x8 general table) -> depthwise 3x3 stride 2 (8x6) -> pointwise 1x1 (8x4) ->
 * global average pool. */
static mixed_layer layers[3] = {
    {"mul8u_DM1", 0, -1.5f, 2.0f},
    {"mul8x6u_0MH", 0, -2.5f, 3.0f},
    {"mul8x4u_0S7", 0, -2.0f, 4.0f},
};

static eng_net *build(eng_mul **muls)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(IN_C, IN_HW, IN_HW, 4, &net), ENG_OK);
    layers[0].node = eng_net_conv2d(net, ENG_NET_INPUT, 5, 3, 1, 1, 1, true);
    layers[1].node = eng_net_depthwise(net, layers[0].node, 3, 2, 1, 1, true);
    layers[2].node = eng_net_conv2d(net, layers[1].node, 4, 1, 1, 0, 1, true);
    int pool = eng_net_global_avgpool(net, layers[2].node);
    ck_assert_int_ge(pool, 0);
    ck_assert_int_eq(eng_net_set_output(net, pool), ENG_OK);
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.mode = ENG_QUANT_ASYM;
    q.weight_bits = 0;          /* each layer takes its multiplier's width */
    q.per_channel = true;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(eng_mul_load(layers[i].mul, &muls[i]), ENG_OK);
        ck_assert_int_eq(eng_net_set_quant(net, layers[i].node, &q), ENG_OK);
        ck_assert_int_eq(eng_net_set_multiplier(net, layers[i].node, muls[i]), ENG_OK);
    }
    ck_assert_int_eq(eng_net_init_params(net, 42), ENG_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(eng_net_set_act_range(net, layers[i].node, layers[i].lo, layers[i].hi),
                         ENG_OK);
    ck_assert_int_eq(eng_net_reserve(net, BATCH, true), ENG_OK);   /* keeps every activation */
    return net;
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

/* The layer's output from its input by the definition: activation codes from the frozen
 * range, per-channel weight codes on the multiplier's width, the table's products, the exact
 * zero-point terms, dequantization, bias. Checks the weight codes' range on the way. */
static void reference_layer(eng_net *net, const mixed_layer *ml, const eng_mul *m,
                            const float *x, float *y)
{
    eng_layer_info in;
    ck_assert_int_eq(eng_net_layer_info(net, ml->node, &in), ENG_OK);
    ck_assert(in.quantized);
    ck_assert_int_eq(in.weight_bits, m->w_bits);
    ck_assert_ptr_eq(in.mul, m);
    const bool dw = in.groups > 1;
    const int k = in.kernel, ic_per = dw ? 1 : in.in_c;
    const size_t per_out = (size_t)ic_per * k * k;
    const float *w = param_of(net, ml->node, ENG_PARAM_WEIGHT);
    const float *b = param_of(net, ml->node, ENG_PARAM_BIAS);
    const eng_qparams a = eng_qparams_from_range(ml->lo, ml->hi, 0, 255, false);
    eng_qparams *wq = malloc(sizeof *wq * (size_t)in.out_c);
    eng_qparams_per_channel(w, in.out_c, per_out, 0, (1 << m->w_bits) - 1, false, wq);
    for (int o = 0; o < in.out_c; o++) {
        ck_assert_int_eq(wq[o].qmax, (1 << m->w_bits) - 1);
        for (size_t i = 0; i < per_out; i++) {
            int32_t c = eng_quant_code(&wq[o], w[(size_t)o * per_out + i]);
            ck_assert(c >= 0 && c < (1 << m->w_bits));
        }
    }
    const int ih = in.in_h, iw = in.in_w, oh = in.out_h, ow = in.out_w;
    for (int o = 0; o < in.out_c; o++)
        for (int n = 0; n < BATCH; n++)
            for (int py = 0; py < oh; py++)
                for (int px = 0; px < ow; px++) {
                    int64_t v = 0;
                    for (int c = 0; c < ic_per; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int yy = py * in.stride - in.pad + ky;
                                int xx = px * in.stride - in.pad + kx;
                                int ch = dw ? o : c;
                                int32_t ac = a.zero_point;
                                if (yy >= 0 && yy < ih && xx >= 0 && xx < iw)
                                    ac = eng_quant_code(
                                        &a, x[(((size_t)ch * BATCH + n) * ih + yy) * iw + xx]);
                                int32_t wc = eng_quant_code(
                                    &wq[o], w[(size_t)o * per_out + ((size_t)c * k + ky) * k + kx]);
                                v += eng_mul_value(m, (unsigned)ac, (unsigned)wc) -
                                     (int64_t)wq[o].zero_point * ac -
                                     (int64_t)a.zero_point * wc +
                                     (int64_t)a.zero_point * wq[o].zero_point;
                            }
                    y[(((size_t)o * BATCH + n) * oh + py) * ow + px] =
                        (float)((double)a.scale * wq[o].scale * (double)v) + b[o];
                }
    free(wq);
}

static void check_network(const char *kernel_set, int threads)
{
    const eng_kernels *ks = test_kernel_set(kernel_set);
    if (!ks) return;
    test_set_threads(threads);
    eng_mul *muls[3];
    eng_net *net = build(muls);
    eng_net_set_kernels(net, ks);
    size_t nx = (size_t)IN_C * BATCH * IN_HW * IN_HW;
    float *x = malloc(sizeof *x * nx);
    uint64_t rng = 7;
    for (size_t i = 0; i < nx; i++) x[i] = test_rand_uniform(&rng, -1.5f, 2.0f);
    ck_assert_int_eq(eng_net_forward(net, x, BATCH, false), ENG_OK);
    const float *in = x;
    for (int l = 0; l < 3; l++) {
        eng_layer_info info;
        ck_assert_int_eq(eng_net_layer_info(net, layers[l].node, &info), ENG_OK);
        size_t ny = (size_t)info.out_c * BATCH * info.out_h * info.out_w;
        float *want = malloc(sizeof *want * ny);
        reference_layer(net, &layers[l], muls[l], in, want);
        const float *got = eng_net_activation(net, layers[l].node);
        ck_assert_ptr_nonnull(got);
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(got[i] == want[i], "%s, %d threads, layer %d (%s, 8x%d) y[%zu]: %.9g, "
                          "reference %.9g", kernel_set, threads, l, layers[l].mul,
                          muls[l]->w_bits, i, (double)got[i], (double)want[i]);
        free(want);
        in = got;
    }
    free(x);
    eng_net_free(net);
    for (int i = 0; i < 3; i++) eng_mul_free(muls[i]);
}

static const char *const sets[] = {"scalar", "avx2", "avx512"};

START_TEST(test_mixed_width_layers_match_reference)
{
    check_network(sets[_i % 3], 1 + _i / 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mixed_widths");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_mixed_width_layers_match_reference, 0, 6);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
