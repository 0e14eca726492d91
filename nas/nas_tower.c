/*
 * nas_tower.c - Model Search towers: library entries, decoding, random draws, moves and text.
 */
#include "nas_tower.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_decode.h"

static bool op_has_width(nas_op op)
{
    return op != NAS_OP_MAXPOOL && op != NAS_OP_AVGPOOL && op != NAS_OP_IDENTITY;
}

/* Uniform integer in [0, n) (n >= 1), by rejection. */
static int rng_below(uint64_t *rng, int n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)n;
    uint64_t x;
    do x = nas_rng_next(rng);
    while (x >= lim);
    return (int)(x % (uint64_t)n);
}

static bool same_block(const nas_tower_block *a, const nas_tower_block *b)
{
    if (a->down != b->down) return false;
    if (a->down) return a->width == b->width;
    return a->op == b->op && (!op_has_width(a->op) || a->width == b->width);
}

eng_status nas_tower_space_check(const nas_tower_space *sp)
{
    if (sp->n_library < 1 || sp->n_library > NAS_TOWER_MAX_LIBRARY)
        return eng_error(ENG_ERR_ARG, "%d library blocks, expected 1..%d", sp->n_library,
                         NAS_TOWER_MAX_LIBRARY);
    for (int i = 0; i < sp->n_library; i++) {
        const nas_tower_block *b = &sp->library[i];
        char name[32];
        if (!b->down && (unsigned)b->op >= NAS_OP_COUNT)
            return eng_error(ENG_ERR_ARG, "library block %d is not an operation", i);
        if ((b->down || op_has_width(b->op)) && (b->width < 1 || b->width > 1024))
            return eng_error(ENG_ERR_ARG, "library block %d: width %d not in [1, 1024]", i,
                             b->width);
        for (int j = 0; j < i; j++)
            if (same_block(&sp->library[j], b))
                return eng_error(ENG_ERR_ARG, "library block '%s' listed twice",
                                 nas_tower_block_name(b, name, sizeof name));
    }
    if (sp->min_blocks < 1 || sp->min_blocks > sp->max_blocks ||
        sp->max_blocks > NAS_TOWER_MAX_BLOCKS)
        return eng_error(ENG_ERR_ARG, "tower length %d..%d not within 1..%d", sp->min_blocks,
                         sp->max_blocks, NAS_TOWER_MAX_BLOCKS);
    return nas_check_frame(sp->stem_width, sp->stem_stride, sp->n_muls, sp->in_channels,
                           sp->in_height, sp->in_width, sp->classes);
}

char *nas_tower_block_name(const nas_tower_block *b, char *buf, size_t size)
{
    if (b->down) snprintf(buf, size, "down/%d", b->width);
    else if (op_has_width(b->op)) snprintf(buf, size, "%s/%d", nas_op_name(b->op), b->width);
    else snprintf(buf, size, "%s", nas_op_name(b->op));
    return buf;
}

eng_status nas_tower_block_parse(const char *name, nas_tower_block *out)
{
    char op[32];
    const char *slash = strchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : strlen(name);
    if (len == 0 || len >= sizeof op)
        return eng_error(ENG_ERR_ARG, "'%s' is not a block (OP/WIDTH, down/WIDTH, or a pool)",
                         name);
    memcpy(op, name, len);
    op[len] = '\0';
    nas_tower_block b = {.down = strcmp(op, "down") == 0};
    int k = b.down ? 0 : nas_op_from_name(op);
    if (k < 0) return eng_error(ENG_ERR_ARG, "block '%s': unknown op '%s'", name, op);
    b.op = (nas_op)k;
    bool wants_width = b.down || op_has_width(b.op);
    if (wants_width != (slash != NULL))
        return eng_error(ENG_ERR_ARG, wants_width ? "block '%s' needs a width (%s/WIDTH)"
                                                  : "block '%s': %s takes no width",
                         name, op);
    if (slash) {
        char *end;
        errno = 0;
        long w = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || errno || w < 1 || w > 1024)
            return eng_error(ENG_ERR_ARG, "block '%s': width not an integer in [1, 1024]",
                             name);
        b.width = (int)w;
    }
    *out = b;
    return ENG_OK;
}

