/*
 * test_energy.c - the energy model (src/energy/): accelerator YAML (good and bad), layer
 * counts against published figures, calibration on the Eyeriss-like AlexNet conv1 figures,
 * mapping constraints (loading, bad constraints, the mapper's best under them against an
 * exhaustive search), mapper invariants (capacities, constraints, compulsory traffic),
 * multiplier substitution, layer lists and the Timeloop export.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "energy/energy.h"
#include "energy_nets.h"
#include "engine_config.h"
#include "testutil.h"

#define ACC16 EVOAPPROXNAS_SOURCE_DIR "/configs/accelerators/eyeriss_like_16b.yaml"
#define ACC16U EVOAPPROXNAS_SOURCE_DIR "/configs/accelerators/eyeriss_like_16b_unconstrained.yaml"
#define ACC8 EVOAPPROXNAS_SOURCE_DIR "/configs/accelerators/eyeriss_like_8b.yaml"

enum { N_ = ENERGY_DIM_N, G_ = ENERGY_DIM_G, M_ = ENERGY_DIM_M, C_ = ENERGY_DIM_C,
       P_ = ENERGY_DIM_P, Q_ = ENERGY_DIM_Q, R_ = ENERGY_DIM_R, S_ = ENERGY_DIM_S };

static energy_accel load_accel(const char *path)
{
    energy_accel a;
    ck_assert_msg(energy_accel_load(path, &a) == ENG_OK, "%s", eng_last_error());
    return a;
}

static energy_layer alexnet_conv1(void)
{
    energy_layer *ls;
    int n;
    ck_assert_int_eq(energy_model_layers("alexnet-conv1", &ls, &n), ENG_OK);
    ck_assert_int_eq(n, 1);
    energy_layer l = ls[0];
    free(ls);
    return l;
}

/* ------------------------------------------------------------------------------------------
 * Accelerator files
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_accel_load)
{
    energy_accel a = load_accel(ACC16);
    ck_assert_str_eq(a.name, "eyeriss_like_16b");
    ck_assert_int_eq(a.pe_rows * a.pe_cols, 168);
    ck_assert_int_eq(a.n_levels, 5);
    ck_assert_int_eq(a.levels[1].capacity_words, 65536);          /* 128 KiB of 16-bit words */
    ck_assert_int_eq(a.levels[3].capacity_words, 192);
    ck_assert_double_eq_tol(a.mac_pj, 2.20, 1e-12);
    ck_assert_double_eq_tol(a.levels[0].read_pj, 128.0, 1e-12);
    ck_assert_uint_eq(a.levels[1].keeps, (1u << ENERGY_TENSOR_INPUTS) | (1u << ENERGY_TENSOR_OUTPUTS));
    /* keeps from the bypass constraints: each scratchpad one tensor */
    ck_assert_uint_eq(a.levels[2].keeps, 1u << ENERGY_TENSOR_INPUTS);
    ck_assert_uint_eq(a.levels[3].keeps, 1u << ENERGY_TENSOR_WEIGHTS);
    ck_assert_uint_eq(a.levels[4].keeps, 1u << ENERGY_TENSOR_OUTPUTS);
    ck_assert_uint_eq(a.dataflows, 1u << ENERGY_DATAFLOW_CONSTRAINED);
    /* the exercise's constraints: S C M over the rows (S whole), Q M over the columns */
    ck_assert(a.cons.spatial);
    ck_assert_uint_eq(a.cons.rows, 1u << S_ | 1u << C_ | 1u << M_);
    ck_assert_uint_eq(a.cons.cols, 1u << Q_ | 1u << M_);
    ck_assert_int_eq(a.cons.spatial_factor[S_], ENERGY_FACTOR_FULL);
    ck_assert_int_eq(a.cons.spatial_factor[N_], 1);
    ck_assert_int_eq(a.cons.spatial_factor[M_], ENERGY_FACTOR_FREE);
    /* inside a PE (the three scratchpads combined): M and C free, R whole, the rest 1 */
    const int pe_want[8] = {1, ENERGY_FACTOR_FREE, ENERGY_FACTOR_FREE, ENERGY_FACTOR_FREE, 1, 1,
                            ENERGY_FACTOR_FULL, 1};
    for (int d = 0; d < 8; d++) {
        ck_assert_int_eq(a.cons.factor[2][d], pe_want[d]);
        ck_assert_int_eq(a.cons.factor[3][d], ENERGY_FACTOR_FREE);
        ck_assert_int_eq(a.cons.factor[0][d], ENERGY_FACTOR_FREE);
    }
    ck_assert_int_eq(a.cons.perm_len[0], 1);
    ck_assert_int_eq(a.cons.perm[0][0], N_);
    ck_assert_int_eq(a.cons.perm_len[4], 7);               /* NCPQRS M, innermost first */
    ck_assert_int_eq(a.cons.perm[4][6], M_);
    energy_accel u = load_accel(ACC16U);
    ck_assert_uint_eq(u.dataflows, 1u << ENERGY_DATAFLOW_ROW_STATIONARY);
    ck_assert(!u.cons.spatial);
    for (int d = 0; d < 8; d++) ck_assert_int_eq(u.cons.factor[2][d], ENERGY_FACTOR_FREE);
    energy_accel b = load_accel(ACC8);
    ck_assert_int_eq(b.word_bits, 8);
    ck_assert_int_eq(b.levels[4].word_bits, 24);
    ck_assert_int_eq(__builtin_popcount(b.dataflows), 3);
}
END_TEST

/* Bad files: the expected status and the "file:line: ..." text the message must contain. */
#define CONS_HEAD                                                                              \
    "name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "              \
    "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"                           \
    "  - {name: DRAM, scope: offchip, read_pj: 1, write_pj: 1}\n"                              \
    "  - {name: glb, scope: global, capacity_words: 64, read_pj: 1, write_pj: 1}\n"            \
    "  - {name: rf_w, scope: pe, capacity_words: 4, keeps: [weights], read_pj: 1, "           \
    "write_pj: 1}\n"                                                                           \
    "  - {name: rf_i, scope: pe, capacity_words: 4, keeps: [inputs], read_pj: 1, write_pj: 1}\n" \
    "  - {name: rf_o, scope: pe, capacity_words: 4, keeps: [outputs], read_pj: 1, "           \
    "write_pj: 1}\nconstraints:\n"
