/*
 * yaml_strict.h - the one strict YAML reader of the application: search configs, accelerator
 * descriptions, layer lists and their mapping constraints are all read through it.
 *
 * A file is loaded into a libyaml document within the limits of yaml_limits.h (size, nesting
 * depth, mapping size, aliases), then read declaratively: each mapping is opened with the
 * list of keys it may hold, and the caller asks for the keys it wants with typed getters
 * (integer, number, boolean, string, one of a set of names, list) that check the type and the
 * range. Every error goes through one path, ys_fail(), and reads
 *
 *     FILE:LINE:COL: what is wrong
 *
 * (1-based line and column of the offending node; "FILE: what is wrong" where no node is to
 * blame). Messages name the key path ("training.epochs", "levels[2].read_pj") and, for an
 * unknown key or name, the nearest known one ("did you mean 'training'?") or else the list of
 * known ones. Status codes: ENG_ERR_FORMAT for syntax, unknown and duplicate keys, missing
 * keys and wrong types; ENG_ERR_ARG for a value of the right type out of its range or not one
 * of its names; ENG_ERR_NOT_FOUND / ENG_ERR_IO / ENG_ERR_NOMEM from ys_doc_load().
 *
 *     static eng_status read(ys_doc *d, char *name, size_t size, int *epochs)
 *     {
 *         static const char *const keys[] = {"name", "epochs", NULL};
 *         ys_map m;
 *         ENG_TRY(ys_map_open(d, ys_doc_root(d), "", keys, &m));  // unknown keys: an error
 *         ENG_TRY(ys_get_string(&m, "name", true, name, size));
 *         *epochs = 1;                                            // the default
 *         return ys_get_int(&m, "epochs", false, 1, 1000, epochs); // absent: stays 1
 *     }
 *
 *     ys_doc d;
 *     eng_status st = ys_doc_load(&d, path);
 *     if (st != ENG_OK) goto done;
 *     st = read(&d, name, sizeof name, &epochs);
 *     done:
 *     ys_doc_free(&d);                                            // safe after a failed load
 *
 * Scalars: numbers and booleans must be plain (unquoted) scalars; integers are decimal and
 * must parse completely; numbers are finite; booleans are true/false (or yes/no). A getter
 * of an absent optional key returns ENG_OK and leaves *out unchanged, so defaults are set
 * before the call. Nothing here allocates except ys_doc_load/ys_doc_parse.
 */
#ifndef YAML_STRICT_H
#define YAML_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Documents
 * ---------------------------------------------------------------------------------------- */

typedef struct ys_doc {
    yaml_document_t doc;
    const char *path;           /* for messages; borrowed, must outlive the ys_doc */
    bool loaded;                /* doc holds a document (ys_doc_free deletes it) */
} ys_doc;

/* Reads the file at path (at most YAML_MAX_BYTES) and parses it as ys_doc_parse does.
 * ENG_ERR_NOT_FOUND when it does not exist, ENG_ERR_IO when it cannot be read, otherwise as
 * ys_doc_parse. On error the ys_doc holds nothing (ys_doc_free is still allowed). */
eng_status ys_doc_load(ys_doc *d,
                       const char *path);       /* file to read; kept for messages */

/* Parses text[0..len) as read from path: ENG_ERR_FORMAT for a text beyond the limits of
 * yaml_limits.h or a YAML syntax error ("FILE:LINE:COL: YAML syntax error: ..."). A text with
 * no document (empty, comments only) loads; ys_doc_root() is NULL then, and the caller says
 * what an empty file means. */
eng_status ys_doc_parse(ys_doc *d,
                        const char *path,       /* for messages; borrowed */
                        const char *text,       /* need not be NUL-terminated */
                        size_t len);

/* Releases the document. Safe on a zeroed ys_doc and after a failed load. */
void ys_doc_free(ys_doc *d);

/* The root node; NULL for a text with no document. */
yaml_node_t *ys_doc_root(ys_doc *d);

/* The one error path: formats "FILE:LINE:COL: <fmt>" (at = NULL: "FILE: <fmt>") into the
 * thread's error message (eng_last_error) and returns st. */
