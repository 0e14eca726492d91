/*
 * cmd_scaling.c - `evoapproxnas scaling`: predicts what N ranks would make of a search, from
 * the training times an archive recorded or from a config's random genomes costed by a fit
 * to such an archive; generational and asynchronous scheduling side by side (sched_sim.h).
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "luts_report.h"
#include "nas_genome.h"
#include "sched_sim.h"
#include "search_env.h"

#define SCALING_MAX_RANKS 64            /* entries of --ranks */
#define SCALING_RANKS_LIMIT 1000000     /* largest N */
#define SCALING_DEFAULT_OVERHEAD 0.05   /* seconds of rank 0 per candidate */

static void print_help(void)
{
    printf("Usage: evoapproxnas scaling DB [--ranks LIST] [--overhead S] [--json]\n"
           "       evoapproxnas scaling --config CONFIG --calibrate DB [--seed S] [--ranks LIST]\n"
           "                            [--overhead S] [--json]\n"
           "\n"
           "A scheduler simulator: what N evaluating ranks (an MPI search: docs/distributed.md)\n"
           "would make of a search's candidates, for each N, in two modes:\n"
           "  generational   each generation's candidates go, in order, to the first free rank;\n"
           "                 the next generation starts when all of them have finished\n"
           "  asynchronous   the same candidates, a new one as soon as a rank is free, no\n"
           "                 barrier (steady state: N candidates in flight)\n"
           "Rank 0 spends the dispatch overhead on each candidate, one at a time (sending it,\n"
           "storing its result), and the receiving rank waits for it. Per mode: makespan,\n"
           "efficiency = sum of costs / (N x makespan), and the idle share of the ranks' time.\n"
           "\n"
           "From an archive (DB): the costs are its trained candidates' train_s, by generation,\n"
           "in the order the search issued them. Such a cost is one candidate's wall time as\n"
           "that run trained it (its --threads and parallel setting, printed): a simulated rank\n"
           "is one such worker.\n"
           "\n"
           "From a config (--config CONFIG --calibrate DB): (generations + 1) generations of\n"
           "CONFIG's seeded random genomes (population, then offspring each), each costing\n"
           "k x MACs x CONFIG's training images x epochs, with k (seconds per training MAC) =\n"
           "DB's total train_s / its candidates' total MACs x images x epochs. Assumptions: the\n"
           "cost is proportional to MACs x images x epochs; the spread of random genomes stands\n"
           "in for the spread of evolved ones; no network is reused. The efficiencies depend on\n"
           "the spread only (and on the overhead against the costs), not on k.\n"
           "\n"
           "Options:\n"
           "  --ranks LIST    comma-separated N, 1..%d (default 2,4,8,...,256 and the\n"
           "                  population, marked *)\n"
           "  --overhead S    rank 0's seconds per candidate (default %.2f; 0 = none)\n"
           "  --config FILE   the search config to model (with --calibrate)\n"
           "  --calibrate DB  the archive whose training times calibrate k\n"
           "  --seed S        seed of the random genomes (default: the config's seed)\n"
           "  --json          one JSON object instead of the table\n"
           "  -h, --help      this help\n"
           "\n"
           "Bad options, a missing or damaged archive, an archive without trained candidates or\n"
           "a bad config: one line, exit 2.\n",
           SCALING_RANKS_LIMIT, SCALING_DEFAULT_OVERHEAD);
}

typedef struct scaling_options {
    const char *db;             /* archive mode */
    const char *config;         /* calibrate mode: CONFIG and DB */
    const char *calibrate;
    bool have_seed;
    uint64_t seed;
    int ranks[SCALING_MAX_RANKS + 1];
    int n_ranks;                /* 0: the default list */
    double overhead;
    bool json;
} scaling_options;

/* Parses "2,4,8" into o->ranks; false after printing the message. */
static bool parse_ranks(const char *s, scaling_options *o)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf || !*s) {
        cli_usage_error("scaling", "option --ranks: '%s' is not a list of rank counts", s);
        return false;
    }
    snprintf(buf, sizeof buf, "%s", s);
    o->n_ranks = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long v;
        if (o->n_ranks == SCALING_MAX_RANKS) {
            cli_usage_error("scaling", "option --ranks: more than %d entries",
                            SCALING_MAX_RANKS);
            return false;
        }
        if (!cli_parse_long("--ranks", t, 1, SCALING_RANKS_LIMIT, &v)) return false;
        o->ranks[o->n_ranks++] = (int)v;
    }
    /* strtok_r skips empty fields: refuse "2,,4", ",2" and "2," outright */
    if (o->n_ranks == 0 || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,")) {
        cli_usage_error("scaling", "option --ranks: '%s' is not a list of rank counts", s);
        return false;
    }
    return true;
}

