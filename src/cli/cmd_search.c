/*
 * cmd_search.c - `evoapproxnas search CONFIG` and `evoapproxnas resume DB`: run or continue a
 * search, with Ctrl-C, SIGTERM and SIGHUP stopping cleanly at the next batch (checkpointed).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "mpi_pool.h"
#include "run_signal.h"
#include "search.h"

/* Exit code of a failed search: bad input is 2, the rest 1. */
static int search_exit_code(eng_status st)
{
    switch (st) {
    case ENG_OK: return CLI_EXIT_OK;
    case ENG_ERR_FORMAT:
    case ENG_ERR_ARG:
    case ENG_ERR_NOT_FOUND:
    case ENG_ERR_EXISTS: return CLI_EXIT_USAGE;
    default: return CLI_EXIT_FAILURE;
    }
}

static void print_help(bool resume)
{
    if (resume)
        printf("Usage: evoapproxnas resume DB [--data DIR] [--accelerator FILE] [--threads T]\n"
               "                          [--quiet] [--broadcast-data]\n"
               "\n"
               "Continues an interrupted search from its archive (killed, or stopped with a\n"
               "signal) with the archived config; reaches the same archive as an uninterrupted\n"
               "run. Works from any directory. Takes over the claim of a writer that is gone\n"
               "(docs/search.md); refuses, with exit 2, an archive another process writes.\n"
               "\n"
               "  --data DIR          the data set, when it has moved since the search began\n"
               "  --accelerator FILE  the accelerator YAML, when it has moved\n"
               "                      (both are recorded in the archive for later commands,\n"
               "                      also when the search is finished)\n");
    else
        printf("Usage: evoapproxnas search CONFIG.yaml [--name N] [--output DB] [--threads T]\n"
               "                          [--quiet] [--broadcast-data]\n"
               "\n"
               "Searches CNN architectures and per-layer approximate multipliers (NSGA-II, or\n"
               "Model Search with strategy: model_search) as the config says (docs/config.md),\n"
               "archiving every generation (Model Search: every batch) in an SQLite database\n"
               "(default results/<name>.db; docs/archive.md).\n"
               "\n"
               "  --name N      run name (and default database results/N.db)\n"
               "  --output DB   database path\n");
    printf("  --threads T   worker threads (default: all cores)\n"
           "  --quiet       no progress output\n"
           "  --broadcast-data  under mpirun: rank 0 sends the training and validation\n"
           "                images to the other ranks (default: each reads the data set)\n"
           "  -h, --help    this help\n"
           "\n"
           "Ctrl-C, SIGTERM or SIGHUP stops at the next batch, checkpointing every candidate\n"
           "in training (exit 1; resume continues them), a second one at once; progress is a\n"
           "live line on a terminal, plain log lines otherwise.\n"
           "\n"
           "Under `mpirun -n N` rank 0 runs the search and the other ranks train candidates\n"
           "with their --threads (docs/distributed.md); the archive equals one process's.\n");
}

static int run(int argc, char **argv, bool resume)
{
    const char *cmd = resume ? "resume" : "search";
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},   {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 't'}, {"quiet", no_argument, NULL, 'q'},
        {"data", required_argument, NULL, 'd'},   {"accelerator", required_argument, NULL, 'a'},
        {"broadcast-data", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    cfg_paths paths = {0};
    search_opts opts = {.progress = cli_stdout_is_tty() ? SEARCH_PROGRESS_TTY
                                                        : SEARCH_PROGRESS_LOG,
                        .out = stdout};
    long threads = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (resume) return cli_usage_error(cmd, "--name is only for search");
            opts.name = optarg;
            break;
        case 'o':
            if (resume) return cli_usage_error(cmd, "--output is only for search");
            opts.output = optarg;
            break;
        case 'd':
        case 'a':
            if (!resume)
                return cli_usage_error(cmd, "%s is only for resume (the config names the files)",
                                       c == 'd' ? "--data" : "--accelerator");
            if (c == 'd') paths.dataset = optarg;
            else paths.accelerator = optarg;
            opts.paths = &paths;
            break;
        case 't':
            if (!cli_parse_long("--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 'q': opts.progress = SEARCH_PROGRESS_NONE; break;
        case 'b': opts.mpi_send_data = true; break;
        case 'h': print_help(resume); return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cmd, optind >= argc ? "missing %s" : "too many arguments (one "
                               "%s)", resume ? "archive DB" : "config file");
    opts.threads = (int)threads;
    if (opts.name) {
        for (const char *p = opts.name; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", *p))
                return cli_usage_error(cmd, "--name '%s': use letters, digits, '_', '-', '.'",
                                       opts.name);
        if (!*opts.name) return cli_usage_error(cmd, "--name is empty");
    }
    /* under mpirun: rank 0 searches, the other ranks train what it sends (mpi_pool.h) */
    eng_status st = mpi_pool_init(&argc, &argv);
    if (st != ENG_OK) {
        cli_error("%s: %s", cmd, eng_last_error());
        return CLI_EXIT_FAILURE;
    }
    /* an MPI launcher may give rank 0 a terminal of its own while the output goes elsewhere */
    if (mpi_pool_size() > 1 && opts.progress == SEARCH_PROGRESS_TTY)
        opts.progress = SEARCH_PROGRESS_LOG;
    opts.stop = run_signal_install();
    if (mpi_pool_rank() > 0) {
        int code = mpi_pool_worker(opts.threads, opts.stop);
        run_signal_restore();
        return code;
    }
    st = resume ? search_resume(argv[optind], &opts) : search_run(argv[optind], &opts, NULL);
    run_signal_restore();
    if (st != ENG_OK) cli_error("%s: %s", cmd, eng_last_error());
    mpi_pool_finish(search_exit_code(st));
    return search_exit_code(st);
}

int cmd_search(int argc, char **argv) { return run(argc, argv, false); }
int cmd_resume(int argc, char **argv) { return run(argc, argv, true); }
