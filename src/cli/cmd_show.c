/*
 * cmd_show.c - `evoapproxnas show DB HASH [--json]`: one archived network layer by layer.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archnet.h"
#include "cli.h"
#include "commands.h"
#include "luts_report.h"
#include "netcli.h"

static const char *const CMD = "show";

static void print_help(void)
{
    printf("Usage: evoapproxnas show DB HASH [--json]\n"
           "\n"
           "Prints network HASH (or a unique prefix of at least 4 digits) of search archive DB\n"
           "layer by layer: operation, input and output shape (channels x height x width),\n"
           "parameters, MACs per image, multiplier, weight bits (its width) and its power (mW,\n"
           "PDK45; '-' unknown),\n"
           "energy per inference (pJ) and share of the network's energy; then its objectives,\n"
           "validation accuracy and, once finalized, test accuracy.\n"
           "\n"
           "  --json       one JSON object (fields in docs/export.md)\n"
           "  -h, --help   this help\n"
           "\n"
           "Exit status: 0 success, 1 failure, 2 bad usage, archive or hash.\n");
}

typedef struct layer_row {
    const char *mul;          /* NULL: no multiplier */
    int weight_bits;          /* the multiplier's weight width; 0: no multiplier */
    double power_mw;          /* NAN: unknown or none */
} layer_row;

static layer_row row_of(const archnet *a, const nas_layer *l)
{
    layer_row r = {NULL, 0, NAN};
    if (l->mul < 0) return r;
    const eng_mul *m = a->env.muls[l->mul];
    r.mul = a->env.cfg.mul_names[l->mul];
    r.weight_bits = m->w_bits;
    r.power_mw = a->env.mul_exact[l->mul] ? eng_mul_exact_power_mw(m->w_bits, m->is_signed)
                                          : m->published.power_mw;
    return r;
}

