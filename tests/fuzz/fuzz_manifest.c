/*
 * fuzz_manifest.c - libFuzzer harness: a multiplier manifest.tsv (eng_mul_manifest_read); a
 * manifest that reads is written back and must read back with the same entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_mul.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "manifest.tsv", data, size);
    eng_mul_manifest m;
    if (eng_mul_manifest_read(path, ENG_MUL_ORIGIN_USER, &m) != ENG_OK) return 0;
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/copy.tsv", fuzz_dir());
    eng_mul_manifest back;
    if (eng_mul_manifest_write(copy, &m) == ENG_OK) {
        if (eng_mul_manifest_read(copy, ENG_MUL_ORIGIN_USER, &back) != ENG_OK ||
            back.count != m.count)
            abort();
        for (int i = 0; i < m.count; i++)
            if (strcmp(back.entries[i].name, m.entries[i].name) != 0 ||
                back.entries[i].w_bits != m.entries[i].w_bits)
                abort();
        eng_mul_manifest_free(&back);
    }
    eng_mul_manifest_free(&m);
    return 0;
}
