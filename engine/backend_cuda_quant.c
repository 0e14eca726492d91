/*
 * backend_cuda_quant.c - quantized conv2d, depthwise and dense layers of the CUDA backend:
 * the arithmetic of eng_ops.h (codes, table products, exact zero-point terms, dequantization;
 * STE backward) through the device table kernels.
 *
 * The quantization parameters are the CPU's own: the device computes the min/max of the
 * activations and weights, the host reads those few floats back and derives the parameters
 * with the code the CPU layers use (range observer, eng_qparams_from_range), then sends the
 * parameters to the device. So codes, table sums and parameters equal the CPU's for equal
 * inputs. The table gradient is not available here (eng_net_set_device refuses it).
 */
#include "backend_cuda_quant.h"

#include <stdlib.h>

#include "approx_internal.h"
#include "cuda/net_ops.h"
#include "eng_cuda.h"

struct net_dev_quant {
    const eng_approx *q;            /* the state this mirrors */
    eng_lut host_lut;               /* the host table the device copy was made from */
    eng_lut lut;                    /* the table on the device */
    int oc;
    eng_qparams *params;            /* device [1 + oc]: activation, then weights per channel */
    float *lohi;                    /* device [2 * oc] min/max results */
    eng_qparams *host_params;       /* host [1 + oc] */
    float *host_lohi;               /* host [2 * oc] */
};

/* Sizes of one quantized layer at batch n. */
typedef struct quant_dims {
    size_t X;        /* input values */
    size_t P;        /* output positions per channel */
    int K;           /* products per output */
    int oc;          /* output channels */
    size_t per_w;    /* weights per output channel */
} quant_dims;

static eng_status quant_dims_of(const eng_net *net, const eng_node *nd, int n, quant_dims *d,
                                eng_conv_shape *s)
{
    const eng_node *src = &net->nodes[nd->inputs[0]];
    d->X = (size_t)src->c * src->h * src->w * (size_t)n;
    d->oc = nd->c;
    if (nd->op == ENG_OP_DENSE) {
        d->P = (size_t)n;
        d->K = src->c;
        d->per_w = (size_t)src->c;
        return ENG_OK;
    }
    ENG_TRY(net_conv_shape(net, nd, n, s));
    d->P = (size_t)n * s->oh * s->ow;
    d->per_w = (size_t)s->kh * s->kw * (nd->op == ENG_OP_CONV2D ? (size_t)s->c : 1);
    d->K = (int)d->per_w;
    return ENG_OK;
}

/* Bump allocation in the device workspace (256-byte steps). */
static void *ws_take(unsigned char **p, size_t bytes)
{
    void *r = *p;
    *p += (bytes + 255) & ~(size_t)255;
    return r;
}

static size_t ws_size(size_t bytes)
{
    return (bytes + 255) & ~(size_t)255;
}

size_t net_device_quant_workspace(const eng_net *net, const eng_node *nd, int n, size_t conv_ws)
{
    quant_dims d;
    eng_conv_shape s;
    if (quant_dims_of(net, nd, n, &d, &s) != ENG_OK) return 0;
    size_t w = (size_t)d.oc * d.per_w;
    size_t asum = nd->op == ENG_OP_DEPTHWISE ? (size_t)d.oc * d.P : d.P;
    size_t fwd = ws_size(d.X) + ws_size(w) + ws_size(sizeof(int32_t) * (size_t)d.oc * d.P) +
                 ws_size(sizeof(int32_t) * asum) + ws_size(sizeof(int32_t) * d.oc);
    size_t bwd = ws_size(sizeof(float) * d.X) + ws_size(sizeof(float) * w) + conv_ws;
    return fwd > bwd ? fwd : bwd;
}

void net_device_quant_free(net_dev_quant *st)
{
    if (!st) return;
    eng_cuda_lut_free(&st->lut);
    eng_cuda_free(st->params);
    eng_cuda_free(st->lohi);
    free(st->host_params);
    free(st->host_lohi);
    free(st);
}

static bool lut_same(const eng_lut *a, const eng_lut *b)
{
    return a->table == b->table && a->w_bits == b->w_bits && a->is_signed == b->is_signed &&
           a->mode == b->mode;
}

