/*
 * nas_genome.c - layout, variation operators, decoding and hashing of the NAS genome.
 */
#include "nas_genome.h"
#include "nas_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[NAS_OP_COUNT] = {
    "conv3x3", "conv5x5", "sep3x3", "sep5x5", "mbconv3",
    "mbconv6", "resblock", "maxpool", "avgpool", "identity",
};

static const char *const kind_names[NAS_LAYER_KIND_COUNT] = {
    "conv", "dwconv", "dense", "bn", "relu", "relu6", "maxpool", "avgpool", "gap", "add", "concat",
};

const char *nas_op_name(nas_op op)
{
    return (unsigned)op < NAS_OP_COUNT ? op_names[op] : "?";
}

int nas_op_from_name(const char *name)
{
    for (int i = 0; i < NAS_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return i;
    return -1;
}

const char *nas_layer_kind_name(nas_layer_kind kind)
{
    return (unsigned)kind < NAS_LAYER_KIND_COUNT ? kind_names[kind] : "?";
}

uint64_t nas_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform integer in [0, n) (n >= 1), by rejection so that it is exactly uniform. */
static int rng_below(uint64_t *rng, int n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)n;
    uint64_t x;
    do x = nas_rng_next(rng);
    while (x >= lim);
    return (int)(x % (uint64_t)n);
}

