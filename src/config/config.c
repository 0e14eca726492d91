/*
 * config.c - strict YAML config parsing (libyaml document API) with file:line:col messages.
 *
 * Every mapping is read through a cfg_map: map_get() looks a key up and marks it used, and
 * map_finish() reports the first key nobody asked for, with the closest known key as a hint
 * (the declarative, used-key-marking reader of Darknet's option_list, but strict).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "yaml_limits.h"

static const char *const objective_names[CFG_OBJECTIVE_COUNT] = {"error", "energy", "params",
                                                                 "macs", "mul_energy"};

static const char *const strategy_names[] = {"nsga2", "model_search"};
static const char *const algorithm_names[] = {"random", "coordinate_descent",
                                              "constrained_descent"};
static const char *const budget_names[] = {"mul_energy", "energy", "params", "macs"};

const char *cfg_strategy_name(cfg_strategy s)
{
    return (unsigned)s < 2 ? strategy_names[s] : "?";
}

const char *cfg_ms_algorithm_name(cfg_ms_algorithm a)
{
    return (unsigned)a < 3 ? algorithm_names[a] : "?";
}

const char *cfg_objective_name(cfg_objective obj)
{
    return (unsigned)obj < CFG_OBJECTIVE_COUNT ? objective_names[obj] : "?";
}

/* ------------------------------------------------------------------------------------------
 * Reader context and messages
 * ---------------------------------------------------------------------------------------- */

typedef struct reader {
    yaml_document_t doc;
    const char *path;
    char dir[CFG_PATH_MAX];     /* directory of the config file ("." when none) */
    bool *used;                 /* per node index (1-based): key consumed */
    eng_status st;              /* first error (ENG_OK while none) */
    const cfg_paths *paths;     /* overrides of the file paths, or NULL */
} reader;

typedef struct cfg_map {
    yaml_node_t *node;
    char where[96];             /* key path of this mapping ("training"), "" at the top */
    const char *asked[32];      /* keys looked up, for "did you mean" */
    int n_asked;
} cfg_map;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void fail(reader *r, const yaml_node_t *at, eng_status st, const char *fmt, ...)
{
    if (r->st != ENG_OK) return; /* keep the first error */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        eng_error(st, "%s:%lu:%lu: %s", r->path, (unsigned long)at->start_mark.line + 1,
                  (unsigned long)at->start_mark.column + 1, msg);
    else
        eng_error(st, "%s: %s", r->path, msg);
    r->st = st;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static void key_path(const cfg_map *m, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", m->where, m->where[0] ? "." : "", key);
}

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* ------------------------------------------------------------------------------------------
 * Mappings
 * ---------------------------------------------------------------------------------------- */

static bool map_open(reader *r, yaml_node_t *n, const char *where, cfg_map *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->where, sizeof m->where, "%s", where);
    if (!n || n->type != YAML_MAPPING_NODE) {
        fail(r, n, ENG_ERR_FORMAT, "%s: expected a mapping of 'key: value' lines",
             where[0] ? where : "the config");
        return false;
    }
    m->node = n;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            fail(r, k, ENG_ERR_FORMAT, "%s: keys must be plain words", where[0] ? where : "top");
            return false;
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(&r->doc, q->key);
            if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k), scalar(k2)) == 0) {
                char kp[160];
                key_path(m, scalar(k), kp, sizeof kp);
                fail(r, k, ENG_ERR_FORMAT, "duplicate key '%s' (first given on line %lu)", kp,
                     (unsigned long)k2->start_mark.line + 1);
                return false;
            }
        }
    }
    return true;
}

/* The value of key, or NULL when absent (or when an error is pending). */
static yaml_node_t *map_get(reader *r, cfg_map *m, const char *key)
{
    if (m->n_asked < (int)(sizeof m->asked / sizeof m->asked[0])) m->asked[m->n_asked++] = key;
    if (r->st != ENG_OK || !m->node) return NULL;
    yaml_node_t *n = m->node;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        if (strcmp(scalar(k), key) == 0) {
            r->used[p->key] = true;
            return yaml_document_get_node(&r->doc, p->value);
        }
    }
    return NULL;
}

static void map_finish(reader *r, cfg_map *m)
{
    if (r->st != ENG_OK || !m->node) return;
    yaml_node_t *n = m->node;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        if (r->used[p->key]) continue;
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        const char *best = NULL;
        int best_d = 99;
        char allowed[600] = "";
        size_t len = 0;
        for (int i = 0; i < m->n_asked; i++) {
            int d = edit_distance(scalar(k), m->asked[i]);
            if (d < best_d) best_d = d, best = m->asked[i];
            int w = snprintf(allowed + len, sizeof allowed - len, "%s%s", i ? ", " : "",
                             m->asked[i]);
            if (w > 0 && (size_t)w < sizeof allowed - len) len += (size_t)w;
        }
        char kp[160];
        key_path(m, scalar(k), kp, sizeof kp);
        if (best && best_d <= 2 + (int)strlen(best) / 5)
            fail(r, k, ENG_ERR_FORMAT, "unknown key '%s' (did you mean '%s'?)", kp, best);
        else
            fail(r, k, ENG_ERR_FORMAT, "unknown key '%s'; known keys here: %s", kp, allowed);
        return;
    }
}

