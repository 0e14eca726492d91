/*
 * cmd_export.c - `evoapproxnas export DB HASH --out FILE`: a network of a search archive as a
 * weights file (for eval, energy, train --init) or as ONNX.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archnet.h"
#include "cli.h"
#include "commands.h"
#include "eng_weights.h"
#include "netcli.h"
#include "netfile.h"
#include "onnx_export.h"
#include "run_signal.h"
#include "search_train.h"

static const char *const CMD = "export";

static void print_help(void)
{
    printf("Usage: evoapproxnas export DB HASH --out FILE [--format weights|onnx] [--float]\n"
           "                           [--from search|final] [--reference FILE] [--threads T]\n"
           "\n"
           "Writes network HASH (or a unique prefix of at least 4 digits) of search archive DB\n"
           "as a weights file, usable as it is by `eval --weights`, `energy --weights` and\n"
           "`train --init`, or as ONNX (docs/export.md). The network keeps its per-layer\n"
           "multipliers and quantization.\n"
           "\n"
           "Which weights: with --from final the ones `finalize --save` kept (trained longer on\n"
           "the whole training part); with --from search the network is trained again exactly\n"
           "as the search trained it (same images, epochs and seed), so that\n"
           "`eval --weights FILE --archive DB` reproduces its archived validation accuracy.\n"
           "Default: final when kept, else search.\n"
           "\n"
           "  --out FILE        file to write (atomically)\n"
           "  --format F        weights (default) or onnx: float weights, QuantizeLinear/\n"
           "                    DequantizeLinear around each quantized layer, multiplier names\n"
           "                    and table files as node metadata\n"
           "  --float           drop the quantization: the float network (same weights)\n"
           "  --from W          search or final (see above)\n"
           "  --reference FILE  also write a JSON file with the first 8 validation images\n"
           "                    (normalized, NCHW) and the engine's logits for them, to check\n"
           "                    another runtime against (docs/export.md); written atomically\n"
           "  --threads T       OpenMP threads for the training\n"
           "  -h, --help        this help\n"
           "\n"
           "Exit status: 0 success, 1 training or writing failed, 2 bad usage, archive or hash.\n");
}

/* The network with the weights asked for (trained again, or the kept file). */
static eng_status get_net(archnet *a, bool from_final, netfile_net *kept,
                          volatile sig_atomic_t *stop, eng_net **net)
{
    *net = NULL;
    if (from_final) {
        ENG_TRY(netfile_load(a->weights, kept));
        *net = kept->net;
        return ENG_OK;
    }
    const cfg_search *c = &a->env.cfg;
    printf("training %s as the search did: %d epochs on %d images, seed %llu\n", a->e.hash,
           c->training.epochs, a->env.train.count, (unsigned long long)a->e.seed);
    fflush(stdout);
    search_train_logger lg = {.out = stdout, .label = a->e.hash};
    search_train_hooks hooks = {.progress = search_train_log_progress, .user = &lg};
    ENG_TRY(search_env_train_net(&a->env, &a->arch, false, a->e.seed, c->training.epochs,
                                 &a->env.train, stop, &hooks, net));
    double err;
    eng_status st = eng_net_sync_host(*net);
    if (st == ENG_OK) st = search_train_error(*net, &a->env.val, 256, &err);
    if (st == ENG_OK)
        printf("validation accuracy %.6f (archived %.6f)\n", 1.0 - err, 1.0 - a->e.error);
    return st;
}

/* The first images of the validation split and the network's logits for them, as JSON. */
static eng_status write_reference(eng_net *net, const eng_dataset *ds, const char *path)
{
    enum { N_REF = 8 };
    int n = ds->count < N_REF ? ds->count : N_REF;
    int c = ds->channels, hw = ds->height * ds->width, classes = eng_net_classes(net);
    int idx[N_REF];
    uint8_t labels[N_REF];
    for (int i = 0; i < n; i++) idx[i] = i;
    float *x = malloc(sizeof(float) * (size_t)(c * hw * n));
    if (!x) return eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_status st = eng_dataset_batch(ds, idx, n, NULL, NULL, x, labels);
    if (st == ENG_OK) st = eng_net_forward(net, x, n, false);
    const float *y = st == ENG_OK ? eng_net_output(net) : NULL;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = st == ENG_OK ? fopen(tmp, "w") : NULL;
    if (st == ENG_OK && !f) st = eng_error(ENG_ERR_IO, "%s: cannot create", path);
    if (f) {
        fprintf(f, "{\"input_shape\": [%d, %d, %d, %d],\n \"input\": [", n, c, ds->height,
                ds->width);
        for (int i = 0; i < n; i++)             /* CNHW -> NCHW */
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++)
                    fprintf(f, "%s%.9g", i + ch + p ? "," : "",
                            (double)x[((size_t)ch * n + i) * hw + p]);
        fprintf(f, "],\n \"labels\": [");
        for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", labels[i]);
        fprintf(f, "],\n \"logits\": [");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s[", i ? ", " : "");
            for (int k = 0; k < classes; k++)
                fprintf(f, "%s%.9g", k ? ", " : "", (double)y[(size_t)k * n + i]);
            fprintf(f, "]");
        }
        fprintf(f, "]}\n");
        bool ok = !ferror(f);
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            st = eng_error(ENG_ERR_IO, "%s: write failed", path);
            unlink(tmp);
        }
    }
    free(x);
    return st;
}

int cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                              {"format", required_argument, NULL, 'f'},
                                              {"from", required_argument, NULL, 'w'},
                                              {"float", no_argument, NULL, 'F'},
                                              {"reference", required_argument, NULL, 'r'},
                                              {"threads", required_argument, NULL, 't'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    const char *out = NULL, *from = NULL, *reference = NULL;
    bool onnx = false, as_float = false;
    long threads = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f':
            if (strcmp(optarg, "weights") && strcmp(optarg, "onnx"))
                return cli_usage_error(CMD, "--format must be weights or onnx, not '%s'", optarg);
            onnx = strcmp(optarg, "onnx") == 0;
            break;
        case 'w':
            if (strcmp(optarg, "search") && strcmp(optarg, "final"))
                return cli_usage_error(CMD, "--from must be search or final, not '%s'", optarg);
            from = optarg;
            break;
        case 'F': as_float = true; break;
        case 'r': reference = optarg; break;
        case 't':
            if (!cli_parse_long("--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 'h': print_help(); return CLI_EXIT_OK;
        case ':': return cli_usage_error(CMD, "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(CMD, argc - optind < 2 ? "give an archive DB and a network HASH"
                                                      : "too many arguments");
    if (!out) return cli_usage_error(CMD, "--out FILE is required");
    netcli_set_threads((int)threads);

    archnet a;
    int rc0;
    eng_status st = archnet_open(argv[optind], argv[optind + 1], SEARCH_ENV_DATA, &a);
    if (st != ENG_OK) return netcli_engine_error(CMD, st);
    bool from_final = from ? strcmp(from, "final") == 0 : a.weights[0] != '\0';
    if (from_final && !a.weights[0]) {
        rc0 = cli_usage_error(CMD, "%s: network %s has no kept weights (run `finalize --save "
                              "DIR`, or use --from search)", argv[optind], a.e.hash);
        archnet_close(&a);
        return rc0;
    }
    char *text = malloc(ENG_NET_ARCH_MAX);
    netfile_net kept = {0};
    eng_net *net = NULL;
    st = text ? archnet_arch_format(&a, text, ENG_NET_ARCH_MAX)
              : eng_error(ENG_ERR_NOMEM, "out of memory");
    volatile sig_atomic_t *stop = run_signal_install();
    if (st == ENG_OK) st = get_net(&a, from_final, &kept, stop, &net);
    run_signal_restore();
    int rc = CLI_EXIT_OK;
    if (st == ENG_ERR_DIVERGED) {
        cli_error("%s: %s: %s", CMD, a.e.hash, eng_last_error());
        rc = CLI_EXIT_FAILURE;
    } else if (st != ENG_OK) {
        rc = netcli_engine_error(CMD, st);
    }
    if (rc == CLI_EXIT_OK) {
        st = eng_net_set_arch(net, text);
        if (st == ENG_OK && as_float) st = eng_net_set_quant(net, -1, NULL);
        if (st == ENG_OK && onnx) st = onnx_export_net(net, as_float, out);
        else if (st == ENG_OK) st = eng_weights_save(net, out);
        if (st == ENG_OK && reference) st = write_reference(net, &a.env.val, reference);
        if (st != ENG_OK) {
            cli_error("%s: %s", CMD, eng_last_error());
            rc = st == ENG_ERR_IO || st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        } else {
            printf("wrote %s (%s weights of %s: %s)\n", out, from_final ? "final" : "search",
                   a.e.hash, a.arch.summary);
        }
    }
    if (net != kept.net) eng_net_free(net);
    netfile_free(&kept);
    free(text);
    archnet_close(&a);
    return rc;
}
