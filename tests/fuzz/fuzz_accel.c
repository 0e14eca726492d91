/*
 * fuzz_accel.c - libFuzzer harness: an accelerator YAML file (energy_accel_load), and the
 * energy model made from it when it loads.
 */
#include "energy/energy.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "accel.yaml", data, size);
    energy_accel a;
    if (energy_accel_load(path, &a) != ENG_OK) return 0;
    energy_model *m;
    if (energy_model_create(&a, &m) == ENG_OK) energy_model_free(m);
    return 0;
}
