/*
 * eng_mul.h - approximate multipliers: lookup tables, the multiplier library, error metrics.
 *
 * A multiplier is the truth table of a circuit that multiplies an 8-bit activation code a by a
 * w_bits-bit weight code w (w_bits = 2..8), unsigned or signed (signed: 8x8 only, operands and
 * entries in two's complement). The table has 256 << w_bits entries, index (a << w_bits) | w
 * (row = activation; the circuits do not commute, so operand order is part of the format).
 *
 * Table files ("raw" format, the one of /work/shared/evoapprox and TFApprox): no header,
 * 256 << w_bits little-endian 16-bit words in index order, uint16 for unsigned multipliers and
 * int16 for signed ones. An 8x8 unsigned file is a TFApprox .bin (65,536 words, entry (a<<8)|w).
 * The file size alone gives w_bits; whether the words are signed is not in the file.
 *
 * The library is two directories, each with a manifest.tsv (format: docs/luts.md) naming its
 * tables and their published figures:
 *  - the shipped library: $EVOAPPROXNAS_LUTS when set, else the source tree's luts/ when it
 *    exists (EVOAPPROXNAS_SOURCE_DIR), else the installed EVOAPPROXNAS_DATADIR/luts;
 *  - the user library, where `evoapproxnas luts import` puts multipliers: $EVOAPPROXNAS_USER_LUTS
 *    when set, else $XDG_DATA_HOME/evoapproxnas/luts, else ~/.local/share/evoapproxnas/luts.
 *    A missing user library is an empty one.
 * Names are unique across both. Manifests are parsed strictly: a malformed line is
 * ENG_ERR_FORMAT with a message naming the file and line.
 *
 * Example:
 *
 *     eng_mul *m;
 *     if (eng_mul_load("mul8u_1JFF", &m) != ENG_OK) { puts(eng_last_error()); return; }
 *     eng_lut lut = eng_mul_lut(m, ENG_LUT_DIRECT);
 *     int32_t p = eng_lut_product(&lut, 200, 17);      // 3400: mul8u_1JFF is exact
 *     eng_mul_metrics e;
 *     eng_mul_metrics_compute(m, &e);                  // e.mae == 0
 *     eng_mul_free(m);
 *
 * Thread safety: functions that read the environment and files may run concurrently; a loaded
 * eng_mul is immutable and may be shared between threads.
 */
#ifndef ENG_MUL_H
#define ENG_MUL_H

#include "eng_common.h"
#include "eng_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_MUL_NAME_MAX   64      /* buffer size of names (63 characters at most) */
#define ENG_MUL_FAMILY_MAX 32      /* buffer size of families and subsets */
#define ENG_MUL_PATH_MAX   1024    /* buffer size of the paths the library builds */

/* ------------------------------------------------------------------------------------------
 * Multipliers in memory
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_mul_figures {       /* published EvoApproxLib figures; NAN = unknown */
    double mae_pct;     /* mean |err| / 2^(a_bits + w_bits) x 100 */
    double mae;         /* mean |err| */
    double wce_pct;     /* max |err| / 2^(a_bits + w_bits) x 100 */
    double wce;         /* max |err| */
    double wcre_pct;    /* worst-case relative error x 100 */
    double ep_pct;      /* share of pairs with err != 0, x 100 */
    double mre_pct;     /* mean |err| / |exact| over pairs with exact != 0, x 100 */
    double mse;         /* mean err^2 */
    double power_mw;    /* PDK45 power */
    double area_um2;    /* PDK45 area */
    double delay_ns;    /* PDK45 delay */
} eng_mul_figures;

typedef struct eng_mul {
    char name[ENG_MUL_NAME_MAX];       /* "mul8u_1JFF" */
    char family[ENG_MUL_FAMILY_MAX];   /* "8x8_unsigned", "8x8_signed", "8x4_unsigned", "user",
                                          "exact" (eng_mul_exact) or "file" (loaded by path) */
    int a_bits;                        /* 8 */
    int w_bits;                        /* 2..8 */
    bool is_signed;                    /* entries and operands are two's complement (8x8 only) */
    uint16_t *table;                   /* 256 << w_bits entries, index (a << w_bits) | w */
    eng_mul_figures published;         /* all NAN when the multiplier has no manifest entry */
} eng_mul;

