/*
 * commands.c - the table of subcommands shown by `evoapproxnas --help`.
 */
#include "cli.h"
#include "commands.h"

const cli_command cli_commands[] = {
    {"bench", "measure the emulation kernels (table vs float vs int8 GEMM)", cmd_bench},
    {"version", "print the version and the backends this build has", cmd_version},
    {"data", "inspect a data set (counts, shape, classes, mean/std)", cmd_data},
    {"luts", "list, show, import and export approximate multipliers", cmd_luts},
    {"nsga2", "run NSGA-II on a ZDT/DTLZ test problem (front, hypervolume, IGD)", cmd_nsga2},
    {"energy", "accelerator energy of a network with per-layer multipliers", cmd_energy},
    {"model", "list the model zoo; layers, shapes, parameters and MACs of a model", cmd_model},
    {"train", "train a zoo model (float or quantization-aware with approximate multipliers)", cmd_train},
    {"eval", "accuracy of a trained network with each given approximate multiplier", cmd_eval},
    {"devices", "the compute devices: CPU kernel set, CUDA GPUs (or why none)", cmd_devices},
    {NULL, NULL, NULL},
};