int nas_tower_block_muls(const nas_tower_block *b)
{
    if (b->down) return 1;
    switch (b->op) {
    case NAS_OP_CONV3X3:
    case NAS_OP_CONV5X5: return 1;
    case NAS_OP_SEP3X3:
    case NAS_OP_SEP5X5: return 2;
    case NAS_OP_MBCONV3:
    case NAS_OP_MBCONV6:
    case NAS_OP_RESBLOCK: return 3;
    default: return 0;
    }
}

static int slot(int block, int j) { return 2 + NAS_MULS_PER_NODE * block + j; }

void nas_tower_normalize(const nas_tower_space *sp, nas_tower *t)
{
    for (int i = 0; i < NAS_TOWER_MAX_BLOCKS; i++) {
        int used = i < t->n ? nas_tower_block_muls(&sp->library[t->block[i]]) : 0;
        if (i >= t->n) t->block[i] = 0;
        for (int j = used; j < NAS_MULS_PER_NODE; j++) t->mul[slot(i, j)] = 0;
    }
}

bool nas_tower_valid(const nas_tower_space *sp, const nas_tower *t)
{
    if (t->n < sp->min_blocks || t->n > sp->max_blocks) return false;
    for (int i = 0; i < t->n; i++)
        if (t->block[i] < 0 || t->block[i] >= sp->n_library) return false;
    for (int i = 0; i < 2 + NAS_MULS_PER_NODE * t->n; i++)
        if (t->mul[i] < 0 || t->mul[i] >= sp->n_muls) return false;
    return true;
}

/* Emits one tower reading the input with d->g = its multipliers; returns its classifier. */
static int emit_tower(nas_decoder *d, const nas_tower_space *sp, const nas_tower *t)
{
    d->g = t->mul;
    nas_dec_summary(d, "stem%d |", sp->stem_width);
    int x = nas_dec_conv_bn(d, -1, sp->stem_width, 3, sp->stem_stride > 1 ? 2 : 1, 0,
                            NAS_LAYER_RELU);
    for (int i = 0; i < t->n && d->st == ENG_OK; i++) {
        const nas_tower_block *b = &sp->library[t->block[i]];
        char name[32];
        if (b->down) x = nas_dec_conv_bn(d, x, b->width, 3, 2, slot(i, 0), NAS_LAYER_RELU);
        else x = nas_dec_op(d, b->op, x, b->width, slot(i, 0), slot(i, 1), slot(i, 2));
        nas_dec_summary(d, " %s", nas_tower_block_name(b, name, sizeof name));
    }
    x = nas_dec_emit(d, NAS_LAYER_GLOBAL_AVGPOOL, x, -2, 0, 0, 1, 0, -1);
    x = nas_dec_emit(d, NAS_LAYER_DENSE, x, -2, sp->classes, 0, 1, 0, 1);
    nas_dec_summary(d, " | fc%d", sp->classes);
    return x;
}

/* Decodes k towers (k = 1: one tower, else an ensemble whose logits an add chain sums). */
static eng_status decode_k(const nas_tower_space *sp, const nas_tower *t, int k, nas_arch *arch,
                           bool *active)
{
    nas_space in = {.in_channels = sp->in_channels, .in_height = sp->in_height,
                    .in_width = sp->in_width, .classes = sp->classes};
    nas_decoder d = {.sp = &in, .arch = arch, .active = active, .st = ENG_OK};
    if (k > 1) nas_dec_summary(&d, "ensemble of %d: ", k);
    int sum = -3;
    for (int m = 0; m < k && d.st == ENG_OK; m++) {
        if (m > 0) nas_dec_summary(&d, " + ");
        int y = emit_tower(&d, sp, &t[m]);
        sum = m == 0 ? y : nas_dec_emit(&d, NAS_LAYER_ADD, sum, y, 0, 0, 1, 0, -1);
    }
    return d.st;
}

static eng_status decode(const nas_tower_space *sp, const nas_tower *t, nas_arch *arch,
                         bool *active)
{
    return decode_k(sp, t, 1, arch, active);
}

eng_status nas_tower_decode_ensemble(const nas_tower_space *sp, const nas_tower *t, int k,
                                     nas_arch *out)
{
    memset(out, 0, sizeof *out);
    if (k < 1 || k > NAS_TOWER_MAX_ENSEMBLE)
        return eng_error(ENG_ERR_ARG, "an ensemble of %d towers (1..%d)", k,
                         NAS_TOWER_MAX_ENSEMBLE);
    for (int m = 0; m < k; m++)
        if (!nas_tower_valid(sp, &t[m]))
            return eng_error(ENG_ERR_ARG, "tower has a length, block or multiplier out of range");
    eng_status st = decode_k(sp, t, k, out, NULL);
    if (st != ENG_OK) nas_arch_free(out);
    return st;
}

