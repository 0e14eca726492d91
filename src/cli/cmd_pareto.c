/*
 * cmd_pareto.c - `evoapproxnas pareto DB`: the Pareto front of a search (of the whole run or
 * of one generation's population) as a table, JSON or CSV, with the objectives by name and
 * finalize's exact baselines.
 */
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"
#include "luts_report.h"

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

static void print_help(void)
{
    printf("Usage: evoapproxnas pareto DB [--generation G] [--json | --csv]\n"
           "\n"
           "Prints the feasible non-dominated networks of a search archive: of all evaluations\n"
           "(default) or of generation G's population, sorted by the search's objectives in\n"
           "config order. Columns: hash; each objective by name (energies in uJ in the table,\n"
           "pJ in JSON and CSV); multiplier energy saved against exact multipliers (%%),\n"
           "parameters, MACs, exact (all layers exact), test accuracy (after finalize); then,\n"
           "once finalize trained the exact baselines, the test-accuracy change (points) and\n"
           "the energy saving (%% of total energy) against the network's all-exact variant\n"
           "(dacc_allex, esav_allex) and against the archive's best exact network (dacc_best,\n"
           "esav_best); per-layer multipliers, architecture. mul_sav is against exact\n"
           "multipliers of each layer's weight width, sav_8x8 against exact 8x8 multipliers\n"
           "with 8-bit weights (they differ for 8xN layers, whose widths follow the\n"
           "multipliers); JSON and CSV add the widths and the total energy saved against the\n"
           "all-8x8 exact network.\n"
           "\n"
           "  --generation G  the front of generation G\n"
           "  --json          a JSON array of objects\n"
           "  --csv           CSV with a header line\n"
           "  -h, --help      this help\n");
}

/* Writes s as a CSV field (quoted, quotes doubled). */
static void csv_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Splits "error,energy" into names; the count. */
static int split_objectives(const char *list, char names[DB_MAX_OBJECTIVES][32])
{
    int n = 0;
    for (const char *p = list; *p && n < DB_MAX_OBJECTIVES;) {
        size_t len = strcspn(p, ",");
        snprintf(names[n++], 32, "%.*s", (int)(len < 31 ? len : 31), p);
        p += len + (p[len] == ',');
    }
    return n;
}

static bool is_energy(const char *name)
{
    return strcmp(name, "energy") == 0 || strcmp(name, "mul_energy") == 0;
}

/* Table width of an objective's column (its header: name, "_uJ" for energies). */
static int col_width(const char *name)
{
    int w = (int)strlen(name) + (is_energy(name) ? 3 : 0);
    return w > 8 ? w : 8;
}

/* The columns of one front row. */
typedef struct row {
    const char *hash, *muls, *summary, *wbits;
    double obj[DB_MAX_OBJECTIVES], sav, sav8, esav8, test;
    long long params, macs;
    int exact;
    bool has_test;
    double dacc_allex, esav_allex, dacc_best, esav_best;   /* NAN: baseline not finalized */
} row;

