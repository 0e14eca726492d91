/*
 * fuzz_weights.c - libFuzzer harness: a weights file as it is (eng_weights_read_arch,
 * eng_weights_load). Most inputs stop at the CRC; fuzz_weights_crc reaches the body.
 */
#include "eng_weights.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "net.w", data, size);
    char arch[256];
    if (eng_weights_read_arch(path, arch, sizeof arch) != ENG_OK) return 0;
    eng_net *net;
    if (eng_weights_load(path, &net) == ENG_OK) eng_net_free(net);
    return 0;
}
