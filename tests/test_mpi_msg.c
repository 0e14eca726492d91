/*
 * test_mpi_msg.c - the MPI worker pool's messages: every message survives encoding and
 * decoding, damaged ones (truncated, trailing bytes, a NUL in a string) are refused naming
 * the field; the device choice by local rank.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_msg.h"

START_TEST(test_init_roundtrip)
{
    mpi_buf b = {0};
    mpi_msg_init m = {.config_path = "/c/x.yaml", .config_text = "name: x\nseed: 3\n",
                      .dataset = "/data/fm", .accelerator = "", .n_muls = 2};
    /* an exact 8x4 table and an 8x8 one with a changed entry and figures */
    ck_assert_int_eq(eng_mul_exact(4, false, &m.muls[0]), ENG_OK);
    ck_assert_int_eq(eng_mul_exact(8, false, &m.muls[1]), ENG_OK);
    snprintf(m.muls[1]->name, sizeof m.muls[1]->name, "mul8u_TEST");
    m.muls[1]->table[12345] = 7;
    m.muls[1]->published.power_mw = 0.25;
    ck_assert_int_eq(mpi_msg_encode_init(&b, &m), ENG_OK);
    mpi_msg_init d;
    char *owned;
    ck_assert_int_eq(mpi_msg_decode_init(b.data, b.size, &d, &owned), ENG_OK);
    ck_assert_str_eq(d.config_path, "/c/x.yaml");
    ck_assert_str_eq(d.config_text, "name: x\nseed: 3\n");
    ck_assert_str_eq(d.dataset, "/data/fm");
    ck_assert_str_eq(d.accelerator, "");
    ck_assert_int_eq(d.n_muls, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(d.muls[i]->name, m.muls[i]->name);
        ck_assert_str_eq(d.muls[i]->family, m.muls[i]->family);
        ck_assert_int_eq(d.muls[i]->w_bits, m.muls[i]->w_bits);
        ck_assert_int_eq(d.muls[i]->is_signed, m.muls[i]->is_signed);
        ck_assert_int_eq(memcmp(d.muls[i]->table, m.muls[i]->table,
                                sizeof(uint16_t) * ((size_t)256 << m.muls[i]->w_bits)), 0);
    }
    ck_assert(d.muls[1]->published.power_mw == 0.25);
    ck_assert_int_eq(d.muls[1]->table[12345], 7);
    ck_assert(!d.has_data);
    for (int i = 0; i < 2; i++) {
        eng_mul_free(d.muls[i]);
        eng_mul_free(m.muls[i]);
    }
    free(owned);
    /* a truncated table (before the 4-byte data flag) frees what was decoded */
    ck_assert_int_eq(mpi_msg_decode_init(b.data, b.size - 5, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_null(owned);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "a multiplier's table"));
    mpi_buf_free(&b);
}
END_TEST

/* the training subset and validation split sent with the config */
START_TEST(test_init_data_roundtrip)
{
    uint8_t img[2 * 3 * 4 * 5], lab[2] = {7, 1}, vimg[1 * 3 * 4 * 5], vlab[1] = {9};
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof vimg; i++) vimg[i] = (uint8_t)(i * 5 + 1);
    mpi_msg_init m = {.config_path = "c", .config_text = "t", .dataset = "", .accelerator = "",
                      .has_data = true,
                      .train = {.count = 2, .channels = 3, .height = 4, .width = 5,
                                .classes = 10, .images = img, .labels = lab,
                                .mean = {0.1f, 0.2f, 0.3f}, .std = {1, 2, 0.25f}},
                      .val = {.count = 1, .channels = 3, .height = 4, .width = 5,
                              .classes = 10, .images = vimg, .labels = vlab,
                              .mean = {0.5f}, .std = {1, 1, 1}}};
    mpi_buf b = {0};
    ck_assert_int_eq(mpi_msg_encode_init(&b, &m), ENG_OK);
    mpi_msg_init d;
    char *owned;
    ck_assert_int_eq(mpi_msg_decode_init(b.data, b.size, &d, &owned), ENG_OK);
    ck_assert(d.has_data);
    ck_assert_int_eq(d.train.count, 2);
    ck_assert_int_eq(d.train.channels * d.train.height * d.train.width, 60);
    ck_assert_int_eq(memcmp(d.train.images, img, sizeof img), 0);
    ck_assert_int_eq(memcmp(d.train.labels, lab, sizeof lab), 0);
    ck_assert(d.train.mean[1] == 0.2f && d.train.std[2] == 0.25f);
    ck_assert_int_eq(d.val.count, 1);
    ck_assert_int_eq(memcmp(d.val.images, vimg, sizeof vimg), 0);
    ck_assert_int_eq(d.val.labels[0], 9);
    ck_assert(d.val.mean[0] == 0.5f);
    eng_dataset_free(&d.train);
    eng_dataset_free(&d.val);
    free(owned);
    /* images that do not fit the shape: the training subset's width (after 4 strings of
     * 1 + 1 + 0 + 0 bytes with their 8-byte lengths, the multiplier count, the data flag,
     * count, channels and height) made 6 */
    int32_t six = 6;
    memcpy(b.data + 34 + 4 + 4 + 12, &six, 4);
    ck_assert_int_eq(mpi_msg_decode_init(b.data, b.size, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "the training subset: bad shape"));
    mpi_buf_free(&b);
}
END_TEST

