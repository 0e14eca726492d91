/*
 * luts_report.c - output helpers shared by the listing commands (luts_report.h): JSON values,
 * multiplier origins and power, the exit code of a library error.
 */
#include "luts_report.h"

#include "cli.h"

void luts_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
        else if (*c < 0x20) fprintf(out, "\\u%04x", *c);
        else fputc(*c, out);
    }
    fputc('"', out);
}

void luts_json_number(FILE *out, double v)
{
    char buf[40];
    eng_mul_format_figure(buf, sizeof buf, v);
    fputs(buf[0] ? buf : "null", out);
}

double luts_relative_power(const eng_mul_info *info)
{
    return info->published.power_mw / eng_mul_exact_power_mw(8, info->is_signed);
}

const char *luts_origin_name(eng_mul_origin origin)
{
    switch (origin) {
    case ENG_MUL_ORIGIN_SHIPPED: return "shipped";
    case ENG_MUL_ORIGIN_USER: return "user";
    case ENG_MUL_ORIGIN_FILE: return "file";
    }
    return "?";
}

const char *luts_origin_text(eng_mul_origin origin)
{
    switch (origin) {
    case ENG_MUL_ORIGIN_SHIPPED: return "shipped library";
    case ENG_MUL_ORIGIN_USER: return "user library";
    case ENG_MUL_ORIGIN_FILE: return "table file";
    }
    return "?";
}

int luts_exit_code(eng_status st)
{
    switch (st) {
    case ENG_OK: return CLI_EXIT_OK;
    case ENG_ERR_NOMEM:
    case ENG_ERR_INTERNAL:
    case ENG_ERR_INTERRUPTED: return CLI_EXIT_FAILURE;
    default: return CLI_EXIT_USAGE;
    }
}
