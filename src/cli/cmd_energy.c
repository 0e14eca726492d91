/*
 * cmd_energy.c - `evoapproxnas energy`: the accelerator energy of one inference of a network
 * with per-layer multipliers (AxMultAT-style model of src/energy/), as a table or JSON, and
 * the layers as Timeloop problem files.
 */
#include "cli.h"
#include "commands.h"
#include "energy/energy.h"
#include "eng_mul.h"
#include "eng_net.h"
#include "netfile.h"
#include "eng_zoo.h"
#include "engine_config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_ACCEL "eyeriss_like_16b"

static void print_help(void)
{
    printf("Usage: evoapproxnas energy (--model NAME | --weights FILE | --layers FILE.yaml)\n"
           "                         [options]\n"
           "\n"
           "Energy of one inference on a CNN accelerator (AxMultAT-style: a Timeloop-like mapper\n"
           "per layer, Accelergy-like energies, the multiplier's own power for the arithmetic).\n"
           "\n"
           "  --model NAME           a network of the model zoo (`evoapproxnas model list`), or\n"
           "                         a built-in layer list: alexnet, alexnet-conv1\n"
           "  --input HxWxC          input image shape of a zoo model (default: the model's)\n"
           "  --weights FILE         a trained network (weights file of `evoapproxnas train`):\n"
           "                         its layers and quantized weight widths (weights files\n"
           "                         store no multipliers: exact unless --multipliers)\n"
           "  --layers FILE          a YAML layer list (docs/energy.md)\n"
           "  --multipliers M[,M...] one multiplier for every layer that multiplies, or one per\n"
           "                         such layer in order; library names or 'exact' (default)\n"
           "  --accelerator A        YAML file, or a name in configs/accelerators/ (default\n"
           "                         " DEFAULT_ACCEL ", with the Timeloop exercise's mapping\n"
           "                         constraints; also eyeriss_like_16b_unconstrained,\n"
           "                         eyeriss_like_8b)\n"
           "  --json                 machine-readable output\n"
           "  --export-timeloop DIR  also write each layer as a Timeloop problem file\n"
           "  -h, --help             this help\n"
           "\n"
           "Energies are in pJ: multiplier, the rest of the MACs, each memory level, total.\n");
}

static int find_accel(const char *arg, char *path, size_t size)
{
    if (strchr(arg, '/') || strstr(arg, ".yaml")) {
        snprintf(path, size, "%s", arg);
        return 0;
    }
    const char *roots[] = {getenv("EVOAPPROXNAS_CONFIGS"), EVOAPPROXNAS_SOURCE_DIR "/configs",
                           EVOAPPROXNAS_DATADIR "/configs"};
    for (int i = 0; i < 3; i++) {
        if (!roots[i] || !*roots[i]) continue;
        snprintf(path, size, "%s/accelerators/%s.yaml", roots[i], arg);
        if (access(path, R_OK) == 0) return 0;
    }
    return -1;
}