static const struct bad_case {
    const char *yaml;
    const char *expect;     /* substring after "<path>:" */
} bad_cases[] = {
    {"name: x\nword_bits: 16\nspeed: 3\n", ":3:1: unknown key 'speed'; known keys here: name, technology"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, keeps: [weights, inputs, outputs], read_pj: -5, "
     "write_pj: 1}\n", ":7:78: levels[0].read_pj: -5 is out of range (allowed: 0 to 1e+09)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2}\n", ":3:11: missing required key 'pe_array.cols' (an integer from 1 to 4096)"},
    {"name: x\nword_bits: sixteen\n", ":2:12: word_bits: expected an integer, found 'sixteen'"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, keeps: [weights, inputs, outputs], read_pj: 1, "
     "write_pj: 1}\n  - {name: rf, scope: pe, capacity_words: 4, keeps: [weights], "
     "read_pj: 1, write_pj: 1}\n  - {name: glb, scope: global, capacity_words: 64, "
     "keeps: [inputs], read_pj: 1, write_pj: 1}\n", ":9:5: level glb: global levels must come"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, keeps: [weights, inputs, outputs], read_pj: 1, "
     "write_pj: 1}\n  - {name: rf, scope: pe, capacity_words: 0, keeps: [weights], "
     "read_pj: 1, write_pj: 1}\n", ":8:43: levels[1].capacity_words: 0 is out of range (allowed: 1 to"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 1.5}\n", ":4:39: mac.multiplier_share: 1.5 is out of range (allowed: 0 to 1)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [diagonal]\n", ":5:13: dataflows: 'diagonal' is not one of: weight_stationary"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: glb, scope: global, capacity_words: 8, keeps: [weights, inputs, outputs], "
     "read_pj: 1, write_pj: 1}\n", ":7:5: the first level must be off-chip"},
    {"name: x\nname: y\n", ":2:1: duplicate key 'name' (first given on line 1)"},
    {"name: x\nword_bits: [16\n", ":3:1: YAML syntax error"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, keeps: [weights, inputs, outputs], read_pj: 1, "
     "write_pj: 1}\n  - {name: a, scope: pe, capacity_words: 4, keeps: [weights], "
     "read_pj: 1, write_pj: 1}\n  - {name: b, scope: pe, capacity_words: 4, "
     "keeps: [weights, inputs], read_pj: 1, write_pj: 1}\n", ":9:52: level b: per-PE levels are"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: \"1\", "
     "multiplier_share: 0.5}\n", ":4:18: mac.energy_pj: expected a number, found the quoted string \"1\" (hint: "
     "remove the quotes)"},
    /* constraints (the levels of CONS_HEAD: DRAM, glb, rf_w, rf_i, rf_o; lines 7-11) */
    {CONS_HEAD "  - {target: glb, type: temporal, permutation: NXC}\n",
     ":13:48: constraints[0].permutation: unknown dimension 'X'"},
    {CONS_HEAD "  - {target: glb, type: temporal, factors: {K: 2}}\n",
     ":13:45: constraints[0].factors: unknown dimension 'K'"},
    {CONS_HEAD "  - {target: glb, type: spatial, rows: CR, cols: MZ}\n",
     ":13:50: constraints[0].cols: unknown dimension 'Z'"},
    {CONS_HEAD "  - {target: glb, type: bypass, keep: [inputs], bypass: [psums]}\n",
     ":13:58: constraints[0].bypass: 'psums' is not one of: weights, inputs, outputs"},
    {CONS_HEAD "  - {target: glb, type: bypass, keep: [inputs, weights], bypass: [weights]}\n",
     ":13:66: glb: weights is both kept and bypassed"},
    {CONS_HEAD "  - {target: rf_w, type: bypass, bypass: [weights]}\n",
     ":13:42: rf_w: weights is bypassed, but the level's keeps lists it"},
    {CONS_HEAD "  - {target: rf_w, type: bypass, keep: [inputs]}\n",
     ":13:40: rf_w: inputs is kept, but the level's keeps does not list it"},
    {CONS_HEAD "  - {target: sram, type: bypass, bypass: [weights]}\n",
     ":13:14: constraints[0].target: no level named 'sram'"},
    {CONS_HEAD "  - {target: DRAM, type: spatial, rows: C, cols: M}\n",
     ":13:5: a spatial target must name the level right above the PE array (glb)"},
    {CONS_HEAD "  - {target: glb, type: temporal, permutation: N}\n"
     "  - {target: glb, type: temporal, factors: {N: 1}}\n", ":14:5: a second temporal target"},
    {CONS_HEAD "  - {target: glb, type: temporal, permutation: NCN}\n",
     ":13:48: constraints[0].permutation: dimension N listed twice"},
    {CONS_HEAD "  - {target: rf_w, type: temporal, factors: {M: 2}}\n"
     "  - {target: rf_o, type: temporal, factors: {M: 0}}\n",
     ":13:3: per-PE targets disagree on dimension M"},
    {CONS_HEAD "  - {target: glb, type: temporal, perm: N}\n", ":13:35: unknown key 'constraints[0].perm'; known keys here: target"},
    {CONS_HEAD "  - {target: glb, type: temporal, rows: N}\n",
     ":13:41: constraints[0].rows: not a key of a temporal target"},
    {CONS_HEAD "  - {target: glb, type: temporal, factors: {M: -2}}\n", ":13:48: constraints[0].factors.M: -2 is out of range (allowed: 0 to"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [constrained]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: 1, write_pj: 1}\n",
     ":5:12: dataflows: 'constrained' needs a spatial constraint"},
    /* the strict reader's error classes with their line:col: unknown key with a hint, wrong
       type, out of range, duplicate key (top level, a level, a constraint) */
    {"name: x\nword_bits: 16\npe_aray: {rows: 2, cols: 2}\n",
     ":3:1: unknown key 'pe_aray' (did you mean 'pe_array'?)"},
    {"name: x\nword_bits: 16\npe_array: {rows: two, cols: 2}\n",
     ":3:18: pe_array.rows: expected an integer, found 'two'"},
    {"name: x\nword_bits: 65\n", ":2:12: word_bits: 65 is out of range (allowed: 1 to 64)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2, rows: 3}\n",
     ":3:30: duplicate key 'pe_array.rows' (first given on line 3)"},
    {CONS_HEAD "  - {target: glb, type: temporal, permutaton: NC}\n",
     ":13:35: unknown key 'constraints[0].permutaton' (did you mean 'permutation'?)"},
    {CONS_HEAD "  - {target: glb, type: temporal, factors: [N]}\n",
     ":13:44: constraints[0].factors: a map such as {N: 1, R: 0} is needed"},
    {CONS_HEAD "  - {target: glb, type: temporal, factors: {N: 1, N: 2}}\n",
     ":13:51: duplicate key 'constraints[0].factors.N' (first given on line 13)"},
    {CONS_HEAD "  - {target: glb, type: temporal, factors: {N: 1}, type: spatial}\n",
     ":13:52: duplicate key 'constraints[0].type' (first given on line 13)"},
    {CONS_HEAD "  - {target: glb, type: temporl, factors: {N: 1}}\n",
     ":13:25: constraints[0].type: 'temporl' is not one of: bypass, spatial, temporal (did you "
     "mean 'temporal'?)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: 1, write_pj: 1, read_pj: 2}\n",
     ":7:59: duplicate key 'levels[0].read_pj' (first given on line 7)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: 1, writ_pj: 1}\n",
     ":7:46: unknown key 'levels[0].writ_pj' (did you mean 'write_pj'?)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: [1], write_pj: 1}\n",
     ":7:43: levels[0].read_pj: expected a number, found a list"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: 1, write_pj: 1}\n"
     "  - {name: glb, scope: gobal, capacity_words: 8, read_pj: 1, write_pj: 1}\n",
     ":8:24: levels[1].scope: 'gobal' is not one of: offchip, global, pe (did you mean "
     "'global'?)"},
    {"name: x\nword_bits: 16\npe_array: {rows: 2, cols: 2}\nmac: {energy_pj: 1, "
     "multiplier_share: 0.5}\ndataflows: [row_stationary]\nlevels:\n"
     "  - {name: DRAM, scope: offchip, read_pj: 1, write_pj: 1}\n"
     "  - {name: g1, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g2, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g3, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g4, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g5, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g6, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g7, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n"
     "  - {name: g8, scope: global, capacity_words: 8, read_pj: 1, write_pj: 1}\n",
     ":15:5: levels: more than 8 levels"},
    {"", ": empty document"},
    {"a: &x {b: 1}\n" "l: [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, "
     "*x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, "
     "*x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, "
     "*x, *x, *x]\n", ":2:261: more than 64 aliases"},
};

