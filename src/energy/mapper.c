/*
 * mapper.c - the energy model's mapper: access counts of a loop-nest mapping over the memory
 * levels and the PE array (in the manner of Timeloop), and a small search for the best one.
 *
 * Counting. Level k's tile of a tensor spans the loops at k and inside it (for levels above
 * the PE array, the spatial loops too); the per-PE levels are siblings that share the loops
 * of the first of them. A child level refills its tile once per iteration of
 * the loops above it, except a run of loops irrelevant to the tensor directly above it
 * (stationarity). A per-PE child is fed by one parent read per element of the union of the
 * PEs' tiles (multicast); partial sums are drained to the parent after every visit and read
 * back for every visit but the first. Every MAC reads its weight and input and updates its
 * partial sum at the innermost level that keeps each.
 *
 * Search. Per allowed dataflow: the spatial factors with the largest PE count (at most
 * SPATIAL_CANDIDATES of them), then steepest descent over temporal factors (moving one
 * divisor of one dimension's factor between two levels) and loop orders, once from all
 * factors in each level above the PEs; the least energy wins.
 *
 * Constraints (energy_constraints) narrow that space: the spatial masks and factors filter
 * the spatial candidates, fixed temporal factors are placed first and never move (moves only
 * run between levels where the dimension is free), and a level's permutation fixes its
 * innermost loops, the other loops taking the six group orders around them.
 */
#include "mapper.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ND ENERGY_DIM_COUNT
#define NT ENERGY_TENSOR_COUNT
#define ML ENERGY_MAX_LEVELS
#define BIT(d) (1u << (d))
#define SPATIAL_CANDIDATES 4

enum { N_ = ENERGY_DIM_N, G_ = ENERGY_DIM_G, M_ = ENERGY_DIM_M, C_ = ENERGY_DIM_C,
       P_ = ENERGY_DIM_P, Q_ = ENERGY_DIM_Q, R_ = ENERGY_DIM_R, S_ = ENERGY_DIM_S };
enum { W_ = ENERGY_TENSOR_WEIGHTS, I_ = ENERGY_TENSOR_INPUTS, O_ = ENERGY_TENSOR_OUTPUTS };

static const unsigned relevant[NT] = {
    BIT(G_) | BIT(M_) | BIT(C_) | BIT(R_) | BIT(S_),
    BIT(N_) | BIT(G_) | BIT(C_) | BIT(P_) | BIT(Q_) | BIT(R_) | BIT(S_),
    BIT(N_) | BIT(G_) | BIT(M_) | BIT(P_) | BIT(Q_),
};

/* Loop orders the search tries at each level (outer first): the six orders of the groups
 * {N P Q} (weights stationary inside), {C R S} (outputs stationary), {M} (inputs stationary). */
#define N_ORDERS 6
static const int orders[N_ORDERS][ND] = {
    {G_, M_, C_, R_, S_, N_, P_, Q_},
    {G_, C_, R_, S_, M_, N_, P_, Q_},
    {G_, N_, P_, Q_, M_, C_, R_, S_},
    {G_, M_, N_, P_, Q_, C_, R_, S_},
    {G_, N_, P_, Q_, C_, R_, S_, M_},
    {G_, C_, R_, S_, N_, P_, Q_, M_},
};

void mapper_dataflow_masks(energy_dataflow df, unsigned *rows, unsigned *cols, unsigned *pe)
{
    switch (df) {
    case ENERGY_DATAFLOW_WEIGHT_STATIONARY:
        *rows = BIT(C_) | BIT(R_) | BIT(S_);
        *cols = BIT(M_) | BIT(G_);
        *pe = BIT(N_) | BIT(P_) | BIT(Q_);
        break;
    case ENERGY_DATAFLOW_OUTPUT_STATIONARY:
        *rows = BIT(P_) | BIT(N_);
        *cols = BIT(Q_) | BIT(M_) | BIT(G_);
        *pe = BIT(C_) | BIT(R_) | BIT(S_);
        break;
    case ENERGY_DATAFLOW_ROW_STATIONARY:
        *rows = BIT(R_) | BIT(C_) | BIT(G_);
        *cols = BIT(P_) | BIT(M_) | BIT(N_);
        *pe = BIT(S_) | BIT(Q_) | BIT(C_) | BIT(M_) | BIT(N_) | BIT(G_);
        break;
    default:
        *rows = *cols = *pe = BIT(ND) - 1;
        break;
    }
}