/* ------------------------------------------------------------------------------------------
 * Typed values
 * ---------------------------------------------------------------------------------------- */

/* A plain (unquoted) scalar suitable for a number or boolean, else an error. */
static const char *plain_scalar(reader *r, const cfg_map *m, const char *key, yaml_node_t *v,
                                const char *what)
{
    char kp[160];
    key_path(m, key, kp, sizeof kp);
    if (v->type != YAML_SCALAR_NODE) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected %s, found a %s", kp, what,
             v->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return NULL;
    }
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected %s, found the quoted string \"%s\" (hint: "
             "remove the quotes)", kp, what, scalar(v));
        return NULL;
    }
    if (!scalar(v)[0]) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected %s, found nothing", kp, what);
        return NULL;
    }
    return scalar(v);
}

static bool parse_long_value(reader *r, const cfg_map *m, const char *key, yaml_node_t *v,
                             long min, long max, long *out)
{
    const char *s = plain_scalar(r, m, key, v, "an integer");
    if (!s) return false;
    char kp[160], *end;
    key_path(m, key, kp, sizeof kp);
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end || errno) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected an integer, found '%s'", kp, s);
        return false;
    }
    if (x < min || x > max) {
        fail(r, v, ENG_ERR_ARG, "%s: %ld is out of range (allowed: %ld to %ld)", kp, x, min, max);
        return false;
    }
    *out = x;
    return true;
}

static void get_long(reader *r, cfg_map *m, const char *key, bool required, long def, long min,
                     long max, long *out)
{
    yaml_node_t *v = map_get(r, m, key);
    if (!v) {
        if (required && r->st == ENG_OK) {
            char kp[160];
            key_path(m, key, kp, sizeof kp);
            fail(r, m->node, ENG_ERR_FORMAT, "missing required key '%s' (an integer from %ld "
                 "to %ld)", kp, min, max);
        }
        *out = def;
        return;
    }
    if (!parse_long_value(r, m, key, v, min, max, out)) *out = def;
}

static void get_int(reader *r, cfg_map *m, const char *key, bool required, int def, int min,
                    int max, int *out)
{
    long x;
    get_long(r, m, key, required, def, min, max, &x);
    *out = (int)x;
}

static void get_double(reader *r, cfg_map *m, const char *key, double def, double min,
                       double max, double *out)
{
    *out = def;
    yaml_node_t *v = map_get(r, m, key);
    if (!v) return;
    const char *s = plain_scalar(r, m, key, v, "a number");
    if (!s) return;
    char kp[160], *end;
    key_path(m, key, kp, sizeof kp);
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno || !isfinite(x)) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected a number, found '%s'", kp, s);
        return;
    }
    if (x < min || x > max) {
        fail(r, v, ENG_ERR_ARG, "%s: %g is out of range (allowed: %g to %g)", kp, x, min, max);
        return;
    }
    *out = x;
}

static void get_bool(reader *r, cfg_map *m, const char *key, bool def, bool *out)
{
    *out = def;
    yaml_node_t *v = map_get(r, m, key);
    if (!v) return;
    const char *s = plain_scalar(r, m, key, v, "true or false");
    if (!s) return;
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) *out = false;
    else {
        char kp[160];
        key_path(m, key, kp, sizeof kp);
        fail(r, v, ENG_ERR_FORMAT, "%s: expected true or false, found '%s'", kp, s);
    }
}

/* A string scalar; returns the node (NULL when absent or on error). */
static yaml_node_t *get_string(reader *r, cfg_map *m, const char *key, bool required,
                               const char *def, char *buf, size_t size)
{
    snprintf(buf, size, "%s", def ? def : "");
    yaml_node_t *v = map_get(r, m, key);
    char kp[160];
    key_path(m, key, kp, sizeof kp);
    if (!v) {
        if (required) fail(r, m->node, ENG_ERR_FORMAT, "missing required key '%s'", kp);
        return NULL;
    }
    if (v->type != YAML_SCALAR_NODE || !scalar(v)[0]) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected a string", kp);
        return NULL;
    }
    if (strlen(scalar(v)) >= size) {
        fail(r, v, ENG_ERR_ARG, "%s: longer than %zu characters", kp, size - 1);
        return NULL;
    }
    snprintf(buf, size, "%s", scalar(v));
    return v;
}

