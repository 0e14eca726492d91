/*
 * test_data.c - data sets: real Fashion-MNIST against an independent zlib reader, written IDX
 * and CIFAR-10 files (good, corrupted, truncated), splits, statistics, batches, augmentation.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "eng_data.h"
#include "testutil.h"

static char tmpdir[4096];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", test_mkdtemp());
}

static void teardown(void)
{
    test_rmtree(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char buf[2][4200];
    static int which;
    which ^= 1;
    int n = snprintf(buf[which], sizeof buf[which], "%s/%s", tmpdir, name);
    ck_assert(n > 0 && (size_t)n < sizeof buf[which]);
    return buf[which];
}

/* Writes bytes to a file, gzip-compressed when gz. */
static void write_bytes(const char *path, const void *data, size_t size, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)size), (int)size);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX file image: header (magic type/ndims, dims) + payload; caller frees. */
static uint8_t *idx_bytes(uint8_t type, int ndims, const uint32_t *dims, const uint8_t *payload,
                          size_t psize, size_t *size)
{
    *size = 4 + 4 * (size_t)ndims + psize;
    uint8_t *b = malloc(*size);
    b[0] = b[1] = 0;
    b[2] = type;
    b[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) put_be32(b + 4 + 4 * i, dims[i]);
    memcpy(b + 4 + 4 * ndims, payload, psize);
    return b;
}

/* A small IDX pair: n images of h x w with pixel (i, j) = 7 i + j, labels i % 3. */
enum { SN = 5, SH = 3, SW = 4 };
static uint8_t small_pix[SN * SH * SW], small_lab[SN];

static void small_fill(void)
{
    for (int i = 0; i < SN * SH * SW; i++) small_pix[i] = (uint8_t)(7 * (i / (SH * SW)) + i % (SH * SW));
    for (int i = 0; i < SN; i++) small_lab[i] = (uint8_t)(i % 3);
}

static void write_small_idx(const char *prefix, bool gz)
{
    small_fill();
    char name[256];
    size_t size;
    uint32_t idims[3] = {SN, SH, SW}, ldims[1] = {SN};
    uint8_t *b = idx_bytes(0x08, 3, idims, small_pix, sizeof small_pix, &size);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    write_bytes(tmp_path(name), b, size, gz);
    free(b);
    b = idx_bytes(0x08, 1, ldims, small_lab, sizeof small_lab, &size);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    write_bytes(tmp_path(name), b, size, gz);
    free(b);
}

static const eng_dataset SENTINEL = {.count = -7};

/* Loads expecting failure st with a message containing all of the given fragments. */
static void expect_idx_error(const char *images, const char *labels, eng_status st,
                             const char *frag1, const char *frag2)
{
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load_idx(images, labels, 10, &ds), st);
    ck_assert_int_eq(ds.count, -7);
    ck_assert_ptr_null(ds.images);
    ck_assert_msg(strstr(eng_last_error(), frag1), "'%s' lacks '%s'", eng_last_error(), frag1);
    if (frag2)
        ck_assert_msg(strstr(eng_last_error(), frag2), "'%s' lacks '%s'", eng_last_error(), frag2);
}

/* ------------------------------------------------------------------------------------------
 * Real Fashion-MNIST
 * ---------------------------------------------------------------------------------------- */

static const char *fashion_dir(void)
{
    const char *d = getenv("EVOAPPROXNAS_FASHION_MNIST");
    return d ? d : "/usr/share/datasets/fashion-mnist";
}

/* The whole decompressed file, read independently of the loader. */
static uint8_t *gunzip_file(const char *path, size_t *size)
{
    gzFile f = gzopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while ((r = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    ck_assert_int_eq(r, 0);
    gzclose(f);
    *size = n;
    return b;
}

static void check_fashion_part(bool train, int count, const uint8_t *first_labels)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", fashion_dir());
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "# skipped: Fashion-MNIST not installed at %s\n", fashion_dir());
        return;
    }
    eng_dataset ds;
    ck_assert_msg(eng_dataset_load(ENG_DATASET_IDX, fashion_dir(), train, &ds) == ENG_OK, "%s",
                  eng_last_error());
    ck_assert_int_eq(ds.count, count);
    ck_assert_int_eq(ds.channels, 1);
    ck_assert_int_eq(ds.height, 28);
    ck_assert_int_eq(ds.width, 28);
    ck_assert_int_eq(ds.classes, 10);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(ds.labels[i], first_labels[i]);
    /* Fashion-MNIST is balanced: 6000 (train) or 1000 (test) images per class */
    int counts[10];
    eng_dataset_class_counts(&ds, counts);
    for (int c = 0; c < 10; c++) ck_assert_int_eq(counts[c], count / 10);

    const char *prefix = train ? "train" : "t10k";
    size_t size;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", fashion_dir(), prefix);
    uint8_t *raw = gunzip_file(path, &size);
    ck_assert_uint_eq(size, 8 + (size_t)count);
    ck_assert_int_eq(memcmp(raw + 8, ds.labels, (size_t)count), 0);
    free(raw);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", fashion_dir(), prefix);
    raw = gunzip_file(path, &size);
    ck_assert_uint_eq(size, 16 + (size_t)count * 784);
    ck_assert_int_eq(memcmp(raw + 16, ds.images, (size_t)count * 784), 0);
    free(raw);
    if (train) {
        /* the commonly quoted normalization constants of Fashion-MNIST's training set */
        ck_assert_float_eq_tol(ds.mean[0], 0.2860f, 1e-4f);
        ck_assert_float_eq_tol(ds.std[0], 0.3530f, 1e-4f);
    }
    eng_dataset_free(&ds);
}

