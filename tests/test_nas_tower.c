/*
 * test_nas_tower.c - Model Search towers: the same layers and hash as the equivalent NSGA-II
 * genome, library names, text round trips, random towers and the invariants of the moves.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nas_decode.h"
#include "nas_genome.h"
#include "nas_tower.h"
#include "testutil.h"

/* Two stages, one node per cell, every op, width 6 (x2 in stage 1), stem 4 stride 2, 1x16x16
 * input, 10 classes, 5 multipliers. Genes: cell0 node 0..3, output 4, cell1 node 5..8,
 * output 9, stem mul 10, stage-0 node muls 11..13, stage-1 node muls 14..16, reduction 17,
 * classifier 18. */
static nas_space genome_space(void)
{
    nas_space sp = {.stages = 2, .nodes = 1, .n_ops = NAS_OP_COUNT, .n_widths = 1,
                    .widths = {6}, .width_growth = 2, .stem_width = 4, .stem_stride = 2,
                    .n_muls = 5, .in_channels = 1, .in_height = 16, .in_width = 16,
                    .classes = 10};
    for (int i = 0; i < NAS_OP_COUNT; i++) sp.ops[i] = (nas_op)i;
    return sp;
}

/* Library: every op at widths 6 and 12 (pools and identity once), down/8; blocks 1..6. */
static nas_tower_space tower_space(void)
{
    nas_tower_space sp = {.min_blocks = 1, .max_blocks = 6, .stem_width = 4, .stem_stride = 2,
                          .n_muls = 5, .in_channels = 1, .in_height = 16, .in_width = 16,
                          .classes = 10};
    for (int op = 0; op < NAS_OP_COUNT; op++) {
        bool wide = op != NAS_OP_MAXPOOL && op != NAS_OP_AVGPOOL && op != NAS_OP_IDENTITY;
        sp.library[sp.n_library++] = (nas_tower_block){.op = (nas_op)op, .width = 6};
        if (wide) sp.library[sp.n_library++] = (nas_tower_block){.op = (nas_op)op, .width = 12};
    }
    sp.library[sp.n_library++] = (nas_tower_block){.down = true, .width = 8};
    return sp;
}

static int library_index(const nas_tower_space *sp, const char *name)
{
    nas_tower_block b;
    ck_assert_int_eq(nas_tower_block_parse(name, &b), ENG_OK);
    char a[32], c[32];
    for (int i = 0; i < sp->n_library; i++)
        if (strcmp(nas_tower_block_name(&sp->library[i], a, sizeof a),
                   nas_tower_block_name(&b, c, sizeof c)) == 0)
            return i;
    ck_abort_msg("%s not in the library", name);
    return -1;
}

static void assert_same_layers(const nas_arch *a, const nas_arch *b)
{
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const nas_layer *x = &a->layers[i], *y = &b->layers[i];
        ck_assert_int_eq(x->kind, y->kind);
        ck_assert_int_eq(x->in[0], y->in[0]);
        ck_assert_int_eq(x->in[1], y->in[1]);
        ck_assert_int_eq(x->out_c, y->out_c);
        ck_assert_int_eq(x->out_h, y->out_h);
        ck_assert_int_eq(x->k, y->k);
        ck_assert_int_eq(x->stride, y->stride);
        ck_assert_int_eq(x->mul, y->mul);
        ck_assert_int_eq(x->params, y->params);
        ck_assert_int_eq(x->macs, y->macs);
    }
    ck_assert_int_eq(a->params, b->params);
    ck_assert_int_eq(a->macs, b->macs);
    ck_assert_int_eq(a->mul_layers, b->mul_layers);
    ck_assert(nas_arch_hash(a) == nas_arch_hash(b));
}

/* Every pair of ops in the two one-node cells, random multipliers: the tower
 * [op0/6, down/8, op1/12] decodes to the genome's layers and hash. */
