/*
 * mul_library.c - the multiplier library: where the shipped and user libraries are, listing,
 * loading by name, and importing tables into the user library.
 */
#include "mul_internal.h"
#include "engine_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static eng_status copy_path(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s%s", a, b);
    if (n < 0 || (size_t)n >= size) return eng_error(ENG_ERR_ARG, "path too long: %s%s", a, b);
    return ENG_OK;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

eng_status eng_mul_library_dir(char *buf, size_t size)
{
    const char *env = getenv("EVOAPPROXNAS_LUTS");
    if (env && *env) return copy_path(buf, size, env, "");
    if (is_dir(EVOAPPROXNAS_SOURCE_DIR "/luts"))
        return copy_path(buf, size, EVOAPPROXNAS_SOURCE_DIR, "/luts");
    return copy_path(buf, size, EVOAPPROXNAS_DATADIR, "/luts");
}

eng_status eng_mul_user_dir(char *buf, size_t size)
{
    const char *env = getenv("EVOAPPROXNAS_USER_LUTS");
    if (env && *env) return copy_path(buf, size, env, "");
    env = getenv("XDG_DATA_HOME");          /* the XDG spec ignores relative values */
    if (env && env[0] == '/') return copy_path(buf, size, env, "/evoapproxnas/luts");
    env = getenv("HOME");
    if (env && *env) return copy_path(buf, size, env, "/.local/share/evoapproxnas/luts");
    return eng_error(ENG_ERR_NOT_FOUND, "no user library: set EVOAPPROXNAS_USER_LUTS or HOME");
}

/* The user manifest; an empty one when the library or its manifest does not exist. */
static eng_status read_user_manifest(const char *user_dir, eng_mul_manifest *out)
{
    char path[ENG_MUL_PATH_MAX];
    ENG_TRY(mul_path_join(path, sizeof path, user_dir, "manifest.tsv"));
    eng_status st = eng_mul_manifest_read(path, ENG_MUL_ORIGIN_USER, out);
    if (st == ENG_ERR_NOT_FOUND) {
        eng_error_clear();
        out->entries = NULL;
        out->count = 0;
        return ENG_OK;
    }
    return st;
}

static eng_status read_shipped_manifest(eng_mul_manifest *out)
{
    char dir[ENG_MUL_PATH_MAX], path[ENG_MUL_PATH_MAX];
    ENG_TRY(eng_mul_library_dir(dir, sizeof dir));
    ENG_TRY(mul_path_join(path, sizeof path, dir, "manifest.tsv"));
    eng_status st = eng_mul_manifest_read(path, ENG_MUL_ORIGIN_SHIPPED, out);
    if (st == ENG_ERR_NOT_FOUND)      /* a missing shipped library is an installation problem */
        st = eng_error_prefix(ENG_ERR_IO, "multiplier library (set EVOAPPROXNAS_LUTS)");
    return st;
}

static int find_name(const eng_mul_manifest *m, const char *name)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->entries[i].name, name) == 0) return i;
    return -1;
}

eng_status eng_mul_library_list(eng_mul_manifest *out)
{
    eng_mul_manifest shipped, user = {NULL, 0};
    ENG_TRY(read_shipped_manifest(&shipped));
    char user_dir[ENG_MUL_PATH_MAX];
    eng_status st = eng_mul_user_dir(user_dir, sizeof user_dir);
    if (st == ENG_ERR_NOT_FOUND) {
        eng_error_clear();
        st = ENG_OK;
    } else if (st == ENG_OK) {
        st = read_user_manifest(user_dir, &user);
    }
    for (int i = 0; st == ENG_OK && i < user.count; i++)
        if (find_name(&shipped, user.entries[i].name) >= 0)
            st = eng_error(ENG_ERR_FORMAT, "%s/manifest.tsv: name '%s' is also a shipped "
                           "multiplier; rename it there", user_dir, user.entries[i].name);
    if (st == ENG_OK && user.count > 0) {
        eng_mul_info *all = realloc(shipped.entries,
                                    (size_t)(shipped.count + user.count) * sizeof *all);
        if (!all) {
            st = eng_error(ENG_ERR_NOMEM, "out of memory listing multipliers");
        } else {
            memcpy(all + shipped.count, user.entries, (size_t)user.count * sizeof *all);
            shipped.entries = all;
            shipped.count += user.count;
        }
    }
    eng_mul_manifest_free(&user);
    if (st != ENG_OK) {
        eng_mul_manifest_free(&shipped);
        return st;
    }
    *out = shipped;
    return ENG_OK;
}

eng_status eng_mul_library_find(const char *name, eng_mul_info *out)
{
    eng_mul_manifest all;
    ENG_TRY(eng_mul_library_list(&all));
    int i = find_name(&all, name);
    if (i >= 0) *out = all.entries[i];
    eng_mul_manifest_free(&all);
    if (i < 0)
        return eng_error(ENG_ERR_NOT_FOUND, "unknown multiplier '%s' (see 'evoapproxnas luts "
                         "list')", name);
    return ENG_OK;
}

eng_status eng_mul_load_info(const eng_mul_info *info, eng_mul **out)
{
    eng_mul *m;
    ENG_TRY(eng_mul_load_file(info->path, info->w_bits, info->is_signed, &m));
    snprintf(m->name, sizeof m->name, "%s", info->name);
    snprintf(m->family, sizeof m->family, "%s", info->family);
    m->a_bits = info->a_bits;
    m->published = info->published;
    *out = m;
    return ENG_OK;
}

eng_status eng_mul_load(const char *name_or_path, eng_mul **out)
{
    size_t n = strlen(name_or_path);
    if (strchr(name_or_path, '/') || (n >= 4 && strcmp(name_or_path + n - 4, ".bin") == 0))
        return eng_mul_load_file(name_or_path, 0, false, out);
    eng_mul_info info;
    ENG_TRY(eng_mul_library_find(name_or_path, &info));
    return eng_mul_load_info(&info, out);
}