START_TEST(test_fashion_mnist_train)
{
    static const uint8_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    check_fashion_part(true, 60000, first);
}
END_TEST

START_TEST(test_fashion_mnist_test)
{
    static const uint8_t first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    check_fashion_part(false, 10000, first);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Written IDX files
 * ---------------------------------------------------------------------------------------- */

static void check_small(const eng_dataset *ds)
{
    ck_assert_int_eq(ds->count, SN);
    ck_assert_int_eq(ds->channels, 1);
    ck_assert_int_eq(ds->height, SH);
    ck_assert_int_eq(ds->width, SW);
    ck_assert_int_eq(ds->classes, 10);
    ck_assert_int_eq(memcmp(ds->images, small_pix, sizeof small_pix), 0);
    ck_assert_int_eq(memcmp(ds->labels, small_lab, sizeof small_lab), 0);
    /* pixels 7i + j, i < 5, j < 12: mean 14 + 5.5 = 19.5; variance 49 * 2 + 143 / 12 */
    ck_assert_float_eq_tol(ds->mean[0], 19.5f / 255, 1e-6f);
    ck_assert_float_eq_tol(ds->std[0], sqrtf(98.0f + 143.0f / 12) / 255, 1e-6f);
}

START_TEST(test_idx_raw_and_gz)
{
    eng_dataset ds;
    write_small_idx("train", false);
    ck_assert_msg(eng_dataset_load(ENG_DATASET_IDX, tmpdir, true, &ds) == ENG_OK, "%s",
                  eng_last_error());
    check_small(&ds);
    eng_dataset_free(&ds);
    ck_assert_ptr_null(ds.images);
    eng_dataset_free(&ds); /* freeing twice is fine */

    write_small_idx("t10k", true);
    ck_assert_msg(eng_dataset_load(ENG_DATASET_IDX, tmpdir, false, &ds) == ENG_OK, "%s",
                  eng_last_error());
    check_small(&ds);
    eng_dataset_free(&ds);

    /* one file raw, the other compressed */
    ck_assert_int_eq(rename(tmp_path("t10k-labels-idx1-ubyte.gz"),
                            tmp_path("x.gz")), 0);
    ck_assert_int_eq(rename(tmp_path("train-labels-idx1-ubyte"),
                            tmp_path("t10k-labels-idx1-ubyte")), 0);
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, false, &ds), ENG_OK);
    check_small(&ds);
    eng_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_missing_files)
{
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, true, &ds), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "train-images-idx3-ubyte"));
    write_small_idx("train", true);
    ck_assert_int_eq(remove(tmp_path("train-labels-idx1-ubyte.gz")), 0);
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, true, &ds), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "train-labels-idx1-ubyte"));
    ck_assert_int_eq(ds.count, -7);
    expect_idx_error(tmp_path("nope"), tmp_path("train-images-idx3-ubyte.gz"), ENG_ERR_IO,
                     "nope", "cannot open");
}
END_TEST

/* Writes images/labels files with the given header fields and payload sizes, both raw or gz. */
static void write_idx_pair(bool gz, uint8_t itype, int indims, uint32_t n_img, uint32_t h,
                           uint32_t w, size_t ipayload, uint32_t n_lab, size_t lpayload,
                           uint8_t label_value)
{
    uint8_t *pix = calloc(ipayload + 1, 1), *lab = malloc(lpayload + 1);
    memset(lab, label_value, lpayload + 1);
    uint32_t idims[3] = {n_img, h, w}, ldims[1] = {n_lab};
    size_t size;
    uint8_t *b = idx_bytes(itype, indims, idims, pix, ipayload, &size);
    write_bytes(tmp_path("img"), b, size, gz);
    free(b);
    b = idx_bytes(0x08, 1, ldims, lab, lpayload, &size);
    write_bytes(tmp_path("lab"), b, size, gz);
    free(b);
    free(pix);
    free(lab);
}

static void check_bad_idx(bool gz)
{
    char img[4200], lab[4200];
    snprintf(img, sizeof img, "%s", tmp_path("img"));
    snprintf(lab, sizeof lab, "%s", tmp_path("lab"));
    /* a good pair first, so the failures below are due to the one defect each */
    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 24, 4, 4, 9);
    eng_dataset ds;
    ck_assert_int_eq(eng_dataset_load_idx(img, lab, 10, &ds), ENG_OK);
    eng_dataset_free(&ds);

    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 24, 4, 4, 10); /* label 10 with 10 classes */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/lab:", "label 10");
    write_idx_pair(gz, 0x08, 2, 4, 2, 3, 24, 4, 4, 1); /* images with 2 dimensions */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "magic");
    write_idx_pair(gz, 0x0D, 3, 4, 2, 3, 24, 4, 4, 1); /* float elements */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "0x0d");
    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 24, 5, 5, 1); /* 4 images, 5 labels */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "5 labels", "4 images");
    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 23, 4, 4, 1); /* one image byte missing */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "truncated");
    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 24, 4, 3, 1); /* one label missing */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/lab:", "truncated");
    write_idx_pair(gz, 0x08, 3, 4, 2, 3, 25, 4, 4, 1); /* one byte too many */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "after");
    write_idx_pair(gz, 0x08, 3, 0, 2, 3, 0, 0, 0, 1); /* no images */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "dimensions");
    write_idx_pair(gz, 0x08, 3, 4, 0, 3, 0, 4, 4, 1); /* zero rows */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "dimensions");
    write_bytes(img, "\0\0\x08\x03\0\0", 6, gz); /* header cut short */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "header");
    write_bytes(img, "", 0, gz); /* empty file */
    expect_idx_error(img, lab, ENG_ERR_FORMAT, "/img:", "header");
}

