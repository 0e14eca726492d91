/*
 * cmd_eval.c - `evoapproxnas eval`: post-training accuracy of a trained network with each of
 * a set of approximate multipliers (table of multiplier, power, accuracy, drop; CSV).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "eng_train.h"
#include "eng_weights.h"
#include "netcli.h"
#include "netfile.h"
#include "search_env.h"

static const char *const CMD = "eval";

static void eval_help(FILE *f)
{
    fprintf(f,
            "Usage: evoapproxnas eval --weights FILE (--dataset NAME [--data DIR] |\n"
            "                         --archive DB [--split validation|test])\n"
            "                         [--multiplier M]... [--all-8x8-unsigned] [options]\n"
            "\n"
            "Evaluates a trained network (a weights file from `evoapproxnas train`) on the test\n"
            "images, first as stored, then quantized with the exact multiplier, then with each\n"
            "given multiplier in all conv, depthwise and dense layers, and prints a table of\n"
            "multiplier, power (mW, EvoApproxLib PDK45), accuracy and drop (percentage points\n"
            "below the exact quantized network).\n"
            "A float network is prepared as for deployment: batch norms are folded into their\n"
            "convolutions, layers are quantized (--quant, --weight-bits, --per-channel) and the\n"
            "activation ranges calibrated on training images with the exact multiplier.\n"
            "A network trained quantization-aware keeps its own configuration and ranges; a\n"
            "network exported from a search (`evoapproxnas export`) also its per-layer\n"
            "multipliers (the as-trained row), and the exact row sets all layers exact.\n"
            "\n"
            "Options:\n"
            "  --weights FILE       weights file\n"
            "  --dataset NAME       fashion-mnist, mnist or cifar10\n"
            "  --data DIR           data directory (default for fashion-mnist:\n"
            "                       /usr/share/datasets/fashion-mnist)\n"
            "  --archive DB         evaluate on the images of search archive DB instead: its\n"
            "                       config's data set, split and normalization, as the search\n"
            "                       and finalize saw them (then the as-trained accuracy of an\n"
            "                       exported network equals its archived one)\n"
            "  --split S            with --archive: validation (default; the search's\n"
            "                       validation split) or test (finalize's test images)\n"
            "  --multiplier M       a multiplier (library name or .bin file); repeatable\n"
            "  --all-8x8-unsigned   every 8x8 unsigned multiplier of the library\n"
            "  --quant Q            asym or sym for a float network (asym)\n"
            "  --weight-bits N      weight code width 2..8 for a float network (8)\n"
            "  --per-channel        per-output-channel weight scales for a float network\n"
            "  --calib-images N     training images for calibration (2000)\n"
            "  --test-subset N      evaluate on a seeded subset of N test images\n"
            "  --batch N            evaluation batch size (256)\n"
            "  --seed S             seed of the subsets (1)\n"
            "  --threads T          OpenMP threads\n"
            "  --device D           cpu or cuda (cpu): cuda calibrates and evaluates on the\n"
            "                       GPU; without a usable GPU it says why and uses the CPU\n"
            "  --csv FILE           also write the table as CSV (written atomically)\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 success, 1 evaluation failed, 2 bad usage or bad files.\n");
}

typedef struct eval_opts {
    const char *weights, *dataset, *data, *csv, *archive;
    bool split_test;
    bool all_8x8u, per_channel;
    bool quantized;
    eng_quant_mode mode;
    int weight_bits, calib, test_subset, batch, threads;
    long seed;
    eng_device device;
    netcli_muls muls;
} eval_opts;

typedef struct eval_row {
    char name[64];
    double power_mw;           /* NAN = unknown */
    double accuracy;
} eval_row;

