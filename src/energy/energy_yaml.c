/*
 * energy_yaml.c - strict YAML reading for the energy model: file:line messages, unknown keys
 * rejected, numbers parsed completely.
 */
#include "energy_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_limits.h"

eng_status ey_load(const char *path, ey_doc *d)
{
    char *text;
    size_t len;
    eng_status st = yaml_read_file(path, &text, &len);
    if (st == ENG_ERR_NOT_FOUND) st = ENG_ERR_IO;   /* the message says "cannot open" */
    if (st != ENG_OK) return st;
    st = yaml_check_limits(path, text, len);
    yaml_parser_t parser;
    if (st == ENG_OK && !yaml_parser_initialize(&parser))
        st = eng_error(ENG_ERR_NOMEM, "%s: cannot initialise the YAML parser", path);
    if (st != ENG_OK) {
        free(text);
        return st;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &d->doc)) {
        st = eng_error(ENG_ERR_FORMAT, "%s:%zu: YAML syntax error: %s", path,
                       parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
    } else if (!yaml_document_get_root_node(&d->doc)) {
        yaml_document_delete(&d->doc);
        st = eng_error(ENG_ERR_FORMAT, "%s: empty document", path);
    }
    yaml_parser_delete(&parser);
    free(text);
    d->path = path;
    return st;
}

void ey_free(ey_doc *d)
{
    yaml_document_delete(&d->doc);
}

yaml_node_t *ey_root(ey_doc *d)
{
    return yaml_document_get_root_node(&d->doc);
}

int ey_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

eng_status ey_fail(const ey_doc *d, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return eng_error(ENG_ERR_FORMAT, "%s:%d: %s", d->path, ey_line(n), msg);
}

const char *ey_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

eng_status ey_map_check(ey_doc *d, yaml_node_t *n, const char *what, const char *const *allowed)
{
    if (n->type != YAML_MAPPING_NODE) return ey_fail(d, n, "%s must be a mapping", what);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
        const char *key = ey_scalar(k);
        if (!key) return ey_fail(d, k, "%s: keys must be plain names", what);
        bool known = false;
        for (const char *const *a = allowed; *a; a++) known = known || strcmp(*a, key) == 0;
        if (!known) return ey_fail(d, k, "%s: unknown key '%s'", what, key);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (strcmp(ey_scalar(yaml_document_get_node(&d->doc, q->key)), key) == 0)
                return ey_fail(d, k, "%s: key '%s' given twice", what, key);
    }
    return ENG_OK;
}

yaml_node_t *ey_map_get(ey_doc *d, yaml_node_t *n, const char *key)
{
    if (n->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = ey_scalar(yaml_document_get_node(&d->doc, p->key));
        if (k && strcmp(k, key) == 0) return yaml_document_get_node(&d->doc, p->value);
    }
    return NULL;
}

/* Finds key; *v = NULL when absent (an error when required). */
static eng_status lookup(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                         yaml_node_t **v)
{
    *v = ey_map_get(d, map, key);
    if (!*v && required) return ey_fail(d, map, "missing key '%s'", key);
    return ENG_OK;
}

eng_status ey_scalar_int(ey_doc *d, yaml_node_t *n, const char *what, int64_t min, int64_t max,
                         int64_t *out)
{
    const char *s = ey_scalar(n);
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s)
        return ey_fail(d, n, "%s must be an integer", what);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return ey_fail(d, n, "%s: '%s' is not an integer", what, s);
    if (v < min || v > max)
        return ey_fail(d, n, "%s: %lld is out of range [%lld, %lld]", what, v, (long long)min,
                       (long long)max);
    *out = v;
    return ENG_OK;
}

eng_status ey_get_int(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                      int64_t min, int64_t max, int64_t *out)
{
    yaml_node_t *v;
    ENG_TRY(lookup(d, map, key, required, &v));
    return v ? ey_scalar_int(d, v, key, min, max, out) : ENG_OK;
}

eng_status ey_get_double(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                         double min, double max, double *out)
{
    yaml_node_t *v;
    ENG_TRY(lookup(d, map, key, required, &v));
    if (!v) return ENG_OK;
    const char *s = ey_scalar(v);
    if (!s || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s)
        return ey_fail(d, v, "%s must be a number", key);
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno || !isfinite(x)) return ey_fail(d, v, "%s: '%s' is not a number", key, s);
    if (x < min || x > max) return ey_fail(d, v, "%s: %g is out of range [%g, %g]", key, x, min, max);
    *out = x;
    return ENG_OK;
}

eng_status ey_get_bool(ey_doc *d, yaml_node_t *map, const char *key, bool required, bool *out)
{
    yaml_node_t *v;
    ENG_TRY(lookup(d, map, key, required, &v));
    if (!v) return ENG_OK;
    const char *s = ey_scalar(v);
    if (s && strcmp(s, "true") == 0) *out = true;
    else if (s && strcmp(s, "false") == 0) *out = false;
    else return ey_fail(d, v, "%s must be true or false", key);
    return ENG_OK;
}

eng_status ey_get_string(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                         char *out, size_t size)
{
    yaml_node_t *v;
    ENG_TRY(lookup(d, map, key, required, &v));
    if (!v) return ENG_OK;
    const char *s = ey_scalar(v);
    if (!s || !*s) return ey_fail(d, v, "%s must be a non-empty string", key);
    if (strlen(s) >= size) return ey_fail(d, v, "%s: '%s' is longer than %zu characters", key, s,
                                          size - 1);
    memcpy(out, s, strlen(s) + 1);
    return ENG_OK;
}