void mapper_masks(const energy_accel *a, energy_dataflow df, unsigned *rows, unsigned *cols,
                  unsigned *pe)
{
    mapper_dataflow_masks(df, rows, cols, pe);
    if (a->cons.spatial) {
        *rows &= a->cons.rows;
        *cols &= a->cons.cols;
    }
}

void mapper_bounds(const energy_layer *l, int b[ND])
{
    b[N_] = l->n;
    b[G_] = l->groups;
    b[M_] = l->m / l->groups;
    b[C_] = l->c / l->groups;
    b[P_] = l->p;
    b[Q_] = l->q;
    b[R_] = l->r;
    b[S_] = l->s;
}

/* ------------------------------------------------------------------------------------------
 * Access counting
 * ---------------------------------------------------------------------------------------- */

typedef struct ctx {
    const energy_accel *a;
    int levels, first_pe;       /* first per-PE level (levels when none) */
    int bound[ND];
    int stride, h, w;
    double macs;
    double frac[ML][NT];        /* words per operand at each level */
    double rd_pj[ML][NT], wr_pj[ML][NT];
    int chain[NT][ML], chain_len[NT];
    unsigned tier_keeps[ML];    /* tensors kept at each tier (the per-PE levels share one) */
    int orders[ML][N_ORDERS][ND];   /* the loop orders each level may take */
} ctx;

static void ctx_init(ctx *c, const energy_accel *a, const energy_layer *l)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->levels = a->n_levels;
    c->first_pe = a->n_levels;
    for (int k = a->n_levels - 1; k >= 0; k--)
        if (a->levels[k].scope == ENERGY_SCOPE_PE) c->first_pe = k;
    mapper_bounds(l, c->bound);
    c->stride = l->stride;
    c->h = l->h;
    c->w = l->w;
    c->macs = (double)energy_layer_macs(l);
    int bits[NT] = {l->weight_bits ? l->weight_bits : a->word_bits,
                    l->act_bits ? l->act_bits : a->word_bits, 0};
    for (int k = 0; k < a->n_levels; k++) {
        const energy_level *lv = &a->levels[k];
        for (int t = 0; t < NT; t++) {
            c->frac[k][t] = t == O_ ? 1.0 : (double)bits[t] / lv->word_bits;
            c->rd_pj[k][t] = lv->read_pj * c->frac[k][t];
            c->wr_pj[k][t] = lv->write_pj * c->frac[k][t];
            if (lv->keeps & (1u << t)) c->chain[t][c->chain_len[t]++] = k;
        }
        c->tier_keeps[k < c->first_pe ? k : c->first_pe] |= lv->keeps;
        /* the group orders with the permutation's dimensions moved innermost, in its order */
        const energy_constraints *cn = &a->cons;
        for (int o = 0; o < N_ORDERS; o++) {
            int n = 0;
            unsigned fixed = 0;
            for (int i = 0; i < cn->perm_len[k]; i++) fixed |= BIT(cn->perm[k][i]);
            for (int i = 0; i < ND; i++)
                if (!(fixed & BIT(orders[o][i]))) c->orders[k][o][n++] = orders[o][i];
            for (int i = cn->perm_len[k] - 1; i >= 0; i--) c->orders[k][o][n++] = cn->perm[k][i];
        }
    }
}

/* Input rows touched by p output rows of an r-row kernel (at most the input's lim rows). */
static inline double halo(double p, double r, int stride, int lim)
{
    double v = stride >= r ? p * r : (p - 1) * stride + r;
    return v < lim ? v : lim;
}

static inline double tile_size(const ctx *c, int t, const double *e)
{
    switch (t) {
    case W_: return e[G_] * e[M_] * e[C_] * e[R_] * e[S_];
    case I_: return e[N_] * e[G_] * e[C_] * halo(e[P_], e[R_], c->stride, c->h) *
                    halo(e[Q_], e[S_], c->stride, c->w);
    default: return e[N_] * e[G_] * e[M_] * e[P_] * e[Q_];
    }
}

