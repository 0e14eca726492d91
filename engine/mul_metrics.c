/*
 * mul_metrics.c - error metrics of a multiplier table against the exact product, with the
 * conventions of EvoApproxLib (percent figures relative to 2^(a_bits + w_bits)).
 *
 * Sums are exact: |err| and err^2 sums fit in 64-bit integers for every table size, so the
 * results do not depend on summation order.
 */
#include "mul_internal.h"

#include <math.h>
#include <stdlib.h>

void eng_mul_metrics_compute(const eng_mul *m, eng_mul_metrics *out)
{
    unsigned wn = 1u << m->w_bits;
    int64_t sum_abs = 0, sum_err = 0, max_abs = 0, wrong = 0, nonzero = 0;
    uint64_t sum_sq = 0;
    double sum_rel = 0, max_rel = 0;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned w = 0; w < wn; w++) {
            int32_t exact = eng_mul_exact_value(m, a, w);
            int64_t err = (int64_t)eng_mul_value(m, a, w) - exact;
            int64_t abs_err = err < 0 ? -err : err;
            sum_abs += abs_err;
            sum_err += err;
            sum_sq += (uint64_t)(err * err);
            if (abs_err > max_abs) max_abs = abs_err;
            wrong += err != 0;
            if (exact != 0) {
                double rel = (double)abs_err / fabs((double)exact);
                sum_rel += rel;
                if (rel > max_rel) max_rel = rel;
                nonzero++;
            }
        }
    }
    double pairs = 256.0 * wn;
    double range = ldexp(1.0, m->a_bits + m->w_bits);
    out->mae = (double)sum_abs / pairs;
    out->mae_pct = out->mae / range * 100.0;
    out->wce = (double)max_abs;
    out->wce_pct = out->wce / range * 100.0;
    out->wcre_pct = max_rel * 100.0;
    out->mre_pct = nonzero ? sum_rel / (double)nonzero * 100.0 : 0.0;
    out->ep_pct = (double)wrong / pairs * 100.0;
    out->mse = (double)sum_sq / pairs;
    out->mean_err = (double)sum_err / pairs;
}

eng_status eng_mul_error_map(const eng_mul *m, int rows, int cols, double *out)
{
    int wn = 1 << m->w_bits;
    if (rows < 1 || rows > 256 || 256 % rows != 0 || cols < 1 || cols > wn || wn % cols != 0)
        return eng_error(ENG_ERR_ARG, "error map %dx%d: rows must divide 256 and columns %d",
                         rows, cols, wn);
    int rh = 256 / rows, cw = wn / cols;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            int64_t sum = 0;
            for (int a = r * rh; a < (r + 1) * rh; a++)
                for (int w = c * cw; w < (c + 1) * cw; w++) {
                    int64_t err = (int64_t)eng_mul_value(m, (unsigned)a, (unsigned)w) -
                                  eng_mul_exact_value(m, (unsigned)a, (unsigned)w);
                    sum += err < 0 ? -err : err;
                }
            out[r * cols + c] = (double)sum / ((double)rh * cw);
        }
    }
    return ENG_OK;
}
