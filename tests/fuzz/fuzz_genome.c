/*
 * fuzz_genome.c - libFuzzer harness: NAS genome strings (nas_genome_parse) in a search space
 * taken from the first bytes; a genome that parses is decoded, hashed, formatted and parsed
 * again, which must give the same genes.
 *
 * Input: bytes 0-3 = the space (stages, nodes, widths and shared cells, multipliers), the rest
 * = the genome text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nas_genome.h"

enum { MAX_GENES = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    nas_space sp = {
        .stages = 1 + data[0] % NAS_MAX_STAGES,
        .nodes = 1 + data[1] % NAS_MAX_NODES,
        .shared_cells = data[2] & 1,
        .n_ops = NAS_OP_COUNT,
        .n_widths = 1 + (data[2] >> 1) % 3,
        .widths = {4, 6, 8},
        .width_growth = 2,
        .stem_width = 4,
        .n_muls = 1 + data[3] % NAS_MAX_MULS,
        .in_channels = 1 + (data[2] >> 3) % 3,
        .in_height = 16,
        .in_width = 16,
        .classes = 10,
    };
    for (int i = 0; i < NAS_OP_COUNT; i++) sp.ops[i] = (nas_op)i;
    if (nas_space_check(&sp) != ENG_OK || nas_genome_length(&sp) > MAX_GENES) return 0;
    char *text = fuzz_strdup(data + 4, size - 4);
    int genes[MAX_GENES], again[MAX_GENES];
    if (nas_genome_parse(&sp, text, genes) == ENG_OK) {
        nas_arch arch;
        if (nas_genome_decode(&sp, genes, &arch) == ENG_OK) {
            (void)nas_arch_hash(&arch);
            nas_arch_free(&arch);
        }
        char buf[MAX_GENES * 4];
        if (nas_genome_format(&sp, genes, buf, sizeof buf) < 0 ||
            nas_genome_parse(&sp, buf, again) != ENG_OK ||
            memcmp(genes, again, sizeof(int) * (size_t)nas_genome_length(&sp)) != 0)
            abort();
    }
    free(text);
    return 0;
}
