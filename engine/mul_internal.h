/*
 * mul_internal.h - helpers shared by the multiplier modules (mul_*.c); not a public API.
 */
#ifndef MUL_INTERNAL_H
#define MUL_INTERNAL_H

#include "eng_mul.h"

/* Bytes of a raw table file with w_bits weight bits. */
static inline size_t mul_table_bytes(int w_bits)
{
    return (size_t)2 * ((size_t)256 << w_bits);
}

/* w_bits whose raw table has `bytes` bytes, or 0 when no width 2..8 fits. */
int mul_w_bits_from_size(long long bytes);

/* Allocates a zeroed multiplier with a table of 256 << w_bits entries and NAN figures.
 * Errors: ENG_ERR_NOMEM. */
eng_status mul_alloc(int w_bits, bool is_signed, eng_mul **out);

/* Writes data to a fresh temporary file next to path ("<path>.tmpXXXXXX", mode 0644), flushed to
 * disk; its name goes to tmp. Errors: ENG_ERR_IO (nothing left behind). */
eng_status mul_temp_write(const char *path, const void *data, size_t size,
                          char *tmp, size_t tmp_size);

/* Moves a temporary file to path: replacing it when overwrite, else failing with
 * ENG_ERR_EXISTS when path exists. The temporary is removed on error. */
eng_status mul_temp_commit(const char *tmp, const char *path, bool overwrite);

/* snprintf into buf; ENG_ERR_ARG ("path too long: ...") when it does not fit. */
eng_status mul_path_join(char *buf, size_t size, const char *dir, const char *file);

/* The text of a manifest (what eng_mul_manifest_write writes), malloc()ed into *text.
 * Errors: ENG_ERR_ARG (an entry would not read back), ENG_ERR_NOMEM. */
eng_status mul_manifest_format(const char *path, const eng_mul_manifest *m, char **text,
                               size_t *size);

#endif /* MUL_INTERNAL_H */
