/*
 * cmd_train.c - `evoapproxnas train`: trains a zoo model on a data set (float or
 * quantization-aware through approximate multipliers) and saves its weights.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "eng_train.h"
#include "eng_weights.h"
#include "eng_zoo.h"
#include "netcli.h"
#include "netfile.h"

static const char *const CMD = "train";

static void train_help(FILE *f)
{
    fprintf(f,
            "Usage: evoapproxnas train (--model NAME | --init FILE) --dataset NAME --out FILE\n"
            "                          [options]\n"
            "\n"
            "Trains model NAME of the zoo (`evoapproxnas model list`) on a data set, prints per\n"
            "epoch the mean loss, training accuracy, validation accuracy (with --val-split),\n"
            "learning rate and images/s, then the test accuracy, and saves the weights.\n"
            "With --quant or a multiplier the training is quantization-aware: every conv,\n"
            "depthwise and dense layer (stem and classifier included) runs through its\n"
            "approximate multiplier (straight-through-estimator gradients).\n"
            "With --init the training starts from a weights file instead (fine-tuning), e.g.\n"
            "a network from `evoapproxnas export`: a quantized file keeps its quantization\n"
            "and per-layer multipliers (--quant and multiplier options are then refused).\n"
            "\n"
            "Network:\n"
            "  --model NAME        a zoo model, initialized from --seed\n"
            "  --init FILE         a weights file to fine-tune\n"
            "Data:\n"
            "  --dataset NAME      fashion-mnist, mnist or cifar10\n"
            "  --data DIR          data directory (default for fashion-mnist:\n"
            "                      /usr/share/datasets/fashion-mnist)\n"
            "  --train-subset N    train on a seeded subset of N training images\n"
            "  --val-split F       fraction of the training images kept for validation (0)\n"
            "  --test-subset N     test on a seeded subset of N test images\n"
            "Training:\n"
            "  --epochs N          epochs (10)\n"
            "  --batch N           batch size (64)\n"
            "  --lr F              base learning rate (0.05)\n"
            "  --momentum F        SGD momentum (0.9)\n"
            "  --nesterov          Nesterov momentum\n"
            "  --weight-decay F    L2 on weights (5e-4)\n"
            "  --schedule S        cosine, step or constant (cosine)\n"
            "  --step-epochs N     step schedule: epochs per decay (30); --step-gamma F (0.1)\n"
            "  --seed S            initial weights, order, augmentation and subsets (1)\n"
            "  --threads T         OpenMP threads (default: all cores)\n"
            "  --device D          cpu or cuda (cpu): cuda trains and tests on the GPU; without\n"
            "                      a usable GPU it says why on stderr and runs on the CPU\n"
            "                      (CIFAR-10 is augmented: random crop with padding 4, flips)\n"
            "Quantization:\n"
            "  --quant Q           none, asym (uint8 codes, zero points) or sym (none; asym\n"
            "                      when a multiplier is given)\n"
            "  --weight-bits N     weight code width 2..8 (default: the multiplier's, 8)\n"
            "  --per-channel       per-output-channel weight scales\n"
            "  --table-gradient    backward through the table's derivatives instead of the STE\n"
            "  --multiplier M      one multiplier for all layers (library name or .bin file)\n"
            "  --multipliers LIST  one per multiplying layer, comma-separated, in layer order\n"
            "Output:\n"
            "  --out FILE          weights file to write (atomically)\n"
            "  -h, --help          show this help\n"
            "\n"
            "Exit status: 0 success, 1 training failed, 2 bad usage or bad files.\n");
}

typedef struct train_opts {
    const char *model, *init, *dataset, *data, *out, *mul_one, *mul_list;
    int train_subset, test_subset, threads, weight_bits;
    double val_split;
    bool quant_given, quantized, per_channel, table_gradient;
    eng_quant_mode mode;
    eng_device device;
    eng_train_cfg cfg;
} train_opts;

/* The training's output: one line per epoch; on a terminal also a live step line
 * (overwritten in place, at most 4 times a second). */
