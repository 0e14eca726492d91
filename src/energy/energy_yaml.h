/*
 * energy_yaml.h - strict reading of the energy model's YAML files (libyaml document API).
 *
 * Internal to src/energy. Every error is ENG_ERR_FORMAT with a message "path:line: ..."
 * (line of the offending node, 1-based). Maps are read through ey_map_check, which rejects
 * unknown and duplicate keys, then ey_get_* for each field.
 */
#ifndef ENERGY_YAML_H
#define ENERGY_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "eng_common.h"

typedef struct ey_doc {
    yaml_document_t doc;
    const char *path;       /* for messages; borrowed */
} ey_doc;

/* Parses the whole file into one document. ENG_ERR_IO when it cannot be opened,
 * ENG_ERR_FORMAT for a syntax error, an empty file or a file beyond the limits of
 * yaml_limits.h (checked before the document is built). On success ey_free releases it. */
eng_status ey_load(const char *path, ey_doc *d);
void ey_free(ey_doc *d);

/* The root node (never NULL after a successful ey_load). */
yaml_node_t *ey_root(ey_doc *d);
/* 1-based line of a node. */
int ey_line(const yaml_node_t *n);
/* A message "path:line: <fmt>" about node n; returns ENG_ERR_FORMAT. */
eng_status ey_fail(const ey_doc *d, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Fails unless n is a mapping (what = how to call it) whose keys are all in allowed
 * (NULL-terminated) and none repeats. */
eng_status ey_map_check(ey_doc *d, yaml_node_t *n, const char *what, const char *const *allowed);
/* The value of key in mapping n, or NULL. */
yaml_node_t *ey_map_get(ey_doc *d, yaml_node_t *n, const char *key);
/* Fails with "missing key" when key is absent and required; leaves *out alone when absent
 * and optional. Numbers must parse completely and lie within [min, max]. */
eng_status ey_get_int(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                      int64_t min, int64_t max, int64_t *out);
eng_status ey_get_double(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                         double min, double max, double *out);
eng_status ey_get_bool(ey_doc *d, yaml_node_t *map, const char *key, bool required, bool *out);
eng_status ey_get_string(ey_doc *d, yaml_node_t *map, const char *key, bool required,
                         char *out, size_t size);
/* Scalar conversions of a node (what names it in messages). */
eng_status ey_scalar_int(ey_doc *d, yaml_node_t *n, const char *what, int64_t min, int64_t max,
                         int64_t *out);
/* The text of a scalar node, or NULL when n is not a scalar. */
const char *ey_scalar(const yaml_node_t *n);

#endif /* ENERGY_YAML_H */