/* Loads a multiplier by library name (shipped luts/ or the user library) or, when the string
 * contains '/' or ends in ".bin", from a table file: then w_bits comes from the file size, the
 * table is taken as unsigned, the name is the file name without ".bin", the family "file" and
 * the figures unknown (use eng_mul_load_file for a signed file).
 * Errors: ENG_ERR_NOT_FOUND (unknown name), ENG_ERR_IO, ENG_ERR_FORMAT (bad manifest or size),
 * ENG_ERR_NOMEM. On error *out is unchanged. */
eng_status eng_mul_load(const char *name_or_path,   // "mul8u_1JFF" or "dir/table.bin"
                        eng_mul **out);             // receives the multiplier (eng_mul_free)

/* Loads a raw table file. w_bits = 0 infers it from the size (2 * (256 << w_bits) bytes);
 * otherwise the size must match. Name = file name without ".bin", family "file", figures NAN.
 * Errors: ENG_ERR_ARG (w_bits not 0 or 2..8, signed with w_bits != 8), ENG_ERR_IO,
 * ENG_ERR_FORMAT (size), ENG_ERR_NOMEM; on error *out is unchanged. */
eng_status eng_mul_load_file(const char *path,      // table file
                             int w_bits,            // 2..8, or 0 = from the size
                             bool is_signed,        // int16 entries
                             eng_mul **out);

/* An exact multiplier (a*w) in memory: unsigned/signed, w_bits 2..8 (signed: 8 only).
 * Name "exact8x<w>u"/"exact8x8s", family "exact", figures NAN except power (the exact 8x8 power
 * of the same signedness). Errors: ENG_ERR_ARG, ENG_ERR_NOMEM. */
eng_status eng_mul_exact(int w_bits, bool is_signed, eng_mul **out);

/* Frees a multiplier and its table; NULL is allowed. */
void eng_mul_free(eng_mul *m);

/* The kernels' view of the table (ENG_LUT_DIRECT unless mode says otherwise). The table stays
 * owned by m. ENG_LUT_SIGN_MAGNITUDE needs an unsigned table (asserted). Cannot fail. */
eng_lut eng_mul_lut(const eng_mul *m, eng_lut_mode mode);

/* Power of the exact 8xN multiplier of the given width and signedness, EvoApproxLib PDK45:
 * 8x8 0.391 mW unsigned (mul8u_1JFF), 0.425 mW signed (mul8s_1KV8); unsigned 8x7 .. 8x2 0.336,
 * 0.267, 0.198, 0.137, 0.082, 0.033 mW. The 8x8 figure of a signedness is the reference for
 * relative power and energy substitution; the narrower ones price exact 8xN layers. w_bits is
 * 2..8 (8 when signed; asserted). Cannot fail. */
double eng_mul_exact_power_mw(int w_bits, bool is_signed);

/* The circuit's output for codes a (0..255) and w (0..2^w_bits-1), as a signed integer. */
static inline int32_t eng_mul_value(const eng_mul *m, unsigned a, unsigned w)
{
    uint16_t e = m->table[(a << m->w_bits) | w];
    return m->is_signed ? (int32_t)(int16_t)e : (int32_t)e;
}

/* The exact product of codes a and w: a*w, or (int8)a * (int8)w for signed multipliers. */
static inline int32_t eng_mul_exact_value(const eng_mul *m, unsigned a, unsigned w)
{
    return m->is_signed ? (int32_t)(int8_t)(uint8_t)a * (int32_t)(int8_t)(uint8_t)w
                        : (int32_t)(a * w);
}