static double rng_unit(uint64_t *rng)
{
    return (double)(nas_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

eng_status nas_check_frame(int stem_width, int stem_stride, int n_muls, int in_channels,
                           int in_height, int in_width, int classes)
{
    if (stem_width < 1 || stem_width > 1024)
        return eng_error(ENG_ERR_ARG, "stem width %d not in [1, 1024]", stem_width);
    if (stem_stride < 0 || stem_stride > 2)
        return eng_error(ENG_ERR_ARG, "stem stride %d not 1 or 2", stem_stride);
    if (n_muls < 1 || n_muls > NAS_MAX_MULS)
        return eng_error(ENG_ERR_ARG, "%d multipliers, expected 1..%d", n_muls, NAS_MAX_MULS);
    if (in_channels < 1 || in_height < 1 || in_width < 1 || classes < 2)
        return eng_error(ENG_ERR_ARG, "bad input shape %dx%dx%d or %d classes", in_channels,
                         in_height, in_width, classes);
    return ENG_OK;
}

eng_status nas_space_check(const nas_space *sp)
{
    if (sp->stages < 1 || sp->stages > NAS_MAX_STAGES)
        return eng_error(ENG_ERR_ARG, "stages %d not in [1, %d]", sp->stages, NAS_MAX_STAGES);
    if (sp->nodes < 1 || sp->nodes > NAS_MAX_NODES)
        return eng_error(ENG_ERR_ARG, "nodes %d not in [1, %d]", sp->nodes, NAS_MAX_NODES);
    if (sp->n_ops < 1 || sp->n_ops > NAS_OP_COUNT)
        return eng_error(ENG_ERR_ARG, "%d ops, expected 1..%d", sp->n_ops, NAS_OP_COUNT);
    for (int i = 0; i < sp->n_ops; i++) {
        if ((unsigned)sp->ops[i] >= NAS_OP_COUNT)
            return eng_error(ENG_ERR_ARG, "op %d is not an operation", i);
        for (int j = 0; j < i; j++)
            if (sp->ops[j] == sp->ops[i])
                return eng_error(ENG_ERR_ARG, "op '%s' listed twice", nas_op_name(sp->ops[i]));
    }
    if (sp->n_widths < 1 || sp->n_widths > NAS_MAX_WIDTHS)
        return eng_error(ENG_ERR_ARG, "%d widths, expected 1..%d", sp->n_widths, NAS_MAX_WIDTHS);
    for (int i = 0; i < sp->n_widths; i++)
        if (sp->widths[i] < 1 || sp->widths[i] > 1024)
            return eng_error(ENG_ERR_ARG, "width %d not in [1, 1024]", sp->widths[i]);
    if (sp->width_growth < 1 || sp->width_growth > 4)
        return eng_error(ENG_ERR_ARG, "width growth %d not in [1, 4]", sp->width_growth);
    return nas_check_frame(sp->stem_width, sp->stem_stride, sp->n_muls, sp->in_channels,
                           sp->in_height, sp->in_width, sp->classes);
}

/* ------------------------------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------------------------- */

static int n_cells(const nas_space *sp) { return sp->shared_cells ? 1 : sp->stages; }
static int cell_len(const nas_space *sp) { return sp->nodes * 4 + 1; }
static int struct_len(const nas_space *sp) { return n_cells(sp) * cell_len(sp); }
static int gene_stem_mul(const nas_space *sp) { return struct_len(sp); }

static int gene_node_mul(const nas_space *sp, int stage, int node, int slot)
{
    return struct_len(sp) + 1 + (stage * sp->nodes + node) * NAS_MULS_PER_NODE + slot;
}

static int gene_reduction_mul(const nas_space *sp, int stage) /* stage >= 1 */
{
    return struct_len(sp) + 1 + sp->stages * sp->nodes * NAS_MULS_PER_NODE + stage - 1;
}

int nas_genome_length(const nas_space *sp)
{
    return struct_len(sp) + 1 + sp->stages * sp->nodes * NAS_MULS_PER_NODE + (sp->stages - 1) + 1;
}

static int gene_classifier_mul(const nas_space *sp) { return nas_genome_length(sp) - 1; }

int nas_genome_gene_range(const nas_space *sp, int i)
{
    if (i >= struct_len(sp)) return sp->n_muls;
    int r = i % cell_len(sp);
    if (r == sp->nodes * 4) return sp->nodes; /* output gene */
    int node = r / 4;
    switch (r % 4) {
    case 0: return sp->n_ops;
    case 3: return sp->n_widths;
    default: return node + 1;
    }
}

bool nas_genome_valid(const nas_space *sp, const int *genes)
{
    int n = nas_genome_length(sp);
    for (int i = 0; i < n; i++)
        if (genes[i] < 0 || genes[i] >= nas_genome_gene_range(sp, i)) return false;
    return true;
}

void nas_genome_random(const nas_space *sp, uint64_t *rng, int *genes)
{
    int n = nas_genome_length(sp);
    for (int i = 0; i < n; i++) genes[i] = rng_below(rng, nas_genome_gene_range(sp, i));
}

/* Redraws gene i to a different value (no-op when its range is 1). */
static void redraw(const nas_space *sp, uint64_t *rng, int *genes, int i)
{
    int r = nas_genome_gene_range(sp, i);
    if (r < 2) return;
    int v = rng_below(rng, r - 1);
    genes[i] = v >= genes[i] ? v + 1 : v;
}

void nas_genome_mutate(const nas_space *sp, uint64_t *rng, double rate, int *genes)
{
    int n = nas_genome_length(sp);
    bool *active = malloc(sizeof(bool) * (size_t)n);
    int *before = malloc(sizeof(int) * (size_t)n);
    ENG_ASSERT(active && before);
    nas_genome_active(sp, genes, active);
    memcpy(before, genes, sizeof(int) * (size_t)n);
    bool changed = false;
    for (int i = 0; i < n; i++) {
        if (rng_unit(rng) < rate) redraw(sp, rng, genes, i);
        if (active[i] && genes[i] != before[i]) changed = true;
    }
    if (!changed) {
        int candidates = 0;
        for (int i = 0; i < n; i++)
            if (active[i] && nas_genome_gene_range(sp, i) > 1) candidates++;
        if (candidates > 0) {
            int pick = rng_below(rng, candidates);
            for (int i = 0; i < n; i++) {
                if (!active[i] || nas_genome_gene_range(sp, i) < 2) continue;
                if (pick-- == 0) {
                    genes[i] = before[i];
                    redraw(sp, rng, genes, i);
                    break;
                }
            }
        }
    }
    free(before);
    free(active);
}

void nas_genome_crossover(const nas_space *sp, uint64_t *rng, const int *a, const int *b,
                          int *child1, int *child2)
{
    int n = nas_genome_length(sp), i = 0;
    while (i < n) {
        int len = 1;
        if (i < struct_len(sp) && i % cell_len(sp) != sp->nodes * 4) len = 4;
        bool swap = nas_rng_next(rng) >> 63;
        for (int j = i; j < i + len; j++) {
            child1[j] = swap ? b[j] : a[j];
            child2[j] = swap ? a[j] : b[j];
        }
        i += len;
    }
}

void nas_genome_set_multipliers(const nas_space *sp, int *genes, int mul)
{
    ENG_ASSERT(mul >= 0 && mul < sp->n_muls);
    for (int i = struct_len(sp); i < nas_genome_length(sp); i++) genes[i] = mul;
}

int nas_genome_format(const nas_space *sp, const int *genes, char *buf, size_t size)
{
    int n = nas_genome_length(sp);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + pos, size - pos, i ? ",%d" : "%d", genes[i]);
        if (w < 0 || (size_t)w >= size - pos) return -1;
        pos += (size_t)w;
    }
    return (int)pos;
}

