/*
 * test_weights.c - the weights file: round trips (float and quantized), and rejection of
 * wrong, truncated and corrupted files without crashing or touching the network.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eng_ops.h"
#include "eng_weights.h"
#include "eng_zoo.h"
#include "testutil.h"

static char path_buf[4096];

static const char *tmp_file(const char *dir, const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static void randomize(eng_net *net, uint64_t seed)
{
    uint64_t s = seed;
    int n = eng_net_param_count(net);
    for (int i = 0; i < n; i++) {
        eng_param p;
        ck_assert_int_eq(eng_net_param_get(net, i, &p), ENG_OK);
        for (size_t j = 0; j < p.count; j++)
            p.data[j] = p.kind == ENG_PARAM_BN_VAR ? test_rand_uniform(&s, 0.5f, 2.0f)
                                                   : test_rand_uniform(&s, -0.5f, 0.5f);
    }
}

static bool same_params(eng_net *a, eng_net *b)
{
    int n = eng_net_param_count(a);
    if (n != eng_net_param_count(b)) return false;
    for (int i = 0; i < n; i++) {
        eng_param pa, pb;
        ck_assert_int_eq(eng_net_param_get(a, i, &pa), ENG_OK);
        ck_assert_int_eq(eng_net_param_get(b, i, &pb), ENG_OK);
        if (pa.count != pb.count || memcmp(pa.data, pb.data, pa.count * 4) != 0) return false;
    }
    return true;
}

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

START_TEST(test_round_trip)
{
    const char *dir = test_mkdtemp();
    eng_net *net, *back;
    ck_assert_int_eq(eng_zoo_build("resnet8_v1", NULL, &net), ENG_OK);
    randomize(net, 3);
    char path[4096];
    snprintf(path, sizeof path, "%s", tmp_file(dir, "r8.w"));
    ck_assert_int_eq(eng_weights_save(net, path), ENG_OK);
    ck_assert_int_eq(eng_weights_load(path, &back), ENG_OK);
    ck_assert_str_eq(eng_net_arch(back), eng_net_arch(net));
    ck_assert(same_params(net, back));
    /* the same outputs */
    float x[3 * 2 * 32 * 32];
    uint64_t s = 9;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_rand_uniform(&s, -1, 1);
    ck_assert_int_eq(eng_net_forward(net, x, 2, false), ENG_OK);
    ck_assert_int_eq(eng_net_forward(back, x, 2, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(net), eng_net_output(back), 20 * sizeof(float));
    char arch[256];
    ck_assert_int_eq(eng_weights_read_arch(path, arch, sizeof arch), ENG_OK);
    ck_assert_str_eq(arch, eng_net_arch(net));
    /* the directory holds only the file: no temporary left behind */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    /* folded networks are not saved */
    ck_assert_int_eq(eng_net_fold_batchnorm(net, NULL), ENG_OK);
    ck_assert_int_eq(eng_weights_save(net, tmp_file(dir, "folded.w")), ENG_ERR_ARG);
    /* loading into the folded network undoes the folding */
    ck_assert_int_eq(eng_weights_load_into(net, path), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, 2, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(net), eng_net_output(back), 20 * sizeof(float));
    ck_assert_int_eq(eng_weights_save(net, "/nonexistent-dir/x.w"), ENG_ERR_IO);
    eng_net_free(net);
    eng_net_free(back);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_quantized_round_trip)
{
    const char *dir = test_mkdtemp();
    eng_net *net, *back;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &net), ENG_OK);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    cfg.weight_bits = 6;
    cfg.per_channel = true;
    ck_assert_int_eq(eng_net_set_quant(net, -1, &cfg), ENG_OK);
    float x[4 * 28 * 28];
    uint64_t s = 2;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_rand_uniform(&s, -1, 2);
    ck_assert_int_eq(eng_net_calibrate_begin(net), ENG_OK);
    ck_assert_int_eq(eng_net_forward(net, x, 4, false), ENG_OK);
    ck_assert_int_eq(eng_net_calibrate_end(net), ENG_OK);
    const char *path = tmp_file(dir, "q.w");
    ck_assert_int_eq(eng_weights_save(net, path), ENG_OK);
    ck_assert_int_eq(eng_weights_load(path, &back), ENG_OK);
    int ids[8];
    int n = eng_net_mul_layers(back, ids, 8);
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < n; i++) {
        eng_approx_cfg got;
        float lo1, hi1, lo2, hi2;
        ck_assert(eng_net_get_quant(back, ids[i], &got));
        ck_assert_int_eq(got.weight_bits, 6);
        ck_assert(got.per_channel);
        ck_assert(eng_net_act_range(net, ids[i], &lo1, &hi1));
        ck_assert(eng_net_act_range(back, ids[i], &lo2, &hi2));
        ck_assert(lo1 == lo2 && hi1 == hi2);
    }
    ck_assert_int_eq(eng_net_forward(net, x, 4, false), ENG_OK);
    ck_assert_int_eq(eng_net_forward(back, x, 4, false), ENG_OK);
    ck_assert_mem_eq(eng_net_output(net), eng_net_output(back), 40 * sizeof(float));
    eng_net_free(net);
    eng_net_free(back);
    test_rmtree(dir);
}
END_TEST

