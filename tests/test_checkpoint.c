/*
 * test_checkpoint.c - candidate training checkpoints: training N epochs straight equals
 * training k epochs (or up to a batch inside one), checkpointing to bytes, restoring into a
 * fresh network and training the rest (weights, running statistics, activation ranges and
 * losses bit-identical, at 1 and 2 threads); checkpoints of another training are refused;
 * the archive's checkpoints table (an archive without it, save, replace, list, delete, clear).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "archive_checkpoint.h"
#include "eng_ops.h"
#include "eng_train.h"
#include "search_train.h"
#include "testutil.h"

/* 120 images 1x8x8, 4 classes: a bright 2x2 square at one of 4 places, plus noise. */
static void make_data(eng_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->count = 120;
    ds->channels = 1;
    ds->height = ds->width = 8;
    ds->classes = 4;
    ds->images = malloc((size_t)ds->count * 64);
    ds->labels = malloc((size_t)ds->count);
    ck_assert(ds->images && ds->labels);
    uint64_t s = 11;
    for (int i = 0; i < ds->count; i++) {
        int k = (int)(test_rand_u64(&s) % 4);
        uint8_t *im = ds->images + (size_t)i * 64;
        ds->labels[i] = (uint8_t)k;
        for (int p = 0; p < 64; p++) im[p] = (uint8_t)(test_rand_u64(&s) % 80);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) im[((k / 2) * 4 + 1 + y) * 8 + (k % 2) * 4 + 1 + x] = 240;
    }
    eng_dataset_normalize_self(ds);
}

/* conv (quantized, EMA ranges) -> batch norm -> relu -> pool -> dense (quantized). */
static eng_net *make_net(void)
{
    eng_net *net;
    ck_assert_int_eq(eng_net_create(1, 8, 8, 4, &net), ENG_OK);
    int x = eng_net_conv2d(net, ENG_NET_INPUT, 4, 3, 1, 1, 1, false);
    x = eng_net_relu(net, eng_net_batchnorm(net, x, 0.1f, 1e-5f));
    x = eng_net_maxpool(net, x, 2, 2, 0);
    x = eng_net_dense(net, eng_net_flatten(net, x), 4, true);
    ck_assert_int_gt(x, 0);
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    ck_assert_int_eq(eng_net_set_quant(net, -1, &q), ENG_OK);
    return net;
}

/* The search's training of a candidate for `epochs` (batches of 16, lr 0.05, momentum 0.9,
 * weight decay 5e-4, cosine, crop and flip augmentation): weights from the seed, then
 * search_train with the recipe. */
static eng_status train(eng_net *net, const eng_dataset *ds, int epochs, uint64_t seed,
                        volatile sig_atomic_t *stop, const search_train_hooks *hooks)
{
    cfg_search c;
    memset(&c, 0, sizeof c);
    c.training.batch_size = 16;
    c.training.learning_rate = 0.05;
    c.training.momentum = 0.9;
    c.training.weight_decay = 5e-4;
    c.training.cosine = true;
    c.training.crop_pad = 1;
    c.training.hflip = true;
    eng_train_cfg tc;
    search_train_recipe(&c, epochs, seed, ds->count, &tc);
    ENG_TRY(eng_net_init_params(net, seed));
    return search_train(net, ds, &tc, stop, hooks);
}

/* What the hooks saw: the last epoch's loss, batches trained, the last checkpoint; stops the
 * training once stop_epoch / stop_batch is reached (0 = never). */
typedef struct seen {
    double loss;
    long trained;
    unsigned char *ckpt;
    size_t ckpt_size;
    int checkpoints;
    int stop_epoch;
    long stop_batch;
    volatile sig_atomic_t stop;
} seen;

static void on_progress(void *user, search_train_event ev, const eng_train_pos *pos)
{
    seen *s = user;
    if (ev == SEARCH_TRAIN_EPOCH) s->loss = pos->mean_loss;
    s->trained = pos->trained;
    if (ev == SEARCH_TRAIN_BATCH && pos->epoch == s->stop_epoch && pos->step == s->stop_batch)
        s->stop = 1;
}

static eng_status on_checkpoint(void *user, const void *data, size_t size,
                                const eng_train_pos *pos)
{
    seen *s = user;
    (void)pos;
    free(s->ckpt);
    s->ckpt = malloc(size);
    ck_assert_ptr_nonnull(s->ckpt);
    memcpy(s->ckpt, data, size);
    s->ckpt_size = size;
    s->checkpoints++;
    return ENG_OK;
}

