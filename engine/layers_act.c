/*
 * layers_act.c - ReLU and ReLU6 forward and backward, elementwise.
 */
#include "eng_layers.h"

#define ENG_ACT_PAR_MIN 32768  /* below this, threads cost more than they save */

void eng_relu_forward(size_t count, const float *x, float *y)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void eng_relu_backward(size_t count, const float *y, const float *dy, float *dx)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void eng_relu6_forward(size_t count, const float *x, float *y)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = v < 6.0f ? v : 6.0f;
    }
}

void eng_relu6_backward(size_t count, const float *x, const float *dy, float *dx)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) { /* no branches: the mask is data, the loop vectorizes */
        const float g = dy[i];
        dx[i] = (x[i] > 0.0f) & (x[i] < 6.0f) ? g : 0.0f;
    }
}

void eng_hardswish_forward(size_t count, const float *x, float *y)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) {
        float r = x[i] + 3.0f;
        r = r > 0.0f ? r : 0.0f;
        r = r < 6.0f ? r : 6.0f;
        y[i] = x[i] * r / 6.0f;
    }
}

void eng_hardswish_backward(size_t count, const float *x, const float *dy, float *dx)
{
    ptrdiff_t n = (ptrdiff_t)count;
#pragma omp parallel for simd schedule(static) if (n > ENG_ACT_PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) {
        const float v = x[i];
        const float d = v < -3.0f ? 0.0f : v > 3.0f ? 1.0f : (2.0f * v + 3.0f) / 6.0f;
        dx[i] = dy[i] * d;
    }
}
