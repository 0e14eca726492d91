/*
 * fuzz_layers.c - libFuzzer harness: a layer-list YAML file (energy_layers_load).
 */
#include <stdlib.h>

#include "energy/energy.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "layers.yaml", data, size);
    energy_layer *layers = NULL;
    int count = 0;
    char name[ENERGY_NAME_MAX];
    if (energy_layers_load(path, &layers, &count, name) == ENG_OK) free(layers);
    return 0;
}