START_TEST(test_accel_bad)
{
    const struct bad_case *bc = &bad_cases[_i];
    const char *dir = test_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/acc.yaml", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(bc->yaml, f);
    fclose(f);
    energy_accel a;
    memset(&a, 0x5a, sizeof a);
    energy_accel before = a;
    ck_assert_int_eq(energy_accel_load(path, &a), ENG_ERR_FORMAT);
    char want[4800];
    snprintf(want, sizeof want, "%s%s", path, bc->expect);
    ck_assert_msg(strstr(eng_last_error(), want), "message '%s' lacks '%s'", eng_last_error(), want);
    ck_assert_int_eq(memcmp(&a, &before, sizeof a), 0);
    test_rmtree(dir);
}
END_TEST

/* Writes text to a fresh DIR/name; returns the path (static buffer). */
static const char *write_tmp(const char *dir, const char *name, const char *text)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Accelerator and layer files beyond the YAML limits (issue #14 item 4): deep nesting, a huge
 * mapping, over 1 MiB; each an ENG_ERR_FORMAT naming the file, found before the document is
 * built. */
START_TEST(test_yaml_limits)
{
    enum { LEVELS = 50000 };
    const char *dir = test_mkdtemp();
    char *deep = malloc(2 * LEVELS + 64);
    int n = sprintf(deep, "name: x\nword_bits: ");
    memset(deep + n, '[', LEVELS);
    memset(deep + n + LEVELS, ']', LEVELS);
    strcpy(deep + n + 2 * LEVELS, "\n");
    energy_accel a;
    const char *path = write_tmp(dir, "acc.yaml", deep);
    ck_assert_int_eq(energy_accel_load(path, &a), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "acc.yaml:2:43: collections nested deeper than 32"), "%s",
                  eng_last_error());
    path = write_tmp(dir, "net.yaml", deep);
    energy_layer *ls = NULL;
    int count = -1;
    ck_assert_int_eq(energy_layers_load(path, &ls, &count, NULL), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "net.yaml:2:43: collections nested deeper"), "%s",
                  eng_last_error());
    ck_assert_int_eq(count, -1);
    free(deep);
    char *wide = malloc(5000 * 16 + 64);
    n = sprintf(wide, "name: x\npe_array: {");
    for (int i = 0; i < 5000; i++) n += sprintf(wide + n, "k%d: 1, ", i);
    strcpy(wide + n, "}\n");
    path = write_tmp(dir, "acc.yaml", wide);
    ck_assert_int_eq(energy_accel_load(path, &a), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "acc.yaml:2:39862: a mapping with more than 4096 keys"), "%s",
                  eng_last_error());
    free(wide);
    const size_t big = ((size_t)1 << 20) + 1;
    char *text = malloc(big + 1);
    memset(text, ' ', big);
    text[0] = '#';
    text[big] = '\0';
    path = write_tmp(dir, "acc.yaml", text);
    ck_assert_int_eq(energy_accel_load(path, &a), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "acc.yaml: larger than 1048576 bytes"), "%s",
                  eng_last_error());
    free(text);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_accel_missing_file)
{
    energy_accel a;
    ck_assert_int_eq(energy_accel_load("/nonexistent/acc.yaml", &a), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "/nonexistent/acc.yaml"));
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Layer counts (published figures)
 * ---------------------------------------------------------------------------------------- */

static void net_counts(const energy_layer *ls, int n, int64_t *macs, int64_t *params)
{
    *macs = *params = 0;
    for (int i = 0; i < n; i++) {
        *macs += energy_layer_macs(&ls[i]);
        *params += energy_layer_params(&ls[i]);
    }
}