/* A two-layer network: a 3x3 conv with multiplier 2, then the classifier. */
static nas_layer small_layers[2] = {
    {.kind = NAS_LAYER_CONV, .in = {-1, -2}, .in_c = 1, .in_h = 8, .in_w = 8, .out_c = 4,
     .out_h = 8, .out_w = 8, .k = 3, .stride = 1, .pad = 1, .mul = 2, .mul_gene = 5,
     .params = 36, .macs = 2304},
    {.kind = NAS_LAYER_DENSE, .in = {0, -2}, .in_c = 4, .in_h = 8, .in_w = 8, .out_c = 10,
     .out_h = 1, .out_w = 1, .mul = 0, .mul_gene = 7, .params = 2570, .macs = 2560},
};

static nas_arch small_net(void)
{
    nas_arch a = {.n = 2, .cap = 2, .layers = small_layers, .params = 2606, .macs = 4864,
                  .mul_layers = 2};
    snprintf(a.summary, sizeof a.summary, "conv3x3:4 | fc10");
    return a;
}

START_TEST(test_job_roundtrip)
{
    unsigned char ckpt[300];
    for (int i = 0; i < 300; i++) ckpt[i] = (unsigned char)(i * 7);
    mpi_buf b = {0};
    mpi_msg_job m = {.index = 17, .hash = 0x8ac663b59c78f944ull, .seed = ~0ull - 5,
                     .epochs = 12, .arch = small_net(), .resume = ckpt,
                     .resume_size = sizeof ckpt};
    ck_assert_int_eq(mpi_msg_encode_job(&b, &m), ENG_OK);
    mpi_msg_job d;
    char *owned;
    ck_assert_int_eq(mpi_msg_decode_job(b.data, b.size, &d, &owned), ENG_OK);
    ck_assert_int_eq(d.index, 17);
    ck_assert_uint_eq(d.hash, 0x8ac663b59c78f944ull);
    ck_assert_uint_eq(d.seed, ~0ull - 5);
    ck_assert_int_eq(d.epochs, 12);
    ck_assert_int_eq(d.arch.n, 2);
    ck_assert_int_eq(memcmp(d.arch.layers, small_layers, sizeof small_layers), 0);
    ck_assert(d.arch.params == 2606 && d.arch.macs == 4864 && d.arch.mul_layers == 2);
    ck_assert_str_eq(d.arch.summary, "conv3x3:4 | fc10");
    ck_assert_uint_eq(nas_arch_hash(&d.arch), nas_arch_hash(&m.arch));
    ck_assert_uint_eq(d.resume_size, sizeof ckpt);
    ck_assert_int_eq(memcmp(d.resume, ckpt, sizeof ckpt), 0);
    nas_arch_free(&d.arch);
    free(owned);
    /* no checkpoint: an empty block, decoded as NULL */
    b.size = 0;
    m.resume = NULL;
    ck_assert_int_eq(mpi_msg_encode_job(&b, &m), ENG_OK);
    ck_assert_int_eq(mpi_msg_decode_job(b.data, b.size, &d, &owned), ENG_OK);
    ck_assert_ptr_null(d.resume);
    ck_assert_uint_eq(d.resume_size, 0);
    nas_arch_free(&d.arch);
    free(owned);
    mpi_buf_free(&b);
}
END_TEST

START_TEST(test_result_ready_ckpt_roundtrip)
{
    mpi_buf b = {0};
    char *owned;
    mpi_msg_result r = {.index = 3, .status = ENG_ERR_INTERRUPTED, .error = 0.125,
                        .train_s = 41.5, .message = "rank 2 on n7: stopped"};
    ck_assert_int_eq(mpi_msg_encode_result(&b, &r), ENG_OK);
    mpi_msg_result rd;
    ck_assert_int_eq(mpi_msg_decode_result(b.data, b.size, &rd, &owned), ENG_OK);
    ck_assert_int_eq(rd.index, 3);
    ck_assert_int_eq(rd.status, ENG_ERR_INTERRUPTED);
    ck_assert(rd.error == 0.125 && rd.train_s == 41.5);
    ck_assert_str_eq(rd.message, "rank 2 on n7: stopped");
    free(owned);

    b.size = 0;
    mpi_msg_ready y = {.status = ENG_ERR_NOT_FOUND, .message = "rank 1 on n2: /d: missing"};
    ck_assert_int_eq(mpi_msg_encode_ready(&b, &y), ENG_OK);
    mpi_msg_ready yd;
    ck_assert_int_eq(mpi_msg_decode_ready(b.data, b.size, &yd, &owned), ENG_OK);
    ck_assert_int_eq(yd.status, ENG_ERR_NOT_FOUND);
    ck_assert_str_eq(yd.message, "rank 1 on n2: /d: missing");
    free(owned);

    b.size = 0;
    const char data[] = "EVAXCK\r\n....";
    mpi_msg_ckpt c = {.index = 9, .data = data, .size = sizeof data};
    ck_assert_int_eq(mpi_msg_encode_ckpt(&b, &c), ENG_OK);
    mpi_msg_ckpt cd;
    ck_assert_int_eq(mpi_msg_decode_ckpt(b.data, b.size, &cd, &owned), ENG_OK);
    ck_assert_int_eq(cd.index, 9);
    ck_assert_uint_eq(cd.size, sizeof data);
    ck_assert_int_eq(memcmp(cd.data, data, sizeof data), 0);
    free(owned);
    mpi_buf_free(&b);
}
END_TEST

