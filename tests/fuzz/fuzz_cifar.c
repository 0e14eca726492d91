/*
 * fuzz_cifar.c - libFuzzer harness: a CIFAR-10 binary batch (eng_dataset_load_cifar).
 *
 * Input: byte 0 = records per file - 1 (mod 4), the rest = the batch file.
 */
#include "eng_data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *files[1] = {fuzz_write(0, "batch.bin", data + 1, size - 1)};
    eng_dataset ds;
    if (eng_dataset_load_cifar(files, 1, 1 + data[0] % 4, &ds) == ENG_OK) eng_dataset_free(&ds);
    return 0;
}
