/*
 * test_workspace.c - every workspace-taking entry point of eng_ops.h stays inside the bytes
 * its *_workspace_size() returns, over a sweep of shapes and quantization modes: the
 * workspace is followed by a guard region that must come back untouched (issue #14 item 1).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "eng_ops.h"
#include "testutil.h"

enum { GUARD = 4096, GUARD_BYTE = 0xA5 };

/* A workspace of `size` bytes followed by GUARD guard bytes. */
static unsigned char *guarded_alloc(size_t size)
{
    unsigned char *ws = eng_alloc(size + GUARD);
    ck_assert_ptr_nonnull(ws);
    memset(ws + size, GUARD_BYTE, GUARD);
    return ws;
}

/* The number of guard bytes after ws[size] that were overwritten. */
static size_t guard_damage(const unsigned char *ws, size_t size)
{
    size_t bad = 0;
    for (size_t i = 0; i < GUARD; i++)
        bad += ws[size + i] != GUARD_BYTE;
    return bad;
}

static float *random_floats(size_t count, uint32_t *seed)
{
    float *v = malloc(sizeof(float) * (count ? count : 1));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        v[i] = (float)(*seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    return v;
}

/* The quantization modes of the sweep: exact float, ASYM, SYM (sign-magnitude through the exact
 * unsigned table), ASYM with the table gradient, per-channel SYM. */
enum { MODE_FLOAT, MODE_ASYM, MODE_SYM, MODE_TABLE_GRAD, MODE_SYM_CHANNEL, MODE_COUNT };

enum { MAX_CHANNELS = 64 };
static eng_approx *states[MODE_COUNT][MAX_CHANNELS + 1];

/* The state of this mode for `channels` outputs, created once (creating one fits the table,
 * which costs far more than the tiny ops of the sweep). */
static eng_approx *make_state(int mode, int channels)
{
    if (mode == MODE_FLOAT) return NULL;
    ck_assert_int_le(channels, MAX_CHANNELS);
    if (states[mode][channels]) return states[mode][channels];
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.mode = mode == MODE_SYM || mode == MODE_SYM_CHANNEL ? ENG_QUANT_SYM : ENG_QUANT_ASYM;
    cfg.table_gradient = mode == MODE_TABLE_GRAD;
    cfg.per_channel = mode == MODE_SYM_CHANNEL;
    eng_approx *q;
    ck_assert_int_eq(eng_approx_create(&cfg, NULL, channels, &q), ENG_OK);
    states[mode][channels] = q;
    return q;
}

#define CHECK_GUARD(ws, size, what, ...)                                                      \
    ck_assert_msg(guard_damage(ws, size) == 0, "%zu guard bytes overwritten after %zu: " what, \
                  guard_damage(ws, size), size, __VA_ARGS__)

/* conv2d forward, backward and forward_codes, and (when c == oc) depthwise, for one shape. */
static void sweep_conv(const eng_kernels *k, const eng_conv_shape *s, int oc, int mode,
                       uint32_t *seed)
{
    const size_t X = (size_t)s->c * s->n * s->h * s->w, P = (size_t)s->n * s->oh * s->ow;
    const size_t W = (size_t)oc * s->c * s->kh * s->kw;
    float *x = random_floats(X, seed), *w = random_floats(W, seed), *b = random_floats(oc, seed);
    float *y = malloc(sizeof(float) * oc * P), *dy = random_floats(oc * P, seed);
    float *dx = malloc(sizeof(float) * X), *dw = malloc(sizeof(float) * W);
    float *db = malloc(sizeof(float) * oc);
    eng_approx *q = make_state(mode, oc);

    size_t size = eng_conv2d_workspace_size(s, oc, q);
    unsigned char *ws = guarded_alloc(size);
    ck_assert_int_eq(eng_conv2d_forward(k, s, oc, x, w, b, q, true, y, ws), ENG_OK);
    CHECK_GUARD(ws, size, "n %d c %d %dx%d oc %d k %d s %d p %d mode %d", s->n, s->c, s->h, s->w,
                oc, s->kh, s->stride, s->pad, mode);
    ck_assert_int_eq(eng_conv2d_backward(k, s, oc, x, w, q, dy, dx, dw, db, ws), ENG_OK);
    CHECK_GUARD(ws, size, "backward n %d c %d %dx%d oc %d k %d s %d p %d mode %d", s->n, s->c,
                s->h, s->w, oc, s->kh, s->stride, s->pad, mode);
    if (q) {
        uint8_t *a_codes = malloc(X), *w_codes = malloc(W);
        int32_t *acc = malloc(sizeof(int32_t) * oc * P);
        int32_t amin, amax, wmin, wmax;
        eng_approx_code_ranges(q, &amin, &amax, &wmin, &wmax);
        const bool asym = amin >= 0;
        for (size_t i = 0; i < X; i++) a_codes[i] = (uint8_t)(asym ? i * 37 % 256 : i * 37 % 100);
        for (size_t i = 0; i < W; i++) w_codes[i] = (uint8_t)(asym ? i * 11 % 256 : i * 11 % 100);
        eng_qparams aq = {.scale = 0.01f, .zero_point = asym ? 128 : 0,
                          .qmin = amin, .qmax = amax};
        eng_qparams *wq = malloc(sizeof(eng_qparams) * oc);
        for (int o = 0; o < oc; o++)
            wq[o] = (eng_qparams){.scale = 0.02f, .zero_point = asym ? 100 : 0,
                                  .qmin = wmin, .qmax = wmax};
        ck_assert_int_eq(eng_conv2d_forward_codes(k, s, oc, q, a_codes, &aq, w_codes, wq, b, acc,
                                                  y, ws), ENG_OK);
        CHECK_GUARD(ws, size, "codes n %d c %d %dx%d oc %d k %d s %d p %d mode %d", s->n, s->c,
                    s->h, s->w, oc, s->kh, s->stride, s->pad, mode);
        free(a_codes);
        free(w_codes);
        free(acc);
        free(wq);
    }
    eng_free(ws);

    if (oc == s->c) {       /* depthwise: w[c][kh][kw] is a prefix of w */
        q = make_state(mode, s->c);
        size = eng_depthwise_workspace_size(s, q);
        ws = guarded_alloc(size);
        ck_assert_int_eq(eng_depthwise_forward(k, s, x, w, b, q, true, y, ws), ENG_OK);
        CHECK_GUARD(ws, size, "depthwise n %d c %d %dx%d k %d s %d p %d mode %d", s->n, s->c,
                    s->h, s->w, s->kh, s->stride, s->pad, mode);
        ck_assert_int_eq(eng_depthwise_backward(k, s, x, w, q, dy, dx, dw, db, ws), ENG_OK);
        CHECK_GUARD(ws, size, "depthwise backward n %d c %d %dx%d k %d s %d p %d mode %d", s->n,
                    s->c, s->h, s->w, s->kh, s->stride, s->pad, mode);
        eng_free(ws);
        }
    free(x);
    free(w);
    free(b);
    free(y);
    free(dy);
    free(dx);
    free(dw);
    free(db);
}

static void free_states(void)
{
    for (int m = 0; m < MODE_COUNT; m++)
        for (int c = 0; c <= MAX_CHANNELS; c++) {
            eng_approx_free(states[m][c]);
            states[m][c] = NULL;
        }
}

/* The issue's shape: n=2, c=4, 8x8, 5 output channels, 3x3, stride 1, pad 1 (4864 bytes,
 * 5140 written by the codes path before the fix). */
START_TEST(test_conv_codes_issue_shape)
{
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 2, 4, 8, 8, 3, 3, 1, 1, 1), ENG_OK);
    uint32_t seed = 1;
    for (int mode = MODE_ASYM; mode < MODE_COUNT; mode++)
        sweep_conv(eng_kernels_get(), &s, 5, mode, &seed);
    free_states();
}
END_TEST