/* Energy of the memory levels for mapping m (INFINITY when a tile does not fit; *bad_level
 * then names the level). With out != NULL also fills the access counts and level energies. */
static double eval(const ctx *c, const energy_mapping *m, energy_layer_cost *out, int *bad_level)
{
    const int L = c->levels, fp = c->first_pe, top = fp < L ? fp : L - 1;
    double ext[ML][ND], sp[ND], sp_total = 1;
    for (int d = 0; d < ND; d++) {
        sp[d] = (double)m->spatial_rows[d] * m->spatial_cols[d];
        sp_total *= sp[d];
        ext[top][d] = m->temporal[top][d] * (fp == L ? sp[d] : 1);
    }
    for (int k = top - 1; k >= 0; k--)
        for (int d = 0; d < ND; d++)
            ext[k][d] = ext[k + 1][d] * m->temporal[k][d] * (k + 1 == fp ? sp[d] : 1);

    double tile[ML][NT];
    for (int k = 1; k <= top; k++)
        for (int t = 0; t < NT; t++)
            if (c->tier_keeps[k] & (1u << t)) tile[k][t] = tile_size(c, t, ext[k]);
    for (int k = 1; k < L; k++) {
        const energy_level *lv = &c->a->levels[k];
        const int tier = k < fp ? k : fp;
        double use = 0;
        for (int t = 0; t < NT; t++)
            if (lv->keeps & (1u << t)) use += tile[tier][t] * c->frac[k][t];
        if (use > (double)lv->capacity_words) {
            if (bad_level) *bad_level = k;
            return INFINITY;
        }
    }

    double rd[ML][NT] = {{0}}, wr[ML][NT] = {{0}};
    for (int t = 0; t < NT; t++) {
        for (int j = 1; j < c->chain_len[t]; j++) {
            const int k = c->chain[t][j], p = c->chain[t][j - 1], tier = k < fp ? k : fp;
            double visits = 1, distinct = 1;
            bool trailing = true;
            for (int lv = tier - 1; lv >= 0; lv--)
                for (int i = ND - 1; i >= 0; i--) {
                    int d = m->order[lv][i], f = m->temporal[lv][d];
                    if (f == 1) continue;
                    if (relevant[t] & BIT(d)) {
                        distinct *= f;
                        trailing = false;
                    }
                    if (!trailing) visits *= f;
                }
            double inst = k >= fp ? sp_total : 1;
            double tl = tile[tier][t], tile_p = tl * inst;
            if (k >= fp && p < fp) {
                double eu[ND];
                for (int d = 0; d < ND; d++) eu[d] = ext[fp][d] * sp[d];
                tile_p = tile_size(c, t, eu);
            }
            if (t == O_) {
                rd[k][t] += tl * inst * visits;
                wr[k][t] += tl * inst * (visits - distinct);
                wr[p][t] += tile_p * visits;
                rd[p][t] += tile_p * (visits - distinct);
            } else {
                wr[k][t] += tl * inst * visits;
                rd[p][t] += tile_p * visits;
            }
        }
        const int km = c->chain[t][c->chain_len[t] - 1];
        double per_mac = c->macs;
        if (km < fp)
            for (int d = 0; d < ND; d++)
                if (!(relevant[t] & BIT(d))) per_mac /= sp[d];
        rd[km][t] += per_mac;
        if (t == O_) wr[km][t] += per_mac;
    }

    double total = 0;
    for (int k = 0; k < L; k++) {
        double e = 0;
        for (int t = 0; t < NT; t++) e += rd[k][t] * c->rd_pj[k][t] + wr[k][t] * c->wr_pj[k][t];
        total += e;
        if (out) {
            out->level_pj[k] = e;
            for (int t = 0; t < NT; t++) {
                out->reads[k][t] = rd[k][t];
                out->writes[k][t] = wr[k][t];
            }
        }
    }
    if (out) {
        out->utilization = sp_total / ((double)c->a->pe_rows * c->a->pe_cols);
        out->mapping = *m;
        out->mapped = true;
    }
    return total;
}