START_TEST(test_idx_bad_raw)
{
    check_bad_idx(false);
}
END_TEST

START_TEST(test_idx_bad_gz)
{
    check_bad_idx(true);
}
END_TEST

START_TEST(test_idx_corrupt_gzip)
{
    write_small_idx("train", true);
    size_t size;
    const char *img = tmp_path("train-images-idx3-ubyte.gz");
    uint8_t *b = test_read_file(img, &size);
    /* a cut gzip stream: the image bytes end early */
    write_bytes(img, b, size - 12, false);
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, true, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "train-images-idx3-ubyte.gz"));
    /* damaged compressed data (the deflate stream right after the 10-byte gzip header) */
    for (size_t i = 10; i < size - 8; i++) b[i] ^= 0x5A;
    write_bytes(img, b, size, false);
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, true, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "train-images-idx3-ubyte.gz"));
    ck_assert_int_eq(ds.count, -7);
    free(b);
}
END_TEST

/* Headers that promise more than the file holds fail as truncated before anything is
 * allocated (issue #14 item 3: 2^31 images of 65536x65536 in 116 bytes asked for 9.2e18). */
START_TEST(test_idx_huge_header)
{
    for (int gz = 0; gz < 2; gz++) {
        write_idx_pair(gz, 0x08, 3, 0x7fffffffu, 65536, 65536, 100, 0x7fffffffu, 4, 1);
        expect_idx_error(tmp_path("img"), tmp_path("lab"), ENG_ERR_FORMAT, "/img:", "truncated");
    }
}
END_TEST

/* Bytes after the end of the gzip stream are rejected; a second gzip member is data. */
START_TEST(test_idx_gzip_trailing_bytes)
{
    write_small_idx("t10k", true);
    char lab[4200];
    snprintf(lab, sizeof lab, "%s", tmp_path("t10k-labels-idx1-ubyte.gz"));
    size_t size;
    uint8_t *b = test_read_file(lab, &size);
    uint8_t *more = malloc(size + 7);
    memcpy(more, b, size);
    memcpy(more + size, "GARBAGE", 7);
    write_bytes(lab, more, size + 7, false);
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_IDX, tmpdir, false, &ds), ENG_ERR_FORMAT);
    ck_assert_msg(strstr(eng_last_error(), "t10k-labels-idx1-ubyte.gz") &&
                  strstr(eng_last_error(), "after the end of the gzip stream"), "%s",
                  eng_last_error());
    ck_assert_int_eq(ds.count, -7);
    /* the labels as two members: header in one, payload in the other */
    uint32_t ldims[1] = {SN};
    uint8_t *raw = idx_bytes(0x08, 1, ldims, small_lab, sizeof small_lab, &size);
    write_bytes(tmp_path("part1.gz"), raw, 8, true);
    write_bytes(tmp_path("part2.gz"), raw + 8, size - 8, true);
    size_t n1, n2;
    uint8_t *p1 = test_read_file(tmp_path("part1.gz"), &n1);
    uint8_t *p2 = test_read_file(tmp_path("part2.gz"), &n2);
    uint8_t *both = malloc(n1 + n2);
    memcpy(both, p1, n1);
    memcpy(both + n1, p2, n2);
    write_bytes(lab, both, n1 + n2, false);
    ck_assert_msg(eng_dataset_load(ENG_DATASET_IDX, tmpdir, false, &ds) == ENG_OK, "%s",
                  eng_last_error());
    check_small(&ds);
    eng_dataset_free(&ds);
    free(b);
    free(more);
    free(raw);
    free(p1);
    free(p2);
    free(both);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * CIFAR-10
 * ---------------------------------------------------------------------------------------- */

enum { CREC = 3073 };

/* Record r of file f: label (f + r) % 10, byte k of the image = (31 f + 7 r + k) % 251. */
static uint8_t *cifar_records(int f, int n, size_t *size)
{
    *size = (size_t)n * CREC;
    uint8_t *b = malloc(*size);
    for (int r = 0; r < n; r++) {
        b[(size_t)r * CREC] = (uint8_t)((f + r) % 10);
        for (int k = 0; k < 3072; k++) b[(size_t)r * CREC + 1 + k] = (uint8_t)((31 * f + 7 * r + k) % 251);
    }
    return b;
}

static void write_cifar(const char *name, int f, int n)
{
    size_t size;
    uint8_t *b = cifar_records(f, n, &size);
    write_bytes(tmp_path(name), b, size, false);
    free(b);
}