static double col_or_nan(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static void read_row(sqlite3_stmt *s, row *r)
{
    int k = 0;
    r->hash = (const char *)sqlite3_column_text(s, k++);
    for (int i = 0; i < DB_MAX_OBJECTIVES; i++) r->obj[i] = sqlite3_column_double(s, k++);
    double energy = sqlite3_column_double(s, k++);
    r->sav = sqlite3_column_double(s, k++);
    r->params = sqlite3_column_int64(s, k++);
    r->macs = sqlite3_column_int64(s, k++);
    r->exact = sqlite3_column_int(s, k++);
    r->has_test = sqlite3_column_type(s, k) != SQLITE_NULL;
    r->test = col_or_nan(s, k++);
    r->muls = (const char *)sqlite3_column_text(s, k++);
    r->summary = (const char *)sqlite3_column_text(s, k++);
    double v_acc = col_or_nan(s, k++), v_energy = col_or_nan(s, k++);
    double b_acc = col_or_nan(s, k++), b_energy = col_or_nan(s, k++);
    r->sav8 = sqlite3_column_double(s, k++);
    r->esav8 = sqlite3_column_double(s, k++);
    r->wbits = (const char *)sqlite3_column_text(s, k++);
    r->dacc_allex = 100.0 * (r->test - v_acc);
    r->esav_allex = 100.0 * (1.0 - energy / v_energy);
    r->dacc_best = 100.0 * (r->test - b_acc);
    r->esav_best = 100.0 * (1.0 - energy / b_energy);
}

static void table_num(double v, const char *fmt)
{
    if (isnan(v)) printf(" %10s", "-");
    else printf(fmt, v);
}

static void csv_num(double v, const char *fmt)
{
    putchar(',');
    if (!isnan(v)) printf(fmt, v);
}

static void print_row(int fmt, const row *r, int n_obj, char names[][32], int index)
{
    if (fmt == FMT_TABLE) {
        printf("%-16s", r->hash);
        for (int i = 0; i < n_obj; i++)
            printf(" %*.4f", col_width(names[i]),
                   is_energy(names[i]) ? r->obj[i] * 1e-6 : r->obj[i]);
        printf(" %6.1f%% %6.1f%% %8lld %11lld %5s", r->sav, r->sav8, r->params, r->macs,
               r->exact ? "yes" : "no");
        table_num(r->has_test ? r->test : NAN, " %10.4f");
        table_num(r->dacc_allex, " %+10.2f");
        table_num(r->esav_allex, " %9.1f%%");
        table_num(r->dacc_best, " %+10.2f");
        table_num(r->esav_best, " %9.1f%%");
        printf("  %s %s\n", r->muls, r->wbits);
    } else if (fmt == FMT_CSV) {
        printf("%s", r->hash);
        for (int i = 0; i < n_obj; i++) printf(",%.10g", r->obj[i]);
        printf(",%.2f,%lld,%lld,%d", r->sav, r->params, r->macs, r->exact);
        csv_num(r->has_test ? r->test : NAN, "%.6f");
        csv_num(r->dacc_allex, "%.4f");
        csv_num(r->esav_allex, "%.4f");
        csv_num(r->dacc_best, "%.4f");
        csv_num(r->esav_best, "%.4f");
        putchar(',');
        csv_string(r->muls);
        putchar(',');
        csv_string(r->summary);
        printf(",%.2f,%.2f,", r->sav8, r->esav8);
        csv_string(r->wbits);
        putchar('\n');
    } else {
        printf("%s\n  {\"hash\": \"%s\", \"objectives\": {", index ? "," : "", r->hash);
        for (int i = 0; i < n_obj; i++) {
            printf("%s\"%s\": ", i ? ", " : "", names[i]);
            luts_json_number(stdout, r->obj[i]);
        }
        printf("}, \"mul_energy_saving_pct\": %.2f, \"params\": %lld, \"macs\": %lld, "
               "\"exact\": %s, \"test_accuracy\": ", r->sav, r->params, r->macs,
               r->exact ? "true" : "false");
        luts_json_number(stdout, r->has_test ? r->test : NAN);
        printf(", \"test_accuracy_change_vs_all_exact_pp\": ");
        luts_json_number(stdout, r->dacc_allex);
        printf(", \"energy_saving_vs_all_exact_pct\": ");
        luts_json_number(stdout, r->esav_allex);
        printf(", \"test_accuracy_change_vs_best_exact_pp\": ");
        luts_json_number(stdout, r->dacc_best);
        printf(", \"energy_saving_vs_best_exact_pct\": ");
        luts_json_number(stdout, r->esav_best);
        printf(", \"multipliers\": %s, \"weight_bits\": %s, \"mul_energy_saving_8x8_pct\": "
               "%.2f, \"energy_saving_8x8_pct\": %.2f, \"summary\": ", r->muls, r->wbits,
               r->sav8, r->esav8);
        luts_json_string(stdout, r->summary);
        printf("}");
    }
}

int cmd_pareto(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"generation", required_argument, NULL, 'g'}, {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},              {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long gen = -1;
    int fmt = FMT_TABLE, n_fmt = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (!cli_parse_long("--generation", optarg, 0, 1000000, &gen)) return CLI_EXIT_USAGE;
            break;
        case 'j': fmt = FMT_JSON, n_fmt++; break;
        case 'c': fmt = FMT_CSV, n_fmt++; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        default: return cli_usage_error("pareto", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (n_fmt > 1) return cli_usage_error("pareto", "--json and --csv exclude each other");
    if (optind != argc - 1)
        return cli_usage_error("pareto", optind >= argc ? "missing archive DB"
                                                        : "too many arguments");
    db_archive *db;
    db_run run = {0};
    eng_status st = db_open(argv[optind], DB_OPEN_READ, &db);
    if (st == ENG_OK) st = db_run_load(db, &run);
    if (st != ENG_OK) {
        cli_error("pareto: %s", eng_last_error());
        db_close(db);
        return CLI_EXIT_USAGE;
    }
    if (gen >= 0 && db_query_double(db, "SELECT max(generation) FROM generations", -1) < gen) {
        cli_error("pareto: %s has no generation %ld", argv[optind], gen);
        db_run_free(&run);
        db_close(db);
        return CLI_EXIT_USAGE;
    }
    char names[DB_MAX_OBJECTIVES][32];
    int n_obj = split_objectives(run.objectives, names);
    db_run_free(&run);
    /* before a finalize the archive has no table `finalized`: an empty one stands in */
    bool finalized = db_has_table(db, "finalized");
    char sql[2048];
    snprintf(sql, sizeof sql,
             "%s SELECT f.hash, f.obj0, f.obj1, f.obj2, f.obj3, f.energy_pj, CASE WHEN "
             "f.mul_energy_exact_pj > 0 THEN 100.0 * (1 - f.mul_energy_pj / "
             "f.mul_energy_exact_pj) ELSE 0 END, f.params, f.macs, f.exact, f.test_accuracy, "
             "f.multipliers, f.summary, v.test_accuracy, v.energy_pj, b.test_accuracy, "
             "b.energy_pj, CASE WHEN f.mul_energy_exact8_pj > 0 THEN 100.0 * (1 - "
             "f.mul_energy_pj / f.mul_energy_exact8_pj) ELSE 0 END, CASE WHEN "
             "f.energy_exact8_pj > 0 THEN 100.0 * (1 - f.energy_pj / f.energy_exact8_pj) ELSE 0 "
             "END, f.weight_bits FROM %s f "
             "LEFT JOIN finalized v ON v.hash = f.hash AND v.variant = 'exact' "
             "LEFT JOIN finalized b ON b.variant = 'searched' AND b.hash = (SELECT hash FROM "
             "archived WHERE exact = 1 AND violation = 0 ORDER BY error, energy_pj, hash "
             "LIMIT 1) ORDER BY f.obj0, f.obj1, f.obj2, f.obj3, f.hash",
             finalized ? "" : "WITH finalized(hash, variant, energy_pj, test_accuracy) AS "
                              "(SELECT NULL, NULL, NULL, NULL WHERE 0)",
             gen >= 0 ? "pareto_front_generation" : "pareto_front");
    if (gen >= 0) {
        char *order = strstr(sql, " ORDER BY f.obj0");
        char tail[200];
        snprintf(tail, sizeof tail, "%s", order);
        snprintf(order, sizeof sql - (size_t)(order - sql), " WHERE f.generation = ?%s", tail);
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) {
        cli_error("pareto: %s: %s", argv[optind], sqlite3_errmsg(db_handle(db)));
        db_close(db);
        return CLI_EXIT_FAILURE;
    }
    if (gen >= 0) sqlite3_bind_int(s, 1, (int)gen);
    if (fmt == FMT_TABLE) {
        printf("%-16s", "hash");
        for (int i = 0; i < n_obj; i++) {
            char head[40];
            snprintf(head, sizeof head, "%.31s%s", names[i], is_energy(names[i]) ? "_uJ" : "");
            printf(" %*s", col_width(names[i]), head);
        }
        printf(" %7s %7s %8s %11s %5s %10s %10s %10s %10s %10s  %s\n", "mul_sav", "sav_8x8",
               "params", "macs", "exact", "test_acc", "dacc_allex", "esav_allex", "dacc_best",
               "esav_best", "multipliers (weight bits)");
    } else if (fmt == FMT_CSV) {
        printf("hash");
        for (int i = 0; i < n_obj; i++)
            printf(",%s%s", names[i], is_energy(names[i]) ? "_pj" : "");
        printf(",mul_energy_saving_pct,params,macs,exact,test_accuracy,"
               "test_accuracy_change_vs_all_exact_pp,energy_saving_vs_all_exact_pct,"
               "test_accuracy_change_vs_best_exact_pp,energy_saving_vs_best_exact_pct,"
               "multipliers,summary,mul_energy_saving_8x8_pct,energy_saving_8x8_pct,"
               "weight_bits\n");
    } else {
        printf("[");
    }
    int rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        row r;
        read_row(s, &r);
        print_row(fmt, &r, n_obj, names, rows++);
    }
    if (fmt == FMT_JSON) printf("%s]\n", rows ? "\n" : "");
    sqlite3_finalize(s);
    db_close(db);
    return CLI_EXIT_OK;
}
