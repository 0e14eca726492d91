/*
 * testutil.h - small helpers shared by the Check test programs: data paths, file reading,
 * temporary folders and a tiny synthetic IDX data set.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under tests/data (EVOAPPROXNAS_TEST_DATA, set by meson test), in a static
 * buffer valid until the next call. */
const char *test_data_path(const char *relative);

/* Path of a file under luts/ (EVOAPPROXNAS_LUTS), in a static buffer. */
const char *test_luts_path(const char *relative);

/* Reads a whole file into a malloc()ed buffer; aborts the test (ck_abort) when it cannot. */
void *test_read_file(const char *path, size_t *size);

/* Reads tests/data/reference/<case_name>/<file> and checks it holds exactly `expected` bytes. */
void *test_read_reference(const char *case_name, const char *file, size_t expected);

/* Deterministic pseudo-random numbers for test inputs (splitmix64). */
uint64_t test_rand_u64(uint64_t *state);
float test_rand_uniform(uint64_t *state, float lo, float hi);

/* A fresh empty directory under $TMPDIR (or /tmp) for a test; removed by test_rmtree. */
const char *test_mkdtemp(void);
void test_rmtree(const char *dir);

/* Writes DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte: n images of 8x8 in 10
 * classes (class k: a bright 2x2 block at one of 10 places, plus noise), drawn from seed. */
void test_write_idx(const char *dir, const char *prefix, int n, uint64_t seed);

#endif /* TESTUTIL_H */
