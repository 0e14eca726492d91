/*
 * cmd_status.c - `evoapproxnas status DB`: progress and best results of a search archive
 * (safe to run while the search writes: the archive is in WAL mode).
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "archive_checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "run_claim.h"

static void print_help(void)
{
    printf("Usage: evoapproxnas status DB\n"
           "\n"
           "Shows a search's state, generations done, networks evaluated, the best validation\n"
           "error, the lowest energy, the front size and hypervolume of the last generation,\n"
           "and the best exact-multiplier network. The state is one of\n"
           "  running (pid P on HOST, heartbeat N s ago)   a process writes it now\n"
           "  stale (pid P on HOST is gone)                its writer died; resume takes over\n"
           "  interrupted | finished | failed\n"
           "It also lists the candidates in training (checkpointed: epoch, batch, loss, last\n"
           "update). A damaged archive is refused with exit 2, naming the table.\n");
}

int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            print_help();
            return CLI_EXIT_OK;
        }
        return cli_usage_error("status", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("status", optind >= argc ? "missing archive DB"
                                                        : "too many arguments");
    db_archive *db;
    db_run run;
    if (db_open(argv[optind], DB_OPEN_READ, &db) != ENG_OK || db_run_load(db, &run) != ENG_OK) {
        cli_error("status: %s", eng_last_error());
        db_close(db);
        return CLI_EXIT_USAGE;
    }
    int last = (int)db_query_double(db, "SELECT max(generation) FROM generations", -1);
    db_claim holder;
    double age;
    run_claim_state cs = run_claim_inspect(argv[optind], db, &holder, &age);
    char who[600], state[700];
    run_claim_describe(&holder, cs, age, who, sizeof who);
    if (cs == RUN_CLAIM_LIVE) snprintf(state, sizeof state, "running (%s)", who);
    else if (cs == RUN_CLAIM_STALE)
        snprintf(state, sizeof state, "stale (%s; `evoapproxnas resume` takes over)", who);
    else if (strcmp(run.status, "running") == 0) /* its writer left no claim behind */
        snprintf(state, sizeof state, "interrupted");
    else snprintf(state, sizeof state, "%s", run.status);
    printf("run:          %s (%s)\n", run.name, state);
    if (cs != RUN_CLAIM_NONE)
        printf("claim:        `%s` since %s\n", holder.command, holder.started_at);
    bool ms = strcmp(run.strategy, "model_search") == 0;
    printf("config:       %s, seed %llu, %d threads, objectives %s, strategy %s\n",
           run.config_path, (unsigned long long)run.seed, run.threads, run.objectives,
           run.strategy);
    printf("started:      %s, last update %s, evoapproxnas %s, schema %d\n", run.created_at,
           run.updated_at, run.program_version, run.schema_version);
    if (last < 0) {
        printf("generations:  none completed yet\n");
    } else {
        if (ms)
            printf("generations:  %d of %d done (0..%d; Model Search commits each batch of "
                   "proposals, and its ensembles, as a generation)\n", last + 1,
                   run.generations + 1, last);
        else
            printf("generations:  %d of %d done (0..%d)\n", last + 1, run.generations + 1,
                   last);
        printf("evaluations:  %d networks trained, %d duplicates reused\n",
               (int)db_query_double(db, "SELECT count(*) FROM archived", 0),
               (int)db_query_double(db, "SELECT sum(reused) FROM generations", 0));
        printf("best error:   %.4f (validation)\n",
               db_query_double(db, "SELECT min(error) FROM archived WHERE violation = 0", 1));
        printf("min energy:   %.4f uJ per inference\n",
               db_query_double(db, "SELECT min(energy_pj) FROM archived WHERE violation = 0",
                               0) * 1e-6);
        double ex = db_query_double(db, "SELECT min(error) FROM archived WHERE exact = 1 AND "
                                        "violation = 0", -1);
        if (ex >= 0) printf("best exact:   error %.4f (all multipliers exact)\n", ex);
        else printf("best exact:   none evaluated\n");
        printf("front:        %d networks in the run's front; generation %d: %d, hypervolume "
               "%.4f\n", (int)db_query_double(db, "SELECT count(*) FROM pareto_front", 0), last,
               (int)db_query_double(db, "SELECT front_size FROM generations ORDER BY "
                                        "generation DESC LIMIT 1", 0),
               db_query_double(db, "SELECT hypervolume FROM generations ORDER BY generation "
                                   "DESC LIMIT 1", 0));
        printf("time:         %.1f s in generations\n",
               db_query_double(db, "SELECT sum(wall_s) FROM generations", 0));
    }
    db_checkpoint_report(db, stdout);
    db_run_free(&run);
    db_close(db);
    return CLI_EXIT_OK;
}
