/*
 * eng_data.h - image classification data sets: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary
 * loaders, seeded splits, normalized and augmented float batches, shuffling.
 *
 * A data set is a block of uint8 images [count][channels][height][width] (NCHW) plus one label
 * byte per image, and the per-channel mean/std used to normalize batches. Training reads it as
 * float batches in the engine's channel-major layout x[c][b][h][w] (CNHW):
 *
 *     eng_dataset all, train, val, test;
 *     ENG_TRY(eng_dataset_load(ENG_DATASET_IDX, "/usr/share/datasets/fashion-mnist", true, &all));
 *     ENG_TRY(eng_dataset_split(&all, 55000, 5000, 42, &train, &val)); // both use train's stats
 *     eng_dataset_free(&all);
 *     ENG_TRY(eng_dataset_load(ENG_DATASET_IDX, "/usr/share/datasets/fashion-mnist", false, &test));
 *     eng_dataset_normalize_like(&test, &train);                        // test uses train's stats
 *
 *     uint64_t rng = 7;                          // caller-owned RNG state (splitmix64)
 *     int *order = ...;                          // 0 .. train.count-1
 *     eng_data_shuffle(order, train.count, &rng);                       // epoch order
 *     eng_augment aug = {.crop_pad = 4, .hflip = true};                 // CIFAR recipe
 *     for (int i = 0; i + 64 <= train.count; i += 64)
 *         ENG_TRY(eng_dataset_batch(&train, order + i, 64, &aug, &rng, x, labels));
 *
 * Normalization: a pixel byte p of channel c becomes x = (p / 255 - mean[c]) / std[c], computed
 * as p * scale[c] + shift[c] (scale = 1 / (255 std), shift = -mean / std) in float.
 *
 * Randomness: every random choice comes from a caller-owned uint64_t state advanced by
 * splitmix64 (eng_data_rand_u64), so the same state gives the same batches and orders on every
 * machine and thread count. Nothing here keeps hidden state; functions are thread-safe on
 * distinct outputs and RNG states.
 *
 * File formats and the exact random-draw order are described in docs/data.md.
 */
#ifndef ENG_DATA_H
#define ENG_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Data sets
 * ---------------------------------------------------------------------------------------- */

#define ENG_DATASET_MAX_CHANNELS 4

typedef enum eng_dataset_kind {
    ENG_DATASET_IDX,         /* MNIST / Fashion-MNIST: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] */
    ENG_DATASET_CIFAR10,     /* CIFAR-10 binary: data_batch_1..5.bin (train), test_batch.bin */
    ENG_DATASET_COUNT
} eng_dataset_kind;

typedef struct eng_dataset {
    int count;                            /* number of images */
    int channels;                         /* 1 (IDX) or 3 (CIFAR-10) */
    int height;                           /* rows of one image */
    int width;                            /* columns of one image */
    int classes;                          /* labels are 0 .. classes-1 (10 for all kinds here) */
    uint8_t *images;                      /* [count][channels][height][width] bytes (NCHW) */
    uint8_t *labels;                      /* [count] */
    float mean[ENG_DATASET_MAX_CHANNELS]; /* per-channel mean of p/255 used by batches */
    float std[ENG_DATASET_MAX_CHANNELS];  /* per-channel std of p/255 used by batches (> 0) */
} eng_dataset;

/* Loads the training (train = true) or test part of a data set from a directory.
 *   IDX:     train-images-idx3-ubyte + train-labels-idx1-ubyte (or t10k-...), each file raw or
 *            gzip-compressed with ".gz" appended (the raw name wins when both exist); classes 10.
 *   CIFAR10: data_batch_1.bin .. data_batch_5.bin (train, in that order) or test_batch.bin,
 *            each exactly 10000 records of 1 label byte + 3072 image bytes.
 * mean/std are those of the loaded images. Errors: ENG_ERR_IO (a file is missing or unreadable,
 * message names it), ENG_ERR_FORMAT (bad magic, dimensions, counts, label >= classes, truncated
 * or oversized file; message names the file and the problem), ENG_ERR_NOMEM. On error *out is
 * unchanged. Free the result with eng_dataset_free(). */
eng_status eng_dataset_load(eng_dataset_kind kind,   /* file layout */
                            const char *path,        /* directory holding the files */
                            bool train,              /* training part (else test part) */
                            eng_dataset *out);       /* result */

/* Loads one IDX image file and its label file (each raw or gzip, detected by content), with
 * labels checked against `classes`. Same errors and contract as eng_dataset_load(). */
eng_status eng_dataset_load_idx(const char *images_path,  /* idx3 ubyte file */
                                const char *labels_path,  /* idx1 ubyte file */
                                int classes,              /* labels must be < classes (1..256) */
                                eng_dataset *out);        /* result */

/* Loads CIFAR-10-format binary batch files in order and concatenates them. Each file must hold
 * exactly records_per_file records (10000 for real CIFAR-10; any positive number for tests).
 * Same errors and contract as eng_dataset_load(). */
eng_status eng_dataset_load_cifar(const char *const *files,  /* nfiles paths */
                                  int nfiles,                /* >= 1 */
                                  int records_per_file,      /* exact records in each file */
                                  eng_dataset *out);         /* result */

/* The kind of a data set named as configs and the command line spell it: "fashion-mnist" and
 * "mnist" (ENG_DATASET_IDX) or "cifar10" (ENG_DATASET_CIFAR10). Unknown names give
 * ENG_ERR_NOT_FOUND with a message listing the known ones; *kind is then unchanged. */
