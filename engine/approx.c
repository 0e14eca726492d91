/*
 * approx.c - the per-layer quantization state (eng_approx) and the quantized arithmetic the
 * conv2d, depthwise and dense ops share: parameters, weight codes, dequantization, table
 * gradients.
 */
#include "approx_internal.h"
#include "multiversion.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* The table-dependent part of a state, built completely before it replaces the old one. */
typedef struct approx_table {
    eng_lut        lut;
    approx_shared *shared;     /* the table's shared part (lut.table, lut.fit), one reference */
    int       weight_bits;
    int32_t   a_min, a_max, w_min, w_max;
    float    *grad_a, *grad_w;
} approx_table;

/* ------------------------------------------------------------------------------------------
 * The shared table part: one per multiplier table in use
 *
 * The residual decomposition and activation classes (eng_lut_fit_create: 2-3 ms, 194 KiB), an
 * exact table and the transposed table of the small-batch GEMM depend on the table alone, so
 * all layers that use the same table (the same words at the same address with the same width,
 * sign and mode; an exact table by its width and sign) share one approx_shared, counted by
 * references and freed with the last of them. The list and the counts are under one mutex. An entry's table and
 * decomposition are complete before it is published and never change; the transposed table
 * is built on first use and published under the mutex, where every reader reads it. Two
 * threads that miss the same table at once both build it; the second one's copy is dropped.
 * Keying by address is sound because an entry lives only while a layer holds it and a layer
 * borrows its multiplier (eng_net_set_multiplier: it must outlive the layer), so the address
 * of a listed table cannot be freed and reused for another one meanwhile.
 * ---------------------------------------------------------------------------------------- */