static int parse_opts(int argc, char **argv, eval_opts *o)
{
    static const struct option opts[] = {
        {"weights", required_argument, NULL, 'w'},
        {"dataset", required_argument, NULL, 'd'},
        {"data", required_argument, NULL, 'D'},
        {"multiplier", required_argument, NULL, 'x'},
        {"all-8x8-unsigned", no_argument, NULL, 'A'},
        {"quant", required_argument, NULL, 'q'},
        {"weight-bits", required_argument, NULL, 'B'},
        {"per-channel", no_argument, NULL, 'p'},
        {"calib-images", required_argument, NULL, 'c'},
        {"test-subset", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'j'},
        {"device", required_argument, NULL, 'u'},
        {"csv", required_argument, NULL, 'C'},
        {"archive", required_argument, NULL, 'a'},
        {"split", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long lv;
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'w': o->weights = optarg; break;
        case 'd': o->dataset = optarg; break;
        case 'D': o->data = optarg; break;
        case 'x':
            rc = netcli_muls_add(CMD, optarg, &o->muls);
            if (rc != CLI_EXIT_OK) return rc;
            break;
        case 'A': o->all_8x8u = true; break;
        case 'q':
            if (netcli_parse_quant(CMD, optarg, &o->quantized, &o->mode) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            if (!o->quantized) return cli_usage_error(CMD, "--quant must be asym or sym");
            break;
        case 'B':
            if (!cli_parse_long("--weight-bits", optarg, 2, 8, &lv)) return CLI_EXIT_USAGE;
            o->weight_bits = (int)lv;
            break;
        case 'p': o->per_channel = true; break;
        case 'c':
            if (!cli_parse_long("--calib-images", optarg, 1, 1L << 30, &lv)) return CLI_EXIT_USAGE;
            o->calib = (int)lv;
            break;
        case 'T':
            if (!cli_parse_long("--test-subset", optarg, 1, 1L << 30, &lv)) return CLI_EXIT_USAGE;
            o->test_subset = (int)lv;
            break;
        case 'b':
            if (!cli_parse_long("--batch", optarg, 1, 65536, &lv)) return CLI_EXIT_USAGE;
            o->batch = (int)lv;
            break;
        case 'S':
            if (!cli_parse_long("--seed", optarg, 0, 1L << 62, &o->seed)) return CLI_EXIT_USAGE;
            break;
        case 'j':
            if (!cli_parse_long("--threads", optarg, 1, 1024, &lv)) return CLI_EXIT_USAGE;
            o->threads = (int)lv;
            break;
        case 'C': o->csv = optarg; break;
        case 'a': o->archive = optarg; break;
        case 's':
            if (strcmp(optarg, "validation") && strcmp(optarg, "test"))
                return cli_usage_error(CMD, "--split must be validation or test, not '%s'",
                                       optarg);
            o->split_test = strcmp(optarg, "test") == 0;
            break;
        case 'u':
            if (netcli_parse_device(CMD, optarg, &o->device) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'h': eval_help(stdout); return -1;
        case ':': return cli_usage_error(CMD, "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->weights) return cli_usage_error(CMD, "--weights is required");
    if (!o->dataset == !o->archive)
        return cli_usage_error(CMD, "give --dataset or --archive (one of them)");
    if (o->archive && (o->data || o->test_subset))
        return cli_usage_error(CMD, "--data and --test-subset do not go with --archive");
    return CLI_EXIT_OK;
}

/* Appends the library's 8x8 unsigned multipliers. */
static int add_all_8x8u(eval_opts *o)
{
    eng_mul_manifest man;
    eng_status st = eng_mul_library_list(&man);
    if (st != ENG_OK) return netcli_engine_error(CMD, st);
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < man.count && rc == CLI_EXIT_OK; i++)
        if (strcmp(man.entries[i].family, "8x8_unsigned") == 0)
            rc = netcli_muls_add(CMD, man.entries[i].name, &o->muls);
    eng_mul_manifest_free(&man);
    return rc;
}

static int write_csv(const char *path, const eval_row *rows, int n, double ref_acc)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_error("%s: %s: %s", CMD, tmp, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    fprintf(f, "multiplier,power_mw,accuracy,drop_pp\n");
    for (int i = 0; i < n; i++) {
        if (isnan(rows[i].power_mw))
            fprintf(f, "%s,,%.6f,%.4f\n", rows[i].name, rows[i].accuracy,
                    100.0 * (ref_acc - rows[i].accuracy));
        else
            fprintf(f, "%s,%.6g,%.6f,%.4f\n", rows[i].name, rows[i].power_mw, rows[i].accuracy,
                    100.0 * (ref_acc - rows[i].accuracy));
    }
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        cli_error("%s: cannot write %s: %s", CMD, path, strerror(errno));
        unlink(tmp);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static void print_row(const eval_row *r, double ref_acc, bool with_drop)
{
    char power[32] = "-", drop[32] = "-";
    if (!isnan(r->power_mw)) snprintf(power, sizeof power, "%.4f", r->power_mw);
    if (with_drop) snprintf(drop, sizeof drop, "%.2f", 100.0 * (ref_acc - r->accuracy));
    printf("%-24s %10s %9.2f%% %8s\n", r->name, power, 100.0 * r->accuracy, drop);
    fflush(stdout);
}

/* Quantizes a float network for inference: fold, quantize, calibrate with exact products. */
static eng_status prepare_float(eng_net *net, const eval_opts *o, const eng_dataset *train)
{
    int folded;
    ENG_TRY(eng_net_fold_batchnorm(net, &folded));
    ENG_TRY(eng_net_sync_device(net));
    eng_approx_cfg q;
    eng_approx_cfg_default(&q);
    q.mode = o->quantized ? o->mode : ENG_QUANT_ASYM;
    q.weight_bits = o->weight_bits ? o->weight_bits : 8;
    q.per_channel = o->per_channel;
    ENG_TRY(eng_net_set_multiplier(net, -1, NULL));
    ENG_TRY(eng_net_set_quant(net, -1, &q));
    return eng_calibrate(net, train, o->calib, o->batch);
}

/* The search's images: calibration from its training subset, evaluation on the validation
 * split or the test set (search_env_open loads them exactly as search and finalize do). */
static int archive_data(const eval_opts *o, netcli_data *out)
{
    memset(out, 0, sizeof *out);
    db_archive *db;
    db_run run = {0};
    search_env env;
    cfg_search cfg;
    eng_status st = db_open(o->archive, DB_OPEN_READ, &db);
    if (st == ENG_OK) st = db_run_load(db, &run);
    if (st == ENG_OK) st = cfg_parse(run.config_text, run.config_path, &cfg);
    if (st == ENG_OK)
        st = search_env_open(&env, &cfg, SEARCH_ENV_DATA | (o->split_test ? SEARCH_ENV_TEST : 0));
    db_run_free(&run);
    db_close(db);
    if (st != ENG_OK) return netcli_engine_error(CMD, st);
    out->train = env.train;
    out->test = o->split_test ? env.test : env.val;
    if (o->split_test) env.test = (eng_dataset){0};
    else env.val = (eng_dataset){0};
    env.train = (eng_dataset){0};
    snprintf(out->name, sizeof out->name, "%s", o->split_test ? "test" : "validation");
    search_env_close(&env);
    return CLI_EXIT_OK;
}

static int run_eval(eval_opts *o)
{
    netcli_data data;
    int rc = o->archive ? archive_data(o, &data)
                        : netcli_data_load(CMD, o->dataset, o->data, 0, 0.0, o->test_subset,
                                           (uint64_t)o->seed, &data);
    if (rc != CLI_EXIT_OK) return rc;
    netfile_net file = {0};
    eng_net *net = NULL;
    eval_row *rows = calloc((size_t)o->muls.count + 2, sizeof *rows);
    int n_rows = 0;
    eng_status st = rows ? netfile_load(o->weights, &file)
                         : eng_error(ENG_ERR_NOMEM, "out of memory");
    if (st != ENG_OK) {
        rc = netcli_engine_error(CMD, st);
        goto out;
    }
    net = file.net;
    rc = netcli_net_place(CMD, net, netcli_device_resolve(o->device));
    if (rc != CLI_EXIT_OK) goto out;
    int ids[1];
    bool stored_quant = eng_net_mul_layers(net, ids, 1) > 0 && eng_net_get_quant(net, ids[0], NULL);
    if (stored_quant && (o->quantized || o->weight_bits || o->per_channel))
        printf("note: %s was trained quantization-aware; --quant, --weight-bits and "
               "--per-channel are ignored\n", o->weights);
    if (o->archive)
        printf("%s (%s), %s split of %s: %d images\n", o->weights,
               file.searched ? file.arch.summary : eng_net_arch(net), data.name, o->archive,
               data.test.count);
    else
        printf("%s (%s), %s: %d test images\n", o->weights, eng_net_arch(net), o->dataset,
               data.test.count);
    printf("%-24s %10s %10s %8s\n", "multiplier", "power_mW", "accuracy", "drop_pp");
    eval_row stored = {.power_mw = NAN};
    snprintf(stored.name, sizeof stored.name, "%s", stored_quant ? "as-trained" : "float");
    st = eng_evaluate(net, &data.test, o->batch, &stored.accuracy, NULL);
    if (st == ENG_OK) print_row(&stored, 0.0, false);
    if (st == ENG_OK && o->archive) printf("as-trained accuracy: %.6f\n", stored.accuracy);
    if (st == ENG_OK && !stored_quant) st = prepare_float(net, o, &data.train);
    if (st == ENG_OK && file.searched) st = eng_net_set_multiplier(net, -1, NULL);
    eval_row *exact = &rows[n_rows++];
    snprintf(exact->name, sizeof exact->name, "exact");
    exact->power_mw = eng_mul_exact_power_mw(8, o->mode == ENG_QUANT_SYM);
    if (st == ENG_OK) st = eng_evaluate(net, &data.test, o->batch, &exact->accuracy, NULL);
    if (st == ENG_OK) print_row(exact, exact->accuracy, true);
    for (int i = 0; i < o->muls.count && st == ENG_OK; i++) {
        const eng_mul *m = o->muls.muls[i];
        eval_row *r = &rows[n_rows++];
        snprintf(r->name, sizeof r->name, "%s", m->name);
        r->power_mw = m->published.power_mw;
        st = eng_net_set_multiplier(net, -1, m);
        if (st == ENG_OK) st = eng_evaluate(net, &data.test, o->batch, &r->accuracy, NULL);
        if (st == ENG_OK) print_row(r, exact->accuracy, true);
    }
    if (st != ENG_OK) {
        rc = netcli_engine_error(CMD, st);
        goto out;
    }
    if (o->csv) rc = write_csv(o->csv, rows, n_rows, exact->accuracy);
out:
    free(rows);
    netfile_free(&file);
    netcli_data_free(&data);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o;
    memset(&o, 0, sizeof o);
    o.calib = 2000;
    o.batch = 256;
    o.seed = 1;
    o.mode = ENG_QUANT_ASYM;
    int rc = parse_opts(argc, argv, &o);
    if (rc == CLI_EXIT_OK && o.all_8x8u) rc = add_all_8x8u(&o);
    if (rc == CLI_EXIT_OK) {
        netcli_set_threads(o.threads);
        rc = run_eval(&o);
    }
    netcli_muls_free(&o.muls);
    return rc < 0 ? CLI_EXIT_OK : rc;
}