eng_status eng_dataset_kind_parse(const char *name,         /* data set name */
                                  eng_dataset_kind *kind);  /* result */

/* Where a system package installs a data set by default ("fashion-mnist": Debian's
 * dataset-fashion-mnist, /usr/share/datasets/fashion-mnist), or NULL when there is no such
 * place. Can't fail. */
const char *eng_dataset_default_dir(const char *name);

/* Frees the arrays and zeroes *ds; NULL or an already freed (zeroed) data set is fine. */
void eng_dataset_free(eng_dataset *ds);

/* Deep copy of the images idx[0..n-1] (in that order) with src's mean/std. On error (index out
 * of range: ENG_ERR_ARG; ENG_ERR_NOMEM) *out is unchanged. */
eng_status eng_dataset_select(const eng_dataset *src,   /* source */
                              const int *idx,           /* n indices into src, repeats allowed */
                              int n,                    /* >= 0 */
                              eng_dataset *out);        /* result */

/* A seeded, deterministic random split or subset (copies). A permutation of src is drawn with
 * eng_data_shuffle() from state `seed`; `first` gets its first first_count images and `second`
 * the next second_count (second may be NULL when second_count is 0, giving a random subset).
 * first_count + second_count <= src->count. Both parts get first's per-channel mean/std (the
 * training statistics). On error (ENG_ERR_ARG, ENG_ERR_NOMEM) *first and *second are
 * unchanged. */
eng_status eng_dataset_split(const eng_dataset *src,  /* source, unchanged */
                             int first_count,         /* images in first (>= 1) */
                             int second_count,        /* images in second (>= 0) */
                             uint64_t seed,           /* same seed = same split */
                             eng_dataset *first,      /* e.g. training part */
                             eng_dataset *second);    /* e.g. validation part, or NULL */

/* Like eng_dataset_split() but stratified: first gets from each class a share proportional to
 * the class's frequency in src, second a share proportional to what is left of each class
 * (largest-remainder rounding, ties to the lower class). The images of a class are taken in
 * the order of a seeded permutation, and each part is then shuffled. Same contract. */
eng_status eng_dataset_split_stratified(const eng_dataset *src, int first_count,
                                        int second_count, uint64_t seed,
                                        eng_dataset *first, eng_dataset *second);

/* Per-channel mean and population standard deviation of p/255 over all images, in double
 * (exact integer sums). Can't fail; an empty data set gives mean 0, std 0. */
void eng_dataset_stats(const eng_dataset *ds,  /* data set */
                       double *mean,           /* [channels] out */
                       double *std);           /* [channels] out */

/* Recomputes ds->mean/std from ds's own images (a std below 1e-6 becomes 1). Can't fail. */
void eng_dataset_normalize_self(eng_dataset *ds);

/* Copies ref's mean/std into ds (e.g. the test set normalized with training statistics).
 * Both must have the same channel count (asserted). Can't fail. */
void eng_dataset_normalize_like(eng_dataset *ds, const eng_dataset *ref);

/* Number of images of each class, counts[0 .. classes-1]. Can't fail. */
void eng_dataset_class_counts(const eng_dataset *ds, int *counts);

/* ------------------------------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_augment {
    int  crop_pad;   /* random crop from the image padded with crop_pad black (p = 0) pixels */
    bool hflip;      /* mirror left-right with probability 1/2 */
} eng_augment;       /* all zero = no augmentation */

/* Writes images idx[0..n-1] as normalized floats x[c][b][h][w] (channels x n x height x width
 * floats) and their labels[b] (labels may be NULL). With aug (and crop_pad > 0 or hflip), each
 * image b in order draws from *rng: first, if crop_pad > 0, oy then ox, each uniform in
 * 0 .. 2*crop_pad; then, if hflip, one flip bit. Output pixel (h, w) is padded(h + oy, w' + ox)
 * with w' = width-1-w when flipped, else w, where padded(i, j) = image(i - crop_pad,
 * j - crop_pad) inside the image and black outside (crop, then flip, as torchvision's
 * RandomCrop + RandomHorizontalFlip). No allocation. Errors: ENG_ERR_ARG (an index outside
 * 0..count-1, n < 0, crop_pad < 0 or >= height/width, rng NULL when needed); on error nothing
 * is written and *rng is unchanged. */
eng_status eng_dataset_batch(const eng_dataset *ds,     /* source */
                             const int *idx,            /* n image indices */
                             int n,                     /* batch size */
                             const eng_augment *aug,    /* NULL = none */
                             uint64_t *rng,             /* RNG state, advanced (NULL if no aug) */
                             float *x,                  /* [channels][n][height][width] out */
                             uint8_t *labels);          /* [n] out, or NULL */

/* ------------------------------------------------------------------------------------------
 * Randomness (splitmix64, Steele, Lea & Flood 2014)
 * ---------------------------------------------------------------------------------------- */

/* Next 64 random bits: state += 0x9E3779B97F4A7C15, then the splitmix64 finalizer. */
uint64_t eng_data_rand_u64(uint64_t *state);

/* Uniform integer in 0 .. n-1 (n >= 1) without modulo bias (Lemire's multiply-shift with
 * rejection; consumes one or more draws). */
uint32_t eng_data_rand_below(uint64_t *state, uint32_t n);

/* Fisher-Yates shuffle of idx[0..n-1] in place: for i = n-1 down to 1, swap idx[i] with
 * idx[eng_data_rand_below(state, i + 1)]. */
void eng_data_shuffle(int *idx, int n, uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif /* ENG_DATA_H */
