/*
 * test_netfile.c - weights files of searched networks: random genomes of every operation
 * round-trip through the architecture text (rebuilt with their per-layer multipliers, same
 * outputs bit for bit), and malformed texts are refused with the file named.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_weights.h"
#include "nas_build.h"
#include "netfile.h"
#include "onnx_export.h"
#include "testutil.h"

static const char *const MUL_NAMES[5] = {"mul8u_1JFF", "mul8u_2AC", "mul8u_DM1", "mul8u_17KS",
                                         "mul8u_12N4"};

static nas_space space(void)
{
    nas_space sp = {.stages = 3, .nodes = 4, .n_ops = NAS_OP_COUNT, .n_widths = 3,
                    .widths = {4, 6, 8}, .width_growth = 2, .stem_width = 4, .n_muls = 5,
                    .in_channels = 3, .in_height = 12, .in_width = 12, .classes = 10};
    for (int i = 0; i < NAS_OP_COUNT; i++) sp.ops[i] = (nas_op)i;
    return sp;
}

typedef struct fixture {
    nas_space sp;
    eng_mul *muls[5];
    eng_approx_cfg q;
    int *genes;
    nas_arch arch;
    eng_net *net;
    float x[2 * 3 * 12 * 12];
} fixture;

/* A trained-looking searched network: random genome, random weights, calibrated ranges. */
static void fixture_make(fixture *f, uint64_t seed, bool sym)
{
    memset(f, 0, sizeof *f);
    f->sp = space();
    for (int i = 0; i < 5; i++) ck_assert_int_eq(eng_mul_load(MUL_NAMES[i], &f->muls[i]), ENG_OK);
    eng_approx_cfg_default(&f->q);
    f->q.mode = sym ? ENG_QUANT_SYM : ENG_QUANT_ASYM;
    f->q.weight_bits = 8;
    f->genes = malloc(sizeof(int) * (size_t)nas_genome_length(&f->sp));
    uint64_t rng = seed;
    nas_genome_random(&f->sp, &rng, f->genes);
    ck_assert_int_eq(nas_genome_decode(&f->sp, f->genes, &f->arch), ENG_OK);
    ck_assert_int_eq(nas_arch_build(&f->arch, &f->sp, (const eng_mul *const *)f->muls, &f->q,
                                    &f->net, NULL), ENG_OK);
    ck_assert_int_eq(eng_net_init_params(f->net, seed), ENG_OK);
    uint64_t s = seed + 1;
    for (size_t i = 0; i < sizeof f->x / sizeof f->x[0]; i++)
        f->x[i] = test_rand_uniform(&s, -1.0f, 1.0f);
    ck_assert_int_eq(eng_net_calibrate_begin(f->net), ENG_OK);
    ck_assert_int_eq(eng_net_forward(f->net, f->x, 2, false), ENG_OK);
    ck_assert_int_eq(eng_net_calibrate_end(f->net), ENG_OK);
}

static void fixture_free(fixture *f)
{
    eng_net_free(f->net);
    nas_arch_free(&f->arch);
    free(f->genes);
    for (int i = 0; i < 5; i++) eng_mul_free(f->muls[i]);
}