/* Writes the table in the raw format (a TFApprox .bin for 8x8 unsigned) to path, atomically
 * (temporary file in the same directory, then rename). overwrite = false refuses an existing
 * path with ENG_ERR_EXISTS. Errors: ENG_ERR_EXISTS, ENG_ERR_IO; on error path is unchanged. */
eng_status eng_mul_save(const eng_mul *m,           // the multiplier
                        const char *path,           // destination file
                        bool overwrite);            // replace an existing file

/* ------------------------------------------------------------------------------------------
 * Error metrics (computed from the table; conventions of EvoApproxLib)
 * ---------------------------------------------------------------------------------------- */

/* Over all 256 << w_bits input pairs, err = table value - exact product (signed products for
 * signed multipliers); percent figures relative to 2^(a_bits + w_bits). */
typedef struct eng_mul_metrics {
    double mae;         /* mean |err| */
    double mae_pct;     /* mae / 2^(a_bits + w_bits) x 100 */
    double wce;         /* max |err| */
    double wce_pct;     /* wce / 2^(a_bits + w_bits) x 100 */
    double wcre_pct;    /* max |err| / |exact| x 100 over pairs with exact != 0 */
    double mre_pct;     /* mean |err| / |exact| x 100 over pairs with exact != 0 */
    double ep_pct;      /* share of pairs with err != 0, x 100 */
    double mse;         /* mean err^2 */
    double mean_err;    /* mean err (bias; negative = the circuit underestimates) */
} eng_mul_metrics;

/* Computes all metrics of m. Cannot fail. */
void eng_mul_metrics_compute(const eng_mul *m, eng_mul_metrics *out);

/* Mean |err| over a grid of blocks: out[r * cols + c] covers activation codes
 * [r*256/rows, (r+1)*256/rows) and weight codes [c*2^w_bits/cols, ...). rows must divide 256 and
 * cols 2^w_bits. Errors: ENG_ERR_ARG (then out is unchanged). */
eng_status eng_mul_error_map(const eng_mul *m,
                             int rows,              // activation blocks, divides 256
                             int cols,              // weight blocks, divides 2^w_bits
                             double *out);          // rows * cols means

/* ------------------------------------------------------------------------------------------
 * The library (manifests)
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_mul_origin {
    ENG_MUL_ORIGIN_SHIPPED = 0,     /* the shipped luts/ */
    ENG_MUL_ORIGIN_USER,            /* the user library (imported) */
    ENG_MUL_ORIGIN_FILE,            /* a table file outside both libraries (never in a list) */
} eng_mul_origin;

/* One manifest line, plus where its table is. */
typedef struct eng_mul_info {
    char name[ENG_MUL_NAME_MAX];       /* [A-Za-z0-9_.-]+, not starting with '.' */
    char family[ENG_MUL_FAMILY_MAX];   /* "8x8_unsigned", ..., "user" */
    int a_bits;                        /* 8 */
    int w_bits;                        /* 2..8 */
    bool is_signed;                    /* signed: w_bits == 8 */
    char file[ENG_MUL_PATH_MAX];       /* table file relative to the manifest's directory */
    char subset[ENG_MUL_FAMILY_MAX];   /* EvoApprox Pareto subset ("pareto_pwr_mae"), or "" */
    eng_mul_figures published;         /* NAN = empty field */
    eng_mul_origin origin;             /* which library */
    char path[ENG_MUL_PATH_MAX];       /* directory of the manifest + "/" + file */
} eng_mul_info;

typedef struct eng_mul_manifest {
    eng_mul_info *entries;             /* count entries, in file order */
    int count;
} eng_mul_manifest;

/* Parses a manifest.tsv strictly: the exact header line, 18 tab-separated fields per line,
 * integers and finite non-negative numbers where numbers belong, valid and unique names, w_bits
 * 2..8, a_bits 8, signed 0/1 (1 only with w_bits 8), file a relative path without "..".
 * entries[i].path = dir + "/" + file. Errors: ENG_ERR_IO (cannot read; ENG_ERR_NOT_FOUND when it
 * does not exist), ENG_ERR_FORMAT ("<path>: line N: ..."), ENG_ERR_NOMEM. On error *out is
 * unchanged. */