START_TEST(test_genome_equivalence)
{
    nas_space gs = genome_space();
    nas_tower_space ts = tower_space();
    gs.stem_width = 4;
    /* the reduction of stage 1 has stem_width * growth = 8 channels: down/8 */
    ck_assert_int_eq(nas_space_check(&gs), ENG_OK);
    ck_assert_int_eq(nas_tower_space_check(&ts), ENG_OK);
    ck_assert_int_eq(nas_genome_length(&gs), 19);
    uint64_t rng = 7;
    int pairs = 0;
    for (int a = 0; a < NAS_OP_COUNT; a++) {
        for (int b = 0; b < NAS_OP_COUNT; b++) {
            int g[19] = {a, 0, 0, 0, 0, b, 0, 0, 0, 0};
            for (int i = 10; i < 19; i++) g[i] = (int)(nas_rng_next(&rng) % 5);
            nas_tower t = {.n = 3};
            char n0[32], n1[32];
            nas_tower_block b0 = {.op = (nas_op)a, .width = 6};
            nas_tower_block b1 = {.op = (nas_op)b, .width = 12};
            t.block[0] = library_index(&ts, nas_tower_block_name(&b0, n0, sizeof n0));
            t.block[1] = library_index(&ts, "down/8");
            t.block[2] = library_index(&ts, nas_tower_block_name(&b1, n1, sizeof n1));
            t.mul[0] = g[10], t.mul[1] = g[18];
            for (int j = 0; j < 3; j++) t.mul[2 + j] = g[11 + j];
            t.mul[5] = g[17];
            for (int j = 0; j < 3; j++) t.mul[8 + j] = g[14 + j];
            nas_arch ga, ta;
            ck_assert_int_eq(nas_genome_decode(&gs, g, &ga), ENG_OK);
            ck_assert_int_eq(nas_tower_decode(&ts, &t, &ta), ENG_OK);
            assert_same_layers(&ga, &ta);
            nas_arch_free(&ga);
            nas_arch_free(&ta);
            pairs++;
        }
    }
    ck_assert_int_eq(pairs, NAS_OP_COUNT * NAS_OP_COUNT);
}
END_TEST

START_TEST(test_block_names)
{
    nas_tower_block b;
    char buf[32];
    ck_assert_int_eq(nas_tower_block_parse("sep5x5/32", &b), ENG_OK);
    ck_assert(!b.down && b.op == NAS_OP_SEP5X5 && b.width == 32);
    ck_assert_str_eq(nas_tower_block_name(&b, buf, sizeof buf), "sep5x5/32");
    ck_assert_int_eq(nas_tower_block_muls(&b), 2);
    ck_assert_int_eq(nas_tower_block_parse("down/64", &b), ENG_OK);
    ck_assert(b.down && b.width == 64);
    ck_assert_int_eq(nas_tower_block_muls(&b), 1);
    ck_assert_int_eq(nas_tower_block_parse("maxpool", &b), ENG_OK);
    ck_assert_int_eq(nas_tower_block_muls(&b), 0);
    ck_assert_int_eq(nas_tower_block_parse("maxpool/8", &b), ENG_ERR_ARG);
    ck_assert_int_eq(nas_tower_block_parse("conv3x3", &b), ENG_ERR_ARG);
    ck_assert_int_eq(nas_tower_block_parse("conv7x7/8", &b), ENG_ERR_ARG);
    ck_assert_int_eq(nas_tower_block_parse("down/0", &b), ENG_ERR_ARG);
    nas_tower_space sp = tower_space();
    sp.library[1] = sp.library[0];
    ck_assert_int_eq(nas_tower_space_check(&sp), ENG_ERR_ARG); /* a repeat */
    /* the frame both kinds of search space share: stem, multipliers, input, classes */
    const nas_tower_space good = tower_space();
    sp = good;
    sp.stem_stride = 3;
    ck_assert_int_eq(nas_tower_space_check(&sp), ENG_ERR_ARG);
    ck_assert_str_eq(eng_last_error(), "stem stride 3 not 1 or 2");
    sp = good;
    sp.n_muls = 0;
    ck_assert_int_eq(nas_tower_space_check(&sp), ENG_ERR_ARG);
    sp = good;
    sp.classes = 1;
    ck_assert_int_eq(nas_tower_space_check(&sp), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "bad input shape"));
    ck_assert_int_eq(nas_check_frame(2000, 1, 1, 1, 8, 8, 10), ENG_ERR_ARG);
    ck_assert_str_eq(eng_last_error(), "stem width 2000 not in [1, 1024]");
    ck_assert_int_eq(nas_check_frame(8, 1, 1, 1, 8, 8, 10), ENG_OK);
}
END_TEST

