/*
 * layers_norm.c - batch normalization forward (training and evaluation) and backward, alone
 * or fused with the ReLU or ReLU6 that follows it.
 *
 * Sums run in double per channel, in 8 interleaved partial sums (vectorizable) added in a
 * fixed order, so results do not depend on the thread count. The fused forms compute the
 * same values as batch norm followed by eng_relu_* / eng_relu6_*, in fewer passes over memory:
 * the backward pass recomputes the activation's mask from x (z = x * scale + shift, the
 * expression of the forward pass) instead of reading the normalized values.
 */
#include "eng_layers.h"
#include "eng_ops.h"
#include "multiversion.h"

#include <math.h>

#define PAR_MIN 32768  /* values below which threads cost more than they save */
#define LANES 8

/* The activation fused after the batch norm. */
enum { ACT_NONE, ACT_RELU, ACT_RELU6 };

/* Sums of d = x - shift and d^2 over m values, in one pass: the shift (the channel's first
 * value) keeps the variance sum(d^2)/m - mean(d)^2 free of cancellation. */
ENG_MULTIVERSION
static void shifted_sums(const float *x, size_t m, float shift, double *sd, double *sdd)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) {
            double d = (double)x[i + k] - shift;
            a[k] += d;
            b[k] += d * d;
        }
    double s1 = 0.0, s2 = 0.0;
    for (int k = 0; k < LANES; k++) {
        s1 += a[k];
        s2 += b[k];
    }
    for (; i < m; i++) {
        double d = (double)x[i] - shift;
        s1 += d;
        s2 += d * d;
    }
    *sd = s1;
    *sdd = s2;
}

/* The normalized value as forward and backward compute it (one expression: the fused backward
 * recomputes the ReLU mask from it). ISO C mode: no FMA contraction. */
static inline float bn_affine(float x, float scale, float shift)
{
    return x * scale + shift;
}

/* The activation's mask in the fused backward: g = dy where z = bn_affine(x) is where the
 * activation passes its gradient (ReLU: z > 0; ReLU6: 0 < z < 6), else 0; dy for ACT_NONE. */
static inline float masked_dy(int act, float x, float dy, float scale, float shift)
{
    float z = bn_affine(x, scale, shift);
    if (act == ACT_RELU6)
        return (z > 0.0f) & (z < 6.0f) ? dy : 0.0f;
    return act == ACT_RELU ? (z > 0.0f ? dy : 0.0f) : dy;
}

/* The activation of the fused forward (ReLU: max(z, 0); ReLU6: min(max(z, 0), 6)). */
static inline float activate(int act, float z)
{
    if (act == ACT_NONE)
        return z;
    float v = z > 0.0f ? z : 0.0f;
    return act == ACT_RELU6 ? (v < 6.0f ? v : 6.0f) : v;
}

/* The lane loop of dy_sums_lanes for one activation (a constant after inlining). */
#define DY_SUMS_LOOP(ACT)                                                                 \
    for (; i + LANES <= m; i += LANES)                                                    \
        _Pragma("omp simd")                                                               \
        for (int k = 0; k < LANES; k++) {                                                 \
            float g = masked_dy(ACT, x[i + k], dy[i + k], scale, shift);                  \
            a[k] += g;                                                                    \
            b[k] += (double)g * (double)((x[i + k] - mean) * invstd);                     \
        }

/* sum(g) and sum(g * xhat) over m values (g: masked_dy). */
ENG_MULTIVERSION
static void dy_sums_lanes(const float *x, const float *dy, size_t m, float mean, float invstd,
                          int act, float scale, float shift, double *sdy, double *sdyx)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    /* one copy of the loop per activation: the choice is constant in each, so all vectorize */
    if (act == ACT_RELU)
        DY_SUMS_LOOP(ACT_RELU)
    else if (act == ACT_RELU6)
        DY_SUMS_LOOP(ACT_RELU6)
    else
        DY_SUMS_LOOP(ACT_NONE)
    double s1 = 0.0, s2 = 0.0;
    for (int k = 0; k < LANES; k++) {
        s1 += a[k];
        s2 += b[k];
    }
    for (; i < m; i++) {
        float g = masked_dy(act, x[i], dy[i], scale, shift);
        s1 += g;
        s2 += (double)g * (double)((x[i] - mean) * invstd);
    }
    *sdy = s1;
    *sdyx = s2;
}