eng_status eng_mul_manifest_read(const char *path,          // manifest.tsv
                                 eng_mul_origin origin,     // stored in every entry
                                 eng_mul_manifest *out);    // free with eng_mul_manifest_free

/* Writes a manifest atomically (temporary file + rename). Errors: ENG_ERR_IO, ENG_ERR_ARG (an
 * entry that would not read back: bad name, tab in a field); on error path is unchanged. */
eng_status eng_mul_manifest_write(const char *path, const eng_mul_manifest *m);

/* The text the manifest writer uses for a figure: the shortest decimal that reads back as
 * exactly v (integers without exponent), "" for NAN or infinity. buf: 32 bytes suffice. */
void eng_mul_format_figure(char *buf, size_t size, double v);

/* Frees the entries and zeroes *m; NULL or an empty manifest is allowed. */
void eng_mul_manifest_free(eng_mul_manifest *m);

/* Directory of the shipped library (see the overview), into buf. Errors: ENG_ERR_ARG (buffer
 * too small). */
eng_status eng_mul_library_dir(char *buf, size_t size);

/* Directory of the user library, into buf (it may not exist yet). Errors: ENG_ERR_NOT_FOUND
 * (neither EVOAPPROXNAS_USER_LUTS, XDG_DATA_HOME nor HOME is set), ENG_ERR_ARG (too small). */
eng_status eng_mul_user_dir(char *buf, size_t size);

/* All library entries: the shipped manifest's, then the user library's (empty when it has no
 * manifest). Errors: those of eng_mul_manifest_read, ENG_ERR_FORMAT when a user name repeats a
 * shipped one; on error *out is unchanged. */
eng_status eng_mul_library_list(eng_mul_manifest *out);

/* The entry called name (shipped or user). Errors: ENG_ERR_NOT_FOUND, those of _list. */
eng_status eng_mul_library_find(const char *name, eng_mul_info *out);

/* Loads the table of a library entry and checks its size against w_bits. The multiplier gets
 * the entry's name, family, signedness and published figures. Errors: ENG_ERR_IO,
 * ENG_ERR_FORMAT ("<path>: size N bytes, expected M for 8xW"), ENG_ERR_NOMEM. */
eng_status eng_mul_load_info(const eng_mul_info *info, eng_mul **out);

/* True when name is a valid library name ([A-Za-z0-9_.-], 1..63 characters, not starting with
 * '.'). */
bool eng_mul_name_valid(const char *name);

/* What `luts import` does: copy a raw table file into the user library under a new name. */
typedef struct eng_mul_import_opts {
    const char *name;       /* library name for it (eng_mul_name_valid) */
    int w_bits;             /* 2..8, or 0 = from the file size */
    bool is_signed;         /* int16 entries (then w_bits must be 8) */
    double power_mw;        /* published power, NAN = unknown; other figures stay unknown */
    bool force;             /* replace a user multiplier of the same name */
} eng_mul_import_opts;

/* Imports src into the user library (created when missing): the table becomes <name>.bin and
 * the user manifest gains (or, with force, replaces) the entry, family "user". Both files are
 * written to temporaries and renamed. Errors: ENG_ERR_ARG (bad name or options), ENG_ERR_EXISTS
 * (name in the shipped library, or in the user library without force), ENG_ERR_FORMAT (file
 * size, malformed manifest), ENG_ERR_IO, ENG_ERR_NOMEM; on error nothing is written (one
 * exception: with force, if the final rename of the manifest fails after <name>.bin was
 * replaced, the old entry describes the new table). The new entry is copied to *out when out
 * is not NULL. */
eng_status eng_mul_import(const char *src,                  // raw table file
                          const eng_mul_import_opts *opts,
                          eng_mul_info *out);               // may be NULL

#ifdef __cplusplus
}
#endif

#endif /* ENG_MUL_H */
