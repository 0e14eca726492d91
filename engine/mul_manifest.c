/*
 * mul_manifest.c - strict reading and atomic writing of the multiplier library's manifest.tsv.
 *
 * Format (docs/luts.md): a header line naming the 18 columns, then one tab-separated line per
 * multiplier; '#' lines are comments; an empty numeric field means "unknown" (NAN).
 */
#include "mul_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MANIFEST_COLUMNS = 18, MANIFEST_MAX_BYTES = 64 << 20 };

static const char *const manifest_columns[MANIFEST_COLUMNS] = {
    "name", "family", "a_bits", "w_bits", "signed", "file", "subset",
    "mae_pct", "mae", "wce_pct", "wce", "wcre_pct", "ep_pct", "mre_pct", "mse",
    "power_mw", "area_um2", "delay_ns",
};

/* Figures in column order (columns 7..17). */
static double *figure_ptr(eng_mul_figures *f, int i)
{
    double *const p[] = {&f->mae_pct, &f->mae, &f->wce_pct, &f->wce, &f->wcre_pct, &f->ep_pct,
                         &f->mre_pct, &f->mse, &f->power_mw, &f->area_um2, &f->delay_ns};
    return p[i];
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* [A-Za-z0-9_.-]* of length < size, not starting with '.'; empty only when allow_empty. */
static bool word_valid(const char *s, size_t size, bool allow_empty)
{
    size_t n = strlen(s);
    if (n >= size || (n == 0 && !allow_empty) || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!word_char(s[i])) return false;
    return true;
}

bool eng_mul_name_valid(const char *name)
{
    return name && word_valid(name, ENG_MUL_NAME_MAX, false);
}

/* A relative path of printable characters without "." or ".." components. */
static bool file_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ENG_MUL_PATH_MAX || s[0] == '/') return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    for (const char *c = s; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += len;
        if (*c == '/') c++;
    }
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    if (!*s || strlen(s) > 3) return false;
    int v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        v = v * 10 + (*c - '0');
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Empty = NAN; else a complete finite non-negative decimal number. */
static bool parse_figure(const char *s, double *out)
{
    if (!*s) {
        *out = NAN;
        return true;
    }
    if (!((*s >= '0' && *s <= '9') || *s == '.') || strpbrk(s, "xXpP"))
        return false;                           /* no sign, space, inf, nan, hexadecimal */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v) || v < 0) return false;
    *out = v;
    return true;
}

/* Parses one data line (already split into fields) into *e. */
static eng_status parse_entry(const char *path, int line, char **f, const char *dir,
                              eng_mul_origin origin, eng_mul_info *e)
{
#define BAD(...) eng_error_prefix(eng_error(ENG_ERR_FORMAT, __VA_ARGS__), "%s: line %d", path, line)
    memset(e, 0, sizeof *e);
    if (!eng_mul_name_valid(f[0]))
        return BAD("name '%s': expected 1..%d characters of A-Z a-z 0-9 _ . - (not starting "
                   "with '.')", f[0], ENG_MUL_NAME_MAX - 1);
    strcpy(e->name, f[0]);
    if (!word_valid(f[1], sizeof e->family, false))
        return BAD("family '%s': expected 1..%d characters of A-Z a-z 0-9 _ . -", f[1],
                   ENG_MUL_FAMILY_MAX - 1);
    strcpy(e->family, f[1]);
    if (!parse_int(f[2], 8, 8, &e->a_bits))
        return BAD("a_bits '%s': only 8-bit activations are supported", f[2]);
    if (!parse_int(f[3], 2, 8, &e->w_bits)) return BAD("w_bits '%s': expected 2..8", f[3]);
    int sgn;
    if (!parse_int(f[4], 0, 1, &sgn) || strlen(f[4]) != 1)
        return BAD("signed '%s': expected 0 or 1", f[4]);
    e->is_signed = sgn == 1;
    if (e->is_signed && e->w_bits != 8)
        return BAD("signed multipliers must be 8x8 (w_bits %d)", e->w_bits);
    if (!file_valid(f[5]))
        return BAD("file '%s': expected a relative path without '.' or '..' components", f[5]);
    strcpy(e->file, f[5]);
    if (!word_valid(f[6], sizeof e->subset, true))
        return BAD("subset '%s': expected up to %d characters of A-Z a-z 0-9 _ . -", f[6],
                   ENG_MUL_FAMILY_MAX - 1);
    strcpy(e->subset, f[6]);
    for (int i = 7; i < MANIFEST_COLUMNS; i++)
        if (!parse_figure(f[i], figure_ptr(&e->published, i - 7)))
            return BAD("%s '%s': expected a non-negative number or an empty field",
                       manifest_columns[i], f[i]);
    e->origin = origin;
    eng_status st = mul_path_join(e->path, sizeof e->path, dir, e->file);
    if (st != ENG_OK) return eng_error_prefix(st, "%s: line %d", path, line);
    return ENG_OK;
#undef BAD
}