typedef struct step_line {
    bool tty;
    int epochs;
    double t_start, t_last;
} step_line;

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static eng_status print_step(void *user, eng_trainer *tr, const eng_train_pos *p)
{
    (void)tr;
    step_line *l = user;
    double now = wall_s();
    if (p->step < p->steps && now - l->t_last < 0.25) return ENG_OK;
    l->t_last = now;
    long done = (long)(p->epoch - 1) * p->steps + p->step, all = (long)l->epochs * p->steps;
    double eta = (now - l->t_start) / (double)done * (double)(all - done);
    printf("\r\033[Kepoch %d/%d  batch %ld/%ld  loss %.4f  ETA %.0f s", p->epoch, l->epochs,
           p->step, p->steps, (double)p->loss, eta);
    fflush(stdout);
    return ENG_OK;
}

static eng_status print_epoch(void *user, eng_trainer *tr, const eng_epoch_stats *s)
{
    (void)tr;
    const step_line *l = user;
    if (l->tty) printf("\r\033[K");   /* over the step line */
    printf("epoch %3d/%d  loss %.4f  train %6.2f%%", s->epoch, s->epochs, s->loss,
           100.0 * s->accuracy);
    if (!isnan(s->val_accuracy)) printf("  val %6.2f%%", 100.0 * s->val_accuracy);
    printf("  lr %.5f  %8.0f img/s  %.1f s\n", s->lr, s->images_per_s, s->seconds);
    fflush(stdout);
    return ENG_OK;
}

