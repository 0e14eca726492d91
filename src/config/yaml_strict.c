/*
 * yaml_strict.c - the strict YAML reader (yaml_strict.h): documents within limits, mappings
 * with known keys, typed getters, and one FILE:LINE:COL error path.
 */
#include "yaml_strict.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_limits.h"

/* ------------------------------------------------------------------------------------------
 * Documents and the error path
 * ---------------------------------------------------------------------------------------- */

eng_status ys_doc_parse(ys_doc *d, const char *path, const char *text, size_t len)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    if (len > YAML_MAX_BYTES)
        return eng_error(ENG_ERR_FORMAT, "%s: larger than %zu bytes (the limit of YAML files)",
                         path, YAML_MAX_BYTES);
    ENG_TRY(yaml_check_limits(path, text, len));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return eng_error(ENG_ERR_NOMEM, "%s: cannot initialise the YAML parser", path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    eng_status st = ENG_OK;
    if (yaml_parser_load(&parser, &d->doc))
        d->loaded = true;
    else
        st = eng_error(ENG_ERR_FORMAT, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                       (unsigned long)parser.problem_mark.line + 1,
                       (unsigned long)parser.problem_mark.column + 1,
                       parser.problem ? parser.problem : "malformed", parser.context ? " " : "",
                       parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return st;
}

eng_status ys_doc_load(ys_doc *d, const char *path)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    char *text;
    size_t len;
    ENG_TRY(yaml_read_file(path, &text, &len));
    eng_status st = ys_doc_parse(d, path, text, len);
    free(text);
    return st;
}

void ys_doc_free(ys_doc *d)
{
    if (d->loaded) yaml_document_delete(&d->doc);
    d->loaded = false;
}

yaml_node_t *ys_doc_root(ys_doc *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

eng_status ys_fail(const ys_doc *d, const yaml_node_t *at, eng_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!at) return eng_error(st, "%s: %s", d->path, msg);
    return eng_error(st, "%s:%lu:%lu: %s", d->path, (unsigned long)at->start_mark.line + 1,
                     (unsigned long)at->start_mark.column + 1, msg);
}

const char *ys_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* ------------------------------------------------------------------------------------------
 * Hints
 * ---------------------------------------------------------------------------------------- */

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int dist[41][41];
    for (size_t i = 0; i <= la; i++) dist[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) dist[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = dist[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = dist[i - 1][j] + 1, ins = dist[i][j - 1] + 1;
            dist[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return dist[la][lb];
}

const char *ys_nearest(const char *word, const char *const *names, int count)
{
    const char *best = NULL;
    int best_d = 99;
    for (int i = 0; i < count; i++) {
        int dist = edit_distance(word, names[i]);
        if (dist < best_d) best_d = dist, best = names[i];
    }
    /* near: a few edits, and not all of the name (no hint 'N' for 'K') */
    return best && best_d <= 2 + (int)strlen(best) / 5 && best_d < (int)strlen(best) ? best
                                                                                    : NULL;
}

/* names[0..count) as "a, b, c" into buf. */
static const char *join(const char *const *names, int count, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
    return buf;
}

static bool known_key(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0) return true;
    return false;
}

static int count_names(const char *const *names)
{
    int n = 0;
    while (names[n]) n++;
    return n;
}

/* ------------------------------------------------------------------------------------------
 * Mappings
 * ---------------------------------------------------------------------------------------- */

const char *ys_map_path(const ys_map *m, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", m->where, m->where[0] ? "." : "", key);
    return buf;
}

int ys_map_len(const ys_map *m)
{
    return (int)(m->node->data.mapping.pairs.top - m->node->data.mapping.pairs.start);
}

yaml_node_t *ys_map_key(const ys_map *m, int i)
{
    return yaml_document_get_node(&m->doc->doc, m->node->data.mapping.pairs.start[i].key);
}

yaml_node_t *ys_map_value(const ys_map *m, int i)
{
    return yaml_document_get_node(&m->doc->doc, m->node->data.mapping.pairs.start[i].value);
}

eng_status ys_map_open(ys_doc *d, yaml_node_t *n, const char *where, const char *const *keys,
                       ys_map *m)
{
    memset(m, 0, sizeof *m);
    m->doc = d;
    m->keys = keys;
    snprintf(m->where, sizeof m->where, "%s", where);
    if (!n || n->type != YAML_MAPPING_NODE)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s%sexpected a mapping of 'key: value' lines",
                       where, where[0] ? ": " : "");
    m->node = n;
    const int len = ys_map_len(m);
    for (int i = 0; i < len; i++) {
        yaml_node_t *k = ys_map_key(m, i);
        const char *key = ys_scalar(k);
        if (!key) return ys_fail(d, k, ENG_ERR_FORMAT, "%s: keys must be plain words",
                                 where[0] ? where : "top");
        char kp[256];
        ys_map_path(m, key, kp, sizeof kp);
        for (int j = 0; j < i; j++) {
            yaml_node_t *k2 = ys_map_key(m, j);
            if (strcmp(key, ys_scalar(k2)) == 0)
                return ys_fail(d, k, ENG_ERR_FORMAT, "duplicate key '%s' (first given on line "
                               "%lu)", kp, (unsigned long)k2->start_mark.line + 1);
        }
        if (!keys) continue;
        if (known_key(keys, key)) continue;
        const int n_keys = count_names(keys);
        const char *hint = ys_nearest(key, keys, n_keys);
        if (hint)
            return ys_fail(d, k, ENG_ERR_FORMAT, "unknown key '%s' (did you mean '%s'?)", kp,
                           hint);
        char all[600];
        return ys_fail(d, k, ENG_ERR_FORMAT, "unknown key '%s'; known keys here: %s", kp,
                       join(keys, n_keys, all, sizeof all));
    }
    return ENG_OK;
}

