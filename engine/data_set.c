/*
 * data_set.c - data set containers: copies, seeded splits, statistics (the loaders of
 * data_load.c, data_idx.c and data_cifar.c build on it).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eng_data.h"

void eng_dataset_free(eng_dataset *ds)
{
    if (!ds) return;
    eng_free(ds->images);
    eng_free(ds->labels);
    *ds = (eng_dataset){0};
}

static size_t dataset_image_size(const eng_dataset *ds)
{
    return (size_t)ds->channels * ds->height * ds->width;
}

eng_status eng_dataset_select(const eng_dataset *src, const int *idx, int n, eng_dataset *out)
{
    if (!src || !out || n < 0 || (n > 0 && !idx))
        return eng_error(ENG_ERR_ARG, "eng_dataset_select: bad arguments");
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= src->count)
            return eng_error(ENG_ERR_ARG, "eng_dataset_select: index %d outside 0..%d", idx[i],
                             src->count - 1);
    size_t isize = dataset_image_size(src);
    eng_dataset ds = *src;
    ds.count = n;
    ds.images = eng_alloc((size_t)n * isize);
    ds.labels = eng_alloc((size_t)n);
    if (!ds.images || !ds.labels) {
        eng_free(ds.images);
        eng_free(ds.labels);
        return ENG_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        memcpy(ds.images + (size_t)i * isize, src->images + (size_t)idx[i] * isize, isize);
        ds.labels[i] = src->labels[idx[i]];
    }
    *out = ds;
    return ENG_OK;
}

/* Copies the two index lists into *first and *second (training statistics from first). */
static eng_status dataset_split_copy(const eng_dataset *src, const int *i1, int n1, const int *i2,
                                     int n2, eng_dataset *first, eng_dataset *second)
{
    eng_dataset a, b = {0};
    ENG_TRY(eng_dataset_select(src, i1, n1, &a));
    if (second) {
        eng_status st = eng_dataset_select(src, i2, n2, &b);
        if (st != ENG_OK) {
            eng_dataset_free(&a);
            return st;
        }
    }
    eng_dataset_normalize_self(&a);
    if (second) {
        eng_dataset_normalize_like(&b, &a);
        *second = b;
    }
    *first = a;
    return ENG_OK;
}

static eng_status dataset_split_check(const eng_dataset *src, int first_count, int second_count,
                                      const eng_dataset *first, const eng_dataset *second)
{
    if (!src || !first || first_count < 1 || second_count < 0 || (second_count > 0 && !second) ||
        first_count > src->count - second_count)
        return eng_error(ENG_ERR_ARG, "cannot split %d images into %d + %d",
                         src ? src->count : 0, first_count, second_count);
    return ENG_OK;
}

/* 0, 1, ..., n-1 shuffled from state seed; NULL when out of memory. */
static int *dataset_permutation(int n, uint64_t seed)
{
    int *perm = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!perm) {
        eng_error(ENG_ERR_NOMEM, "out of memory for a permutation of %d", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) perm[i] = i;
    eng_data_shuffle(perm, n, &seed);
    return perm;
}

eng_status eng_dataset_split(const eng_dataset *src, int first_count, int second_count,
                             uint64_t seed, eng_dataset *first, eng_dataset *second)
{
    ENG_TRY(dataset_split_check(src, first_count, second_count, first, second));
    int *perm = dataset_permutation(src->count, seed);
    if (!perm) return ENG_ERR_NOMEM;
    eng_status st = dataset_split_copy(src, perm, first_count, perm + first_count, second_count,
                                       first, second);
    free(perm);
    return st;
}

/* quota[c] = share of total for class c proportional to avail[c] (sum avail = pool >= total):
 * floors, then one more for the classes with the largest remainders, ties to the lower class. */
static void dataset_quotas(const int *avail, int classes, long long pool, int total, int *quota)
{
    bool bumped[256] = {false};
    long long given = 0;
    ENG_ASSERT(classes <= 256 && total <= pool);
    for (int c = 0; c < classes; c++) {
        quota[c] = (int)((long long)total * avail[c] / pool);
        given += quota[c];
    }
    for (; given < total; given++) {
        int best = 0;
        long long best_rem = -1;
        for (int c = 0; c < classes; c++) {
            long long rem = (long long)total * avail[c] % pool;
            if (!bumped[c] && rem > best_rem) {
                best_rem = rem;
                best = c;
            }
        }
        bumped[best] = true;
        quota[best]++;
    }
}