/* Applies the --multipliers list to the layers that multiply. */
static int apply_multipliers(const char *list, energy_layer *layers, int count,
                             const energy_accel *acc, char (*names)[64])
{
    int mult = 0;
    for (int i = 0; i < count; i++) mult += energy_layer_multiplies(&layers[i]);
    char *copy = strdup(list);
    if (!copy) return cli_error("out of memory"), CLI_EXIT_FAILURE;
    char *tok[4096];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == 4096) break;
        tok[n++] = t;
    }
    int rc = CLI_EXIT_OK;
    if (n != 1 && n != mult) {
        rc = cli_usage_error("energy", "--multipliers: %d names for %d layers that multiply "
                             "(give 1 or %d)", n, mult, mult);
        goto out;
    }
    for (int i = 0, j = 0; i < count; i++) {
        if (!energy_layer_multiplies(&layers[i])) continue;
        const char *name = tok[n == 1 ? 0 : j++];
        snprintf(names[i], 64, "%s", name);
        if (strcmp(name, "exact") == 0) continue;
        /* a library name or a table file, as `eval --multiplier` takes them */
        eng_mul *m = NULL, *ex = NULL;
        eng_status st = eng_mul_load(name, &m);
        if (st == ENG_OK) st = eng_mul_exact(m->w_bits, m->is_signed, &ex);
        if (st != ENG_OK) {
            eng_mul_free(m);
            rc = cli_usage_error("energy", "--multipliers: %s", eng_last_error());
            goto out;
        }
        bool exact = memcmp(ex->table, m->table, sizeof(uint16_t) * ((size_t)256 << m->w_bits))
                     == 0;
        eng_mul_free(ex);
        if (!exact && !(m->published.power_mw > 0)) {
            rc = cli_usage_error("energy", "--multipliers: %s has no power figure (import it "
                                 "with `evoapproxnas luts import FILE --name NAME --power-mw P`)",
                                 name);
            eng_mul_free(m);
            goto out;
        }
        st = exact ? ENG_OK
                   : energy_layer_set_multiplier(&layers[i], m->published.power_mw, m->w_bits,
                                                 m->is_signed, acc->word_bits);
        eng_mul_free(m);
        if (st != ENG_OK) {
            rc = cli_usage_error("energy", "%s", eng_last_error());
            goto out;
        }
    }
out:
    free(copy);
    return rc;
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

static void json_cost(const energy_accel *a, const energy_layer_cost *c)
{
    printf("\"macs\": %lld, \"params\": %lld, \"ops\": %lld, \"utilization\": %.10g, "
           "\"energy_pj\": {\"multiplier\": %.10g, \"mac_rest\": %.10g",
           (long long)c->macs, (long long)c->params, (long long)c->ops, c->utilization,
           c->mul_pj, c->mac_rest_pj);
    for (int k = 0; k < a->n_levels; k++) {
        printf(", ");
        json_string(a->levels[k].name);
        printf(": %.10g", c->level_pj[k]);
    }
    printf(", \"total\": %.10g}", c->total_pj);
}

static void print_json(const char *model, const energy_accel *a, const energy_layer *layers,
                       int count, const energy_layer_cost *costs, const energy_layer_cost *total,
                       char (*names)[64])
{
    printf("{\"model\": ");
    json_string(model);
    printf(", \"accelerator\": ");
    json_string(a->name);
    printf(", \"layers\": [");
    for (int i = 0; i < count; i++) {
        const energy_layer *l = &layers[i];
        printf("%s\n  {\"name\": ", i ? "," : "");
        json_string(l->name);
        printf(", \"kind\": \"%s\", \"multiplier\": ", energy_layer_kind_name(l->kind));
        if (energy_layer_multiplies(l)) json_string(names[i]);
        else printf("null");
        printf(", \"weight_bits\": %d, \"dataflow\": ",
               l->weight_bits ? l->weight_bits : a->word_bits);
        if (costs[i].mapped) printf("\"%s\"", energy_dataflow_name(costs[i].mapping.dataflow));
        else printf("null");
        printf(", \"mapping\": ");
        if (costs[i].mapped) {
            char map[512];
            energy_mapping_format(a, &costs[i].mapping, map, sizeof map);
            json_string(map);
        } else {
            printf("null");
        }
        printf(", ");
        json_cost(a, &costs[i]);
        printf("}");
    }
    printf("\n], \"total\": {");
    json_cost(a, total);
    printf("}}\n");
}

static void print_row(const energy_accel *a, const char *name, const char *mul,
                      const energy_layer_cost *c)
{
    printf("%-12.12s %-12.12s %12lld %10lld %5.1f %13.0f %13.0f", name, mul, (long long)c->macs,
           (long long)c->params, 100 * c->utilization, c->mul_pj, c->mac_rest_pj);
    for (int k = 0; k < a->n_levels; k++) printf(" %13.0f", c->level_pj[k]);
    printf(" %14.0f %7.2f\n", c->total_pj, c->macs ? c->total_pj / (double)c->macs : 0.0);
}

