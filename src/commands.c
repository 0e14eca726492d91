/*
 * commands.c - the table of subcommands shown by `evoapproxnas --help`.
 */
#include "cli.h"
#include "commands.h"

const cli_command cli_commands[] = {
    {"version", "print the version and the backends this build has", cmd_version},
    {"nsga2", "run NSGA-II on a ZDT/DTLZ test problem (front, hypervolume, IGD)", cmd_nsga2},
    {"luts", "list, show, import and export approximate multipliers", cmd_luts},
    {"energy", "accelerator energy of a network with per-layer multipliers", cmd_energy},
    {"search", "search networks and multipliers (NSGA-II) from a YAML config", cmd_search},
    {"resume", "continue an interrupted search from its archive", cmd_resume},
    {NULL, NULL, NULL},
};