eng_status ys_fail(const ys_doc *d,
                   const yaml_node_t *at,       /* node to blame, or NULL */
                   eng_status st,               /* returned unchanged */
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ------------------------------------------------------------------------------------------
 * Mappings
 * ---------------------------------------------------------------------------------------- */

typedef struct ys_map {
    ys_doc *doc;
    yaml_node_t *node;          /* the mapping */
    const char *const *keys;    /* the keys it may hold (NULL-terminated), or NULL: any */
    char where[160];            /* key path of the mapping ("training", "levels[1]"; "" top) */
} ys_map;

/* Opens node n as a mapping named `where` (its key path). Fails when n is NULL or not a
 * mapping ("WHERE: expected a mapping of 'key: value' lines"), when a key is not a plain
 * word, when a key repeats ("duplicate key 'WHERE.K' (first given on line L)"), and, when
 * keys is not NULL, on the first key not in keys ("unknown key 'WHERE.K' (did you mean
 * 'X'?)", or "...; known keys here: a, b, c" when none is near). */
eng_status ys_map_open(ys_doc *d,
                       yaml_node_t *n,              /* may be NULL (then an error) */
                       const char *where,           /* key path for messages */
                       const char *const *keys,     /* NULL-terminated, or NULL: any keys */
                       ys_map *m);                  /* out */

/* The value of key, or NULL when absent. key must be one of the mapping's keys. */
yaml_node_t *ys_map_get(const ys_map *m, const char *key);

/* Pairs in file order, for mappings of free keys (keys = NULL): the count, and the key and
 * value nodes of pair i (0 <= i < ys_map_len). */
int ys_map_len(const ys_map *m);
yaml_node_t *ys_map_key(const ys_map *m, int i);
yaml_node_t *ys_map_value(const ys_map *m, int i);

/* "WHERE.key" (or "key" at the top) into buf, for messages. Returns buf. */
const char *ys_map_path(const ys_map *m, const char *key, char *buf, size_t size);

/* Opens the mapping under key (ys_map_open with the key path as its name). Absent: ENG_OK
 * with sub->node = NULL when optional, "missing required key" when required. */
eng_status ys_get_map(const ys_map *m, const char *key, bool required,
                      const char *const *keys,      /* the sub-mapping's keys, or NULL */
                      ys_map *sub);                 /* out */

/* ------------------------------------------------------------------------------------------
 * Typed values of a mapping's keys. Absent and optional: ENG_OK, *out unchanged. Absent and
 * required: "missing required key 'WHERE.key'" at the mapping. Messages name the key path.
 * ---------------------------------------------------------------------------------------- */

eng_status ys_get_i64(const ys_map *m, const char *key, bool required,
                      int64_t min, int64_t max,     /* allowed range, inclusive */
                      int64_t *out);
eng_status ys_get_int(const ys_map *m, const char *key, bool required, int min, int max,
                      int *out);
eng_status ys_get_double(const ys_map *m, const char *key, bool required, double min,
                         double max, double *out);
eng_status ys_get_bool(const ys_map *m, const char *key, bool required, bool *out);

/* A non-empty scalar of fewer than size bytes (longer: ENG_ERR_ARG), copied to out. */
eng_status ys_get_string(const ys_map *m, const char *key, bool required, char *out,
                         size_t size);

/* One of names[0..count): *out = its index. Another word: ENG_ERR_ARG "WHERE.key: 'w' is not
 * one of: a, b (did you mean 'b'?)". */
eng_status ys_get_enum(const ys_map *m, const char *key, bool required,
                       const char *const *names, int count, int *out);

/* A list (block or flow) of min..max items: *seq = its node (NULL when absent and optional),
 * *len = its length. */
eng_status ys_get_seq(const ys_map *m, const char *key, bool required, int min, int max,
                      yaml_node_t **seq, int *len);

/* ------------------------------------------------------------------------------------------
 * Nodes (list items, free-key values). `what` names the node in messages (a key path).
 * ---------------------------------------------------------------------------------------- */

eng_status ys_node_i64(ys_doc *d, yaml_node_t *n, const char *what, int64_t min, int64_t max,
                       int64_t *out);
eng_status ys_node_int(ys_doc *d, yaml_node_t *n, const char *what, int min, int max,
                       int *out);
eng_status ys_node_double(ys_doc *d, yaml_node_t *n, const char *what, double min, double max,
                          double *out);
/* A non-empty scalar ("WHAT: every item must be a word" otherwise); *out points into the
 * document. */
eng_status ys_node_word(ys_doc *d, yaml_node_t *n, const char *what, const char **out);
eng_status ys_node_enum(ys_doc *d, yaml_node_t *n, const char *what, const char *const *names,
                        int count, int *out);

/* Fails unless n is a list of min..max items ("WHAT: expected a list such as [a, b]",
 * "WHAT: N items, allowed MIN to MAX"); *len = its length. */
eng_status ys_seq_check(ys_doc *d, yaml_node_t *n, const char *what, int min, int max,
                        int *len);
/* Item i of a list node (0 <= i < its length). */
yaml_node_t *ys_seq_item(ys_doc *d, const yaml_node_t *seq, int i);

/* The text of a scalar node; NULL when n is NULL or not a scalar. */
const char *ys_scalar(const yaml_node_t *n);

/* The name of names[0..count) nearest to word by edit distance when it is near enough to be
 * a likely typo, else NULL (the "did you mean" hint). */
const char *ys_nearest(const char *word, const char *const *names, int count);

#ifdef __cplusplus
}
#endif

#endif /* YAML_STRICT_H */
