/*
 * layers_norm.c - batch normalization forward (training and evaluation) and backward.
 *
 * Sums run in double per channel, in 8 interleaved partial sums (vectorizable) added in a
 * fixed order, so results do not depend on the thread count.
 */
#include "eng_layers.h"

#include <math.h>

#define PAR_MIN 32768  /* values below which threads cost more than they save */
#define LANES 8

/* sum(x) and sum((x - mean)^2) over m values. */
static double sum_lanes(const float *x, size_t m)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) acc[k] += x[i + k];
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < m; i++) s += x[i];
    return s;
}

static double sq_dev_lanes(const float *x, size_t m, double mean)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) {
            double d = x[i + k] - mean;
            acc[k] += d * d;
        }
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += acc[k];
    for (; i < m; i++) s += (x[i] - mean) * (x[i] - mean);
    return s;
}

/* sum(dy) and sum(dy * (x - mean) * invstd) over m values. */
static void dy_sums_lanes(const float *x, const float *dy, size_t m, float mean, float invstd,
                          double *sdy, double *sdyx)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) {
            a[k] += dy[i + k];
            b[k] += (double)dy[i + k] * (double)((x[i + k] - mean) * invstd);
        }
    double s1 = 0.0, s2 = 0.0;
    for (int k = 0; k < LANES; k++) {
        s1 += a[k];
        s2 += b[k];
    }
    for (; i < m; i++) {
        s1 += dy[i];
        s2 += (double)dy[i] * (double)((x[i] - mean) * invstd);
    }
    *sdy = s1;
    *sdyx = s2;
}

void eng_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                 const float *beta, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        float *yc = y + (size_t)ch * m;
        double mean = sum_lanes(xc, m) / (double)m;
        double sq = sq_dev_lanes(xc, m, mean);
        double var = sq / (double)m;
        double unbiased = m > 1 ? sq / (double)(m - 1) : var;
        float invstd = (float)(1.0 / sqrt(var + eps));
        float scale = gamma[ch] * invstd;
        float shift = beta[ch] - (float)mean * scale;
        for (size_t i = 0; i < m; i++) yc[i] = xc[i] * scale + shift;
        save_mean[ch] = (float)mean;
        save_invstd[ch] = invstd;
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)mean;
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)unbiased;
    }
}

void eng_batchnorm_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, float *y)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        float *yc = y + (size_t)ch * m;
        float scale = gamma[ch] / sqrtf(running_var[ch] + eps);
        float shift = beta[ch] - running_mean[ch] * scale;
        for (size_t i = 0; i < m; i++) yc[i] = xc[i] * scale + shift;
    }
}

void eng_batchnorm_backward(int c, size_t m, const float *x, const float *gamma,
                            const float *save_mean, const float *save_invstd, const float *dy,
                            float *dx, float *dgamma, float *dbeta)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        const float *dyc = dy + (size_t)ch * m;
        float *dxc = dx + (size_t)ch * m;
        float mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy, sdyx;
        dy_sums_lanes(xc, dyc, m, mean, invstd, &sdy, &sdyx);
        dgamma[ch] = (float)sdyx;
        dbeta[ch] = (float)sdy;
        /* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        float k = gamma[ch] * invstd;
        float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
        for (size_t i = 0; i < m; i++) {
            float xhat = (xc[i] - mean) * invstd;
            dxc[i] = k * (dyc[i] - mdy - xhat * mdyx);
        }
    }
}
