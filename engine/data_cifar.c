/*
 * data_cifar.c - strict loader of CIFAR-10 binary batches.
 *
 * A batch file is a sequence of records, each 1 label byte followed by 3072 image bytes: the
 * 32x32 red plane, then green, then blue, rows top to bottom. That is already NCHW, so a
 * record's image bytes are copied as they are.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_IMAGE (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_IMAGE)
#define CIFAR_CLASSES 10

/* ENG_ERR_FORMAT unless the file of status sb holds exactly `records` records. */
static eng_status cifar_check_size(const char *path, const struct stat *sb, int records)
{
    long long want = (long long)records * CIFAR_RECORD;
    if ((long long)sb->st_size != want)
        return eng_error(ENG_ERR_FORMAT,
                         "%s: %lld bytes, expected %lld (%d records of 1 label + %d image bytes)%s",
                         path, (long long)sb->st_size, want, records, CIFAR_IMAGE,
                         sb->st_size % CIFAR_RECORD ? "; truncated or not a CIFAR-10 batch" : "");
    return ENG_OK;
}

/* Reads one file of exactly `records` records into images/labels starting at record `first`. */
static eng_status cifar_read_file(const char *path, int records, eng_dataset *ds, int first)
{
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ENG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    eng_status st = ENG_OK;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = eng_error(ENG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    st = cifar_check_size(path, &sb, records);
    if (st != ENG_OK) goto out;
    for (int r = 0; r < records; r++) {
        size_t i = (size_t)first + (size_t)r;
        int label = getc(f);
        if (label == EOF ||
            fread(ds->images + i * CIFAR_IMAGE, 1, CIFAR_IMAGE, f) != CIFAR_IMAGE) {
            st = ferror(f) ? eng_error(ENG_ERR_IO, "%s: read error: %s", path, strerror(errno))
                           : eng_error(ENG_ERR_FORMAT, "%s: truncated in record %d", path, r);
            goto out;
        }
        if (label >= CIFAR_CLASSES) {
            st = eng_error(ENG_ERR_FORMAT, "%s: record %d has label %d, not below %d classes", path,
                           r, label, CIFAR_CLASSES);
            goto out;
        }
        ds->labels[i] = (uint8_t)label;
    }
out:
    fclose(f);
    return st;
}

eng_status eng_dataset_load_cifar(const char *const *files, int nfiles, int records_per_file,
                                  eng_dataset *out)
{
    if (!files || nfiles < 1 || records_per_file < 1 || !out ||
        (long long)nfiles * records_per_file > INT32_MAX)
        return eng_error(ENG_ERR_ARG, "eng_dataset_load_cifar: bad arguments");
    for (int i = 0; i < nfiles; i++) {   /* every size right before the images are allocated */
        struct stat sb;
        if (stat(files[i], &sb) != 0)
            return eng_error(ENG_ERR_IO, "%s: cannot open: %s", files[i], strerror(errno));
        ENG_TRY(cifar_check_size(files[i], &sb, records_per_file));
    }
    eng_dataset ds = {
        .count = nfiles * records_per_file,
        .channels = CIFAR_CHANNELS,
        .height = CIFAR_SIDE,
        .width = CIFAR_SIDE,
        .classes = CIFAR_CLASSES,
    };
    ds.images = eng_alloc((size_t)ds.count * CIFAR_IMAGE);
    ds.labels = eng_alloc((size_t)ds.count);
    eng_status st = ENG_OK;
    if (!ds.images || !ds.labels)
        st = eng_error(ENG_ERR_NOMEM, "no memory for %d CIFAR-10 images", ds.count);
    for (int i = 0; st == ENG_OK && i < nfiles; i++)
        st = cifar_read_file(files[i], records_per_file, &ds, i * records_per_file);
    if (st == ENG_OK) {
        eng_dataset_normalize_self(&ds);
        *out = ds;
    } else {
        eng_dataset_free(&ds);
    }
    return st;
}

eng_status eng_data_load_cifar_dir(const char *dir, bool train, eng_dataset *out)
{
    enum { NTRAIN = 5, PATH_SIZE = 4096 };
    const char *files[NTRAIN];
    int n = train ? NTRAIN : 1;
    char buf[NTRAIN][PATH_SIZE];
    for (int i = 0; i < n; i++) {
        int len = train ? snprintf(buf[i], PATH_SIZE, "%s/data_batch_%d.bin", dir, i + 1)
                        : snprintf(buf[i], PATH_SIZE, "%s/test_batch.bin", dir);
        if (len < 0 || len >= PATH_SIZE) return eng_error(ENG_ERR_ARG, "%s: path too long", dir);
        files[i] = buf[i];
    }
    return eng_dataset_load_cifar(files, n, 10000, out);
}