yaml_node_t *ys_map_get(const ys_map *m, const char *key)
{
    if (!m->node) return NULL;
    assert(!m->keys || known_key(m->keys, key));
    const int len = ys_map_len(m);
    for (int i = 0; i < len; i++)
        if (strcmp(ys_scalar(ys_map_key(m, i)), key) == 0) return ys_map_value(m, i);
    return NULL;
}

/* The value of key (*v, NULL when absent) or the "missing required key" error; `what`
 * describes the expected value for the message ("" for none). */
static eng_status lookup(const ys_map *m, const char *key, bool required, const char *what,
                         yaml_node_t **v)
{
    *v = ys_map_get(m, key);
    if (*v || !required) return ENG_OK;
    char kp[256];
    return ys_fail(m->doc, m->node, ENG_ERR_FORMAT, "missing required key '%s'%s%s%s",
                   ys_map_path(m, key, kp, sizeof kp), what[0] ? " (" : "", what,
                   what[0] ? ")" : "");
}

eng_status ys_get_map(const ys_map *m, const char *key, bool required, const char *const *keys,
                      ys_map *sub)
{
    yaml_node_t *v;
    memset(sub, 0, sizeof *sub);
    sub->doc = m->doc;
    ENG_TRY(lookup(m, key, required, "a mapping", &v));
    if (!v) return ENG_OK;
    char kp[256];
    return ys_map_open(m->doc, v, ys_map_path(m, key, kp, sizeof kp), keys, sub);
}

/* ------------------------------------------------------------------------------------------
 * Scalars
 * ---------------------------------------------------------------------------------------- */

/* A plain (unquoted), non-empty scalar for a number or boolean. */
static eng_status plain_scalar(ys_doc *d, yaml_node_t *n, const char *what, const char *expect,
                               const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected %s, found a %s", what, expect,
                       n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    const char *s = ys_scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected %s, found the quoted string \"%s\" "
                       "(hint: remove the quotes)", what, expect, s);
    if (!s[0]) return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected %s, found nothing", what,
                              expect);
    *out = s;
    return ENG_OK;
}

eng_status ys_node_i64(ys_doc *d, yaml_node_t *n, const char *what, int64_t min, int64_t max,
                       int64_t *out)
{
    const char *s;
    ENG_TRY(plain_scalar(d, n, what, "an integer", &s));
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected an integer, found '%s'", what, s);
    if (x < min || x > max)
        return ys_fail(d, n, ENG_ERR_ARG, "%s: %lld is out of range (allowed: %lld to %lld)",
                       what, x, (long long)min, (long long)max);
    *out = x;
    return ENG_OK;
}

eng_status ys_node_int(ys_doc *d, yaml_node_t *n, const char *what, int min, int max, int *out)
{
    int64_t x;
    ENG_TRY(ys_node_i64(d, n, what, min, max, &x));
    *out = (int)x;
    return ENG_OK;
}

eng_status ys_node_double(ys_doc *d, yaml_node_t *n, const char *what, double min, double max,
                          double *out)
{
    const char *s;
    ENG_TRY(plain_scalar(d, n, what, "a number", &s));
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno || !isfinite(x))
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected a number, found '%s'", what, s);
    if (x < min || x > max)
        return ys_fail(d, n, ENG_ERR_ARG, "%s: %g is out of range (allowed: %g to %g)", what, x,
                       min, max);
    *out = x;
    return ENG_OK;
}

eng_status ys_node_word(ys_doc *d, yaml_node_t *n, const char *what, const char **out)
{
    const char *s = ys_scalar(n);
    if (!s || !s[0])
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: every item must be a word", what);
    *out = s;
    return ENG_OK;
}