/* One of names[] (returns its index), or def when absent. */
static int get_enum(reader *r, cfg_map *m, const char *key, int def, const char *const *names,
                    int n)
{
    char buf[64];
    yaml_node_t *v = get_string(r, m, key, false, NULL, buf, sizeof buf);
    if (!v) return def;
    for (int i = 0; i < n; i++)
        if (strcmp(buf, names[i]) == 0) return i;
    char kp[160], allowed[256] = "";
    key_path(m, key, kp, sizeof kp);
    for (int i = 0; i < n; i++) {
        strncat(allowed, i ? ", " : "", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, names[i], sizeof allowed - strlen(allowed) - 1);
    }
    fail(r, v, ENG_ERR_ARG, "%s: '%s' is not one of: %s", kp, buf, allowed);
    return def;
}

/* A list value (block or flow) with min..max items; NULL when absent or on error. */
static yaml_node_t *get_list(reader *r, cfg_map *m, const char *key, int min, int max)
{
    yaml_node_t *v = map_get(r, m, key);
    if (!v) return NULL;
    char kp[160];
    key_path(m, key, kp, sizeof kp);
    if (v->type != YAML_SEQUENCE_NODE) {
        fail(r, v, ENG_ERR_FORMAT, "%s: expected a list such as [a, b]", kp);
        return NULL;
    }
    long n = v->data.sequence.items.top - v->data.sequence.items.start;
    if (n < min || n > max) {
        fail(r, v, ENG_ERR_ARG, "%s: %ld items, allowed %d to %d", kp, n, min, max);
        return NULL;
    }
    return v;
}

static int list_len(const yaml_node_t *v)
{
    return (int)(v->data.sequence.items.top - v->data.sequence.items.start);
}

static yaml_node_t *list_item(reader *r, const yaml_node_t *v, int i)
{
    return yaml_document_get_node(&r->doc, v->data.sequence.items.start[i]);
}

/* An item that must be a word (scalar). */
static const char *list_word(reader *r, const cfg_map *m, const char *key, yaml_node_t *it)
{
    if (it->type == YAML_SCALAR_NODE && scalar(it)[0]) return scalar(it);
    char kp[160];
    key_path(m, key, kp, sizeof kp);
    fail(r, it, ENG_ERR_FORMAT, "%s: every item must be a word", kp);
    return NULL;
}

/* Resolves a path relative to the config file's directory and checks that it exists. */
static void resolve_path(reader *r, const cfg_map *m, const char *key, yaml_node_t *at,
                         char *path, size_t size, bool want_dir)
{
    if (r->st != ENG_OK || !at) return;
    char kp[160], full[CFG_PATH_MAX];
    key_path(m, key, kp, sizeof kp);
    const char *over = !r->paths ? NULL
                     : strcmp(kp, "dataset.path") == 0 ? r->paths->dataset
                     : strcmp(kp, "energy.accelerator") == 0 ? r->paths->accelerator : NULL;
    if (over) snprintf(path, size, "%s", over);
    if (path[0] == '/' || over) snprintf(full, sizeof full, "%s", path);
    else if ((size_t)snprintf(full, sizeof full, "%s/%s", r->dir, path) >= sizeof full) {
        fail(r, at, ENG_ERR_ARG, "%s: path too long", kp);
        return;
    }
    struct stat sb;
    if (r->paths && r->paths->unchecked) {
        snprintf(path, size, "%s", full);
        return;
    }
    if (stat(full, &sb) != 0) {
        if (over) fail(r, at, ENG_ERR_NOT_FOUND, "%s: '%s' (given instead of the config's) does "
                       "not exist", kp, full);
        else fail(r, at, ENG_ERR_NOT_FOUND, "%s: '%s' does not exist (relative paths are taken "
                  "from the config file's directory %s)", kp, full, r->dir);
        return;
    }
    if (want_dir != S_ISDIR(sb.st_mode)) {
        fail(r, at, ENG_ERR_NOT_FOUND, "%s: '%s' is not a %s", kp, full,
             want_dir ? "directory" : "file");
        return;
    }
    snprintf(path, size, "%s", full);
}

/* ------------------------------------------------------------------------------------------
 * Sections
 * ---------------------------------------------------------------------------------------- */

static void read_dataset(reader *r, yaml_node_t *n, cfg_search *c)
{
    static const char *const kinds[CFG_DATASET_COUNT] = {"idx", "cifar10"};
    cfg_map m;
    if (!n) {
        fail(r, yaml_document_get_root_node(&r->doc), ENG_ERR_FORMAT,
             "missing required section 'dataset' (kind, path, train, validation)");
        return;
    }
    if (!map_open(r, n, "dataset", &m)) return;
    int kind = get_enum(r, &m, "kind", -1, kinds, CFG_DATASET_COUNT);
    if (r->st == ENG_OK && kind < 0)
        fail(r, n, ENG_ERR_FORMAT, "missing required key 'dataset.kind' (idx or cifar10)");
    c->dataset.kind = kind < 0 ? CFG_DATASET_IDX : (cfg_dataset_kind)kind;
    yaml_node_t *p = get_string(r, &m, "path", true, NULL, c->dataset.path, sizeof c->dataset.path);
    resolve_path(r, &m, "path", p, c->dataset.path, sizeof c->dataset.path, true);
    get_int(r, &m, "train", false, 5000, 10, 10000000, &c->dataset.train);
    get_int(r, &m, "validation", false, 1000, 10, 10000000, &c->dataset.validation);
    get_int(r, &m, "test", false, 0, 0, 10000000, &c->dataset.test);
    map_finish(r, &m);
}