/* Every parameter tensor and activation range of a and b are bit-identical. */
static void assert_same_net(eng_net *a, eng_net *b)
{
    int n = eng_net_param_count(a);
    ck_assert_int_eq(n, eng_net_param_count(b));
    for (int i = 0; i < n; i++) {
        eng_param pa, pb;
        ck_assert_int_eq(eng_net_param_get(a, i, &pa), ENG_OK);
        ck_assert_int_eq(eng_net_param_get(b, i, &pb), ENG_OK);
        ck_assert_msg(memcmp(pa.data, pb.data, pa.count * sizeof(float)) == 0,
                      "tensor %d (%s of node %d) differs", i, eng_param_kind_name(pa.kind),
                      pa.node);
    }
    int nodes[8], m = eng_net_mul_layers(a, nodes, 8);
    for (int i = 0; i < m; i++) {
        float la, ha, lb, hb;
        ck_assert(eng_net_act_range(a, nodes[i], &la, &ha));
        ck_assert(eng_net_act_range(b, nodes[i], &lb, &hb));
        ck_assert_msg(memcmp(&la, &lb, 4) == 0 && memcmp(&ha, &hb, 4) == 0,
                      "activation range of node %d differs", nodes[i]);
    }
}

/* Straight training vs. stopped after (epoch, batch) of the first run and continued. */
static void check_continue(int threads, int stop_epoch, long stop_batch)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    eng_dataset ds;
    make_data(&ds);
    eng_net *straight = make_net(), *first = make_net(), *second = make_net();
    seen s0 = {0}, s1 = {.stop_epoch = stop_epoch, .stop_batch = stop_batch}, s2 = {0};
    search_train_hooks h0 = {.progress = on_progress, .user = &s0};
    ck_assert_int_eq(train(straight, &ds, 3, 42, NULL, &h0), ENG_OK);
    ck_assert_int_eq(s0.trained, 3 * (120 / 16));

    /* checkpoints after every batch as well: taking them must change nothing */
    search_train_hooks h1 = {.checkpoint_s = 1e-9, .checkpoint = on_checkpoint,
                             .progress = on_progress, .user = &s1};
    ck_assert_int_eq(train(first, &ds, 3, 42, &s1.stop, &h1), ENG_ERR_INTERRUPTED);
    ck_assert_int_ge(s1.checkpoints, stop_epoch * stop_batch);
    eng_train_pos at;
    ck_assert_int_eq(eng_train_checkpoint_pos(s1.ckpt, s1.ckpt_size, &at), ENG_OK);
    ck_assert_int_eq(at.epoch, stop_epoch);
    ck_assert_int_eq(at.step, stop_batch);

    search_train_hooks h2 = {.resume = s1.ckpt, .resume_size = s1.ckpt_size,
                             .progress = on_progress, .user = &s2};
    ck_assert_int_eq(train(second, &ds, 3, 42, NULL, &h2), ENG_OK);
    ck_assert_int_eq(s1.trained + s2.trained, s0.trained);
    ck_assert_msg(memcmp(&s0.loss, &s2.loss, sizeof s0.loss) == 0, "last loss %.17g != %.17g",
                  s0.loss, s2.loss);
    assert_same_net(straight, second);
    double e0, e2;
    ck_assert_int_eq(search_train_error(straight, &ds, 64, &e0), ENG_OK);
    ck_assert_int_eq(search_train_error(second, &ds, 64, &e2), ENG_OK);
    ck_assert(e0 == e2);

    free(s1.ckpt);
    eng_net_free(straight);
    eng_net_free(first);
    eng_net_free(second);
    eng_dataset_free(&ds);
}

START_TEST(test_epoch_boundary_1_thread) { check_continue(1, 1, 7); }
END_TEST

START_TEST(test_epoch_boundary_2_threads) { check_continue(2, 2, 7); }
END_TEST

START_TEST(test_mid_epoch_1_thread) { check_continue(1, 2, 3); }
END_TEST

START_TEST(test_mid_epoch_2_threads) { check_continue(2, 1, 1); }
END_TEST

/* The candidate training written out from the engine's public step functions, as the search
 * defines it: weights from the seed, the data order and augmentation from seed ^ 0x5DEECE66D,
 * a shuffle per epoch, full batches, the cosine rate per step. Gives the last epoch's mean
 * loss. */