static void print_text(const archnet *a, const energy_layer_cost *costs, double total)
{
    const cfg_search *c = &a->env.cfg;
    printf("network %s: %s\n", a->e.hash, a->arch.summary);
    printf("validation accuracy %.4f", 1.0 - a->e.error);
    if (isnan(a->test_accuracy)) printf(", not finalized");
    else printf(", test accuracy %.4f (finalize, %d epochs)", a->test_accuracy, a->final_epochs);
    printf("; %ld parameters, %ld MACs, %.0f pJ per inference (multipliers %.0f pJ)\n",
           (long)a->e.params, (long)a->e.macs, a->e.energy_pj, a->e.mul_energy_pj);
    printf("objectives:");
    for (int i = 0; i < c->n_objectives; i++)
        printf(" %s %.6g", cfg_objective_name(c->objectives[i]), a->e.obj[i]);
    printf("\n%3s %-7s %-11s %-11s %8s %10s %-16s %5s %9s %12s %6s\n", "#", "op", "input",
           "output", "params", "MACs", "multiplier", "wbits", "power_mW", "energy_pJ", "share%");
    for (int i = 0; i < a->arch.n; i++) {
        const nas_layer *l = &a->arch.layers[i];
        layer_row r = row_of(a, l);
        char in[32], out[32], power[16] = "-", wbits[8] = "-";
        snprintf(in, sizeof in, "%dx%dx%d", l->in_c, l->in_h, l->in_w);
        snprintf(out, sizeof out, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
        if (!isnan(r.power_mw)) snprintf(power, sizeof power, "%.4f", r.power_mw);
        if (r.mul) snprintf(wbits, sizeof wbits, "%d", r.weight_bits);
        printf("%3d %-7s %-11s %-11s %8ld %10ld %-16.16s %5s %9s %12.1f %6.2f\n", i,
               nas_layer_kind_name(l->kind), in, out, l->params, l->macs, r.mul ? r.mul : "-",
               wbits, r.mul ? power : "-", costs[i].total_pj,
               total > 0 ? 100.0 * costs[i].total_pj / total : 0.0);
    }
}

static void json_shape(int c, int h, int w)
{
    printf("[%d, %d, %d]", c, h, w);
}

static void print_json(const archnet *a, const energy_layer_cost *costs, double total)
{
    const cfg_search *c = &a->env.cfg;
    printf("{\"hash\": \"%s\", \"summary\": ", a->e.hash);
    luts_json_string(stdout, a->arch.summary);
    printf(", \"generation\": %d, \"validation_accuracy\": ", a->e.generation);
    luts_json_number(stdout, 1.0 - a->e.error);
    printf(", \"test_accuracy\": ");
    luts_json_number(stdout, a->test_accuracy);
    printf(", \"final_epochs\": ");
    if (isnan(a->test_accuracy)) printf("null");
    else printf("%d", a->final_epochs);
    printf(", \"params\": %ld, \"macs\": %ld, \"energy_pj\": ", (long)a->e.params,
           (long)a->e.macs);
    luts_json_number(stdout, a->e.energy_pj);
    printf(", \"mul_energy_pj\": ");
    luts_json_number(stdout, a->e.mul_energy_pj);
    printf(", \"exact\": %s, \"objectives\": {", a->e.exact ? "true" : "false");
    for (int i = 0; i < c->n_objectives; i++) {
        printf("%s\"%s\": ", i ? ", " : "", cfg_objective_name(c->objectives[i]));
        luts_json_number(stdout, a->e.obj[i]);
    }
    printf("}, \"weights\": ");
    if (a->weights[0]) luts_json_string(stdout, a->weights);
    else printf("null");
    printf(", \"layers\": [");
    for (int i = 0; i < a->arch.n; i++) {
        const nas_layer *l = &a->arch.layers[i];
        layer_row r = row_of(a, l);
        printf("%s\n  {\"index\": %d, \"op\": \"%s\", \"inputs\": [%d", i ? "," : "", i,
               nas_layer_kind_name(l->kind), l->in[0]);
        if (l->in[1] >= -1) printf(", %d", l->in[1]);
        printf("], \"input_shape\": ");
        json_shape(l->in_c, l->in_h, l->in_w);
        printf(", \"output_shape\": ");
        json_shape(l->out_c, l->out_h, l->out_w);
        printf(", \"kernel\": %d, \"stride\": %d, \"params\": %ld, \"macs\": %ld, "
               "\"multiplier\": ", l->k, l->stride, l->params, l->macs);
        if (r.mul) luts_json_string(stdout, r.mul);
        else printf("null");
        printf(", \"weight_bits\": ");
        if (r.mul) printf("%d", r.weight_bits);
        else printf("null");
        printf(", \"power_mw\": ");
        luts_json_number(stdout, r.power_mw);
        printf(", \"energy_pj\": ");
        luts_json_number(stdout, costs[i].total_pj);
        printf(", \"energy_share\": ");
        luts_json_number(stdout, total > 0 ? costs[i].total_pj / total : 0.0);
        printf("}");
    }
    printf("\n]}\n");
}

int cmd_show(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(CMD, argc - optind < 2 ? "give an archive DB and a network HASH"
                                                      : "too many arguments");
    archnet a;
    eng_status st = archnet_open(argv[optind], argv[optind + 1], SEARCH_ENV_DATA, &a);
    if (st != ENG_OK) return netcli_engine_error(CMD, st);
    energy_layer_cost *costs = calloc((size_t)a.arch.n + 1, sizeof *costs);
    energy_layer_cost total;
    st = costs ? search_env_layer_costs(&a.env, &a.arch, costs, &total)
               : eng_error(ENG_ERR_NOMEM, "out of memory");
    int rc = CLI_EXIT_OK;
    if (st != ENG_OK) rc = netcli_engine_error(CMD, st);
    else if (json) print_json(&a, costs, total.total_pj);
    else print_text(&a, costs, total.total_pj);
    free(costs);
    archnet_close(&a);
    return rc;
}