static void read_space(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    nas_space *sp = &c->space;
    if (!n) {
        fail(r, yaml_document_get_root_node(&r->doc), ENG_ERR_FORMAT,
             "missing required section 'search_space' (at least its 'multipliers' list)");
        return;
    }
    if (!map_open(r, n, "search_space", &m)) return;
    get_int(r, &m, "stages", false, 2, 1, NAS_MAX_STAGES, &sp->stages);
    get_int(r, &m, "nodes", false, 4, 1, NAS_MAX_NODES, &sp->nodes);
    get_bool(r, &m, "shared_cells", false, &sp->shared_cells);

    yaml_node_t *ops = get_list(r, &m, "ops", 1, NAS_OP_COUNT);
    if (ops) {
        sp->n_ops = list_len(ops);
        for (int i = 0; i < sp->n_ops && r->st == ENG_OK; i++) {
            yaml_node_t *it = list_item(r, ops, i);
            const char *w = list_word(r, &m, "ops", it);
            int op = w ? nas_op_from_name(w) : 0;
            if (w && op < 0) {
                char all[256] = "";
                for (int k = 0; k < NAS_OP_COUNT; k++) {
                    strncat(all, k ? ", " : "", sizeof all - strlen(all) - 1);
                    strncat(all, nas_op_name((nas_op)k), sizeof all - strlen(all) - 1);
                }
                fail(r, it, ENG_ERR_ARG, "search_space.ops: unknown op '%s' (known: %s)", w, all);
            }
            for (int k = 0; k < i && r->st == ENG_OK; k++)
                if ((int)sp->ops[k] == op)
                    fail(r, it, ENG_ERR_ARG, "search_space.ops: '%s' listed twice", w);
            sp->ops[i] = (nas_op)op;
        }
    } else {
        sp->n_ops = NAS_OP_COUNT;
        for (int i = 0; i < NAS_OP_COUNT; i++) sp->ops[i] = (nas_op)i;
    }

    yaml_node_t *widths = get_list(r, &m, "widths", 1, NAS_MAX_WIDTHS);
    if (widths) {
        sp->n_widths = list_len(widths);
        for (int i = 0; i < sp->n_widths && r->st == ENG_OK; i++) {
            long w;
            if (parse_long_value(r, &m, "widths", list_item(r, widths, i), 1, 1024, &w))
                sp->widths[i] = (int)w;
        }
    } else if (r->st == ENG_OK) {
        sp->n_widths = 2, sp->widths[0] = 16, sp->widths[1] = 32;
    }
    get_int(r, &m, "width_growth", false, 2, 1, 4, &sp->width_growth);
    get_int(r, &m, "stem_width", false, 16, 1, 1024, &sp->stem_width);
    get_int(r, &m, "stem_stride", false, 1, 1, 2, &sp->stem_stride);

    yaml_node_t *muls = get_list(r, &m, "multipliers", 1, NAS_MAX_MULS);
    if (r->st == ENG_OK && !muls)
        fail(r, n, ENG_ERR_FORMAT, "missing required key 'search_space.multipliers' (a list of "
             "multiplier names such as [mul8u_1JFF, mul8u_2AC]; see `evoapproxnas luts`)");
    if (muls && r->st == ENG_OK) {
        sp->n_muls = list_len(muls);
        c->mul_names = calloc((size_t)sp->n_muls, sizeof *c->mul_names);
        c->mul_lines = calloc((size_t)sp->n_muls, sizeof *c->mul_lines);
        if (!c->mul_names || !c->mul_lines) {
            fail(r, NULL, ENG_ERR_NOMEM, "out of memory");
            return;
        }
        for (int i = 0; i < sp->n_muls && r->st == ENG_OK; i++) {
            yaml_node_t *it = list_item(r, muls, i);
            const char *w = list_word(r, &m, "multipliers", it);
            if (!w) break;
            if (strlen(w) >= CFG_NAME_MAX) {
                fail(r, it, ENG_ERR_ARG, "search_space.multipliers: name too long");
                break;
            }
            for (int k = 0; k < i; k++)
                if (strcmp(c->mul_names[k], w) == 0)
                    fail(r, it, ENG_ERR_ARG, "search_space.multipliers: '%s' listed twice", w);
            snprintf(c->mul_names[i], CFG_NAME_MAX, "%s", w);
            c->mul_lines[i] = (int)it->start_mark.line + 1;
        }
    }
    map_finish(r, &m);
}

