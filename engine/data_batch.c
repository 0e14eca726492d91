/*
 * data_batch.c - normalized, optionally augmented float batches (CNHW), splitmix64, shuffling.
 */
#include "eng_data.h"

uint64_t eng_data_rand_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t eng_data_rand_below(uint64_t *state, uint32_t n)
{
    ENG_ASSERT(n >= 1);
    uint64_t m = (eng_data_rand_u64(state) >> 32) * n;
    if ((uint32_t)m < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while ((uint32_t)m < threshold) m = (eng_data_rand_u64(state) >> 32) * n;
    }
    return (uint32_t)(m >> 32);
}

void eng_data_shuffle(int *idx, int n, uint64_t *state)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)eng_data_rand_below(state, (uint32_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* One plane without augmentation: dst[i] = src[i] * scale + shift. */
static void batch_plane_plain(const uint8_t *restrict src, size_t size, float scale, float shift,
                              float *restrict dst)
{
#pragma omp simd
    for (size_t i = 0; i < size; i++) dst[i] = (float)src[i] * scale + shift;
}

/* One plane cropped at offset (oy, ox) of the padded image, optionally mirrored. */
static void batch_plane_aug(const uint8_t *restrict src, int h, int w, int pad, int oy, int ox,
                            bool flip, float scale, float shift, float *restrict dst)
{
    int d = ox - pad; /* source column = w + d, or w_max - w + d when flipped */
    int lo = flip ? (d > 0 ? d : 0) : (d < 0 ? -d : 0);
    int hi = flip ? (d < 0 ? w + d : w) : (d > 0 ? w - d : w);
    for (int y = 0; y < h; y++) {
        float *row = dst + (size_t)y * w;
        int sy = y + oy - pad;
        if (sy < 0 || sy >= h) {
            for (int x = 0; x < w; x++) row[x] = shift;
            continue;
        }
        const uint8_t *srow = src + (size_t)sy * w;
        for (int x = 0; x < lo; x++) row[x] = shift;
        if (flip)
            for (int x = lo; x < hi; x++) row[x] = (float)srow[w - 1 - x + d] * scale + shift;
        else
            for (int x = lo; x < hi; x++) row[x] = (float)srow[x + d] * scale + shift;
        for (int x = hi; x < w; x++) row[x] = shift;
    }
}

eng_status eng_dataset_batch(const eng_dataset *ds, const int *idx, int n, const eng_augment *aug,
                             uint64_t *rng, float *x, uint8_t *labels)
{
    if (!ds || n < 0 || (n > 0 && (!idx || !x)))
        return eng_error(ENG_ERR_ARG, "eng_dataset_batch: bad arguments");
    int pad = aug ? aug->crop_pad : 0;
    bool flip = aug && aug->hflip, augmented = pad != 0 || flip;
    if (pad < 0 || pad >= ds->height || pad >= ds->width)
        return eng_error(ENG_ERR_ARG, "eng_dataset_batch: crop_pad %d outside 0..%d", pad,
                         (ds->height < ds->width ? ds->height : ds->width) - 1);
    if (augmented && !rng)
        return eng_error(ENG_ERR_ARG, "eng_dataset_batch: augmentation needs an RNG state");
    for (int b = 0; b < n; b++)
        if (idx[b] < 0 || idx[b] >= ds->count)
            return eng_error(ENG_ERR_ARG, "eng_dataset_batch: image index %d outside 0..%d",
                             idx[b], ds->count - 1);

    int C = ds->channels, H = ds->height, W = ds->width;
    size_t plane = (size_t)H * W;
    float scale[ENG_DATASET_MAX_CHANNELS], shift[ENG_DATASET_MAX_CHANNELS];
    for (int c = 0; c < C; c++) {
        scale[c] = 1.0f / (255.0f * ds->std[c]);
        shift[c] = -ds->mean[c] / ds->std[c];
    }
    for (int b = 0; b < n; b++) {
        const uint8_t *img = ds->images + (size_t)idx[b] * C * plane;
        if (labels) labels[b] = ds->labels[idx[b]];
        if (!augmented) {
            for (int c = 0; c < C; c++)
                batch_plane_plain(img + c * plane, plane, scale[c], shift[c],
                                  x + ((size_t)c * n + b) * plane);
            continue;
        }
        int oy = pad ? (int)eng_data_rand_below(rng, 2u * pad + 1) : pad;
        int ox = pad ? (int)eng_data_rand_below(rng, 2u * pad + 1) : pad;
        bool mirror = flip && (eng_data_rand_u64(rng) >> 63);
        for (int c = 0; c < C; c++)
            batch_plane_aug(img + c * plane, H, W, pad, oy, ox, mirror, scale[c], shift[c],
                            x + ((size_t)c * n + b) * plane);
    }
    return ENG_OK;
}
