/*
 * cmd_nsga2.c - `evoapproxnas nsga2`: runs the generic NSGA-II on a ZDT/DTLZ test problem and
 * prints the final non-dominated front with its hypervolume and IGD.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "evo_indicators.h"
#include "evo_nsga2.h"
#include "evo_problems.h"

#define NSGA2_MAX_OBJ 8          /* the hypervolume of larger fronts gets slow */
#define NSGA2_TRUE_FRONT 1000    /* requested size of the true-front sample */

static void print_help(void)
{
    printf("Usage: evoapproxnas nsga2 --problem NAME [options]\n"
           "\n"
           "Runs NSGA-II on a standard test problem and prints the final non-dominated front,\n"
           "its hypervolume and its IGD against the true Pareto front.\n"
           "\n"
           "Options:\n"
           "  --problem NAME    %s (required)\n"
           "  --objectives M    objectives of a DTLZ problem, 2..%d (default 3; ZDT has 2)\n"
           "  --pop N           population size, 2..10000 (default 100)\n"
           "  --gens G          generations, 0..1000000 (default 250)\n"
           "  --seed S          random seed, 0..%ld (default 1)\n"
           "  --json            print JSON (front with decision vectors) instead of text\n"
           "  -h, --help        show this help\n"
           "\n"
           "Settings: SBX eta 20, polynomial mutation eta 20, crossover 0.9, mutation 1/n.\n"
           "Text output: '#' lines (settings, hypervolume, igd) and one line per front point\n"
           "(objectives, sorted by f1). Hypervolume: reference point (1.1, ..., 1.1); ZDT\n"
           "objectives as they are, DTLZ objectives normalized by the ideal and nadir points of\n"
           "the true front. IGD: against a sample of about %d points of the true front.\n",
           evo_test_problem_names(), NSGA2_MAX_OBJ, LONG_MAX, NSGA2_TRUE_FRONT);
}

typedef struct nsga2_options {
    const char *problem;
    long n_obj;
    long pop;
    long gens;
    long seed;
    bool json;
} nsga2_options;