/* y = activate(bn_affine(x)). */
ENG_MULTIVERSION
static void apply_affine(const float *x, size_t m, float scale, float shift, int act, float *y)
{
    if (act == ACT_RELU) {
#pragma omp simd
        for (size_t i = 0; i < m; i++) y[i] = activate(ACT_RELU, bn_affine(x[i], scale, shift));
    } else if (act == ACT_RELU6) {
#pragma omp simd
        for (size_t i = 0; i < m; i++) y[i] = activate(ACT_RELU6, bn_affine(x[i], scale, shift));
    } else {
#pragma omp simd
        for (size_t i = 0; i < m; i++) y[i] = bn_affine(x[i], scale, shift);
    }
}

static void forward_train(int c, size_t m, const float *x, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var,
                          int act, float *y, float *save_mean, float *save_invstd)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        const float first = m ? xc[0] : 0.0f;
        double sd, sdd;
        shifted_sums(xc, m, first, &sd, &sdd);
        double md = sd / (double)m;
        double mean = first + md;
        double sq = sdd - sd * md;       /* sum of squared deviations */
        if (sq < 0.0) sq = 0.0;
        double var = sq / (double)m;
        double unbiased = m > 1 ? sq / (double)(m - 1) : var;
        float invstd = (float)(1.0 / sqrt(var + eps));
        float scale = gamma[ch] * invstd;
        float shift = beta[ch] - (float)mean * scale;
        apply_affine(xc, m, scale, shift, act, y + (size_t)ch * m);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = invstd;
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)mean;
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)unbiased;
    }
}

void eng_batchnorm_forward_train(int c, size_t m, const float *x, const float *gamma,
                                 const float *beta, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
    forward_train(c, m, x, gamma, beta, eps, momentum, running_mean, running_var, ACT_NONE, y,
                  save_mean, save_invstd);
}

void eng_batchnorm_relu_forward_train(int c, size_t m, const float *x, const float *gamma,
                                      const float *beta, float eps, float momentum,
                                      float *running_mean, float *running_var, float *y,
                                      float *save_mean, float *save_invstd)
{
    forward_train(c, m, x, gamma, beta, eps, momentum, running_mean, running_var, ACT_RELU, y,
                  save_mean, save_invstd);
}

/* Channel ch's affine map in evaluation mode. */
static void eval_affine(int ch, const float *gamma, const float *beta, const float *running_mean,
                        const float *running_var, float eps, float *scale, float *shift)
{
    *scale = gamma[ch] / sqrtf(running_var[ch] + eps);
    *shift = beta[ch] - running_mean[ch] * *scale;
}

void eng_batchnorm_eval_affine(int c, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps,
                               float *scale, float *shift)
{
    for (int ch = 0; ch < c; ch++)
        eval_affine(ch, gamma, beta, running_mean, running_var, eps, scale + ch, shift + ch);
}

static void forward_eval(int c, size_t m, const float *x, const float *gamma, const float *beta,
                         const float *running_mean, const float *running_var, float eps,
                         int act, float *y)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        float scale, shift;
        eval_affine(ch, gamma, beta, running_mean, running_var, eps, &scale, &shift);
        apply_affine(x + (size_t)ch * m, m, scale, shift, act, y + (size_t)ch * m);
    }
}

void eng_epilogue_apply(const eng_epilogue *ep, int channel, const float *v, size_t m, float *y)
{
    const int act = ep->act == ENG_EPILOGUE_RELU6 ? ACT_RELU6
                    : ep->act == ENG_EPILOGUE_RELU ? ACT_RELU
                                                   : ACT_NONE;
    apply_affine(v, m, ep->scale[channel], ep->shift[channel], act, y);
}

void eng_batchnorm_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, float *y)
{
    forward_eval(c, m, x, gamma, beta, running_mean, running_var, eps, ACT_NONE, y);
}

void eng_batchnorm_relu_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                     const float *beta, const float *running_mean,
                                     const float *running_var, float eps, float *y)
{
    forward_eval(c, m, x, gamma, beta, running_mean, running_var, eps, ACT_RELU, y);
}