static void print_table(const char *model, const energy_accel *a, const energy_layer *layers,
                        int count, const energy_layer_cost *costs, const energy_layer_cost *total,
                        char (*names)[64])
{
    printf("%s on %s (energies in pJ per inference)\n", model, a->name);
    printf("%-12s %-12s %12s %10s %5s %13s %13s", "layer", "multiplier", "MACs", "params",
           "util%", "multiplier", "mac_rest");
    for (int k = 0; k < a->n_levels; k++) printf(" %13.13s", a->levels[k].name);
    printf(" %14s %7s\n", "total", "pJ/MAC");
    for (int i = 0; i < count; i++)
        print_row(a, layers[i].name, energy_layer_multiplies(&layers[i]) ? names[i] : "-",
                  &costs[i]);
    print_row(a, "TOTAL", "", total);
    printf("total: %.0f pJ = %.3f uJ; arithmetic %.1f%% (multipliers %.1f%%)\n",
           total->total_pj, total->total_pj * 1e-6,
           100 * (total->mul_pj + total->mac_rest_pj) / total->total_pj,
           100 * total->mul_pj / total->total_pj);
}

static int layers_status(eng_status st)
{
    if (st == ENG_OK) return CLI_EXIT_OK;
    cli_error("%s", eng_last_error());
    return CLI_EXIT_USAGE;
}

/* The layers of a built network (freed here). */
static int net_layers(eng_net *net, int base_bits, energy_layer **layers, int *count)
{
    eng_status st = energy_layers_from_net(net, base_bits, layers, NULL, count);
    eng_net_free(net);
    if (st == ENG_OK) return CLI_EXIT_OK;
    cli_error("%s", eng_last_error());
    return st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
}

