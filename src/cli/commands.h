/*
 * commands.h - the entry points of the subcommands, one per src/cli/cmd_<name>.c.
 */
#ifndef COMMANDS_H
#define COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_nsga2(int argc, char **argv);
int cmd_luts(int argc, char **argv);
/* `luts show` (cmd_luts_show.c), called by cmd_luts: argv[0] = "show". */
int luts_cmd_show(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_energy(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_pareto(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_finalize(int argc, char **argv);
int cmd_scaling(int argc, char **argv);

#endif /* COMMANDS_H */
