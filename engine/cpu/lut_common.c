/*
 * lut_common.c - table preparation shared by the optimized table kernels: which weight codes
 * occur, and the table columns of those codes as byte planes.
 *
 * The kernels are weight-stationary: for one weight code w they look up the column T(., w)
 * with the 256 activation codes as the index, so the (a << w_bits) | w layout of eng_lut is
 * transposed here once per call, for the used codes only. The columns are built from
 * eng_lut_product itself, so every table mode, width and sign convention follows the
 * reference by construction. Also: lut_conv2d for sets without an implicit im2col.
 */
#include "cpu_kernels.h"

#include <stdlib.h>

eng_status eng_cpu_lut_conv2d_columns(const eng_kernels *k, const eng_lut *lut,
                                      const eng_conv_shape *s, int oc, const uint8_t *a,
                                      uint8_t pad_code, const uint8_t *w, int32_t *out)
{
    const int rows = s->c * s->kh * s->kw;
    const size_t np = (size_t)s->n * s->oh * s->ow;
    uint8_t *cols = malloc((size_t)rows * np);
    if (cols == NULL) /* the reference needs no buffer */
        return eng_kernels_ref()->lut_conv2d(lut, s, oc, a, pad_code, w, out);
    eng_status st;
    if ((st = k->im2col_u8(s, a, pad_code, cols)) != ENG_OK)
        goto done;
    st = k->lut_gemm(lut, oc, (int)np, rows, w, cols, out);
done:
    free(cols);
    return st;
}

void eng_lut_mark_used(const uint8_t *w, size_t count, bool used[256])
{
    for (int i = 0; i < 256; i++)
        used[i] = false;
    for (size_t i = 0; i < count; i++)
        used[w[i]] = true;
}

bool eng_lut_fits_int16(const eng_lut *lut, const bool used[256])
{
    if (lut->mode == ENG_LUT_DIRECT)
        return true;
    for (int w = 0; w < 256; w++) {
        if (!used[w])
            continue;
        for (int a = 0; a < 256; a++) {
            int32_t p = eng_lut_product(lut, (uint8_t)a, (uint8_t)w);
            if (p < INT16_MIN || p > INT16_MAX)
                return false;
        }
    }
    return true;
}

void eng_lut_build_column(const eng_lut *lut, uint8_t w, uint8_t column[512])
{
    const uint8_t flip = eng_lut_products_signed(lut) ? 0x80 : 0x00;
    uint8_t *lo = column, *hi = column + 256;
    if (lut->mode == ENG_LUT_DIRECT) {
        /* index (a << w_bits) | w stays inside the table for every byte w */
        for (int a = 0; a < 256; a++) {
            uint16_t e = lut->table[((uint32_t)a << lut->w_bits) | w];
            lo[a] = (uint8_t)e;
            hi[a] = (uint8_t)((e >> 8) ^ flip);
        }
    } else {
        for (int a = 0; a < 256; a++) {
            uint16_t e = (uint16_t)eng_lut_product(lut, (uint8_t)a, w);
            lo[a] = (uint8_t)e;
            hi[a] = (uint8_t)((e >> 8) ^ flip);
        }
    }
}

void eng_lut_build_planes(const eng_lut *lut, const bool used[256], uint8_t *planes)
{
    for (int w = 0; w < 256; w++)
        if (used[w])
            eng_lut_build_column(lut, (uint8_t)w, planes + (size_t)w * 512);
}