START_TEST(test_counts_alexnet)
{
    energy_layer *ls;
    int n;
    int64_t macs, params;
    ck_assert_int_eq(energy_model_layers("alexnet", &ls, &n), ENG_OK);
    net_counts(ls, n, &macs, &params);
    /* Krizhevsky 2012 with the two-GPU groups: 724 M MACs (Eyeriss, ISSCC 2016), 61 M params */
    ck_assert_int_eq(macs, 724406816);
    ck_assert_int_eq(params, 60965224);
    ck_assert_int_eq(energy_layer_macs(&ls[0]), 105415200);  /* the reference page's conv1 */
    ck_assert_int_eq(ls[0].p, 55);
    ck_assert_int_eq(ls[8].c, 9216);                          /* fc6 flattens 256x6x6 */
    free(ls);
    ck_assert_int_eq(energy_model_layers("vgg16", &ls, &n), ENG_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_counts_resnet20)
{
    energy_layer ls[ENERGY_RESNET20_LAYERS];
    int n = energy_resnet20_layers(ls);
    int64_t macs, params;
    net_counts(ls, n, &macs, &params);
    ck_assert_int_eq(params, 269722);       /* peers.md: ResNet-20 v1, option A */
    ck_assert_int_eq(macs, 40551040);       /* 40.55 MMAC */
    /* the YAML twin gives the same layers */
    energy_layer *y;
    int ny;
    char name[ENERGY_NAME_MAX];
    ck_assert_msg(energy_layers_load(test_data_path("energy/resnet20.yaml"), &y, &ny, name) ==
                  ENG_OK, "%s", eng_last_error());
    ck_assert_str_eq(name, "resnet20");
    ck_assert_int_eq(ny, n);
    for (int i = 0; i < n; i++) ck_assert_int_eq(memcmp(&y[i], &ls[i], sizeof y[i]), 0);
    free(y);
}
END_TEST

START_TEST(test_layer_finish_errors)
{
    energy_layer l = {.kind = ENERGY_LAYER_CONV, .name = "bad", .c = 3, .h = 4, .w = 4, .m = 8,
                      .r = 7, .s = 7};
    energy_layer before = l;
    ck_assert_int_eq(energy_layer_finish(&l), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "layer bad: kernel 7x7 larger"));
    ck_assert_int_eq(memcmp(&l, &before, sizeof l), 0);
    l.r = l.s = 3;
    l.groups = 2;
    l.c = 3;
    ck_assert_int_eq(energy_layer_finish(&l), ENG_ERR_ARG);
    l.c = 4;
    ck_assert_int_eq(energy_layer_finish(&l), ENG_OK);
    ck_assert_int_eq(l.p, 2);
    ck_assert_int_eq(energy_layer_macs(&l), 8 * 2 * 2 * 2 * 9);
    energy_layer dw = {.kind = ENERGY_LAYER_DEPTHWISE, .name = "dw", .c = 32, .h = 16, .w = 16,
                       .r = 3, .s = 3, .stride = 2, .pad = 1, .batchnorm = true};
    ck_assert_int_eq(energy_layer_finish(&dw), ENG_OK);
    ck_assert_int_eq(dw.m, 32);
    ck_assert_int_eq(dw.p, 8);
    ck_assert_int_eq(energy_layer_macs(&dw), 32 * 8 * 8 * 9);
    ck_assert_int_eq(energy_layer_params(&dw), 32 * 9 + 64);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Calibration: AlexNet conv1 on the Eyeriss-like design (reference.md)
 * ---------------------------------------------------------------------------------------- */

/* A loop order (outer first) with the given dimensions innermost, in the given order
 * (outer to inner), the others outside in index order. */
static void order_with_inner(int *order, const int *inner, int n_inner)
{
    int k = 0;
    for (int d = 0; d < 8; d++) {
        bool in = false;
        for (int i = 0; i < n_inner; i++) in |= inner[i] == d;
        if (!in) order[k++] = d;
    }
    for (int i = 0; i < n_inner; i++) order[k++] = inner[i];
}

/* The published mapping (timeloop-accelergy-exercises, eyeriss_like,
 * example_AlexNet_layer1_outputs/timeloop-mapper.map+stats.xml and .log, "L5[WIO] Q55 C3 -
 * L4[IO] P55 M12X - L3[] Q1 S11Y - L2[I] Q1 - L1[W] R11 - L0[O] M8"): DRAM loops over output
 * columns Q 55 (outer) and input channels C 3, the global buffer over output rows P 55, 12
 * filters over the PE columns, the 11 filter columns S over the PE rows, R 11 and M 8 inside
 * each PE. N innermost at DRAM and the buffer (N = 1), as the constraints want. */
static energy_mapping published_mapping(const energy_accel *a)
{
    energy_mapping m;
    memset(&m, 0, sizeof m);
    m.dataflow = ENERGY_DATAFLOW_CONSTRAINED;
    for (int k = 0; k < a->n_levels; k++)
        for (int d = 0; d < ENERGY_DIM_COUNT; d++) {
            m.temporal[k][d] = 1;
            m.order[k][d] = d;
        }
    for (int d = 0; d < ENERGY_DIM_COUNT; d++) m.spatial_rows[d] = m.spatial_cols[d] = 1;
    const int dram_inner[3] = {Q_, C_, N_}, glb_inner[2] = {P_, N_};
    order_with_inner(m.order[0], dram_inner, 3);
    order_with_inner(m.order[1], glb_inner, 2);
    m.temporal[0][Q_] = 55;
    m.temporal[0][C_] = 3;
    m.temporal[1][P_] = 55;
    m.spatial_cols[M_] = 12;
    m.spatial_rows[S_] = 11;
    m.temporal[2][R_] = 11;
    m.temporal[2][M_] = 8;
    return m;
}

static double memory_and_mac_pj(const energy_accel *a, const energy_layer_cost *c)
{
    double total = (double)c->macs * a->mac_pj;
    for (int k = 0; k < a->n_levels; k++) total += c->level_pj[k];
    return total;
}

START_TEST(test_calibration_published_mapping)
{
    energy_accel a = load_accel(ACC16);
    energy_layer l = alexnet_conv1();
    energy_mapping m = published_mapping(&a);
    energy_layer_cost c;
    /* the published mapping keeps the shipped constraints */
    ck_assert_msg(energy_mapping_evaluate(&a, &l, &m, &c) == ENG_OK, "%s", eng_last_error());
    /* the published DRAM traffic, word for word */
    ck_assert_double_eq_tol(c.reads[0][ENERGY_TENSOR_WEIGHTS], 1916640, 0.5);
    ck_assert_double_eq_tol(c.reads[0][ENERGY_TENSOR_INPUTS], 412005, 0.5);
    ck_assert_double_eq_tol(c.writes[0][ENERGY_TENSOR_OUTPUTS], 290400, 0.5);
    /* and the published scratchpad traffic (map+stats.xml): weight and input spad reads
     * 798,600 per PE, psum spad fills 72,600 per PE */
    ck_assert_double_eq_tol(c.reads[3][ENERGY_TENSOR_WEIGHTS], 798600.0 * 132, 0.5);
    ck_assert_double_eq_tol(c.reads[2][ENERGY_TENSOR_INPUTS], 798600.0 * 132, 0.5);
    const double macs = (double)c.macs;
    const double total = memory_and_mac_pj(&a, &c);
    /* 8.22 pJ/MAC in total, within 15 % */
    ck_assert_double_le(fabs(total / macs - 8.22), 0.15 * 8.22);
    /* the same shape: DRAM 3.18, psum spad 0.52, weight spad 1.61, ifmap spad 0.25, GLB 0.46 */
    const double published[5] = {3.18, 0.46, 0.25, 1.61, 0.52};
    for (int k = 0; k < 5; k++)
        ck_assert_msg(fabs(c.level_pj[k] / macs - published[k]) <= 0.3 * published[k],
                      "%s: %.3f pJ/MAC vs %.2f", a.levels[k].name, c.level_pj[k] / macs,
                      published[k]);
    /* DRAM and MAC are the two largest shares */
    for (int k = 1; k < 5; k++) {
        ck_assert_double_lt(c.level_pj[k], c.level_pj[0]);
        ck_assert_double_lt(c.level_pj[k], macs * a.mac_pj);
    }
}
END_TEST

/* Every mapping of AlexNet conv1 that the shipped constraints allow with the most PEs: the
 * spatial part is forced (S 11 over the rows, M 12 over the columns: no other choice reaches
 * 132 PEs), R 11 sits in the PEs; this enumerates every split of the other factors (M 8 over
 * DRAM, buffer and PE; C 3, P 55, Q 55 over DRAM and buffer; C in a PE overflows the 12-word
 * ifmap spad with R 11) and every order of the loops above 1 at DRAM and at the buffer, N
 * innermost. Returns the least memory + MAC energy. */
static double constrained_exhaustive(const energy_accel *a, const energy_layer *l,
                                     energy_mapping *best_map)
{
    static const int div55[4] = {1, 5, 11, 55};
    energy_mapping m = published_mapping(a);
    double best = INFINITY;
    for (int m0 = 1; m0 <= 8; m0 *= 2)
        for (int m1 = 1; m0 * m1 <= 8; m1 *= 2)
            for (int c0 = 1; c0 <= 3; c0 += 2)
                for (int p0 = 0; p0 < 4; p0++)
                    for (int q0 = 0; q0 < 4; q0++) {
                        const int f[2][4] = {{m0, c0, div55[p0], div55[q0]},
                                             {m1, 3 / c0, 55 / div55[p0], 55 / div55[q0]}};
                        const int dims[4] = {M_, C_, P_, Q_};
                        for (int k = 0; k < 2; k++)
                            for (int i = 0; i < 4; i++) m.temporal[k][dims[i]] = f[k][i];
                        m.temporal[2][M_] = 8 / m0 / m1;
                        /* the loops above 1 at each level, in every order */
                        int lv[2][5], n[2] = {0, 0};
                        for (int k = 0; k < 2; k++)
                            for (int i = 0; i < 4; i++)
                                if (f[k][i] > 1) lv[k][n[k]++] = dims[i];
                        int perms[2] = {1, 1};
                        for (int k = 0; k < 2; k++)
                            for (int i = 2; i <= n[k]; i++) perms[k] *= i;
                        for (int p = 0; p < perms[0] * perms[1]; p++) {
                            for (int k = 0; k < 2; k++) {
                                int code = k ? p / perms[0] : p % perms[0], pool[5], np = n[k];
                                int inner[6];
                                memcpy(pool, lv[k], sizeof pool);
                                for (int i = 0; i < n[k]; i++) {
                                    const int pick = code % np;
                                    code /= np;
                                    inner[i] = pool[pick];
                                    pool[pick] = pool[--np];
                                }
                                inner[n[k]] = N_;
                                order_with_inner(m.order[k], inner, n[k] + 1);
                            }
                            energy_layer_cost c;
                            if (energy_mapping_evaluate(a, l, &m, &c) != ENG_OK) continue;
                            const double e = memory_and_mac_pj(a, &c);
                            if (e < best) {
                                best = e;
                                *best_map = m;
                            }
                        }
                    }
    return best;
}

/* The mapper's own best mapping under the shipped constraints. Finding (docs/energy.md): the
 * exercise's constraints allow the published mapping but also cheaper ones; the cheapest
 * reads the weights from DRAM 5 times instead of 55 (the published mapping is where
 * Timeloop's random-pruned search stopped), so the mapper lands 25 % below 8.22, not within
 * 15 %. The test pins that down: the mapper finds the exhaustive optimum of the constrained
 * space, the published mapping is in that space and costs more, and the unconstrained
 * design does no better than the constrained one. */
START_TEST(test_calibration_mapper)
{
    energy_accel a = load_accel(ACC16);
    energy_layer l = alexnet_conv1();
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer_cost best, ref;
    ck_assert_int_eq(energy_layer_estimate(em, &l, &best), ENG_OK);
    energy_mapping pm = published_mapping(&a);
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &pm, &ref), ENG_OK);
    const double macs = (double)best.macs;
    /* the mapper's mapping keeps the constraints (the evaluator checks them) */
    energy_layer_cost again;
    ck_assert_msg(energy_mapping_evaluate(&a, &l, &best.mapping, &again) == ENG_OK, "%s",
                  eng_last_error());
    /* 132 of 168 PEs, as published */
    ck_assert_double_eq_tol(best.utilization, 132.0 / 168, 1e-12);
    /* the optimum of the constrained space, which holds the published mapping */
    energy_mapping xm;
    const double opt = constrained_exhaustive(&a, &l, &xm);
    char text[256];
    energy_mapping_format(&a, &xm, text, sizeof text);
    printf("# constrained optimum %.3f pJ/MAC: %s\n", opt / macs, text);
    ck_assert_double_le(best.total_pj, opt * (1 + 1e-9));
    ck_assert_double_le(best.total_pj, memory_and_mac_pj(&a, &ref));
    /* weights from DRAM 5 times (34,848 x 5: five column tiles), outputs written once */
    ck_assert_double_eq_tol(best.reads[0][ENERGY_TENSOR_WEIGHTS], 34848.0 * 5, 0.5);
    ck_assert_double_eq_tol(best.writes[0][ENERGY_TENSOR_OUTPUTS], 290400, 0.5);
    /* 6.14 pJ/MAC: 25 % under the published 8.22 (outside the 15 % band, see above) */
    ck_assert_double_eq_tol(best.total_pj / macs, 6.139, 0.001);
    /* the arithmetic is exactly MACs x 2.20 pJ */
    ck_assert_double_eq_tol(best.mul_pj + best.mac_rest_pj, macs * 2.20, 1e-6 * macs);
    /* shape: MAC, then the weight spad, then DRAM, the largest terms as published except
     * that the weight spad overtakes DRAM */
    for (int k = 0; k < 5; k++) ck_assert_double_lt(best.level_pj[k], macs * a.mac_pj);
    for (int k = 1; k < 5; k++)
        if (k != 3) ck_assert_double_lt(best.level_pj[k], best.level_pj[0]);
    /* without the constraints the mapper finds nothing cheaper for this layer */
    energy_accel u = load_accel(ACC16U);
    energy_model *um;
    ck_assert_int_eq(energy_model_create(&u, &um), ENG_OK);
    energy_layer_cost free_best;
    ck_assert_int_eq(energy_layer_estimate(um, &l, &free_best), ENG_OK);
    ck_assert_double_eq_tol(free_best.total_pj, best.total_pj, 1e-9 * best.total_pj);
    energy_model_free(um);
    energy_model_free(em);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Mapper invariants
 * ---------------------------------------------------------------------------------------- */

