/*
 * fuzz_util.h - helpers shared by the libFuzzer harnesses: a per-process scratch directory
 * and writing the fuzzer's bytes to a file there (most loaders take a path).
 *
 * Each harness defines LLVMFuzzerTestOneInput(data, size) and must not leak, exit or keep
 * state between inputs; the sanitizers (ASan, UBSan, LeakSanitizer) and libFuzzer's limits
 * report everything else.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch directory of this process (created on first use under $TMPDIR or /tmp, removed
 * at exit). Aborts when it cannot be created. */
const char *fuzz_dir(void);

/* Writes data[0..size) to fuzz_dir()/name and returns that path (a static buffer per name
 * slot: slot 0..3, so a harness can hold up to four paths at once). Aborts on I/O errors. */
const char *fuzz_write(int slot, const char *name, const void *data, size_t size);

/* A NUL-terminated malloc()ed copy of data (the caller frees it). */
char *fuzz_strdup(const uint8_t *data, size_t size);

#endif /* FUZZ_UTIL_H */