/* Makes *state mirror q: (re)creates it for a new state, re-uploads a changed table. */
static eng_status quant_state_ensure(net_dev_quant **state, const eng_approx *q)
{
    net_dev_quant *st = *state;
    const eng_lut *lut = eng_approx_lut(q);
    if (st && st->q == q && lut_same(&st->host_lut, lut)) return ENG_OK;
    if (st && st->q == q && st->oc == q->out_channels) {
        eng_lut dev;
        ENG_TRY(eng_cuda_lut_upload(lut, &dev));
        eng_cuda_lut_free(&st->lut);
        st->lut = dev;
        st->host_lut = *lut;
        return ENG_OK;
    }
    st = calloc(1, sizeof *st);
    if (!st) return eng_error(ENG_ERR_NOMEM, "network: out of memory");
    st->q = q;
    st->oc = q->out_channels;
    st->host_lut = *lut;
    st->host_params = calloc((size_t)st->oc + 1, sizeof *st->host_params);
    st->host_lohi = calloc(2 * (size_t)st->oc, sizeof *st->host_lohi);
    eng_status rc = st->host_params && st->host_lohi
                        ? ENG_OK : eng_error(ENG_ERR_NOMEM, "network: out of memory");
    if (rc == ENG_OK) rc = eng_cuda_lut_upload(lut, &st->lut);
    if (rc == ENG_OK)
        rc = eng_cuda_malloc(((size_t)st->oc + 1) * sizeof(eng_qparams), (void **)&st->params);
    if (rc == ENG_OK) rc = eng_cuda_malloc(2 * (size_t)st->oc * sizeof(float), (void **)&st->lohi);
    if (rc != ENG_OK) {
        net_device_quant_free(st);
        return rc;
    }
    net_device_quant_free(*state);
    *state = st;
    return ENG_OK;
}

static eng_status quant_ops(const cuda_net_ops **o, const eng_cuda_kernels **dk)
{
    ENG_TRY(cuda_net_ops_get(o));
    return eng_cuda_kernels_get(dk);
}

eng_status net_device_quant_forward(eng_net *net, net_dev_quant **state, eng_node *nd, int n,
                                    const float *x, const float *w, const float *bias,
                                    bool training, float *y, void *ws)
{
    eng_approx *q = nd->q;
    const cuda_net_ops *o;
    const eng_cuda_kernels *dk;
    quant_dims d;
    eng_conv_shape s;
    ENG_TRY(quant_ops(&o, &dk));
    ENG_TRY(quant_dims_of(net, nd, n, &d, &s));
    ENG_TRY(quant_state_ensure(state, q));
    net_dev_quant *st = *state;
    const bool asym = q->cfg.mode == ENG_QUANT_ASYM;

    /* parameters: the ranges come back from the device, the host derives the parameters */
    float lo = 0.0f, hi = 0.0f;
    if (approx_act_needs_range(q, training)) {
        ENG_TRY(o->minmax_rows(x, 1, d.X, st->lohi));
        ENG_TRY(eng_cuda_copy_to_host(st->host_lohi, st->lohi, 2 * sizeof(float)));
        lo = st->host_lohi[0];
        hi = st->host_lohi[1];
    }
    approx_act_set_range(q, lo, hi, training);
    int rows = q->cfg.per_channel ? d.oc : 1;
    ENG_TRY(o->minmax_rows(w, rows, (size_t)d.oc * d.per_w / (size_t)rows, st->lohi));
    ENG_TRY(eng_cuda_copy_to_host(st->host_lohi, st->lohi, 2 * (size_t)rows * sizeof(float)));
    approx_weight_set_ranges(q, st->host_lohi);
    st->host_params[0] = q->act;
    for (int c = 0; c < d.oc; c++) st->host_params[1 + c] = q->wq[c];
    ENG_TRY(eng_cuda_copy_to_device(st->params, st->host_params,
                                    ((size_t)d.oc + 1) * sizeof(eng_qparams)));

    /* codes, table products, zero-point terms, dequantization */
    const eng_qparams *a = &q->act;
    const uint8_t pad = (uint8_t)a->zero_point;
    const bool depthwise = nd->op == ENG_OP_DEPTHWISE;
    unsigned char *p = ws;
    uint8_t *xcodes = ws_take(&p, d.X);
    uint8_t *wcodes = ws_take(&p, (size_t)d.oc * d.per_w);
    int32_t *acc = ws_take(&p, sizeof(int32_t) * (size_t)d.oc * d.P);
    int32_t *asum = ws_take(&p, sizeof(int32_t) * (depthwise ? (size_t)d.oc * d.P : d.P));
    int32_t *wsum = ws_take(&p, sizeof(int32_t) * (size_t)d.oc);
    ENG_TRY(dk->quantize(x, d.X, a->scale, a->zero_point, a->qmin, a->qmax, xcodes));
    ENG_TRY(o->quantize_rows(w, d.oc, d.per_w, st->params + 1, wcodes, NULL));
    if (asym) ENG_TRY(o->code_row_sums(wcodes, d.oc, d.per_w, wsum));
    size_t asum_stride = 0;
    if (nd->op == ENG_OP_CONV2D) {
        ENG_TRY(dk->lut_conv2d(&st->lut, &s, d.oc, xcodes, pad, wcodes, acc));
        if (asym) ENG_TRY(dk->conv_column_sums(&s, xcodes, pad, asum));
    } else if (depthwise) {
        ENG_TRY(dk->lut_depthwise(&st->lut, &s, xcodes, wcodes, pad, acc, asym ? asum : NULL));
        asum_stride = d.P;
    } else {
        ENG_TRY(dk->lut_gemm(&st->lut, d.oc, n, d.K, wcodes, xcodes, acc));
        if (asym) ENG_TRY(dk->column_sums(xcodes, d.K, (size_t)n, asum));
    }
    return o->dequantize(asym, a, st->params + 1, d.oc, d.P, d.K, acc, asum, asum_stride, wsum,
                         bias, NULL, y);
}