START_TEST(test_cifar_synthetic)
{
    write_cifar("a.bin", 0, 3);
    write_cifar("b.bin", 1, 3);
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s", tmp_path("a.bin"));
    snprintf(b, sizeof b, "%s", tmp_path("b.bin"));
    const char *files[2] = {a, b};
    eng_dataset ds;
    ck_assert_msg(eng_dataset_load_cifar(files, 2, 3, &ds) == ENG_OK, "%s", eng_last_error());
    ck_assert_int_eq(ds.count, 6);
    ck_assert_int_eq(ds.channels, 3);
    ck_assert_int_eq(ds.height, 32);
    ck_assert_int_eq(ds.width, 32);
    ck_assert_int_eq(ds.classes, 10);
    for (int i = 0; i < 6; i++) {
        int f = i / 3, r = i % 3;
        ck_assert_int_eq(ds.labels[i], (f + r) % 10);
        /* R plane first: channel c, row y, column x is byte 1024 c + 32 y + x of the record */
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y += 5)
                for (int x = 0; x < 32; x += 3) {
                    int k = 1024 * c + 32 * y + x;
                    ck_assert_int_eq(ds.images[(size_t)i * 3072 + k], (31 * f + 7 * r + k) % 251);
                }
    }
    /* per-channel statistics, recomputed here from the formula */
    for (int c = 0; c < 3; c++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < 6; i++)
            for (int k = 1024 * c; k < 1024 * (c + 1); k++) {
                double p = ((31 * (i / 3) + 7 * (i % 3) + k) % 251) / 255.0;
                s += p;
                s2 += p * p;
            }
        double m = s / 6144;
        ck_assert_double_eq_tol(ds.mean[c], m, 1e-6);
        ck_assert_double_eq_tol(ds.std[c], sqrt(s2 / 6144 - m * m), 1e-6);
    }
    eng_dataset_free(&ds);
}
END_TEST

START_TEST(test_cifar_bad)
{
    char p[4200];
    snprintf(p, sizeof p, "%s", tmp_path("bad.bin"));
    const char *files[1] = {p};
    eng_dataset ds = SENTINEL;
    size_t size;
    uint8_t *b = cifar_records(0, 3, &size);
    write_bytes(p, b, size - 1, false); /* truncated */
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 3, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "bad.bin"));
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "truncated"));
    write_bytes(p, b, size, false); /* 3 records where 4 are expected */
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 4, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "expected 12292"));
    b[CREC] = 10; /* label of record 1 */
    write_bytes(p, b, size, false);
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 3, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "record 1 has label 10"));
    ck_assert_int_eq(ds.count, -7);
    ck_assert_ptr_null(ds.images);
    b[CREC] = 9;
    write_bytes(p, b, size, false);
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 3, &ds), ENG_OK);
    ck_assert_int_eq(ds.labels[1], 9);
    eng_dataset_free(&ds);
    ds = SENTINEL;
    snprintf(p, sizeof p, "%s", tmp_path("missing.bin"));
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 3, &ds), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "missing.bin"));
    ck_assert_int_eq(eng_dataset_load_cifar(files, 0, 3, &ds), ENG_ERR_ARG);
    ck_assert_int_eq(ds.count, -7);
    /* a record count far beyond the files: a size error before 200 GB are allocated */
    snprintf(p, sizeof p, "%s", tmp_path("bad.bin"));
    ck_assert_int_eq(eng_dataset_load_cifar(files, 1, 70000000, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "expected 215110000000"));
    ck_assert_int_eq(ds.count, -7);
    free(b);
}
END_TEST

START_TEST(test_cifar_directory)
{
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_CIFAR10, tmpdir, false, &ds), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "test_batch.bin"));
    write_cifar("test_batch.bin", 2, 10000);
    ck_assert_msg(eng_dataset_load(ENG_DATASET_CIFAR10, tmpdir, false, &ds) == ENG_OK, "%s",
                  eng_last_error());
    ck_assert_int_eq(ds.count, 10000);
    ck_assert_int_eq(ds.labels[9999], (2 + 9999) % 10);
    ck_assert_int_eq(ds.images[9999 * 3072 + 3071], (31 * 2 + 7 * 9999 + 3071) % 251);
    eng_dataset_free(&ds);
    /* the training part needs data_batch_1..5 of 10000 records each */
    ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_CIFAR10, tmpdir, true, &ds), ENG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "data_batch_1.bin"));
    write_cifar("data_batch_1.bin", 0, 10);
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_CIFAR10, tmpdir, true, &ds), ENG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "data_batch_1.bin"));
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "expected 30730000"));
    ck_assert_int_eq(ds.count, -7);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Splits and statistics
 * ---------------------------------------------------------------------------------------- */