struct approx_shared {
    approx_shared  *next;
    int             refs;
    const uint16_t *key;          /* the caller's table; NULL: exact_table */
    eng_lut         lut;          /* table (key or exact_table), width, sign, mode, fit */
    uint16_t       *exact_table;  /* owned exact table when key is NULL */
    eng_lut_fit    *fit;          /* owned decomposition of lut */
    bool            has_t;        /* lut_t is built (read and written under the mutex) */
    eng_lut         lut_t;        /* transposed table: product(lut_t, w, a) = product(lut, a, w) */
    uint16_t       *table_t;      /* owned words of lut_t */
    eng_lut_fit    *fit_t;        /* owned decomposition of lut_t */
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static approx_shared  *shared_list;

static void shared_free(approx_shared *e)
{
    if (!e) return;
    eng_lut_fit_free(e->fit);
    eng_lut_fit_free(e->fit_t);
    eng_free(e->exact_table);
    eng_free(e->table_t);
    eng_free(e);
}

/* The entry of lut's table, width, sign and mode (key NULL: the exact table), or NULL. Under
 * the mutex. */
static approx_shared *shared_find(const uint16_t *key, const eng_lut *lut)
{
    for (approx_shared *e = shared_list; e; e = e->next)
        if (e->key == key && e->lut.w_bits == lut->w_bits &&
            e->lut.is_signed == lut->is_signed && e->lut.mode == lut->mode)
            return e;
    return NULL;
}

/* The exact table of `bits`-bit weight codes: signed 8x8 int8 products when sym, else
 * unsigned a * w. */
static uint16_t *exact_table_create(int bits, bool sym)
{
    uint16_t *t = eng_alloc(sizeof(uint16_t) * ((size_t)256 << bits));
    if (!t) return NULL;
    for (uint32_t a = 0; a < 256; a++)
        for (uint32_t w = 0; w < (1u << bits); w++)
            t[(a << bits) | w] = sym ? (uint16_t)(int16_t)((int8_t)(uint8_t)a * (int8_t)(uint8_t)w)
                                     : (uint16_t)(a * w);
    return t;
}

/* One reference to the shared part of lut (lut->table NULL: the exact table of lut->w_bits
 * and lut->is_signed, DIRECT), built when no layer holds it. */
static eng_status shared_acquire(const eng_lut *lut, approx_shared **out)
{
    const uint16_t *key = lut->table;
    pthread_mutex_lock(&shared_lock);
    approx_shared *e = shared_find(key, lut);
    if (e) e->refs++;
    pthread_mutex_unlock(&shared_lock);
    if (e) {
        *out = e;
        return ENG_OK;
    }
    eng_status st = ENG_OK;
    approx_shared *n = eng_calloc(1, sizeof *n);
    if (!n) return ENG_ERR_NOMEM;
    n->key = key;
    n->lut = *lut;
    n->lut.fit = NULL;
    if (!key) {
        if (!(n->exact_table = exact_table_create(lut->w_bits, lut->is_signed))) {
            st = ENG_ERR_NOMEM;
            goto done;
        }
        n->lut.table = n->exact_table;
    }
    if ((st = eng_lut_fit_create(&n->lut, &n->fit)) != ENG_OK) goto done;
    n->lut.fit = n->fit;
    pthread_mutex_lock(&shared_lock);
    if ((e = shared_find(key, lut))) {    /* another thread built it meanwhile */
        e->refs++;
    } else {
        n->refs = 1;
        n->next = shared_list;
        shared_list = e = n;
        n = NULL;
    }
    pthread_mutex_unlock(&shared_lock);
    *out = e;
done:
    shared_free(n);
    return st;
}

/* Gives back a reference of shared_acquire (NULL allowed); the last one frees the entry. */
static void shared_release(approx_shared *e)
{
    if (!e) return;
    pthread_mutex_lock(&shared_lock);
    bool last = --e->refs == 0;
    if (last) {
        approx_shared **pp = &shared_list;
        while (*pp != e) pp = &(*pp)->next;
        *pp = e->next;
    }
    pthread_mutex_unlock(&shared_lock);
    if (last) shared_free(e);
}

/* *out = the transposed table of e (8x8 tables only), built on first use. */
static eng_status shared_transposed(approx_shared *e, eng_lut *out)
{
    ENG_ASSERT(e->lut.w_bits == 8);
    pthread_mutex_lock(&shared_lock);
    const bool has = e->has_t;
    if (has) *out = e->lut_t;
    pthread_mutex_unlock(&shared_lock);
    if (has) return ENG_OK;
    eng_status st = ENG_OK;
    eng_lut_fit *fit = NULL;
    uint16_t *t = eng_alloc(sizeof(uint16_t) * 256 * 256);
    if (!t) return ENG_ERR_NOMEM;
    for (uint32_t a = 0; a < 256; a++)
        for (uint32_t w = 0; w < 256; w++) t[(w << 8) | a] = e->lut.table[(a << 8) | w];
    eng_lut lt = {.table = t, .w_bits = 8, .is_signed = e->lut.is_signed, .mode = e->lut.mode};
    if ((st = eng_lut_fit_create(&lt, &fit)) != ENG_OK) goto done;
    lt.fit = fit;
    pthread_mutex_lock(&shared_lock);
    if (!e->has_t) {
        e->lut_t = lt;
        e->table_t = t;
        e->fit_t = fit;
        e->has_t = true;
        t = NULL;
        fit = NULL;
    }
    *out = e->lut_t;
    pthread_mutex_unlock(&shared_lock);
done:
    eng_lut_fit_free(fit);
    eng_free(t);
    return st;
}

int approx_shared_count(void)
{
    int n = 0;
    pthread_mutex_lock(&shared_lock);
    for (const approx_shared *e = shared_list; e; e = e->next) n++;
    pthread_mutex_unlock(&shared_lock);
    return n;
}

void eng_approx_cfg_default(eng_approx_cfg *cfg)
{
    *cfg = (eng_approx_cfg){
        .mode = ENG_QUANT_ASYM,
        .weight_bits = 0,
        .per_channel = false,
        .table_gradient = false,
        .ema_momentum = 0.01f,
    };
}

static eng_status approx_cfg_check(const eng_approx_cfg *cfg)
{
    if (cfg->mode != ENG_QUANT_ASYM && cfg->mode != ENG_QUANT_SYM)
        return eng_error(ENG_ERR_ARG, "quantization mode %d is not ASYM or SYM", (int)cfg->mode);
    if (cfg->weight_bits != 0 && (cfg->weight_bits < 2 || cfg->weight_bits > 8))
        return eng_error(ENG_ERR_ARG, "weight_bits %d is not 0 or 2..8", cfg->weight_bits);
    if (!(cfg->ema_momentum > 0.0f && cfg->ema_momentum <= 1.0f))
        return eng_error(ENG_ERR_ARG, "ema_momentum %g is not in (0, 1]", (double)cfg->ema_momentum);
    return ENG_OK;
}

static void approx_table_release(approx_table *t)
{
    shared_release(t->shared);
    eng_free(t->grad_a);
    eng_free(t->grad_w);
    memset(t, 0, sizeof *t);
}

/* Central differences of the products over the code ranges (one-sided at the ends). */
static eng_status approx_table_gradients(approx_table *t)
{
    const size_t na = (size_t)(t->a_max - t->a_min + 1), nw = (size_t)(t->w_max - t->w_min + 1);
    t->grad_a = eng_alloc(sizeof(float) * na * nw);
    t->grad_w = eng_alloc(sizeof(float) * na * nw);
    if (!t->grad_a || !t->grad_w) return ENG_ERR_NOMEM;
#define PRODUCT(a, w) eng_lut_product(&t->lut, (uint8_t)(a), (uint8_t)(w))
    for (int32_t a = t->a_min; a <= t->a_max; a++) {
        int32_t a0 = a > t->a_min ? a - 1 : a, a1 = a < t->a_max ? a + 1 : a;
        for (int32_t w = t->w_min; w <= t->w_max; w++) {
            int32_t w0 = w > t->w_min ? w - 1 : w, w1 = w < t->w_max ? w + 1 : w;
            size_t i = (size_t)(a - t->a_min) * nw + (size_t)(w - t->w_min);
            t->grad_a[i] = (float)(PRODUCT(a1, w) - PRODUCT(a0, w)) / (float)(a1 - a0);
            t->grad_w[i] = (float)(PRODUCT(a, w1) - PRODUCT(a, w0)) / (float)(w1 - w0);
        }
    }
#undef PRODUCT
    return ENG_OK;
}

/* Builds the table part for cfg and src (NULL = exact). On error *t holds nothing. */
static eng_status approx_table_build(const eng_approx_cfg *cfg, const eng_lut *src, approx_table *t)
{
    memset(t, 0, sizeof *t);
    const bool sym = cfg->mode == ENG_QUANT_SYM;
    if (src) {
        if (src->w_bits < 2 || src->w_bits > 8 || !src->table)
            return eng_error(ENG_ERR_ARG, "multiplier table with %d weight bits", src->w_bits);
        if (src->is_signed && !sym)
            return eng_error(ENG_ERR_UNSUPPORTED,
                             "asymmetric quantization needs an unsigned multiplier");
        if (src->is_signed && src->w_bits != 8)
            return eng_error(ENG_ERR_UNSUPPORTED, "signed multipliers must be 8x8");
        int table_bits = src->w_bits;
        t->weight_bits = cfg->weight_bits ? cfg->weight_bits : table_bits;
        if (t->weight_bits > table_bits && !src->is_signed)
            return eng_error(ENG_ERR_ARG, "%d-bit weights do not fit an 8x%d multiplier",
                             t->weight_bits, table_bits);
        t->lut = (eng_lut){.table = src->table, .w_bits = table_bits, .is_signed = src->is_signed,
                           .mode = sym && !src->is_signed ? ENG_LUT_SIGN_MAGNITUDE : ENG_LUT_DIRECT};
    } else {
        t->weight_bits = cfg->weight_bits ? cfg->weight_bits : 8;
        t->lut = (eng_lut){.table = NULL, .w_bits = sym ? 8 : t->weight_bits, .is_signed = sym,
                           .mode = ENG_LUT_DIRECT};
    }
    if (!sym) {
        t->a_min = 0, t->a_max = 255;
        t->w_min = 0, t->w_max = (1 << t->weight_bits) - 1;
    } else {
        t->a_min = -127, t->a_max = 127;
        int m = t->lut.mode == ENG_LUT_SIGN_MAGNITUDE ? (1 << t->weight_bits) - 1
                                                      : (1 << (t->weight_bits - 1)) - 1;
        if (m > 127) m = 127;
        t->w_min = -m, t->w_max = m;
    }
    eng_status st = shared_acquire(&t->lut, &t->shared);
    if (st == ENG_OK) {
        t->lut = t->shared->lut;
        if (cfg->table_gradient)
            st = approx_table_gradients(t);
    }
    if (st != ENG_OK)
        approx_table_release(t);
    return st;
}

static void approx_table_install(eng_approx *q, approx_table *t)
{
    shared_release(q->shared);
    q->shared = t->shared;
    q->has_lut_t = false;
    eng_free(q->grad_a);
    eng_free(q->grad_w);
    q->lut = t->lut;
    q->weight_bits = t->weight_bits;
    q->a_min = t->a_min, q->a_max = t->a_max;
    q->w_min = t->w_min, q->w_max = t->w_max;
    q->grad_a = t->grad_a;
    q->grad_w = t->grad_w;
    q->act = (eng_qparams){0};          /* parameters of the old code ranges are void */
}

eng_status eng_approx_create_lut(const eng_approx_cfg *cfg, const eng_lut *lut, int out_channels,
                                 eng_approx **out)
{
    ENG_TRY(approx_cfg_check(cfg));
    if (out_channels <= 0)
        return eng_error(ENG_ERR_ARG, "out_channels %d is not positive", out_channels);
    eng_approx *q = eng_calloc(1, sizeof *q);
    if (!q) return ENG_ERR_NOMEM;
    q->wq = eng_calloc((size_t)out_channels, sizeof *q->wq);
    approx_table t;
    eng_status st = q->wq ? approx_table_build(cfg, lut, &t) : ENG_ERR_NOMEM;
    if (st != ENG_OK) {
        eng_free(q->wq);
        eng_free(q);
        return st;
    }
    q->cfg = *cfg;
    q->out_channels = out_channels;
    approx_table_install(q, &t);
    q->obs = (eng_observer){.mode = ENG_OBSERVER_EMA, .momentum = cfg->ema_momentum};
    *out = q;
    return ENG_OK;
}

eng_status eng_approx_create(const eng_approx_cfg *cfg, const eng_mul *mul, int out_channels,
                             eng_approx **out)
{
    eng_lut lut;
    if (mul) lut = eng_mul_lut(mul, ENG_LUT_DIRECT);
    return eng_approx_create_lut(cfg, mul ? &lut : NULL, out_channels, out);
}

void eng_approx_free(eng_approx *q)
{
    if (!q) return;
    shared_release(q->shared);
    eng_free(q->grad_a);
    eng_free(q->grad_w);
    eng_free(q->wq);
    eng_free(q);
}

eng_status eng_approx_set_lut(eng_approx *q, const eng_lut *lut)
{
    approx_table t;
    ENG_TRY(approx_table_build(&q->cfg, lut, &t));
    approx_table_install(q, &t);
    return ENG_OK;
}

eng_status eng_approx_set_mul(eng_approx *q, const eng_mul *mul)
{
    eng_lut lut;
    if (mul) lut = eng_mul_lut(mul, ENG_LUT_DIRECT);
    return eng_approx_set_lut(q, mul ? &lut : NULL);
}

const eng_lut *eng_approx_lut(const eng_approx *q)
{
    return &q->lut;
}

void eng_approx_code_ranges(const eng_approx *q, int32_t *a_min, int32_t *a_max, int32_t *w_min,
                            int32_t *w_max)
{
    *a_min = q->a_min;
    *a_max = q->a_max;
    *w_min = q->w_min;
    *w_max = q->w_max;
}

void eng_approx_calibrate_begin(eng_approx *q)
{
    q->obs.valid = false;
    q->obs.mode = ENG_OBSERVER_MINMAX;
}

void eng_approx_calibrate_end(eng_approx *q)
{
    q->obs.mode = ENG_OBSERVER_FROZEN;
}

void eng_approx_range_reset(eng_approx *q)
{
    q->obs.valid = false;
    q->obs.mode = ENG_OBSERVER_EMA;
}

bool eng_approx_act_range(const eng_approx *q, float *lo, float *hi)
{
    *lo = q->obs.valid ? q->obs.lo : 0.0f;
    *hi = q->obs.valid ? q->obs.hi : 0.0f;
    return q->obs.valid;
}

eng_status eng_approx_set_act_range(eng_approx *q, float lo, float hi)
{
    if (!(lo <= hi) || lo - lo != 0.0f || hi - hi != 0.0f)
        return eng_error(ENG_ERR_ARG, "activation range [%g, %g] is not a finite interval",
                         (double)lo, (double)hi);
    q->obs.lo = lo;
    q->obs.hi = hi;
    q->obs.valid = true;
    q->obs.mode = ENG_OBSERVER_FROZEN;
    return ENG_OK;
}

eng_qparams eng_approx_act_qparams(const eng_approx *q)
{
    return q->act;
}

const eng_qparams *eng_approx_weight_qparams(const eng_approx *q)
{
    return q->wq;
}

/* ------------------------------------------------------------------------------------------
 * Shared arithmetic of the ops
 * ---------------------------------------------------------------------------------------- */

eng_status approx_check_state(const eng_approx *q, int out_channels, const char *op)
{
    if (q && q->out_channels != out_channels)
        return eng_error(ENG_ERR_SHAPE, "%s: %d output channels, but the quantization state has %d",
                         op, out_channels, q->out_channels);
    return ENG_OK;
}

eng_status approx_check_backward(const eng_approx *q, const float *dw, const char *op)
{
    if (!dw) return eng_error(ENG_ERR_ARG, "%s: NULL dw", op);
    if (q && !(q->act.scale > 0.0f))
        return eng_error(ENG_ERR_ARG, "%s: no quantized forward since the multiplier was set", op);
    return ENG_OK;
}

#define APPROX_CHUNK 16384

/* Smallest and largest of x[0..n) into *mn, *mx (NaN compares false: ignored). */
ENG_MULTIVERSION
static void minmax_chunk(const float *x, size_t n, float *mn, float *mx)
{
    float lo = *mn, hi = *mx;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *mn = lo;
    *mx = hi;
}

/* eng_quant_minmax split across threads; min and max do not depend on the order. */
static void approx_minmax_par(const float *x, size_t count, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    const long chunks = (long)((count + APPROX_CHUNK - 1) / APPROX_CHUNK);
#pragma omp parallel for schedule(static) reduction(min : mn) reduction(max : mx) if (chunks > 1)
    for (long c = 0; c < chunks; c++) {
        size_t i0 = (size_t)c * APPROX_CHUNK, n = count - i0 < APPROX_CHUNK ? count - i0 : APPROX_CHUNK;
        minmax_chunk(x + i0, n, &mn, &mx);
    }
    *lo = mn <= mx ? mn : 0.0f;
    *hi = mn <= mx ? mx : 0.0f;
}

static bool approx_act_updates(const eng_approx *q, bool training)
{
    return q->obs.mode == ENG_OBSERVER_MINMAX || (q->obs.mode == ENG_OBSERVER_EMA && training);
}

bool approx_act_needs_range(const eng_approx *q, bool training)
{
    return approx_act_updates(q, training) || !q->obs.valid;
}

void approx_act_set_range(eng_approx *q, float lo, float hi, bool training)
{
    if (approx_act_updates(q, training)) eng_observer_update(&q->obs, lo, hi);
    if (q->obs.valid) lo = q->obs.lo, hi = q->obs.hi;
    q->act = eng_qparams_from_range(lo, hi, q->a_min, q->a_max, q->cfg.mode == ENG_QUANT_SYM);
}

void approx_act_prepare(eng_approx *q, const float *x, size_t count, bool training)
{
    float lo = 0.0f, hi = 0.0f;
    if (approx_act_needs_range(q, training)) approx_minmax_par(x, count, &lo, &hi);
    approx_act_set_range(q, lo, hi, training);
}

void approx_weight_prepare(eng_approx *q, const float *w, size_t per_channel)
{
    /* the ranges of eng_quant_minmax / eng_qparams_per_channel (NaN ignored, none: 0), by the
     * vectorized loop (min and max are exact in any order) */
    const bool sym = q->cfg.mode == ENG_QUANT_SYM;
    if (q->cfg.per_channel) {
#pragma omp parallel for schedule(static) if ((size_t)q->out_channels * per_channel >= APPROX_PAR_MIN)
        for (int o = 0; o < q->out_channels; o++) {
            float lo = INFINITY, hi = -INFINITY;
            minmax_chunk(w + (size_t)o * per_channel, per_channel, &lo, &hi);
            q->wq[o] = eng_qparams_from_range(lo <= hi ? lo : 0.0f, lo <= hi ? hi : 0.0f,
                                              q->w_min, q->w_max, sym);
        }
        return;
    }
    float lo, hi;
    approx_minmax_par(w, per_channel * (size_t)q->out_channels, &lo, &hi);
    eng_qparams p = eng_qparams_from_range(lo, hi, q->w_min, q->w_max, sym);
    for (int o = 0; o < q->out_channels; o++) q->wq[o] = p;
}

void approx_weight_set_ranges(eng_approx *q, const float *lohi)
{
    const bool sym = q->cfg.mode == ENG_QUANT_SYM;
    for (int o = 0; o < q->out_channels; o++) {
        const float *r = lohi + (q->cfg.per_channel ? 2 * (size_t)o : 0);
        q->wq[o] = eng_qparams_from_range(r[0], r[1], q->w_min, q->w_max, sym);
    }
}

eng_status approx_weight_quantize(const eng_kernels *k, const eng_approx *q, const float *w,
                                  size_t per_channel, uint8_t *codes, int32_t *sums)
{
    for (int o = 0; o < q->out_channels; o++) {
        const eng_qparams *p = &q->wq[o];
        uint8_t *row = codes + (size_t)o * per_channel;
        ENG_TRY(k->quantize(w + (size_t)o * per_channel, per_channel, p->scale, p->zero_point,
                            p->qmin, p->qmax, row));
        if (sums) {
            int32_t s = 0;
            for (size_t i = 0; i < per_channel; i++) s += row[i];
            sums[o] = s;
        }
    }
    return ENG_OK;
}

/* One output row of approx_dequantize. */
ENG_MULTIVERSION
static void dequantize_row(size_t positions, const int32_t *a, const int32_t *as, int64_t offset,
                           int64_t zw, double scale, float b, float *out)
{
    if (as) {
#pragma omp simd
        for (size_t p = 0; p < positions; p++)
            out[p] = (float)(scale * (double)((int64_t)a[p] + offset - zw * as[p])) + b;
    } else {
#pragma omp simd
        for (size_t p = 0; p < positions; p++)
            out[p] = (float)(scale * (double)((int64_t)a[p] + offset)) + b;
    }
}

/* The loop of dequantize_row_epilogue for one activation (a constant after inlining). */
#define DEQUANT_EPILOGUE_LOOP(ACT)                                                           \
    if (as) {                                                                                \
        _Pragma("omp simd")                                                                  \
        for (size_t p = 0; p < positions; p++) {                                             \
            float v = (float)(scale * (double)((int64_t)a[p] + offset - zw * as[p])) + b;    \
            out[p] = eng_epilogue_value(v, es, et, ACT);                                     \
        }                                                                                    \
    } else {                                                                                 \
        _Pragma("omp simd")                                                                  \
        for (size_t p = 0; p < positions; p++) {                                             \
            float v = (float)(scale * (double)((int64_t)a[p] + offset)) + b;                 \
            out[p] = eng_epilogue_value(v, es, et, ACT);                                     \
        }                                                                                    \
    }

/* dequantize_row with the epilogue (scale es, shift et, act) applied before the store. */
ENG_MULTIVERSION
static void dequantize_row_epilogue(size_t positions, const int32_t *a, const int32_t *as,
                                    int64_t offset, int64_t zw, double scale, float b, float es,
                                    float et, eng_epilogue_act act, float *out)
{
    if (act == ENG_EPILOGUE_RELU6) {
        DEQUANT_EPILOGUE_LOOP(ENG_EPILOGUE_RELU6)
    } else if (act == ENG_EPILOGUE_RELU) {
        DEQUANT_EPILOGUE_LOOP(ENG_EPILOGUE_RELU)
    } else {
        DEQUANT_EPILOGUE_LOOP(ENG_EPILOGUE_NONE)
    }
}

/* approx_dequantize into rows of y with stride ldy. */
static void dequantize_rows(bool asym, const eng_qparams *act, const eng_qparams *wq, int channels,
                            size_t positions, int K, const int32_t *acc, const int32_t *asum,
                            size_t asum_stride, const int32_t *wsum, const float *bias,
                            const eng_epilogue *ep, float *y, size_t ldy)
{
    const int64_t za = act->zero_point;
#pragma omp parallel for schedule(static) if ((size_t)channels * positions >= APPROX_PAR_MIN)
    for (int o = 0; o < channels; o++) {
        const double scale = (double)act->scale * wq[o].scale;
        const int64_t zw = wq[o].zero_point;
        const int64_t offset = asym ? (int64_t)K * za * zw - za * (int64_t)wsum[o] : 0;
        const int32_t *as = asym ? asum + (size_t)o * asum_stride : NULL;
        const float b = bias ? bias[o] : 0.0f;
        float *row = y + (size_t)o * ldy;
        if (ep)
            dequantize_row_epilogue(positions, acc + (size_t)o * positions, as, offset, zw,
                                    scale, b, ep->scale[o], ep->shift[o], ep->act, row);
        else
            dequantize_row(positions, acc + (size_t)o * positions, as, offset, zw, scale, b, row);
    }
}

eng_status approx_dequantize(bool asym, const eng_qparams *act, const eng_qparams *wq,
                             int channels, size_t positions, int K, const int32_t *acc,
                             const int32_t *asum, size_t asum_stride, const int32_t *wsum,
                             const float *bias, const eng_epilogue *ep, float *y)
{
    dequantize_rows(asym, act, wq, channels, positions, K, acc, asum, asum_stride, wsum, bias, ep,
                    y, positions);
    return ENG_OK;
}

void approx_weight_fake(const eng_approx *q, const float *w, size_t per_channel, float *wq)
{
    for (int o = 0; o < q->out_channels; o++)
        eng_fake_quantize(&q->wq[o], w + (size_t)o * per_channel, per_channel,
                          wq + (size_t)o * per_channel);
}

void approx_weight_mask(const eng_approx *q, const float *w, size_t per_channel, float *dw)
{
    for (int o = 0; o < q->out_channels; o++)
        eng_fake_quantize_backward(&q->wq[o], w + (size_t)o * per_channel,
                                   dw + (size_t)o * per_channel, per_channel,
                                   dw + (size_t)o * per_channel);
}

void approx_table_gemm_backward(const eng_approx *q, int M, int K, size_t P,
                                const uint8_t *wcodes, const uint8_t *cols, const float *dy,
                                float *dcols, float *dw)
{
    const bool asym = q->cfg.mode == ENG_QUANT_ASYM;
    const float za = asym ? (float)q->act.zero_point : 0.0f;
    if (dcols) {
#pragma omp parallel for schedule(static) if ((size_t)M * K * P >= APPROX_PAR_MIN)
        for (int kk = 0; kk < K; kk++) {
            float *row = dcols + (size_t)kk * P;
            const uint8_t *a = cols + (size_t)kk * P;
            memset(row, 0, sizeof(float) * P);
            for (int m = 0; m < M; m++) {
                const float sw = q->wq[m].scale, zw = asym ? (float)q->wq[m].zero_point : 0.0f;
                const int32_t wv = approx_code_value(q, wcodes[(size_t)m * K + kk]);
                const float *g = dy + (size_t)m * P;
                for (size_t p = 0; p < P; p++) {
                    float d = q->grad_a[approx_grad_index(q, approx_code_value(q, a[p]), wv)];
                    row[p] += g[p] * sw * (d - zw);
                }
            }
        }
    }
#pragma omp parallel for schedule(static) if ((size_t)M * K * P >= APPROX_PAR_MIN)
    for (int m = 0; m < M; m++) {
        const float *g = dy + (size_t)m * P;
        for (int kk = 0; kk < K; kk++) {
            const int32_t wv = approx_code_value(q, wcodes[(size_t)m * K + kk]);
            const uint8_t *a = cols + (size_t)kk * P;
            double sum = 0.0;
            for (size_t p = 0; p < P; p++)
                sum += (double)g[p] *
                       (q->grad_w[approx_grad_index(q, approx_code_value(q, a[p]), wv)] - za);
            dw[(size_t)m * K + kk] = (float)(q->act.scale * sum);
        }
    }
}

void approx_fake_quantize_par(const eng_qparams *p, const float *x, size_t count, float *y)
{
    const long chunks = (long)((count + APPROX_CHUNK - 1) / APPROX_CHUNK);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (long c = 0; c < chunks; c++) {
        size_t i0 = (size_t)c * APPROX_CHUNK, n = count - i0 < APPROX_CHUNK ? count - i0 : APPROX_CHUNK;
        eng_fake_quantize(p, x + i0, n, y + i0);
    }
}

void approx_fake_quantize_backward_par(const eng_qparams *p, const float *x, const float *dy,
                                       size_t count, float *dx)
{
    const long chunks = (long)((count + APPROX_CHUNK - 1) / APPROX_CHUNK);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (long c = 0; c < chunks; c++) {
        size_t i0 = (size_t)c * APPROX_CHUNK, n = count - i0 < APPROX_CHUNK ? count - i0 : APPROX_CHUNK;
        eng_fake_quantize_backward(p, x + i0, dy + i0, n, dx + i0);
    }
}

/* sums[0..n) = column sums of rows [0, K) of cols (stride P): 16-bit partial sums over blocks
 * of up to 257 rows (257 * 255 < 2^16), added into 32 bits. */
ENG_MULTIVERSION
static void column_sums_block(const uint8_t *cols, int K, size_t P, size_t n, int32_t *sums)
{
    uint16_t part[1024];
    for (size_t p = 0; p < n; p++) sums[p] = 0;
    for (int k0 = 0; k0 < K; k0 += 257) {
        const int k1 = K - k0 < 257 ? K : k0 + 257;
        memset(part, 0, sizeof part);
        for (int kk = k0; kk < k1; kk++) {
            const uint8_t *row = cols + (size_t)kk * P;
#pragma omp simd
            for (size_t p = 0; p < n; p++) part[p] = (uint16_t)(part[p] + row[p]);
        }
#pragma omp simd
        for (size_t p = 0; p < n; p++) sums[p] += part[p];
    }
}

void approx_column_sums(const uint8_t *cols, int K, size_t P, int32_t *sums)
{
    const long chunks = (long)((P + 1023) / 1024);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (long c = 0; c < chunks; c++) {
        size_t p0 = (size_t)c * 1024, n = P - p0 < 1024 ? P - p0 : 1024;
        column_sums_block(cols + p0, K, P, n, sums + p0);
    }
}

bool approx_conv_sums_apply(const eng_conv_shape *s)
{
    return s->stride == 1 && s->oh == s->h && s->ow == s->w && s->kh * s->kw > 1;
}

void approx_conv_column_sums(const eng_conv_shape *s, const uint8_t *x, uint8_t pad,
                             int32_t *chan_sums, int32_t *sums)
{
    const size_t plane = (size_t)s->h * s->w;
    approx_column_sums(x, s->c, (size_t)s->n * plane, chan_sums);
    const int32_t outside = (int32_t)pad * s->c;
#pragma omp parallel for schedule(static) if ((size_t)s->n * plane * s->kh * s->kw >= APPROX_PAR_MIN)
    for (int b = 0; b < s->n; b++) {
        const int32_t *cs = chan_sums + (size_t)b * plane;
        int32_t *out = sums + (size_t)b * plane;
        memset(out, 0, sizeof(int32_t) * plane);
        for (int i = 0; i < s->kh; i++)         /* each tap adds its shifted plane */
            for (int j = 0; j < s->kw; j++) {
                const int dy = i * s->dilation - s->pad, dx = j * s->dilation - s->pad;
                const int x0 = dx < 0 ? -dx : 0, x1 = s->w - dx < s->w ? s->w - dx : s->w;
                for (int y = 0; y < s->h; y++) {
                    int32_t *row = out + (size_t)y * s->w;
                    const int iy = y + dy;
                    if (iy < 0 || iy >= s->h || x0 >= x1) {
                        for (int xo = 0; xo < s->w; xo++) row[xo] += outside;
                        continue;
                    }
                    const int32_t *src = cs + (size_t)iy * s->w + dx;
                    for (int xo = 0; xo < x0; xo++) row[xo] += outside;
#pragma omp simd
                    for (int xo = x0; xo < x1; xo++) row[xo] += src[xo];
                    for (int xo = x1; xo < s->w; xo++) row[xo] += outside;
                }
            }
    }
}

void approx_bias_backward(int channels, size_t positions, const float *dy, float *db)
{
#pragma omp parallel for schedule(static) if ((size_t)channels * positions >= APPROX_PAR_MIN)
    for (int o = 0; o < channels; o++) {
        double sum = 0.0;
        const float *g = dy + (size_t)o * positions;
        for (size_t p = 0; p < positions; p++) sum += g[p];
        db[o] = (float)sum;
    }
}

/* ------------------------------------------------------------------------------------------
 * The quantized GEMM layer
 * ---------------------------------------------------------------------------------------- */

size_t approx_gemm_codes_ws(int M, size_t P)
{
    return approx_ws_size(sizeof(int32_t) * P) + approx_ws_size(sizeof(int32_t) * M);
}

/* Sum of n codes as integers. */
ENG_MULTIVERSION
static int32_t code_sum(const uint8_t *codes, int n)
{
    int32_t sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) sum += codes[i];
    return sum;
}