static void read_nsga2(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    if (!n) {
        c->nsga2.population = 16, c->nsga2.offspring = 16, c->nsga2.generations = 10;
        c->nsga2.crossover_rate = 0.9, c->nsga2.mutation_rate = 0.05;
        c->nsga2.exact_share = 0.25, c->nsga2.uniform_share = 0.25;
        c->nsga2.asynchronous = false;
        return;
    }
    if (!map_open(r, n, "nsga2", &m)) return;
    get_int(r, &m, "population", false, 16, 4, 10000, &c->nsga2.population);
    get_int(r, &m, "offspring", false, c->nsga2.population, 2, 10000, &c->nsga2.offspring);
    get_int(r, &m, "generations", false, 10, 1, 100000, &c->nsga2.generations);
    get_double(r, &m, "crossover_rate", 0.9, 0.0, 1.0, &c->nsga2.crossover_rate);
    get_double(r, &m, "mutation_rate", 0.05, 0.0, 1.0, &c->nsga2.mutation_rate);
    get_double(r, &m, "exact_share", 0.25, 0.0, 1.0, &c->nsga2.exact_share);
    get_double(r, &m, "uniform_share", 0.25, 0.0, 1.0, &c->nsga2.uniform_share);
    static const char *const modes[] = {"generational", "asynchronous"};
    c->nsga2.asynchronous = get_enum(r, &m, "mode", 0, modes, 2) == 1;
    if (r->st == ENG_OK && c->nsga2.exact_share + c->nsga2.uniform_share > 1.0)
        fail(r, n, ENG_ERR_ARG, "nsga2: exact_share + uniform_share = %g is more than 1",
             c->nsga2.exact_share + c->nsga2.uniform_share);
    map_finish(r, &m);
}

/* The default block library: every op of the search space at every width a stage of the
 * genome can have (widths x growth^s), pools and identity once, and the genome's reductions
 * as downsampling blocks. */
static void default_blocks(cfg_search *c)
{
    const nas_space *sp = &c->space;
    int *n = &c->model_search.n_blocks;
    for (int i = 0; i < sp->n_ops; i++) {
        nas_op op = sp->ops[i];
        if (op == NAS_OP_MAXPOOL || op == NAS_OP_AVGPOOL || op == NAS_OP_IDENTITY) {
            if (*n < NAS_TOWER_MAX_LIBRARY)
                c->model_search.blocks[(*n)++] = (nas_tower_block){.op = op};
            continue;
        }
        int growth = 1;
        for (int s = 0; s < sp->stages; s++, growth *= sp->width_growth) {
            for (int w = 0; w < sp->n_widths; w++) {
                nas_tower_block b = {.op = op, .width = sp->widths[w] * growth};
                bool seen = false;
                for (int k = 0; k < *n; k++)
                    seen |= !c->model_search.blocks[k].down &&
                            c->model_search.blocks[k].op == op &&
                            c->model_search.blocks[k].width == b.width;
                if (!seen && *n < NAS_TOWER_MAX_LIBRARY) c->model_search.blocks[(*n)++] = b;
            }
        }
    }
    int growth = 1;
    for (int s = 1; s < sp->stages; s++) {
        growth *= sp->width_growth;
        if (*n < NAS_TOWER_MAX_LIBRARY)
            c->model_search.blocks[(*n)++] =
                (nas_tower_block){.down = true, .width = sp->stem_width * growth};
    }
}