static int parse_opts(int argc, char **argv, train_opts *o)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"init", required_argument, NULL, 'I'},
        {"dataset", required_argument, NULL, 'd'},
        {"data", required_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},
        {"epochs", required_argument, NULL, 'e'},
        {"batch", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'l'},
        {"momentum", required_argument, NULL, 'M'},
        {"nesterov", no_argument, NULL, 'n'},
        {"weight-decay", required_argument, NULL, 'w'},
        {"schedule", required_argument, NULL, 's'},
        {"step-epochs", required_argument, NULL, 'E'},
        {"step-gamma", required_argument, NULL, 'G'},
        {"train-subset", required_argument, NULL, 't'},
        {"test-subset", required_argument, NULL, 'T'},
        {"val-split", required_argument, NULL, 'v'},
        {"seed", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'j'},
        {"device", required_argument, NULL, 'u'},
        {"quant", required_argument, NULL, 'q'},
        {"weight-bits", required_argument, NULL, 'B'},
        {"per-channel", no_argument, NULL, 'p'},
        {"table-gradient", no_argument, NULL, 'g'},
        {"multiplier", required_argument, NULL, 'x'},
        {"multipliers", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long lv;
    double dv;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': o->model = optarg; break;
        case 'I': o->init = optarg; break;
        case 'd': o->dataset = optarg; break;
        case 'D': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'e':
            if (!cli_parse_long("--epochs", optarg, 1, 100000, &lv)) return CLI_EXIT_USAGE;
            o->cfg.epochs = (int)lv;
            break;
        case 'b':
            if (!cli_parse_long("--batch", optarg, 1, 65536, &lv)) return CLI_EXIT_USAGE;
            o->cfg.batch = (int)lv;
            break;
        case 'l':
            if (!cli_parse_double("--lr", optarg, 1e-9, 100.0, &dv)) return CLI_EXIT_USAGE;
            o->cfg.sgd.lr = (float)dv;
            break;
        case 'M':
            if (!cli_parse_double("--momentum", optarg, 0.0, 0.999, &dv)) return CLI_EXIT_USAGE;
            o->cfg.sgd.momentum = (float)dv;
            break;
        case 'n': o->cfg.sgd.nesterov = true; break;
        case 'w':
            if (!cli_parse_double("--weight-decay", optarg, 0.0, 1.0, &dv)) return CLI_EXIT_USAGE;
            o->cfg.sgd.weight_decay = (float)dv;
            break;
        case 's':
            if (eng_lr_schedule_parse(optarg, &o->cfg.sgd.schedule) != ENG_OK)
                return cli_usage_error(CMD, "--schedule: %s", eng_last_error());
            break;
        case 'E':
            if (!cli_parse_long("--step-epochs", optarg, 1, 100000, &lv)) return CLI_EXIT_USAGE;
            o->cfg.sgd.step_epochs = (int)lv;
            break;
        case 'G':
            if (!cli_parse_double("--step-gamma", optarg, 1e-6, 1.0, &dv)) return CLI_EXIT_USAGE;
            o->cfg.sgd.step_gamma = (float)dv;
            break;
        case 't':
            if (!cli_parse_long("--train-subset", optarg, 1, 1L << 30, &lv)) return CLI_EXIT_USAGE;
            o->train_subset = (int)lv;
            break;
        case 'T':
            if (!cli_parse_long("--test-subset", optarg, 1, 1L << 30, &lv)) return CLI_EXIT_USAGE;
            o->test_subset = (int)lv;
            break;
        case 'v':
            if (!cli_parse_double("--val-split", optarg, 0.0, 0.9, &dv)) return CLI_EXIT_USAGE;
            o->val_split = dv;
            break;
        case 'S':
            if (!cli_parse_long("--seed", optarg, 0, 1L << 62, &lv)) return CLI_EXIT_USAGE;
            o->cfg.seed = (uint64_t)lv;
            break;
        case 'j':
            if (!cli_parse_long("--threads", optarg, 1, 1024, &lv)) return CLI_EXIT_USAGE;
            o->threads = (int)lv;
            break;
        case 'q':
            if (netcli_parse_quant(CMD, optarg, &o->quantized, &o->mode) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            o->quant_given = true;
            break;
        case 'B':
            if (!cli_parse_long("--weight-bits", optarg, 2, 8, &lv)) return CLI_EXIT_USAGE;
            o->weight_bits = (int)lv;
            break;
        case 'u':
            if (netcli_parse_device(CMD, optarg, &o->device) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'p': o->per_channel = true; break;
        case 'g': o->table_gradient = true; break;
        case 'x': o->mul_one = optarg; break;
        case 'X': o->mul_list = optarg; break;
        case 'h': train_help(stdout); return -1;
        case ':': return cli_usage_error(CMD, "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->model == !o->init) return cli_usage_error(CMD, "give --model or --init (one of them)");
    if (!o->dataset) return cli_usage_error(CMD, "--dataset is required");
    if (!o->out) return cli_usage_error(CMD, "--out is required");
    if (o->mul_one && o->mul_list)
        return cli_usage_error(CMD, "give --multiplier or --multipliers, not both");
    bool have_mul = o->mul_one || o->mul_list;
    if (have_mul && o->quant_given && !o->quantized)
        return cli_usage_error(CMD, "a multiplier needs --quant asym or sym");
    if (have_mul && !o->quant_given) o->quantized = true;
    if (!o->quantized && (o->weight_bits || o->per_channel || o->table_gradient))
        return cli_usage_error(CMD, "--weight-bits, --per-channel and --table-gradient need "
                               "--quant asym or sym");
    if (o->cfg.sgd.nesterov && o->cfg.sgd.momentum == 0.0f)
        return cli_usage_error(CMD, "--nesterov needs a momentum above 0");
    return CLI_EXIT_OK;
}

/* Quantizes the network and assigns the multipliers. */
static int setup_quant(eng_net *net, const train_opts *o, netcli_muls *muls)
{
    if (!o->quantized) return CLI_EXIT_OK;
    int rc = CLI_EXIT_OK;
    if (o->mul_one) rc = netcli_muls_load(CMD, o->mul_one, muls);
    if (o->mul_list) rc = netcli_muls_load(CMD, o->mul_list, muls);
    if (rc != CLI_EXIT_OK) return rc;
    int layers = eng_net_mul_layers(net, NULL, 0);
    if (o->mul_list && muls->count != layers)
        return cli_usage_error(CMD, "--multipliers lists %d multipliers, %s has %d conv/dense "
                               "layers", muls->count, o->model ? o->model : o->init, layers);
    int *ids = malloc((size_t)layers * sizeof *ids);
    if (!ids) {
        cli_error("%s: out of memory", CMD);
        return CLI_EXIT_FAILURE;
    }
    eng_net_mul_layers(net, ids, layers);
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.mode = o->mode;
    q.weight_bits = o->weight_bits;
    q.per_channel = o->per_channel;
    q.table_gradient = o->table_gradient;
    eng_status st = ENG_OK;
    for (int i = 0; i < layers && st == ENG_OK; i++) {
        const eng_mul *m = muls->count == 0 ? NULL : muls->muls[muls->count == 1 ? 0 : i];
        st = eng_net_set_multiplier(net, ids[i], m);
        if (st == ENG_OK) st = eng_net_set_quant(net, ids[i], &q);
    }
    eng_layer_info info;
    if (st == ENG_OK) st = eng_net_layer_info(net, ids[0], &info);
    free(ids);
    if (st != ENG_OK) return netcli_engine_error(CMD, st);
    printf("quantization: %s, %d-bit weights %s%s, multiplier %s\n",
           o->mode == ENG_QUANT_ASYM ? "asymmetric" : "symmetric", info.weight_bits,
           o->per_channel ? "per channel" : "per tensor",
           o->table_gradient ? ", table gradient" : "",
           muls->count == 0 ? "exact" : muls->count == 1 ? muls->muls[0]->name : "per layer");
    return CLI_EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    train_opts o;
    memset(&o, 0, sizeof o);
    eng_train_cfg_default(&o.cfg);
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_EXIT_OK) return rc < 0 ? CLI_EXIT_OK : rc;
    netcli_set_threads(o.threads);

    netcli_data data;
    rc = netcli_data_load(CMD, o.dataset, o.data, o.train_subset, o.val_split, o.test_subset,
                          o.cfg.seed, &data);
    if (rc != CLI_EXIT_OK) return rc;
    eng_zoo_options zo;
    eng_zoo_options_default(&zo);
    zo.in_c = data.train.channels;
    zo.in_h = data.train.height;
    zo.in_w = data.train.width;
    zo.classes = data.train.classes;
    zo.seed = o.cfg.seed;
    if (strcmp(o.dataset, "cifar10") == 0) o.cfg.augment = (eng_augment){4, true};
    if (o.cfg.batch > data.train.count) o.cfg.batch = data.train.count;
    eng_net *net = NULL;
    netcli_muls muls = {0};
    netfile_net file = {0};
    eng_status st = o.init ? netfile_load(o.init, &file) : eng_zoo_build(o.model, &zo, &net);
    if (st != ENG_OK) {
        rc = netcli_engine_error(CMD, st);
        goto out;
    }
    int first;
    if (o.init) {
        net = file.net;
        if (o.quant_given || o.mul_one || o.mul_list) {
            if (eng_net_mul_layers(net, &first, 1) > 0 && eng_net_get_quant(net, first, NULL)) {
                rc = cli_usage_error(CMD, "%s is quantized: it keeps its quantization and "
                                     "multipliers (drop --quant, --multiplier, --multipliers)",
                                     o.init);
                goto out;
            }
        }
    }
    printf("model %s: %zu parameters, %.2f M MACs per image; %s: %d train, %d validation, "
           "%d test images\n", o.model ? o.model : o.init, eng_net_param_total(net),
           (double)eng_net_mac_total(net) / 1e6, o.dataset, data.train.count, data.val.count,
           data.test.count);
    rc = setup_quant(net, &o, &muls);
    if (rc == CLI_EXIT_OK) rc = netcli_net_place(CMD, net, netcli_device_resolve(o.device));
    if (rc != CLI_EXIT_OK) goto out;
    fflush(stdout);
    step_line line = {.tty = cli_stdout_is_tty(), .epochs = o.cfg.epochs, .t_start = wall_s()};
    o.cfg.on_step = line.tty ? print_step : NULL;
    o.cfg.on_epoch = print_epoch;
    o.cfg.user = &line;
    st = eng_train(net, &data.train, data.val.count ? &data.val : NULL, &o.cfg, NULL);
    if (st != ENG_OK) {
        cli_error("%s: %s", CMD, eng_last_error());
        rc = st == ENG_ERR_SHAPE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto out;
    }
    double acc;
    st = eng_evaluate(net, &data.test, 256, &acc, NULL);
    if (st == ENG_OK) {
        printf("test accuracy: %.2f%% (%d images)\n", 100.0 * acc, data.test.count);
        st = eng_net_sync_host(net);
        if (st == ENG_OK) st = eng_weights_save(net, o.out);
    }
    if (st != ENG_OK) {     /* writing --out (I/O, as a full disk) or memory: the work failed */
        cli_error("%s: %s", CMD, eng_last_error());
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("weights saved to %s\n", o.out);
out:
    if (net != file.net) eng_net_free(net);
    netfile_free(&file);
    netcli_muls_free(&muls);
    netcli_data_free(&data);
    return rc;
}
