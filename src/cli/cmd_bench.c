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
#include "bench_nets.h"
#include "bench_search.h"
#include "cli.h"
#include "commands.h"
#include "eng_int8.h"
#include "eng_zoo.h"
#include "engine_config.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: evoapproxnas bench [--quick] [--json FILE] [--kernels NAME] [--threads N]\n"
            "                          [--section all|kernels|nets|profile|search] [--nets LIST]\n"
            "                          [--mul LIST] [--device cpu|cuda] [--config FILE]\n"
            "                          [--genomes N] [--steps N]\n"
            "\n"
            "Measures side by side in one run (median of repeats), with 1..N threads:\n"
            " kernels: table GEMM (an approximate 8x8 multiplier as a general 16-bit table) vs\n"
            "   exact float sgemm vs exact int8 GEMM, and the optimized table GEMM vs scalar\n"
            "   emulation, on the shapes of perf/lutgemm.md and the conv layers of ResNet-20 at\n"
            "   batch 64 (GMAC/s);\n"
            " nets: inference and training-step time of zoo networks in exact float and\n"
            "   quantized through the multiplier (8-bit asymmetric, QAT with the STE), and the\n"
            "   overhead ratios: ResNet-20 v1/v2, ResNet-56, MobileNetV2 (CIFAR, batch 64),\n"
            "   ResNet50V2 and MobileNetV2 (224x224, batch 8, inference).\n"
            "\n"
            "Options:\n"
            "  --quick          fewer shapes, networks and repeats (under a minute)\n"
            "  --json FILE      also write the results as JSON to FILE\n"
            "  --kernels NAME   kernel set: avx512, avx2 or scalar (default: the variable\n"
            "                   EVOAPPROXNAS_KERNELS, else the fastest the CPU supports)\n"
            "  --threads N      measure 1..N threads (default 2)\n"
            "  --section S      all (default: kernels and nets), kernels, nets, profile or\n"
            "                   search (--json: kernels and nets only):\n"
            "                   profile = per op type (conv2d 1x1, depthwise 3x3 s2, ...)\n"
            "                   forward and backward time of a training step of the --nets\n"
            "                   (default mobilenetv2_cifar), float and through the first --mul;\n"
            "                   search = images/s and time per op type of training the first\n"
            "                   --genomes valid random genomes of --config for --steps steps\n"
            "  --config FILE    search config of --section search (default\n"
            "                   configs/fashion-mnist.yaml; its data set is not read)\n"
            "  --genomes N      candidates of --section search (default 8; --quick: 4)\n"
            "  --steps N        timed training steps per candidate (default 4; --quick: 2)\n"
            "  --nets LIST      comma-separated zoo models to time instead of the default set\n"
            "                   (batch 64 with training for CIFAR size, else batch 8 inference)\n"
            "  --mul LIST       multiplier(s) of the approximate networks, comma-separated,\n"
            "                   up to 8, each measured in turn (default mul8u_DM1, an aggressive\n"
            "                   one: general table path; e.g. mul8u_DM1,mul8u_2HH adds an\n"
            "                   accurate one: int8 + residual path, see `luts show`)\n"
            "  --device D       cpu (default) or cuda: cuda times the networks on the GPU\n"
            "                   (exact float through cuDNN/cuBLAS vs the table kernels) at batch\n"
            "                   128: ResNet-20, ResNet-56, MobileNetV2 (CIFAR); the kernels\n"
            "                   section stays on the CPU. Without a usable GPU it says why on\n"
            "                   stderr and measures on the CPU\n"
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