/* Parses argv; returns -1 to go on, or an exit code. */
static int parse_options(int argc, char **argv, nsga2_options *o)
{
    static const struct option longopts[] = {
        {"problem", required_argument, NULL, 'p'},
        {"objectives", required_argument, NULL, 'm'},
        {"pop", required_argument, NULL, 'n'},
        {"gens", required_argument, NULL, 'g'},
        {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (nsga2_options){.problem = NULL, .n_obj = 0, .pop = 100, .gens = 250, .seed = 1};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->problem = optarg; break;
        case 'm':
            if (!cli_parse_long("--objectives", optarg, 2, NSGA2_MAX_OBJ, &o->n_obj))
                return CLI_EXIT_USAGE;
            break;
        case 'n':
            if (!cli_parse_long("--pop", optarg, 2, 10000, &o->pop)) return CLI_EXIT_USAGE;
            break;
        case 'g':
            if (!cli_parse_long("--gens", optarg, 0, 1000000, &o->gens)) return CLI_EXIT_USAGE;
            break;
        case 's':
            if (!cli_parse_long("--seed", optarg, 0, LONG_MAX, &o->seed))
                return CLI_EXIT_USAGE;
            break;
        case 'j': o->json = true; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        case ':': return cli_usage_error("nsga2", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("nsga2", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("nsga2", "unexpected argument '%s'", argv[optind]);
    if (!o->problem) return cli_usage_error("nsga2", "--problem is required (%s)",
                                            evo_test_problem_names());
    return -1;
}

/* The shortest of %.15g / %.17g that reads back as v (JSON has no inf or NaN: null). */
static void print_json_number(double v)
{
    char buf[32];
    if (!isfinite(v)) {
        printf("null");
        return;
    }
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, stdout);
}

static void print_json_array(const double *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++) {
        if (i) putchar(',');
        print_json_number(v[i]);
    }
    putchar(']');
}

/* The first-front members in order of f1 (then of f2, ...), as population indices. */
static int collect_front(const evo_nsga2 *ga, int m, int *idx)
{
    int k = 0;
    for (int i = 0; i < evo_nsga2_pop_size(ga); i++) {
        evo_individual ind = evo_nsga2_individual(ga, i);
        if (ind.rank != 0) continue;
        int j = k++;
        while (j > 0) {   /* insertion sort, stable */
            const double *a = evo_nsga2_individual(ga, idx[j - 1]).f;
            int c = 0;
            while (c < m && a[c] == ind.f[c]) c++;
            if (c == m || a[c] < ind.f[c]) break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return k;
}

int cmd_nsga2(int argc, char **argv)
{
    nsga2_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;
    evo_test_problem tp;
    if (evo_test_problem_init(&tp, o.problem, (int)o.n_obj, 0) != EVO_OK)
        return cli_usage_error("nsga2", "%s", evo_last_error());
    const int m = tp.n_obj;
    evo_problem prob;
    evo_test_problem_as_problem(&tp, &prob);
    evo_params par;
    evo_params_default(&par);
    par.pop_size = (int)o.pop;
    par.seed = (uint64_t)o.seed;

    evo_nsga2 *ga = NULL;
    double *true_front = NULL, *front = NULL;
    int *idx = NULL, n_true = 0;
    rc = CLI_EXIT_FAILURE;
    evo_status st = evo_nsga2_create(&prob, &par, &ga);
    if (st == EVO_OK) st = evo_nsga2_run(ga, (int)o.gens);
    if (st == EVO_OK) st = evo_test_problem_front(&tp, NSGA2_TRUE_FRONT, &true_front, &n_true);
    if (st != EVO_OK) {
        cli_error("nsga2 %s: %s", tp.name, evo_last_error());
        goto out;
    }
    idx = malloc((size_t)o.pop * sizeof *idx);
    front = malloc((size_t)o.pop * m * sizeof *front);
    if (!idx || !front) {
        cli_error("nsga2: out of memory");
        goto out;
    }
    int k = collect_front(ga, m, idx);
    for (int i = 0; i < k; i++)
        memcpy(front + (size_t)i * m, evo_nsga2_individual(ga, idx[i]).f, m * sizeof *front);
    double igd = evo_igd(front, k, true_front, n_true, m);

    /* hypervolume: ZDT as is, DTLZ normalized by the true front's ideal and nadir points */
    bool normalized = tp.id >= EVO_TEST_DTLZ1;
    double ideal[EVO_TEST_MAX_OBJ], nadir[EVO_TEST_MAX_OBJ], ref[EVO_TEST_MAX_OBJ], hv;
    for (int j = 0; j < m; j++) ref[j] = 1.1;
    evo_front_bounds(true_front, n_true, m, ideal, nadir);
    if (normalized) evo_normalize(front, k, m, ideal, nadir, front);
    if (evo_hypervolume(front, k, m, ref, &hv) != EVO_OK) {
        cli_error("nsga2 %s: %s", tp.name, evo_last_error());
        goto out;
    }

    if (o.json) {
        printf("{\"problem\":\"%s\",\"objectives\":%d,\"variables\":%d,\"pop\":%ld,"
               "\"generations\":%ld,\"seed\":%ld,\"evaluations\":%llu,", tp.name, m, tp.n_var,
               o.pop, o.gens, o.seed, (unsigned long long)evo_nsga2_evaluations(ga));
        printf("\"hypervolume\":");
        print_json_number(hv);
        printf(",\"reference_point\":");
        print_json_array(ref, m);
        printf(",\"normalized\":%s,\"igd\":", normalized ? "true" : "false");
        print_json_number(igd);
        printf(",\"true_front_points\":%d,\"front\":[", n_true);
        for (int i = 0; i < k; i++) {
            evo_individual ind = evo_nsga2_individual(ga, idx[i]);
            printf("%s\n{\"f\":", i ? "," : "");
            print_json_array(ind.f, m);
            printf(",\"x\":");
            print_json_array(ind.x, tp.n_var);
            putchar('}');
        }
        printf("]}\n");
    } else {
        printf("# nsga2 %s: %d objectives, %d variables, population %ld, %ld generations, "
               "seed %ld, %llu evaluations\n", tp.name, m, tp.n_var, o.pop, o.gens, o.seed,
               (unsigned long long)evo_nsga2_evaluations(ga));
        printf("# front: %d points (f1 ... f%d)\n", k, m);
        for (int i = 0; i < k; i++) {
            const double *f = evo_nsga2_individual(ga, idx[i]).f;
            for (int j = 0; j < m; j++) printf(j ? " %.9g" : "%.9g", f[j]);
            putchar('\n');
        }
        printf("# hypervolume %.6f (reference 1.1 per objective, %s)\n", hv,
               normalized ? "normalized by the true front's ideal and nadir" : "f as is");
        printf("# igd %.6f (true front sample of %d points)\n", igd, n_true);
    }
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
out:
    evo_nsga2_free(ga);
    free(true_front);
    free(front);
    free(idx);
    return rc;
}
