/*
 * testutil.c - helpers shared by the Check test programs.
 */
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

const char *test_data_path(const char *relative)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", env_or("EVOAPPROXNAS_TEST_DATA", "tests/data"), relative);
    return buf;
}

const char *test_luts_path(const char *relative)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", env_or("EVOAPPROXNAS_LUTS", "luts"), relative);
    return buf;
}

void *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) ck_abort_msg("cannot open test file %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(buf);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) ck_abort_msg("short read of %s", path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

void *test_read_reference(const char *case_name, const char *file, size_t expected)
{
    char rel[512];
    size_t size;
    snprintf(rel, sizeof rel, "reference/%s/%s", case_name, file);
    void *buf = test_read_file(test_data_path(rel), &size);
    ck_assert_msg(size == expected, "%s: %zu bytes, expected %zu", rel, size, expected);
    return buf;
}

uint64_t test_rand_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float test_rand_uniform(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)((test_rand_u64(state) >> 40) * (1.0 / 16777216.0));
}

const char *test_mkdtemp(void)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/evoapproxnas-test-XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(buf)) ck_abort_msg("mkdtemp failed");
    return buf;
}

void test_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

static void put_be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

void test_write_idx(const char *dir, const char *prefix, int n, uint64_t seed)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *fi = fopen(p, "wb");
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *fl = fopen(p, "wb");
    ck_assert(fi && fl);
    put_be32(fi, 0x803), put_be32(fi, (unsigned)n), put_be32(fi, 8), put_be32(fi, 8);
    put_be32(fl, 0x801), put_be32(fl, (unsigned)n);
    for (int i = 0; i < n; i++) {
        int k = (int)(test_rand_u64(&seed) % 10);
        unsigned char img[64];
        for (int j = 0; j < 64; j++) img[j] = (unsigned char)(test_rand_u64(&seed) % 40);
        int y = 1 + (k / 5) * 4, x = 1 + k % 5;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) img[(y + dy) * 8 + x + dx] = 220;
        fwrite(img, 1, 64, fi);
        fputc(k, fl);
    }
    fclose(fi);
    fclose(fl);
}
