/*
 * test_nas_genome.c - the NAS genome: layout, hand-computed decodings (shapes, parameters,
 * MACs), inactive genes and canonical hashing (duplicates), and the invariants of mutation
 * and crossover on many random genomes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nas_genome.h"
#include "testutil.h"

/* One stage, two nodes, all ops, width 4 (or as given), stem 2, 1x8x8 input, 3 classes,
 * 2 multipliers. Genes: node1 0..3, node2 4..7, output 8, stem mul 9, node1 muls 10..12,
 * node2 muls 13..15, classifier mul 16. */
static nas_space small_space(int width)
{
    nas_space sp = {.stages = 1, .nodes = 2, .n_ops = NAS_OP_COUNT, .n_widths = 1,
                    .widths = {width}, .width_growth = 2, .stem_width = 2, .n_muls = 2,
                    .in_channels = 1, .in_height = 8, .in_width = 8, .classes = 3};
    for (int i = 0; i < NAS_OP_COUNT; i++) sp.ops[i] = (nas_op)i;
    return sp;
}

static nas_space big_space(bool shared)
{
    nas_space sp = {.stages = 3, .nodes = 5, .shared_cells = shared, .n_ops = NAS_OP_COUNT,
                    .n_widths = 3, .widths = {4, 6, 8}, .width_growth = 2, .stem_width = 4,
                    .n_muls = 5, .in_channels = 3, .in_height = 12, .in_width = 12,
                    .classes = 10};
    for (int i = 0; i < NAS_OP_COUNT; i++) sp.ops[i] = (nas_op)i;
    return sp;
}