START_TEST(test_round_trip)
{
    const char *dir = test_mkdtemp();
    char path[4096];
    snprintf(path, sizeof path, "%s/net.w", dir);
    fixture f;
    fixture_make(&f, 1000 + (uint64_t)_i, _i % 2 == 1);
    char *text = malloc(ENG_NET_ARCH_MAX);
    ck_assert_int_eq(netfile_arch_format(&f.sp, MUL_NAMES, &f.q, f.genes, text,
                                         ENG_NET_ARCH_MAX), ENG_OK);
    ck_assert_int_eq(strncmp(text, "nas input=12x12x3 classes=10 stages=3 nodes=4 ", 46), 0);
    ck_assert_int_eq(eng_net_set_arch(f.net, text), ENG_OK);
    ck_assert_int_eq(eng_weights_save(f.net, path), ENG_OK);
    netfile_net back;
    ck_assert_msg(netfile_load(path, &back) == ENG_OK, "%s", eng_last_error());
    ck_assert(back.searched);
    ck_assert_int_eq(back.arch.n, f.arch.n);
    ck_assert_str_eq(back.arch.summary, f.arch.summary);
    ck_assert_str_eq(eng_net_arch(back.net), text);
    /* every multiplying layer has the multiplier of its gene */
    int ids[256], n = eng_net_mul_layers(back.net, ids, 256), k = 0;
    ck_assert_int_eq(n, f.arch.mul_layers);
    for (int i = 0; i < f.arch.n; i++) {
        if (f.arch.layers[i].mul < 0) continue;
        eng_layer_info info;
        ck_assert_int_eq(eng_net_layer_info(back.net, ids[k++], &info), ENG_OK);
        ck_assert_ptr_nonnull(info.mul);
        ck_assert_str_eq(info.mul->name, MUL_NAMES[f.arch.layers[i].mul]);
    }
    /* the same outputs, bit for bit */
    ck_assert_int_eq(eng_net_forward(f.net, f.x, 2, false), ENG_OK);
    ck_assert_int_eq(eng_net_forward(back.net, f.x, 2, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(f.net), eng_net_output(back.net), 20 * sizeof(float));
    netfile_free(&back);
    netfile_free(&back);   /* idempotent */
    free(text);
    fixture_free(&f);
    test_rmtree(dir);
}
END_TEST

/* A valid text with one key's value replaced (or the key removed when value is NULL). */
static void variant(const char *text, const char *key, const char *value, char *out, size_t size)
{
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(text, k);
    ck_assert_ptr_nonnull(p);
    const char *end = strchr(p + 1, ' ');
    if (!end) end = text + strlen(text);
    if (value)
        snprintf(out, size, "%.*s %s=%s%s", (int)(p - text), text, key, value, end);
    else
        snprintf(out, size, "%.*s%s", (int)(p - text), text, end);
}

START_TEST(test_bad_texts)
{
    const char *dir = test_mkdtemp();
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.w", dir);
    fixture f;
    fixture_make(&f, 7, false);
    char *text = malloc(ENG_NET_ARCH_MAX), *bad = malloc(ENG_NET_ARCH_MAX);
    ck_assert_int_eq(netfile_arch_format(&f.sp, MUL_NAMES, &f.q, f.genes, text,
                                         ENG_NET_ARCH_MAX), ENG_OK);
    struct { const char *key, *value; eng_status want; } cases[] = {
        {"genome", NULL, ENG_ERR_FORMAT},            /* missing key */
        {"ops", "conv3x3,warp9x9", ENG_ERR_FORMAT},  /* unknown op */
        {"genome", "1,2,3", ENG_ERR_FORMAT},         /* wrong gene count */
        {"stages", "x", ENG_ERR_FORMAT},
        {"stages", "9", ENG_ERR_FORMAT},             /* out of the space's range */
        {"quant", "int4", ENG_ERR_FORMAT},
        {"input", "12x12", ENG_ERR_FORMAT},
        {"multipliers", "mul8u_1JFF,mul8u_2AC,mul8u_DM1,mul8u_17KS,no_such_mul",
         ENG_ERR_NOT_FOUND},
        {"classes", "7", ENG_ERR_FORMAT},            /* rebuilds, but the tensors differ */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        variant(text, cases[i].key, cases[i].value, bad, ENG_NET_ARCH_MAX);
        ck_assert_int_eq(eng_net_set_arch(f.net, bad), ENG_OK);
        ck_assert_int_eq(eng_weights_save(f.net, path), ENG_OK);
        netfile_net n;
        eng_status st = netfile_load(path, &n);
        ck_assert_msg(st == cases[i].want, "%s=%s: %d %s", cases[i].key,
                      cases[i].value ? cases[i].value : "(none)", st, eng_last_error());
        ck_assert_msg(strstr(eng_last_error(), "bad.w") != NULL, "%s", eng_last_error());
        ck_assert_ptr_null(n.net);
    }
    /* unknown and repeated keys */
    snprintf(bad, ENG_NET_ARCH_MAX, "%s colour=red", text);
    ck_assert_int_eq(eng_net_set_arch(f.net, bad), ENG_OK);
    ck_assert_int_eq(eng_weights_save(f.net, path), ENG_OK);
    netfile_net n;
    ck_assert_int_eq(netfile_load(path, &n), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "unknown key 'colour'"));
    snprintf(bad, ENG_NET_ARCH_MAX, "%s stages=3", text);
    ck_assert_int_eq(eng_net_set_arch(f.net, bad), ENG_OK);
    ck_assert_int_eq(eng_weights_save(f.net, path), ENG_OK);
    ck_assert_int_eq(netfile_load(path, &n), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "repeated key 'stages'"));
    /* names that could not be read back are not written */
    const char *names[5] = {"a,b", "mul8u_2AC", "mul8u_DM1", "mul8u_17KS", "mul8u_12N4"};
    ck_assert_int_eq(netfile_arch_format(&f.sp, names, &f.q, f.genes, bad, ENG_NET_ARCH_MAX),
                     ENG_ERR_ARG);
    names[0] = "dir with space/t.bin";
    ck_assert_int_eq(netfile_arch_format(&f.sp, names, &f.q, f.genes, bad, ENG_NET_ARCH_MAX),
                     ENG_ERR_ARG);
    /* too small a buffer */
    ck_assert_int_eq(netfile_arch_format(&f.sp, MUL_NAMES, &f.q, f.genes, bad, 40), ENG_ERR_ARG);
    free(text);
    free(bad);
    fixture_free(&f);
    test_rmtree(dir);
}
END_TEST

