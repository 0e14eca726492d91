/*
 * fuzz_weights_crc.c - libFuzzer harness: a weights file whose CRC-32 (the last 4 bytes) is
 * made right before loading, so the fuzzer reaches the header, tables, architecture text and
 * values behind the checksum (eng_weights_load).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eng_weights.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint8_t *b = malloc(size);
    if (!b) abort();
    memcpy(b, data, size);
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), b, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) b[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    const char *path = fuzz_write(0, "net.w", b, size);
    free(b);
    eng_net *net;
    if (eng_weights_load(path, &net) == ENG_OK) eng_net_free(net);
    return 0;
}