/* n images of 1 x 2 x 2; image i holds bytes (i & 255, i >> 8, i % 7, 3); labels from lab(i). */
static void make_indexed(eng_dataset *ds, int n, int classes, int (*lab)(int))
{
    *ds = (eng_dataset){.count = n, .channels = 1, .height = 2, .width = 2, .classes = classes};
    ds->images = eng_alloc((size_t)n * 4);
    ds->labels = eng_alloc((size_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *p = ds->images + 4 * (size_t)i;
        p[0] = (uint8_t)(i & 255);
        p[1] = (uint8_t)(i >> 8);
        p[2] = (uint8_t)(i % 7);
        p[3] = 3;
        ds->labels[i] = (uint8_t)lab(i);
    }
    eng_dataset_normalize_self(ds);
}

static int image_id(const eng_dataset *ds, int i)
{
    return ds->images[4 * i] | ds->images[4 * i + 1] << 8;
}

static int lab_mod10(int i)
{
    return i % 10;
}

static int lab_strata(int i)
{
    return i < 50 ? 0 : i < 80 ? 1 : 2;
}

START_TEST(test_split_deterministic_disjoint)
{
    eng_dataset src, a1, b1, a2, b2, a3, b3;
    make_indexed(&src, 1000, 10, lab_mod10);
    ck_assert_int_eq(eng_dataset_split(&src, 700, 200, 42, &a1, &b1), ENG_OK);
    ck_assert_int_eq(eng_dataset_split(&src, 700, 200, 42, &a2, &b2), ENG_OK);
    ck_assert_int_eq(eng_dataset_split(&src, 700, 200, 43, &a3, &b3), ENG_OK);
    ck_assert_int_eq(a1.count, 700);
    ck_assert_int_eq(b1.count, 200);
    ck_assert_int_eq(memcmp(a1.images, a2.images, 700 * 4), 0);
    ck_assert_int_eq(memcmp(b1.images, b2.images, 200 * 4), 0);
    ck_assert_int_ne(memcmp(a1.images, a3.images, 700 * 4), 0);
    /* every image at most once, labels travel with their images */
    static bool seen[1000];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 900; i++) {
        const eng_dataset *d = i < 700 ? &a1 : &b1;
        int j = i < 700 ? i : i - 700, id = image_id(d, j);
        ck_assert_int_lt(id, 1000);
        ck_assert(!seen[id]);
        seen[id] = true;
        ck_assert_int_eq(d->labels[j], id % 10);
        ck_assert_int_eq(d->images[4 * j + 2], id % 7);
    }
    /* first's own statistics, shared by second */
    double s = 0, s2 = 0;
    for (int i = 0; i < 700 * 4; i++) {
        double p = a1.images[i] / 255.0;
        s += p;
        s2 += p * p;
    }
    double m = s / 2800;
    ck_assert_double_eq_tol(a1.mean[0], m, 1e-6);
    ck_assert_double_eq_tol(a1.std[0], sqrt(s2 / 2800 - m * m), 1e-6);
    ck_assert_float_eq(b1.mean[0], a1.mean[0]);
    ck_assert_float_eq(b1.std[0], a1.std[0]);
    ck_assert_float_ne(src.mean[0], a1.mean[0]);

    /* subset: second NULL */
    eng_dataset sub;
    ck_assert_int_eq(eng_dataset_split(&src, 10, 0, 42, &sub, NULL), ENG_OK);
    ck_assert_int_eq(sub.count, 10);
    ck_assert_int_eq(memcmp(sub.images, a1.images, 40), 0); /* same permutation prefix */
    eng_dataset_free(&sub);

    eng_dataset *all[] = {&src, &a1, &b1, &a2, &b2, &a3, &b3};
    for (int i = 0; i < 7; i++) eng_dataset_free(all[i]);
}
END_TEST

START_TEST(test_split_rejects_bad_counts)
{
    eng_dataset src, a = SENTINEL, b = SENTINEL;
    make_indexed(&src, 10, 10, lab_mod10);
    ck_assert_int_eq(eng_dataset_split(&src, 8, 3, 1, &a, &b), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_split(&src, 0, 3, 1, &a, &b), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_split(&src, 3, -1, 1, &a, &b), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_split(&src, 3, 2, 1, &a, NULL), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_split_stratified(&src, 8, 3, 1, &a, &b), ENG_ERR_ARG);
    ck_assert_int_eq(a.count, -7);
    ck_assert_int_eq(b.count, -7);
    int bad[2] = {3, 10};
    ck_assert_int_eq(eng_dataset_select(&src, bad, 2, &a), ENG_ERR_ARG);
    ck_assert_int_eq(a.count, -7);
    ck_assert_int_eq(eng_dataset_split(&src, 8, 2, 1, &a, &b), ENG_OK);
    eng_dataset_free(&a);
    eng_dataset_free(&b);
    eng_dataset_free(&src);
}
END_TEST

