/*
 * cmd_report.c - `evoapproxnas report DB`: the SVG plot of a search (error vs energy, front,
 * exact-multiplier networks) and a summary of what approximate multipliers bought.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "commands.h"
#include "report.h"

static void print_help(void)
{
    printf("Usage: evoapproxnas report DB [-o FILE.svg]\n"
           "\n"
           "Draws validation error against energy per inference (the multiplications' energy\n"
           "when that is what the search minimized) for every network the search\n"
           "evaluated, with the Pareto front highlighted and the networks whose layers all use\n"
           "exact multipliers marked (default output: DB with .svg instead of .db). Prints the\n"
           "best exact-multiplier network and the front's approximate networks within one\n"
           "point of its accuracy, with the multiplier energy they save, and, after\n"
           "`finalize`, each front network's test-accuracy change and energy saving against\n"
           "its all-exact variant and against the best exact network (both retrained alike).\n"
           "\n"
           "  -o, --output FILE  the SVG file\n"
           "  -h, --help         this help\n");
}

/* True when name is one of the comma-separated objectives. */
static bool objective_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

/* Prints the comparison with the best exact-multiplier network. */
static void summary(db_archive *db)
{
    double best_exact = db_query_double(db, "SELECT min(error) FROM archived WHERE exact = 1 "
                                            "AND violation = 0", -1);
    if (best_exact < 0) {
        printf("no exact-multiplier network was evaluated: nothing to compare with\n");
        return;
    }
    printf("best exact-multiplier network: validation error %.4f (accuracy %.2f%%)\n",
           best_exact, 100 * (1 - best_exact));
    sqlite3_stmt *s;
    const char *sql = "SELECT hash, error, energy_pj, 100.0 * (1 - mul_energy_pj / "
                      "mul_energy_exact_pj) AS saving, CASE WHEN mul_energy_exact8_pj > 0 THEN "
                      "100.0 * (1 - mul_energy_pj / mul_energy_exact8_pj) ELSE 0 END FROM "
                      "pareto_front WHERE exact = 0 AND mul_energy_exact_pj > 0 AND error <= ? "
                      "+ 0.01 ORDER BY saving DESC";
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) return;
    sqlite3_bind_double(s, 1, best_exact);
    int n = 0, n30 = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        double sav = sqlite3_column_double(s, 3), sav8 = sqlite3_column_double(s, 4);
        printf("  front, approximate, within 1 point: %s error %.4f energy %.4f uJ, "
               "multiplier energy saved %.1f%% (%.1f%% against exact 8x8)\n",
               (const char *)sqlite3_column_text(s, 0), sqlite3_column_double(s, 1),
               sqlite3_column_double(s, 2) * 1e-6, sav, sav8);
        n++;
        n30 += sav >= 30.0;
    }
    sqlite3_finalize(s);
    printf("%d approximate front networks within 1 point of the best exact accuracy, %d of them "
           "saving >= 30%% of the multiplier energy\n", n, n30);
}

/* After finalize: the front against its exact baselines (test accuracy, total energy). */
static void baselines(db_archive *db)
{
    if (!db_has_table(db, "finalized")) return;
    const char *sql =
        "SELECT f.hash, f.test_accuracy, 100 * (f.test_accuracy - v.test_accuracy), "
        "100 * (1 - f.energy_pj / v.energy_pj), 100 * (f.test_accuracy - b.test_accuracy), "
        "100 * (1 - f.energy_pj / b.energy_pj), b.hash, b.test_accuracy FROM pareto_front f "
        "JOIN finalized v ON v.hash = f.hash AND v.variant = 'exact' "
        "JOIN finalized b ON b.variant = 'searched' AND b.hash = (SELECT hash FROM archived "
        "WHERE exact = 1 AND violation = 0 ORDER BY error, energy_pj, hash LIMIT 1) "
        "WHERE f.test_accuracy IS NOT NULL ORDER BY f.obj0, f.obj1, f.hash";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) return;
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n++ == 0)
            printf("finalized front against exact baselines (test accuracy; best exact network "
                   "%s, test accuracy %.4f):\n", (const char *)sqlite3_column_text(s, 6),
                   sqlite3_column_double(s, 7));
        printf("  %s test accuracy %.4f: %+.2f points, %.1f%% less energy than its all-exact "
               "variant; %+.2f points, %.1f%% less energy than the best exact network\n",
               (const char *)sqlite3_column_text(s, 0), sqlite3_column_double(s, 1),
               sqlite3_column_double(s, 2), sqlite3_column_double(s, 3),
               sqlite3_column_double(s, 4), sqlite3_column_double(s, 5));
    }
    sqlite3_finalize(s);
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    const char *out = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        default: return cli_usage_error("report", "unknown option or missing value '%s'",
                                        argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("report", optind >= argc ? "missing archive DB"
                                                        : "too many arguments");
    const char *path = argv[optind];
    char def[4200];
    if (!out) {
        size_t len = strlen(path);
        if (len > 3 && strcmp(path + len - 3, ".db") == 0)
            snprintf(def, sizeof def, "%.*s.svg", (int)(len - 3), path);
        else
            snprintf(def, sizeof def, "%s.svg", path);
        out = def;
    }
    db_archive *db;
    db_run run;
    if (db_open(path, DB_OPEN_READ, &db) != ENG_OK || db_run_load(db, &run) != ENG_OK) {
        cli_error("report: %s", eng_last_error());
        db_close(db);
        return CLI_EXIT_USAGE;
    }
    /* x axis: the energy the search minimized (total, or the multiplications' only) */
    bool mul_axis = !objective_listed(run.objectives, "energy") &&
                    objective_listed(run.objectives, "mul_energy");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s, error, exact, hash IN (SELECT hash FROM "
             "pareto_front) FROM archived WHERE violation = 0",
             mul_axis ? "mul_energy_pj" : "energy_pj");
    sqlite3_stmt *s;
    int cap = (int)db_query_double(db, "SELECT count(*) FROM archived", 0), n = 0;
    report_point *pts = malloc(sizeof *pts * (size_t)(cap > 0 ? cap : 1));
    int rc = CLI_EXIT_OK;
    if (!pts || sqlite3_prepare_v2(db_handle(db), sql, -1, &s, NULL) != SQLITE_OK) {
        cli_error("report: %s: cannot read the evaluations", path);
        rc = CLI_EXIT_FAILURE;
    } else {
        while (n < cap && sqlite3_step(s) == SQLITE_ROW) {
            pts[n].energy_uj = sqlite3_column_double(s, 0) * 1e-6;
            pts[n].error_pct = sqlite3_column_double(s, 1) * 100;
            pts[n].exact = sqlite3_column_int(s, 2) != 0;
            pts[n].front = sqlite3_column_int(s, 3) != 0;
            n++;
        }
        sqlite3_finalize(s);
        char title[200];
        snprintf(title, sizeof title, "%s: validation error vs %s (%s)", run.name,
                 mul_axis ? "multiplier energy" : "energy", run.status);
        if (n == 0) {
            cli_error("report: %s has no completed generation yet", path);
            rc = CLI_EXIT_USAGE;
        } else if (report_svg_write(out, title, mul_axis ? "multiplier energy per inference (uJ)"
                                                         : "energy per inference (uJ)",
                                    pts, n) != ENG_OK) {
            cli_error("report: %s", eng_last_error());
            rc = CLI_EXIT_FAILURE;
        } else {
            printf("wrote %s (%d networks)\n", out, n);
            summary(db);
            baselines(db);
        }
    }
    free(pts);
    db_run_free(&run);
    db_close(db);
    return rc;
}