/* The bytes of an exported model (a test of the ONNX writer, next to the network files). */
static unsigned char *export_bytes(eng_net *net, const char *dir, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/net.onnx", dir);
    ck_assert_msg(onnx_export_net(net, true, path) == ENG_OK, "%s", eng_last_error());
    return test_read_file(path, size);
}

static bool has_bytes(const unsigned char *b, size_t n, const void *what, size_t len)
{
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(b + i, what, len) == 0) return true;
    return false;
}

/* Hard swish exports as ONNX HardSwish, which needs opset 14; other networks keep opset 13
 * (the opset import: domain "", version as field 2). */
START_TEST(test_onnx_hardswish)
{
    const char *dir = test_mkdtemp();
    for (int hs = 0; hs <= 1; hs++) {
        eng_net *net;
        ck_assert_int_eq(eng_net_create(1, 4, 4, 3, &net), ENG_OK);
        int x = eng_net_conv2d(net, ENG_NET_INPUT, 2, 3, 1, 1, 1, true);
        x = hs ? eng_net_hardswish(net, x) : eng_net_relu(net, x);
        ck_assert_int_gt(eng_net_dense(net, eng_net_global_avgpool(net, x), 3, true), 0);
        ck_assert_int_eq(eng_net_init_params(net, 1), ENG_OK);
        size_t n;
        unsigned char *b = export_bytes(net, dir, &n);
        const unsigned char opset[2][4] = {{0x0a, 0x00, 0x10, 13}, {0x0a, 0x00, 0x10, 14}};
        ck_assert(has_bytes(b, n, opset[hs], 4));
        ck_assert(!has_bytes(b, n, opset[!hs], 4));
        ck_assert(has_bytes(b, n, "HardSwish", 9) == (hs == 1));
        free(b);
        eng_net_free(net);
    }
    test_rmtree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("netfile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_round_trip, 0, 8);
    tcase_add_test(tc, test_bad_texts);
    tcase_add_test(tc, test_onnx_hardswish);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