int nas_tower_ensemble_format(const nas_tower_space *sp, const nas_tower *t, int k, char *buf,
                              size_t size)
{
    if (k == 1) return nas_tower_format(sp, t, buf, size);
    int pos = snprintf(buf, size, "ensemble");
    for (int m = 0; m < k; m++) {
        int w = snprintf(buf + pos, size - (size_t)pos, m ? " | " : " ");
        if (w < 0 || (size_t)(pos + w) >= size) return -1;
        pos += w;
        w = nas_tower_format(sp, &t[m], buf + pos, size - (size_t)pos);
        if (w < 0) return -1;
        pos += w;
    }
    return pos;
}

eng_status nas_tower_ensemble_parse(const nas_tower_space *sp, const char *text, nas_tower *t,
                                    int *k)
{
    if (strncmp(text, "ensemble ", 9) != 0) {
        ENG_TRY(nas_tower_parse(sp, text, t));
        *k = 1;
        return ENG_OK;
    }
    char *copy = strdup(text + 9);
    if (!copy) return eng_error(ENG_ERR_NOMEM, "out of memory");
    nas_tower tmp[NAS_TOWER_MAX_ENSEMBLE];
    int n = 0;
    eng_status st = ENG_OK;
    for (char *part = copy; part && st == ENG_OK;) {
        char *bar = strstr(part, " | ");
        if (bar) *bar = '\0';
        if (n == NAS_TOWER_MAX_ENSEMBLE)
            st = eng_error(ENG_ERR_ARG, "ensemble text: more than %d towers",
                           NAS_TOWER_MAX_ENSEMBLE);
        else st = nas_tower_parse(sp, part, &tmp[n++]);
        part = bar ? bar + 3 : NULL;
    }
    free(copy);
    if (st == ENG_OK && n < 2)
        st = eng_error(ENG_ERR_FORMAT, "ensemble text: fewer than 2 towers");
    if (st != ENG_OK) return st;
    memcpy(t, tmp, sizeof tmp[0] * (size_t)n);
    *k = n;
    return ENG_OK;
}

eng_status nas_tower_decode(const nas_tower_space *sp, const nas_tower *t, nas_arch *out)
{
    memset(out, 0, sizeof *out);
    if (!nas_tower_valid(sp, t))
        return eng_error(ENG_ERR_ARG, "tower has a length, block or multiplier out of range");
    eng_status st = decode(sp, t, out, NULL);
    if (st != ENG_OK) nas_arch_free(out);
    return st;
}

eng_status nas_tower_active(const nas_tower_space *sp, const nas_tower *t, bool *active)
{
    memset(active, 0, sizeof(bool) * NAS_TOWER_MULS);
    if (!nas_tower_valid(sp, t))
        return eng_error(ENG_ERR_ARG, "tower has a length, block or multiplier out of range");
    nas_arch arch = {0};
    eng_status st = decode(sp, t, &arch, active);
    nas_arch_free(&arch);
    return st;
}

void nas_tower_set_multipliers(const nas_tower_space *sp, nas_tower *t, int mul)
{
    ENG_ASSERT(mul >= 0 && mul < sp->n_muls);
    for (int i = 0; i < NAS_TOWER_MULS; i++) t->mul[i] = mul;
    nas_tower_normalize(sp, t);
}

/* Hash of a tower's network, with ok = false when it does not decode. */
static uint64_t tower_hash(const nas_tower_space *sp, const nas_tower *t, bool *ok)
{
    nas_arch arch;
    *ok = nas_tower_decode(sp, t, &arch) == ENG_OK;
    uint64_t h = *ok ? nas_arch_hash(&arch) : 0;
    nas_arch_free(&arch);
    return h;
}

