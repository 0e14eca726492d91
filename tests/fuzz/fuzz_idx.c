/*
 * fuzz_idx.c - libFuzzer harness: a pair of IDX files, raw or gzip (eng_dataset_load_idx).
 *
 * Input: bytes 0-1 = the images file's length L (little-endian, taken modulo what is left),
 * then L bytes of images file, then the labels file.
 */
#include "eng_data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t rest = size - 2, split = ((size_t)data[0] | (size_t)data[1] << 8) % (rest + 1);
    const char *images = fuzz_write(0, "images", data + 2, split);
    const char *labels = fuzz_write(1, "labels", data + 2 + split, rest - split);
    eng_dataset ds;
    if (eng_dataset_load_idx(images, labels, 10, &ds) == ENG_OK) eng_dataset_free(&ds);
    return 0;
}