eng_status nas_genome_parse(const nas_space *sp, const char *text, int *genes)
{
    int n = nas_genome_length(sp);
    int *tmp = malloc(sizeof(int) * (size_t)n);
    if (!tmp) return eng_error(ENG_ERR_NOMEM, "out of memory");
    const char *p = text;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (i < n - 1 && *end != ',') || (i == n - 1 && *end != '\0')) {
            free(tmp);
            return eng_error(ENG_ERR_FORMAT, "genome text: expected %d comma-separated integers",
                             n);
        }
        if (v < 0 || v >= nas_genome_gene_range(sp, i)) {
            free(tmp);
            return eng_error(ENG_ERR_ARG, "genome text: gene %d = %ld not in [0, %d)", i, v,
                             nas_genome_gene_range(sp, i));
        }
        tmp[i] = (int)v;
        p = end + 1;
    }
    memcpy(genes, tmp, sizeof(int) * (size_t)n);
    free(tmp);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------------------------- */

static void mark(nas_decoder *d, int gene)
{
    if (d->active) d->active[gene] = true;
}

static void shape_of(const nas_decoder *d, int id, int *c, int *h, int *w)
{
    if (id < 0) {
        *c = d->sp->in_channels, *h = d->sp->in_height, *w = d->sp->in_width;
    } else {
        const nas_layer *l = &d->arch->layers[id];
        *c = l->out_c, *h = l->out_h, *w = l->out_w;
    }
}