/* mkdir -p */
static eng_status make_dirs(const char *dir)
{
    char p[ENG_MUL_PATH_MAX];
    ENG_TRY(copy_path(p, sizeof p, dir, ""));
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0') continue;
        char save = *c;
        *c = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return eng_error(ENG_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        if (!is_dir(p)) return eng_error(ENG_ERR_IO, "%s: not a directory", p);
        *c = save;
        if (save == '\0') return ENG_OK;
    }
}

eng_status eng_mul_import(const char *src, const eng_mul_import_opts *opts, eng_mul_info *out)
{
    if (!eng_mul_name_valid(opts->name))
        return eng_error(ENG_ERR_ARG, "name '%s': expected 1..%d characters of A-Z a-z 0-9 _ . - "
                         "(not starting with '.')", opts->name ? opts->name : "",
                         ENG_MUL_NAME_MAX - 1);
    if (!isnan(opts->power_mw) && !(isfinite(opts->power_mw) && opts->power_mw >= 0))
        return eng_error(ENG_ERR_ARG, "power %g mW: must be a non-negative number",
                         opts->power_mw);

    eng_mul *m = NULL;
    eng_mul_manifest shipped = {NULL, 0}, user = {NULL, 0}, next = {NULL, 0};
    char *text = NULL;
    char dir[ENG_MUL_PATH_MAX], table_tmp[ENG_MUL_PATH_MAX + 16] = "";
    char manifest_tmp[ENG_MUL_PATH_MAX + 16] = "";
    eng_mul_info e;
    eng_status st;

    if ((st = eng_mul_load_file(src, opts->w_bits, opts->is_signed, &m)) != ENG_OK) goto out;
    if ((st = read_shipped_manifest(&shipped)) != ENG_OK) goto out;
    if (find_name(&shipped, opts->name) >= 0) {
        st = eng_error(ENG_ERR_EXISTS, "name '%s' is a shipped multiplier; choose another",
                       opts->name);
        goto out;
    }
    if ((st = eng_mul_user_dir(dir, sizeof dir)) != ENG_OK) goto out;
    if ((st = read_user_manifest(dir, &user)) != ENG_OK) goto out;
    int at = find_name(&user, opts->name);
    if (at >= 0 && !opts->force) {
        st = eng_error(ENG_ERR_EXISTS, "name '%s' is already in the user library %s (--force "
                       "replaces it)", opts->name, dir);
        goto out;
    }

    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "%s", opts->name);
    strcpy(e.family, "user");
    e.a_bits = 8;
    e.w_bits = m->w_bits;
    e.is_signed = m->is_signed;
    if ((st = copy_path(e.file, sizeof e.file, opts->name, ".bin")) != ENG_OK) goto out;
    e.published = m->published;                  /* all NAN */
    e.published.power_mw = opts->power_mw;
    e.origin = ENG_MUL_ORIGIN_USER;
    if ((st = mul_path_join(e.path, sizeof e.path, dir, e.file)) != ENG_OK) goto out;

    next.count = user.count + (at < 0);
    next.entries = malloc((size_t)next.count * sizeof *next.entries);
    if (!next.entries) {
        st = eng_error(ENG_ERR_NOMEM, "out of memory importing %s", src);
        goto out;
    }
    if (user.count) memcpy(next.entries, user.entries, (size_t)user.count * sizeof e);
    next.entries[at < 0 ? user.count : at] = e;

    char manifest_path[ENG_MUL_PATH_MAX];
    size_t text_len;
    if ((st = mul_path_join(manifest_path, sizeof manifest_path, dir, "manifest.tsv")) != ENG_OK ||
        (st = mul_manifest_format(manifest_path, &next, &text, &text_len)) != ENG_OK ||
        (st = make_dirs(dir)) != ENG_OK)
        goto out;

    /* Both files go to temporaries first; only the two renames remain after that. */
    size_t n = mul_table_bytes(m->w_bits);
    unsigned char *bytes = malloc(n);
    if (!bytes) {
        st = eng_error(ENG_ERR_NOMEM, "out of memory importing %s", src);
        goto out;
    }
    for (size_t i = 0; i < n / 2; i++) {
        bytes[2 * i] = (unsigned char)(m->table[i] & 0xff);
        bytes[2 * i + 1] = (unsigned char)(m->table[i] >> 8);
    }
    st = mul_temp_write(e.path, bytes, n, table_tmp, sizeof table_tmp);
    free(bytes);
    if (st != ENG_OK) {
        table_tmp[0] = '\0';
        goto out;
    }
    if ((st = mul_temp_write(manifest_path, text, text_len, manifest_tmp,
                             sizeof manifest_tmp)) != ENG_OK) {
        manifest_tmp[0] = '\0';
        goto out;
    }
    bool had_table = access(e.path, F_OK) == 0;
    st = mul_temp_commit(table_tmp, e.path, true);
    table_tmp[0] = '\0';
    if (st != ENG_OK) goto out;
    st = mul_temp_commit(manifest_tmp, manifest_path, true);
    manifest_tmp[0] = '\0';
    if (st != ENG_OK) {
        if (!had_table) unlink(e.path);
        goto out;
    }
    if (out) *out = e;
out:
    if (table_tmp[0]) unlink(table_tmp);
    if (manifest_tmp[0]) unlink(manifest_tmp);
    if (st != ENG_OK) eng_error_prefix(st, "import %s", src);
    free(text);
    eng_mul_manifest_free(&next);
    eng_mul_manifest_free(&user);
    eng_mul_manifest_free(&shipped);
    eng_mul_free(m);
    return st;
}