static double plain_candidate_train(eng_net *net, const eng_dataset *ds, uint64_t seed)
{
    enum { BS = 16, EPOCHS = 3 };
    const long per_epoch = ds->count / BS, total = per_epoch * EPOCHS;
    eng_sgd_cfg sc = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f,
                      .schedule = ENG_LR_COSINE, .step_epochs = 1, .step_gamma = 1.0f};
    const eng_augment aug = {.crop_pad = 1, .hflip = true};
    float x[BS * 64];
    uint8_t labels[BS];
    int *order = malloc(sizeof(int) * (size_t)ds->count);
    ck_assert_ptr_nonnull(order);
    for (int i = 0; i < ds->count; i++) order[i] = i;
    ck_assert_int_eq(eng_net_init_params(net, seed), ENG_OK);
    ck_assert_int_eq(eng_net_reserve(net, BS, true), ENG_OK);
    eng_sgd *opt;
    ck_assert_int_eq(eng_sgd_create(net, &sc, &opt), ENG_OK);
    uint64_t rng = seed ^ 0x5DEECE66Dull;
    double sum = 0.0;
    for (long t = 0; t < total; t++) {
        if (t % per_epoch == 0) {
            eng_data_shuffle(order, ds->count, &rng);
            sum = 0.0;
        }
        float loss;
        ck_assert_int_eq(eng_dataset_batch(ds, order + (t % per_epoch) * BS, BS, &aug, &rng, x,
                                           labels), ENG_OK);
        ck_assert_int_eq(eng_net_forward(net, x, BS, true), ENG_OK);
        ck_assert_int_eq(eng_net_loss(net, labels, BS, &loss, NULL), ENG_OK);
        ck_assert_int_eq(eng_net_backward(net), ENG_OK);
        ck_assert_int_eq(eng_sgd_step(opt, eng_sgd_lr(&sc, t, total, per_epoch)), ENG_OK);
        sum += loss;
    }
    eng_sgd_free(opt);
    free(order);
    return sum / (double)per_epoch;
}

/* The search's training of a candidate is the plain loop above, bit for bit. */
START_TEST(test_same_as_plain_loop)
{
    eng_dataset ds;
    make_data(&ds);
    eng_net *hooked = make_net(), *plain = make_net();
    seen s = {0};
    search_train_hooks h = {.progress = on_progress, .user = &s};
    ck_assert_int_eq(train(hooked, &ds, 3, 42, NULL, &h), ENG_OK);
    double loss = plain_candidate_train(plain, &ds, 42);
    ck_assert_msg(memcmp(&s.loss, &loss, sizeof loss) == 0, "last loss %.17g != %.17g", s.loss,
                  loss);
    assert_same_net(hooked, plain);
    eng_net_free(hooked);
    eng_net_free(plain);
    eng_dataset_free(&ds);
}
END_TEST

START_TEST(test_refused)
{
    eng_dataset ds;
    make_data(&ds);
    eng_net *net = make_net();
    seen s = {.stop_epoch = 1, .stop_batch = 2};
    search_train_hooks h = {.checkpoint = on_checkpoint, .progress = on_progress, .user = &s};
    ck_assert_int_eq(train(net, &ds, 3, 42, &s.stop, &h), ENG_ERR_INTERRUPTED);
    ck_assert_int_eq(s.checkpoints, 1);
    /* the format archived checkpoints have (version 1): its seed field is the candidate's */
    uint32_t version;
    uint64_t seed;
    memcpy(&version, s.ckpt + 8, 4);
    memcpy(&seed, s.ckpt + 40, 8);
    ck_assert(memcmp(s.ckpt, "EVAXCK\r\n", 8) == 0 && version == 1 && seed == 42);

    /* another seed, another epoch count, a cut-off or corrupted checkpoint */
    search_train_hooks r = {.resume = s.ckpt, .resume_size = s.ckpt_size};
    ck_assert_int_eq(train(net, &ds, 3, 43, NULL, &r), ENG_ERR_FORMAT);
    ck_assert_int_eq(train(net, &ds, 4, 42, NULL, &r), ENG_ERR_FORMAT);
    r.resume_size = s.ckpt_size - 4;
    ck_assert_int_eq(train(net, &ds, 3, 42, NULL, &r), ENG_ERR_FORMAT);
    r.resume_size = s.ckpt_size;
    s.ckpt[0] ^= 1;
    ck_assert_int_eq(train(net, &ds, 3, 42, NULL, &r), ENG_ERR_FORMAT);
    s.ckpt[0] ^= 1;

    /* the engine state of one network into another structure */
    eng_net *other;
    ck_assert_int_eq(eng_net_create(1, 8, 8, 4, &other), ENG_OK);
    int x = eng_net_dense(other, eng_net_flatten(other, ENG_NET_INPUT), 4, true);
    ck_assert_int_gt(x, 0);
    ck_assert_int_eq(train(other, &ds, 3, 42, NULL, &r), ENG_ERR_FORMAT);
    eng_net_free(other);

    free(s.ckpt);
    eng_net_free(net);
    eng_dataset_free(&ds);
}
END_TEST

