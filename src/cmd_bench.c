/*
 * cmd_bench.c - `evoapproxnas bench`: speed of the emulation kernels on this machine (table
 * GEMM vs exact float vs exact int8, and vs the naive scalar emulation), printed as a table
 * and optionally written as JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_kernels.h"
#include "cli.h"
#include "commands.h"
#include "eng_int8.h"
#include "engine_config.h"

#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: evoapproxnas bench [--quick] [--json FILE] [--kernels NAME] [--threads N]\n"
            "\n"
            "Measures the kernels side by side in one run (median of repeats, GMAC/s):\n"
            "table GEMM (an approximate 8x8 multiplier as a general 16-bit table) vs exact\n"
            "float sgemm vs exact int8 GEMM, and the optimized table GEMM vs the scalar\n"
            "reference (naive emulation), on the shapes of perf/lutgemm.md and the conv layers\n"
            "of ResNet-20 at batch 64, with 1 and 2 threads.\n"
            "\n"
            "Options:\n"
            "  --quick          fewer shapes and repeats (under a minute)\n"
            "  --json FILE      also write the results as JSON to FILE\n"
            "  --kernels NAME   table GEMM of this kernel set: avx512, avx2 or scalar\n"
            "                   (default: EVOAPPROXNAS_KERNELS, else the fastest supported)\n"
            "  --threads N      measure 1..N threads (default 2)\n"
            "  -h, --help       show this help\n");
}

/* First "model name" line of /proc/cpuinfo, or "unknown CPU". */
static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += colon[1] == ' ' ? 2 : 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

static double ratio(double x, double y)
{
    return y > 0.0 ? x / y : 0.0;
}