/* Zoo model `model`, with input shape "HxWxC" when input is not NULL. */
static int zoo_layers(const char *model, const char *input, int base_bits, energy_layer **layers,
                      int *count)
{
    eng_zoo_options opt;
    eng_zoo_options_default(&opt);
    if (input) {
        int used = 0;
        if (sscanf(input, "%dx%dx%d%n", &opt.in_h, &opt.in_w, &opt.in_c, &used) != 3 ||
            input[used] || opt.in_h < 1 || opt.in_w < 1 || opt.in_c < 1)
            return cli_usage_error("energy", "--input '%s' is not HxWxC (e.g. 32x32x3)", input);
    }
    eng_net *net;
    eng_status st = eng_zoo_build(model, &opt, &net);
    if (st == ENG_ERR_NOT_FOUND) {
        char list[1024] = "";
        for (int i = 0; energy_model_names[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s, ", energy_model_names[i]);
        for (int i = 0; i < eng_zoo_count(); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", eng_zoo_name(i),
                     i + 1 < eng_zoo_count() ? ", " : "");
        return cli_usage_error("energy", "unknown model '%s' (models: %s)", model, list);
    }
    if (st != ENG_OK) return cli_usage_error("energy", "model %s: %s", model, eng_last_error());
    return net_layers(net, base_bits, layers, count);
}

/* The layers of a weights file, and the multiplier of each (an exported searched network
 * keeps its own; names: malloc()ed, *count entries). */
static int weights_layers(const char *path, int base_bits, energy_layer **layers, int *count,
                          char (**names)[64])
{
    netfile_net file;
    int *nodes = NULL;
    eng_status st = netfile_load(path, &file);
    if (st == ENG_OK) st = energy_layers_from_net(file.net, base_bits, layers, &nodes, count);
    if (st == ENG_OK) {
        *names = calloc((size_t)*count + 1, sizeof **names);
        if (!*names) st = eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; st == ENG_OK && i < *count; i++) {
        eng_layer_info info;
        st = eng_net_layer_info(file.net, nodes[i], &info);
        snprintf((*names)[i], 64, "%s", info.mul ? info.mul->name : "exact");
    }
    free(nodes);
    netfile_free(&file);
    if (st == ENG_OK) return CLI_EXIT_OK;
    cli_error("%s", eng_last_error());
    return st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
}

int cmd_energy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"layers", required_argument, NULL, 'l'},
        {"weights", required_argument, NULL, 'w'},
        {"input", required_argument, NULL, 'i'},
        {"multipliers", required_argument, NULL, 'x'},
        {"accelerator", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"export-timeloop", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *layers_file = NULL, *mults = NULL, *accel = DEFAULT_ACCEL;
    const char *export_dir = NULL, *weights = NULL, *input = NULL;
    bool json = false;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'l': layers_file = optarg; break;
        case 'w': weights = optarg; break;
        case 'i': input = optarg; break;
        case 'x': mults = optarg; break;
        case 'a': accel = optarg; break;
        case 'j': json = true; break;
        case 'e': export_dir = optarg; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        case ':': return cli_usage_error("energy", "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error("energy", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("energy", "unexpected argument '%s'", argv[optind]);
    if ((model != NULL) + (layers_file != NULL) + (weights != NULL) != 1)
        return cli_usage_error("energy", "give one of --model, --weights or --layers");
    bool builtin = false;
    for (int i = 0; model && energy_model_names[i]; i++) builtin |= !strcmp(model, energy_model_names[i]);
    if (input && (!model || builtin))
        return cli_usage_error("energy", "--input applies to zoo models only");

    char path[4096];
    if (find_accel(accel, path, sizeof path) != 0)
        return cli_usage_error("energy", "accelerator '%s' not found in configs/accelerators/",
                               accel);
    energy_accel acc;
    if (energy_accel_load(path, &acc) != ENG_OK) {
        cli_error("%s", eng_last_error());
        return CLI_EXIT_USAGE;
    }
    energy_layer *layers = NULL;
    int count = 0;
    char name[ENERGY_NAME_MAX];
    char (*file_names)[64] = NULL;
    snprintf(name, sizeof name, "%s", model ? model : weights ? weights : "");
    int rc0 = builtin  ? layers_status(energy_model_layers(model, &layers, &count))
              : model  ? zoo_layers(model, input, acc.word_bits, &layers, &count)
              : weights ? weights_layers(weights, acc.word_bits, &layers, &count, &file_names)
                        : layers_status(energy_layers_load(layers_file, &layers, &count, name));
    if (rc0 != CLI_EXIT_OK) return rc0;
    int rc = CLI_EXIT_OK;
    energy_model *em = NULL;
    energy_layer_cost *costs = calloc((size_t)count, sizeof *costs);
    char (*names)[64] = calloc((size_t)count, sizeof *names);
    if (!costs || !names) {
        cli_error("out of memory");
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    for (int i = 0; i < count; i++)
        snprintf(names[i], sizeof names[i], "%s", file_names ? file_names[i] : "exact");
    if (mults && (rc = apply_multipliers(mults, layers, count, &acc, names)) != CLI_EXIT_OK)
        goto out;
    energy_layer_cost total;
    if (energy_model_create(&acc, &em) != ENG_OK ||
        energy_net_estimate(em, layers, count, costs, &total) != ENG_OK) {
        cli_error("%s", eng_last_error());
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (export_dir) {
        int written;
        if (energy_timeloop_export(layers, count, export_dir, &written) != ENG_OK) {
            cli_error("%s", eng_last_error());
            rc = CLI_EXIT_FAILURE;
            goto out;
        }
        if (!json) fprintf(stderr, "wrote %d Timeloop problem files to %s\n", written, export_dir);
    }
    if (json) print_json(name, &acc, layers, count, costs, &total, names);
    else print_table(name, &acc, layers, count, costs, &total, names);
out:
    energy_model_free(em);
    free(file_names);
    free(names);
    free(costs);
    free(layers);
    return rc;
}