/* After acc = the table products: the exact zero-point terms (asym) and the dequantization
 * (approx_gemm_codes). */
static eng_status gemm_dequantize(bool asym, const eng_qparams *act, const eng_qparams *wq,
                                  int M, int K, size_t P, const approx_cols *cols,
                                  const int32_t *col_sums, const uint8_t *wcodes,
                                  const float *bias, const eng_epilogue *ep, const int32_t *acc,
                                  float *y, unsigned char *ws)
{
    int32_t *asum = approx_ws_take(&ws, sizeof(int32_t) * P);
    int32_t *wsum = approx_ws_take(&ws, sizeof(int32_t) * M);
    const int32_t *sums = col_sums ? col_sums : asum;
    ENG_ASSERT(!(asym && !col_sums && cols->conv)); /* sums of an implicit im2col: the caller's */
    if (asym) {
        if (!col_sums) approx_column_sums(cols->codes, K, P, asum);
        for (int o = 0; o < M; o++) wsum[o] = code_sum(wcodes + (size_t)o * K, K);
    }
    return approx_dequantize(asym, act, wq, M, P, K, acc, sums, 0, wsum, bias, ep, y);
}

/* Columns per block of gemm_codes_blocked for M rows, K products and P columns (0: not
 * blocked): the int32 products of a block (M x block) within 4 MiB, so that the
 * dequantization reads them from cache instead of memory, in at least two blocks of at least
 * two panels. Measured (docs/kernels.md): blocks of 256 KiB of products made mul8u_DM1's
 * layers slower (the general table kernel builds its planes once per call), 1 and 4 MiB both
 * faster than no blocks, 4 MiB by a little more. */