static double halo(double p, double r, int stride, int lim)
{
    double v = stride >= r ? p * r : (p - 1) * stride + r;
    return v < lim ? v : lim;
}

/* Recomputes the tiles of every level from the factors and checks them against the
 * capacities, the factor products against the bounds and the spatial factors against the
 * array. */
static void check_mapping_fits(const energy_accel *a, const energy_layer *l, const energy_mapping *m)
{
    int fp = a->n_levels;
    for (int k = a->n_levels - 1; k >= 0; k--)
        if (a->levels[k].scope == ENERGY_SCOPE_PE) fp = k;
    const int bound[8] = {l->n, l->groups, l->m / l->groups, l->c / l->groups, l->p, l->q, l->r, l->s};
    int rows = 1, cols = 1;
    for (int d = 0; d < 8; d++) {
        int prod = m->spatial_rows[d] * m->spatial_cols[d];
        rows *= m->spatial_rows[d];
        cols *= m->spatial_cols[d];
        for (int k = 0; k < a->n_levels; k++) prod *= m->temporal[k][d];
        ck_assert_int_eq(prod, bound[d]);
    }
    ck_assert_int_le(rows, a->pe_rows);
    ck_assert_int_le(cols, a->pe_cols);
    const int wb = l->weight_bits ? l->weight_bits : a->word_bits;
    const int ab = l->act_bits ? l->act_bits : a->word_bits;
    for (int k = 1; k < a->n_levels; k++) {
        double e[8];
        for (int d = 0; d < 8; d++) {
            e[d] = 1;
            for (int j = k < fp ? k : fp; j < a->n_levels; j++) e[d] *= m->temporal[j][d];
            if (k < fp) e[d] *= m->spatial_rows[d] * m->spatial_cols[d];
        }
        const energy_level *lv = &a->levels[k];
        double words = 0;
        if (lv->keeps & 1u << ENERGY_TENSOR_WEIGHTS)
            words += e[G_] * e[M_] * e[C_] * e[R_] * e[S_] * wb / lv->word_bits;
        if (lv->keeps & 1u << ENERGY_TENSOR_INPUTS)
            words += e[N_] * e[G_] * e[C_] * halo(e[P_], e[R_], l->stride, l->h) *
                     halo(e[Q_], e[S_], l->stride, l->w) * ab / lv->word_bits;
        if (lv->keeps & 1u << ENERGY_TENSOR_OUTPUTS)
            words += e[N_] * e[G_] * e[M_] * e[P_] * e[Q_];
        ck_assert_msg(words <= (double)lv->capacity_words, "layer %s: level %s holds %.0f of %lld",
                      l->name, lv->name, words, (long long)lv->capacity_words);
    }
}

/* Compulsory: every weight and input read from DRAM once, every output written once, every
 * MAC paid, every MAC reading its operands at the innermost level. */
static double compulsory_pj(const energy_accel *a, const energy_layer *l)
{
    const int wb = l->weight_bits ? l->weight_bits : a->word_bits;
    const int ab = l->act_bits ? l->act_bits : a->word_bits;
    const energy_level *dram = &a->levels[0];
    double w = (double)l->m * (l->c / l->groups) * l->r * l->s;
    double in = (double)l->n * l->c * l->h * l->w;
    double out = (double)l->n * l->m * l->p * l->q;
    double macs = (double)energy_layer_macs(l);
    return (w * wb + in * ab) / dram->word_bits * dram->read_pj + out * dram->write_pj +
           macs * a->mac_pj * energy_mac_scale(l, a->multiplier_share);
}

/* The shipped constraints of eyeriss_like_16b, written out here from the exercise's file
 * (not from the loader): rows S C M with S whole, columns Q M; inside a PE only M, C, G and
 * R, R whole; N innermost at DRAM and the global buffer. */
static void check_eyeriss_constraints(const energy_layer *l, const energy_mapping *m)
{
    const int bound[8] = {l->n, l->groups, l->m / l->groups, l->c / l->groups, l->p, l->q, l->r, l->s};
    for (int d = 0; d < 8; d++) {
        if (d != S_ && d != C_ && d != M_) ck_assert_int_eq(m->spatial_rows[d], 1);
        if (d != Q_ && d != M_) ck_assert_int_eq(m->spatial_cols[d], 1);
        if (d != M_ && d != C_ && d != G_ && d != R_) ck_assert_int_eq(m->temporal[2][d], 1);
        for (int k = 3; k < 5; k++) ck_assert_int_eq(m->temporal[k][d], 1);
    }
    ck_assert_int_eq(m->spatial_rows[S_], bound[S_]);
    ck_assert_int_eq(m->temporal[2][R_], bound[R_]);
    ck_assert_int_eq(m->order[0][7], N_);
    ck_assert_int_eq(m->order[1][7], N_);
}

