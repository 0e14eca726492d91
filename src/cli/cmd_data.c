/*
 * cmd_data.c - `evoapproxnas data info`: what a data set directory holds (counts, shape,
 * classes, class histogram, per-channel mean/std), with the loaders' strict checks.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "eng_data.h"

static void data_help(FILE *f)
{
    fprintf(f,
            "Usage: evoapproxnas data info --dataset NAME [--data DIR] [--part PART]\n"
            "\n"
            "Loads a data set with the engine's strict loaders and prints, for each part, the\n"
            "number of images, their shape (channels x height x width), the number of classes,\n"
            "the images per class and the per-channel mean and standard deviation of the\n"
            "pixels scaled to [0, 1].\n"
            "\n"
            "Options:\n"
            "  --dataset NAME  fashion-mnist, mnist (IDX files) or cifar10 (binary batches)\n"
            "  --data DIR      directory of the files (default for fashion-mnist:\n"
            "                  /usr/share/datasets/fashion-mnist)\n"
            "  --part PART     train, test or all (default all)\n"
            "  -h, --help      show this help\n"
            "\n"
            "Files: see docs/data.md. Exit status: 0 success, 2 bad usage or bad files.\n");
}

/* Prints one part; returns a CLI exit code. */
static int data_info_part(eng_dataset_kind kind, const char *dir, bool train)
{
    eng_dataset ds;
    eng_status st = eng_dataset_load(kind, dir, train, &ds);
    if (st != ENG_OK) {
        cli_error("data info: %s", eng_last_error());
        return st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    double mean[ENG_DATASET_MAX_CHANNELS], std[ENG_DATASET_MAX_CHANNELS];
    int counts[256];
    eng_dataset_stats(&ds, mean, std);
    eng_dataset_class_counts(&ds, counts);
    printf("%s: %d images, %dx%dx%d, %d classes\n", train ? "train" : "test", ds.count,
           ds.channels, ds.height, ds.width, ds.classes);
    printf("  mean:");
    for (int c = 0; c < ds.channels; c++) printf(" %.4f", mean[c]);
    printf("\n  std: ");
    for (int c = 0; c < ds.channels; c++) printf(" %.4f", std[c]);
    printf("\n  images per class:");
    for (int k = 0; k < ds.classes; k++) printf(" %d", counts[k]);
    printf("\n");
    eng_dataset_free(&ds);
    return CLI_EXIT_OK;
}

static int data_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"data", required_argument, NULL, 'p'},
        {"part", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *dir = NULL, *part = "all";
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': name = optarg; break;
        case 'p': dir = optarg; break;
        case 't': part = optarg; break;
        case 'h': data_help(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage_error("data info", "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error("data info", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("data info", "unexpected argument '%s'", argv[optind]);
    if (!name) return cli_usage_error("data info", "--dataset is required");
    eng_dataset_kind kind;
    if (eng_dataset_kind_parse(name, &kind) != ENG_OK)
        return cli_usage_error("data info", "%s", eng_last_error());
    if (!dir) dir = eng_dataset_default_dir(name);
    if (!dir) return cli_usage_error("data info", "--data DIR is required for %s", name);
    bool do_train = strcmp(part, "train") == 0 || strcmp(part, "all") == 0;
    bool do_test = strcmp(part, "test") == 0 || strcmp(part, "all") == 0;
    if (!do_train && !do_test)
        return cli_usage_error("data info", "unknown part '%s' (expected train, test or all)", part);
    printf("%s in %s\n", name, dir);
    int rc = CLI_EXIT_OK;
    if (do_train) rc = data_info_part(kind, dir, true);
    if (rc == CLI_EXIT_OK && do_test) rc = data_info_part(kind, dir, false);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("data", "missing subcommand (info)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        data_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "info") == 0) return data_info(argc - 1, argv + 1);
    return cli_usage_error("data", "unknown subcommand '%s' (expected info)", argv[1]);
}