/* ENG_ERR_ARG unless map keeps the accelerator's factor and permutation constraints (the
 * spatial masks are checked with the dataflow's). */
static eng_status check_constraints(const ctx *c, const energy_mapping *map)
{
    const energy_constraints *cn = &c->a->cons;
    for (int d = 0; d < ND; d++) {
        const int sp = map->spatial_rows[d] * map->spatial_cols[d];
        const int sf = cn->spatial_factor[d];
        if (sf != ENERGY_FACTOR_FREE && sp != (sf == ENERGY_FACTOR_FULL ? c->bound[d] : sf))
            return eng_error(ENG_ERR_ARG, "mapping: the spatial factor of %s breaks a constraint",
                             energy_dim_name((energy_dim)d));
        for (int k = 0; k < c->levels && k <= c->first_pe; k++) {
            const int f = cn->factor[k][d];
            if (f == ENERGY_FACTOR_FREE) continue;
            bool ok = map->temporal[k][d] == f;
            if (f == ENERGY_FACTOR_FULL) {
                ok = true;
                for (int j = 0; j <= c->first_pe && j < c->levels; j++)
                    ok &= j == k || map->temporal[j][d] == 1;
            }
            if (!ok)
                return eng_error(ENG_ERR_ARG, "mapping: the factor of %s at level %s breaks a "
                                 "constraint", energy_dim_name((energy_dim)d),
                                 c->a->levels[k].name);
        }
    }
    for (int k = 0; k < c->levels && k < c->first_pe; k++)
        for (int i = 0; i < cn->perm_len[k]; i++)
            if (map->order[k][ND - 1 - i] != cn->perm[k][i])
                return eng_error(ENG_ERR_ARG, "mapping: the loop order of level %s breaks its "
                                 "permutation constraint", c->a->levels[k].name);
    return ENG_OK;
}