static void check_net(const char *acc_path, const energy_layer *ls, int n)
{
    energy_accel a = load_accel(acc_path);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    for (int i = 0; i < n; i++) {
        energy_layer_cost c;
        ck_assert_msg(energy_layer_estimate(em, &ls[i], &c) == ENG_OK, "%s", eng_last_error());
        double sum = c.mul_pj + c.mac_rest_pj;
        for (int k = 0; k < a.n_levels; k++) sum += c.level_pj[k];
        ck_assert_double_eq_tol(c.total_pj, sum, 1e-9 * sum);
        if (!energy_layer_multiplies(&ls[i])) {
            ck_assert(!c.mapped);
            continue;
        }
        ck_assert(c.mapped);
        check_mapping_fits(&a, &ls[i], &c.mapping);
        if (strcmp(acc_path, ACC16) == 0) check_eyeriss_constraints(&ls[i], &c.mapping);
        ck_assert_msg(c.total_pj >= compulsory_pj(&a, &ls[i]) * (1 - 1e-12), "layer %s: %g < %g",
                      ls[i].name, c.total_pj, compulsory_pj(&a, &ls[i]));
        ck_assert(c.utilization > 0 && c.utilization <= 1);
        /* the public evaluator agrees with the mapper on the mapping it returned */
        energy_layer_cost e;
        ck_assert_msg(energy_mapping_evaluate(&a, &ls[i], &c.mapping, &e) == ENG_OK, "%s",
                      eng_last_error());
        for (int k = 0; k < a.n_levels; k++)
            ck_assert_double_eq_tol(e.level_pj[k], c.level_pj[k], 1e-9 * (1 + c.level_pj[k]));
    }
    energy_model_free(em);
}

START_TEST(test_mapper_invariants)
{
    const char *designs[3] = {ACC16, ACC16U, ACC8};
    const char *acc = designs[_i];
    energy_layer *ls;
    int n;
    ck_assert_int_eq(energy_model_layers("alexnet", &ls, &n), ENG_OK);
    check_net(acc, ls, n);
    free(ls);
    energy_layer r[ENERGY_RESNET20_LAYERS];
    n = energy_resnet20_layers(r);
    check_net(acc, r, n);
    /* depthwise, grouped, batched and 8xN-narrowed layers */
    energy_layer extra[] = {
        {.kind = ENERGY_LAYER_DEPTHWISE, .name = "dw", .c = 96, .h = 56, .w = 56, .r = 3, .s = 3,
         .stride = 1, .pad = 1},
        {.kind = ENERGY_LAYER_CONV, .name = "pw", .n = 4, .c = 96, .h = 28, .w = 28, .m = 24,
         .r = 1, .s = 1, .weight_bits = 4},
        {.kind = ENERGY_LAYER_CONV, .name = "grp", .c = 64, .h = 14, .w = 14, .m = 128, .r = 3,
         .s = 3, .pad = 1, .groups = 4},
    };
    for (int i = 0; i < 3; i++) ck_assert_int_eq(energy_layer_finish(&extra[i]), ENG_OK);
    check_net(acc, extra, 3);
}
END_TEST

START_TEST(test_mapping_evaluate_rejects)
{
    energy_accel a = load_accel(ACC16);
    energy_layer l = alexnet_conv1();
    energy_layer_cost c;
    energy_mapping m = published_mapping(&a);
    m.temporal[0][Q_] = 11;                                  /* 11 * 1 != 55 */
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "factors of Q multiply to 11"));
    m = published_mapping(&a);
    m.temporal[2][C_] = 3;                                   /* C 3 x R 11: 33 ifmap words */
    m.temporal[0][C_] = 1;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "do not fit level ifmap_spad"));
    m = published_mapping(&a);
    m.spatial_cols[M_] = 24;                                 /* 24 columns of 14 */
    m.temporal[2][M_] = 4;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    /* the constraints: P over the columns, S split between rows and DRAM, R out of the
     * PEs, Q inside them, N not innermost at DRAM */
    m = published_mapping(&a);
    m.spatial_cols[P_] = 5;
    m.temporal[1][P_] = 11;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "P cannot be spread"));
    m = published_mapping(&a);
    m.spatial_rows[S_] = 1;
    m.temporal[0][S_] = 11;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "spatial factor of S breaks a constraint"));
    m = published_mapping(&a);
    m.temporal[2][R_] = 1;
    m.temporal[1][R_] = 11;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "factor of R at level ifmap_spad"));
    m = published_mapping(&a);
    m.temporal[2][Q_] = 5;
    m.temporal[0][Q_] = 11;
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "factor of Q at level ifmap_spad"));
    m = published_mapping(&a);
    const int wrong[2] = {N_, Q_};
    order_with_inner(m.order[0], wrong, 2);
    ck_assert_int_eq(energy_mapping_evaluate(&a, &l, &m, &c), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "order of level DRAM breaks"));
}
END_TEST

/* Exhaustive search over the space the mapper explores on a tiny design: every spatial
 * assignment with the most PEs, every split of the rest over DRAM, buffer and PE, the six
 * loop orders of each level above the PEs. */
static const int group_orders[6][8] = {
    {G_, M_, C_, R_, S_, N_, P_, Q_}, {G_, C_, R_, S_, M_, N_, P_, Q_},
    {G_, N_, P_, Q_, M_, C_, R_, S_}, {G_, M_, N_, P_, Q_, C_, R_, S_},
    {G_, N_, P_, Q_, C_, R_, S_, M_}, {G_, C_, R_, S_, N_, P_, Q_, M_}};

typedef struct exhaustive {
    const energy_accel *a;
    const energy_layer *l;
    int bound[8];
    unsigned rows, cols, pe;
    int best_pes;
    double best;
    energy_mapping m;
} exhaustive;

static void exhaustive_temporal(exhaustive *x, int d)
{
    if (d == 8) {
        for (int o = 0; o < 36; o++) {
            memcpy(x->m.order[0], group_orders[o / 6], sizeof group_orders[0]);
            memcpy(x->m.order[1], group_orders[o % 6], sizeof group_orders[0]);
            energy_layer_cost c;
            if (energy_mapping_evaluate(x->a, x->l, &x->m, &c) != ENG_OK) continue;
            double e = 0;
            for (int k = 0; k < x->a->n_levels; k++) e += c.level_pj[k];
            if (e < x->best) x->best = e;
        }
        return;
    }
    const int rem = x->bound[d] / (x->m.spatial_rows[d] * x->m.spatial_cols[d]);
    for (int f0 = 1; f0 <= rem; f0++)
        for (int f1 = 1; rem % f0 == 0 && f1 <= rem / f0; f1++) {
            const int f2 = rem / f0 / f1;
            if ((rem / f0) % f1 || (f2 > 1 && !(x->pe & 1u << d))) continue;
            x->m.temporal[0][d] = f0;
            x->m.temporal[1][d] = f1;
            x->m.temporal[2][d] = f2;
            exhaustive_temporal(x, d + 1);
        }
}

static void exhaustive_spatial(exhaustive *x, int i)
{
    if (i == 16) {
        int pes = 1;
        for (int d = 0; d < 8; d++) pes *= x->m.spatial_rows[d] * x->m.spatial_cols[d];
        if (pes == x->best_pes) exhaustive_temporal(x, 0);
        return;
    }
    const int d = i % 8, cols = i / 8;
    int *f = cols ? &x->m.spatial_cols[d] : &x->m.spatial_rows[d];
    const unsigned mask = cols ? x->cols : x->rows;
    for (*f = 1; *f <= x->bound[d]; (*f)++) {
        if (*f > 1 && !(mask & 1u << d)) break;
        int used = 1, prod = 1;
        for (int e = 0; e < 8; e++) used *= cols ? x->m.spatial_cols[e] : x->m.spatial_rows[e];
        prod = x->m.spatial_rows[d] * x->m.spatial_cols[d];
        if (used > (cols ? x->a->pe_cols : x->a->pe_rows) || x->bound[d] % prod) continue;
        exhaustive_spatial(x, i + 1);
    }
    *f = 1;
}

