/*
 * netfile.c - the architecture text of searched networks and the loader of weights files.
 */
#include "netfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_weights.h"
#include "nas_build.h"
#include "nas_tower.h"

/* Appends printf output to buf at *pos; false when it does not fit. */
static bool append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = *pos < size ? vsnprintf(buf + *pos, size - *pos, fmt, ap) : -1;
    va_end(ap);
    if (w < 0 || (size_t)w >= size - *pos) return false;
    *pos += (size_t)w;
    return true;
}

eng_status netfile_arch_format(const nas_space *sp, const char *const *mul_names,
                               const eng_approx_cfg *q, const int *genes, char *buf, size_t size)
{
    size_t pos = 0;
    bool ok = append(buf, size, &pos, "nas input=%dx%dx%d classes=%d stages=%d nodes=%d "
                     "shared=%d ops=", sp->in_height, sp->in_width, sp->in_channels, sp->classes,
                     sp->stages, sp->nodes, sp->shared_cells ? 1 : 0);
    for (int i = 0; ok && i < sp->n_ops; i++)
        ok = append(buf, size, &pos, "%s%s", i ? "," : "", nas_op_name(sp->ops[i]));
    ok = ok && append(buf, size, &pos, " widths=");
    for (int i = 0; ok && i < sp->n_widths; i++)
        ok = append(buf, size, &pos, "%s%d", i ? "," : "", sp->widths[i]);
    ok = ok && append(buf, size, &pos, " growth=%d stem=%d stem_stride=%d quant=%s "
                      "weight_bits=%d multipliers=", sp->width_growth, sp->stem_width,
                      sp->stem_stride ? sp->stem_stride : 1,
                      q->mode == ENG_QUANT_SYM ? "sym" : "asym", q->weight_bits);
    for (int i = 0; ok && i < sp->n_muls; i++) {
        if (strpbrk(mul_names[i], " ,=\t\n") || !mul_names[i][0] || strlen(mul_names[i]) >= 64)
            return eng_error(ENG_ERR_ARG, "multiplier '%s': a name with a space, comma or '=' "
                             "(or of over 63 characters) cannot be stored in a weights file",
                             mul_names[i]);
        ok = append(buf, size, &pos, "%s%s", i ? "," : "", mul_names[i]);
    }
    ok = ok && append(buf, size, &pos, " genome=");
    if (ok) {
        int w = nas_genome_format(sp, genes, buf + pos, size - pos);
        ok = w >= 0;
    }
    if (!ok) return eng_error(ENG_ERR_ARG, "the network's architecture text is longer than %zu "
                              "characters", size - 1);
    return ENG_OK;
}

eng_status netfile_tower_format(const nas_tower_space *sp, const char *const *mul_names,
                                const eng_approx_cfg *q, const nas_tower *t, int k, char *buf,
                                size_t size)
{
    size_t pos = 0;
    bool ok = append(buf, size, &pos, "tower input=%dx%dx%d classes=%d stem=%d stem_stride=%d "
                     "quant=%s weight_bits=%d multipliers=", sp->in_height, sp->in_width,
                     sp->in_channels, sp->classes, sp->stem_width,
                     sp->stem_stride ? sp->stem_stride : 1,
                     q->mode == ENG_QUANT_SYM ? "sym" : "asym", q->weight_bits);
    for (int i = 0; ok && i < sp->n_muls; i++) {
        if (strpbrk(mul_names[i], " ,=\t\n") || !mul_names[i][0] || strlen(mul_names[i]) >= 64)
            return eng_error(ENG_ERR_ARG, "multiplier '%s': a name with a space, comma or '=' "
                             "(or of over 63 characters) cannot be stored in a weights file",
                             mul_names[i]);
        ok = append(buf, size, &pos, "%s%s", i ? "," : "", mul_names[i]);
    }
    ok = ok && append(buf, size, &pos, " tower=");
    if (ok) {
        /* the tower's own text with '+' for its spaces */
        int w = nas_tower_ensemble_format(sp, t, k, buf + pos, size - pos);
        ok = w >= 0;
        for (int i = 0; ok && i < w; i++)
            if (buf[pos + (size_t)i] == ' ') buf[pos + (size_t)i] = '+';
    }
    if (!ok) return eng_error(ENG_ERR_ARG, "the network's architecture text is longer than %zu "
                              "characters", size - 1);
    return ENG_OK;
}

/* Splits a comma list into ints; the count, or -1 on bad syntax or more than max. */
static int parse_ints(const char *s, int *out, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || n >= max || v < -1000000 || v > 1000000) return -1;
        out[n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        s = end;
    }
    return n;
}

/* Parses the text into a space, names, quantization and genome or tower text (malloc()ed).
 * A tower text has no cell keys (stages .. growth, genome) and a tower instead. */