eng_status nas_tower_random(const nas_tower_space *sp, uint64_t *rng, int mul, nas_tower *out)
{
    for (int tries = 0; tries < 1000; tries++) {
        nas_tower t = {.n = sp->min_blocks + rng_below(rng, sp->max_blocks - sp->min_blocks + 1)};
        for (int i = 0; i < t.n; i++) t.block[i] = rng_below(rng, sp->n_library);
        for (int i = 0; i < 2 + NAS_MULS_PER_NODE * t.n; i++)
            t.mul[i] = mul >= 0 ? mul : rng_below(rng, sp->n_muls);
        nas_tower_normalize(sp, &t);
        bool ok;
        tower_hash(sp, &t, &ok);
        if (ok) {
            *out = t;
            return ENG_OK;
        }
    }
    return eng_error(ENG_ERR_SHAPE, "no decodable tower in 1000 random draws (too much "
                     "downsampling for a %dx%d image?)", sp->in_height, sp->in_width);
}

/* The multiplier of the last multiplying layer before block i (the stem's at worst). */
static int mul_before(const nas_tower_space *sp, const nas_tower *t, int i)
{
    for (int k = i - 1; k >= 0; k--) {
        int m = nas_tower_block_muls(&sp->library[t->block[k]]);
        if (m > 0) return t->mul[slot(k, 0)];
    }
    return t->mul[0];
}

static void set_block_muls(nas_tower *t, int i, int mul)
{
    for (int j = 0; j < NAS_MULS_PER_NODE; j++) t->mul[slot(i, j)] = mul;
}

/* Applies one random move of kind k to *t (already a copy of the source). */
static void apply_move(const nas_tower_space *sp, uint64_t *rng, nas_tower_move_kind k,
                       const bool *active, nas_tower *t)
{
    switch (k) {
    case NAS_TOWER_MOVE_REPLACE: {
        int i = rng_below(rng, t->n);
        int b = rng_below(rng, sp->n_library - 1);
        t->block[i] = b >= t->block[i] ? b + 1 : b;
        set_block_muls(t, i, mul_before(sp, t, i));
        break;
    }
    case NAS_TOWER_MOVE_INSERT: {
        int i = rng_below(rng, t->n + 1);
        memmove(&t->block[i + 1], &t->block[i], sizeof(int) * (size_t)(t->n - i));
        memmove(&t->mul[slot(i + 1, 0)], &t->mul[slot(i, 0)],
                sizeof(int) * NAS_MULS_PER_NODE * (size_t)(t->n - i));
        t->n++;
        t->block[i] = rng_below(rng, sp->n_library);
        set_block_muls(t, i, mul_before(sp, t, i));
        break;
    }
    case NAS_TOWER_MOVE_REMOVE: {
        int i = rng_below(rng, t->n);
        memmove(&t->block[i], &t->block[i + 1], sizeof(int) * (size_t)(t->n - i - 1));
        memmove(&t->mul[slot(i, 0)], &t->mul[slot(i + 1, 0)],
                sizeof(int) * NAS_MULS_PER_NODE * (size_t)(t->n - i - 1));
        t->n--;
        break;
    }
    default: {
        int n_active = 0;
        for (int i = 0; i < NAS_TOWER_MULS; i++) n_active += active[i];
        int pick = rng_below(rng, n_active);
        for (int i = 0; i < NAS_TOWER_MULS; i++) {
            if (!active[i] || pick-- != 0) continue;
            int v = rng_below(rng, sp->n_muls - 1);
            t->mul[i] = v >= t->mul[i] ? v + 1 : v;
            break;
        }
        break;
    }
    }
    nas_tower_normalize(sp, t);
}

eng_status nas_tower_move(const nas_tower_space *sp, uint64_t *rng, const nas_tower *from,
                          nas_tower *out, nas_tower_move_kind *kind)
{
    bool active[NAS_TOWER_MULS], ok;
    ENG_TRY(nas_tower_active(sp, from, active));
    uint64_t h0 = tower_hash(sp, from, &ok);
    nas_tower_move_kind kinds[NAS_TOWER_MOVE_COUNT];
    int n_kinds = 0;
    if (sp->n_library > 1) kinds[n_kinds++] = NAS_TOWER_MOVE_REPLACE;
    if (from->n < sp->max_blocks) kinds[n_kinds++] = NAS_TOWER_MOVE_INSERT;
    if (from->n > sp->min_blocks) kinds[n_kinds++] = NAS_TOWER_MOVE_REMOVE;
    if (sp->n_muls > 1) kinds[n_kinds++] = NAS_TOWER_MOVE_MULTIPLIER;
    for (int tries = 0; n_kinds > 0 && tries < 1000; tries++) {
        nas_tower_move_kind k = kinds[rng_below(rng, n_kinds)];
        nas_tower t = *from;
        apply_move(sp, rng, k, active, &t);
        uint64_t h = tower_hash(sp, &t, &ok);
        if (!ok || h == h0) continue;
        *out = t;
        if (kind) *kind = k;
        return ENG_OK;
    }
    return eng_error(ENG_ERR_ARG, "no tower one move away from this one differs from it");
}

