/*
 * fuzz_tower.c - libFuzzer harness: Model Search tower and ensemble texts
 * (nas_tower_ensemble_parse) over a block library taken from the first bytes; a text that
 * parses is decoded, hashed, formatted and parsed again, which must give the same towers.
 *
 * Input: bytes 0-2 = the library (which of 8 entries), the multiplier count and the length
 * limits, the rest = the text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nas_tower.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[8] = {"conv3x3/8", "sep3x3/8", "mbconv3/16", "resblock/16",
                                         "maxpool", "identity", "down/16", "conv5x5/4"};
    if (size < 3) return 0;
    nas_tower_space sp = {.min_blocks = 1 + data[2] % 4, .max_blocks = 4 + (data[2] >> 2) % 29,
                          .stem_width = 4, .stem_stride = 1 + (data[1] >> 7),
                          .n_muls = 1 + data[1] % NAS_MAX_MULS, .in_channels = 1,
                          .in_height = 12, .in_width = 12, .classes = 10};
    for (int i = 0; i < 8; i++)
        if (data[0] & (1u << i)) nas_tower_block_parse(names[i], &sp.library[sp.n_library++]);
    if (nas_tower_space_check(&sp) != ENG_OK) return 0;
    char *text = fuzz_strdup(data + 3, size - 3);
    nas_tower t[NAS_TOWER_MAX_ENSEMBLE], again[NAS_TOWER_MAX_ENSEMBLE];
    int k = 0, k2 = 0;
    if (nas_tower_ensemble_parse(&sp, text, t, &k) == ENG_OK) {
        nas_arch arch;
        if (nas_tower_decode_ensemble(&sp, t, k, &arch) == ENG_OK) {
            (void)nas_arch_hash(&arch);
            nas_arch_free(&arch);
        }
        char buf[NAS_TOWER_MAX_ENSEMBLE * 1024];
        if (nas_tower_ensemble_format(&sp, t, k, buf, sizeof buf) < 0 ||
            nas_tower_ensemble_parse(&sp, buf, again, &k2) != ENG_OK || k2 != k ||
            memcmp(t, again, sizeof t[0] * (size_t)k) != 0)
            abort();
    }
    free(text);
    return 0;
}