START_TEST(test_split_stratified)
{
    /* classes 0, 1, 2 with 50, 30, 20 images; first 10 = 5 + 3 + 2; second 20 from the 45,
     * 27, 18 left = 10 + 6 + 4 */
    eng_dataset src, a, b, a2, b2;
    make_indexed(&src, 100, 3, lab_strata);
    ck_assert_int_eq(eng_dataset_split_stratified(&src, 10, 20, 5, &a, &b), ENG_OK);
    int ca[3], cb[3];
    eng_dataset_class_counts(&a, ca);
    eng_dataset_class_counts(&b, cb);
    ck_assert_int_eq(ca[0], 5);
    ck_assert_int_eq(ca[1], 3);
    ck_assert_int_eq(ca[2], 2);
    ck_assert_int_eq(cb[0], 10);
    ck_assert_int_eq(cb[1], 6);
    ck_assert_int_eq(cb[2], 4);
    static bool seen[100];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 30; i++) {
        const eng_dataset *d = i < 10 ? &a : &b;
        int j = i < 10 ? i : i - 10, id = image_id(d, j);
        ck_assert(!seen[id]);
        seen[id] = true;
        ck_assert_int_eq(d->labels[j], lab_strata(id));
    }
    ck_assert_int_eq(eng_dataset_split_stratified(&src, 10, 20, 5, &a2, &b2), ENG_OK);
    ck_assert_int_eq(memcmp(a.images, a2.images, 40), 0);
    ck_assert_int_eq(memcmp(b.images, b2.images, 80), 0);
    eng_dataset_free(&a2);
    eng_dataset_free(&b2);
    /* rounding by largest remainder: 7 of (50, 30, 20) = 3.5, 2.1, 1.4 -> 4, 2, 1 */
    ck_assert_int_eq(eng_dataset_split_stratified(&src, 7, 0, 9, &a2, NULL), ENG_OK);
    eng_dataset_class_counts(&a2, ca);
    ck_assert_int_eq(ca[0], 4);
    ck_assert_int_eq(ca[1], 2);
    ck_assert_int_eq(ca[2], 1);
    eng_dataset_free(&a2);
    eng_dataset_free(&a);
    eng_dataset_free(&b);
    eng_dataset_free(&src);
}
END_TEST

START_TEST(test_stats_and_normalized_batch)
{
    /* two 1 x 2 x 2 images 0 0 255 255 / 0 255 0 255: mean 0.5, std 0.5 -> x = -1 or +1 */
    static uint8_t pix[8] = {0, 0, 255, 255, 0, 255, 0, 255}, lab[2] = {1, 0};
    eng_dataset ds = {.count = 2, .channels = 1, .height = 2, .width = 2, .classes = 2,
                      .images = pix, .labels = lab};
    eng_dataset_normalize_self(&ds);
    ck_assert_float_eq_tol(ds.mean[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(ds.std[0], 0.5f, 1e-7f);
    float x[8];
    uint8_t l[2];
    int idx[2] = {1, 0};
    ck_assert_int_eq(eng_dataset_batch(&ds, idx, 2, NULL, NULL, x, l), ENG_OK);
    static const float want[8] = {-1, 1, -1, 1, -1, -1, 1, 1};
    for (int i = 0; i < 8; i++) ck_assert_float_eq_tol(x[i], want[i], 1e-6f);
    ck_assert_int_eq(l[0], 0);
    ck_assert_int_eq(l[1], 1);
    /* a constant channel gets std 1 */
    static uint8_t flat[4] = {51, 51, 51, 51};
    eng_dataset f = {.count = 1, .channels = 1, .height = 2, .width = 2, .classes = 1,
                     .images = flat, .labels = lab};
    eng_dataset_normalize_self(&f);
    ck_assert_float_eq_tol(f.mean[0], 0.2f, 1e-7f);
    ck_assert_float_eq(f.std[0], 1.0f);
    /* a test set normalized with training statistics */
    eng_dataset_normalize_like(&f, &ds);
    ck_assert_int_eq(eng_dataset_batch(&f, idx + 1, 1, NULL, NULL, x, NULL), ENG_OK);
    ck_assert_float_eq_tol(x[0], (0.2f - 0.5f) / 0.5f, 1e-6f);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Batches and augmentation
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_batch_layout_cnhw)
{
    /* 3 images of 2 channels 2 x 3; pixel byte = 50 b + 10 c + k; mean 0, std 1 -> x = p/255 */
    static uint8_t pix[3 * 2 * 6], lab[3] = {2, 0, 1};
    for (int b = 0; b < 3; b++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 6; k++) pix[(b * 2 + c) * 6 + k] = (uint8_t)(50 * b + 10 * c + k);
    eng_dataset ds = {.count = 3, .channels = 2, .height = 2, .width = 3, .classes = 3,
                      .images = pix, .labels = lab, .mean = {0, 0}, .std = {1, 1}};
    int idx[4] = {2, 0, 2, 1};
    float x[2 * 4 * 6];
    uint8_t l[4];
    ck_assert_int_eq(eng_dataset_batch(&ds, idx, 4, NULL, NULL, x, l), ENG_OK);
    for (int c = 0; c < 2; c++)
        for (int b = 0; b < 4; b++) {
            ck_assert_int_eq(l[b], lab[idx[b]]);
            for (int k = 0; k < 6; k++)
                ck_assert_float_eq_tol(x[(c * 4 + b) * 6 + k], (50 * idx[b] + 10 * c + k) / 255.0f,
                                       1e-6f);
        }
}
END_TEST

START_TEST(test_batch_rejects_bad_input)
{
    static uint8_t pix[2 * 4], lab[2];
    eng_dataset ds = {.count = 2, .channels = 1, .height = 2, .width = 2, .classes = 1,
                      .images = pix, .labels = lab, .mean = {0}, .std = {1}};
    float x[8] = {42, 42, 42, 42, 42, 42, 42, 42};
    uint64_t rng = 5;
    eng_augment aug = {.crop_pad = 1, .hflip = true};
    int bad[2] = {0, 2}, good[2] = {0, 1};
    ck_assert_int_eq(eng_dataset_batch(&ds, bad, 2, &aug, &rng, x, NULL), ENG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "index 2"));
    bad[1] = -1;
    ck_assert_int_eq(eng_dataset_batch(&ds, bad, 2, NULL, NULL, x, NULL), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_batch(&ds, good, 2, &aug, NULL, x, NULL), ENG_ERR_ARG);
    aug.crop_pad = 2;
    ck_assert_int_eq(eng_dataset_batch(&ds, good, 2, &aug, &rng, x, NULL), ENG_ERR_ARG);
    aug.crop_pad = -1;
    ck_assert_int_eq(eng_dataset_batch(&ds, good, 2, &aug, &rng, x, NULL), ENG_ERR_ARG);
    ck_assert_int_eq(eng_dataset_batch(&ds, good, -1, NULL, NULL, x, NULL), ENG_ERR_ARG);
    for (int i = 0; i < 8; i++) ck_assert_float_eq(x[i], 42);
    ck_assert_uint_eq(rng, 5);
    eng_augment none = {0};
    ck_assert_int_eq(eng_dataset_batch(&ds, good, 2, &none, NULL, x, NULL), ENG_OK);
    ck_assert_float_eq(x[0], 0);
}
END_TEST

/* The draws the batch makes for one image, replayed from the documented order. */
static void replay_draws(uint64_t *rng, int pad, bool hflip, int *oy, int *ox, bool *flip)
{
    *oy = *ox = pad;
    if (pad) {
        *oy = (int)eng_data_rand_below(rng, 2u * pad + 1);
        *ox = (int)eng_data_rand_below(rng, 2u * pad + 1);
    }
    *flip = hflip && (eng_data_rand_u64(rng) >> 63);
}

/* Finds a seed whose single-image draws are (oy, ox, flip). */
static uint64_t seed_for(int pad, bool hflip, int oy, int ox, bool flip)
{
    for (uint64_t s = 1;; s++) {
        uint64_t r = s;
        int y, x;
        bool f;
        replay_draws(&r, pad, hflip, &y, &x, &f);
        if (y == oy && x == ox && f == flip) return s;
    }
}

START_TEST(test_augment_known_cases)
{
    /* image 1 2 3 / 4 5 6 with pad 1; x = p / 255 (mean 0, std 1) */
    static uint8_t pix[6] = {1, 2, 3, 4, 5, 6}, lab[1] = {0};
    eng_dataset ds = {.count = 1, .channels = 1, .height = 2, .width = 3, .classes = 1,
                      .images = pix, .labels = lab, .mean = {0}, .std = {1}};
    static const struct {
        int oy, ox;
        bool flip;
        uint8_t want[6];
    } cases[] = {
        {1, 1, false, {1, 2, 3, 4, 5, 6}}, /* centred: identity */
        {1, 1, true, {3, 2, 1, 6, 5, 4}},  /* mirror */
        {0, 0, false, {0, 0, 0, 0, 1, 2}}, /* shifted down-right, black border */
        {2, 2, false, {5, 6, 0, 0, 0, 0}}, /* shifted up-left */
        {0, 2, true, {0, 0, 0, 0, 3, 2}},  /* crop 0 0 0 / 2 3 0, then mirror */
        {2, 0, true, {5, 4, 0, 0, 0, 0}},  /* crop 0 4 5 / 0 0 0, then mirror */
    };
    int idx[1] = {0};
    eng_augment aug = {.crop_pad = 1, .hflip = true};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        uint64_t rng = seed_for(1, true, cases[t].oy, cases[t].ox, cases[t].flip), after = rng;
        int y, x;
        bool f;
        replay_draws(&after, 1, true, &y, &x, &f);
        float out[6];
        ck_assert_int_eq(eng_dataset_batch(&ds, idx, 1, &aug, &rng, out, NULL), ENG_OK);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(fabsf(out[i] - cases[t].want[i] / 255.0f) < 1e-6f,
                          "case %zu pixel %d: %g, expected %d/255", t, i, out[i], cases[t].want[i]);
        ck_assert_uint_eq(rng, after); /* exactly the documented draws */
    }
}
END_TEST