START_TEST(test_format_parse)
{
    nas_tower_space sp = tower_space();
    nas_tower t;
    const char *text = "stem@0 conv3x3/6@1 down/8@3 sep3x3/12@1,2 maxpool fc@4";
    ck_assert_int_eq(nas_tower_parse(&sp, text, &t), ENG_OK);
    ck_assert_int_eq(t.n, 4);
    char buf[256];
    ck_assert_int_gt(nas_tower_format(&sp, &t, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, text);
    ck_assert_int_eq(nas_tower_format(&sp, &t, buf, 10), -1);
    nas_arch a;
    ck_assert_int_eq(nas_tower_decode(&sp, &t, &a), ENG_OK);
    /* stem conv bn relu, conv bn relu, down conv bn relu, dw bn relu pw bn relu, pool, gap, fc */
    ck_assert_int_eq(a.n, 3 + 3 + 3 + 6 + 1 + 2);
    ck_assert_int_eq(a.mul_layers, 6);
    ck_assert_int_eq(a.layers[a.n - 1].mul, 4);
    nas_arch_free(&a);
    nas_tower keep = t;
    const char *bad[] = {
        "",
        "stem@0 fc@0",                                       /* 0 blocks: below min */
        "stem@0 conv3x3/6@1,2 fc@0",                         /* one multiplier too many */
        "stem@0 sep3x3/12@1 fc@0",                           /* one too few */
        "stem@0 conv3x3/7@1 fc@0",                           /* not in the library */
        "stem@0 conv3x3/6@5 fc@0",                           /* multiplier out of range */
        "stem@0 conv3x3/6@1",                                /* no classifier */
        "stem@0 conv3x3/6@1 fc@0 x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(nas_tower_parse(&sp, bad[i], &t) != ENG_OK, "accepted '%s'", bad[i]);
    ck_assert_int_eq(memcmp(&t, &keep, sizeof t), 0); /* unchanged on error */
}
END_TEST

START_TEST(test_random_and_exact)
{
    nas_tower_space sp = tower_space();
    uint64_t rng = 3;
    for (int k = 0; k < 200; k++) {
        nas_tower t;
        ck_assert_int_eq(nas_tower_random(&sp, &rng, k % 2 ? -1 : 0, &t), ENG_OK);
        ck_assert(nas_tower_valid(&sp, &t));
        nas_arch a;
        ck_assert_int_eq(nas_tower_decode(&sp, &t, &a), ENG_OK);
        for (int i = 0; i < a.n && k % 2 == 0; i++)
            ck_assert_int_le(a.layers[i].mul, 0);
        nas_arch_free(&a);
        char buf[512];
        nas_tower u;
        ck_assert_int_gt(nas_tower_format(&sp, &t, buf, sizeof buf), 0);
        ck_assert_int_eq(nas_tower_parse(&sp, buf, &u), ENG_OK);
        ck_assert_int_eq(memcmp(&t, &u, sizeof t), 0);
    }
    /* downsampling saturates: six down blocks on a 16x16 image (8x8 after the stem) end
     * at 1x1 (a padded 3x3 kernel of stride 2 maps 1x1 to 1x1) */
    nas_tower_space down = sp;
    down.n_library = 1;
    down.library[0] = (nas_tower_block){.down = true, .width = 8};
    down.min_blocks = down.max_blocks = 6;
    nas_tower t;
    ck_assert_int_eq(nas_tower_random(&down, &rng, -1, &t), ENG_OK);
    nas_arch a;
    ck_assert_int_eq(nas_tower_decode(&down, &t, &a), ENG_OK);
    ck_assert_int_eq(a.layers[a.n - 3].out_h, 1);
    nas_arch_free(&a);
}
END_TEST

/* Many moves from random towers: valid, decodable, another network, one coordinate changed
 * (length by at most one, all-exact towers stay all-exact unless a multiplier moved). */
START_TEST(test_move_invariants)
{
    nas_tower_space sp = tower_space();
    uint64_t rng = 11;
    int seen[NAS_TOWER_MOVE_COUNT] = {0};
    for (int k = 0; k < 500; k++) {
        nas_tower t, u;
        ck_assert_int_eq(nas_tower_random(&sp, &rng, k % 3 ? -1 : 0, &t), ENG_OK);
        nas_tower_move_kind kind;
        ck_assert_int_eq(nas_tower_move(&sp, &rng, &t, &u, &kind), ENG_OK);
        seen[kind]++;
        ck_assert(nas_tower_valid(&sp, &u));
        nas_arch a, b;
        ck_assert_int_eq(nas_tower_decode(&sp, &t, &a), ENG_OK);
        ck_assert_int_eq(nas_tower_decode(&sp, &u, &b), ENG_OK);
        ck_assert(nas_arch_hash(&a) != nas_arch_hash(&b));
        int diff = 0;
        switch (kind) {
        case NAS_TOWER_MOVE_INSERT: ck_assert_int_eq(u.n, t.n + 1); break;
        case NAS_TOWER_MOVE_REMOVE: ck_assert_int_eq(u.n, t.n - 1); break;
        case NAS_TOWER_MOVE_REPLACE:
            ck_assert_int_eq(u.n, t.n);
            for (int i = 0; i < t.n; i++) diff += t.block[i] != u.block[i];
            ck_assert_int_eq(diff, 1);
            break;
        default:
            ck_assert_int_eq(u.n, t.n);
            ck_assert_int_eq(memcmp(t.block, u.block, sizeof t.block), 0);
            for (int i = 0; i < NAS_TOWER_MULS; i++) diff += t.mul[i] != u.mul[i];
            ck_assert_int_eq(diff, 1);
            break;
        }
        if (k % 3 == 0 && kind != NAS_TOWER_MOVE_MULTIPLIER)
            for (int i = 0; i < b.n; i++) ck_assert_int_le(b.layers[i].mul, 0);
        nas_arch_free(&a);
        nas_arch_free(&b);
    }
    for (int m = 0; m < NAS_TOWER_MOVE_COUNT; m++) ck_assert_int_gt(seen[m], 50);
    /* nothing to move: one block, one library entry, one multiplier, fixed length */
    nas_tower_space none = sp;
    none.n_library = 1, none.n_muls = 1, none.min_blocks = none.max_blocks = 1;
    nas_tower t, u;
    ck_assert_int_eq(nas_tower_random(&none, &rng, -1, &t), ENG_OK);
    ck_assert_int_eq(nas_tower_move(&none, &rng, &t, &u, NULL), ENG_ERR_ARG);
}
END_TEST

/* Same seed, same moves. */
START_TEST(test_deterministic)
{
    nas_tower_space sp = tower_space();
    uint64_t r1 = 99, r2 = 99;
    nas_tower a, b;
    ck_assert_int_eq(nas_tower_random(&sp, &r1, -1, &a), ENG_OK);
    ck_assert_int_eq(nas_tower_random(&sp, &r2, -1, &b), ENG_OK);
    for (int k = 0; k < 50; k++) {
        ck_assert_int_eq(nas_tower_move(&sp, &r1, &a, &a, NULL), ENG_OK);
        ck_assert_int_eq(nas_tower_move(&sp, &r2, &b, &b, NULL), ENG_OK);
        ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    }
}
END_TEST

/* Two towers side by side: both members' layers, one add of their logits; the text round
 * trip; one member alone is the tower itself. */
START_TEST(test_ensemble)
{
    nas_tower_space sp = tower_space();
    nas_tower t[NAS_TOWER_MAX_ENSEMBLE], u[NAS_TOWER_MAX_ENSEMBLE];
    ck_assert_int_eq(nas_tower_parse(&sp, "stem@0 conv3x3/6@1 fc@2", &t[0]), ENG_OK);
    ck_assert_int_eq(nas_tower_parse(&sp, "stem@3 sep3x3/12@1,2 maxpool fc@4", &t[1]), ENG_OK);
    nas_arch a, b, e, one;
    ck_assert_int_eq(nas_tower_decode(&sp, &t[0], &a), ENG_OK);
    ck_assert_int_eq(nas_tower_decode(&sp, &t[1], &b), ENG_OK);
    ck_assert_int_eq(nas_tower_decode_ensemble(&sp, t, 2, &e), ENG_OK);
    ck_assert_int_eq(e.n, a.n + b.n + 1);
    ck_assert_int_eq(e.layers[e.n - 1].kind, NAS_LAYER_ADD);
    ck_assert_int_eq(e.layers[e.n - 1].in[0], a.n - 1);       /* member 1's classifier */
    ck_assert_int_eq(e.layers[e.n - 1].in[1], a.n + b.n - 1); /* member 2's */
    ck_assert_int_eq(e.layers[e.n - 1].out_c, 10);
    ck_assert_int_eq(e.layers[a.n].in[0], -1);                /* member 2 reads the input */
    ck_assert_int_eq(e.layers[a.n + 3].mul, 1);               /* its multipliers */
    ck_assert_int_eq(e.macs, a.macs + b.macs);
    ck_assert_int_eq(e.params, a.params + b.params);
    ck_assert_int_eq(e.mul_layers, a.mul_layers + b.mul_layers);
    ck_assert(nas_arch_hash(&e) != nas_arch_hash(&a));
    ck_assert_int_eq(nas_tower_decode_ensemble(&sp, t, 1, &one), ENG_OK);
    ck_assert(nas_arch_hash(&one) == nas_arch_hash(&a));
    nas_arch_free(&one);
    char buf[512];
    ck_assert_int_gt(nas_tower_ensemble_format(&sp, t, 2, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "ensemble stem@0 conv3x3/6@1 fc@2 | stem@3 sep3x3/12@1,2 maxpool fc@4");
    int k = 0;
    ck_assert_int_eq(nas_tower_ensemble_parse(&sp, buf, u, &k), ENG_OK);
    ck_assert_int_eq(k, 2);
    ck_assert_int_eq(memcmp(u, t, sizeof t[0] * 2), 0);
    ck_assert_int_eq(nas_tower_ensemble_parse(&sp, "stem@0 conv3x3/6@1 fc@2", u, &k), ENG_OK);
    ck_assert_int_eq(k, 1);
    ck_assert_int_ne(nas_tower_ensemble_parse(&sp, "ensemble stem@0 conv3x3/6@1 fc@2", u, &k),
                     ENG_OK);
    ck_assert_int_ne(nas_tower_ensemble_parse(&sp, "ensemble stem@0 fc@2 | x", u, &k), ENG_OK);
    ck_assert_int_eq(nas_tower_decode_ensemble(&sp, t, NAS_TOWER_MAX_ENSEMBLE + 1, &one),
                     ENG_ERR_ARG);
    nas_arch_free(&a), nas_arch_free(&b), nas_arch_free(&e), nas_arch_free(&one);
}
END_TEST

static Suite *tower_suite(void)
{
    Suite *s = suite_create("nas_tower");
    TCase *tc = tcase_create("tower");
    tcase_add_test(tc, test_genome_equivalence);
    tcase_add_test(tc, test_block_names);
    tcase_add_test(tc, test_format_parse);
    tcase_add_test(tc, test_random_and_exact);
    tcase_add_test(tc, test_move_invariants);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_ensemble);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tower_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