eng_status eng_dataset_split_stratified(const eng_dataset *src, int first_count,
                                        int second_count, uint64_t seed, eng_dataset *first,
                                        eng_dataset *second)
{
    ENG_TRY(dataset_split_check(src, first_count, second_count, first, second));
    if (src->classes < 1 || src->classes > 256)
        return eng_error(ENG_ERR_ARG, "cannot stratify %d classes", src->classes);
    int k = src->classes, n = src->count;
    int *perm = dataset_permutation(n, seed);
    int *bucket = malloc(sizeof(int) * ((size_t)n + 1));
    int *counts = calloc((size_t)k * 5, sizeof(int));
    eng_status st = ENG_ERR_NOMEM;
    if (!perm || !bucket || !counts) goto out;
    int *start = counts + k, *fill = counts + 2 * k, *q1 = counts + 3 * k, *q2 = counts + 4 * k;
    eng_dataset_class_counts(src, counts);
    for (int c = 1; c < k; c++) start[c] = start[c - 1] + counts[c - 1];
    /* stable bucketing of the random permutation by class */
    memcpy(fill, start, sizeof(int) * (size_t)k);
    for (int i = 0; i < n; i++) bucket[fill[src->labels[perm[i]]]++] = perm[i];
    dataset_quotas(counts, k, n, first_count, q1);
    for (int c = 0; c < k; c++) fill[c] = counts[c] - q1[c]; /* left after first */
    if (second_count > 0) dataset_quotas(fill, k, (long long)n - first_count, second_count, q2);
    /* gather first's images, then second's, into perm */
    int p = 0;
    for (int c = 0; c < k; c++)
        for (int j = 0; j < q1[c]; j++) perm[p++] = bucket[start[c] + j];
    for (int c = 0; c < k; c++)
        for (int j = 0; j < q2[c]; j++) perm[p++] = bucket[start[c] + q1[c] + j];
    eng_data_shuffle(perm, first_count, &seed);
    eng_data_shuffle(perm + first_count, second_count, &seed);
    st = dataset_split_copy(src, perm, first_count, perm + first_count, second_count, first,
                            second);
out:
    if (st == ENG_ERR_NOMEM && (!perm || !bucket || !counts))
        eng_error(ENG_ERR_NOMEM, "out of memory splitting %d images", n);
    free(perm);
    free(bucket);
    free(counts);
    return st;
}

void eng_dataset_stats(const eng_dataset *ds, double *mean, double *std)
{
    size_t plane = (size_t)ds->height * ds->width;
    for (int c = 0; c < ds->channels; c++) {
        uint64_t s = 0, s2 = 0;
        for (int i = 0; i < ds->count; i++) {
            const uint8_t *p = ds->images + ((size_t)i * ds->channels + c) * plane;
            uint32_t a = 0, a2 = 0; /* flushed every 65536 pixels: 65536 * 255^2 < 2^32 */
            for (size_t j = 0; j < plane; j++) {
                a += p[j];
                a2 += (uint32_t)p[j] * p[j];
                if ((j & 0xffff) == 0xffff) {
                    s += a;
                    s2 += a2;
                    a = a2 = 0;
                }
            }
            s += a;
            s2 += a2;
        }
        double n = (double)ds->count * (double)plane;
        if (n == 0) {
            mean[c] = std[c] = 0;
            continue;
        }
        double m = (double)s / n, var = (double)s2 / n - m * m;
        mean[c] = m / 255.0;
        std[c] = sqrt(var > 0 ? var : 0) / 255.0;
    }
}

void eng_dataset_normalize_self(eng_dataset *ds)
{
    double mean[ENG_DATASET_MAX_CHANNELS], std[ENG_DATASET_MAX_CHANNELS];
    ENG_ASSERT(ds->channels >= 1 && ds->channels <= ENG_DATASET_MAX_CHANNELS);
    eng_dataset_stats(ds, mean, std);
    for (int c = 0; c < ds->channels; c++) {
        ds->mean[c] = (float)mean[c];
        ds->std[c] = std[c] < 1e-6 ? 1.0f : (float)std[c];
    }
}

void eng_dataset_normalize_like(eng_dataset *ds, const eng_dataset *ref)
{
    ENG_ASSERT(ds->channels == ref->channels);
    memcpy(ds->mean, ref->mean, sizeof ds->mean);
    memcpy(ds->std, ref->std, sizeof ds->std);
}

void eng_dataset_class_counts(const eng_dataset *ds, int *counts)
{
    memset(counts, 0, sizeof(int) * (size_t)ds->classes);
    for (int i = 0; i < ds->count; i++) counts[ds->labels[i]]++;
}