eng_status net_device_quant_backward(eng_net *net, net_dev_quant *st, eng_node *nd, int n,
                                     const float *x, const float *w, const float *dy,
                                     float *dx, float *dw, float *db, void *ws)
{
    if (!st || st->q != nd->q || !(nd->q->act.scale > 0.0f))
        return eng_error(ENG_ERR_ARG, "%s: no quantized forward since the multiplier was set",
                         nd->name);
    const cuda_net_ops *o;
    const eng_cuda_kernels *dk;
    quant_dims d;
    eng_conv_shape s;
    ENG_TRY(quant_ops(&o, &dk));
    ENG_TRY(quant_dims_of(net, nd, n, &d, &s));
    unsigned char *p = ws;
    float *xfq = ws_take(&p, sizeof(float) * d.X);
    float *wfq = ws_take(&p, sizeof(float) * (size_t)d.oc * d.per_w);
    /* the STE: exact gradients through the fake-quantized operands, masked where clipped */
    if (db) ENG_TRY(o->bias_backward(d.oc, d.P, dy, db));
    ENG_TRY(o->quantize_rows(x, 1, d.X, st->params, NULL, xfq));
    ENG_TRY(o->quantize_rows(w, d.oc, d.per_w, st->params + 1, NULL, wfq));
    if (nd->op == ENG_OP_CONV2D) {
        ENG_TRY(o->conv2d_backward(&s, d.oc, xfq, wfq, dy, dx, dw, NULL, p));
    } else if (nd->op == ENG_OP_DEPTHWISE) {
        ENG_TRY(o->depthwise_backward(&s, xfq, wfq, dy, dx, dw, NULL));
    } else {
        ENG_TRY(dk->sgemm(false, true, d.oc, d.K, n, 1.0f, dy, n, xfq, n, 0.0f, dw, d.K));
        if (dx) ENG_TRY(dk->sgemm(true, false, d.K, n, d.oc, 1.0f, wfq, d.K, dy, n, 0.0f, dx, n));
    }
    ENG_TRY(o->fake_quantize_backward_rows(w, dw, d.oc, d.per_w, st->params + 1, dw));
    if (dx) ENG_TRY(o->fake_quantize_backward_rows(x, dx, 1, d.X, st->params, dx));
    return ENG_OK;
}
