/*
 * cmd_luts_show.c - `evoapproxnas luts show NAME`: one multiplier's published and computed
 * figures side by side, its relative power and a terminal heat-map of its errors.
 */
#include "cli.h"
#include "commands.h"
#include "luts_report.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

enum { SHOW_MAP_ROWS = 16, SHOW_MAP_COLS = 16 };

typedef struct show_metric {
    const char *label;
    const char *key;        /* JSON key */
    double published;
    double computed;
} show_metric;

static int show_metrics(const eng_mul_figures *p, const eng_mul_metrics *e, show_metric *out)
{
    const show_metric m[] = {
        {"MAE%", "mae_pct", p->mae_pct, e->mae_pct},
        {"MAE", "mae", p->mae, e->mae},
        {"WCE%", "wce_pct", p->wce_pct, e->wce_pct},
        {"WCE", "wce", p->wce, e->wce},
        {"WCRE%", "wcre_pct", p->wcre_pct, e->wcre_pct},
        {"EP%", "ep_pct", p->ep_pct, e->ep_pct},
        {"MRE%", "mre_pct", p->mre_pct, e->mre_pct},
        {"MSE", "mse", p->mse, e->mse},
        {"mean error", "mean_err", NAN, e->mean_err},
    };
    memcpy(out, m, sizeof m);
    return (int)(sizeof m / sizeof m[0]);
}

/* Display row/column of block i: signed codes are shown in value order (-128 .. 127). */
static int value_order(int i, int n, bool is_signed)
{
    return is_signed ? (i + n / 2) % n : i;
}

static void print_map(const eng_mul *m, const double *map, int rows, int cols)
{
    static const char shades[] = " .:-=+*#%@";
    double max = 0;
    for (int i = 0; i < rows * cols; i++)
        if (map[i] > max) max = map[i];
    int wn = 1 << m->w_bits;
    int lo = m->is_signed ? -128 : 0, hi = m->is_signed ? 127 : wn - 1;
    printf("\nmean |error| per block of %d activation x %d weight codes\n"
           "rows: activation %d..%d (top down), columns: weight %d..%d; "
           "' ' = 0, '@' = %.4g\n", 256 / rows, wn / cols, lo, m->is_signed ? 127 : 255, lo, hi,
           max);
    printf("   +");
    for (int c = 0; c < cols; c++) putchar('-');
    printf("+\n");
    for (int r = 0; r < rows; r++) {
        printf("   |");
        int rr = value_order(r, rows, m->is_signed);
        for (int c = 0; c < cols; c++) {
            double v = map[rr * cols + value_order(c, cols, m->is_signed)];
            int level = v <= 0 || max <= 0 ? 0 : 1 + (int)(v / max * 8.999);
            putchar(shades[level]);
        }
        printf("|\n");
    }
    printf("   +");
    for (int c = 0; c < cols; c++) putchar('-');
    printf("+\n");
}

/* The CPU emulation path of m's table (asymmetric quantization: the table read directly). */
static bool emulation_counts(const eng_mul *m, eng_lut_fit_counts *c)
{
    const eng_lut lut = eng_mul_lut(m, ENG_LUT_DIRECT);
    eng_lut_fit *fit;
    if (eng_lut_fit_create(&lut, &fit) != ENG_OK)
        return false;
    eng_lut_fit_count(fit, &lut, c);
    eng_lut_fit_free(fit);
    return true;
}

static void print_emulation(const eng_mul *m)
{
    eng_lut_fit_counts c;
    if (!emulation_counts(m, &c))
        return;
    if (c.classes <= 128) {
        printf("emulation: the activation codes give %d different rows of products", c.classes);
        if (c.class_shift == 1)
            printf(" (the lowest activation bit is ignored)");
        else if (c.class_shift > 1)
            printf(" (the lowest %d activation bits are ignored)", c.class_shift);
        printf(": class path, %d-entry table columns (AVX-512 VBMI and AVX2 sets)\n",
               c.classes);
        return;
    }
    printf("emulation: %d of %d weight codes are linear in the activation plus a one-byte "
           "residual (%d exactly linear), %d need two bytes%s: %s\n", c.narrow, c.codes, c.flat,
           c.wide, c.unusable ? ", some more" : "",
           c.unusable ? "general 16-bit table path"
           : 2 * c.wide <= c.codes ? "fast int8 + residual path (AVX-512 VNNI)"
                                   : "general 16-bit table path for most layers");
}

static void print_text(const eng_mul_info *info, const eng_mul *m, const show_metric *x, int n,
                       const double *map, int rows, int cols)
{
    printf("%s: %s, 8x%d %s, %s%s%s\n", info->name, info->family, info->w_bits,
           info->is_signed ? "signed" : "unsigned", luts_origin_text(info->origin),
           info->subset[0] ? ", subset " : "", info->subset);
    printf("table: %s\n", info->path);
    const eng_mul_figures *p = &info->published;
    if (isnan(p->power_mw)) printf("power: unknown");
    else printf("power: %g mW (%.3f x the exact 8x8 %s multiplier, %g mW)", p->power_mw,
                luts_relative_power(info), info->is_signed ? "signed" : "unsigned",
                eng_mul_exact_power_mw(8, info->is_signed));
    if (!isnan(p->area_um2)) printf(", area %g um2", p->area_um2);
    if (!isnan(p->delay_ns)) printf(", delay %g ns", p->delay_ns);
    printf("\n");
    print_emulation(m);
    printf("\n%-12s %14s %16s\n", "metric", "published", "computed");
    for (int i = 0; i < n; i++) {
        printf("%-12s ", x[i].label);
        if (isnan(x[i].published)) printf("%14s", "-");
        else printf("%14.8g", x[i].published);
        printf(" %16.10g\n", x[i].computed);
    }
    print_map(m, map, rows, cols);
}

