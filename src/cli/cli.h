/*
 * cli.h - shared helpers of the command-line application: exit codes, messages, strict
 * number parsing and the command table.
 *
 * Each subcommand lives in its own file (src/cli/cmd_<name>.c) as `int cmd_<name>(int argc,
 * char **argv)`, where argv[0] is the command name, and is listed in src/cli/commands.c.
 * A command returns one of the CLI_EXIT_* codes; it prints its own errors through cli_error().
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command (documented in README.md). */
enum {
    CLI_EXIT_OK = 0,        /* success */
    CLI_EXIT_FAILURE = 1,   /* the work failed (I/O error, training diverged, ...) */
    CLI_EXIT_USAGE = 2,     /* bad usage or bad input (options, config, files, names) */
};

typedef struct cli_command {
    const char *name;                   /* "luts" */
    const char *summary;                /* one line for `evoapproxnas --help` */
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} cli_command;

/* The command table, terminated by an entry with name == NULL. */
extern const cli_command cli_commands[];

/* Prints "evoapproxnas: <message>\n" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints "evoapproxnas <cmd>: <message>\nTry 'evoapproxnas <cmd> --help'.\n" to stderr and
 * returns CLI_EXIT_USAGE, for `return cli_usage_error("luts", "unknown option %s", opt);`. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Strict parsing: the whole string must be a number within [min, max]. On failure prints
 * "option <what>: '<s>' is not an integer in [min, max]" and returns false. */
bool cli_parse_long(const char *what, const char *s, long min, long max, long *out);
bool cli_parse_double(const char *what, const char *s, double min, double max, double *out);

/* True when stdout is a terminal (progress lines, colours). */
bool cli_stdout_is_tty(void);

#endif /* CLI_H */