eng_status energy_mapping_evaluate(const energy_accel *a, const energy_layer *l,
                                   const energy_mapping *map, energy_layer_cost *out)
{
    if (!energy_layer_multiplies(l))
        return eng_error(ENG_ERR_ARG, "layer %s: only layers that multiply have mappings", l->name);
    if ((unsigned)map->dataflow >= ENERGY_DATAFLOW_COUNT || !(a->dataflows & (1u << map->dataflow)))
        return eng_error(ENG_ERR_ARG, "mapping: dataflow not allowed by accelerator %s", a->name);
    ctx c;
    ctx_init(&c, a, l);
    unsigned rows, cols, pe;
    mapper_masks(a, map->dataflow, &rows, &cols, &pe);
    int64_t prow = 1, pcol = 1;
    for (int d = 0; d < ND; d++) {
        int64_t prod = (int64_t)map->spatial_rows[d] * map->spatial_cols[d];
        if (map->spatial_rows[d] < 1 || map->spatial_cols[d] < 1 ||
            (map->spatial_rows[d] > 1 && !(rows & BIT(d))) ||
            (map->spatial_cols[d] > 1 && !(cols & BIT(d))))
            return eng_error(ENG_ERR_ARG, "mapping: %s cannot be spread over the PE array",
                             energy_dim_name((energy_dim)d));
        prow *= map->spatial_rows[d];
        pcol *= map->spatial_cols[d];
        for (int k = 0; k < a->n_levels; k++) {
            int f = map->temporal[k][d];
            if (f < 1) return eng_error(ENG_ERR_ARG, "mapping: factor %d of %s", f,
                                        energy_dim_name((energy_dim)d));
            if (f > 1 && k > c.first_pe)
                return eng_error(ENG_ERR_ARG, "mapping: per-PE loops belong to the first per-PE "
                                 "level (%s)", a->levels[c.first_pe].name);
            if (f > 1 && k >= c.first_pe && !(pe & BIT(d)))
                return eng_error(ENG_ERR_ARG, "mapping: the dataflow keeps %s out of the PEs",
                                 energy_dim_name((energy_dim)d));
            prod *= f;
        }
        if (prod != c.bound[d])
            return eng_error(ENG_ERR_ARG, "mapping: factors of %s multiply to %lld, not %d",
                             energy_dim_name((energy_dim)d), (long long)prod, c.bound[d]);
    }
    if (prow > a->pe_rows || pcol > a->pe_cols)
        return eng_error(ENG_ERR_ARG, "mapping: %lldx%lld PEs used, the array has %dx%d",
                         (long long)prow, (long long)pcol, a->pe_rows, a->pe_cols);
    for (int k = 0; k < a->n_levels; k++) {
        unsigned seen = 0;
        for (int i = 0; i < ND; i++)
            if ((unsigned)map->order[k][i] < ND) seen |= BIT(map->order[k][i]);
        if (seen != BIT(ND) - 1)
            return eng_error(ENG_ERR_ARG, "mapping: the loop order of level %s is not a "
                             "permutation", a->levels[k].name);
    }
    ENG_TRY(check_constraints(&c, map));
    energy_layer_cost cost;
    memset(&cost, 0, sizeof cost);
    int bad = 0;
    double e = eval(&c, map, &cost, &bad);
    if (isinf(e))
        return eng_error(ENG_ERR_ARG, "mapping: the tiles do not fit level %s",
                         a->levels[bad].name);
    cost.macs = energy_layer_macs(l);
    cost.params = energy_layer_params(l);
    *out = cost;
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Search
 * ---------------------------------------------------------------------------------------- */

typedef struct spatial_search {
    const ctx *c;
    int items, dim[2 * ND], axis[2 * ND];   /* (dimension, 0 = rows / 1 = columns) pairs */
    int f[2][ND];                           /* current factors */
    int64_t best;
    int n_cand;
    int cand[SPATIAL_CANDIDATES][2][ND];
} spatial_search;

static void spatial_enum(spatial_search *s, int i, int64_t rows, int64_t cols)
{
    if (i == s->items) {
        const energy_constraints *cn = &s->c->a->cons;
        for (int d = 0; d < ND; d++) {
            const int want = cn->spatial_factor[d] == ENERGY_FACTOR_FULL ? s->c->bound[d]
                                                                          : cn->spatial_factor[d];
            if (want != ENERGY_FACTOR_FREE && s->f[0][d] * s->f[1][d] != want) return;
        }
        int64_t used = rows * cols;
        if (used > s->best) {
            s->best = used;
            s->n_cand = 0;
        }
        if (used == s->best && s->n_cand < SPATIAL_CANDIDATES)
            memcpy(s->cand[s->n_cand++], s->f, sizeof s->f);
        return;
    }
    const int d = s->dim[i], ax = s->axis[i];
    const int left = s->c->bound[d] / (s->f[0][d] * s->f[1][d]);
    const int64_t room = ax == 0 ? s->c->a->pe_rows / rows : s->c->a->pe_cols / cols;
    for (int v = 1; v <= left && v <= room; v++) {
        if (left % v) continue;
        s->f[ax][d] = v;
        spatial_enum(s, i + 1, ax == 0 ? rows * v : rows, ax == 1 ? cols * v : cols);
    }
    s->f[ax][d] = 1;
}

static void set_order(const ctx *c, energy_mapping *m, int level, int id)
{
    memcpy(m->order[level], c->orders[level][id], sizeof c->orders[level][id]);
}

/* A temporal move of dimension d between levels a and b: v (a divisor of temporal[a][d])
 * goes from a to b and w (a divisor of temporal[b][d]; 1 for a plain move) from b to a. */
typedef struct move {
    int d, a, b, v, w;
} move;

#define MAX_MOVES 2048
#define NEAR 8          /* near-improving pairs whose loop orders are re-chosen */

static void list_divisors(int f, int *div, int *n)
{
    *n = 0;
    for (int i = 2; i <= f && *n < 64; i++)
        if (f % i == 0) div[(*n)++] = i;
}

/* All temporal moves of mapping m over the first L levels (free[k]: the dimensions that may
 * change their factor at level k): plain moves, and exchanges of two different divisors
 * between two levels (one factor must leave a level for the other to fit). */
static int list_moves(const energy_mapping *m, const unsigned *free, int L, move *mv)
{
    int n = 0;
    int div[ML][64], nd[ML];
    for (int d = 0; d < ND; d++) {
        for (int a = 0; a < L; a++) list_divisors(m->temporal[a][d], div[a], &nd[a]);
        for (int a = 0; a < L; a++) {
            if (!(free[a] & BIT(d))) continue;
            for (int b = 0; b < L; b++) {
                if (b == a || !(free[b] & BIT(d))) continue;
                for (int i = 0; i < nd[a] && n < MAX_MOVES; i++) {
                    mv[n++] = (move){d, a, b, div[a][i], 1};
                    for (int j = 0; b > a && j < nd[b] && n < MAX_MOVES; j++)
                        if (div[b][j] != div[a][i]) mv[n++] = (move){d, a, b, div[a][i], div[b][j]};
                }
            }
        }
    }
    return n;
}

static void apply_move(energy_mapping *m, const move *mv, bool undo)
{
    const int from = undo ? mv->b : mv->a, to = undo ? mv->a : mv->b;
    m->temporal[from][mv->d] = m->temporal[from][mv->d] / mv->v * mv->w;
    m->temporal[to][mv->d] = m->temporal[to][mv->d] / mv->w * mv->v;
}

/* Greedy loop orders for mapping m: each level above the PEs in turn takes its best order,
 * until none changes. Returns the energy. */
static double reorder(const ctx *c, energy_mapping *m, int *ord, int L)
{
    double cur = eval(c, m, NULL, NULL);
    for (bool changed = true; changed;) {
        changed = false;
        for (int k = 0; k < L && k < c->first_pe; k++)
            for (int o = 0; o < N_ORDERS; o++) {
                if (o == ord[k]) continue;
                set_order(c, m, k, o);
                const double e = eval(c, m, NULL, NULL);
                if (e < cur * (1 - 1e-12)) {
                    cur = e;
                    ord[k] = o;
                    changed = true;
                } else {
                    set_order(c, m, k, ord[k]);
                }
            }
    }
    return cur;
}

/* Descent from *m (ord: the index in `orders` of each level's loop order, kept in step): the
 * best single move (a temporal move or exchange, or a loop order of a level above the PEs)
 * while one improves; then, with pairs, the first improving pair of moves of two dimensions
 * (an exchange or a move, with a move), or else the first of the NEAR best pairs that
 * improves once the loop orders are re-chosen for it; and on again. Returns the energy. */
static double climb(const ctx *c, energy_mapping *m, int *ord, const unsigned *free, bool pairs)
{
    const int L = c->first_pe < c->levels ? c->first_pe + 1 : c->levels;
    move mv[MAX_MOVES];
    double cur = eval(c, m, NULL, NULL);
    for (;;) {
        const int n = list_moves(m, free, L, mv);
        double best = cur;
        int bm = -1, bk = -1, bo = 0;
        for (int i = 0; i < n; i++) {
            apply_move(m, &mv[i], false);
            double e = eval(c, m, NULL, NULL);
            apply_move(m, &mv[i], true);
            if (e < best * (1 - 1e-12)) best = e, bm = i, bk = -1;
        }
        for (int k = 0; k < L && k < c->first_pe; k++)
            for (int o = 0; o < N_ORDERS; o++) {
                if (o == ord[k]) continue;
                set_order(c, m, k, o);
                double e = eval(c, m, NULL, NULL);
                set_order(c, m, k, ord[k]);
                if (e < best * (1 - 1e-12)) best = e, bk = k, bo = o, bm = -1;
            }
        if (bk >= 0) {
            ord[bk] = bo;
            set_order(c, m, bk, bo);
            cur = best;
            continue;
        }
        if (bm >= 0) {
            apply_move(m, &mv[bm], false);
            cur = best;
            continue;
        }
        /* pairs: the first that improves; else the NEAR best ones get their loop orders
         * re-chosen (a factor that moves to a level can need another order there) */
        if (!pairs) return cur;
        int near[NEAR][2], n_near = 0;
        double near_e[NEAR];
        bool swapped = false;
        for (int i = 0; i < n && !swapped; i++)
            for (int j = 0; j < n && !swapped; j++) {
                if (mv[j].d == mv[i].d || mv[j].w != 1 || (mv[i].w == 1 && mv[j].d < mv[i].d))
                    continue;
                apply_move(m, &mv[i], false);
                apply_move(m, &mv[j], false);
                double e = eval(c, m, NULL, NULL);
                if (e < cur * (1 - 1e-12)) {
                    cur = e;
                    swapped = true;
                    break;
                }
                apply_move(m, &mv[j], true);
                apply_move(m, &mv[i], true);
                if (n_near == NEAR && !(e < near_e[NEAR - 1])) continue;
                int at = n_near < NEAR ? n_near++ : NEAR - 1;
                for (; at > 0 && e < near_e[at - 1]; at--) {
                    near_e[at] = near_e[at - 1];
                    near[at][0] = near[at - 1][0];
                    near[at][1] = near[at - 1][1];
                }
                near_e[at] = e;
                near[at][0] = i;
                near[at][1] = j;
            }
        for (int t = 0; t < n_near && !swapped && isfinite(near_e[t]); t++) {
            int saved[ML];
            memcpy(saved, ord, sizeof saved);
            apply_move(m, &mv[near[t][0]], false);
            apply_move(m, &mv[near[t][1]], false);
            double e = reorder(c, m, ord, L);
            if (e < cur * (1 - 1e-12)) {
                cur = e;
                swapped = true;
                break;
            }
            apply_move(m, &mv[near[t][1]], true);
            apply_move(m, &mv[near[t][0]], true);
            memcpy(ord, saved, sizeof saved);
            for (int k = 0; k < L && k < c->first_pe; k++) set_order(c, m, k, ord[k]);
        }
        if (!swapped) return cur;
    }
}

/* The dimensions free to move at each level under dataflow masks pe (inside a PE) and the
 * constraints; the per-PE levels after the first never hold loops. */
static void free_masks(const ctx *c, unsigned pe, unsigned *free)
{
    for (int k = 0; k < ML; k++) {
        free[k] = 0;
        if (k >= c->levels || k > c->first_pe) continue;
        for (int d = 0; d < ND; d++)
            if (c->a->cons.factor[k][d] == ENERGY_FACTOR_FREE && (k < c->first_pe || (pe & BIT(d))))
                free[k] |= BIT(d);
    }
}

/* The starting mapping of a spatial candidate: fixed factors in place, the rest of each
 * dimension at level `start` when it is free there, else at the outermost free level.
 * False when the constraints cannot be met (a fixed factor that does not divide, or a
 * remainder with no free level, or a fixed loop inside the PEs that the dataflow keeps out). */
static bool start_mapping(const ctx *c, unsigned pe, const unsigned *free, int start,
                          energy_mapping *m)
{
    for (int d = 0; d < ND; d++) {
        int left = c->bound[d] / (m->spatial_rows[d] * m->spatial_cols[d]);
        for (int k = 0; k < c->levels; k++) m->temporal[k][d] = 1;
        for (int k = 0; k <= c->first_pe && k < c->levels; k++) {
            const int f = c->a->cons.factor[k][d];
            if (f == ENERGY_FACTOR_FREE) continue;
            const int v = f == ENERGY_FACTOR_FULL ? left : f;
            if (k == c->first_pe && v > 1 && !(pe & BIT(d))) return false;
            if (left % v) return false;
            m->temporal[k][d] = v;
            left /= v;
        }
        if (left == 1) continue;
        int to = free[start] & BIT(d) ? start : -1;
        for (int k = 0; to < 0 && k < c->levels; k++)
            if (free[k] & BIT(d)) to = k;
        if (to < 0) return false;
        m->temporal[to][d] *= left;
    }
    return true;
}

eng_status mapper_search(const energy_accel *a, const energy_layer *l, energy_layer_cost *cost)
{
    ctx c;
    ctx_init(&c, a, l);
    energy_mapping best;
    double best_e = INFINITY;
    double best_used = 0;
    for (int df = 0; df < ENERGY_DATAFLOW_COUNT; df++) {
        if (!(a->dataflows & (1u << df))) continue;
        unsigned rows, cols, pe, free[ML];
        mapper_masks(a, (energy_dataflow)df, &rows, &cols, &pe);
        free_masks(&c, pe, free);
        spatial_search s;
        memset(&s, 0, sizeof s);
        s.c = &c;
        for (int ax = 0; ax < 2; ax++)
            for (int d = 0; d < ND; d++) {
                s.f[ax][d] = 1;
                if (((ax == 0 ? rows : cols) & BIT(d)) && c.bound[d] > 1) {
                    s.dim[s.items] = d;
                    s.axis[s.items++] = ax;
                }
            }
        spatial_enum(&s, 0, 1, 1);
        if (s.n_cand == 0 || (double)s.best < best_used) continue; /* fewer PEs: slower */
        for (int cand = 0; cand < s.n_cand; cand++) {
            /* single moves from all temporal factors at each level above the PEs; pair moves
             * from the best of those */
            energy_mapping m, mc;
            int ord[ML], oc[ML];
            double e = INFINITY;
            bool found = false;
            for (int start = 0; start < c.first_pe && start < c.levels; start++) {
                memset(&m, 0, sizeof m);
                m.dataflow = (energy_dataflow)df;
                for (int d = 0; d < ND; d++) {
                    m.spatial_rows[d] = s.cand[cand][0][d];
                    m.spatial_cols[d] = s.cand[cand][1][d];
                }
                if (!start_mapping(&c, pe, free, start, &m)) continue;
                for (int k = 0; k < a->n_levels; k++) {
                    set_order(&c, &m, k, 0);
                    ord[k] = 0;
                }
                double es = climb(&c, &m, ord, free, false);
                if (!found || es < e) {
                    found = true;
                    e = es;
                    mc = m;
                    memcpy(oc, ord, sizeof ord);
                }
            }
            if (!found) continue;
            m = mc;
            e = climb(&c, &m, oc, free, true);
            if (isfinite(e) && ((double)s.best > best_used || e < best_e)) {
                best_used = (double)s.best;
                best_e = e;
                best = m;
            }
        }
    }
    if (isinf(best_e))
        return eng_error(ENG_ERR_UNSUPPORTED, "%s%slayer %s: no mapping fits accelerator %s "
                         "(the smallest tiles exceed a level's capacity, or the constraints "
                         "cannot be met)", a->source, a->source[0] ? ": " : "", l->name, a->name);
    memset(cost, 0, sizeof *cost);
    eval(&c, &best, cost, NULL);
    return ENG_OK;
}

/* Appends "name[D4 E2]" (the loops of f above 1, in order) to buf at *at. */
static void format_loops(char *buf, size_t size, size_t *at, const char *name, const int *f,
                         const int *order)
{
    if (*at >= size) return;
    int n = snprintf(buf + *at, size - *at, "%s%s[", *at ? " " : "", name);
    bool first = true;
    for (int i = 0; i < ND && n >= 0 && *at + (size_t)n < size; i++) {
        const int d = order ? order[i] : i;
        if (f[d] == 1) continue;
        n += snprintf(buf + *at + n, size - *at - (size_t)n, "%s%s%d", first ? "" : " ",
                      energy_dim_name((energy_dim)d), f[d]);
        first = false;
    }
    if (n >= 0 && *at + (size_t)n < size) n += snprintf(buf + *at + n, size - *at - (size_t)n, "]");
    *at = n < 0 ? size : *at + (size_t)n;
}

void energy_mapping_format(const energy_accel *a, const energy_mapping *m, char *buf, size_t size)
{
    if (!size) return;
    buf[0] = 0;
    size_t at = 0;
    int fp = a->n_levels;
    for (int k = a->n_levels - 1; k >= 0; k--)
        if (a->levels[k].scope == ENERGY_SCOPE_PE) fp = k;
    for (int k = 0; k < fp; k++) format_loops(buf, size, &at, a->levels[k].name, m->temporal[k],
                                              m->order[k]);
    format_loops(buf, size, &at, "rows", m->spatial_rows, NULL);
    format_loops(buf, size, &at, "cols", m->spatial_cols, NULL);
    if (fp < a->n_levels) format_loops(buf, size, &at, "PE", m->temporal[fp], NULL);
}