static size_t gemm_block_columns(int M, int K, size_t P)
{
    size_t b = (size_t)((1 << 20) / M) / APPROX_LUT_PANEL * APPROX_LUT_PANEL;
    if (b < 2 * APPROX_LUT_PANEL) b = 2 * APPROX_LUT_PANEL;
    /* the block's codes and products fit in acc ([M][P] int32) beside each other */
    const size_t need = approx_ws_size((size_t)K * b) + approx_ws_size(sizeof(int32_t) * M * b);
    return P >= 2 * b && need <= sizeof(int32_t) * M * P ? b : 0;
}

eng_status approx_gemm_codes(const eng_kernels *k, const eng_lut *lut, bool asym,
                             const eng_qparams *act, const eng_qparams *wq, int M, int K,
                             size_t P, const approx_cols *cols, const int32_t *col_sums,
                             const uint8_t *wcodes, const float *bias, const eng_epilogue *ep,
                             int32_t *acc, float *y, unsigned char *ws)
{
    if (cols->conv)
        ENG_TRY(k->lut_conv2d(lut, cols->conv, M, cols->codes, cols->pad, wcodes, acc));
    else
        ENG_TRY(k->lut_gemm(lut, M, (int)P, K, wcodes, cols->codes, acc));
    return gemm_dequantize(asym, act, wq, M, K, P, cols, col_sums, wcodes, bias, ep, acc, y, ws);
}

