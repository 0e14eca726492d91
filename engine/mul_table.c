/*
 * mul_table.c - multiplier tables in memory: raw file loading and saving, exact multipliers,
 * the kernels' view.
 *
 * Raw files are little-endian 16-bit words; they are decoded byte by byte so the format does
 * not depend on the host's byte order.
 */
#include "mul_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mul_w_bits_from_size(long long bytes)
{
    for (int b = 2; b <= 8; b++)
        if ((long long)mul_table_bytes(b) == bytes) return b;
    return 0;
}

static void figures_unknown(eng_mul_figures *f)
{
    f->mae_pct = f->mae = f->wce_pct = f->wce = f->wcre_pct = NAN;
    f->ep_pct = f->mre_pct = f->mse = f->power_mw = f->area_um2 = f->delay_ns = NAN;
}

eng_status mul_alloc(int w_bits, bool is_signed, eng_mul **out)
{
    eng_mul *m = calloc(1, sizeof *m);
    uint16_t *table = eng_alloc(mul_table_bytes(w_bits));
    if (!m || !table) {
        free(m);
        eng_free(table);
        return eng_error(ENG_ERR_NOMEM, "out of memory for an 8x%d multiplier", w_bits);
    }
    m->a_bits = 8;
    m->w_bits = w_bits;
    m->is_signed = is_signed;
    m->table = table;
    figures_unknown(&m->published);
    *out = m;
    return ENG_OK;
}

