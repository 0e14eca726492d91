/*
 * layers_norm.c - batch normalization forward (training and evaluation) and backward.
 *
 * Sums run in double per channel in a fixed order, so results do not depend on threads.
 */
#include "eng_layers.h"

#include <math.h>

void eng_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                 const float *beta, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        float *yc = y + (size_t)ch * m;
        double sum = 0.0;
        for (size_t i = 0; i < m; i++) sum += xc[i];
        double mean = sum / (double)m;
        double sq = 0.0;
        for (size_t i = 0; i < m; i++) {
            double d = xc[i] - mean;
            sq += d * d;
        }
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
#pragma omp parallel for schedule(static)
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
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        const float *dyc = dy + (size_t)ch * m;
        float *dxc = dx + (size_t)ch * m;
        float mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < m; i++) {
            sdy += dyc[i];
            sdyx += (double)dyc[i] * (double)((xc[i] - mean) * invstd);
        }
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
