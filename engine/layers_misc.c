/*
 * layers_misc.c - layout changes (flatten, channel padding) and the softmax cross-entropy loss.
 */
#include "eng_layers.h"

#include <math.h>
#include <string.h>

#define PAR_MIN 32768  /* values below which threads cost more than they save */

void eng_flatten_forward(int c, int n, int h, int w, const float *x, float *y)
{
    size_t hw = (size_t)h * w;
#pragma omp parallel for schedule(static) if ((size_t)c * n * h * w > PAR_MIN)
    for (int ci = 0; ci < c; ci++)
        for (int b = 0; b < n; b++) {
            const float *xp = x + ((size_t)ci * n + b) * hw;
            for (size_t i = 0; i < hw; i++) y[((size_t)ci * hw + i) * n + b] = xp[i];
        }
}

void eng_flatten_backward(int c, int n, int h, int w, const float *dy, float *dx)
{
    size_t hw = (size_t)h * w;
#pragma omp parallel for schedule(static) if ((size_t)c * n * h * w > PAR_MIN)
    for (int ci = 0; ci < c; ci++)
        for (int b = 0; b < n; b++) {
            float *dxp = dx + ((size_t)ci * n + b) * hw;
            for (size_t i = 0; i < hw; i++) dxp[i] = dy[((size_t)ci * hw + i) * n + b];
        }
}

void eng_channel_pad_forward(int c, size_t plane, int before, int after, const float *x,
                             float *y)
{
    memset(y, 0, (size_t)before * plane * sizeof *y);
    memcpy(y + (size_t)before * plane, x, (size_t)c * plane * sizeof *y);
    memset(y + (size_t)(before + c) * plane, 0, (size_t)after * plane * sizeof *y);
}

void eng_channel_pad_backward(int c, size_t plane, int before, const float *dy, float *dx)
{
    memcpy(dx, dy + (size_t)before * plane, (size_t)c * plane * sizeof *dx);
}

float eng_softmax_xent(int classes, int n, const float *logits, const uint8_t *labels,
                       int *correct, float *dlogits)
{
    double total = 0.0;
    int right = 0;
    for (int b = 0; b < n; b++) {
        ENG_ASSERT(labels[b] < classes);
        int arg = 0;
        float mx = logits[b];
        for (int k = 1; k < classes; k++)
            if (logits[(size_t)k * n + b] > mx) {
                mx = logits[(size_t)k * n + b];
                arg = k;
            }
        double sum = 0.0;
        for (int k = 0; k < classes; k++) sum += exp((double)(logits[(size_t)k * n + b] - mx));
        double lse = log(sum) + mx;
        total += lse - logits[(size_t)labels[b] * n + b];
        right += arg == labels[b];
        if (dlogits) {
            for (int k = 0; k < classes; k++) {
                double p = exp((double)logits[(size_t)k * n + b] - lse);
                dlogits[(size_t)k * n + b] = (float)((p - (k == labels[b])) / n);
            }
        }
    }
    if (correct) *correct = right;
    return (float)(total / n);
}
