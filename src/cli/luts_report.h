/*
 * luts_report.h - output helpers of `evoapproxnas luts` (luts_report.c): JSON values, multiplier
 * origins and power, exit codes; used by cmd_luts.c, cmd_luts_show.c, cmd_pareto.c, cmd_scaling.c.
 */
#ifndef LUTS_REPORT_H
#define LUTS_REPORT_H

#include <stdio.h>

#include "eng_mul.h"

/* Writes s as a JSON string literal (quotes and escapes included). */
void luts_json_string(FILE *out, const char *s);

/* Writes v as a JSON number in the shortest form that reads back exactly; NAN as null. */
void luts_json_number(FILE *out, double v);

/* Power relative to the exact 8x8 multiplier of the same signedness; NAN when unknown. */
double luts_relative_power(const eng_mul_info *info);

/* "shipped", "user" or "file" (JSON), and the words for the text output. */
const char *luts_origin_name(eng_mul_origin origin);
const char *luts_origin_text(eng_mul_origin origin);

/* Maps a library error to the exit code: bad input 2, out of memory and bugs 1. */
int luts_exit_code(eng_status st);

#endif /* LUTS_REPORT_H */
