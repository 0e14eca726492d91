/*
 * lut_fit.c - the residual decomposition of a multiplier table (eng_lut_fit): per weight code,
 * an exact linear part that int8 dot products compute, plus a residual table that is usually
 * one byte wide.
 *
 * For weight code w the table row P(a, w), a = 0..255, is written as
 *     P(a, w) = slope[w] * val(a) + offset[w] + R(a, w),   0 <= R(a, w),
 * with val(a) the activation code's value (two's complement for signed and sign-magnitude
 * tables). The slope is the integer that minimizes the range of P - slope * val over a: that
 * range is a convex function of the slope (a maximum of affine functions minus a minimum of
 * affine functions), so an integer ternary search finds it. Good approximate multipliers are
 * the exact product plus a small error, so their rows get slope = w and a residual below 256:
 * one byte plane instead of the two of a general 16-bit table (docs/kernels.md).
 * It also records which activation codes give the same products (the activation classes).
 * The slope range is what vpdpbusd can multiply: [0, 255] for unsigned activations (slope as
 * the unsigned operand), [-128, 127] for signed ones (slope as the signed operand).
 */
#include "cpu_kernels.h"

#include <string.h>

/* Range of row[a] - s * val[a] over a; *lowest gets the minimum. */
static int64_t residual_range(const int32_t row[256], const int32_t val[256], int32_t s,
                              int64_t *lowest)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int a = 0; a < 256; a++) {
        const int64_t r = (int64_t)row[a] - (int64_t)s * val[a];
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    *lowest = lo;
    return hi - lo;
}

/* The slope in [s_lo, s_hi] with the smallest residual range (ternary search on a convex
 * function; on ties the search keeps a minimizer inside [m1, m2]). A row that is exactly
 * linear (every row of an exact table) is recognized first: its slope, row[1] - row[0]
 * (val[0] = 0, val[1] = 1), leaves range 0, which no other slope does; 30 times less work. */
static int32_t best_slope(const int32_t row[256], const int32_t val[256], int32_t s_lo,
                          int32_t s_hi)
{
    int64_t unused;
    const int32_t linear = row[1] - row[0];
    if (linear >= s_lo && linear <= s_hi && residual_range(row, val, linear, &unused) == 0)
        return linear;
    while (s_hi - s_lo > 2) {
        const int32_t m1 = s_lo + (s_hi - s_lo) / 3, m2 = s_hi - (s_hi - s_lo) / 3;
        if (residual_range(row, val, m1, &unused) <= residual_range(row, val, m2, &unused))
            s_hi = m2;
        else
            s_lo = m1;
    }
    int32_t best = s_lo;
    int64_t best_range = residual_range(row, val, s_lo, &unused);
    for (int32_t s = s_lo + 1; s <= s_hi; s++) {
        const int64_t r = residual_range(row, val, s, &unused);
        if (r < best_range) {
            best_range = r;
            best = s;
        }
    }
    return best;
}

/* True when activation codes a and b give the same product with every valid weight code. */
static bool same_products(const eng_lut *lut, uint8_t a, uint8_t b)
{
    for (int w = 0; w < 256; w++)
        if (eng_lut_code_valid(lut, w) &&
            eng_lut_product(lut, a, (uint8_t)w) != eng_lut_product(lut, b, (uint8_t)w))
            return false;
    return true;
}

/* The activation classes of lut (struct eng_lut_fit) and, for at most 128 of them, the
 * columns over the classes. A code is compared with the first code of each class found so
 * far; rows of different classes usually differ at the first weight codes, so even the 256
 * classes of an exact table take about 33,000 short comparisons. */
