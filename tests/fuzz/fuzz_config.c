/*
 * fuzz_config.c - libFuzzer harness: a search config text (cfg_parse, src/config/config.c), read as
 * if it sat in configs/ (relative paths resolve against the shipped files).
 */
#include <stdlib.h>

#include "config.h"
#include "engine_config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    cfg_search cfg;
    if (cfg_parse(text, EVOAPPROXNAS_SOURCE_DIR "/configs/fuzz.yaml", &cfg) == ENG_OK)
        cfg_free(&cfg);
    free(text);
    return 0;
}
