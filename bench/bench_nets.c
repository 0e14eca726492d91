/*
 * bench_nets.c - network timings for `evoapproxnas bench` (bench_nets.h).
 */
#include "bench_nets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_ops.h"
#include "eng_train.h"
#include "eng_zoo.h"

static const bench_net_spec specs[] = {
    {"resnet20_v1", 64, true},
    {"resnet20_v2", 64, true},
    {"resnet56_v1", 64, true},
    {"mobilenetv2_cifar", 64, true},
    {"resnet50v2", 8, false},
    {"mobilenetv2", 8, false},
};

static const bench_net_spec cuda_specs[] = {
    {"resnet20_v1", 128, true},
    {"resnet56_v1", 128, true},
    {"mobilenetv2_cifar", 128, true},
};

const bench_net_spec *bench_net_specs(bool quick, eng_device dev, int *count)
{
    if (dev == ENG_DEVICE_CUDA) {
        *count = quick ? 1 : (int)(sizeof cuda_specs / sizeof cuda_specs[0]);
        return cuda_specs;
    }
    *count = quick ? 1 : (int)(sizeof specs / sizeof specs[0]);
    return specs;
}

bench_net_spec bench_net_spec_for(const char *model, int height, eng_device dev)
{
    bool small = height <= 32;
    int batch = !small ? 8 : dev == ENG_DEVICE_CUDA ? 128 : 64;
    return (bench_net_spec){model, batch, small};
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int count)
{
    qsort(t, (size_t)count, sizeof t[0], cmp_double);
    return count % 2 ? t[count / 2] : 0.5 * (t[count / 2 - 1] + t[count / 2]);
}

/* A fixed pseudo-random batch: x uniform in [-1, 1), labels cycling through the classes. */
static void fill_batch(const eng_net *net, int batch, float *x, uint8_t *labels)
{
    int c, h, w;
    eng_net_input_shape(net, &c, &h, &w);
    const size_t count = (size_t)c * batch * h * w;
    uint64_t s = 0x243f6a8885a308d3u;
    for (size_t i = 0; i < count; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)((s >> 40) & 0xffff) / 65536.0f * 2.0f - 1.0f;
    }
    for (int i = 0; i < batch; i++)
        labels[i] = (uint8_t)(i % eng_net_classes(net));
}

/* One network copy with its optimizer, on its device. */
typedef struct {
    eng_net *net;
    eng_sgd *opt;
    eng_device dev;
} net_copy;

static eng_status run_infer(net_copy *c, const float *x, int batch)
{
    ENG_TRY(eng_net_forward(c->net, x, batch, false));
    return eng_device_synchronize(c->dev);
}

static eng_status run_train(net_copy *c, const float *x, const uint8_t *labels, int batch)
{
    float loss;
    ENG_TRY(eng_net_forward(c->net, x, batch, true));
    ENG_TRY(eng_net_loss(c->net, labels, batch, &loss, NULL));
    ENG_TRY(eng_net_backward(c->net));
    ENG_TRY(eng_sgd_step(c->opt, 0.01f));
    return eng_device_synchronize(c->dev);
}

/* Median times (ms) of `repeats` calls of the float and approximate copies, in turns, and
 * (ms[2]) the median over the rounds of each round's approximate / float ratio: the two calls
 * of a round meet the same load, so that ratio is steadier than the ratio of the medians. */
static eng_status time_pair(net_copy copies[2], bool train, const float *x,
                            const uint8_t *labels, int batch, int repeats, double ms[3])
{
    double t[2][32], q[32];
    if (repeats > 32)
        repeats = 32;
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up (allocation, first touch) */
        for (int i = 0; i < 2; i++) {
            double t0 = now_ms();
            ENG_TRY(train ? run_train(&copies[i], x, labels, batch)
                          : run_infer(&copies[i], x, batch));
            if (r >= 0)
                t[i][r] = now_ms() - t0;
        }
    }
    for (int r = 0; r < repeats; r++)
        q[r] = t[0][r] > 0.0 ? t[1][r] / t[0][r] : 0.0;
    ms[0] = median(t[0], repeats);
    ms[1] = median(t[1], repeats);
    ms[2] = median(q, repeats);
    return ENG_OK;
}