/* The loop of backward_dx for one activation (a constant after inlining). */
#define BACKWARD_DX_LOOP(ACT)                                                             \
    _Pragma("omp simd")                                                                   \
    for (size_t i = 0; i < m; i++) {                                                      \
        float g = masked_dy(ACT, xc[i], dyc[i], scale, shift);                            \
        float xhat = (xc[i] - mean) * invstd;                                             \
        dxc[i] = k * (g - mdy - xhat * mdyx);                                             \
    }

/* dx = k * (g - mdy - xhat * mdyx), g the (masked) gradient. */
ENG_MULTIVERSION
static void backward_dx(const float *xc, const float *dyc, size_t m, float mean, float invstd,
                        int act, float scale, float shift, float k, float mdy, float mdyx,
                        float *dxc)
{
    if (act == ACT_RELU)
        BACKWARD_DX_LOOP(ACT_RELU)
    else if (act == ACT_RELU6)
        BACKWARD_DX_LOOP(ACT_RELU6)
    else
        BACKWARD_DX_LOOP(ACT_NONE)
}

static void backward(int c, size_t m, const float *x, const float *gamma, const float *beta,
                     const float *save_mean, const float *save_invstd, int act,
                     const float *dy, float *dx, float *dgamma, float *dbeta)
{
#pragma omp parallel for schedule(static) if ((size_t)c * m > PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * m;
        const float *dyc = dy + (size_t)ch * m;
        float *dxc = dx + (size_t)ch * m;
        float mean = save_mean[ch], invstd = save_invstd[ch];
        /* the forward pass's affine map, for the activation's mask */
        float scale = gamma[ch] * invstd;
        float shift = act != ACT_NONE ? beta[ch] - mean * scale : 0.0f;
        double sdy, sdyx;
        dy_sums_lanes(xc, dyc, m, mean, invstd, act, scale, shift, &sdy, &sdyx);
        dgamma[ch] = (float)sdyx;
        dbeta[ch] = (float)sdy;
        /* dx = gamma*invstd * (g - mean(g) - xhat * mean(g*xhat)) */
        float k = gamma[ch] * invstd;
        float mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
        backward_dx(xc, dyc, m, mean, invstd, act, scale, shift, k, mdy, mdyx, dxc);
    }
}

void eng_batchnorm_backward(int c, size_t m, const float *x, const float *gamma,
                            const float *save_mean, const float *save_invstd, const float *dy,
                            float *dx, float *dgamma, float *dbeta)
{
    backward(c, m, x, gamma, NULL, save_mean, save_invstd, ACT_NONE, dy, dx, dgamma, dbeta);
}

void eng_batchnorm_relu_backward(int c, size_t m, const float *x, const float *gamma,
                                 const float *beta, const float *save_mean,
                                 const float *save_invstd, const float *dy, float *dx,
                                 float *dgamma, float *dbeta)
{
    backward(c, m, x, gamma, beta, save_mean, save_invstd, ACT_RELU, dy, dx, dgamma, dbeta);
}

void eng_batchnorm_relu6_forward_train(int c, size_t m, const float *x, const float *gamma,
                                       const float *beta, float eps, float momentum,
                                       float *running_mean, float *running_var, float *y,
                                       float *save_mean, float *save_invstd)
{
    forward_train(c, m, x, gamma, beta, eps, momentum, running_mean, running_var, ACT_RELU6, y,
                  save_mean, save_invstd);
}

void eng_batchnorm_relu6_forward_eval(int c, size_t m, const float *x, const float *gamma,
                                      const float *beta, const float *running_mean,
                                      const float *running_var, float eps, float *y)
{
    forward_eval(c, m, x, gamma, beta, running_mean, running_var, eps, ACT_RELU6, y);
}

void eng_batchnorm_relu6_backward(int c, size_t m, const float *x, const float *gamma,
                                  const float *beta, const float *save_mean,
                                  const float *save_invstd, const float *dy, float *dx,
                                  float *dgamma, float *dbeta)
{
    backward(c, m, x, gamma, beta, save_mean, save_invstd, ACT_RELU6, dy, dx, dgamma, dbeta);
}
