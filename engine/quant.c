/*
 * quant.c - uniform quantization: parameters from ranges, observers, fake-quantization (eng_quant.h).
 */
#include "eng_quant.h"
#include "multiversion.h"

#include <float.h>

eng_qparams eng_qparams_from_range(float lo, float hi, int32_t qmin, int32_t qmax, bool symmetric)
{
    ENG_ASSERT(qmin < qmax);
    if (!(lo < 0.0f) || isinf(lo)) lo = 0.0f;      /* also NaN */
    if (!(hi > 0.0f) || isinf(hi)) hi = 0.0f;
    eng_qparams p = {.scale = 1.0f, .zero_point = 0, .qmin = qmin, .qmax = qmax};
    if (symmetric) {
        ENG_ASSERT(qmin < 0 && qmax > 0);
        float amax = -lo > hi ? -lo : hi;
        p.scale = amax / ((float)(qmax - qmin) / 2.0f);
    } else {
        p.scale = (hi - lo) / (float)(qmax - qmin);
    }
    if (!(p.scale > FLT_EPSILON)) p.scale = FLT_EPSILON;  /* constant tensors; also inf/NaN */
    if (!symmetric) {
        float zp = (float)qmin - nearbyintf(lo / p.scale);
        p.zero_point = zp < (float)qmin ? qmin : zp > (float)qmax ? qmax : (int32_t)zp;
    }
    return p;
}

void eng_quant_minmax(const float *x, size_t count, float *lo, float *hi)
{
    float mn = 0.0f, mx = 0.0f;
    bool any = false;
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        if (v != v) continue;
        if (!any) { mn = mx = v; any = true; }
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    *lo = mn;
    *hi = mx;
}

void eng_qparams_per_channel(const float *x, int channels, size_t count, int32_t qmin,
                             int32_t qmax, bool symmetric, eng_qparams *out)
{
    for (int c = 0; c < channels; c++) {
        float lo, hi;
        eng_quant_minmax(x + (size_t)c * count, count, &lo, &hi);
        out[c] = eng_qparams_from_range(lo, hi, qmin, qmax, symmetric);
    }
}

/* Both loops compute eng_quant_code / eng_quant_in_range in float (the codes are small
 * integers, exact in float), so that they vectorize; same values. */
ENG_MULTIVERSION
void eng_fake_quantize(const eng_qparams *p, const float *x, size_t count, float *y)
{
    const float scale = p->scale, zp = (float)p->zero_point;
    const float lo = (float)p->qmin, hi = (float)p->qmax;
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float q = nearbyintf(x[i] / scale) + zp;
        q = q != q ? zp : q < lo ? lo : q > hi ? hi : q;
        y[i] = (q - zp) * scale;
    }
}

ENG_MULTIVERSION
void eng_fake_quantize_backward(const eng_qparams *p, const float *x, const float *dy,
                                size_t count, float *dx)
{
    const float scale = p->scale, zp = (float)p->zero_point;
    const float lo = (float)p->qmin, hi = (float)p->qmax;
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float q = nearbyintf(x[i] / scale) + zp;
        float g = dy[i];
        dx[i] = q >= lo && q <= hi ? g : 0.0f;
    }
}

void eng_observer_update(eng_observer *o, float batch_lo, float batch_hi)
{
    if (o->mode == ENG_OBSERVER_FROZEN) return;
    if (!o->valid) {
        o->lo = batch_lo;
        o->hi = batch_hi;
        o->valid = true;
    } else if (o->mode == ENG_OBSERVER_EMA) {
        o->lo += o->momentum * (batch_lo - o->lo);
        o->hi += o->momentum * (batch_hi - o->hi);
    } else {
        if (batch_lo < o->lo) o->lo = batch_lo;
        if (batch_hi > o->hi) o->hi = batch_hi;
    }
}