/* approx_gemm_codes on a column matrix in blocks of nb columns (gemm_block_columns), with acc
 * as scratch: per block, its codes copied together, the table GEMM, its column sums and its
 * dequantization while the products are in cache (the same sums and formula per output). */
static eng_status gemm_codes_blocked(const eng_kernels *k, const eng_lut *lut, bool asym,
                                     const eng_qparams *act, const eng_qparams *wq, int M,
                                     int K, size_t P, size_t nb, const uint8_t *codes,
                                     const uint8_t *wcodes, const float *bias,
                                     const eng_epilogue *ep, int32_t *acc, float *y,
                                     unsigned char *ws)
{
    unsigned char *p = (unsigned char *)acc;
    uint8_t *blk = approx_ws_take(&p, (size_t)K * nb);
    int32_t *bacc = approx_ws_take(&p, sizeof(int32_t) * M * nb);
    int32_t *asum = approx_ws_take(&ws, sizeof(int32_t) * P);
    int32_t *wsum = approx_ws_take(&ws, sizeof(int32_t) * M);
    if (asym)
        for (int o = 0; o < M; o++) wsum[o] = code_sum(wcodes + (size_t)o * K, K);
    for (size_t p0 = 0; p0 < P; p0 += nb) {
        const size_t n = P - p0 < nb ? P - p0 : nb;
        for (int kk = 0; kk < K; kk++)
            memcpy(blk + (size_t)kk * n, codes + (size_t)kk * P + p0, n);
        ENG_TRY(k->lut_gemm(lut, M, (int)n, K, wcodes, blk, bacc));
        if (asym) approx_column_sums(blk, K, n, asum);
        dequantize_rows(asym, act, wq, M, n, K, bacc, asum, 0, wsum, bias, ep, y + p0, P);
    }
    return ENG_OK;
}

