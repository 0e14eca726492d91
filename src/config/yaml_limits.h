/*
 * yaml_limits.h - size, nesting, mapping-size and alias limits of the YAML texts the
 * application reads (search configs, accelerator and layer files), checked on libyaml's event
 * stream before a document is built (yaml_strict.h's ys_doc_parse does it).
 *
 * libyaml's scanner and our strict readers have costs that grow faster than the text: deeply
 * nested flow collections take quadratic time (50,000 levels of '[' in 100 KB: 35 s), and the
 * readers' duplicate-key check is quadratic in a mapping's size; an alias makes the readers
 * read its anchored node again, as often as it is named. These limits keep every file
 * linear and small; real files stay far below them.
 *
 *     if (len > YAML_MAX_BYTES) ...;                 // the caller reads at most this much
 *     ENG_TRY(yaml_check_limits(path, text, len));   // then yaml_parser_load() as usual
 */
#ifndef YAML_LIMITS_H
#define YAML_LIMITS_H

#include <stddef.h>

#include "eng_common.h"

#define YAML_MAX_BYTES ((size_t)1 << 20)   /* bytes in one file */
#define YAML_MAX_DEPTH 32                  /* nested collections (flow or block) */
#define YAML_MAX_KEYS 4096                 /* keys of one mapping */
#define YAML_MAX_ALIASES 64                /* aliases (*name) in one file */

/* Scans text[0..len) event by event and stops at the first collection nested deeper than
 * YAML_MAX_DEPTH, mapping with more than YAML_MAX_KEYS keys or alias beyond YAML_MAX_ALIASES:
 * ENG_ERR_FORMAT with "path:line:col: ..." (path for messages only). Returns ENG_OK on a YAML syntax error, which the
 * caller's yaml_parser_load() then reports as usual (it stops at the same place, within the
 * limits), and ENG_ERR_NOMEM when libyaml cannot start. */
eng_status yaml_check_limits(const char *path, const char *text, size_t len);

/* Reads the whole file at path into a NUL-terminated malloc()ed buffer (*text, *len bytes).
 * ENG_ERR_NOT_FOUND when it does not exist, ENG_ERR_IO when it cannot be opened or read,
 * ENG_ERR_FORMAT when it is larger than YAML_MAX_BYTES or holds a NUL byte, ENG_ERR_NOMEM.
 * On error *text is NULL. */
eng_status yaml_read_file(const char *path, char **text, size_t *len);

#endif /* YAML_LIMITS_H */