/* Shapes x modes on the default kernel set (the workspace is carved by the op code, not by
 * the kernels). */
START_TEST(test_conv_sweep)
{
    const eng_kernels *k = eng_kernels_get();
    static const int ns[] = {1, 2}, cs[] = {1, 4, 16}, sizes[] = {1, 5, 8}, ocs[] = {1, 5, 16};
    static const int ks[] = {1, 3, 5}, strides[] = {1, 2}, pads[] = {0, 1, 2};
    uint32_t seed = 7;
    int shapes = 0;
    for (size_t a = 0; a < 2; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 3; c++)
                for (size_t d = 0; d < 3; d++)
                    for (size_t e = 0; e < 3; e++)
                        for (size_t f = 0; f < 2; f++)
                            for (size_t g = 0; g < 3; g++) {
                                eng_conv_shape s;
                                eng_status rc = eng_conv_shape_init(&s, ns[a], cs[b], sizes[c],
                                                                    sizes[c], ks[e], ks[e],
                                                                    strides[f], pads[g], 1);
                                if (rc != ENG_OK) continue;
                                shapes++;
                                for (int mode = 0; mode < MODE_COUNT; mode++)
                                    sweep_conv(k, &s, ocs[d], mode, &seed);
                            }
    ck_assert_int_gt(shapes, 200);
    free_states();
}
END_TEST

