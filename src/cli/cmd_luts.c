/*
 * cmd_luts.c - `evoapproxnas luts`: list, show, import and export approximate multipliers.
 *
 * The library logic (manifests, search paths, metrics, atomic writes) lives in engine/eng_mul.h;
 * this file parses options and prints. `luts show` is in cmd_luts_show.c.
 */
#include "cli.h"
#include "commands.h"
#include "luts_report.h"

#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reports an unknown option or a missing value found by getopt_long (opterr = 0). */
static int option_error(const char *cmd, char **argv)
{
    const char *opt = argv[optind - 1];
    if (optopt == 0) return cli_usage_error(cmd, "unknown option '%s'", opt);
    if (strncmp(opt, "--", 2) == 0) return cli_usage_error(cmd, "option '%s' needs a value", opt);
    return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

/* ------------------------------------------------------------------------------------------
 * luts list
 * ---------------------------------------------------------------------------------------- */

typedef enum luts_sort {
    LUTS_SORT_NAME, LUTS_SORT_POWER, LUTS_SORT_MAE, LUTS_SORT_WCE, LUTS_SORT_MRE,
} luts_sort;

typedef struct luts_row {
    const eng_mul_info *info;
    eng_mul_metrics e;          /* computed from the table */
    luts_sort sort;
} luts_row;

/* Ascending by the key, unknown (NAN) last, ties by name. */
static int row_compare(const void *pa, const void *pb)
{
    const luts_row *a = pa, *b = pb;
    double ka = 0, kb = 0;
    switch (a->sort) {
    case LUTS_SORT_NAME: break;
    case LUTS_SORT_POWER: ka = a->info->published.power_mw; kb = b->info->published.power_mw; break;
    case LUTS_SORT_MAE: ka = a->e.mae_pct; kb = b->e.mae_pct; break;
    case LUTS_SORT_WCE: ka = a->e.wce_pct; kb = b->e.wce_pct; break;
    case LUTS_SORT_MRE: ka = a->e.mre_pct; kb = b->e.mre_pct; break;
    }
    if (isnan(ka) != isnan(kb)) return isnan(ka) ? 1 : -1;
    if (ka < kb) return -1;
    if (ka > kb) return 1;
    return strcmp(a->info->name, b->info->name);
}

static void print_optional(double v, const char *fmt, int width)
{
    if (isnan(v)) printf("%*s", width, "-");
    else printf(fmt, width, v);
}

static void list_help(void)
{
    printf("Usage: evoapproxnas luts list [--family F] [--sort KEY] [--json]\n\n"
           "Lists the shipped and user multipliers, one line each: name, family, bits (8xN),\n"
           "signedness, published power (mW), power relative to the exact 8x8 multiplier of\n"
           "the same signedness, and MAE%%, WCE%%, MRE%%, EP%% computed from the table.\n\n"
           "  --family F   only family F (8x8_unsigned, 8x8_signed, 8x2_unsigned .. 8x7_unsigned,\n"
           "               user)\n"
           "  --sort KEY   power, mae, wce, mre or name (default name)\n"
           "  --json       one JSON array instead of the table\n");
}

static int luts_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"family", required_argument, NULL, 'f'},
        {"sort", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *family = NULL;
    luts_sort sort = LUTS_SORT_NAME;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': family = optarg; break;
        case 'j': json = true; break;
        case 'h': list_help(); return CLI_EXIT_OK;
        case 's': {
            static const char *const keys[] = {"name", "power", "mae", "wce", "mre"};
            static const luts_sort vals[] = {LUTS_SORT_NAME, LUTS_SORT_POWER, LUTS_SORT_MAE,
                                             LUTS_SORT_WCE, LUTS_SORT_MRE};
            int k = 0;
            while (k < 5 && strcmp(optarg, keys[k]) != 0) k++;
            if (k == 5)
                return cli_usage_error("luts list", "--sort '%s': expected power, mae, wce, mre "
                                       "or name", optarg);
            sort = vals[k];
            break;
        }
        default: return option_error("luts list", argv);
        }
    }
    if (optind < argc) return cli_usage_error("luts list", "unexpected argument '%s'", argv[optind]);

    eng_mul_manifest all;
    eng_status st = eng_mul_library_list(&all);
    if (st != ENG_OK) {
        cli_error("%s", eng_last_error());
        return luts_exit_code(st);
    }
    luts_row *rows = calloc((size_t)all.count + 1, sizeof *rows);
    if (!rows) {
        eng_mul_manifest_free(&all);
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int n = 0;
    for (int i = 0; i < all.count; i++) {
        if (family && strcmp(all.entries[i].family, family) != 0) continue;
        eng_mul *m;
        if ((st = eng_mul_load_info(&all.entries[i], &m)) != ENG_OK) break;
        rows[n].info = &all.entries[i];
        rows[n].sort = sort;
        eng_mul_metrics_compute(m, &rows[n].e);
        eng_mul_free(m);
        n++;
    }
    if (st == ENG_OK && family && n == 0 && strcmp(family, "user") != 0)
        st = eng_error(ENG_ERR_NOT_FOUND, "no multiplier of family '%s'", family);
    if (st != ENG_OK) {
        cli_error("%s", eng_last_error());
        free(rows);
        eng_mul_manifest_free(&all);
        return luts_exit_code(st);
    }
    qsort(rows, (size_t)n, sizeof *rows, row_compare);

    if (json) printf("[\n");
    else
        printf("%-14s %-13s %-5s %-3s %8s %7s %9s %8s %8s %7s\n", "name", "family", "bits",
               "sgn", "power_mW", "rel_pwr", "MAE%", "WCE%", "MRE%", "EP%");
    for (int i = 0; i < n; i++) {
        const eng_mul_info *e = rows[i].info;
        const eng_mul_metrics *x = &rows[i].e;
        if (json) {
            printf("  {\"name\": ");
            luts_json_string(stdout, e->name);
            printf(", \"family\": ");
            luts_json_string(stdout, e->family);
            printf(", \"a_bits\": %d, \"w_bits\": %d, \"signed\": %s, \"origin\": \"%s\", "
                   "\"power_mw\": ", e->a_bits, e->w_bits, e->is_signed ? "true" : "false",
                   luts_origin_name(e->origin));
            luts_json_number(stdout, e->published.power_mw);
            printf(", \"relative_power\": ");
            luts_json_number(stdout, luts_relative_power(e));
            const double v[] = {x->mae_pct, x->wce_pct, x->mre_pct, x->ep_pct};
            const char *const k[] = {"mae_pct", "wce_pct", "mre_pct", "ep_pct"};
            for (int j = 0; j < 4; j++) {
                printf(", \"%s\": ", k[j]);
                luts_json_number(stdout, v[j]);
            }
            printf("}%s\n", i + 1 < n ? "," : "");
        } else {
            printf("%-14s %-13s 8x%-3d %-3s ", e->name, e->family, e->w_bits,
                   e->is_signed ? "s" : "u");
            print_optional(e->published.power_mw, "%*.4f", 8);
            putchar(' ');
            print_optional(luts_relative_power(e), "%*.3f", 7);
            printf(" %9.4f %8.3f %8.3f %7.2f\n", x->mae_pct, x->wce_pct, x->mre_pct, x->ep_pct);
        }
    }
    if (json) printf("]\n");
    free(rows);
    eng_mul_manifest_free(&all);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------
 * luts import
 * ---------------------------------------------------------------------------------------- */

static void import_help(void)
{
    printf("Usage: evoapproxnas luts import FILE --name NAME [--w-bits N] [--signed]\n"
           "                                [--power-mw P] [--force]\n\n"
           "Copies a multiplier table into the user library ($EVOAPPROXNAS_USER_LUTS, else\n"
           "$XDG_DATA_HOME/evoapproxnas/luts or ~/.local/share/evoapproxnas/luts) and adds it to\n"
           "that library's manifest.tsv. FILE is a raw table: 256 << N little-endian 16-bit\n"
           "words, entry (a << N) | w; a TFApprox .bin is the 8x8 case (65,536 words).\n\n"
           "  --name NAME     library name (A-Z a-z 0-9 _ . -), not a shipped one\n"
           "  --w-bits N      weight bits 2..8 (default 8: a file of another size needs\n"
           "                  --w-bits, since a truncated 8x8 table has the size of a\n"
           "                  narrower one)\n"
           "  --signed        entries and operands are two's complement (8x8 only)\n"
           "  --power-mw P    the circuit's power in mW, for energy estimates\n"
           "  --force         replace a user multiplier of the same name\n");
}

static int luts_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"w-bits", required_argument, NULL, 'w'},
        {"signed", no_argument, NULL, 's'},
        {"power-mw", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    eng_mul_import_opts o = {NULL, 0, false, NAN, false};
    long bits;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 's': o.is_signed = true; break;
        case 'f': o.force = true; break;
        case 'h': import_help(); return CLI_EXIT_OK;
        case 'w':
            if (!cli_parse_long("--w-bits", optarg, 2, 8, &bits)) return CLI_EXIT_USAGE;
            o.w_bits = (int)bits;
            break;
        case 'p':
            if (!cli_parse_double("--power-mw", optarg, 0, 1e6, &o.power_mw))
                return CLI_EXIT_USAGE;
            break;
        default: return option_error("luts import", argv);
        }
    }
    if (optind >= argc) return cli_usage_error("luts import", "missing the table FILE");
    if (optind + 1 < argc)
        return cli_usage_error("luts import", "unexpected argument '%s'", argv[optind + 1]);
    if (!o.name) return cli_usage_error("luts import", "missing --name");
    if (!eng_mul_name_valid(o.name))
        return cli_usage_error("luts import", "--name '%s': expected 1..%d characters of A-Z "
                               "a-z 0-9 _ . - (not starting with '.')", o.name,
                               ENG_MUL_NAME_MAX - 1);
    if (o.is_signed && o.w_bits != 0 && o.w_bits != 8)
        return cli_usage_error("luts import", "--signed needs an 8x8 table (--w-bits %d)",
                               o.w_bits);
    struct stat sb;
    if (!o.w_bits && stat(argv[optind], &sb) == 0 && sb.st_size != 2 * (256 << 8)) {
        for (int n = 2; n < 8; n++)
            if (sb.st_size == 2 * (256 << n))
                return cli_usage_error("luts import", "%s: %lld bytes is an 8x%d table or a "
                                       "truncated 8x8 one: give --w-bits %d to import it as "
                                       "8x%d", argv[optind], (long long)sb.st_size, n, n, n);
    }
    eng_mul_info info;
    eng_status st = eng_mul_import(argv[optind], &o, &info);
    if (st != ENG_OK) {
        cli_error("%s", eng_last_error());
        /* an I/O error with a readable FILE was in writing the user library: exit 1 */
        struct stat sb;
        if (st == ENG_ERR_IO && stat(argv[optind], &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(argv[optind], R_OK) == 0)
            return CLI_EXIT_FAILURE;
        return luts_exit_code(st);
    }
    printf("imported %s (8x%d %s) as %s\n", argv[optind], info.w_bits,
           info.is_signed ? "signed" : "unsigned", info.path);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------
 * luts export
 * ---------------------------------------------------------------------------------------- */

static void export_help(void)
{
    printf("Usage: evoapproxnas luts export NAME FILE [--force]\n\n"
           "Writes multiplier NAME's table to FILE in the raw format: 256 << N little-endian\n"
           "16-bit words, entry (a << N) | w (N = weight bits). For 8x8 unsigned multipliers\n"
           "this is a TFApprox .bin; signed entries are int16. The file is written atomically.\n\n"
           "  --force   replace FILE when it exists\n");
}

static int luts_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'h': export_help(); return CLI_EXIT_OK;
        default: return option_error("luts export", argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("luts export", "expected NAME and FILE, got %d argument(s)",
                               argc - optind);
    eng_mul_info info;
    eng_mul *m = NULL;
    eng_status st = eng_mul_library_find(argv[optind], &info);
    if (st == ENG_OK) st = eng_mul_load_info(&info, &m);
    if (st == ENG_OK) st = eng_mul_save(m, argv[optind + 1], force);
    if (st != ENG_OK) {
        cli_error("%s", eng_last_error());
        bool write_failed = m && st == ENG_ERR_IO;     /* the table was read: FILE's I/O */
        eng_mul_free(m);
        return write_failed ? CLI_EXIT_FAILURE : luts_exit_code(st);
    }
    printf("exported %s (8x%d %s, %zu bytes) to %s\n", m->name, m->w_bits,
           m->is_signed ? "signed" : "unsigned", (size_t)2 * ((size_t)256 << m->w_bits),
           argv[optind + 1]);
    eng_mul_free(m);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------
 * Dispatcher
 * ---------------------------------------------------------------------------------------- */

static void luts_help(void)
{
    printf("Usage: evoapproxnas luts COMMAND [OPTIONS]\n\n"
           "The approximate-multiplier library (EvoApproxLib tables in luts/ plus the user\n"
           "library of imported tables; docs/luts.md).\n\n"
           "Commands:\n"
           "  list     one line per multiplier with its key figures\n"
           "  show     published and computed figures of one multiplier, error heat-map\n"
           "  import   add a table file to the user library\n"
           "  export   write a multiplier's table to a file\n\n"
           "Run 'evoapproxnas luts COMMAND --help' for the options of each.\n");
}

int cmd_luts(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("luts", "missing a command (list, show, import, export)");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        luts_help();
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "list") == 0) return luts_list(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0) return luts_cmd_show(argc - 1, argv + 1);
    if (strcmp(sub, "import") == 0) return luts_import(argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0) return luts_export(argc - 1, argv + 1);
    return cli_usage_error("luts", "unknown command '%s' (list, show, import, export)", sub);
}