/* Parses argv; returns -1 to go on, or an exit code. */
static int parse_options(int argc, char **argv, scaling_options *o)
{
    static const struct option longopts[] = {
        {"ranks", required_argument, NULL, 'r'},
        {"overhead", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"calibrate", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (scaling_options){.overhead = SCALING_DEFAULT_OVERHEAD};
    optind = 1;
    opterr = 0;
    int c;
    long seed;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (!parse_ranks(optarg, o)) return CLI_EXIT_USAGE;
            break;
        case 'o':
            if (!cli_parse_double("--overhead", optarg, 0, 1e6, &o->overhead))
                return CLI_EXIT_USAGE;
            break;
        case 'c': o->config = optarg; break;
        case 'k': o->calibrate = optarg; break;
        case 's':
            if (!cli_parse_long("--seed", optarg, 0, LONG_MAX, &seed)) return CLI_EXIT_USAGE;
            o->seed = (uint64_t)seed;
            o->have_seed = true;
            break;
        case 'j': o->json = true; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        case ':':
            return cli_usage_error("scaling", "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error("scaling", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc - 1)
        return cli_usage_error("scaling", "unexpected argument '%s'", argv[optind + 1]);
    if (optind == argc - 1) o->db = argv[optind];
    if (o->db && (o->config || o->calibrate))
        return cli_usage_error("scaling", "give either an archive DB or --config with "
                               "--calibrate, not both");
    if (!o->db && !(o->config && o->calibrate))
        return cli_usage_error("scaling", o->config ? "--config needs --calibrate DB"
                               : o->calibrate ? "--calibrate needs --config CONFIG"
                                              : "missing archive DB (or --config and "
                                                "--calibrate)");
    if (o->have_seed && !o->config)
        return cli_usage_error("scaling", "--seed is for --config");
    return -1;
}

/* ------------------------------------------------------------------------------------------
 * Workloads
 * ---------------------------------------------------------------------------------------- */

typedef struct workload {
    double *cost;               /* seconds, issue order */
    double *macs;               /* MACs per image of each candidate */
    int n;
    int *gen_count;
    int n_gens;
    int population;             /* 0 when unknown */
} workload;

static void workload_free(workload *w)
{
    free(w->cost);
    free(w->macs);
    free(w->gen_count);
    memset(w, 0, sizeof *w);
}

/* The trained candidates of an archive: every evaluation (committed or left by an
 * interrupted generation) in its generation, in the order of the first individual that
 * asked for it (the search's issue order; an interrupted generation's leftovers last). */
static eng_status workload_from_archive(db_archive *db, workload *w)
{
    memset(w, 0, sizeof *w);
    sqlite3 *h = db_handle(db);
    int n = (int)db_query_double(db, "SELECT count(*) FROM evaluations", 0);
    int last = (int)db_query_double(db, "SELECT max(generation) FROM evaluations", -1);
    w->population = (int)db_query_double(db, "SELECT count(*) FROM population WHERE "
                                          "generation = 0", 0);
    if (n == 0 || last < 0)
        return eng_error(ENG_ERR_ARG, "%s: no trained candidates (no evaluations yet)",
                         db_path(db));
    w->n_gens = last + 1;
    w->cost = malloc(sizeof(double) * (size_t)n);
    w->macs = malloc(sizeof(double) * (size_t)n);
    w->gen_count = calloc((size_t)w->n_gens, sizeof(int));
    if (!w->cost || !w->macs || !w->gen_count) {
        workload_free(w);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, "SELECT e.generation, e.train_s, e.macs FROM evaluations e "
                           "LEFT JOIN (SELECT hash, min(id) AS first FROM individuals "
                           "GROUP BY hash) i ON i.hash = e.hash "
                           "ORDER BY e.generation, i.first IS NULL, i.first, e.id",
                           -1, &s, NULL) != SQLITE_OK) {
        eng_status st = eng_error(ENG_ERR_IO, "%s: %s", db_path(db), sqlite3_errmsg(h));
        workload_free(w);
        return st;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && w->n < n) {
        int g = sqlite3_column_int(s, 0);
        double t = sqlite3_column_double(s, 1);
        if (g < 0 || g >= w->n_gens || !isfinite(t) || t < 0) {
            sqlite3_finalize(s);
            workload_free(w);
            return eng_error(ENG_ERR_FORMAT, "%s: evaluations: generation %d, train_s %g",
                             db_path(db), g, t);
        }
        w->gen_count[g]++;
        w->macs[w->n] = sqlite3_column_double(s, 2);
        w->cost[w->n++] = t;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        workload_free(w);
        return eng_error(ENG_ERR_IO, "%s: %s", db_path(db), sqlite3_errmsg(h));
    }
    return ENG_OK;
}

/* How a run's costs were recorded, for the "a rank is ..." line (the search's rule in
 * src/search/search.c: several candidates at once, one thread each, unless parallel says within or
 * the device is a GPU). */
static void describe_worker(const db_run *run, char *buf, size_t size)
{
    cfg_search cfg;
    if (cfg_parse(run->config_text, run->config_path, &cfg) != ENG_OK) {
        snprintf(buf, size, "recorded with %d threads (its config no longer parses here: %s)",
                 run->threads, eng_last_error());
        return;
    }
    if (cfg.device != ENG_DEVICE_CPU)
        snprintf(buf, size, "recorded with %d threads, device %s (one candidate at a time "
                 "on a GPU): a rank is one such process", run->threads,
                 eng_device_name(cfg.device));
    else if (cfg.parallel == CFG_PARALLEL_CANDIDATES ||
             (cfg.parallel == CFG_PARALLEL_AUTO && run->threads > 1))
        snprintf(buf, size, "recorded with %d threads, one candidate per thread (%d at once "
                 "on one machine): a rank is one 1-thread worker as loaded then",
                 run->threads, run->threads);
    else
        snprintf(buf, size, "recorded with %d thread%s per candidate: a rank has %d "
                 "thread%s", run->threads, run->threads == 1 ? "" : "s", run->threads,
                 run->threads == 1 ? "" : "s");
    cfg_free(&cfg);
}

typedef struct calibration {
    double k;                   /* seconds per training MAC */
    int n;                      /* candidates of the calibration archive */
    int images, epochs;         /* its training images and epochs */
    double ratio_min, ratio_median, ratio_max;  /* train_s / (k x training MACs) */
    double r;                   /* Pearson correlation of train_s and training MACs */
} calibration;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fits k = sum(train_s) / sum(MACs x images x epochs) over the archive's workload. */
static eng_status fit_calibration(const char *path, const workload *w, const cfg_search *cal,
                                  calibration *out)
{
    double per = (double)cal->dataset.train * cal->training.epochs;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < w->n; i++) {
        double x = w->macs[i] * per, y = w->cost[i];
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    }
    if (!(sx > 0) || !(sy > 0))
        return eng_error(ENG_ERR_ARG, "%s: its candidates' MACs or train_s sum to 0: nothing "
                         "to calibrate with", path);
    *out = (calibration){.k = sy / sx, .n = w->n, .images = cal->dataset.train,
                         .epochs = cal->training.epochs};
    double *ratio = malloc(sizeof(double) * (size_t)w->n);
    if (!ratio) return eng_error(ENG_ERR_NOMEM, "out of memory");
    int m = 0;
    for (int i = 0; i < w->n; i++)
        if (w->macs[i] > 0) ratio[m++] = w->cost[i] / (out->k * w->macs[i] * per);
    qsort(ratio, (size_t)m, sizeof *ratio, cmp_double);
    out->ratio_min = ratio[0];
    out->ratio_max = ratio[m - 1];
    out->ratio_median = m % 2 ? ratio[m / 2] : 0.5 * (ratio[m / 2 - 1] + ratio[m / 2]);
    free(ratio);
    double n = w->n, vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
    out->r = vx > 0 && vy > 0 ? (n * sxy - sx * sy) / sqrt(vx * vy) : NAN;
    return ENG_OK;
}

/* (generations + 1) generations of the config's random genomes (population, then offspring
 * each), costed k x MACs x images x epochs. */
static eng_status workload_from_config(search_env *env, uint64_t seed, double k, workload *w)
{
    const cfg_search *c = &env->cfg;
    memset(w, 0, sizeof *w);
    w->n_gens = c->nsga2.generations + 1;
    w->population = c->nsga2.population;
    long n = c->nsga2.population + (long)c->nsga2.generations * c->nsga2.offspring;
    int len = nas_genome_length(&c->space);
    int *genes = malloc(sizeof(int) * (size_t)len);
    w->cost = malloc(sizeof(double) * (size_t)n);
    w->macs = malloc(sizeof(double) * (size_t)n);
    w->gen_count = malloc(sizeof(int) * (size_t)w->n_gens);
    if (!genes || !w->cost || !w->macs || !w->gen_count) {
        free(genes);
        workload_free(w);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    for (int g = 0; g < w->n_gens; g++)
        w->gen_count[g] = g == 0 ? c->nsga2.population : c->nsga2.offspring;
    double per = (double)c->dataset.train * c->training.epochs;
    uint64_t rng = seed;
    for (long i = 0; i < n; i++) {
        nas_arch arch;
        nas_genome_random(&c->space, &rng, genes);
        eng_status st = nas_genome_decode(&c->space, genes, &arch);
        if (st != ENG_OK) {
            free(genes);
            workload_free(w);
            return eng_error_prefix(st, "%s: random genome %ld", c->path, i);
        }
        w->macs[i] = (double)arch.macs;
        w->cost[i] = k * (double)arch.macs * per;
        nas_arch_free(&arch);
    }
    w->n = (int)n;
    free(genes);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------------------------- */

typedef struct scaling_row {
    int ranks;
    sched_sim_result mode[SCHED_SIM_MODE_COUNT];
} scaling_row;

static void cost_stats(const workload *w, double *lo, double *mean, double *hi, double *sum)
{
    *lo = INFINITY, *hi = 0, *sum = 0;
    for (int i = 0; i < w->n; i++) {
        *lo = fmin(*lo, w->cost[i]);
        *hi = fmax(*hi, w->cost[i]);
        *sum += w->cost[i];
    }
    *mean = *sum / w->n;
}

/* "12.3 s", "45.6 min", "7.89 h" */
static const char *duration(double s, char *buf, size_t size)
{
    if (s < 120) snprintf(buf, size, "%.1f s", s);
    else if (s < 7200) snprintf(buf, size, "%.1f min", s / 60);
    else snprintf(buf, size, "%.2f h", s / 3600);
    return buf;
}

static void print_table(const scaling_row *rows, int n_rows, int population)
{
    printf("\n       %-34s  %s\n", "generational", "asynchronous");
    printf("ranks  %-12s %10s %6s    %-12s %10s %6s\n", "makespan", "efficiency", "idle",
           "makespan", "efficiency", "idle");
    for (int i = 0; i < n_rows; i++) {
        printf("%5d%c", rows[i].ranks, rows[i].ranks == population ? '*' : ' ');
        for (int m = 0; m < SCHED_SIM_MODE_COUNT; m++) {
            char b[32];
            const sched_sim_result *r = &rows[i].mode[m];
            printf(" %-12s %10.3f %6.3f%s", duration(r->makespan, b, sizeof b), r->efficiency,
                   r->idle_share, m + 1 < SCHED_SIM_MODE_COUNT ? "   " : "\n");
        }
    }
    if (population > 0) printf("(* = the population size)\n");
}

static void print_json_rows(const scaling_row *rows, int n_rows)
{
    printf("\"table\":[");
    for (int i = 0; i < n_rows; i++) {
        printf("%s{\"ranks\":%d", i ? "," : "", rows[i].ranks);
        for (int m = 0; m < SCHED_SIM_MODE_COUNT; m++) {
            const sched_sim_result *r = &rows[i].mode[m];
            printf(",\"%s\":{\"makespan_s\":", sched_sim_mode_name((sched_sim_mode)m));
            luts_json_number(stdout, r->makespan);
            printf(",\"efficiency\":");
            luts_json_number(stdout, r->efficiency);
            printf(",\"idle_share\":");
            luts_json_number(stdout, r->idle_share);
            printf(",\"overhead_share\":");
            luts_json_number(stdout, r->overhead_share);
            printf("}");
        }
        printf("}");
    }
    printf("]}\n");
}

static void json_field(const char *name, double v)
{
    printf("\"%s\":", name);
    luts_json_number(stdout, v);
    putchar(',');
}

/* The rank counts: --ranks as given, else 2, 4, ..., 256 and the population in order. */
static int rank_list(const scaling_options *o, int population, int *out)
{
    if (o->n_ranks) {
        memcpy(out, o->ranks, sizeof(int) * (size_t)o->n_ranks);
        return o->n_ranks;
    }
    int n = 0;
    bool placed = population < 2;
    for (int v = 2; v <= 256; v *= 2) {
        if (!placed && population <= v) {
            if (population < v) out[n++] = population;
            placed = true;
        }
        out[n++] = v;
    }
    if (!placed) out[n++] = population;
    return n;
}

/* ------------------------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------------------------- */

/* Opens an archive for reading with its run row; exit code on failure (message printed). */
static int open_archive(const char *path, db_archive **db, db_run *run)
{
    eng_status st = db_open(path, DB_OPEN_READ, db);
    if (st == ENG_OK) st = db_run_load(*db, run);
    if (st != ENG_OK) {
        cli_error("scaling: %s", eng_last_error());
        db_close(*db);
        *db = NULL;
        return st == ENG_ERR_IO ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* What the table is computed from, with the facts its header states. */
typedef struct scaling_source {
    workload w;
    char worker[1400];          /* what a rank is */
    bool calibrated;
    calibration cal;
    char cal_path[CFG_PATH_MAX];
    char config[CFG_PATH_MAX];
    uint64_t seed;
    int images, epochs;         /* the modelled config's */
} scaling_source;

/* Loads src from an archive (or from a config calibrated by one, below); an exit code, with
 * the message printed. */
static int load_from_archive(const char *path, scaling_source *src)
{
    db_archive *db = NULL;
    db_run run;
    int rc = open_archive(path, &db, &run);
    if (rc != CLI_EXIT_OK) return rc;
    eng_status st = workload_from_archive(db, &src->w);
    if (st == ENG_OK) describe_worker(&run, src->worker, sizeof src->worker);
    else cli_error("scaling: %s", eng_last_error());
    db_run_free(&run);
    db_close(db);
    return st == ENG_OK ? CLI_EXIT_OK : st == ENG_ERR_IO ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
}

static int load_from_config(const scaling_options *o, scaling_source *src)
{
    db_archive *db = NULL;
    db_run run;
    workload cw;
    cfg_search cal, cfg;
    int rc = open_archive(o->calibrate, &db, &run);
    if (rc != CLI_EXIT_OK) return rc;
    eng_status st = workload_from_archive(db, &cw);
    if (st == ENG_OK) {
        st = cfg_parse(run.config_text, run.config_path, &cal);
        if (st != ENG_OK)
            st = eng_error_prefix(st, "%s: its archived config", o->calibrate);
        else {
            st = fit_calibration(o->calibrate, &cw, &cal, &src->cal);
            cfg_free(&cal);
        }
        workload_free(&cw);
    }
    if (st == ENG_OK) describe_worker(&run, src->worker, sizeof src->worker);
    db_run_free(&run);
    db_close(db);
    if (st != ENG_OK) {
        cli_error("scaling: %s", eng_last_error());
        return st == ENG_ERR_IO ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    snprintf(src->cal_path, sizeof src->cal_path, "%s", o->calibrate);
    src->calibrated = true;

    search_env env;
    st = cfg_load(o->config, &cfg);
    if (st == ENG_OK) st = search_env_open(&env, &cfg, 0);
    if (st != ENG_OK) {
        cli_error("scaling: %s", eng_last_error());
        return st == ENG_ERR_IO ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    src->seed = o->have_seed ? o->seed : env.cfg.seed;
    src->images = env.cfg.dataset.train;
    src->epochs = env.cfg.training.epochs;
    snprintf(src->config, sizeof src->config, "%s", o->config);
    st = workload_from_config(&env, src->seed, src->cal.k, &src->w);
    search_env_close(&env);
    if (st != ENG_OK) {
        cli_error("scaling: %s", eng_last_error());
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static void print_header(const scaling_options *o, const scaling_source *src)
{
    const workload *w = &src->w;
    double lo, mean, hi, sum;
    char b1[32], b2[32], b3[32], b4[32];
    cost_stats(w, &lo, &mean, &hi, &sum);
    if (src->calibrated) {
        const calibration *c = &src->cal;
        printf("scaling model of %s-like costs: %d random genomes (seed %llu) in %d "
               "generations (population %d)\n"
               "fit: %.4g s per training MAC = total train_s / total MACs x %d images x %d "
               "epochs of the %d trained candidates of %s; a candidate's time is %.2f-%.2fx "
               "the fit (median %.2fx), correlation with MACs %.2f\n"
               "calibration costs %s\n"
               "costs (fit x MACs x %d images x %d epochs):",
               src->config, w->n, (unsigned long long)src->seed, w->n_gens, w->population,
               c->k, c->images, c->epochs, c->n, src->cal_path, c->ratio_min, c->ratio_max,
               c->ratio_median, c->r, src->worker, src->images, src->epochs);
    } else {
        printf("scaling model of %s: %d trained candidates in %d generations", o->db, w->n,
               w->n_gens);
        if (w->population) printf(" (population %d)", w->population);
        printf("\ncosts %s\ncosts (train_s):", src->worker);
    }
    printf(" %s to %s, mean %s, total %s\n", duration(lo, b1, sizeof b1),
           duration(hi, b2, sizeof b2), duration(mean, b3, sizeof b3),
           duration(sum, b4, sizeof b4));
    printf("dispatch: %.3g s of rank 0 per candidate (--overhead)\n", o->overhead);
}

static void print_json_header(const scaling_options *o, const scaling_source *src)
{
    const workload *w = &src->w;
    double lo, mean, hi, sum;
    cost_stats(w, &lo, &mean, &hi, &sum);
    printf("{\"source\":");
    luts_json_string(stdout, src->calibrated ? "config" : "archive");
    if (src->calibrated) {
        const calibration *c = &src->cal;
        printf(",\"config\":");
        luts_json_string(stdout, src->config);
        printf(",\"seed\":%llu,\"calibration\":{\"archive\":", (unsigned long long)src->seed);
        luts_json_string(stdout, src->cal_path);
        printf(",\"candidates\":%d,\"images\":%d,\"epochs\":%d,", c->n, c->images, c->epochs);
        json_field("seconds_per_training_mac", c->k);
        json_field("ratio_min", c->ratio_min);
        json_field("ratio_median", c->ratio_median);
        json_field("ratio_max", c->ratio_max);
        printf("\"correlation\":");
        luts_json_number(stdout, c->r);
        printf("},\"images\":%d,\"epochs\":%d", src->images, src->epochs);
    } else {
        printf(",\"archive\":");
        luts_json_string(stdout, o->db);
    }
    printf(",\"worker\":");
    luts_json_string(stdout, src->worker);
    printf(",\"candidates\":%d,\"generations\":%d,\"population\":%d,", w->n, w->n_gens,
           w->population);
    json_field("work_s", sum);
    json_field("cost_min_s", lo);
    json_field("cost_mean_s", mean);
    json_field("cost_max_s", hi);
    json_field("overhead_s", o->overhead);
}

int cmd_scaling(int argc, char **argv)
{
    scaling_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;
    scaling_source src;
    memset(&src, 0, sizeof src);
    rc = o.db ? load_from_archive(o.db, &src) : load_from_config(&o, &src);
    if (rc != CLI_EXIT_OK) return rc;

    int ranks[SCALING_MAX_RANKS + 2];
    int n_rows = rank_list(&o, src.w.population, ranks);
    scaling_row *rows = calloc((size_t)n_rows, sizeof *rows);
    if (!rows) {
        workload_free(&src.w);
        cli_error("scaling: out of memory");
        return CLI_EXIT_FAILURE;
    }
    sched_sim_workload sw = {.cost = src.w.cost, .n = src.w.n, .gen_count = src.w.gen_count,
                             .n_gens = src.w.n_gens};
    eng_status st = ENG_OK;
    for (int i = 0; i < n_rows && st == ENG_OK; i++) {
        rows[i].ranks = ranks[i];
        for (int m = 0; m < SCHED_SIM_MODE_COUNT && st == ENG_OK; m++)
            st = sched_sim_run(&sw, ranks[i], o.overhead, (sched_sim_mode)m, &rows[i].mode[m]);
    }
    if (st != ENG_OK) {
        cli_error("scaling: %s", eng_last_error());
        rc = st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    } else if (o.json) {
        print_json_header(&o, &src);
        print_json_rows(rows, n_rows);
    } else {
        print_header(&o, &src);
        print_table(rows, n_rows, src.w.population);
    }
    free(rows);
    workload_free(&src.w);
    return rc;
}