/* A larger same-size shape from the issue (55 KB overrun): n=1, c=16, 32x32, 16 outputs, 3x3. */
START_TEST(test_conv_large_same_size)
{
    eng_conv_shape s;
    ck_assert_int_eq(eng_conv_shape_init(&s, 1, 16, 32, 32, 3, 3, 1, 1, 1), ENG_OK);
    uint32_t seed = 3;
    for (int mode = 0; mode < MODE_COUNT; mode++)
        sweep_conv(eng_kernels_get(), &s, 16, mode, &seed);
    free_states();
}
END_TEST

START_TEST(test_dense_sweep)
{
    const eng_kernels *k = eng_kernels_get();
    static const int dims[] = {1, 3, 17, 64}, batches[] = {1, 2, 9};
    uint32_t seed = 11;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t c = 0; c < 3; c++)
                for (int mode = 0; mode < MODE_COUNT; mode++) {
                    const int in = dims[a], out = dims[b], n = batches[c];
                    float *x = random_floats((size_t)in * n, &seed);
                    float *w = random_floats((size_t)out * in, &seed);
                    float *bias = random_floats(out, &seed);
                    float *dy = random_floats((size_t)out * n, &seed);
                    float *y = malloc(sizeof(float) * out * n), *dx = malloc(sizeof(float) * in * n);
                    float *dw = malloc(sizeof(float) * out * in), *db = malloc(sizeof(float) * out);
                    eng_approx *q = make_state(mode, out);
                    size_t size = eng_dense_workspace_size(in, out, n, q);
                    unsigned char *ws = guarded_alloc(size);
                    ck_assert_int_eq(eng_dense_forward(k, in, out, n, x, w, bias, q, true, y, ws),
                                     ENG_OK);
                    CHECK_GUARD(ws, size, "dense in %d out %d n %d mode %d", in, out, n, mode);
                    ck_assert_int_eq(eng_dense_backward(k, in, out, n, x, w, q, dy, dx, dw, db, ws),
                                     ENG_OK);
                    CHECK_GUARD(ws, size, "dense backward in %d out %d n %d mode %d", in, out, n,
                                mode);
                    eng_free(ws);
                                    free(x);
                    free(w);
                    free(bias);
                    free(dy);
                    free(y);
                    free(dx);
                    free(dw);
                    free(db);
                }
    free_states();
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("workspace");
    TCase *tc = tcase_create("guard");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_conv_codes_issue_shape);
    tcase_add_test(tc, test_conv_large_same_size);
    tcase_add_test(tc, test_conv_sweep);
    tcase_add_test(tc, test_dense_sweep);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
