/*
 * fuzz_mul_import.c - libFuzzer harness: `luts import` of a table with options
 * (eng_mul_load_file, eng_mul_import into a scratch user library, then eng_mul_load of the
 * imported name, whose table must equal the file's).
 *
 * Input: byte 0 = options (bit 0 signed, bits 1..4 w_bits 0..15, bit 5 with a power figure),
 * the rest = the table file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char user[4200];
    snprintf(user, sizeof user, "%s/user", fuzz_dir());
    setenv("EVOAPPROXNAS_USER_LUTS", user, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const bool is_signed = data[0] & 1;
    const int w_bits = (data[0] >> 1) & 15;
    const char *path = fuzz_write(0, "table.bin", data + 1, size - 1);
    eng_mul *m = NULL;
    if (eng_mul_load_file(path, w_bits, is_signed, &m) != ENG_OK) return 0;
    eng_mul_import_opts o = {"fz", w_bits, is_signed, (data[0] & 32) ? 0.25 : NAN, true};
    eng_mul_info info;
    if (eng_mul_import(path, &o, &info) == ENG_OK) {
        eng_mul *back = NULL;
        if (eng_mul_load("fz", &back) != ENG_OK) abort();
        size_t entries = (size_t)256 << m->w_bits;
        if (back->w_bits != m->w_bits || back->is_signed != m->is_signed ||
            memcmp(back->table, m->table, entries * sizeof m->table[0]) != 0)
            abort();
        eng_mul_free(back);
    }
    eng_mul_free(m);
    return 0;
}