int nas_tower_format(const nas_tower_space *sp, const nas_tower *t, char *buf, size_t size)
{
    size_t pos = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        int w_ = snprintf(buf + pos, size - pos, __VA_ARGS__);                     \
        if (w_ < 0 || (size_t)w_ >= size - pos) return -1;                         \
        pos += (size_t)w_;                                                         \
    } while (0)
    PUT("stem@%d", t->mul[0]);
    for (int i = 0; i < t->n; i++) {
        const nas_tower_block *b = &sp->library[t->block[i]];
        char name[32];
        PUT(" %s", nas_tower_block_name(b, name, sizeof name));
        for (int j = 0; j < nas_tower_block_muls(b); j++)
            PUT("%c%d", j ? ',' : '@', t->mul[slot(i, j)]);
    }
    PUT(" fc@%d", t->mul[1]);
#undef PUT
    return (int)pos;
}

/* Reads "@v,v,..." with exactly n values (none and no '@' when n is 0) at *p. */
static bool read_muls(const char **p, int n, int *out)
{
    for (int j = 0; j < n; j++) {
        if (**p != (j ? ',' : '@')) return false;
        (*p)++;
        char *end;
        errno = 0;
        long v = strtol(*p, &end, 10);
        if (end == *p || errno || v < 0 || v > 1000000) return false;
        out[j] = (int)v;
        *p = end;
    }
    return **p == ' ' || **p == '\0';
}

eng_status nas_tower_parse(const nas_tower_space *sp, const char *text, nas_tower *out)
{
    nas_tower t = {0};
    const char *p = text;
    if (strncmp(p, "stem", 4) != 0 || (p += 4, !read_muls(&p, 1, &t.mul[0])))
        return eng_error(ENG_ERR_FORMAT, "tower text: expected 'stem@M' first");
    for (;;) {
        if (*p != ' ') return eng_error(ENG_ERR_FORMAT, "tower text: expected ' fc@M' last");
        p++;
        if (strncmp(p, "fc@", 3) == 0) {
            p += 2;
            if (!read_muls(&p, 1, &t.mul[1]) || *p)
                return eng_error(ENG_ERR_FORMAT, "tower text: bad 'fc@M' at the end");
            break;
        }
        size_t len = strcspn(p, "@ ");
        char name[32];
        if (len == 0 || len >= sizeof name)
            return eng_error(ENG_ERR_FORMAT, "tower text: expected a block at '%.20s'", p);
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        nas_tower_block b;
        int k = -1;
        if (nas_tower_block_parse(name, &b) == ENG_OK)
            for (int i = 0; i < sp->n_library && k < 0; i++)
                if (same_block(&sp->library[i], &b)) k = i;
        if (k < 0)
            return eng_error(ENG_ERR_FORMAT, "tower text: block '%s' is not in the library",
                             name);
        if (t.n == NAS_TOWER_MAX_BLOCKS)
            return eng_error(ENG_ERR_ARG, "tower text: more than %d blocks",
                             NAS_TOWER_MAX_BLOCKS);
        t.block[t.n] = k;
        if (!read_muls(&p, nas_tower_block_muls(&sp->library[k]), &t.mul[slot(t.n, 0)]))
            return eng_error(ENG_ERR_FORMAT, "tower text: block '%s' needs %d multipliers "
                             "(@M,...)", name, nas_tower_block_muls(&sp->library[k]));
        t.n++;
    }
    if (!nas_tower_valid(sp, &t))
        return eng_error(ENG_ERR_ARG, "tower text: %d blocks (allowed %d..%d) or a multiplier "
                         "not in [0, %d)", t.n, sp->min_blocks, sp->max_blocks, sp->n_muls);
    *out = t;
    return ENG_OK;
}
