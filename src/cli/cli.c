/*
 * cli.c - messages and strict number parsing shared by all commands.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("evoapproxnas: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "evoapproxnas %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'evoapproxnas %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

bool cli_parse_long(const char *what, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *s == '\0' || *end != '\0' || errno == ERANGE || v < min || v > max) {
        cli_error("%s: '%s' is not an integer in [%ld, %ld]", what, s ? s : "", min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_double(const char *what, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0.0;
    if (!s || *s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min ||
        v > max) {
        cli_error("%s: '%s' is not a number in [%g, %g]", what, s ? s : "", min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO) == 1;
}
