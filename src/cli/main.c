/*
 * main.c - evoapproxnas: dispatch `evoapproxnas <command> [options]` to a subcommand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "engine_config.h"
#include "eng_kernels.h"
#include "mpi_pool.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: evoapproxnas <command> [options]\n"
            "\n"
            "Joint search of CNN architectures and approximate multipliers (NSGA-II), with an\n"
            "emulation engine for lookup-table multipliers and an accelerator energy model.\n"
            "\n"
            "Commands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out,
            "\n"
            "Run 'evoapproxnas <command> --help' for the options of a command.\n"
            "Exit codes: 0 success, 1 failure, 2 bad usage or bad input.\n");
}

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: evoapproxnas version\n\nPrints the version and the build's backends.\n");
        return CLI_EXIT_OK;
    }
    if (argc > 1) return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("evoapproxnas %s\n", EVOAPPROXNAS_VERSION);
    printf("kernels: %s\n", eng_kernels_get()->name);
    printf("OpenMP: %s, OpenBLAS: %s, CUDA: %s, MPI: %s\n", ENG_HAVE_OPENMP ? "yes" : "no",
           ENG_HAVE_BLAS ? "yes" : "no", ENG_HAVE_CUDA ? "yes" : "no",
           mpi_pool_compiled() ? "yes" : "no");
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *forced = getenv("EVOAPPROXNAS_KERNELS");
    if (forced && *forced && !eng_kernels_by_name(forced))
        cli_error("warning: EVOAPPROXNAS_KERNELS=%s is unknown or not supported by this CPU "
                  "(scalar, avx2, avx512); using %s", forced, eng_kernels_get()->name);
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) return cmd_version(1, argv + 1);
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c->run(argc - 1, argv + 1);
    cli_error("unknown command '%s'; run 'evoapproxnas --help' for the list", name);
    return CLI_EXIT_USAGE;
}