static bool write_json(const char *path, const char *cpu, eng_device dev, const eng_kernels *k,
                       bool quick,
                       int repeats, const bench_gemm_result *r, int count,
                       eng_mul *const *muls, int nmuls, const bench_net_result *nr,
                       int ncount)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return false;
    fprintf(f, "{\n  \"cpu\": \"%s\",\n  \"device\": \"%s\",\n  \"table_kernels\": \"%s\",\n",
            cpu, eng_device_name(dev), k->name);
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
                "\"best_table_vs_float\": %.3f, \"residual_table_gmacs\": %.3f, "
                "\"residual_vs_float\": %.3f, \"best_residual_vs_float\": %.3f, "
                "\"truncating_table_gmacs\": %.3f, \"truncating_vs_float\": %.3f, "
                "\"best_truncating_vs_float\": %.3f}%s\n",
                x->shape->name, x->shape->origin, x->shape->m, x->shape->n, x->shape->k,
                x->threads, x->float_gmacs, x->lut_gmacs, x->int8_gmacs, x->scalar_gmacs,
                x->scalar_ws_gmacs, ratio(x->lut_gmacs, x->float_gmacs),
                ratio(x->lut_gmacs, x->int8_gmacs), x->scalar_speedup, x->scalar_ws_speedup,
                x->float_best, x->lut_best, x->int8_best,
                ratio(x->lut_best, x->float_best), x->residual_gmacs,
                ratio(x->residual_gmacs, x->float_gmacs), ratio(x->residual_best, x->float_best),
                x->trunc_gmacs, ratio(x->trunc_gmacs, x->float_gmacs),
                ratio(x->trunc_best, x->float_best), i + 1 < count ? "," : "");
    }
    fprintf(f, "  ],\n  \"multiplier\": \"%s\",\n  \"multipliers\": [",
            nmuls > 0 ? muls[0]->name : "");
    for (int i = 0; i < nmuls; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", muls[i]->name);
    fprintf(f, "],\n  \"networks\": [\n");
    for (int i = 0; i < ncount; i++) {
        const bench_net_result *x = &nr[i];
        fprintf(f,
                "    {\"model\": \"%s\", \"multiplier\": \"%s\", \"batch\": %d, \"threads\": %d, "
                "\"mmac_per_image\": %.2f, "
                "\"infer_float_ms\": %.3f, \"infer_approx_ms\": %.3f, \"infer_overhead\": %.3f, "
                "\"train_float_ms\": %.3f, \"train_approx_ms\": %.3f, "
                "\"train_overhead\": %.3f}%s\n",
                x->spec->model, x->mul, x->spec->batch, x->threads, x->mmac_per_image,
                x->infer_float_ms,
                x->infer_approx_ms, x->infer_overhead,
                x->train_float_ms, x->train_approx_ms,
                x->train_overhead, i + 1 < ncount ? "," : "");
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

/* Kernels section: fills res (nshapes * max_threads entries), returns the count done or -1. */
static int run_kernels(const eng_kernels *k, bool quick, int max_threads, int repeats,
                       bench_gemm_result *res)
{
    int nshapes;
    const bench_gemm_shape *shapes = bench_gemm_shapes(quick, &nshapes);
    const int scalar_repeats = quick ? 1 : 3;
    printf("== kernels: table GEMM %s (general 16-bit 8x8 table, preparation included); float: "
           "%s sgemm; int8: %s\n", k->name, ENG_HAVE_BLAS ? "OpenBLAS" : "blocked C",
           eng_int8_gemm_path());
    printf("GMAC/s, median of %d calls (scalar: %d), variants interleaved. scalar = the reference\n"
           "kernel (m, n, k dot loop); scalar-ws = weight-stationary scalar lookups (m, k, n);\n"
           "'vs' = the table GEMM's speed-up (median of per-round ratios, scalar and table\n"
           "calls in the same rounds); 'best t/f' = table/float of the fastest calls;\n"
           "resid = an accurate multiplier's table (exact product + error in [-128, 127]) through\n"
           "its residual decomposition: int8 dot products + one byte-plane lookup per product;\n"
           "trunc = the general table with the lowest activation bit ignored (as mul8u_DM1)\n"
           "through its activation classes: one permute per byte plane\n\n",
           repeats, scalar_repeats);
    printf("%-10s %4s %6s %4s %3s %7s %7s %7s %7s %7s %7s %9s %11s %11s %11s %10s %9s %9s "
           "%8s\n", "shape", "m", "n", "k", "thr", "float", "table", "resid", "trunc", "int8",
           "scalar", "scalar-ws", "table/float", "resid/float", "trunc/float", "table/int8",
           "vs scalar", "vs sc-ws", "best t/f");
    int done = 0;
    for (int s = 0; s < nshapes; s++) {
        for (int t = 1; t <= max_threads; t++) {
            bench_gemm_result *r = &res[done];
            if (!bench_gemm_measure(k, &shapes[s], t, repeats, scalar_repeats, r)) {
                cli_error("bench: out of memory for shape %s", shapes[s].name);
                return -1;
            }
            done++;
            printf("%-10s %4d %6d %4d %3d %7.1f %7.1f %7.1f %7.1f %7.1f %7.2f %9.2f %11.2f "
                   "%11.2f %11.2f %10.2f %8.1fx %8.1fx %8.2f\n", shapes[s].name, shapes[s].m,
                   shapes[s].n, shapes[s].k, t, r->float_gmacs, r->lut_gmacs, r->residual_gmacs,
                   r->trunc_gmacs, r->int8_gmacs, r->scalar_gmacs, r->scalar_ws_gmacs,
                   ratio(r->lut_gmacs, r->float_gmacs), ratio(r->residual_gmacs, r->float_gmacs),
                   ratio(r->trunc_gmacs, r->float_gmacs), ratio(r->lut_gmacs, r->int8_gmacs),
                   r->scalar_speedup, r->scalar_ws_speedup, ratio(r->lut_best, r->float_best));
            fflush(stdout);
        }
    }
    printf("\n");
    return done;
}

/* Networks section over specs[0..count): fills res, returns the count done or -1. */
static int run_nets(const eng_kernels *k, const bench_net_spec *specs, int count,
                    const eng_mul *mul, eng_device dev, int max_threads, int repeats,
                    bench_net_result *res)
{
    printf("== networks on the %s: exact float vs quantized through %s (8-bit asymmetric;\n"
           "training step = forward + loss + backward + SGD, QAT with the STE); ms per batch,\n"
           "median of %d calls, float and approximate in turns; overhead = the median of each\n"
           "turn's approximate / float time (both calls of a turn meet the same load)\n\n", dev == ENG_DEVICE_CUDA ? "GPU" : "CPU", mul->name, repeats);
    if (dev == ENG_DEVICE_CUDA)
        max_threads = 1; /* host threads do not matter on the device */
    printf("%-18s %5s %3s %8s %11s %11s %9s %11s %11s %9s\n", "network", "batch", "thr",
           "MMAC/img", "infer fp ms", "infer ax ms", "overhead", "train fp ms", "train ax ms",
           "overhead");
    int done = 0;
    for (int i = 0; i < count; i++) {
        for (int t = 1; t <= max_threads; t++) {
            bench_net_result *r = &res[done];
            if (bench_net_measure(k, &specs[i], mul, dev, t, repeats, r) != ENG_OK) {
                cli_error("bench: %s: %s", specs[i].model, eng_last_error());
                return -1;
            }
            done++;
            printf("%-18s %5d %3d %8.2f %11.1f %11.1f %8.2fx", specs[i].model, specs[i].batch, t,
                   r->mmac_per_image, r->infer_float_ms, r->infer_approx_ms, r->infer_overhead);
            if (specs[i].train)
                printf(" %11.1f %11.1f %8.2fx\n", r->train_float_ms, r->train_approx_ms,
                       r->train_overhead);
            else
                printf(" %11s %11s %9s\n", "-", "-", "-");
            fflush(stdout);
        }
    }
    printf("\n");
    return done;
}

static double profile_total(const bench_profile *p)
{
    double total = 0.0;
    for (int e = 0; e < p->count; e++)
        total += p->ops[e].fwd_ms + p->ops[e].bwd_ms;
    return total;
}

/* The table of time per op type, with each type's share of the total. */
static void print_profile(const bench_profile *p)
{
    const double total = profile_total(p);
    double inf_total = 0.0;
    for (int e = 0; e < p->count; e++)
        inf_total += p->ops[e].inf_ms;
    const bool trained = total > 0.0; /* an inference-only network has no training columns */
    printf("  %-22s %6s", "op type", "layers");
    if (trained)
        printf(" %9s %9s %9s %6s", "fwd ms", "bwd ms", "total ms", "share");
    if (inf_total > 0.0)
        printf(" %9s %6s", "infer ms", "share");
    printf("\n");
    for (int e = 0; e < p->count; e++) {
        const bench_op_time *o = &p->ops[e];
        printf("  %-22s %6d", o->type, o->layers);
        if (trained)
            printf(" %9.2f %9.2f %9.2f %5.1f%%", o->fwd_ms, o->bwd_ms, o->fwd_ms + o->bwd_ms,
                   100.0 * ratio(o->fwd_ms + o->bwd_ms, total));
        if (inf_total > 0.0)
            printf(" %9.2f %5.1f%%", o->inf_ms, 100.0 * ratio(o->inf_ms, inf_total));
        printf("\n");
    }
    printf("\n");
    fflush(stdout);
}

/* Search section: candidate training speed of a config (checked with bench_search_check) at
 * 1..max_threads threads. Returns the CLI exit code. */
static int run_search(const char *config, int genomes, int steps, int max_threads)
{
    printf("== candidate training of a search: the first %d valid random genomes of %s (its\n"
           "seed), built as the search builds them (quantized through their multipliers), %d\n"
           "timed training steps each after a warm-up step, on fixed random images; images/s\n"
           "over all timed steps, time per op type summed over the candidates\n\n", genomes,
           config, steps);
    for (int t = 1; t <= max_threads; t++) {
        bench_search_result r;
        if (bench_search_measure(config, genomes, steps, t, &r) != ENG_OK) {
            cli_error("bench: %s", eng_last_error());
            return CLI_EXIT_FAILURE;
        }
        printf("%d candidates x %d steps of batch %d, %d thread%s: %.1f images/s (%.1f ms)\n",
               r.genomes, r.steps, r.batch, t, t > 1 ? "s" : "", r.images_per_s, r.ms);
        print_profile(&r.ops);
    }
    return CLI_EXIT_OK;
}

/* Profile section: per op type, the mean forward and backward time of a training step of
 * each network, exact float and through mul, at 1..max_threads threads. Returns false (message
 * printed) when a network cannot run. */
static bool run_profile(const eng_kernels *k, const bench_net_spec *specs, int count,
                        const eng_mul *mul, int max_threads, int repeats)
{
    printf("== time per op type of a training step (forward in training mode + loss + backward\n"
           "+ SGD) and of an inference (evaluation forward), mean of %d after a warm-up, node by\n"
           "node; a batch norm or add fused with the ReLU after it includes the ReLU; 'approx' =\n"
           "quantized through %s\n\n",
           repeats, mul->name);
    for (int i = 0; i < count; i++) {
        for (int t = 1; t <= max_threads; t++) {
            for (int a = 0; a < 2; a++) {
                bench_profile p;
                if (bench_net_profile(k, &specs[i], a ? mul : NULL, t, repeats, &p) != ENG_OK) {
                    cli_error("bench: %s: %s", specs[i].model, eng_last_error());
                    return false;
                }
                double inf = 0.0;
                for (int e = 0; e < p.count; e++)
                    inf += p.ops[e].inf_ms;
                printf("%s, batch %d, %d thread%s, %s: ", specs[i].model, specs[i].batch, t,
                       t > 1 ? "s" : "", a ? "approx" : "float");
                if (specs[i].train)
                    printf("%.1f ms in layers per training step, ", profile_total(&p));
                printf("%.1f ms per inference%s\n", inf,
                       specs[i].train ? "" : " (an inference-only network: no training step)");
                print_profile(&p);
            }
        }
    }
    return true;
}

/* Parses --nets "a,b,c" into specs (at most max), batch sizes per bench_net_spec_for. Returns
 * the count, or -1 (message printed) for an unknown model. */
static int parse_nets(const char *list, eng_device dev, bench_net_spec *specs, char *names,
                      size_t size, int max)
{
    snprintf(names, size, "%s", list);
    int count = 0;
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        eng_net *net;
        if (count == max || eng_zoo_build(tok, NULL, &net) != ENG_OK) {
            cli_usage_error("bench", "--nets: '%s' is not a zoo model (or too many models)", tok);
            return -1;
        }
        int c, h, w;
        eng_net_input_shape(net, &c, &h, &w);
        eng_net_free(net);
        specs[count++] = bench_net_spec_for(tok, h, dev);
    }
    if (count == 0)
        cli_usage_error("bench", "--nets: empty list");
    return count > 0 ? count : -1;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option options[] = {
        {"quick", no_argument, NULL, 'q'},
        {"json", required_argument, NULL, 'j'},
        {"kernels", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"section", required_argument, NULL, 's'},
        {"nets", required_argument, NULL, 'n'},
        {"mul", required_argument, NULL, 'm'},
        {"device", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"genomes", required_argument, NULL, 'g'},
        {"steps", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quick = false, do_kernels = true, do_nets = true, do_profile = false, do_search = false;
    const char *config = "configs/fashion-mnist.yaml";
    long genomes = 8, steps = 4;
    const char *json = NULL, *nets = NULL, *mul_name = "mul8u_DM1";
    const eng_kernels *k = eng_kernels_get();
    long max_threads = 2;
    eng_device want = ENG_DEVICE_CPU;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'q': quick = true; break;
        case 'j': json = optarg; break;
        case 'n': nets = optarg; break;
        case 'c': config = optarg; break;
        case 'g':
            if (!cli_parse_long("--genomes", optarg, 1, 1000, &genomes))
                return CLI_EXIT_USAGE;
            break;
        case 'S':
            if (!cli_parse_long("--steps", optarg, 1, 1000, &steps))
                return CLI_EXIT_USAGE;
            break;
        case 'm': mul_name = optarg; break;
        case 'd':
            if (eng_device_parse(optarg, &want) != ENG_OK)
                return cli_usage_error("bench", "--device: %s", eng_last_error());
            break;
        case 'k':
            k = eng_kernels_by_name(optarg);
            if (k == NULL)
                return cli_usage_error("bench", "--kernels: '%s' is not a kernel set this CPU "
                                       "runs (avx512, avx2, scalar)", optarg);
            break;
        case 's':
            if (strcmp(optarg, "all") != 0 && strcmp(optarg, "kernels") != 0 &&
                strcmp(optarg, "nets") != 0 && strcmp(optarg, "profile") != 0 &&
                strcmp(optarg, "search") != 0)
                return cli_usage_error("bench", "--section: '%s' is not all, kernels, nets, "
                                       "profile or search", optarg);
            do_profile = strcmp(optarg, "profile") == 0;
            do_search = strcmp(optarg, "search") == 0;
            do_kernels = strcmp(optarg, "all") == 0 || strcmp(optarg, "kernels") == 0;
            do_nets = strcmp(optarg, "all") == 0 || strcmp(optarg, "nets") == 0;
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
    if (do_search) { /* bad input fails before minutes of measuring */
        eng_status st = bench_search_check(config);
        if (st != ENG_OK) {
            cli_error("bench: %s", eng_last_error());
            return st == ENG_ERR_IO || st == ENG_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        }
        if (quick) {
            genomes = genomes < 4 ? genomes : 4;
            steps = steps < 2 ? steps : 2;
        }
    }

    enum { MAX_NETS = 16 };
    bench_net_spec custom[MAX_NETS];
    char names[1024];
    int nnets = 0;
    eng_device dev;
    if (eng_device_resolve(want, &dev) != ENG_OK)
        cli_error("--device %s: %s; running on the CPU", eng_device_name(want), eng_last_error());
    const bench_net_spec *specs = bench_net_specs(quick, dev, &nnets);
    if (do_profile && nets == NULL)
        nets = "mobilenetv2_cifar";
    if (do_profile && dev != ENG_DEVICE_CPU)
        return cli_usage_error("bench", "--section profile runs on the CPU only");
    if (nets != NULL) {
        if ((nnets = parse_nets(nets, dev, custom, names, sizeof names, MAX_NETS)) < 0)
            return CLI_EXIT_USAGE;
        specs = custom;
    }
    enum { MAX_MULS = 8 };
    eng_mul *muls[MAX_MULS] = {NULL};
    int nmuls = 0;
    char mul_names[1024];
    snprintf(mul_names, sizeof mul_names, "%s", mul_name);
    for (char *save = NULL, *tok = strtok_r(mul_names, ",", &save);
         (do_nets || do_profile) && tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (nmuls == MAX_MULS || eng_mul_load(tok, &muls[nmuls]) != ENG_OK) {
            if (nmuls == MAX_MULS)
                cli_usage_error("bench", "--mul: more than %d multipliers", MAX_MULS);
            else
                cli_usage_error("bench", "--mul: %s", eng_last_error());
            for (int i = 0; i < nmuls; i++)
                eng_mul_free(muls[i]);
            return CLI_EXIT_USAGE;
        }
        nmuls++;
    }
    if ((do_nets || do_profile) && nmuls == 0)
        return cli_usage_error("bench", "--mul: empty list");
    if (json != NULL) { /* fail before minutes of measuring, not after */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", json);
        FILE *f = fopen(tmp, "w");
        if (f == NULL) {
            cli_error("bench: cannot write '%s': %s", json, strerror(errno));
            for (int i = 0; i < nmuls; i++)
                eng_mul_free(muls[i]);
            return CLI_EXIT_USAGE;
        }
        fclose(f);
        remove(tmp);
    }

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    int nshapes;
    bench_gemm_shapes(quick, &nshapes);
    const int repeats = quick ? 5 : 11, net_repeats = quick ? 3 : 5;
    bench_gemm_result *res = calloc((size_t)nshapes * (size_t)max_threads, sizeof *res);
    bench_net_result *nres = calloc((size_t)(nmuls > 0 ? nmuls : 1) * (size_t)nnets *
                                        (size_t)max_threads, sizeof *nres);
    int rc = CLI_EXIT_OK, done = 0, ndone = 0;
    if (res == NULL || nres == NULL) {
        cli_error("bench: out of memory");
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    const int saved_threads = eng_threads();
    printf("evoapproxnas bench on %s, kernels %s\n\n", cpu, k->name);
    if (do_kernels && (done = run_kernels(k, quick, (int)max_threads, repeats, res)) < 0)
        rc = CLI_EXIT_FAILURE;
    if (do_search && rc == CLI_EXIT_OK)
        rc = run_search(config, (int)genomes, (int)steps, (int)max_threads);
    if (do_profile && rc == CLI_EXIT_OK &&
        !run_profile(k, specs, nnets, muls[0], (int)max_threads, net_repeats))
        rc = CLI_EXIT_FAILURE;
    for (int i = 0; i < nmuls && do_nets && rc == CLI_EXIT_OK; i++) {
        const int d = run_nets(k, specs, nnets, muls[i], dev, (int)max_threads, net_repeats,
                               nres + ndone);
        if (d < 0)
            rc = CLI_EXIT_FAILURE;
        else
            ndone += d;
    }
    eng_set_threads(saved_threads);
    if (rc == CLI_EXIT_OK && json != NULL &&
        !write_json(json, cpu, dev, k, quick, repeats, res, done, muls, nmuls, nres, ndone)) {
        cli_error("bench: cannot write '%s': %s", json, strerror(errno));
        rc = CLI_EXIT_FAILURE;
    }
out:
    free(res);
    free(nres);
    for (int i = 0; i < nmuls; i++)
        eng_mul_free(muls[i]);
    return rc;
}