static void find_classes(const eng_lut *lut, eng_lut_fit *fit)
{
    uint8_t first[256];
    int classes = 0;
    for (int a = 0; a < 256; a++) {
        int c = 0;
        while (c < classes && !same_products(lut, (uint8_t)a, first[c]))
            c++;
        if (c == classes)
            first[classes++] = (uint8_t)a;
        fit->class_of[a] = (uint8_t)c;
    }
    fit->classes = classes;
    fit->class_shift = -1;
    for (int s = 0; s <= 8 && fit->class_shift < 0; s++) {
        int a = 0;
        while (a < 256 && fit->class_of[a] == a >> s)
            a++;
        if (a == 256)
            fit->class_shift = s;
    }
    if (classes > 128)
        return;
    uint8_t column[512];
    for (int w = 0; w < 256; w++) {
        if (!eng_lut_code_valid(lut, w))
            continue;
        eng_lut_build_column(lut, (uint8_t)w, column);
        uint8_t *lo = fit->class_planes + (size_t)w * 256, *hi = lo + 128;
        for (int c = 0; c < classes; c++) {
            lo[c] = column[first[c]];
            hi[c] = column[256 + first[c]];
        }
    }
}

eng_status eng_lut_fit_create(const eng_lut *lut, eng_lut_fit **out)
{
    *out = NULL;
    if (lut == NULL || lut->table == NULL || lut->w_bits < 2 || lut->w_bits > 8 ||
        (unsigned)lut->mode >= ENG_LUT_MODE_COUNT)
        return eng_error(ENG_ERR_ARG, "eng_lut_fit_create: not a valid table");
    eng_lut_fit *fit = eng_alloc(sizeof *fit);
    if (fit == NULL)
        return ENG_ERR_NOMEM;
    memset(fit, 0, sizeof *fit);
    fit->signed_acts = eng_lut_products_signed(lut);
    int32_t val[256], row[256];
    for (int a = 0; a < 256; a++)
        val[a] = fit->signed_acts ? (int8_t)a : a;
    const int32_t s_lo = fit->signed_acts ? -128 : 0, s_hi = fit->signed_acts ? 127 : 255;
    for (int w = 0; w < 256; w++) {
        for (int a = 0; a < 256; a++)
            row[a] = eng_lut_product(lut, (uint8_t)a, (uint8_t)w);
        const int32_t s = best_slope(row, val, s_lo, s_hi);
        int64_t lowest;
        const int64_t range = residual_range(row, val, s, &lowest);
        if (range > 0xffff)
            continue; /* not usable: the kernels take the general path for this code */
        fit->usable[w] = true;
        fit->wide[w] = range > 0xff;
        fit->flat[w] = range == 0;
        fit->slope[w] = (int16_t)s;
        fit->offset[w] = (int32_t)lowest;
        uint8_t *lo = fit->planes + (size_t)w * 512, *hi = lo + 256;
        for (int a = 0; a < 256; a++) {
            const uint32_t r = (uint32_t)((int64_t)row[a] - (int64_t)s * val[a] - lowest);
            lo[a] = (uint8_t)r;
            hi[a] = (uint8_t)(r >> 8);
        }
    }
    find_classes(lut, fit);
    *out = fit;
    return ENG_OK;
}

const eng_lut_fit *eng_lut_class_fit(const eng_lut *lut, const bool used[256])
{
    if (lut->fit == NULL || lut->fit->classes > 128)
        return NULL;
    for (int w = 0; w < 256; w++)
        if (used[w] && !eng_lut_code_valid(lut, w))
            return NULL;
    return lut->fit;
}

void eng_lut_fit_free(eng_lut_fit *fit)
{
    eng_free(fit);
}

void eng_lut_fit_count(const eng_lut_fit *fit, const eng_lut *lut, eng_lut_fit_counts *out)
{
    *out = (eng_lut_fit_counts){.classes = fit->classes, .class_shift = fit->class_shift};
    for (int w = 0; w < 256; w++) {
        if (!eng_lut_code_valid(lut, w))
            continue;
        out->codes++;
        if (!fit->usable[w])
            out->unusable++;
        else if (fit->wide[w])
            out->wide++;
        else
            out->narrow++;
        out->flat += fit->usable[w] && fit->flat[w];
    }
}