START_TEST(test_damaged_messages)
{
    mpi_buf b = {0};
    mpi_msg_job m = {.index = 1, .hash = 2, .seed = 3, .epochs = 4, .arch = small_net()};
    ck_assert_int_eq(mpi_msg_encode_job(&b, &m), ENG_OK);
    mpi_msg_job d;
    char *owned = (char *)&b;
    /* every truncation is refused, naming a field */
    for (size_t n = 0; n < b.size; n++) {
        ck_assert_int_eq(mpi_msg_decode_job(b.data, n, &d, &owned), ENG_ERR_FORMAT);
        ck_assert_ptr_null(owned);
        ck_assert_ptr_null(d.arch.layers);
        ck_assert_ptr_nonnull(strstr(eng_last_error(), "job message: "));
    }
    /* a byte too many */
    unsigned char *longer = malloc(b.size + 1);
    memcpy(longer, b.data, b.size);
    longer[b.size] = 0;
    ck_assert_int_eq(mpi_msg_decode_job(longer, b.size + 1, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "1 bytes after its last field"));
    free(longer);
    /* a string length past the end: the summary's, after index, hash, seed, epochs, the
     * layer count, 2 layers of 72 bytes, params, macs and mul_layers */
    size_t at = 4 + 8 + 8 + 4 + 4 + 2 * 72 + 8 + 8 + 4;
    uint64_t huge = 1ull << 40;
    memcpy(b.data + at, &huge, 8);
    ck_assert_int_eq(mpi_msg_decode_job(b.data, b.size, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "the summary"));
    /* more layers than the message holds, and an unknown layer kind */
    int32_t v = 1000000;
    memcpy(b.data + 24, &v, 4);
    ck_assert_int_eq(mpi_msg_decode_job(b.data, b.size, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "1000000 layers"));
    v = 2;
    memcpy(b.data + 24, &v, 4);
    v = NAS_LAYER_KIND_COUNT;
    memcpy(b.data + 28 + 72, &v, 4);
    ck_assert_int_eq(mpi_msg_decode_job(b.data, b.size, &d, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "layer 1 of kind"));
    /* a NUL inside a string */
    b.size = 0;
    mpi_msg_ready y = {.status = 0, .message = "ab"};
    ck_assert_int_eq(mpi_msg_encode_ready(&b, &y), ENG_OK);
    b.data[b.size - 1] = 0;
    mpi_msg_ready yd;
    ck_assert_int_eq(mpi_msg_decode_ready(b.data, b.size, &yd, &owned), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "NUL"));
    mpi_buf_free(&b);
}
END_TEST

START_TEST(test_device_choice)
{
    int gpu;
    /* auto: the GPU of the local rank, round robin over the node's GPUs */
    ck_assert_int_eq(mpi_device_choice(true, ENG_DEVICE_CPU, 0, 4, &gpu), ENG_DEVICE_CUDA);
    ck_assert_int_eq(gpu, 0);
    ck_assert_int_eq(mpi_device_choice(true, ENG_DEVICE_CPU, 3, 4, &gpu), ENG_DEVICE_CUDA);
    ck_assert_int_eq(gpu, 3);
    ck_assert_int_eq(mpi_device_choice(true, ENG_DEVICE_CPU, 5, 4, &gpu), ENG_DEVICE_CUDA);
    ck_assert_int_eq(gpu, 1);
    /* auto on a node without GPUs: the CPU */
    ck_assert_int_eq(mpi_device_choice(true, ENG_DEVICE_CPU, 2, 0, &gpu), ENG_DEVICE_CPU);
    ck_assert_int_eq(gpu, -1);
    /* an explicit device is kept */
    ck_assert_int_eq(mpi_device_choice(false, ENG_DEVICE_CPU, 1, 2, &gpu), ENG_DEVICE_CPU);
    ck_assert_int_eq(gpu, -1);
    ck_assert_int_eq(mpi_device_choice(false, ENG_DEVICE_CUDA, 3, 2, &gpu), ENG_DEVICE_CUDA);
    ck_assert_int_eq(gpu, 1);
}
END_TEST

static Suite *mpi_msg_suite(void)
{
    Suite *s = suite_create("mpi_msg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_roundtrip);
    tcase_add_test(tc, test_init_data_roundtrip);
    tcase_add_test(tc, test_job_roundtrip);
    tcase_add_test(tc, test_result_ready_ckpt_roundtrip);
    tcase_add_test(tc, test_damaged_messages);
    tcase_add_test(tc, test_device_choice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mpi_msg_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
