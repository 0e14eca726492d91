/*
 * cmd_pareto.c - `evoapproxnas pareto DB`: the Pareto front of a search (of the whole run or
 * of one generation's population) as a table, JSON or CSV.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

static void print_help(void)
{
    printf("Usage: evoapproxnas pareto DB [--generation G] [--json | --csv]\n"
           "\n"
           "Prints the feasible non-dominated networks of a search archive: of all evaluations\n"
           "(default) or of generation G's population. Columns: hash, validation error,\n"
           "energy per inference (uJ), multiplier energy saved against exact multipliers of\n"
           "the same weight widths (%%) and against exact 8x8 multipliers with 8-bit weights\n"
           "(%%; differs only for 8xN layers), parameters, MACs, exact (all layers exact), test\n"
           "accuracy (after finalize), per-layer multipliers and weight widths, architecture.\n"
           "JSON and CSV add the total energy saved against the all-8x8 exact network.\n"
           "\n"
           "  --generation G  the front of generation G\n"
           "  --json          a JSON array of objects\n"
           "  --csv           CSV with a header line\n"
           "  -h, --help      this help\n");
}

/* Writes s as a JSON string. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
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
    eng_status st = db_open(argv[optind], DB_OPEN_READ, &db);
    if (st != ENG_OK) {
        cli_error("pareto: %s", eng_last_error());
        return CLI_EXIT_USAGE;
    }
    if (gen >= 0 && db_query_double(db, "SELECT max(generation) FROM generations", -1) < gen) {
        cli_error("pareto: %s has no generation %ld", argv[optind], gen);
        db_close(db);
        return CLI_EXIT_USAGE;
    }
    char sql[900];
    snprintf(sql, sizeof sql,
             "SELECT hash, error, energy_pj, CASE WHEN mul_energy_exact_pj > 0 THEN 100.0 * "
             "(1 - mul_energy_pj / mul_energy_exact_pj) ELSE 0 END, params, macs, exact, "
             "test_accuracy, multipliers, summary, CASE WHEN mul_energy_exact8_pj > 0 THEN "
             "100.0 * (1 - mul_energy_pj / mul_energy_exact8_pj) ELSE 0 END, CASE WHEN "
             "energy_exact8_pj > 0 THEN 100.0 * (1 - energy_pj / energy_exact8_pj) ELSE 0 END, "
             "weight_bits FROM %s ORDER BY obj0, obj1, hash",
             gen >= 0 ? "pareto_front_generation WHERE generation = ?" : "pareto_front");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) {
        cli_error("pareto: %s: %s", argv[optind], sqlite3_errmsg(db_handle(db)));
        db_close(db);
        return CLI_EXIT_FAILURE;
    }
    if (gen >= 0) sqlite3_bind_int(s, 1, (int)gen);
    if (fmt == FMT_TABLE)
        printf("%-16s %8s %11s %7s %8s %8s %11s %5s %8s  %s\n", "hash", "error", "energy_uJ",
               "mul_sav", "sav_8x8", "params", "macs", "exact", "test_acc",
               "multipliers (weight bits)");
    else if (fmt == FMT_CSV)
        printf("hash,error,energy_pj,mul_energy_saving_pct,params,macs,exact,test_accuracy,"
               "multipliers,summary,mul_energy_saving_8x8_pct,energy_saving_8x8_pct,"
               "weight_bits\n");
    else
        printf("[");
    int rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(s, 0);
        double err = sqlite3_column_double(s, 1), e = sqlite3_column_double(s, 2);
        double sav = sqlite3_column_double(s, 3);
        long long params = sqlite3_column_int64(s, 4), macs = sqlite3_column_int64(s, 5);
        int exact = sqlite3_column_int(s, 6);
        bool has_test = sqlite3_column_type(s, 7) != SQLITE_NULL;
        double test = sqlite3_column_double(s, 7);
        const char *muls = (const char *)sqlite3_column_text(s, 8);
        const char *sum = (const char *)sqlite3_column_text(s, 9);
        double sav8 = sqlite3_column_double(s, 10), esav8 = sqlite3_column_double(s, 11);
        const char *wbits = (const char *)sqlite3_column_text(s, 12);
        if (fmt == FMT_TABLE) {
            char t[16] = "-";
            if (has_test) snprintf(t, sizeof t, "%.4f", test);
            printf("%-16s %8.4f %11.4f %6.1f%% %7.1f%% %8lld %11lld %5s %8s  %s %s\n", hash,
                   err, e * 1e-6, sav, sav8, params, macs, exact ? "yes" : "no", t, muls, wbits);
        } else if (fmt == FMT_CSV) {
            printf("%s,%.6f,%.3f,%.2f,%lld,%lld,%d,", hash, err, e, sav, params, macs, exact);
            if (has_test) printf("%.6f", test);
            putchar(',');
            csv_string(muls);
            putchar(',');
            csv_string(sum);
            printf(",%.2f,%.2f,", sav8, esav8);
            csv_string(wbits);
            putchar('\n');
        } else {
            printf("%s\n  {\"hash\": \"%s\", \"error\": %.6f, \"energy_pj\": %.3f, "
                   "\"mul_energy_saving_pct\": %.2f, \"params\": %lld, \"macs\": %lld, "
                   "\"exact\": %s, \"test_accuracy\": ", rows ? "," : "", hash, err, e, sav,
                   params, macs, exact ? "true" : "false");
            if (has_test) printf("%.6f", test);
            else printf("null");
            printf(", \"multipliers\": %s, \"weight_bits\": %s, "
                   "\"mul_energy_saving_8x8_pct\": %.2f, \"energy_saving_8x8_pct\": %.2f, "
                   "\"summary\": ", muls, wbits, sav8, esav8);
            json_string(sum);
            printf("}");
        }
        rows++;
    }
    if (fmt == FMT_JSON) printf("%s]\n", rows ? "\n" : "");
    sqlite3_finalize(s);
    db_close(db);
    return CLI_EXIT_OK;
}