eng_status ys_node_enum(ys_doc *d, yaml_node_t *n, const char *what, const char *const *names,
                        int count, int *out)
{
    const char *s = ys_scalar(n);
    if (!s || !s[0]) return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected a word", what);
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return ENG_OK;
        }
    char all[600];
    const char *hint = ys_nearest(s, names, count);
    return ys_fail(d, n, ENG_ERR_ARG, "%s: '%s' is not one of: %s%s%s%s", what, s,
                   join(names, count, all, sizeof all), hint ? " (did you mean '" : "",
                   hint ? hint : "", hint ? "'?)" : "");
}

eng_status ys_seq_check(ys_doc *d, yaml_node_t *n, const char *what, int min, int max, int *len)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return ys_fail(d, n, ENG_ERR_FORMAT, "%s: expected a list such as [a, b]", what);
    long count = n->data.sequence.items.top - n->data.sequence.items.start;
    if (count < min || count > max)
        return ys_fail(d, n, ENG_ERR_ARG, "%s: %ld items, allowed %d to %d", what, count, min,
                       max);
    *len = (int)count;
    return ENG_OK;
}

yaml_node_t *ys_seq_item(ys_doc *d, const yaml_node_t *seq, int i)
{
    return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

/* ------------------------------------------------------------------------------------------
 * Typed values of keys
 * ---------------------------------------------------------------------------------------- */

eng_status ys_get_i64(const ys_map *m, const char *key, bool required, int64_t min,
                      int64_t max, int64_t *out)
{
    char what[96], kp[256];
    snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min, (long long)max);
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, what, &v));
    return v ? ys_node_i64(m->doc, v, ys_map_path(m, key, kp, sizeof kp), min, max, out)
             : ENG_OK;
}

eng_status ys_get_int(const ys_map *m, const char *key, bool required, int min, int max,
                      int *out)
{
    int64_t x = 0;
    ENG_TRY(ys_get_i64(m, key, required, min, max, &x));
    if (ys_map_get(m, key)) *out = (int)x;
    return ENG_OK;
}

eng_status ys_get_double(const ys_map *m, const char *key, bool required, double min,
                         double max, double *out)
{
    char what[96], kp[256];
    snprintf(what, sizeof what, "a number from %g to %g", min, max);
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, what, &v));
    return v ? ys_node_double(m->doc, v, ys_map_path(m, key, kp, sizeof kp), min, max, out)
             : ENG_OK;
}

eng_status ys_get_bool(const ys_map *m, const char *key, bool required, bool *out)
{
    char kp[256];
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, "true or false", &v));
    if (!v) return ENG_OK;
    ys_map_path(m, key, kp, sizeof kp);
    const char *s;
    ENG_TRY(plain_scalar(m->doc, v, kp, "true or false", &s));
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) *out = false;
    else return ys_fail(m->doc, v, ENG_ERR_FORMAT, "%s: expected true or false, found '%s'", kp,
                        s);
    return ENG_OK;
}

eng_status ys_get_string(const ys_map *m, const char *key, bool required, char *out,
                         size_t size)
{
    char kp[256];
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, "", &v));
    if (!v) return ENG_OK;
    ys_map_path(m, key, kp, sizeof kp);
    const char *s = ys_scalar(v);
    if (!s)
        return ys_fail(m->doc, v, ENG_ERR_FORMAT, "%s: expected a string, found a %s", kp,
                       v->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (!s[0]) return ys_fail(m->doc, v, ENG_ERR_FORMAT, "%s: expected a string, found nothing",
                              kp);
    if (strlen(s) >= size)
        return ys_fail(m->doc, v, ENG_ERR_ARG, "%s: longer than %zu characters", kp, size - 1);
    memcpy(out, s, strlen(s) + 1);
    return ENG_OK;
}

eng_status ys_get_enum(const ys_map *m, const char *key, bool required,
                       const char *const *names, int count, int *out)
{
    char kp[256], all[600], what[620];
    snprintf(what, sizeof what, "one of: %s", join(names, count, all, sizeof all));
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, what, &v));
    return v ? ys_node_enum(m->doc, v, ys_map_path(m, key, kp, sizeof kp), names, count, out)
             : ENG_OK;
}

eng_status ys_get_seq(const ys_map *m, const char *key, bool required, int min, int max,
                      yaml_node_t **seq, int *len)
{
    char kp[256];
    *seq = NULL;
    *len = 0;
    yaml_node_t *v;
    ENG_TRY(lookup(m, key, required, "a list", &v));
    if (!v) return ENG_OK;
    ENG_TRY(ys_seq_check(m->doc, v, ys_map_path(m, key, kp, sizeof kp), min, max, len));
    *seq = v;
    return ENG_OK;
}