/* Every damaged variant of a good file is ENG_ERR_FORMAT naming the file; the target network
 * keeps its parameters. */
START_TEST(test_bad_files)
{
    const char *dir = test_mkdtemp();
    eng_net *net, *other;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &net), ENG_OK);
    randomize(net, 5);
    char good[4096];
    snprintf(good, sizeof good, "%s/good.w", dir);
    ck_assert_int_eq(eng_weights_save(net, good), ENG_OK);
    size_t size;
    uint8_t *bytes = test_read_file(good, &size);
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &other), ENG_OK);
    randomize(other, 6);
    eng_net *keep;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &keep), ENG_OK);
    randomize(keep, 6);

    char bad[4096];
    snprintf(bad, sizeof bad, "%s/bad.w", dir);
    uint8_t *copy = malloc(size + 8);
    struct { size_t cut; long flip; const char *what; } cases[] = {
        {0, -1, "empty"}, {5, -1, "short magic"}, {20, -1, "truncated header"},
        {size - 1, -1, "missing a byte"}, {size / 2, -1, "half"},
        {size, 0, "wrong magic"}, {size, 8, "version"}, {size, 13, "arch length"},
        {size, 40, "architecture text"}, {size, (long)size - 100, "payload bit"},
        {size, (long)size - 2, "checksum"}, {size + 3, -1, "trailing bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(copy, bytes, size);
        memset(copy + size, 0, 8);
        if (cases[i].flip >= 0) copy[cases[i].flip] ^= 0x10;
        write_bytes(bad, copy, cases[i].cut);
        ck_assert_msg(eng_weights_load_into(other, bad) == ENG_ERR_FORMAT, "%s: %s",
                      cases[i].what, eng_last_error());
        ck_assert_msg(strstr(eng_last_error(), "bad.w") != NULL, "%s", eng_last_error());
        ck_assert(same_params(other, keep));
        eng_net *loaded = (eng_net *)1;
        ck_assert_int_eq(eng_weights_load(bad, &loaded), ENG_ERR_FORMAT);
        ck_assert_ptr_null(loaded);
    }
    /* a valid file of another network */
    eng_net *r8;
    ck_assert_int_eq(eng_zoo_build("resnet8_v1", NULL, &r8), ENG_OK);
    snprintf(bad, sizeof bad, "%s/r8.w", dir);
    ck_assert_int_eq(eng_weights_save(r8, bad), ENG_OK);
    ck_assert_int_eq(eng_weights_load_into(other, bad), ENG_ERR_FORMAT);
    ck_assert(same_params(other, keep));
    ck_assert_int_eq(eng_weights_load_into(other, "/nonexistent/file.w"), ENG_ERR_IO);
    ck_assert_int_eq(eng_weights_load_into(other, good), ENG_OK);
    ck_assert(same_params(other, net));
    free(copy);
    free(bytes);
    eng_net_free(net);
    eng_net_free(other);
    eng_net_free(keep);
    eng_net_free(r8);
    test_rmtree(dir);
}
END_TEST

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes bytes[0..size) with a correct CRC in the last 4 bytes, so the body's checks run. */
static void write_with_crc(const char *path, uint8_t *bytes, size_t size)
{
    put_le32(bytes + size - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), bytes, (uInt)(size - 4)));
    write_bytes(path, bytes, size);
}

/* Expects eng_weights_load of path to fail with ENG_ERR_FORMAT and a message holding frag. */
static void expect_format_error(const char *path, const char *frag)
{
    eng_net *loaded = (eng_net *)1;
    ck_assert_int_eq(eng_weights_load(path, &loaded), ENG_ERR_FORMAT);
    ck_assert_ptr_null(loaded);
    ck_assert_msg(strstr(eng_last_error(), frag) != NULL, "'%s' lacks '%s'", eng_last_error(),
                  frag);
}

/* Well-formed files (correct sizes and CRC) with bad contents (issue #14 item 2): a repeated
 * quantization node (accepted and leaking before), unknown flag bits, non-finite weights, and
 * architecture texts beyond the engine's limits. */