/* model_search: (read after search_space and nsga2, whose values give the defaults). */
static void read_model_search(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    const nas_space *sp = &c->space;
    cfg_model_search *ms = &c->model_search;
    int trials = c->nsga2.population + c->nsga2.generations * c->nsga2.offspring;
    ms->algorithm = CFG_MS_COORDINATE_DESCENT;
    ms->trials = trials;
    ms->random_trials = trials / 3 > 1 ? trials / 3 : 1;
    ms->exact_share = c->nsga2.exact_share;
    ms->top_k = 5;
    ms->batch = c->nsga2.offspring;
    ms->min_blocks = 1;
    ms->max_blocks = sp->stages * sp->nodes + sp->stages - 1;
    if (ms->max_blocks > NAS_TOWER_MAX_BLOCKS) ms->max_blocks = NAS_TOWER_MAX_BLOCKS;
    ms->budget_kind = CFG_BUDGET_MUL_ENERGY;
    if (!n) {
        default_blocks(c);
        if (c->strategy == CFG_STRATEGY_MODEL_SEARCH && ms->trials > 0 &&
            ms->random_trials > ms->trials)
            ms->random_trials = ms->trials;
        return;
    }
    if (c->strategy != CFG_STRATEGY_MODEL_SEARCH) {
        fail(r, n, ENG_ERR_FORMAT, "model_search: given, but the strategy is nsga2 (add "
             "'strategy: model_search')");
        return;
    }
    if (!map_open(r, n, "model_search", &m)) return;
    ms->algorithm = (cfg_ms_algorithm)get_enum(r, &m, "algorithm", CFG_MS_COORDINATE_DESCENT,
                                               algorithm_names, 3);
    get_int(r, &m, "trials", false, trials, 1, 1000000, &ms->trials);
    get_int(r, &m, "random_trials", false, ms->trials / 3 > 1 ? ms->trials / 3 : 1, 1,
            1000000, &ms->random_trials);
    get_double(r, &m, "exact_share", c->nsga2.exact_share, 0.0, 1.0, &ms->exact_share);
    get_int(r, &m, "top_k", false, 5, 1, 10000, &ms->top_k);
    get_int(r, &m, "batch", false, c->nsga2.offspring, 1, 10000, &ms->batch);
    yaml_node_t *blocks = get_list(r, &m, "blocks", 1, NAS_TOWER_MAX_LIBRARY);
    if (blocks) {
        ms->n_blocks = list_len(blocks);
        for (int i = 0; i < ms->n_blocks && r->st == ENG_OK; i++) {
            yaml_node_t *it = list_item(r, blocks, i);
            const char *w = list_word(r, &m, "blocks", it);
            if (!w) break;
            if (nas_tower_block_parse(w, &ms->blocks[i]) != ENG_OK) {
                fail(r, it, ENG_ERR_ARG, "model_search.blocks: %s", eng_last_error());
                break;
            }
            char a[32], b[32];
            for (int k = 0; k < i; k++)
                if (strcmp(nas_tower_block_name(&ms->blocks[k], a, sizeof a),
                           nas_tower_block_name(&ms->blocks[i], b, sizeof b)) == 0)
                    fail(r, it, ENG_ERR_ARG, "model_search.blocks: '%s' listed twice", w);
        }
    } else if (r->st == ENG_OK) {
        default_blocks(c);
    }
    get_int(r, &m, "min_blocks", false, 1, 1, NAS_TOWER_MAX_BLOCKS, &ms->min_blocks);
    get_int(r, &m, "max_blocks", false, ms->max_blocks > ms->min_blocks ? ms->max_blocks
                                                                        : ms->min_blocks,
            1, NAS_TOWER_MAX_BLOCKS, &ms->max_blocks);
    if (r->st == ENG_OK && ms->min_blocks > ms->max_blocks)
        fail(r, n, ENG_ERR_ARG, "model_search: min_blocks %d is more than max_blocks %d",
             ms->min_blocks, ms->max_blocks);
    if (r->st == ENG_OK && ms->random_trials > ms->trials)
        fail(r, n, ENG_ERR_ARG, "model_search: random_trials %d is more than trials %d",
             ms->random_trials, ms->trials);
    get_int(r, &m, "ensemble", false, 0, 0, NAS_TOWER_MAX_ENSEMBLE, &ms->ensemble);
    if (r->st == ENG_OK && ms->ensemble == 1)
        fail(r, n, ENG_ERR_ARG, "model_search: ensemble 1 is no ensemble (0 for none, 2 to %d)",
             NAS_TOWER_MAX_ENSEMBLE);
    yaml_node_t *bn = map_get(r, &m, "budget");
    if (bn) {
        cfg_map bm;
        if (map_open(r, bn, "model_search.budget", &bm)) {
            ms->budget_kind = (cfg_budget_kind)get_enum(r, &bm, "kind", CFG_BUDGET_MUL_ENERGY,
                                                        budget_names, 4);
            yaml_node_t *vals = get_list(r, &bm, "values", 1, CFG_MAX_BUDGETS);
            if (r->st == ENG_OK && !vals)
                fail(r, bn, ENG_ERR_FORMAT, "missing required key 'model_search.budget.values'"
                     " (a list of limits, swept in this order)");
            for (int i = 0; vals && i < list_len(vals) && r->st == ENG_OK; i++) {
                yaml_node_t *it = list_item(r, vals, i);
                const char *v = plain_scalar(r, &bm, "values", it, "a number");
                char *end;
                double x = v ? strtod(v, &end) : 0;
                if (v && (*end || !isfinite(x) || x <= 0))
                    fail(r, it, ENG_ERR_ARG, "model_search.budget.values: '%s' is not a "
                         "positive number", v);
                if (r->st == ENG_OK && i > 0 && x <= ms->budgets[i - 1])
                    fail(r, it, ENG_ERR_ARG, "model_search.budget.values: %g is not larger "
                         "than the value before it (sweep in ascending order)", x);
                ms->budgets[ms->n_budgets++] = x;
            }
            map_finish(r, &bm);
        }
    }
    if (r->st == ENG_OK && (ms->algorithm == CFG_MS_CONSTRAINED_DESCENT) != (bn != NULL))
        fail(r, bn ? bn : n, ENG_ERR_FORMAT, bn ? "model_search.budget: only constrained_descent"
             " has a budget" : "model_search: constrained_descent needs a 'budget' (kind and "
             "values)");
    map_finish(r, &m);
}