START_TEST(test_augment_random_against_naive)
{
    /* 4 images of 3 channels 5 x 6, pad 2 and flip, against a direct padded-image reference;
     * black border = (0 - mean) / std */
    enum { N = 4, C = 3, H = 5, W = 6, P = 2 };
    static uint8_t pix[N * C * H * W], lab[N];
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)test_rand_u64(&s);
    eng_dataset ds = {.count = N, .channels = C, .height = H, .width = W, .classes = 1,
                      .images = pix, .labels = lab};
    eng_dataset_normalize_self(&ds);
    eng_augment aug = {.crop_pad = P, .hflip = true};
    int idx[N] = {3, 1, 0, 2};
    int flips = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        uint64_t rng = seed, ref = seed;
        float x[C * N * H * W];
        ck_assert_int_eq(eng_dataset_batch(&ds, idx, N, &aug, &rng, x, NULL), ENG_OK);
        for (int b = 0; b < N; b++) {
            int oy, ox;
            bool flip;
            replay_draws(&ref, P, true, &oy, &ox, &flip);
            flips += flip;
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int xx = 0; xx < W; xx++) {
                        int sx = (flip ? W - 1 - xx : xx) + ox - P, sy = y + oy - P;
                        int p = sy < 0 || sy >= H || sx < 0 || sx >= W
                                    ? 0 : pix[((idx[b] * C + c) * H + sy) * W + sx];
                        float want = ((float)p / 255.0f - ds.mean[c]) / ds.std[c];
                        ck_assert_float_eq_tol(x[((c * N + b) * H + y) * W + xx], want, 1e-5f);
                    }
        }
        ck_assert_uint_eq(rng, ref);
    }
    ck_assert_int_gt(flips, 50); /* of 200 fair coin flips */
    ck_assert_int_lt(flips, 150);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * Randomness
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_splitmix64_vectors)
{
    /* splitmix64 from state 0 (the reference sequence of Vigna's splitmix64.c) */
    uint64_t s = 0;
    ck_assert_uint_eq(eng_data_rand_u64(&s), 0xE220A8397B1DCDAFull);
    ck_assert_uint_eq(eng_data_rand_u64(&s), 0x6E789E6AA1B965F4ull);
    ck_assert_uint_eq(eng_data_rand_u64(&s), 0x06C45D188009454Full);
    /* rand_below: in range, every value hit, roughly uniform */
    int hist[7] = {0};
    s = 3;
    for (int i = 0; i < 70000; i++) {
        uint32_t v = eng_data_rand_below(&s, 7);
        ck_assert_uint_lt(v, 7);
        hist[v]++;
    }
    for (int v = 0; v < 7; v++) ck_assert_int_lt(abs(hist[v] - 10000), 500); /* > 5 sigma */
    ck_assert_uint_eq(eng_data_rand_below(&s, 1), 0);
}
END_TEST