eng_status bench_net_measure(const eng_kernels *k, const bench_net_spec *spec, const eng_mul *mul,
                             eng_device dev, int threads, int repeats, bench_net_result *result)
{
    net_copy copies[2] = {{NULL, NULL, dev}, {NULL, NULL, dev}};
    float *x = NULL;
    uint8_t *labels = NULL;
    eng_status rc = ENG_OK;
    eng_set_threads(threads);
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.seed = 1;
    for (int i = 0; i < 2 && rc == ENG_OK; i++)
        rc = eng_zoo_build(spec->model, &opt, &copies[i].net);
    if (rc != ENG_OK)
        goto out;
    eng_net_set_kernels(copies[0].net, k);
    eng_net_set_kernels(copies[1].net, k);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    if ((rc = eng_net_set_multiplier(copies[1].net, -1, mul)) != ENG_OK ||
        (rc = eng_net_set_quant(copies[1].net, -1, &cfg)) != ENG_OK ||
        (rc = eng_net_set_device(copies[0].net, dev)) != ENG_OK ||
        (rc = eng_net_set_device(copies[1].net, dev)) != ENG_OK)
        goto out;
    int c, h, w;
    eng_net_input_shape(copies[0].net, &c, &h, &w);
    const size_t count = (size_t)c * spec->batch * h * w;
    x = malloc(sizeof(float) * count);
    labels = malloc((size_t)spec->batch);
    if (x == NULL || labels == NULL) {
        rc = eng_error(ENG_ERR_NOMEM, "bench: out of memory for %s", spec->model);
        goto out;
    }
    fill_batch(copies[0].net, spec->batch, x, labels);
    *result = (bench_net_result){.spec = spec, .mul = mul->name, .threads = threads,
                                 .mmac_per_image = (double)eng_net_mac_total(copies[0].net) * 1e-6};
    if (spec->train) {
        eng_train_cfg tc;
        eng_train_cfg_default(&tc);
        for (int i = 0; i < 2 && rc == ENG_OK; i++)
            rc = eng_sgd_create(copies[i].net, &tc.sgd, &copies[i].opt);
        if (rc != ENG_OK)
            goto out;
        double ms[3];
        if ((rc = time_pair(copies, true, x, labels, spec->batch, repeats, ms)) != ENG_OK)
            goto out;
        result->train_float_ms = ms[0];
        result->train_approx_ms = ms[1];
        result->train_overhead = ms[2];
    } else { /* one training-mode forward sets the activation ranges of the quantized copy */
        if ((rc = eng_net_forward(copies[1].net, x, spec->batch, true)) != ENG_OK)
            goto out;
    }
    double ms[3];
    if ((rc = time_pair(copies, false, x, labels, spec->batch, repeats, ms)) != ENG_OK)
        goto out;
    result->infer_float_ms = ms[0];
    result->infer_approx_ms = ms[1];
    result->infer_overhead = ms[2];
out:
    for (int i = 0; i < 2; i++) {
        eng_sgd_free(copies[i].opt);
        eng_net_free(copies[i].net);
    }
    free(x);
    free(labels);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Time per op type
 * ---------------------------------------------------------------------------------------- */

/* The type of layer info: op name plus the kernel geometry of convolutions and pools. */
static void op_type(const eng_layer_info *li, char *type, size_t size)
{
    switch (li->op) {
    case ENG_OP_CONV2D:
    case ENG_OP_DEPTHWISE:
    case ENG_OP_MAXPOOL:
    case ENG_OP_AVGPOOL:
        if (li->stride > 1)
            snprintf(type, size, "%s %dx%d s%d", eng_op_name(li->op), li->kernel, li->kernel,
                     li->stride);
        else
            snprintf(type, size, "%s %dx%d", eng_op_name(li->op), li->kernel, li->kernel);
        break;
    default:
        snprintf(type, size, "%s", eng_op_name(li->op));
        break;
    }
}

/* The entry of p for the op type of node i of net (created, or "other" when full); -1 when
 * the node has no layer info. */
static int profile_entry(bench_profile *p, const eng_net *net, int i)
{
    eng_layer_info li;
    char type[sizeof p->ops[0].type];
    if (eng_net_layer_info(net, i, &li) != ENG_OK)
        return -1;
    op_type(&li, type, sizeof type);
    int e = 0;
    while (e < p->count && strcmp(p->ops[e].type, type) != 0)
        e++;
    if (e == p->count) {
        if (p->count == BENCH_OP_TYPES) /* the last entry collects the rest */
            snprintf(p->ops[--e].type, sizeof type, "other");
        else
            snprintf(p->ops[p->count++].type, sizeof type, "%s", type);
    }
    return e;
}

void bench_profile_add(bench_profile *p, const eng_net *net, const double *ms)
{
    const int n = eng_net_node_count(net);
    for (int i = 1; i < n; i++) {
        int e = profile_entry(p, net, i);
        if (e < 0)
            continue;
        p->ops[e].layers++;
        p->ops[e].fwd_ms += ms[i];
        p->ops[e].bwd_ms += ms[n + i];
    }
}

void bench_profile_add_inference(bench_profile *p, const eng_net *net, const double *ms)
{
    const int n = eng_net_node_count(net);
    for (int i = 1; i < n; i++) {
        int e = profile_entry(p, net, i);
        if (e >= 0)
            p->ops[e].inf_ms += ms[i];
    }
}

eng_status bench_net_profile(const eng_kernels *k, const bench_net_spec *spec, const eng_mul *mul,
                             int threads, int repeats, bench_profile *out)
{
    net_copy c = {NULL, NULL, ENG_DEVICE_CPU};
    float *x = NULL;
    uint8_t *labels = NULL;
    double *ms = NULL;
    eng_status rc;
    eng_set_threads(threads);
    memset(out, 0, sizeof *out);
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    opt.seed = 1;
    if ((rc = eng_zoo_build(spec->model, &opt, &c.net)) != ENG_OK)
        goto out;
    eng_net_set_kernels(c.net, k);
    eng_approx_cfg cfg;
    eng_approx_cfg_default(&cfg);
    if (mul && ((rc = eng_net_set_multiplier(c.net, -1, mul)) != ENG_OK ||
                (rc = eng_net_set_quant(c.net, -1, &cfg)) != ENG_OK))
        goto out;
    eng_train_cfg tc;
    eng_train_cfg_default(&tc);
    if ((rc = eng_sgd_create(c.net, &tc.sgd, &c.opt)) != ENG_OK)
        goto out;
    int ch, h, w;
    eng_net_input_shape(c.net, &ch, &h, &w);
    const int n = eng_net_node_count(c.net);
    x = malloc(sizeof(float) * (size_t)ch * spec->batch * h * w);
    labels = malloc((size_t)spec->batch);
    ms = calloc(2 * (size_t)n, sizeof *ms);
    if (x == NULL || labels == NULL || ms == NULL) {
        rc = eng_error(ENG_ERR_NOMEM, "bench: out of memory for %s", spec->model);
        goto out;
    }
    fill_batch(c.net, spec->batch, x, labels);
    if (!spec->train) { /* inference only: one training-mode forward sets the ranges */
        if ((rc = eng_net_forward(c.net, x, spec->batch, true)) != ENG_OK)
            goto out;
        bench_profile_add(out, c.net, ms); /* the layer counts; no training times */
        goto infer;
    }
    if ((rc = run_train(&c, x, labels, spec->batch)) != ENG_OK) /* warm-up */
        goto out;
    eng_net_set_timing(c.net, ms);
    for (int r = 0; r < repeats && rc == ENG_OK; r++)
        rc = run_train(&c, x, labels, spec->batch);
    eng_net_set_timing(c.net, NULL);
    if (rc != ENG_OK)
        goto out;
    for (int i = 0; i < 2 * n; i++)
        ms[i] /= repeats;
    bench_profile_add(out, c.net, ms);
infer:
    if ((rc = run_infer(&c, x, spec->batch)) != ENG_OK) /* warm-up */
        goto out;
    memset(ms, 0, 2 * (size_t)n * sizeof *ms);
    eng_net_set_timing(c.net, ms);
    for (int r = 0; r < repeats && rc == ENG_OK; r++)
        rc = run_infer(&c, x, spec->batch);
    eng_net_set_timing(c.net, NULL);
    if (rc != ENG_OK)
        goto out;
    for (int i = 0; i < n; i++)
        ms[i] /= repeats;
    bench_profile_add_inference(out, c.net, ms);
out:
    eng_sgd_free(c.opt);
    eng_net_free(c.net);
    free(x);
    free(labels);
    free(ms);
    return rc;
}