static eng_status parse_arch(char *text, bool tower, nas_space *sp, netfile_net *n,
                             eng_approx_cfg *q, char **genome)
{
    memset(sp, 0, sizeof *sp);
    eng_approx_cfg_default(q);
    unsigned seen = 0;
    enum { K_INPUT, K_CLASSES, K_STAGES, K_NODES, K_SHARED, K_OPS, K_WIDTHS, K_GROWTH, K_STEM,
           K_STRIDE, K_QUANT, K_WBITS, K_MULS, K_GENOME, K_TOWER, K_COUNT };
    static const char *const keys[K_COUNT] = {"input", "classes", "stages", "nodes", "shared",
                                              "ops", "widths", "growth", "stem", "stem_stride",
                                              "quant", "weight_bits", "multipliers", "genome",
                                              "tower"};
    const unsigned cell_keys = (1u << K_STAGES) | (1u << K_NODES) | (1u << K_SHARED) |
                               (1u << K_OPS) | (1u << K_WIDTHS) | (1u << K_GROWTH) |
                               (1u << K_GENOME);
    const unsigned wanted = tower ? ((1u << K_COUNT) - 1) & ~cell_keys
                                  : ((1u << K_COUNT) - 1) & ~(1u << K_TOWER);
    char *save = NULL;
    char *tok = strtok_r(text, " ", &save);   /* "nas" */
    while ((tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) return eng_error(ENG_ERR_FORMAT, "architecture text: '%s' is not key=value", tok);
        *eq = '\0';
        const char *v = eq + 1;
        int k = 0;
        while (k < K_COUNT && strcmp(tok, keys[k]) != 0) k++;
        if (k == K_COUNT || (seen & (1u << k)) || !(wanted & (1u << k)))
            return eng_error(ENG_ERR_FORMAT, "architecture text: %s key '%s'",
                             k == K_COUNT ? "unknown" : "repeated", tok);
        seen |= 1u << k;
        int one[1], used = 0;
        bool ok = true;
        switch (k) {
        case K_INPUT:
            ok = sscanf(v, "%dx%dx%d%n", &sp->in_height, &sp->in_width, &sp->in_channels,
                        &used) == 3 && v[used] == '\0';
            break;
        case K_CLASSES: ok = parse_ints(v, &sp->classes, 1) == 1; break;
        case K_STAGES: ok = parse_ints(v, &sp->stages, 1) == 1; break;
        case K_NODES: ok = parse_ints(v, &sp->nodes, 1) == 1; break;
        case K_SHARED:
            ok = parse_ints(v, one, 1) == 1 && (one[0] == 0 || one[0] == 1);
            sp->shared_cells = one[0] == 1;
            break;
        case K_OPS: {
            char *ops_save = NULL;
            char *list = (char *)v;
            for (char *o = strtok_r(list, ",", &ops_save); ok && o;
                 o = strtok_r(NULL, ",", &ops_save)) {
                int op = nas_op_from_name(o);
                ok = op >= 0 && sp->n_ops < NAS_OP_COUNT;
                if (ok) sp->ops[sp->n_ops++] = (nas_op)op;
            }
            break;
        }
        case K_WIDTHS:
            sp->n_widths = parse_ints(v, sp->widths, NAS_MAX_WIDTHS);
            ok = sp->n_widths > 0;
            break;
        case K_GROWTH: ok = parse_ints(v, &sp->width_growth, 1) == 1; break;
        case K_STEM: ok = parse_ints(v, &sp->stem_width, 1) == 1; break;
        case K_STRIDE: ok = parse_ints(v, &sp->stem_stride, 1) == 1; break;
        case K_QUANT:
            ok = !strcmp(v, "asym") || !strcmp(v, "sym");
            q->mode = !strcmp(v, "sym") ? ENG_QUANT_SYM : ENG_QUANT_ASYM;
            break;
        case K_WBITS: ok = parse_ints(v, &q->weight_bits, 1) == 1; break;
        case K_MULS: {
            char *mul_save = NULL;
            char *list = (char *)v;
            for (char *m = strtok_r(list, ",", &mul_save); ok && m;
                 m = strtok_r(NULL, ",", &mul_save)) {
                ok = sp->n_muls < NAS_MAX_MULS && strlen(m) < sizeof n->mul_names[0];
                if (ok) snprintf(n->mul_names[sp->n_muls++], sizeof n->mul_names[0], "%s", m);
            }
            break;
        }
        case K_GENOME:
        case K_TOWER:
            *genome = strdup(v);
            ok = *genome != NULL;
            break;
        }
        if (!ok) return eng_error(ENG_ERR_FORMAT, "architecture text: bad %s '%s'", tok, v);
    }
    for (int k = 0; k < K_COUNT; k++)
        if (!(seen & (1u << k)) && (wanted & (1u << k)))
            return eng_error(ENG_ERR_FORMAT, "architecture text: no %s", keys[k]);
    n->n_muls = sp->n_muls;
    if (tower) return ENG_OK; /* checked with its library (decode_tower) */
    return nas_space_check(sp) == ENG_OK ? ENG_OK
           : eng_error_prefix(ENG_ERR_FORMAT, "architecture text");
}