START_TEST(test_archive_table)
{
    const char *dir = test_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/a.db", dir);
    db_archive *db;
    db_run run = {.name = "t", .config_text = "name: t\n", .config_path = "c.yaml", .seed = 7,
                  .threads = 2, .objectives = "error,energy"};
    ck_assert_msg(db_create(path, &run, false, &db) == ENG_OK, "%s", eng_last_error());
    void *data;
    size_t size;
    db_checkpoint_info *rows;
    int n;
    /* an archive of an older version: no table, nothing in flight */
    ck_assert_int_eq(db_checkpoint_load(db, "00000000000000aa", &data, &size),
                     ENG_ERR_NOT_FOUND);
    ck_assert_int_eq(db_checkpoint_list(db, &rows, &n), ENG_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(db_checkpoint_clear(db), ENG_OK);
    ck_assert_int_eq(db_checkpoint_prepare(db), ENG_OK);
    ck_assert_int_eq(db_checkpoint_prepare(db), ENG_OK);   /* idempotent */

    unsigned char a[300], b[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 300; i++) a[i] = (unsigned char)(i * 7);
    db_checkpoint_info ia = {.hash = "00000000000000aa", .generation = 2, .epoch = 3,
                             .epochs = 4, .batch = 5, .batches = 10, .loss = 0.5};
    db_checkpoint_info ib = {.hash = "00000000000000bb", .generation = 1, .epoch = 1,
                             .epochs = 4, .batch = 0, .batches = 10, .loss = NAN};
    ck_assert_int_eq(db_checkpoint_save(db, &ia, b, sizeof b), ENG_OK);
    ck_assert_int_eq(db_checkpoint_save(db, &ia, a, sizeof a), ENG_OK);   /* replaces */
    ck_assert_int_eq(db_checkpoint_save(db, &ib, b, sizeof b), ENG_OK);
    ck_assert_int_eq(db_checkpoint_load(db, "00000000000000aa", &data, &size), ENG_OK);
    ck_assert_uint_eq(size, sizeof a);
    ck_assert(memcmp(data, a, sizeof a) == 0);
    free(data);
    ck_assert_int_eq(db_checkpoint_list(db, &rows, &n), ENG_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(rows[0].hash, "00000000000000bb");   /* generation order */
    ck_assert(isnan(rows[0].loss));
    ck_assert_str_eq(rows[1].hash, "00000000000000aa");
    ck_assert_int_eq(rows[1].generation, 2);
    ck_assert_int_eq(rows[1].epoch, 3);
    ck_assert_int_eq(rows[1].batch, 5);
    ck_assert_int_eq(rows[1].batches, 10);
    ck_assert(rows[1].loss == 0.5);
    ck_assert_uint_eq(rows[1].bytes, sizeof a);
    ck_assert_int_eq((int)strlen(rows[1].updated_at), 20);
    free(rows);

    ck_assert_int_eq(db_checkpoint_delete(db, "00000000000000aa"), ENG_OK);
    ck_assert_int_eq(db_checkpoint_load(db, "00000000000000aa", &data, &size),
                     ENG_ERR_NOT_FOUND);
    ck_assert_int_eq(db_checkpoint_clear(db), ENG_OK);
    ck_assert_int_eq(db_checkpoint_list(db, &rows, &n), ENG_OK);
    ck_assert_int_eq(n, 0);
    db_close(db);
    test_rmtree(dir);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("continue");
    tcase_add_test(tc, test_epoch_boundary_1_thread);
    tcase_add_test(tc, test_epoch_boundary_2_threads);
    tcase_add_test(tc, test_mid_epoch_1_thread);
    tcase_add_test(tc, test_mid_epoch_2_threads);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_same_as_plain_loop);
    suite_add_tcase(s, tc);
    TCase *ta = tcase_create("archive");
    tcase_add_test(ta, test_archive_table);
    suite_add_tcase(s, ta);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(checkpoint_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
