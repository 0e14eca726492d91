/*
 * commands.c - the table of subcommands shown by `evoapproxnas --help`.
 */
#include "cli.h"
#include "commands.h"

const cli_command cli_commands[] = {
    {"search", "search networks and multipliers (NSGA-II) from a YAML config", cmd_search},
    {"resume", "continue an interrupted search from its archive", cmd_resume},
    {"status", "progress and best results of a search archive", cmd_status},
    {"pareto", "the Pareto front of a search archive (table, JSON, CSV)", cmd_pareto},
    {"report", "SVG plot of a search: error vs energy, front, exact networks", cmd_report},
    {"finalize", "retrain a search's front longer and record test accuracy", cmd_finalize},
    {"show", "one archived network layer by layer: shapes, MACs, multipliers, energy", cmd_show},
    {"export", "write an archived network as a weights file or ONNX", cmd_export},
    {"train", "train a zoo model (float or quantization-aware with approximate multipliers)", cmd_train},
    {"eval", "accuracy of a trained network with each given approximate multiplier", cmd_eval},
    {"model", "list the model zoo; layers, shapes, parameters and MACs of a model", cmd_model},
    {"luts", "list, show, import and export approximate multipliers", cmd_luts},
    {"energy", "accelerator energy of a network with per-layer multipliers", cmd_energy},
    {"bench", "measure the emulation kernels (table vs float vs int8 GEMM)", cmd_bench},
    {"scaling", "predicted efficiency of a search on N ranks (generational, asynchronous)", cmd_scaling},
    {"nsga2", "run NSGA-II on a ZDT/DTLZ test problem (front, hypervolume, IGD)", cmd_nsga2},
    {"data", "inspect a data set (counts, shape, classes, mean/std)", cmd_data},
    {"devices", "the compute devices: CPU kernel set, CUDA GPUs (or why none)", cmd_devices},
    {"version", "print the version and the backends this build has", cmd_version},
    {NULL, NULL, NULL},
};