static void print_json(const eng_mul_info *info, const eng_mul *m, const show_metric *x, int n,
                       const double *map, int rows, int cols)
{
    const eng_mul_figures *p = &info->published;
    printf("{\"name\": ");
    luts_json_string(stdout, info->name);
    printf(", \"family\": ");
    luts_json_string(stdout, info->family);
    printf(", \"a_bits\": %d, \"w_bits\": %d, \"signed\": %s, \"origin\": \"%s\", \"path\": ",
           info->a_bits, info->w_bits, info->is_signed ? "true" : "false",
           luts_origin_name(info->origin));
    luts_json_string(stdout, info->path);
    printf(", \"subset\": ");
    luts_json_string(stdout, info->subset);
    const double hw[] = {p->power_mw, luts_relative_power(info), p->area_um2, p->delay_ns};
    const char *const hk[] = {"power_mw", "relative_power", "area_um2", "delay_ns"};
    for (int i = 0; i < 4; i++) {
        printf(", \"%s\": ", hk[i]);
        luts_json_number(stdout, hw[i]);
    }
    eng_lut_fit_counts c;
    if (emulation_counts(m, &c))
        printf(",\n \"emulation\": {\"codes\": %d, \"narrow\": %d, \"flat\": %d, "
               "\"wide\": %d, \"unusable\": %d, \"classes\": %d, \"class_shift\": %d}",
               c.codes, c.narrow, c.flat, c.wide, c.unusable, c.classes, c.class_shift);
    for (int part = 0; part < 2; part++) {
        printf(",\n \"%s\": {", part ? "computed" : "published");
        bool first = true;
        for (int i = 0; i < n; i++) {
            if (!part && strcmp(x[i].key, "mean_err") == 0) continue;
            printf("%s\"%s\": ", first ? "" : ", ", x[i].key);
            luts_json_number(stdout, part ? x[i].computed : x[i].published);
            first = false;
        }
        printf("}");
    }
    printf(",\n \"error_map\": {\"rows\": %d, \"cols\": %d, \"mean_abs_err\": [", rows, cols);
    for (int r = 0; r < rows; r++) {
        printf("%s\n  [", r ? "," : "");
        for (int c = 0; c < cols; c++) {
            if (c) printf(", ");
            luts_json_number(stdout, map[r * cols + c]);
        }
        printf("]");
    }
    printf("]}}\n");
}

static void show_help(void)
{
    printf("Usage: evoapproxnas luts show NAME [--json]\n\n"
           "Shows one multiplier (a library name, or a table file path: then 8xN unsigned from\n"
           "its size): published figures next to those computed from its table, power relative\n"
           "to the exact 8x8 multiplier of the same signedness, and a heat-map of the mean\n"
           "absolute error over blocks of operand codes (rows in code order in JSON), and how\n"
           "the CPU emulates it: how many weight codes decompose into an exact product plus a\n"
           "one-byte residual (the fast path) and how many need two bytes.\n\n"
           "  --json   print one JSON object\n");
}

int luts_cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': show_help(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("luts show", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("luts show", "expected one NAME, got %d argument(s)",
                               argc - optind);
    const char *name = argv[optind];
    eng_mul_info info;
    eng_mul *m = NULL;
    eng_status st;
    size_t len = strlen(name);
    if (strchr(name, '/') || (len >= 4 && strcmp(name + len - 4, ".bin") == 0)) {
        st = eng_mul_load(name, &m);
        if (st == ENG_OK) {
            memset(&info, 0, sizeof info);
            snprintf(info.name, sizeof info.name, "%s", m->name);
            snprintf(info.family, sizeof info.family, "%s", m->family);
            snprintf(info.path, sizeof info.path, "%s", name);
            info.a_bits = m->a_bits;
            info.w_bits = m->w_bits;
            info.is_signed = m->is_signed;
            info.published = m->published;
            info.origin = ENG_MUL_ORIGIN_FILE;
        }
    } else {
        st = eng_mul_library_find(name, &info);
        if (st == ENG_OK) st = eng_mul_load_info(&info, &m);
    }
    if (st != ENG_OK) {
        cli_error("%s", eng_last_error());
        return luts_exit_code(st);
    }
    eng_mul_metrics e;
    eng_mul_metrics_compute(m, &e);
    show_metric x[16];
    int n = show_metrics(&info.published, &e, x);
    int rows = SHOW_MAP_ROWS, cols = SHOW_MAP_COLS < (1 << m->w_bits) ? SHOW_MAP_COLS
                                                                       : 1 << m->w_bits;
    double map[SHOW_MAP_ROWS * SHOW_MAP_COLS];
    st = eng_mul_error_map(m, rows, cols, map);
    ENG_ASSERT(st == ENG_OK);       /* 16 divides 256 and cols divides 2^w_bits */
    if (json) print_json(&info, m, x, n, map, rows, cols);
    else print_text(&info, m, x, n, map, rows, cols);
    eng_mul_free(m);
    return CLI_EXIT_OK;
}