void nas_dec_summary(nas_decoder *d, const char *fmt, ...)
{
    char *sum = d->arch->summary;
    size_t cap = sizeof d->arch->summary;
    if (d->sum_len >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(sum + d->sum_len, cap - d->sum_len, fmt, ap);
    va_end(ap);
    if (w > 0) d->sum_len += (size_t)w;
    if (d->sum_len >= cap) d->sum_len = cap - 1;
}

int nas_dec_emit(nas_decoder *d, nas_layer_kind kind, int in0, int in1, int out_c, int k,
                 int stride, int pad, int mul_gene)
{
    if (d->st != ENG_OK) return -3;
    if (mul_gene >= 0) mark(d, mul_gene);
    nas_arch *ar = d->arch;
    if (ar->n == ar->cap) {
        int cap = ar->cap ? ar->cap * 2 : 64;
        nas_layer *p = realloc(ar->layers, sizeof *p * (size_t)cap);
        if (!p) {
            d->st = eng_error(ENG_ERR_NOMEM, "out of memory decoding a genome");
            return -3;
        }
        ar->layers = p, ar->cap = cap;
    }
    nas_layer l = {.kind = kind, .in = {in0, in1}, .k = k, .stride = stride, .pad = pad,
                   .mul = mul_gene >= 0 ? d->g[mul_gene] : -1, .mul_gene = mul_gene};
    shape_of(d, in0, &l.in_c, &l.in_h, &l.in_w);
    l.out_c = out_c > 0 ? out_c : l.in_c;
    l.out_h = l.in_h, l.out_w = l.in_w;
    long plane;
    switch (kind) {
    case NAS_LAYER_CONV:
    case NAS_LAYER_DEPTHWISE:
    case NAS_LAYER_MAXPOOL:
    case NAS_LAYER_AVGPOOL:
        l.out_h = (l.in_h + 2 * pad - k) / stride + 1;
        l.out_w = (l.in_w + 2 * pad - k) / stride + 1;
        if (l.out_h < 1 || l.out_w < 1) {
            d->st = eng_error(ENG_ERR_SHAPE, "a %dx%d input is too small for a %dx%d kernel",
                              l.in_h, l.in_w, k, k);
            return -3;
        }
        break;
    case NAS_LAYER_GLOBAL_AVGPOOL:
        l.out_h = l.out_w = 1;
        break;
    case NAS_LAYER_DENSE:
        l.out_h = l.out_w = 1;
        break;
    case NAS_LAYER_CONCAT: {
        int c1, h1, w1;
        shape_of(d, in1, &c1, &h1, &w1);
        l.out_c = l.in_c + c1;
        break;
    }
    default:
        break;
    }
    plane = (long)l.out_h * l.out_w;
    switch (kind) {
    case NAS_LAYER_CONV:
        l.params = (long)l.out_c * l.in_c * k * k;
        l.macs = l.params * plane;
        break;
    case NAS_LAYER_DEPTHWISE:
        l.params = (long)l.in_c * k * k;
        l.macs = l.params * plane;
        break;
    case NAS_LAYER_DENSE:
        l.macs = (long)l.in_c * l.in_h * l.in_w * l.out_c;
        l.params = l.macs + l.out_c;
        break;
    case NAS_LAYER_BATCHNORM:
        l.params = 2L * l.out_c;
        break;
    default:
        break;
    }
    ar->layers[ar->n] = l;
    ar->params += l.params;
    ar->macs += l.macs;
    if (mul_gene >= 0) ar->mul_layers++;
    return ar->n++;
}

int nas_dec_conv_bn(nas_decoder *d, int in, int out_c, int k, int stride, int mul_gene, int act)
{
    int x = nas_dec_emit(d, NAS_LAYER_CONV, in, -2, out_c, k, stride, k / 2, mul_gene);
    x = nas_dec_emit(d, NAS_LAYER_BATCHNORM, x, -2, 0, 0, 1, 0, -1);
    if (act >= 0) x = nas_dec_emit(d, (nas_layer_kind)act, x, -2, 0, 0, 1, 0, -1);
    return x;
}

static int dw_bn(nas_decoder *d, int in, int k, int mul_gene, nas_layer_kind act)
{
    int x = nas_dec_emit(d, NAS_LAYER_DEPTHWISE, in, -2, 0, k, 1, k / 2, mul_gene);
    x = nas_dec_emit(d, NAS_LAYER_BATCHNORM, x, -2, 0, 0, 1, 0, -1);
    return nas_dec_emit(d, act, x, -2, 0, 0, 1, 0, -1);
}

static int channels_of(const nas_decoder *d, int id)
{
    int c, h, w;
    shape_of(d, id, &c, &h, &w);
    return c;
}

int nas_dec_op(nas_decoder *d, nas_op op, int x, int width, int m0, int m1, int m2)
{
    int c_in = channels_of(d, x);
    switch (op) {
    case NAS_OP_CONV3X3:
    case NAS_OP_CONV5X5:
        return nas_dec_conv_bn(d, x, width, op == NAS_OP_CONV3X3 ? 3 : 5, 1, m0, NAS_LAYER_RELU);
    case NAS_OP_SEP3X3:
    case NAS_OP_SEP5X5: {
        int y = dw_bn(d, x, op == NAS_OP_SEP3X3 ? 3 : 5, m0, NAS_LAYER_RELU);
        return nas_dec_conv_bn(d, y, width, 1, 1, m1, NAS_LAYER_RELU);
    }
    case NAS_OP_MBCONV3:
    case NAS_OP_MBCONV6: {
        int e = op == NAS_OP_MBCONV3 ? 3 : 6;
        int y = nas_dec_conv_bn(d, x, c_in * e, 1, 1, m0, NAS_LAYER_RELU6);
        y = dw_bn(d, y, 3, m1, NAS_LAYER_RELU6);
        y = nas_dec_conv_bn(d, y, width, 1, 1, m2, -1);
        if (c_in == width) y = nas_dec_emit(d, NAS_LAYER_ADD, y, x, 0, 0, 1, 0, -1);
        return y;
    }
    case NAS_OP_RESBLOCK: {
        int y = nas_dec_conv_bn(d, x, width, 3, 1, m0, NAS_LAYER_RELU);
        y = nas_dec_conv_bn(d, y, width, 3, 1, m1, -1);
        int skip = x;
        if (c_in != width) skip = nas_dec_conv_bn(d, x, width, 1, 1, m2, -1);
        y = nas_dec_emit(d, NAS_LAYER_ADD, y, skip, 0, 0, 1, 0, -1);
        return nas_dec_emit(d, NAS_LAYER_RELU, y, -2, 0, 0, 1, 0, -1);
    }
    case NAS_OP_MAXPOOL:
        return nas_dec_emit(d, NAS_LAYER_MAXPOOL, x, -2, 0, 3, 1, 1, -1);
    case NAS_OP_AVGPOOL:
        return nas_dec_emit(d, NAS_LAYER_AVGPOOL, x, -2, 0, 3, 1, 1, -1);
    case NAS_OP_IDENTITY:
    default:
        return x;
    }
}

static bool op_uses_width(nas_op op)
{
    return op != NAS_OP_MAXPOOL && op != NAS_OP_AVGPOOL && op != NAS_OP_IDENTITY;
}

/* Emits the cell of stage s on input x; returns the cell's output id. */
static int emit_cell(nas_decoder *d, int s, int x)
{
    const nas_space *sp = d->sp;
    int base = (sp->shared_cells ? 0 : s) * cell_len(sp);
    int out_gene = base + sp->nodes * 4;
    mark(d, out_gene);
    bool used[NAS_MAX_NODES + 1] = {false};
    used[d->g[out_gene] + 1] = true;
    for (int j = sp->nodes; j >= 1; j--) {
        if (!used[j]) continue;
        used[d->g[base + (j - 1) * 4 + 1]] = true;
        used[d->g[base + (j - 1) * 4 + 2]] = true;
    }
    int val[NAS_MAX_NODES + 1];
    val[0] = x;
    int growth = 1;
    for (int i = 0; i < s; i++) growth *= sp->width_growth;
    nas_dec_summary(d, " | s%d[", s);
    for (int j = 1; j <= sp->nodes; j++) {
        if (!used[j]) continue;
        const int *ng = d->g + base + (j - 1) * 4;
        nas_op op = sp->ops[ng[0]];
        int lo = ng[1] < ng[2] ? ng[1] : ng[2];
        int hi = ng[1] < ng[2] ? ng[2] : ng[1];
        for (int f = 0; f < 3; f++) mark(d, base + (j - 1) * 4 + f);
        int width = sp->widths[ng[3]] * growth;
        if (op_uses_width(op)) mark(d, base + (j - 1) * 4 + 3);
        int in = val[lo];
        if (lo != hi) in = nas_dec_emit(d, NAS_LAYER_CONCAT, val[lo], val[hi], 0, 0, 1, 0, -1);
        int m0 = gene_node_mul(sp, s, j - 1, 0);
        val[j] = nas_dec_op(d, op, in, width, m0, m0 + 1, m0 + 2);
        nas_dec_summary(d, " %d=%s", j, nas_op_name(op));
        if (op_uses_width(op)) nas_dec_summary(d, "/%d", width);
        if (lo == hi) nas_dec_summary(d, "(%d)", lo);
        else nas_dec_summary(d, "(%d+%d)", lo, hi);
    }
    nas_dec_summary(d, " ]>%d", d->g[out_gene] + 1);
    return val[d->g[out_gene] + 1];
}

static eng_status decode(const nas_space *sp, const int *genes, nas_arch *arch, bool *active)
{
    nas_decoder d = {.sp = sp, .g = genes, .arch = arch, .active = active, .st = ENG_OK};
    nas_dec_summary(&d, "stem%d", sp->stem_width);
    int x = nas_dec_conv_bn(&d, -1, sp->stem_width, 3, sp->stem_stride > 1 ? 2 : 1,
                            gene_stem_mul(sp), NAS_LAYER_RELU);
    int growth = 1;
    for (int s = 0; s < sp->stages && d.st == ENG_OK; s++) {
        if (s > 0) {
            growth *= sp->width_growth;
            x = nas_dec_conv_bn(&d, x, sp->stem_width * growth, 3, 2,
                                gene_reduction_mul(sp, s), NAS_LAYER_RELU);
            nas_dec_summary(&d, " | red%d", sp->stem_width * growth);
        }
        x = emit_cell(&d, s, x);
    }
    x = nas_dec_emit(&d, NAS_LAYER_GLOBAL_AVGPOOL, x, -2, 0, 0, 1, 0, -1);
    nas_dec_emit(&d, NAS_LAYER_DENSE, x, -2, sp->classes, 0, 1, 0, gene_classifier_mul(sp));
    nas_dec_summary(&d, " | fc%d", sp->classes);
    return d.st;
}

void nas_genome_active(const nas_space *sp, const int *genes, bool *active)
{
    memset(active, 0, sizeof(bool) * (size_t)nas_genome_length(sp));
    nas_arch arch = {0};
    eng_status st = decode(sp, genes, &arch, active);
    ENG_ASSERT(st == ENG_OK);
    nas_arch_free(&arch);
}

eng_status nas_genome_decode(const nas_space *sp, const int *genes, nas_arch *out)
{
    memset(out, 0, sizeof *out);
    if (!nas_genome_valid(sp, genes))
        return eng_error(ENG_ERR_ARG, "genome has a gene out of its range");
    eng_status st = decode(sp, genes, out, NULL);
    if (st != ENG_OK) nas_arch_free(out);
    return st;
}

void nas_arch_free(nas_arch *arch)
{
    if (!arch) return;
    free(arch->layers);
    memset(arch, 0, sizeof *arch);
}

static uint64_t fnv_int(uint64_t h, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)(v >> (8 * i)) & 0xFF;
        h *= 0x100000001B3ull;
    }
    return h;
}

uint64_t nas_arch_hash(const nas_arch *arch)
{
    uint64_t h = 0xCBF29CE484222325ull;
    h = fnv_int(h, arch->n);
    for (int i = 0; i < arch->n; i++) {
        const nas_layer *l = &arch->layers[i];
        const int v[] = {l->kind, l->in[0], l->in[1], l->in_c, l->in_h, l->in_w, l->out_c,
                         l->out_h, l->out_w, l->k, l->stride, l->pad, l->mul};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) h = fnv_int(h, v[j]);
    }
    return h;
}