static void read_quant(reader *r, yaml_node_t *n, cfg_search *c)
{
    static const char *const modes[] = {"asym", "sym"};
    cfg_map m;
    c->quant.mode = CFG_QUANT_ASYM, c->quant.weight_bits = 0, c->quant.per_channel = true;
    c->quant.table_gradient = false, c->quant.ema_momentum = 0.01;
    if (!n) return;
    if (!map_open(r, n, "quantization", &m)) return;
    c->quant.mode = (cfg_quant_mode)get_enum(r, &m, "mode", CFG_QUANT_ASYM, modes, 2);
    get_int(r, &m, "weight_bits", false, 0, 2, 8, &c->quant.weight_bits);
    get_bool(r, &m, "per_channel", true, &c->quant.per_channel);
    get_bool(r, &m, "table_gradient", false, &c->quant.table_gradient);
    get_double(r, &m, "ema_momentum", 0.01, 1e-6, 1.0, &c->quant.ema_momentum);
    map_finish(r, &m);
}

static void read_training(reader *r, yaml_node_t *n, cfg_search *c)
{
    static const char *const schedules[] = {"constant", "cosine"};
    cfg_map m;
    c->training.epochs = 1, c->training.batch_size = 64, c->training.learning_rate = 0.05;
    c->training.momentum = 0.9, c->training.weight_decay = 5e-4, c->training.cosine = true;
    c->training.checkpoint_minutes = 5.0;
    if (!n) return;
    if (!map_open(r, n, "training", &m)) return;
    get_int(r, &m, "epochs", false, 1, 1, 1000, &c->training.epochs);
    get_int(r, &m, "batch_size", false, 64, 1, 4096, &c->training.batch_size);
    get_double(r, &m, "learning_rate", 0.05, 1e-7, 10.0, &c->training.learning_rate);
    get_double(r, &m, "momentum", 0.9, 0.0, 0.999, &c->training.momentum);
    get_double(r, &m, "weight_decay", 5e-4, 0.0, 1.0, &c->training.weight_decay);
    c->training.cosine = get_enum(r, &m, "schedule", 1, schedules, 2) == 1;
    get_int(r, &m, "crop_pad", false, 0, 0, 16, &c->training.crop_pad);
    get_bool(r, &m, "hflip", false, &c->training.hflip);
    get_double(r, &m, "checkpoint_minutes", 5.0, 0.0, 1440.0, &c->training.checkpoint_minutes);
    map_finish(r, &m);
}

static void read_energy(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    if (!n) {
        fail(r, yaml_document_get_root_node(&r->doc), ENG_ERR_FORMAT,
             "missing required section 'energy' (its 'accelerator' file, e.g. "
             "accelerators/eyeriss.yaml next to the config)");
        return;
    }
    if (!map_open(r, n, "energy", &m)) return;
    yaml_node_t *p = get_string(r, &m, "accelerator", true, NULL, c->energy.accelerator,
                                sizeof c->energy.accelerator);
    resolve_path(r, &m, "accelerator", p, c->energy.accelerator, sizeof c->energy.accelerator,
                 false);
    map_finish(r, &m);
}

static void read_objectives(reader *r, cfg_map *top, cfg_search *c)
{
    yaml_node_t *v = get_list(r, top, "objectives", 2, CFG_MAX_OBJECTIVES);
    if (!v) {
        c->n_objectives = 2;
        c->objectives[0] = CFG_OBJECTIVE_ERROR, c->objectives[1] = CFG_OBJECTIVE_ENERGY;
        return;
    }
    c->n_objectives = list_len(v);
    for (int i = 0; i < c->n_objectives && r->st == ENG_OK; i++) {
        yaml_node_t *it = list_item(r, v, i);
        const char *w = list_word(r, top, "objectives", it);
        int k = 0;
        while (w && k < CFG_OBJECTIVE_COUNT && strcmp(w, objective_names[k]) != 0) k++;
        if (w && k == CFG_OBJECTIVE_COUNT)
            fail(r, it, ENG_ERR_ARG, "objectives: unknown objective '%s' (known: error, energy, "
                 "params, macs, mul_energy)", w);
        for (int j = 0; j < i && r->st == ENG_OK; j++)
            if ((int)c->objectives[j] == k)
                fail(r, it, ENG_ERR_ARG, "objectives: '%s' listed twice", w);
        c->objectives[i] = (cfg_objective)k;
    }
}

static void read_constraints(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    c->constraints.max_error = 1.0;
    if (!n) return;
    if (!map_open(r, n, "constraints", &m)) return;
    get_long(r, &m, "max_params", false, 0, 0, LONG_MAX, &c->constraints.max_params);
    get_long(r, &m, "max_macs", false, 0, 0, LONG_MAX, &c->constraints.max_macs);
    get_double(r, &m, "max_error", 1.0, 0.0, 1.0, &c->constraints.max_error);
    map_finish(r, &m);
}

static void read_finalize(reader *r, yaml_node_t *n, cfg_search *c)
{
    cfg_map m;
    c->finalize.epochs = 10;
    if (!n) return;
    if (!map_open(r, n, "finalize", &m)) return;
    get_int(r, &m, "epochs", false, 10, 1, 1000, &c->finalize.epochs);
    map_finish(r, &m);
}