static bool write_json(const char *path, const char *cpu, const eng_kernels *k, bool quick,
                       int repeats, const bench_gemm_result *r, int count)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return false;
    fprintf(f, "{\n  \"cpu\": \"%s\",\n  \"table_kernels\": \"%s\",\n", cpu, k->name);
    fprintf(f, "  \"float_gemm\": \"%s\",\n  \"int8_gemm\": \"%s\",\n",
            ENG_HAVE_BLAS ? "openblas" : "blocked", eng_int8_gemm_path());
    fprintf(f, "  \"quick\": %s,\n  \"repeats\": %d,\n  \"statistic\": \"median\",\n",
            quick ? "true" : "false", repeats);
    fprintf(f, "  \"kernels\": [\n");
    for (int i = 0; i < count; i++) {
        const bench_gemm_result *x = &r[i];
        fprintf(f,
                "    {\"shape\": \"%s\", \"origin\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, "
                "\"threads\": %d, \"float_gmacs\": %.3f, \"table_gmacs\": %.3f, "
                "\"int8_gmacs\": %.3f, \"scalar_table_gmacs\": %.3f, "
                "\"scalar_ws_table_gmacs\": %.3f, \"table_vs_float\": %.3f, "
                "\"table_vs_int8\": %.3f, \"speedup_vs_scalar\": %.2f, "
                "\"speedup_vs_scalar_ws\": %.2f, \"best_float_gmacs\": %.3f, "
                "\"best_table_gmacs\": %.3f, \"best_int8_gmacs\": %.3f, "
                "\"best_table_vs_float\": %.3f}%s\n",
                x->shape->name, x->shape->origin, x->shape->m, x->shape->n, x->shape->k,
                x->threads, x->float_gmacs, x->lut_gmacs, x->int8_gmacs, x->scalar_gmacs,
                x->scalar_ws_gmacs, ratio(x->lut_gmacs, x->float_gmacs),
                ratio(x->lut_gmacs, x->int8_gmacs), ratio(x->lut_gmacs, x->scalar_gmacs),
                ratio(x->lut_gmacs, x->scalar_ws_gmacs), x->float_best, x->lut_best, x->int8_best,
                ratio(x->lut_best, x->float_best), i + 1 < count ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        remove(tmp);
    return ok;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option options[] = {
        {"quick", no_argument, NULL, 'q'},
        {"json", required_argument, NULL, 'j'},
        {"kernels", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quick = false;
    const char *json = NULL;
    const eng_kernels *k = eng_kernels_get();
    long max_threads = 2;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'q': quick = true; break;
        case 'j': json = optarg; break;
        case 'k':
            k = eng_kernels_by_name(optarg);
            if (k == NULL)
                return cli_usage_error("bench", "--kernels: '%s' is not a kernel set this CPU "
                                       "runs (avx512, avx2, scalar)", optarg);
            break;
        case 't':
            if (!cli_parse_long("--threads", optarg, 1, 256, &max_threads))
                return CLI_EXIT_USAGE;
            break;
        case 'h': print_usage(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage_error("bench", "option %s needs an argument", argv[optind - 1]);
        default: return cli_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if (json != NULL) { /* fail before minutes of measuring, not after */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", json);
        FILE *f = fopen(tmp, "w");
        if (f == NULL) {
            cli_error("bench: cannot write '%s': %s", json, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        fclose(f);
        remove(tmp);
    }

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    int nshapes;
    const bench_gemm_shape *shapes = bench_gemm_shapes(quick, &nshapes);
    const int repeats = quick ? 5 : 11, scalar_repeats = quick ? 1 : 3;
    const int count = nshapes * (int)max_threads;
    bench_gemm_result *res = calloc((size_t)count, sizeof *res);
    if (res == NULL) {
        cli_error("bench: out of memory");
        return CLI_EXIT_FAILURE;
    }
#if ENG_HAVE_OPENMP
    const int saved_threads = omp_get_max_threads();
#endif
    printf("Kernels on %s\n", cpu);
    printf("table GEMM: %s kernels (general 16-bit 8x8 table, preparation included); float: %s "
           "sgemm; int8: %s\n", k->name, ENG_HAVE_BLAS ? "OpenBLAS" : "blocked C",
           eng_int8_gemm_path());
    printf("GMAC/s, median of %d calls (scalar: %d), variants interleaved\n\n", repeats,
           scalar_repeats);
    printf("scalar = the reference kernel (m, n, k dot loop); scalar-ws = weight-stationary\n"
           "scalar lookups (m, k, n); 'vs' columns: the table GEMM's speed-up; 'best t/f':\n"
           "table/float of the fastest calls (least disturbed by other load)\n\n");
    printf("%-10s %4s %6s %4s %3s %7s %7s %7s %7s %9s %11s %10s %9s %9s %8s\n", "shape", "m",
           "n", "k", "thr", "float", "table", "int8", "scalar", "scalar-ws", "table/float",
           "table/int8", "vs scalar", "vs sc-ws", "best t/f");
    int done = 0;
    int rc = CLI_EXIT_OK;
    for (int s = 0; s < nshapes && rc == CLI_EXIT_OK; s++) {
        for (int t = 1; t <= max_threads; t++) {
            bench_gemm_result *r = &res[done];
            if (!bench_gemm_measure(k, &shapes[s], t, repeats, scalar_repeats, r)) {
                cli_error("bench: out of memory for shape %s", shapes[s].name);
                rc = CLI_EXIT_FAILURE;
                break;
            }
            done++;
            printf("%-10s %4d %6d %4d %3d %7.1f %7.1f %7.1f %7.2f %9.2f %11.2f %10.2f %8.1fx "
                   "%8.1fx %8.2f\n", shapes[s].name, shapes[s].m, shapes[s].n, shapes[s].k, t,
                   r->float_gmacs, r->lut_gmacs, r->int8_gmacs, r->scalar_gmacs,
                   r->scalar_ws_gmacs, ratio(r->lut_gmacs, r->float_gmacs),
                   ratio(r->lut_gmacs, r->int8_gmacs), ratio(r->lut_gmacs, r->scalar_gmacs),
                   ratio(r->lut_gmacs, r->scalar_ws_gmacs), ratio(r->lut_best, r->float_best));
            fflush(stdout);
        }
    }
#if ENG_HAVE_OPENMP
    omp_set_num_threads(saved_threads);
#endif
    if (rc == CLI_EXIT_OK && json != NULL &&
        !write_json(json, cpu, k, quick, repeats, res, done)) {
        cli_error("bench: cannot write '%s': %s", json, strerror(errno));
        rc = CLI_EXIT_FAILURE;
    }
    free(res);
    return rc;
}
