/*
 * cmd_model.c - `evoapproxnas model list|summary`: the model zoo and per-layer shapes,
 * parameters and MACs of a network, as a table or JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "eng_zoo.h"

static void model_help(FILE *f)
{
    fprintf(f,
            "Usage: evoapproxnas model list\n"
            "       evoapproxnas model summary NAME [--input HxWxC] [--classes N] [--width F]\n"
            "                                       [--json]\n"
            "\n"
            "list prints the models of the zoo. summary builds model NAME and prints every\n"
            "layer: id, name, operation, input nodes, output shape (HxWxC), trainable\n"
            "parameters and multiply-accumulates per image, then the totals and the planned\n"
            "activation memory per image (inference, and training with gradients).\n"
            "\n"
            "Options:\n"
            "  --input HxWxC  input image shape (default: the model's, e.g. 32x32x3)\n"
            "  --classes N    output classes (default: the model's, 10 or 1000)\n"
            "  --width F      width multiplier of MobileNetV2 (default 1)\n"
            "  --json         print JSON instead of a table\n"
            "  -h, --help     show this help\n"
            "\n"
            "Exit status: 0 success, 2 bad usage or unknown model.\n");
}

/* Parses "HxWxC" strictly. */
static bool parse_shape(const char *s, int *h, int *w, int *c)
{
    int used = 0;
    return sscanf(s, "%dx%dx%d%n", h, w, c, &used) == 3 && s[used] == '\0' && *h > 0 &&
           *w > 0 && *c > 0 && *h <= 4096 && *w <= 4096 && *c <= 64;
}

/* Planned activation memory per image: evaluation only, and training (with gradients). */
static void memory_figures(eng_net *net, size_t *eval_bytes, size_t *train_bytes)
{
    if (eng_net_memory(net, false, eval_bytes) != ENG_OK) *eval_bytes = 0;
    if (eng_net_memory(net, true, train_bytes) != ENG_OK) *train_bytes = 0;
}

static void print_table(eng_net *net, const char *name)
{
    int c, h, w;
    eng_net_input_shape(net, &c, &h, &w);
    printf("%s: input %dx%dx%d, %d classes (%s)\n", name, h, w, c, eng_net_classes(net),
           eng_net_arch(net));
    printf("%4s  %-16s %-15s %-12s %-13s %11s %15s\n", "id", "name", "op", "inputs", "output",
           "params", "MACs");
    for (int i = 1; i < eng_net_node_count(net); i++) {
        eng_layer_info li;
        if (eng_net_layer_info(net, i, &li) != ENG_OK) continue;
        char ins[64] = "", shape[32];
        size_t len = 0;
        for (int j = 0; j < li.n_inputs && len < sizeof ins - 12; j++)
            len += (size_t)snprintf(ins + len, sizeof ins - len, "%s%d", j ? "," : "",
                                    li.inputs[j]);
        snprintf(shape, sizeof shape, "%dx%dx%d", li.out_h, li.out_w, li.out_c);
        printf("%4d  %-16s %-15s %-12s %-13s %11zu %15llu\n", i, li.name, eng_op_name(li.op),
               ins, shape, li.params, (unsigned long long)li.macs);
    }
    printf("total: %zu parameters, %llu MACs per image (%.2f M)\n", eng_net_param_total(net),
           (unsigned long long)eng_net_mac_total(net), (double)eng_net_mac_total(net) / 1e6);
    size_t eval_bytes, train_bytes;
    memory_figures(net, &eval_bytes, &train_bytes);
    printf("activation memory: %.3f MB per image for inference, %.3f MB for training\n",
           (double)eval_bytes / 1e6, (double)train_bytes / 1e6);
}

static void print_json(eng_net *net, const char *name)
{
    int c, h, w;
    eng_net_input_shape(net, &c, &h, &w);
    printf("{\"model\": \"%s\", \"arch\": \"%s\", \"input\": [%d, %d, %d], \"classes\": %d,\n"
           " \"layers\": [\n", name, eng_net_arch(net), h, w, c, eng_net_classes(net));
    int n = eng_net_node_count(net);
    for (int i = 1; i < n; i++) {
        eng_layer_info li;
        if (eng_net_layer_info(net, i, &li) != ENG_OK) continue;
        printf("  {\"id\": %d, \"name\": \"%s\", \"op\": \"%s\", \"inputs\": [", i, li.name,
               eng_op_name(li.op));
        for (int j = 0; j < li.n_inputs; j++) printf("%s%d", j ? ", " : "", li.inputs[j]);
        printf("], \"output\": [%d, %d, %d], \"kernel\": %d, \"stride\": %d, \"pad\": %d, "
               "\"groups\": %d, \"params\": %zu, \"macs\": %llu}%s\n", li.out_h, li.out_w,
               li.out_c, li.kernel, li.stride, li.pad, li.groups, li.params,
               (unsigned long long)li.macs, i + 1 < n ? "," : "");
    }
    size_t eval_bytes, train_bytes;
    memory_figures(net, &eval_bytes, &train_bytes);
    printf(" ],\n \"params\": %zu, \"macs\": %llu, \"inference_bytes_per_image\": %zu, "
           "\"training_bytes_per_image\": %zu}\n", eng_net_param_total(net),
           (unsigned long long)eng_net_mac_total(net), eval_bytes, train_bytes);
}

static int model_summary(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"classes", required_argument, NULL, 'c'},
        {"width", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    eng_zoo_options zo;
    eng_zoo_options_default(&zo);
    bool json = false;
    int opt;
    long lv;
    double dv;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if (!parse_shape(optarg, &zo.in_h, &zo.in_w, &zo.in_c))
                return cli_usage_error("model summary", "--input '%s' is not HxWxC (e.g. "
                                       "32x32x3)", optarg);
            break;
        case 'c':
            if (!cli_parse_long("--classes", optarg, 2, 100000, &lv)) return CLI_EXIT_USAGE;
            zo.classes = (int)lv;
            break;
        case 'w':
            if (!cli_parse_double("--width", optarg, 0.05, 4.0, &dv)) return CLI_EXIT_USAGE;
            zo.width = (float)dv;
            break;
        case 'j': json = true; break;
        case 'h': model_help(stdout); return CLI_EXIT_OK;
        case ':':
            return cli_usage_error("model summary", "option %s needs an argument",
                                   argv[optind - 1]);
        default: return cli_usage_error("model summary", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("model summary", "expected one model NAME (see `evoapproxnas "
                               "model list`)");
    const char *name = argv[optind];
    eng_net *net;
    eng_status st = eng_zoo_build(name, &zo, &net);
    if (st != ENG_OK) {
        cli_error("model summary: %s", eng_last_error());
        return st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    if (json)
        print_json(net, name);
    else
        print_table(net, name);
    eng_net_free(net);
    return CLI_EXIT_OK;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("model", "missing subcommand (list or summary)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        model_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "list") == 0) {
        if (argc > 2) return cli_usage_error("model list", "unexpected argument '%s'", argv[2]);
        for (int i = 0; i < eng_zoo_count(); i++)
            printf("%-20s %s\n", eng_zoo_name(i), eng_zoo_description(i));
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "summary") == 0) return model_summary(argc - 1, argv + 1);
    return cli_usage_error("model", "unknown subcommand '%s' (expected list or summary)",
                           argv[1]);
}