static bool valid_name(const char *s)
{
    if (!s[0]) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static void read_top(reader *r, cfg_search *c)
{
    static const char *const parallel[] = {"auto", "candidates", "within"};
    static const char *const devices[] = {"cpu", "cuda", "auto"};
    cfg_map top;
    if (!map_open(r, yaml_document_get_root_node(&r->doc), "", &top)) return;
    yaml_node_t *nm = get_string(r, &top, "name", true, NULL, c->name, sizeof c->name);
    if (nm && !valid_name(c->name))
        fail(r, nm, ENG_ERR_ARG, "name: '%s' may use only letters, digits, '_', '-' and '.'",
             c->name);
    long seed;
    get_long(r, &top, "seed", false, 1, 0, LONG_MAX, &seed);
    c->seed = (uint64_t)seed;
    char def_out[CFG_PATH_MAX];
    snprintf(def_out, sizeof def_out, "results/%s.db", c->name);
    get_string(r, &top, "output", false, def_out, c->output, sizeof c->output);
    read_dataset(r, map_get(r, &top, "dataset"), c);
    read_space(r, map_get(r, &top, "search_space"), c);
    c->strategy = (cfg_strategy)get_enum(r, &top, "strategy", CFG_STRATEGY_NSGA2,
                                         strategy_names, 2);
    read_nsga2(r, map_get(r, &top, "nsga2"), c);
    read_model_search(r, map_get(r, &top, "model_search"), c);
    read_quant(r, map_get(r, &top, "quantization"), c);
    read_training(r, map_get(r, &top, "training"), c);
    read_energy(r, map_get(r, &top, "energy"), c);
    read_objectives(r, &top, c);
    read_constraints(r, map_get(r, &top, "constraints"), c);
    c->parallel = (cfg_parallel)get_enum(r, &top, "parallel", CFG_PARALLEL_AUTO, parallel, 3);
    int dev = get_enum(r, &top, "device", ENG_DEVICE_CPU, devices, 3);
    c->device_auto = dev == 2;
    c->device = c->device_auto ? ENG_DEVICE_CPU : (eng_device)dev;
    read_finalize(r, map_get(r, &top, "finalize"), c);
    map_finish(r, &top);
}

/* ------------------------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------------------------- */

eng_status cfg_parse(const char *text, const char *path, cfg_search *out)
{
    return cfg_parse_with(text, path, NULL, out);
}

eng_status cfg_parse_with(const char *text, const char *path, const cfg_paths *paths,
                          cfg_search *out)
{
    memset(out, 0, sizeof *out);
    reader r = {.path = path, .st = ENG_OK, .paths = paths};
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(r.dir, sizeof r.dir, "%.*s", (int)(slash - path), path);
    else snprintf(r.dir, sizeof r.dir, ".");
    if (!r.dir[0]) snprintf(r.dir, sizeof r.dir, "/");

    const size_t len = strlen(text);
    if (len > YAML_MAX_BYTES)
        return eng_error(ENG_ERR_FORMAT, "%s: larger than %zu bytes (the limit of YAML files)",
                         path, YAML_MAX_BYTES);
    ENG_TRY(yaml_check_limits(path, text, len));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return eng_error(ENG_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        eng_status st = eng_error(ENG_ERR_FORMAT, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                                  (unsigned long)parser.problem_mark.line + 1,
                                  (unsigned long)parser.problem_mark.column + 1,
                                  parser.problem ? parser.problem : "malformed",
                                  parser.context ? " " : "",
                                  parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_parser_delete(&parser);
    if (!yaml_document_get_root_node(&r.doc)) {
        yaml_document_delete(&r.doc);
        return eng_error(ENG_ERR_FORMAT, "%s: the config is empty (start from "
                         "configs/quickstart.yaml)", path);
    }
    size_t n_nodes = (size_t)(r.doc.nodes.top - r.doc.nodes.start) + 2;
    r.used = calloc(n_nodes, sizeof *r.used);
    out->text = strdup(text);
    if (!r.used || !out->text) {
        fail(&r, NULL, ENG_ERR_NOMEM, "out of memory");
    } else {
        snprintf(out->path, sizeof out->path, "%s", path);
        read_top(&r, out);
    }
    free(r.used);
    yaml_document_delete(&r.doc);
    if (r.st != ENG_OK) cfg_free(out);
    return r.st;
}

eng_status cfg_load(const char *path, cfg_search *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    ENG_TRY(yaml_read_file(path, &buf, &len));
    eng_status st = cfg_parse(buf, path, out);
    free(buf);
    return st;
}

void cfg_free(cfg_search *cfg)
{
    if (!cfg) return;
    free(cfg->text);
    free(cfg->mul_names);
    free(cfg->mul_lines);
    memset(cfg, 0, sizeof *cfg);
}