/* x rounded up to a multiple of m. */
static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

bool approx_gemm_transposed_shape(int M, int K, size_t P)
{
    (void)K; /* both ways run all K products of a row and column */
    if (P >= APPROX_LUT_PANEL) /* at least a panel: the idle lanes do not pay the transposes */
        return false;
    const size_t m = (size_t)M;
    return round_up(P, APPROX_LUT_TILE) * round_up(m, APPROX_LUT_PANEL) <
           round_up(m, APPROX_LUT_TILE) * round_up(P, APPROX_LUT_PANEL);
}

size_t approx_gemm_forward_ws(int M, int K, size_t P)
{
    size_t t = approx_gemm_transposed_shape(M, K, P)
                   ? approx_ws_size(P * K) + approx_ws_size((size_t)M * K) +
                         approx_ws_size(sizeof(int32_t) * M * P)
                   : 0;
    return approx_ws_size((size_t)M * K) + approx_ws_size(sizeof(int32_t) * M * P) + t +
           approx_gemm_codes_ws(M, P);
}

/* dst[c][r] = src[r][c] for src [rows][cols] (bytes), in 64 x 64 blocks. */
static void transpose_u8(const uint8_t *src, size_t rows, size_t cols, uint8_t *dst)
{
    const long blocks = (long)((rows + 63) / 64);
#pragma omp parallel for schedule(static) if (rows * cols >= APPROX_PAR_MIN)
    for (long rb = 0; rb < blocks; rb++) {
        const size_t r0 = (size_t)rb * 64, r1 = rows - r0 < 64 ? rows : r0 + 64;
        for (size_t c0 = 0; c0 < cols; c0 += 64) {
            const size_t c1 = cols - c0 < 64 ? cols : c0 + 64;
            for (size_t r = r0; r < r1; r++)
                for (size_t c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/* dst[c][r] = src[r][c] for src [rows][cols] (int32). */
static void transpose_i32(const int32_t *src, size_t rows, size_t cols, int32_t *dst)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

eng_status approx_gemm_forward(const eng_kernels *k, eng_approx *q, int M, int K, size_t P,
                               const approx_cols *cols, const int32_t *col_sums, const float *w,
                               const float *bias, const eng_epilogue *ep, float *y,
                               unsigned char *ws)
{
    uint8_t *wcodes = approx_ws_take(&ws, (size_t)M * K);
    int32_t *acc = approx_ws_take(&ws, sizeof(int32_t) * M * P);
    const bool asym = q->cfg.mode == ENG_QUANT_ASYM;
    approx_weight_prepare(q, w, (size_t)K);
    ENG_TRY(approx_weight_quantize(k, q, w, (size_t)K, wcodes, NULL));
    const size_t nb = cols->conv || col_sums ? 0 : gemm_block_columns(M, K, P);
    if (nb)
        return gemm_codes_blocked(k, &q->lut, asym, &q->act, q->wq, M, K, P, nb, cols->codes,
                                  wcodes, bias, ep, acc, y, ws);
    if (cols->conv || q->lut.w_bits != 8 || !approx_gemm_transposed_shape(M, K, P))
        return approx_gemm_codes(k, &q->lut, asym, &q->act, q->wq, M, K, P, cols, col_sums,
                                 wcodes, bias, ep, acc, y, ws);
    /* small batch: acc^T[p][o] = sum_k T^T(w[o][k], a[k][p]), the batch as the table GEMM's
     * rows and the outputs as its wide side (integer sums: the same result) */
    if (!q->has_lut_t) {
        ENG_TRY(shared_transposed(q->shared, &q->lut_t));
        q->has_lut_t = true;
    }
    uint8_t *a_t = approx_ws_take(&ws, P * K);
    uint8_t *w_t = approx_ws_take(&ws, (size_t)M * K);
    int32_t *acc_t = approx_ws_take(&ws, sizeof(int32_t) * M * P);
    transpose_u8(cols->codes, (size_t)K, P, a_t);
    transpose_u8(wcodes, (size_t)M, (size_t)K, w_t);
    ENG_TRY(k->lut_gemm(&q->lut_t, (int)P, M, K, a_t, w_t, acc_t));
    transpose_i32(acc_t, P, (size_t)M, acc);
    return gemm_dequantize(asym, &q->act, q->wq, M, K, P, cols, col_sums, wcodes, bias, ep, acc,
                           y, ws);
}

eng_status approx_gemm_backward_ste(const eng_kernels *k, eng_approx *q, int M, int K,
                                    size_t P, const float *cols_fq, const float *w,
                                    const float *dy, float *dcols, float *dw,
                                    unsigned char *ws)
{
    approx_weight_prepare(q, w, (size_t)K);
    ENG_TRY(k->sgemm(false, true, M, K, (int)P, 1.0f, dy, (int)P, cols_fq, (int)P, 0.0f, dw, K));
    approx_weight_mask(q, w, (size_t)K, dw);
    if (dcols) {
        float *wq = approx_ws_take(&ws, sizeof(float) * M * K);
        approx_weight_fake(q, w, (size_t)K, wq);
        ENG_TRY(k->sgemm(true, false, K, (int)P, M, 1.0f, wq, K, dy, (int)P, 0.0f, dcols,
                         (int)P));
    }
    return ENG_OK;
}