/* node1 = op(cell input), node2 = identity(cell input), output = node1, all muls 0. */
static void one_op_genome(int *g, nas_op op)
{
    int v[17] = {op, 0, 0, 0, NAS_OP_IDENTITY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(g, v, sizeof v);
}

START_TEST(test_layout)
{
    nas_space sp = small_space(4);
    ck_assert_int_eq(nas_space_check(&sp), ENG_OK);
    ck_assert_int_eq(nas_genome_length(&sp), 17);
    ck_assert_int_eq(nas_genome_gene_range(&sp, 0), NAS_OP_COUNT);
    ck_assert_int_eq(nas_genome_gene_range(&sp, 1), 1);  /* node 1 reads only the input */
    ck_assert_int_eq(nas_genome_gene_range(&sp, 5), 2);  /* node 2: input or node 1 */
    ck_assert_int_eq(nas_genome_gene_range(&sp, 7), 1);  /* one width */
    ck_assert_int_eq(nas_genome_gene_range(&sp, 8), 2);  /* output: node 1 or 2 */
    ck_assert_int_eq(nas_genome_gene_range(&sp, 16), 2); /* a multiplier */
    nas_space b = big_space(false), bs = big_space(true);
    /* 3 cells x (5 x 4 + 1) + stem + 3 x 5 x 3 + 2 reductions + classifier */
    ck_assert_int_eq(nas_genome_length(&b), 63 + 1 + 45 + 2 + 1);
    ck_assert_int_eq(nas_genome_length(&bs), 21 + 1 + 45 + 2 + 1);
    nas_space bad = sp;
    bad.ops[1] = NAS_OP_CONV3X3;
    ck_assert_int_eq(nas_space_check(&bad), ENG_ERR_ARG);
    bad = sp;
    bad.nodes = NAS_MAX_NODES + 1;
    ck_assert_int_eq(nas_space_check(&bad), ENG_ERR_ARG);
}
END_TEST

START_TEST(test_decode_conv)
{
    nas_space sp = small_space(4);
    int g[17];
    one_op_genome(g, NAS_OP_CONV3X3);
    g[16] = 1; /* classifier multiplier */
    nas_arch a;
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    /* stem conv, bn, relu, conv, bn, relu, gap, dense */
    ck_assert_int_eq(a.n, 8);
    const nas_layer_kind kinds[] = {NAS_LAYER_CONV, NAS_LAYER_BATCHNORM, NAS_LAYER_RELU,
                                    NAS_LAYER_CONV, NAS_LAYER_BATCHNORM, NAS_LAYER_RELU,
                                    NAS_LAYER_GLOBAL_AVGPOOL, NAS_LAYER_DENSE};
    for (int i = 0; i < 8; i++) ck_assert_int_eq(a.layers[i].kind, kinds[i]);
    ck_assert_int_eq(a.layers[0].in[0], -1);
    ck_assert_int_eq(a.layers[3].in[0], 2);
    ck_assert_int_eq(a.layers[3].in_c, 2);
    ck_assert_int_eq(a.layers[3].out_c, 4);
    ck_assert_int_eq(a.layers[3].out_h, 8);
    ck_assert_int_eq(a.layers[3].pad, 1);
    ck_assert_int_eq(a.layers[0].mul_gene, 9);
    ck_assert_int_eq(a.layers[3].mul_gene, 10);
    ck_assert_int_eq(a.layers[7].mul_gene, 16);
    ck_assert_int_eq(a.layers[7].mul, 1);
    ck_assert_int_eq(a.layers[7].out_c, 3);
    /* by hand: stem 1*2*9 = 18 weights x 64 pixels, BN 4; conv 2*4*9 = 72 x 64, BN 8;
     * dense 4*3 + 3 */
    ck_assert_int_eq(a.params, 18 + 4 + 72 + 8 + 15);
    ck_assert_int_eq(a.macs, 18 * 64 + 72 * 64 + 12);
    ck_assert_int_eq(a.mul_layers, 3);
    ck_assert_ptr_nonnull(strstr(a.summary, "1=conv3x3/4(0)"));
    nas_arch_free(&a);
    ck_assert_ptr_null(a.layers);
}
END_TEST

START_TEST(test_decode_mbconv_resblock)
{
    nas_space sp = small_space(2); /* width 2 = stem width: MBConv gets its residual add */
    int g[17];
    one_op_genome(g, NAS_OP_MBCONV3);
    nas_arch a;
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    /* stem (3) + expand (3) + dw (3) + project (2) + add + gap + dense */
    ck_assert_int_eq(a.n, 14);
    ck_assert_int_eq(a.layers[3].out_c, 6);
    ck_assert_int_eq(a.layers[5].kind, NAS_LAYER_RELU6);
    ck_assert_int_eq(a.layers[6].kind, NAS_LAYER_DEPTHWISE);
    ck_assert_int_eq(a.layers[11].kind, NAS_LAYER_ADD);
    ck_assert_int_eq(a.layers[11].in[1], 2);
    ck_assert_int_eq(a.params, 22 + 12 + 12 + 54 + 12 + 12 + 4 + 9);
    ck_assert_int_eq(a.macs, 1152 + 768 + 3456 + 768 + 6);
    ck_assert_int_eq(a.mul_layers, 5);
    nas_arch_free(&a);

    sp = small_space(4); /* 2 -> 4 channels: the residual block needs its projection */
    one_op_genome(g, NAS_OP_RESBLOCK);
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    ck_assert_int_eq(a.params, 22 + 72 + 8 + 144 + 8 + 8 + 8 + 15);
    ck_assert_int_eq(a.macs, 1152 + 4608 + 9216 + 512 + 12);
    ck_assert_int_eq(a.mul_layers, 5);
    bool active[17];
    nas_genome_active(&sp, g, active);
    ck_assert(active[10] && active[11] && active[12]); /* three multipliers used */
    nas_arch_free(&a);

    sp = small_space(2); /* same channels: no projection, third multiplier inactive */
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    ck_assert_int_eq(a.mul_layers, 4);
    nas_genome_active(&sp, g, active);
    ck_assert(active[10] && active[11] && !active[12]);
    nas_arch_free(&a);
}
END_TEST

START_TEST(test_decode_concat_pool_reduction)
{
    nas_space sp = small_space(4);
    sp.stages = 2;
    int n = nas_genome_length(&sp);
    ck_assert_int_eq(n, 9 * 2 + 1 + 12 + 1 + 1);
    int *g = calloc((size_t)n, sizeof(int));
    /* both cells: node1 = maxpool(input), node2 = sep3x3(concat(input, node1)), output 2 */
    for (int c = 0; c < 2; c++) {
        int *cg = g + 9 * c;
        cg[0] = NAS_OP_MAXPOOL;
        cg[4] = NAS_OP_SEP3X3, cg[5] = 1, cg[6] = 0;
        cg[8] = 1;
    }
    nas_arch a;
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    int concats = 0, reductions = 0;
    for (int i = 0; i < a.n; i++) {
        const nas_layer *l = &a.layers[i];
        if (l->kind == NAS_LAYER_CONCAT) {
            concats++;
            ck_assert_int_lt(l->in[0], l->in[1]);  /* canonical order */
            ck_assert_int_eq(l->out_c, 2 * l->in_c);
        }
        if (l->kind == NAS_LAYER_CONV && l->stride == 2) {
            reductions++;
            ck_assert_int_eq(l->out_h, 4);
            ck_assert_int_eq(l->out_c, 4);   /* stem width x growth */
        }
        if (l->kind == NAS_LAYER_MAXPOOL) ck_assert_int_eq(l->out_h, l->in_h);
    }
    ck_assert_int_eq(concats, 2);
    ck_assert_int_eq(reductions, 1);
    ck_assert_int_eq(a.layers[0].stride, 1);
    /* stage 1 sep conv produces widths[0] * growth = 8 channels */
    ck_assert_int_eq(a.layers[a.n - 1].in_c, 8);
    nas_arch_free(&a);
    /* a stride-2 stem halves the image before stage 0 */
    sp.stem_stride = 2;
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    ck_assert_int_eq(a.layers[0].stride, 2);
    ck_assert_int_eq(a.layers[0].out_h, 4);
    ck_assert_int_eq(a.layers[a.n - 2].in_h, 2);
    ck_assert_int_eq(a.layers[0].macs, 9 * 2 * 16);
    nas_arch_free(&a);
    free(g);
}
END_TEST

START_TEST(test_every_op_consistent)
{
    /* Shape consistency of every op in every position of random genomes. */
    nas_space sp = big_space(false);
    int n = nas_genome_length(&sp);
    int *g = malloc(sizeof(int) * (size_t)n);
    uint64_t rng = 5;
    for (int t = 0; t < 300; t++) {
        nas_genome_random(&sp, &rng, g);
        nas_arch a;
        ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
        long params = 0, macs = 0;
        int muls = 0;
        for (int i = 0; i < a.n; i++) {
            const nas_layer *l = &a.layers[i];
            ck_assert_int_lt(l->in[0], i);
            if (l->in[0] >= 0) {
                ck_assert_int_eq(l->in_c, a.layers[l->in[0]].out_c);
                ck_assert_int_eq(l->in_h, a.layers[l->in[0]].out_h);
            }
            if (l->kind == NAS_LAYER_ADD || l->kind == NAS_LAYER_CONCAT) {
                ck_assert_int_lt(l->in[1], i);
                int c1 = l->in[1] < 0 ? sp.in_channels : a.layers[l->in[1]].out_c;
                int h1 = l->in[1] < 0 ? sp.in_height : a.layers[l->in[1]].out_h;
                ck_assert_int_eq(h1, l->in_h);
                if (l->kind == NAS_LAYER_ADD) ck_assert_int_eq(c1, l->in_c);
            } else {
                ck_assert_int_eq(l->in[1], -2);
            }
            bool multiplies = l->kind == NAS_LAYER_CONV || l->kind == NAS_LAYER_DEPTHWISE ||
                              l->kind == NAS_LAYER_DENSE;
            ck_assert_int_eq(multiplies, l->mul >= 0);
            if (multiplies) ck_assert_int_eq(l->mul, g[l->mul_gene]);
            params += l->params, macs += l->macs, muls += multiplies;
        }
        ck_assert_int_eq(params, a.params);
        ck_assert_int_eq(macs, a.macs);
        ck_assert_int_eq(muls, a.mul_layers);
        ck_assert_int_eq(a.layers[a.n - 1].kind, NAS_LAYER_DENSE);
        ck_assert_int_eq(a.layers[a.n - 1].out_c, 10);
        /* after two reductions 12 -> 6 -> 3 */
        ck_assert_int_eq(a.layers[a.n - 2].in_h, 3);
        nas_arch_free(&a);
    }
    free(g);
}
END_TEST

START_TEST(test_hash_duplicates)
{
    nas_space sp = small_space(4);
    int a[17], b[17];
    one_op_genome(a, NAS_OP_CONV3X3);
    nas_arch da, db;
    ck_assert_int_eq(nas_genome_decode(&sp, a, &da), ENG_OK);
    uint64_t ha = nas_arch_hash(&da);

    /* inactive genes (node 2, its multipliers) do not matter */
    memcpy(b, a, sizeof a);
    b[4] = NAS_OP_SEP5X5, b[5] = 1, b[13] = 1, b[14] = 1;
    bool active[17];
    nas_genome_active(&sp, b, active);
    ck_assert(!active[4] && !active[5] && !active[13]);
    ck_assert(active[0] && active[8] && active[9] && active[10] && active[16]);
    ck_assert(!active[11] && !active[12]); /* conv uses one multiplier */
    ck_assert_int_eq(nas_genome_decode(&sp, b, &db), ENG_OK);
    ck_assert_uint_eq(nas_arch_hash(&db), ha);
    nas_arch_free(&db);

    /* the same network on node 2 (node 1 unused): same phenotype, same hash */
    int c[17] = {NAS_OP_MAXPOOL, 0, 0, 0, NAS_OP_CONV3X3, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0};
    ck_assert_int_eq(nas_genome_decode(&sp, c, &db), ENG_OK);
    ck_assert_uint_eq(nas_arch_hash(&db), ha);
    nas_arch_free(&db);

    /* an active multiplier changes the hash, so does an op or a connection */
    memcpy(b, a, sizeof a);
    b[10] = 1;
    ck_assert_int_eq(nas_genome_decode(&sp, b, &db), ENG_OK);
    ck_assert_uint_ne(nas_arch_hash(&db), ha);
    nas_arch_free(&db);
    memcpy(b, a, sizeof a);
    b[0] = NAS_OP_CONV5X5;
    ck_assert_int_eq(nas_genome_decode(&sp, b, &db), ENG_OK);
    ck_assert_uint_ne(nas_arch_hash(&db), ha);
    nas_arch_free(&db);
    /* output node 2 = identity(input): the cell vanishes */
    memcpy(b, a, sizeof a);
    b[8] = 1;
    ck_assert_int_eq(nas_genome_decode(&sp, b, &db), ENG_OK);
    ck_assert_int_eq(db.n, 5);
    ck_assert_uint_ne(nas_arch_hash(&db), ha);
    nas_arch_free(&db);
    nas_arch_free(&da);
}
END_TEST

START_TEST(test_hash_node_numbering)
{
    nas_space sp = small_space(4);
    int a[17], c[17] = {NAS_OP_MAXPOOL, 0, 0, 0, NAS_OP_CONV3X3, 0, 0, 0, 1,
                        0, 1, 1, 1, 0, 0, 0, 0};
    one_op_genome(a, NAS_OP_CONV3X3);
    /* c: node 2 = conv3x3(input) is the output, node 1 unused; node 2's multipliers 13.. */
    c[13] = 0;
    nas_arch da, dc;
    ck_assert_int_eq(nas_genome_decode(&sp, a, &da), ENG_OK);
    ck_assert_int_eq(nas_genome_decode(&sp, c, &dc), ENG_OK);
    ck_assert_int_eq(da.n, dc.n);
    ck_assert_uint_eq(nas_arch_hash(&da), nas_arch_hash(&dc));
    nas_arch_free(&dc);
    c[13] = 1; /* now the conv's multiplier differs */
    ck_assert_int_eq(nas_genome_decode(&sp, c, &dc), ENG_OK);
    ck_assert_uint_ne(nas_arch_hash(&da), nas_arch_hash(&dc));
    nas_arch_free(&dc);
    nas_arch_free(&da);
}
END_TEST

START_TEST(test_mutation_invariants)
{
    for (int shared = 0; shared < 2; shared++) {
        nas_space sp = big_space(shared);
        int n = nas_genome_length(&sp);
        int *g = malloc(sizeof(int) * (size_t)n), *before = malloc(sizeof(int) * (size_t)n);
        bool *active = malloc(sizeof(bool) * (size_t)n);
        uint64_t rng = 11 + (uint64_t)shared;
        const double rates[] = {0.0, 0.02, 0.3, 1.0};
        for (int t = 0; t < 400; t++) {
            nas_genome_random(&sp, &rng, g);
            ck_assert(nas_genome_valid(&sp, g));
            memcpy(before, g, sizeof(int) * (size_t)n);
            nas_genome_active(&sp, before, active);
            nas_genome_mutate(&sp, &rng, rates[t % 4], g);
            ck_assert(nas_genome_valid(&sp, g));
            bool changed = false;
            for (int i = 0; i < n; i++) changed |= active[i] && g[i] != before[i];
            ck_assert_msg(changed, "mutation changed no active gene (rate %g)", rates[t % 4]);
        }
        free(active);
        free(before);
        free(g);
    }
}
END_TEST

START_TEST(test_crossover_invariants)
{
    nas_space sp = big_space(false);
    int n = nas_genome_length(&sp);
    int *a = malloc(sizeof(int) * (size_t)n), *b = malloc(sizeof(int) * (size_t)n);
    int *c1 = malloc(sizeof(int) * (size_t)n), *c2 = malloc(sizeof(int) * (size_t)n);
    uint64_t rng = 3;
    int from_a = 0, total = 0;
    for (int t = 0; t < 300; t++) {
        nas_genome_random(&sp, &rng, a);
        nas_genome_random(&sp, &rng, b);
        nas_genome_crossover(&sp, &rng, a, b, c1, c2);
        ck_assert(nas_genome_valid(&sp, c1));
        ck_assert(nas_genome_valid(&sp, c2));
        for (int i = 0; i < n; i++) {
            ck_assert((c1[i] == a[i] && c2[i] == b[i]) || (c1[i] == b[i] && c2[i] == a[i]));
            if (a[i] != b[i]) total++, from_a += c1[i] == a[i];
        }
        /* a node's four structure genes travel together */
        for (int base = 0; base < sp.nodes * 4; base += 4) {
            bool all_a = true, all_b = true;
            for (int f = 0; f < 4; f++) {
                all_a &= c1[base + f] == a[base + f] && c2[base + f] == b[base + f];
                all_b &= c1[base + f] == b[base + f] && c2[base + f] == a[base + f];
            }
            ck_assert(all_a || all_b);
        }
    }
    /* uniform: about half of the differing genes come from each parent */
    ck_assert_int_gt(from_a, total * 2 / 5);
    ck_assert_int_lt(from_a, total * 3 / 5);
    free(a), free(b), free(c1), free(c2);
}
END_TEST

START_TEST(test_set_multipliers)
{
    nas_space sp = big_space(false);
    int n = nas_genome_length(&sp);
    int *g = malloc(sizeof(int) * (size_t)n), *before = malloc(sizeof(int) * (size_t)n);
    uint64_t rng = 21;
    nas_genome_random(&sp, &rng, g);
    memcpy(before, g, sizeof(int) * (size_t)n);
    nas_genome_set_multipliers(&sp, g, 3);
    nas_arch a;
    ck_assert_int_eq(nas_genome_decode(&sp, g, &a), ENG_OK);
    for (int i = 0; i < a.n; i++)
        if (a.layers[i].mul_gene >= 0) ck_assert_int_eq(a.layers[i].mul, 3);
    nas_arch_free(&a);
    for (int i = 0; i < 63; i++) ck_assert_int_eq(g[i], before[i]); /* structure untouched */
    free(g), free(before);
}
END_TEST

START_TEST(test_format_parse)
{
    nas_space sp = big_space(true);
    int n = nas_genome_length(&sp);
    int *g = malloc(sizeof(int) * (size_t)n), *h = malloc(sizeof(int) * (size_t)n);
    uint64_t rng = 9;
    nas_genome_random(&sp, &rng, g);
    char buf[2048];
    int len = nas_genome_format(&sp, g, buf, sizeof buf);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(nas_genome_parse(&sp, buf, h), ENG_OK);
    ck_assert_mem_eq(g, h, sizeof(int) * (size_t)n);
    ck_assert_int_eq(nas_genome_format(&sp, g, buf, 4), -1);
    memset(h, 0x7f, sizeof(int) * (size_t)n);
    ck_assert_int_eq(nas_genome_parse(&sp, "0,0,0", h), ENG_ERR_FORMAT);
    ck_assert_int_eq(h[0], 0x7f7f7f7f); /* unchanged on error */
    nas_genome_format(&sp, g, buf, sizeof buf);
    buf[0] = '9', buf[1] = '9'; /* op gene 99: out of range (or a syntax error) */
    ck_assert_int_ne(nas_genome_parse(&sp, buf, h), ENG_OK);
    free(g), free(h);
}
END_TEST

static Suite *genome_suite(void)
{
    Suite *s = suite_create("nas_genome");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_decode_conv);
    tcase_add_test(tc, test_decode_mbconv_resblock);
    tcase_add_test(tc, test_decode_concat_pool_reduction);
    tcase_add_test(tc, test_every_op_consistent);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("duplicates");
    tcase_add_test(th, test_hash_duplicates);
    tcase_add_test(th, test_hash_node_numbering);
    suite_add_tcase(s, th);
    TCase *tv = tcase_create("variation");
    tcase_add_test(tv, test_mutation_invariants);
    tcase_add_test(tv, test_crossover_invariants);
    tcase_add_test(tv, test_format_parse);
    tcase_add_test(tv, test_set_multipliers);
    suite_add_tcase(s, tv);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(genome_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
