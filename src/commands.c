/*
 * commands.c - the table of subcommands shown by `evoapproxnas --help`.
 */
#include "cli.h"
#include "commands.h"

const cli_command cli_commands[] = {
    {"bench", "measure the emulation kernels (table vs float vs int8 GEMM)", cmd_bench},
    {"version", "print the version and the backends this build has", cmd_version},
    {"luts", "list, show, import and export approximate multipliers", cmd_luts},
    {"data", "inspect a data set (counts, shape, classes, mean/std)", cmd_data},
    {"model", "list the model zoo; layers, shapes, parameters and MACs of a model", cmd_model},
    {"train", "train a zoo model (float or quantization-aware with approximate multipliers)", cmd_train},
    {"eval", "accuracy of a trained network with each given approximate multiplier", cmd_eval},
    {NULL, NULL, NULL},
};