START_TEST(test_crafted_files)
{
    const char *dir = test_mkdtemp();
    eng_net *net;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &net), ENG_OK);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    ck_assert_int_eq(eng_net_set_quant(net, -1, &cfg), ENG_OK);
    char good[4096], bad[4096];
    snprintf(good, sizeof good, "%s/good.w", dir);
    snprintf(bad, sizeof bad, "%s/bad.w", dir);
    ck_assert_int_eq(eng_weights_save(net, good), ENG_OK);
    size_t size;
    uint8_t *bytes = test_read_file(good, &size);
    uint8_t *b = malloc(size + 512);
    const uint32_t arch_len = le32(bytes + 12), tensors = le32(bytes + 16);
    ck_assert_uint_eq(le32(bytes + 20), 5);                 /* 5 quantized layers */
    const size_t quant = 32 + arch_len + 16 * (size_t)tensors, payload = quant + 5 * 28;

    memcpy(b, bytes, size);                                 /* entry 1 names entry 0's node */
    memcpy(b + quant + 28, b + quant, 4);
    write_with_crc(bad, b, size);
    expect_format_error(bad, "repeats node");
    memcpy(b, bytes, size);                                 /* an unknown flag bit */
    b[quant + 12] |= 0x08;
    write_with_crc(bad, b, size);
    expect_format_error(bad, "quantization entry 0 is invalid");
    memcpy(b, bytes, size);                                 /* a NaN momentum */
    put_le32(b + quant + 2 * 28 + 16, 0x7fc00000u);
    write_with_crc(bad, b, size);
    expect_format_error(bad, "quantization entry 2 is invalid");
    const uint32_t nonfinite[] = {0x7fc00000u, 0x7f800000u, 0xff800000u};  /* NaN, +inf, -inf */
    for (int i = 0; i < 3; i++) {
        memcpy(b, bytes, size);
        put_le32(b + payload + 4 * 17, nonfinite[i]);
        write_with_crc(bad, b, size);
        expect_format_error(bad, "not finite");
    }
    memcpy(b, bytes, size);                                 /* the good file still loads */
    write_with_crc(bad, b, size);
    eng_net *back;
    ck_assert_int_eq(eng_weights_load(bad, &back), ENG_OK);
    eng_net_free(back);

    /* architecture texts: int overflow of the input, huge class and parameter counts */
    static const char *const archs[] = {
        "lenet classes=10 input=65536x65536x1 width=1",
        "lenet classes=2147483647 input=28x28x1 width=1",
        "lenet classes=10 input=2048x2048x1 width=1",
        "resnet8_v1 classes=10 input=16384x4096x1 width=1",
        "mobilenetv2_cifar classes=10 input=32x32x3 width=1e30",
    };
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        const size_t len = strlen(archs[i]), rest = size - 32 - arch_len;
        memcpy(b, bytes, 32);
        put_le32(b + 12, (uint32_t)len);
        memcpy(b + 32, archs[i], len);
        memcpy(b + 32 + len, bytes + 32 + arch_len, rest);
        write_with_crc(bad, b, 32 + len + rest);
        expect_format_error(bad, "architecture");
    }
    free(b);
    free(bytes);
    eng_net_free(net);
    test_rmtree(dir);
}
END_TEST

/* A text longer than 255 characters is written as version 2 and read back whole; a short one
 * stays version 1; a version-1 header that claims a long text is refused. */
START_TEST(test_long_arch_version2)
{
    const char *dir = test_mkdtemp();
    eng_net *net;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &net), ENG_OK);
    randomize(net, 4);
    char long_arch[3000];
    memset(long_arch, 'g', sizeof long_arch - 1);
    long_arch[sizeof long_arch - 1] = '\0';
    ck_assert_int_eq(eng_net_set_arch(net, long_arch), ENG_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s", tmp_file(dir, "long.w"));
    ck_assert_int_eq(eng_weights_save(net, path), ENG_OK);
    size_t size;
    uint8_t *bytes = test_read_file(path, &size);
    ck_assert_uint_eq(bytes[8], 2);
    char *arch = malloc(ENG_NET_ARCH_MAX);
    ck_assert_int_eq(eng_weights_read_arch(path, arch, ENG_NET_ARCH_MAX), ENG_OK);
    ck_assert_str_eq(arch, long_arch);
    eng_net *other;
    ck_assert_int_eq(eng_zoo_build("lenet", NULL, &other), ENG_OK);
    ck_assert_int_eq(eng_weights_load_into(other, path), ENG_OK);
    ck_assert(same_params(other, net));
    /* the same bytes marked version 1 (CRC fixed up) are refused as corrupt */
    bytes[8] = 1;
    uint32_t crc = (uint32_t)crc32(0, Z_NULL, 0);
    crc = (uint32_t)crc32(crc, bytes, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) bytes[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    write_bytes(path, bytes, size);
    ck_assert_int_eq(eng_weights_load_into(other, path), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "sizes out of range"));
    /* a short text stays version 1 */
    ck_assert_int_eq(eng_net_set_arch(net, "lenet classes=10 input=28x28x1 width=1"), ENG_OK);
    ck_assert_int_eq(eng_weights_save(net, path), ENG_OK);
    free(bytes);
    bytes = test_read_file(path, &size);
    ck_assert_uint_eq(bytes[8], 1);
    free(bytes);
    free(arch);
    eng_net_free(net);
    eng_net_free(other);
    test_rmtree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_quantized_round_trip);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_crafted_files);
    tcase_add_test(tc, test_long_arch_version2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
