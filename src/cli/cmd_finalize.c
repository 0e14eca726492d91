/*
 * cmd_finalize.c - `evoapproxnas finalize DB`: retrain the front longer, record test accuracy.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "finalize.h"
#include "run_signal.h"

static void print_help(void)
{
    printf("Usage: evoapproxnas finalize DB [--epochs N] [--threads T] [--save DIR]\n"
           "\n"
           "Retrains every network of the search's Pareto front from scratch, longer (default:\n"
           "the config's finalize.epochs) and on all training images except the validation\n"
           "split, and records its test accuracy in the archive (see `pareto`). Two exact\n"
           "baselines are trained the same way: each front network with every multiplier\n"
           "exact, and the archive's best exact-multiplier network; `pareto` and `report`\n"
           "show each network's accuracy change and energy saving against both. Networks\n"
           "already finalized for N epochs are skipped, so an interrupted finalize resumes.\n"
           "\n"
           "  --epochs N    training epochs\n"
           "  --threads T   networks trained at once (default: all cores)\n"
           "  --save DIR    keep the weights of every retrained network in DIR (created):\n"
           "                DIR/HASH.w, DIR/HASH-exact.w (`export --from final`)\n"
           "  -h, --help    this help\n"
           "\n"
           "Holds the run's claim like resume (one writer at a time); Ctrl-C, SIGTERM or SIGHUP\n"
           "stops after the networks in training (exit 1), a second one at once.\n");
}

int cmd_finalize(int argc, char **argv)
{
    static const struct option longopts[] = {{"epochs", required_argument, NULL, 'e'},
                                              {"threads", required_argument, NULL, 't'},
                                              {"save", required_argument, NULL, 's'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    long epochs = 0, threads = 0;
    const char *save = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            if (!cli_parse_long("--epochs", optarg, 1, 1000, &epochs)) return CLI_EXIT_USAGE;
            break;
        case 't':
            if (!cli_parse_long("--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 's': save = optarg; break;
        case 'h': print_help(); return CLI_EXIT_OK;
        default: return cli_usage_error("finalize", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("finalize", optind >= argc ? "missing archive DB"
                                                          : "too many arguments");
    volatile sig_atomic_t *stop = run_signal_install();
    int done;
    eng_status st = finalize_front(argv[optind], (int)epochs, (int)threads, save, stdout, stop,
                                   &done);
    run_signal_restore();
    if (st != ENG_OK) {
        cli_error("finalize: %s", eng_last_error());
        return st == ENG_ERR_NOT_FOUND || st == ENG_ERR_FORMAT || st == ENG_ERR_ARG ||
                       st == ENG_ERR_EXISTS ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    printf("finalized %d networks\n", done);
    return CLI_EXIT_OK;
}