/* Splits line at tabs into f[0..MANIFEST_COLUMNS-1] (in place); returns the field count. */
static int split_fields(char *line, char **f)
{
    int n = 0;
    for (char *c = line;; c++) {
        if (n < MANIFEST_COLUMNS) f[n] = c;
        n++;
        c = strchr(c, '\t');
        if (!c) break;
        *c = '\0';
    }
    return n;
}

static eng_status read_text(const char *path, char **out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int err = errno;
        return eng_error(err == ENOENT ? ENG_ERR_NOT_FOUND : ENG_ERR_IO, "%s: cannot open: %s",
                         path, strerror(err));
    }
    struct stat sb;
    eng_status st = ENG_OK;
    char *text = NULL;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = eng_error(ENG_ERR_IO, "%s: not a regular file", path);
    } else if (sb.st_size > MANIFEST_MAX_BYTES) {
        st = eng_error(ENG_ERR_FORMAT, "%s: %lld bytes is too large for a manifest", path,
                       (long long)sb.st_size);
    } else if (!(text = malloc((size_t)sb.st_size + 1))) {
        st = eng_error(ENG_ERR_NOMEM, "out of memory reading %s", path);
    } else {
        size_t n = fread(text, 1, (size_t)sb.st_size, fp);
        if (n != (size_t)sb.st_size || ferror(fp)) {
            st = eng_error(ENG_ERR_IO, "%s: read error", path);
        } else if (memchr(text, '\0', n)) {
            st = eng_error(ENG_ERR_FORMAT, "%s: contains a NUL byte", path);
        } else {
            text[n] = '\0';
            *out = text;
            text = NULL;
        }
    }
    free(text);
    fclose(fp);
    return st;
}

eng_status eng_mul_manifest_read(const char *path, eng_mul_origin origin, eng_mul_manifest *out)
{
    char dir[ENG_MUL_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return eng_error(ENG_ERR_ARG, "path too long: %s", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
        if (n == 0) strcpy(dir, "/");
    }

    char *text = NULL;
    ENG_TRY(read_text(path, &text));
    eng_status st = ENG_OK;
    eng_mul_manifest m = {NULL, 0};
    int cap = 0, line_no = 0;
    char *line = text;
    while (*line) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = '\0';
        line_no++;
        if (strchr(line, '\r')) {
            st = eng_error(ENG_ERR_FORMAT, "%s: line %d: carriage return (use LF line ends)",
                           path, line_no);
            goto out;
        }
        char *f[MANIFEST_COLUMNS];
        if (line_no == 1) {
            int n = split_fields(line, f);
            bool ok = n == MANIFEST_COLUMNS;
            for (int i = 0; ok && i < MANIFEST_COLUMNS; i++)
                ok = strcmp(f[i], manifest_columns[i]) == 0;
            if (!ok) {
                st = eng_error(ENG_ERR_FORMAT, "%s: line 1: expected the header 'name<TAB>family"
                               "<TAB>...<TAB>delay_ns' (%d columns, see docs/luts.md)", path,
                               MANIFEST_COLUMNS);
                goto out;
            }
        } else if (line[0] != '#') {
            int n = split_fields(line, f);
            if (n != MANIFEST_COLUMNS) {
                st = eng_error(ENG_ERR_FORMAT, "%s: line %d: expected %d tab-separated fields, "
                               "found %d", path, line_no, MANIFEST_COLUMNS, n);
                goto out;
            }
            if (m.count == cap) {
                int ncap = cap ? 2 * cap : 64;
                eng_mul_info *ne = realloc(m.entries, (size_t)ncap * sizeof *ne);
                if (!ne) {
                    st = eng_error(ENG_ERR_NOMEM, "out of memory reading %s", path);
                    goto out;
                }
                m.entries = ne;
                cap = ncap;
            }
            eng_mul_info *e = &m.entries[m.count];
            if ((st = parse_entry(path, line_no, f, dir, origin, e)) != ENG_OK) goto out;
            for (int i = 0; i < m.count; i++)
                if (strcmp(m.entries[i].name, e->name) == 0) {
                    st = eng_error(ENG_ERR_FORMAT, "%s: line %d: name '%s' repeats an earlier "
                                   "line", path, line_no, e->name);
                    goto out;
                }
            m.count++;
        }
        line = next;
    }
    if (line_no == 0) {
        st = eng_error(ENG_ERR_FORMAT, "%s: empty file (expected at least the header line)",
                       path);
        goto out;
    }
    *out = m;
    m.entries = NULL;
out:
    free(m.entries);
    free(text);
    return st;
}