START_TEST(test_shuffle)
{
    int a[100], b[100];
    for (int i = 0; i < 100; i++) a[i] = b[i] = i;
    uint64_t s1 = 11, s2 = 11;
    eng_data_shuffle(a, 100, &s1);
    /* Fisher-Yates replayed by hand */
    for (int i = 99; i > 0; i--) {
        int j = (int)eng_data_rand_below(&s2, (uint32_t)i + 1), t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_uint_eq(s1, s2);
    bool seen[100] = {false};
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        ck_assert(!seen[a[i]]);
        seen[a[i]] = true;
        moved += a[i] != i;
    }
    ck_assert_int_gt(moved, 80);
    eng_data_shuffle(a, 0, &s1); /* empty and single lists are fine */
    eng_data_shuffle(a, 1, &s1);
}
END_TEST

START_TEST(test_kind_names)
{
    eng_dataset_kind k = ENG_DATASET_COUNT;
    ck_assert_int_eq(eng_dataset_kind_parse("fashion-mnist", &k), ENG_OK);
    ck_assert_int_eq(k, ENG_DATASET_IDX);
    k = ENG_DATASET_COUNT;
    ck_assert_int_eq(eng_dataset_kind_parse("mnist", &k), ENG_OK);
    ck_assert_int_eq(k, ENG_DATASET_IDX);
    ck_assert_int_eq(eng_dataset_kind_parse("cifar10", &k), ENG_OK);
    ck_assert_int_eq(k, ENG_DATASET_CIFAR10);
    ck_assert_int_eq(eng_dataset_kind_parse("CIFAR10", &k), ENG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(eng_last_error(), "'CIFAR10'"));
    ck_assert_int_eq(k, ENG_DATASET_CIFAR10);
    ck_assert_str_eq(eng_dataset_default_dir("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
    ck_assert_ptr_null(eng_dataset_default_dir("cifar10"));
    eng_dataset ds = SENTINEL;
    ck_assert_int_eq(eng_dataset_load(ENG_DATASET_COUNT, "/", true, &ds), ENG_ERR_ARG);
    ck_assert_int_eq(ds.count, -7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *real = tcase_create("fashion_mnist");
    tcase_add_test(real, test_fashion_mnist_train);
    tcase_add_test(real, test_fashion_mnist_test);
    suite_add_tcase(s, real);
    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, setup, teardown);
    tcase_add_test(files, test_idx_raw_and_gz);
    tcase_add_test(files, test_idx_missing_files);
    tcase_add_test(files, test_idx_bad_raw);
    tcase_add_test(files, test_idx_bad_gz);
    tcase_add_test(files, test_idx_corrupt_gzip);
    tcase_add_test(files, test_idx_huge_header);
    tcase_add_test(files, test_idx_gzip_trailing_bytes);
    tcase_add_test(files, test_cifar_synthetic);
    tcase_add_test(files, test_cifar_bad);
    tcase_add_test(files, test_cifar_directory);
    suite_add_tcase(s, files);
    TCase *mem = tcase_create("memory");
    tcase_add_test(mem, test_split_deterministic_disjoint);
    tcase_add_test(mem, test_split_rejects_bad_counts);
    tcase_add_test(mem, test_split_stratified);
    tcase_add_test(mem, test_stats_and_normalized_batch);
    tcase_add_test(mem, test_batch_layout_cnhw);
    tcase_add_test(mem, test_batch_rejects_bad_input);
    tcase_add_test(mem, test_augment_known_cases);
    tcase_add_test(mem, test_augment_random_against_naive);
    tcase_add_test(mem, test_splitmix64_vectors);
    tcase_add_test(mem, test_shuffle);
    tcase_add_test(mem, test_kind_names);
    suite_add_tcase(s, mem);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