static eng_status check_widths(int w_bits, bool is_signed, bool allow_zero)
{
    if (!(allow_zero && w_bits == 0) && (w_bits < 2 || w_bits > 8))
        return eng_error(ENG_ERR_ARG, "weight bits %d: must be 2..8", w_bits);
    if (is_signed && w_bits != 8 && w_bits != 0)
        return eng_error(ENG_ERR_ARG, "signed multipliers must be 8x8 (weight bits %d)", w_bits);
    return ENG_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

eng_status eng_mul_load_file(const char *path, int w_bits, bool is_signed, eng_mul **out)
{
    eng_status st = check_widths(w_bits, is_signed, true);
    if (st != ENG_OK) return eng_error_prefix(st, "%s", path);

    eng_mul *m = NULL;
    unsigned char *bytes = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ENG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = eng_error(ENG_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    int size_bits = mul_w_bits_from_size((long long)sb.st_size);
    if (w_bits == 0 && size_bits == 0) {
        st = eng_error(ENG_ERR_FORMAT, "%s: size %lld bytes is no table size (2 * 256 * 2^N bytes, "
                       "N = 2..8: 2048 to 131072)", path, (long long)sb.st_size);
        goto out;
    }
    if (w_bits == 0) {
        if (is_signed && size_bits != 8) {
            st = eng_error(ENG_ERR_FORMAT, "%s: size %lld bytes is an 8x%d table, but signed "
                           "tables must be 8x8", path, (long long)sb.st_size, size_bits);
            goto out;
        }
        w_bits = size_bits;
    } else if ((long long)sb.st_size != (long long)mul_table_bytes(w_bits)) {
        st = eng_error(ENG_ERR_FORMAT, "%s: size %lld bytes, expected %zu for an 8x%d table", path,
                       (long long)sb.st_size, mul_table_bytes(w_bits), w_bits);
        goto out;
    }
    size_t n = mul_table_bytes(w_bits);
    if ((st = mul_alloc(w_bits, is_signed, &m)) != ENG_OK) goto out;
    bytes = malloc(n);
    if (!bytes) {
        st = eng_error(ENG_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    if (fread(bytes, 1, n, f) != n || fgetc(f) != EOF) {
        st = eng_error(ENG_ERR_IO, "%s: read error or size changed while reading", path);
        goto out;
    }
    for (size_t i = 0; i < n / 2; i++)
        m->table[i] = (uint16_t)(bytes[2 * i] | (bytes[2 * i + 1] << 8));

    const char *base = base_name(path);
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".bin") == 0) len -= 4;
    if (len >= sizeof m->name) len = sizeof m->name - 1;
    memcpy(m->name, base, len);
    m->name[len] = '\0';
    strcpy(m->family, "file");
    *out = m;
    m = NULL;
out:
    free(bytes);
    eng_mul_free(m);
    fclose(f);
    return st;
}

eng_status eng_mul_exact(int w_bits, bool is_signed, eng_mul **out)
{
    ENG_TRY(check_widths(w_bits, is_signed, false));
    eng_mul *m;
    ENG_TRY(mul_alloc(w_bits, is_signed, &m));
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < (1u << w_bits); w++)
            m->table[(a << w_bits) | w] = (uint16_t)eng_mul_exact_value(m, a, w);
    snprintf(m->name, sizeof m->name, "exact8x%d%c", w_bits, is_signed ? 's' : 'u');
    strcpy(m->family, "exact");
    m->published.power_mw = eng_mul_exact_power_mw(w_bits, is_signed);
    *out = m;
    return ENG_OK;
}

void eng_mul_free(eng_mul *m)
{
    if (!m) return;
    eng_free(m->table);
    free(m);
}

eng_lut eng_mul_lut(const eng_mul *m, eng_lut_mode mode)
{
    ENG_ASSERT(m && mode >= ENG_LUT_DIRECT && mode < ENG_LUT_MODE_COUNT);
    ENG_ASSERT(mode != ENG_LUT_SIGN_MAGNITUDE || !m->is_signed);
    eng_lut lut = {m->table, m->w_bits, m->is_signed, mode, NULL};
    return lut;
}

double eng_mul_exact_power_mw(int w_bits, bool is_signed)
{
    /* EvoApproxLib PDK45, the exact circuit of each width: mul8x2u_106, mul8x3u_0KE,
     * mul8x4u_2UU, mul8x5u_4E8, mul8x6u_049, mul8x7u_0V5, mul8u_1JFF; signed mul8s_1KV8. */
    static const double unsigned_mw[9] = {0, 0, 0.033, 0.082, 0.137, 0.198, 0.267, 0.336, 0.391};
    ENG_ASSERT(w_bits >= 2 && w_bits <= 8 && (!is_signed || w_bits == 8));
    return is_signed ? 0.425 : unsigned_mw[w_bits];
}

eng_status mul_path_join(char *buf, size_t size, const char *dir, const char *file)
{
    int n = snprintf(buf, size, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= size)
        return eng_error(ENG_ERR_ARG, "path too long: %s/%s", dir, file);
    return ENG_OK;
}

eng_status mul_temp_write(const char *path, const void *data, size_t size, char *tmp,
                          size_t tmp_size)
{
    int n = snprintf(tmp, tmp_size, "%s.tmpXXXXXX", path);
    if (n < 0 || (size_t)n >= tmp_size) return eng_error(ENG_ERR_ARG, "path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return eng_error(ENG_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                 strerror(errno));
    const unsigned char *p = data;
    size_t left = size;
    int err = fchmod(fd, 0644) != 0 ? errno : 0;
    while (!err && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (err) {
        unlink(tmp);
        return eng_error(ENG_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return ENG_OK;
}

eng_status mul_temp_commit(const char *tmp, const char *path, bool overwrite)
{
    if (overwrite) {
        if (rename(tmp, path) == 0) return ENG_OK;
    } else if (link(tmp, path) == 0) {   /* link() fails when path exists: no race */
        unlink(tmp);
        return ENG_OK;
    }
    int err = errno;
    unlink(tmp);
    if (err == EEXIST) return eng_error(ENG_ERR_EXISTS, "%s: already exists", path);
    return eng_error(ENG_ERR_IO, "%s: cannot write: %s", path, strerror(err));
}

eng_status eng_mul_save(const eng_mul *m, const char *path, bool overwrite)
{
    size_t n = mul_table_bytes(m->w_bits);
    unsigned char *bytes = malloc(n);
    if (!bytes) return eng_error(ENG_ERR_NOMEM, "out of memory writing %s", path);
    for (size_t i = 0; i < n / 2; i++) {
        bytes[2 * i] = (unsigned char)(m->table[i] & 0xff);
        bytes[2 * i + 1] = (unsigned char)(m->table[i] >> 8);
    }
    if (!overwrite && access(path, F_OK) == 0) {
        free(bytes);
        return eng_error(ENG_ERR_EXISTS, "%s: already exists", path);
    }
    char tmp[ENG_MUL_PATH_MAX + 16];
    eng_status st = mul_temp_write(path, bytes, n, tmp, sizeof tmp);
    free(bytes);
    if (st == ENG_OK) st = mul_temp_commit(tmp, path, overwrite);
    return st;
}
