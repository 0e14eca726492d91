/*
 * yaml_limits.c - the size, depth and mapping-size limits of YAML texts (yaml_limits.h).
 */
#include "yaml_limits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

eng_status yaml_check_limits(const char *path, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return eng_error(ENG_ERR_NOMEM, "%s: cannot initialise the YAML parser", path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* per open collection: is it a mapping, how many child nodes so far */
    bool is_map[YAML_MAX_DEPTH + 1] = {false};
    size_t children[YAML_MAX_DEPTH + 1] = {0};
    int depth = 0;
    long aliases = 0;
    eng_status st = ENG_OK;
    bool done = false;
    while (!done && st == ENG_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) break;  /* a syntax error: the loader's to report */
        const unsigned long line = (unsigned long)ev.start_mark.line + 1;
        const unsigned long col = (unsigned long)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth > 0 && is_map[depth] && ++children[depth] > 2 * (size_t)YAML_MAX_KEYS) {
                st = eng_error(ENG_ERR_FORMAT, "%s:%lu:%lu: a mapping with more than %d keys "
                               "(the limit of YAML files)", path, line, col, YAML_MAX_KEYS);
                break;
            }
            if (ev.type == YAML_ALIAS_EVENT && ++aliases > YAML_MAX_ALIASES) {
                st = eng_error(ENG_ERR_FORMAT, "%s:%lu:%lu: more than %d aliases (*name; the "
                               "limit of YAML files)", path, line, col, YAML_MAX_ALIASES);
                break;
            }
            if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT) break;
            if (depth == YAML_MAX_DEPTH) {
                st = eng_error(ENG_ERR_FORMAT, "%s:%lu:%lu: collections nested deeper than %d "
                               "levels (the limit of YAML files)", path, line, col,
                               YAML_MAX_DEPTH);
                break;
            }
            depth++;
            is_map[depth] = ev.type == YAML_MAPPING_START_EVENT;
            children[depth] = 0;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return st;
}

eng_status yaml_read_file(const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return eng_error(errno == ENOENT ? ENG_ERR_NOT_FOUND : ENG_ERR_IO, "%s: cannot open: %s",
                         path, strerror(errno));
    char *buf = malloc(YAML_MAX_BYTES + 2);
    if (!buf) {
        fclose(f);
        return eng_error(ENG_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, YAML_MAX_BYTES + 1, f);
    bool err = ferror(f);
    fclose(f);
    eng_status st = ENG_OK;
    if (err)
        st = eng_error(ENG_ERR_IO, "%s: read error", path);
    else if (n > YAML_MAX_BYTES)
        st = eng_error(ENG_ERR_FORMAT, "%s: larger than %zu bytes (the limit of YAML files)", path,
                       YAML_MAX_BYTES);
    else if (memchr(buf, '\0', n))
        st = eng_error(ENG_ERR_FORMAT, "%s: contains a NUL byte; not a YAML text file", path);
    if (st != ENG_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return ENG_OK;
}