START_TEST(test_mapper_vs_exhaustive)
{
    static const unsigned masks[3][3] = {      /* rows, columns, in PE (docs/energy.md) */
        {1u << C_ | 1u << R_ | 1u << S_, 1u << M_ | 1u << G_, 1u << N_ | 1u << P_ | 1u << Q_},
        {1u << P_ | 1u << N_, 1u << Q_ | 1u << M_ | 1u << G_, 1u << C_ | 1u << R_ | 1u << S_},
        {1u << R_ | 1u << C_ | 1u << G_, 1u << P_ | 1u << M_ | 1u << N_,
         1u << S_ | 1u << Q_ | 1u << C_ | 1u << M_ | 1u << N_ | 1u << G_}};
    energy_accel a = load_accel(ACC16U);
    a.pe_rows = a.pe_cols = 2;
    a.levels[1].capacity_words = 64;
    a.levels[2].capacity_words = 4;
    a.levels[3].capacity_words = 16;
    a.levels[4].capacity_words = 8;
    a.dataflows = 1u << _i;
    energy_layer l = {.kind = ENERGY_LAYER_CONV, .name = "tiny", .c = 4, .h = 2, .w = 2, .m = 4,
                      .r = 3, .s = 3, .pad = 1};
    ck_assert_int_eq(energy_layer_finish(&l), ENG_OK);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer_cost c;
    ck_assert_int_eq(energy_layer_estimate(em, &l, &c), ENG_OK);
    double mine = c.total_pj - c.mul_pj - c.mac_rest_pj;
    exhaustive x = {.a = &a, .l = &l, .bound = {1, 1, 4, 4, 2, 2, 3, 3}, .rows = masks[_i][0],
                    .cols = masks[_i][1], .pe = masks[_i][2], .best = INFINITY};
    x.m.dataflow = (energy_dataflow)_i;
    for (int k = 0; k < a.n_levels; k++)
        for (int d = 0; d < 8; d++) {
            x.m.temporal[k][d] = 1;
            x.m.order[k][d] = d;
        }
    for (int d = 0; d < 8; d++) x.m.spatial_rows[d] = x.m.spatial_cols[d] = 1;
    int pes = 1;
    for (int d = 0; d < 8; d++) pes *= c.mapping.spatial_rows[d] * c.mapping.spatial_cols[d];
    x.best_pes = pes;
    exhaustive_spatial(&x, 0);
    ck_assert(isfinite(x.best));
    printf("# %s: mapper %.1f pJ, exhaustive %.1f pJ\n", energy_dataflow_name((energy_dataflow)_i),
           mine, x.best);
    ck_assert_double_le(mine, x.best * 1.0001);
    energy_model_free(em);
}
END_TEST

START_TEST(test_nothing_fits)
{
    energy_accel a = load_accel(ACC16);
    a.levels[3].word_bits = 8;                  /* a 16-bit weight takes 2 words of 8 bits */
    a.levels[3].capacity_words = 1;
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer l = alexnet_conv1();
    energy_layer_cost c;
    ck_assert_int_eq(energy_layer_estimate(em, &l, &c), ENG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "no mapping fits"));
    /* the message names the accelerator file (issue #14 item 6) */
    ck_assert_msg(strstr(eng_last_error(), ACC16 ": layer "), "%s", eng_last_error());
    energy_model_free(em);
    a.levels[3].capacity_words = -1;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_ERR_ARG);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Multiplier substitution
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_exact_arithmetic)
{
    energy_accel a = load_accel(ACC16);
    energy_layer ls[ENERGY_RESNET20_LAYERS];
    int n = energy_resnet20_layers(ls);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer_cost per[ENERGY_RESNET20_LAYERS], tot;
    ck_assert_int_eq(energy_net_estimate(em, ls, n, per, &tot), ENG_OK);
    ck_assert_int_eq(tot.macs, 40551040);
    double ops = 0;
    for (int i = 0; i < n; i++) ops += (double)per[i].ops;
    /* exact everywhere: multiplier + rest = MACs x MAC energy (+ pool/add ops as adders) */
    ck_assert_double_eq_tol(tot.mul_pj, 40551040.0 * 2.20 * 0.8, 1e-3);
    ck_assert_double_eq_tol(tot.mac_rest_pj, (40551040.0 + ops) * 2.20 * 0.2, 1e-3);
    energy_model_free(em);
}
END_TEST

START_TEST(test_swap_one_multiplier)
{
    energy_accel a = load_accel(ACC16);
    energy_layer ls[ENERGY_RESNET20_LAYERS];
    int n = energy_resnet20_layers(ls);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer_cost base[ENERGY_RESNET20_LAYERS], swap[ENERGY_RESNET20_LAYERS], t0, t1;
    ck_assert_int_eq(energy_net_estimate(em, ls, n, base, &t0), ENG_OK);
    const int j = 5;                                    /* s2b1_conv_a, say */
    const double p_ax = 0.142;                          /* mul8u_12N4, manifest power */
    ck_assert_int_eq(energy_layer_set_multiplier(&ls[j], p_ax, 8, false, a.word_bits), ENG_OK);
    ck_assert_int_eq(energy_net_estimate(em, ls, n, swap, &t1), ENG_OK);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < a.n_levels; k++)
            ck_assert_double_eq(swap[i].level_pj[k], base[i].level_pj[k]);
        ck_assert_double_eq(swap[i].mac_rest_pj, base[i].mac_rest_pj);
        if (i != j) ck_assert_double_eq(swap[i].mul_pj, base[i].mul_pj);
    }
    ck_assert_double_eq_tol(swap[j].mul_pj / base[j].mul_pj, p_ax / 0.391, 1e-12);
    ck_assert_double_eq_tol(t0.total_pj - t1.total_pj, base[j].mul_pj * (1 - p_ax / 0.391),
                            1e-6 * t0.total_pj);
    /* the substitution rule itself, signed reference */
    energy_layer s = ls[0];
    s.mul_is_signed = true;
    s.mul_power_mw = 0.2125;
    ck_assert_double_eq_tol(energy_mac_scale(&s, 0.8), 1 - 0.8 * 0.5, 1e-12);
    energy_model_free(em);
}
END_TEST

START_TEST(test_narrow_weights)
{
    energy_accel a = load_accel(ACC8);
    energy_layer l = {.kind = ENERGY_LAYER_DENSE, .name = "fc", .c = 4096, .h = 1, .w = 1, .m = 1000};
    ck_assert_int_eq(energy_layer_finish(&l), ENG_OK);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer_cost c8, c4;
    ck_assert_int_eq(energy_layer_estimate(em, &l, &c8), ENG_OK);
    energy_layer n4 = l;
    ck_assert_int_eq(energy_layer_set_multiplier(&n4, 0.2, 4, false, a.word_bits), ENG_OK);
    ck_assert_int_eq(n4.weight_bits, 4);
    ck_assert_int_eq(energy_layer_estimate(em, &n4, &c4), ENG_OK);
    /* a dense layer reads each weight from DRAM once: the DRAM weight energy halves */
    const double w = 4096.0 * 1000;
    ck_assert_double_eq_tol(c8.reads[0][ENERGY_TENSOR_WEIGHTS], w, 0.5);
    ck_assert_double_eq_tol(c4.reads[0][ENERGY_TENSOR_WEIGHTS], w, 0.5);
    double dram_w8 = w * 64.0, dram_w4 = w * 32.0;
    ck_assert_double_le(c4.level_pj[0], c8.level_pj[0] - (dram_w8 - dram_w4) * (1 - 1e-9));
    ck_assert_double_lt(c4.total_pj, c8.total_pj);
    ck_assert_int_eq(energy_layer_set_multiplier(&n4, -1, 4, false, 8), ENG_ERR_ARG);
    energy_model_free(em);
}
END_TEST