void eng_mul_manifest_free(eng_mul_manifest *m)
{
    if (!m) return;
    free(m->entries);
    m->entries = NULL;
    m->count = 0;
}

void eng_mul_format_figure(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "%s", "");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {     /* integers without exponent: 6300, not 6.3e+03 */
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Appends to a growing buffer; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 4096) + n;
        char *nb = realloc(*buf, ncap);
        if (!nb) return false;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return true;
}

eng_status mul_manifest_format(const char *path, const eng_mul_manifest *m, char **text,
                               size_t *size)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    for (int i = 0; i < MANIFEST_COLUMNS; i++)
        ok = ok && append(&buf, &len, &cap, manifest_columns[i]) &&
             append(&buf, &len, &cap, i + 1 < MANIFEST_COLUMNS ? "\t" : "\n");
    for (int k = 0; ok && k < m->count; k++) {
        const eng_mul_info *e = &m->entries[k];
        if (!eng_mul_name_valid(e->name) || !word_valid(e->family, sizeof e->family, false) ||
            !word_valid(e->subset, sizeof e->subset, true) || !file_valid(e->file) ||
            e->a_bits != 8 || e->w_bits < 2 || e->w_bits > 8 || (e->is_signed && e->w_bits != 8)) {
            free(buf);
            return eng_error(ENG_ERR_ARG, "%s: entry '%s' would not read back (bad name, family, "
                             "subset, file or widths)", path, e->name);
        }
        char line[3 * ENG_MUL_PATH_MAX];
        int n = snprintf(line, sizeof line, "%s\t%s\t%d\t%d\t%d\t%s\t%s", e->name, e->family,
                         e->a_bits, e->w_bits, e->is_signed ? 1 : 0, e->file, e->subset);
        ok = n > 0 && (size_t)n < sizeof line && append(&buf, &len, &cap, line);
        eng_mul_figures fig = e->published;
        for (int i = 0; ok && i < MANIFEST_COLUMNS - 7; i++) {
            char num[40] = "\t";
            eng_mul_format_figure(num + 1, sizeof num - 1, *figure_ptr(&fig, i));
            ok = append(&buf, &len, &cap, num);
        }
        ok = ok && append(&buf, &len, &cap, "\n");
    }
    if (!ok) {
        free(buf);
        return eng_error(ENG_ERR_NOMEM, "out of memory writing %s", path);
    }
    *text = buf;
    *size = len;
    return ENG_OK;
}

eng_status eng_mul_manifest_write(const char *path, const eng_mul_manifest *m)
{
    char *buf;
    size_t len;
    ENG_TRY(mul_manifest_format(path, m, &buf, &len));
    char tmp[ENG_MUL_PATH_MAX + 16];
    eng_status st = mul_temp_write(path, buf, len, tmp, sizeof tmp);
    free(buf);
    if (st == ENG_OK) st = mul_temp_commit(tmp, path, true);
    return st;
}
