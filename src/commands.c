/*
 * commands.c - the table of subcommands shown by `evoapproxnas --help`.
 */
#include "cli.h"
#include "commands.h"

const cli_command cli_commands[] = {
    {"version", "print the version and the backends this build has", cmd_version},
    {"data", "inspect a data set (counts, shape, classes, mean/std)", cmd_data},
    {"devices", "the compute devices: CPU kernel set, CUDA GPUs (or why none)", cmd_devices},
    {NULL, NULL, NULL},
};