/* Decodes the tower text of a weights file ('+' for spaces); its library is the blocks it
 * names. */
static eng_status decode_tower(const nas_space *sp, char *text, nas_arch *out)
{
    nas_tower_space ts = {.min_blocks = 1, .max_blocks = NAS_TOWER_MAX_BLOCKS,
                          .stem_width = sp->stem_width, .stem_stride = sp->stem_stride,
                          .n_muls = sp->n_muls, .in_channels = sp->in_channels,
                          .in_height = sp->in_height, .in_width = sp->in_width,
                          .classes = sp->classes};
    for (char *c = text; *c; c++)
        if (*c == '+') *c = ' ';
    char *copy = strdup(text), *save = NULL;
    if (!copy) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        tok[strcspn(tok, "@")] = '\0';
        nas_tower_block b;
        if (!strcmp(tok, "stem") || !strcmp(tok, "fc") || !strcmp(tok, "ensemble") ||
            !strcmp(tok, "|") || nas_tower_block_parse(tok, &b))
            continue; /* nas_tower_parse names a bad block */
        bool known = false;
        char x[32], y[32];
        for (int i = 0; i < ts.n_library; i++)
            known |= !strcmp(nas_tower_block_name(&ts.library[i], x, sizeof x),
                             nas_tower_block_name(&b, y, sizeof y));
        if (!known && ts.n_library < NAS_TOWER_MAX_LIBRARY) ts.library[ts.n_library++] = b;
    }
    free(copy);
    if (ts.n_library == 0) ts.library[ts.n_library++] = (nas_tower_block){.op = NAS_OP_IDENTITY};
    nas_tower t[NAS_TOWER_MAX_ENSEMBLE];
    int k = 0;
    eng_status st = nas_tower_space_check(&ts);
    if (st == ENG_OK) st = nas_tower_ensemble_parse(&ts, text, t, &k);
    if (st == ENG_OK) st = nas_tower_decode_ensemble(&ts, t, k, out);
    return st == ENG_OK ? ENG_OK : eng_error_prefix(ENG_ERR_FORMAT, "architecture text: tower");
}

/* Rebuilds a searched network from its text (before the weights are loaded into it). */
static eng_status build_searched(const char *arch_text, bool tower, netfile_net *n)
{
    char *text = strdup(arch_text);
    char *genome = NULL;
    int *genes = NULL;
    nas_space sp;
    eng_approx_cfg q;
    if (!text) return eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_status st = parse_arch(text, tower, &sp, n, &q, &genome);
    if (st == ENG_OK && !tower) {
        genes = malloc(sizeof *genes * (size_t)nas_genome_length(&sp));
        st = genes ? nas_genome_parse(&sp, genome, genes)
                   : eng_error(ENG_ERR_NOMEM, "out of memory");
        if (st != ENG_OK) st = eng_error_prefix(ENG_ERR_FORMAT, "architecture text: genome");
    }
    for (int i = 0; st == ENG_OK && i < sp.n_muls; i++) {
        st = eng_mul_load(n->mul_names[i], &n->muls[i]);
        if (st != ENG_OK) st = eng_error_prefix(st, "multiplier '%s'", n->mul_names[i]);
    }
    if (st == ENG_OK) st = tower ? decode_tower(&sp, genome, &n->arch)
                                 : nas_genome_decode(&sp, genes, &n->arch);
    if (st == ENG_OK)
        st = nas_arch_build(&n->arch, &sp, (const eng_mul *const *)n->muls, &q, &n->net, NULL);
    if (st == ENG_OK) st = eng_net_set_arch(n->net, arch_text);
    free(genes);
    free(genome);
    free(text);
    return st;
}

eng_status netfile_load(const char *path, netfile_net *out)
{
    memset(out, 0, sizeof *out);
    char *arch = malloc(ENG_NET_ARCH_MAX);
    if (!arch) return eng_error(ENG_ERR_NOMEM, "out of memory");
    eng_status st = eng_weights_read_arch(path, arch, ENG_NET_ARCH_MAX);
    bool tower = st == ENG_OK && strncmp(arch, "tower ", 6) == 0;
    if (st == ENG_OK && (tower || strncmp(arch, "nas ", 4) == 0)) {
        out->searched = true;
        st = build_searched(arch, tower, out);
        if (st != ENG_OK) st = eng_error_prefix(st, "%s", path);
        if (st == ENG_OK) st = eng_weights_load_into(out->net, path);
    } else if (st == ENG_OK) {
        st = eng_weights_load(path, &out->net);
    }
    free(arch);
    if (st != ENG_OK) netfile_free(out);
    return st;
}

void netfile_free(netfile_net *n)
{
    if (!n) return;
    eng_net_free(n->net);
    for (int i = 0; i < NAS_MAX_MULS; i++) eng_mul_free(n->muls[i]);
    nas_arch_free(&n->arch);
    memset(n, 0, sizeof *n);
}