START_TEST(test_unmapped_layers)
{
    energy_accel a = load_accel(ACC16);
    energy_model *em;
    ck_assert_int_eq(energy_model_create(&a, &em), ENG_OK);
    energy_layer add = {.kind = ENERGY_LAYER_ELTWISE, .name = "add", .c = 16, .h = 32, .w = 32};
    energy_layer pool = {.kind = ENERGY_LAYER_POOL, .name = "pool", .c = 96, .h = 55, .w = 55,
                         .r = 3, .s = 3, .stride = 2};
    ck_assert_int_eq(energy_layer_finish(&add), ENG_OK);
    ck_assert_int_eq(energy_layer_finish(&pool), ENG_OK);
    energy_layer_cost c;
    ck_assert_int_eq(energy_layer_estimate(em, &add, &c), ENG_OK);
    const double e = 16 * 32 * 32;
    ck_assert_double_eq_tol(c.level_pj[0], (2 * e + e) * 128.0, 1e-6);
    ck_assert_int_eq(c.ops, (int64_t)e);
    ck_assert_int_eq(c.macs, 0);
    ck_assert_int_eq(energy_layer_estimate(em, &pool, &c), ENG_OK);
    ck_assert_int_eq(pool.p, 27);
    ck_assert_double_eq_tol(c.level_pj[0], (96 * 55 * 55 + 96 * 27 * 27) * 128.0, 1e-6);
    ck_assert_int_eq(c.ops, 96 * 27 * 27 * 8);
    energy_model_free(em);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Layer lists and export
 * ---------------------------------------------------------------------------------------- */

static const struct bad_case bad_layers[] = {
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 3, "
     "colour: red}\n", ":3:73: unknown key 'layers[0].colour'; known keys here: name, kind"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], kernel: 3}\n",
     ":3:5: missing required key 'layers[0].out_channels' (an integer from 1 to"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: -4, kernel: 3}\n",
     ":3:59: layers[0].out_channels: -4 is out of range (allowed: 1 to"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 9}\n",
     ":3:5: layer a: kernel 9x9 larger than the padded input"},
    {"name: n\nlayers:\n  - {name: a, kind: lstm, input: [3]}\n", ":3:21: layers[0].kind: 'lstm' is not one of: conv, depthwise"},
    {"name: n\nlayers:\n  - {name: a, kind: dense, input: [3], out_channels: 2}\n"
     "  - {name: a, kind: dense, input: [2], out_channels: 2}\n", ":4:5: layer name 'a' used twice"},
    {"name: n\nbatch: two\nlayers: []\n", ":2:8: batch: expected an integer, found 'two'"},
    /* the strict reader's error classes with their line:col */
    {"name: n\nlayers:\n  - {name: a, kind: dense, input: [3], out_channel: 2}\n",
     ":3:40: unknown key 'layers[0].out_channel' (did you mean 'out_channels'?)"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 3, "
     "stride: [1]}\n", ":3:81: layers[0].stride: expected an integer, found a list"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 3, "
     "bias: maybe}\n", ":3:79: layers[0].bias: expected true or false, found 'maybe'"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 3, "
     "stride: 2000}\n", ":3:81: layers[0].stride: 2000 is out of range (allowed: 1 to 1024)"},
    {"name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4, kernel: 3, "
     "kernel: 5}\n", ":3:73: duplicate key 'layers[0].kernel' (first given on line 3)"},
    {"name: n\nlayrs: []\n", ":2:1: unknown key 'layrs' (did you mean 'layers'?)"},
};

START_TEST(test_layers_bad)
{
    const struct bad_case *bc = &bad_layers[_i];
    const char *dir = test_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/net.yaml", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(bc->yaml, f);
    fclose(f);
    energy_layer *ls = NULL;
    int n = -1;
    ck_assert_int_eq(energy_layers_load(path, &ls, &n, NULL), ENG_ERR_FORMAT);
    char want[4800];
    snprintf(want, sizeof want, "%s%s", path, bc->expect);
    ck_assert_msg(strstr(eng_last_error(), want), "message '%s' lacks '%s'", eng_last_error(), want);
    ck_assert_int_eq(n, -1);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_timeloop_export)
{
    energy_layer *ls;
    int n, written = 0;
    ck_assert_int_eq(energy_model_layers("alexnet", &ls, &n), ENG_OK);
    const char *dir = test_mkdtemp();
    char sub[4200], path[4300];
    snprintf(sub, sizeof sub, "%s/tl", dir);
    ck_assert_msg(energy_timeloop_export(ls, n, sub, &written) == ENG_OK, "%s", eng_last_error());
    ck_assert_int_eq(written, 8);                           /* 5 convs + 3 dense, no pools */
    snprintf(path, sizeof path, "%s/00_conv1.yaml", sub);
    size_t size;
    char *text = test_read_file(path, &size);
    text = realloc(text, size + 1);
    text[size] = 0;
    const char *want[] = {"dimensions: [ C, M, R, S, N, P, Q ]", "    C: 3\n", "    M: 96\n",
                          "    R: 11\n", "    P: 55\n", "    Wstride: 4\n", "read-write: True"};
    for (int i = 0; i < 7; i++) ck_assert_msg(strstr(text, want[i]), "missing '%s'", want[i]);
    free(text);
    snprintf(path, sizeof path, "%s/02_conv2.yaml", sub);
    text = test_read_file(path, &size);
    text = realloc(text, size + 1);
    text[size] = 0;
    ck_assert_ptr_nonnull(strstr(text, "    G: 2\n    C: 48\n    M: 128\n"));
    free(text);
    ck_assert_int_eq(energy_timeloop_export(ls, n, "/nonexistent/dir/x", &written), ENG_ERR_IO);
    free(ls);
    test_rmtree(dir);
}
END_TEST

static Suite *energy_suite(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("accel");
    tcase_add_test(tc, test_accel_load);
    tcase_add_loop_test(tc, test_accel_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_accel_missing_file);
    tcase_add_test(tc, test_yaml_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_add_test(tc, test_counts_alexnet);
    tcase_add_test(tc, test_counts_resnet20);
    tcase_add_test(tc, test_layer_finish_errors);
    tcase_add_loop_test(tc, test_layers_bad, 0, (int)(sizeof bad_layers / sizeof bad_layers[0]));
    tcase_add_test(tc, test_timeloop_export);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_calibration_published_mapping);
    tcase_add_test(tc, test_calibration_mapper);
    tcase_add_loop_test(tc, test_mapper_invariants, 0, 3);
    tcase_add_test(tc, test_mapping_evaluate_rejects);
    tcase_add_test(tc, test_nothing_fits);
    tcase_add_loop_test(tc, test_mapper_vs_exhaustive, 0, ENERGY_DATAFLOW_CONSTRAINED);
    tcase_add_test(tc, test_exact_arithmetic);
    tcase_add_test(tc, test_swap_one_multiplier);
    tcase_add_test(tc, test_narrow_weights);
    tcase_add_test(tc, test_unmapped_layers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(energy_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
