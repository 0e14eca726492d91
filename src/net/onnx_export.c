/*
 * onnx_export.c - ONNX model writer: protobuf wire format (varints, length-delimited fields)
 * and the translation of engine nodes into ONNX operators.
 */
#include "onnx_export.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_mul.h"
#include "eng_ops.h"
#include "eng_quant.h"

/* ------------------------------------------------------------------------------------------
 * Protobuf wire format: a growing byte buffer; a nested message is built in its own buffer
 * and appended as a length-delimited field.
 * ---------------------------------------------------------------------------------------- */

typedef struct pb {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pb;

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_I32 = 5 };

static void pb_raw(pb *b, const void *data, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, tmp, (size_t)n);
}

static void pb_key(pb *b, int field, int wire)
{
    pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

static void pb_int(pb *b, int field, int64_t v)
{
    pb_key(b, field, WIRE_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void pb_float(pb *b, int field, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pb_key(b, field, WIRE_I32);
    pb_raw(b, le, 4);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n)
{
    pb_key(b, field, WIRE_LEN);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_str(pb *b, int field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* Appends a finished nested message and frees it. */
static void pb_msg(pb *b, int field, pb *child)
{
    if (child->oom) b->oom = true;
    pb_bytes(b, field, child->p, child->n);
    free(child->p);
    memset(child, 0, sizeof *child);
}

/* ------------------------------------------------------------------------------------------
 * ONNX messages (field numbers of onnx.proto)
 * ---------------------------------------------------------------------------------------- */

enum { T_FLOAT = 1, T_UINT8 = 2, T_INT8 = 3 };            /* TensorProto.DataType */
enum { A_FLOAT = 1, A_INT = 2, A_INTS = 7 };              /* AttributeProto.AttributeType */

typedef struct graph {
    pb nodes, inits, meta;   /* GraphProto.node / initializer, ModelProto.metadata_props */
    bool opset14;            /* a node needs opset 14 (HardSwish); else the model says 13 */
} graph;

/* TensorProto initializer: dims, data type, name, raw_data (little-endian: floats are
 * converted from the host order, bytes copied). */
static void add_tensor(graph *g, const char *name, int type, const int64_t *dims, int nd,
                       const void *data, size_t bytes)
{
    pb t = {0};
    for (int i = 0; i < nd; i++) pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, type);
    pb_str(&t, 8, name);
    pb_key(&t, 9, WIRE_LEN);
    pb_varint(&t, bytes);
    if (type == T_FLOAT) {
        const float *f = data;
        for (size_t i = 0; i < bytes / 4; i++) {
            uint32_t v;
            memcpy(&v, &f[i], 4);
            uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                             (uint8_t)(v >> 24)};
            pb_raw(&t, le, 4);
        }
    } else {
        pb_raw(&t, data, bytes);
    }
    pb_msg(&g->inits, 5, &t);
}

static void add_scalar(graph *g, const char *name, float v)
{
    add_tensor(g, name, T_FLOAT, NULL, 0, &v, 4);
}

typedef struct attr {
    const char *name;
    int type;            /* A_INT, A_FLOAT or A_INTS */
    int64_t i;
    float f;
    int64_t ints[4];
    int n_ints;
} attr;

/* NodeProto: inputs, outputs, name, op_type, attributes, doc_string. */
static void add_node(graph *g, const char *op, const char *name, const char *const *in, int n_in,
                     const char *out, const attr *attrs, int n_attrs, const char *doc)
{
    pb n = {0};
    for (int i = 0; i < n_in; i++) pb_str(&n, 1, in[i]);
    pb_str(&n, 2, out);
    pb_str(&n, 3, name);
    pb_str(&n, 4, op);
    for (int i = 0; i < n_attrs; i++) {
        pb a = {0};
        pb_str(&a, 1, attrs[i].name);
        if (attrs[i].type == A_INT) pb_int(&a, 3, attrs[i].i);
        else if (attrs[i].type == A_FLOAT) pb_float(&a, 2, attrs[i].f);
        else
            for (int k = 0; k < attrs[i].n_ints; k++) pb_int(&a, 8, attrs[i].ints[k]);
        pb_int(&a, 20, attrs[i].type);
        pb_msg(&n, 5, &a);
    }
    if (doc) pb_str(&n, 6, doc);
    pb_msg(&g->nodes, 1, &n);
}

static void add_meta(graph *g, const char *key, const char *value)
{
    pb e = {0};
    pb_str(&e, 1, key);
    pb_str(&e, 2, value);
    pb_msg(&g->meta, 14, &e);
}

/* ValueInfoProto of a float tensor whose first dimension is "batch". */
static void value_info(pb *out, int field, const char *name, const int *dims, int nd)
{
    pb shape = {0}, tensor = {0}, type = {0}, vi = {0}, d = {0};
    pb_str(&d, 2, "batch");
    pb_msg(&shape, 1, &d);
    for (int i = 0; i < nd; i++) {
        pb_int(&d, 1, dims[i]);
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tensor, 1, T_FLOAT);
    pb_msg(&tensor, 2, &shape);
    pb_msg(&type, 1, &tensor);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(out, field, &vi);
}

/* ------------------------------------------------------------------------------------------
 * Engine nodes
 * ---------------------------------------------------------------------------------------- */

typedef struct params {
    float *t[ENG_PARAM_KIND_COUNT];
    size_t n[ENG_PARAM_KIND_COUNT];
} params;

/* The parameter tensors of every node. */
static eng_status node_params(eng_net *net, params *out)
{
    int count = eng_net_param_count(net);
    if (count < 0) return (eng_status)-count;
    for (int i = 0; i < count; i++) {
        eng_param p;
        ENG_TRY(eng_net_param_get(net, i, &p));
        out[p.node].t[p.kind] = p.data;
        out[p.node].n[p.kind] = p.count;
    }
    return ENG_OK;
}

static void tname(char *buf, size_t size, int node, const char *suffix)
{
    snprintf(buf, size, "n%d%s", node, suffix);
}

/* The code ranges of a quantized layer, as the engine's approximate layers use them. */
static void code_ranges(const eng_approx_cfg *c, const eng_layer_info *info, int32_t *a_min,
                        int32_t *a_max, int32_t *w_min, int32_t *w_max)
{
    if (c->mode == ENG_QUANT_ASYM) {
        *a_min = 0, *a_max = 255;
        *w_min = 0, *w_max = (1 << info->weight_bits) - 1;
        return;
    }
    *a_min = -127, *a_max = 127;
    bool sign_magnitude = info->mul && !info->mul->is_signed;
    int m = sign_magnitude ? (1 << info->weight_bits) - 1 : (1 << (info->weight_bits - 1)) - 1;
    if (m > 127) m = 127;
    *w_min = -m, *w_max = m;
}

/* The weight name of a multiplying node: float, or codes + DequantizeLinear. */
static eng_status weights(graph *g, const eng_layer_info *info, const params *pr, bool quant,
                          const eng_approx_cfg *c, const int64_t *dims, int nd, char *name,
                          size_t size)
{
    const float *w = pr->t[ENG_PARAM_WEIGHT];
    size_t count = pr->n[ENG_PARAM_WEIGHT];
    int oc = (int)dims[0];
    char wf[32];
    tname(wf, sizeof wf, info->id, quant ? "_wcodes" : "_w");
    if (!quant) {
        add_tensor(g, wf, T_FLOAT, dims, nd, w, count * 4);
        snprintf(name, size, "%s", wf);
        return ENG_OK;
    }
    int32_t a_min, a_max, w_min, w_max;
    code_ranges(c, info, &a_min, &a_max, &w_min, &w_max);
    bool sym = c->mode == ENG_QUANT_SYM;
    size_t per = count / (size_t)oc;
    eng_qparams *qp = malloc(sizeof *qp * (size_t)oc);
    uint8_t *codes = malloc(count), *zps = malloc((size_t)oc);
    float *scales = malloc(sizeof *scales * (size_t)oc);
    if (!qp || !codes || !zps || !scales) {
        free(qp), free(codes), free(zps), free(scales);
        return eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    if (c->per_channel) {
        eng_qparams_per_channel(w, oc, per, w_min, w_max, sym, qp);
    } else {
        float lo, hi;
        eng_quant_minmax(w, count, &lo, &hi);
        eng_qparams p = eng_qparams_from_range(lo, hi, w_min, w_max, sym);
        for (int o = 0; o < oc; o++) qp[o] = p;
    }
    for (int o = 0; o < oc; o++) {
        scales[o] = qp[o].scale;
        zps[o] = (uint8_t)qp[o].zero_point;
        for (size_t k = 0; k < per; k++)
            codes[(size_t)o * per + k] = (uint8_t)eng_quant_code(&qp[o], w[(size_t)o * per + k]);
    }
    int type = sym ? T_INT8 : T_UINT8;
    char ws[32], wz[32];
    tname(ws, sizeof ws, info->id, "_wscale");
    tname(wz, sizeof wz, info->id, "_wzero");
    int64_t d1 = oc;
    add_tensor(g, wf, type, dims, nd, codes, count);
    add_tensor(g, ws, T_FLOAT, &d1, 1, scales, 4 * (size_t)oc);
    add_tensor(g, wz, type, &d1, 1, zps, (size_t)oc);
    tname(name, size, info->id, "_w");
    const char *in[3] = {wf, ws, wz};
    attr axis = {.name = "axis", .type = A_INT, .i = 0};
    char nn[40];
    tname(nn, sizeof nn, info->id, "_wdequant");
    add_node(g, "DequantizeLinear", nn, in, 3, name, &axis, 1, NULL);
    free(qp), free(codes), free(zps), free(scales);
    return ENG_OK;
}

/* QuantizeLinear + DequantizeLinear of a layer's input; *x becomes the dequantized name. */
static eng_status quantize_input(graph *g, eng_net *net, const eng_layer_info *info,
                                 const eng_approx_cfg *c, char *x, size_t size)
{
    float lo, hi;
    if (!eng_net_act_range(net, info->id, &lo, &hi))
        return eng_error(ENG_ERR_ARG, "ONNX: node %d (%s) is quantized but has no activation "
                         "range (train or calibrate it first)", info->id, info->name);
    int32_t a_min, a_max, w_min, w_max;
    code_ranges(c, info, &a_min, &a_max, &w_min, &w_max);
    bool sym = c->mode == ENG_QUANT_SYM;
    eng_qparams p = eng_qparams_from_range(lo, hi, a_min, a_max, sym);
    char s[32], z[32], q[32], nn[40], src[64];
    tname(s, sizeof s, info->id, "_xscale");
    tname(z, sizeof z, info->id, "_xzero");
    tname(q, sizeof q, info->id, "_xcodes");
    add_scalar(g, s, p.scale);
    uint8_t zp = (uint8_t)p.zero_point;
    add_tensor(g, z, sym ? T_INT8 : T_UINT8, NULL, 0, &zp, 1);
    snprintf(src, sizeof src, "%s", x);
    if (sym) {   /* int8 saturates at -128, the engine's codes at -127 */
        char lo_n[32], hi_n[32], clipped[32];
        tname(lo_n, sizeof lo_n, info->id, "_xmin");
        tname(hi_n, sizeof hi_n, info->id, "_xmax");
        tname(clipped, sizeof clipped, info->id, "_xclip");
        add_scalar(g, lo_n, (float)(a_min - p.zero_point) * p.scale);
        add_scalar(g, hi_n, (float)(a_max - p.zero_point) * p.scale);
        const char *in[3] = {src, lo_n, hi_n};
        tname(nn, sizeof nn, info->id, "_clip");
        add_node(g, "Clip", nn, in, 3, clipped, NULL, 0, NULL);
        snprintf(src, sizeof src, "%s", clipped);
    }
    const char *in[3] = {src, s, z};
    tname(nn, sizeof nn, info->id, "_quant");
    add_node(g, "QuantizeLinear", nn, in, 3, q, NULL, 0, NULL);
    in[0] = q;
    tname(x, size, info->id, "_xdq");
    tname(nn, sizeof nn, info->id, "_dequant");
    add_node(g, "DequantizeLinear", nn, in, 3, x, NULL, 0, NULL);
    return ENG_OK;
}

/* Node doc_string and model metadata naming the multiplier and its table file. */
static void multiplier_meta(graph *g, const eng_layer_info *info, char *doc, size_t size)
{
    const char *name = info->mul ? info->mul->name : "exact";
    char table[ENG_MUL_PATH_MAX + 32] = "";
    eng_mul_info mi;
    if (info->mul && eng_mul_library_find(info->mul->name, &mi) == ENG_OK)
        snprintf(table, sizeof table, "%s", mi.path);
    else if (info->mul)
        snprintf(table, sizeof table, "(not in the library: %s.bin)", info->mul->name);
    snprintf(doc, size, "evoapproxnas multiplier: %s%s%s", name, table[0] ? "; table: " : "",
             table);
    char key[64];
    snprintf(key, sizeof key, "evoapproxnas.n%d.multiplier", info->id);
    add_meta(g, key, name);
    if (table[0]) {
        snprintf(key, sizeof key, "evoapproxnas.n%d.table", info->id);
        add_meta(g, key, table);
    }
}

/* One multiplying node: conv2d, depthwise or dense. */
static eng_status mul_node(graph *g, eng_net *net, const eng_layer_info *info, const params *pr,
                           bool as_float, const char *x_in, const char *out)
{
    eng_approx_cfg c;
    bool quant = !as_float && eng_net_get_quant(net, info->id, &c);
    char x[64], w[64], nn[40], doc[ENG_MUL_PATH_MAX + 128];
    snprintf(x, sizeof x, "%s", x_in);
    if (info->op == ENG_OP_DENSE) {   /* [N, F, 1, 1] -> [N, F] */
        char flat[32];
        tname(flat, sizeof flat, info->id, "_flat");
        attr a = {.name = "axis", .type = A_INT, .i = 1};
        tname(nn, sizeof nn, info->id, "_flatten");
        const char *in[1] = {x};
        add_node(g, "Flatten", nn, in, 1, flat, &a, 1, NULL);
        snprintf(x, sizeof x, "%s", flat);
    }
    if (quant) ENG_TRY(quantize_input(g, net, info, &c, x, sizeof x));
    int64_t dims[4];
    int nd;
    if (info->op == ENG_OP_DENSE) {
        dims[0] = info->out_c, dims[1] = (int64_t)(pr->n[ENG_PARAM_WEIGHT] / (size_t)info->out_c);
        nd = 2;
    } else {
        dims[0] = info->out_c, dims[1] = info->op == ENG_OP_DEPTHWISE ? 1 : info->in_c;
        dims[2] = dims[3] = info->kernel;
        nd = 4;
    }
    ENG_TRY(weights(g, info, pr, quant, &c, dims, nd, w, sizeof w));
    char b[32];
    const char *in[3] = {x, w, b};
    int n_in = 2;
    if (pr->t[ENG_PARAM_BIAS]) {
        tname(b, sizeof b, info->id, "_b");
        int64_t d = (int64_t)pr->n[ENG_PARAM_BIAS];
        add_tensor(g, b, T_FLOAT, &d, 1, pr->t[ENG_PARAM_BIAS], 4 * pr->n[ENG_PARAM_BIAS]);
        n_in = 3;
    }
    if (quant) multiplier_meta(g, info, doc, sizeof doc);
    tname(nn, sizeof nn, info->id, "");
    if (info->op == ENG_OP_DENSE) {
        attr t = {.name = "transB", .type = A_INT, .i = 1};
        add_node(g, "Gemm", nn, in, n_in, out, &t, 1, quant ? doc : NULL);
        return ENG_OK;
    }
    attr a[5] = {
        {.name = "kernel_shape", .type = A_INTS, .ints = {info->kernel, info->kernel}, .n_ints = 2},
        {.name = "strides", .type = A_INTS, .ints = {info->stride, info->stride}, .n_ints = 2},
        {.name = "pads", .type = A_INTS, .ints = {info->pad, info->pad, info->pad, info->pad},
         .n_ints = 4},
        {.name = "dilations", .type = A_INTS,
         .ints = {info->dilation ? info->dilation : 1, info->dilation ? info->dilation : 1},
         .n_ints = 2},
        {.name = "group", .type = A_INT, .i = info->op == ENG_OP_DEPTHWISE ? info->in_c : 1},
    };
    add_node(g, "Conv", nn, in, n_in, out, a, 5, quant ? doc : NULL);
    return ENG_OK;
}

/* Any other node. */
static eng_status plain_node(graph *g, const eng_layer_info *info, const params *pr,
                             char (*names)[32], const char *out)
{
    char nn[32], t[4][32];
    tname(nn, sizeof nn, info->id, "");
    const char *in[8];
    int n_in = info->n_inputs < 8 ? info->n_inputs : 8;
    for (int i = 0; i < n_in; i++) in[i] = names[info->inputs[i]];
    attr pool[3] = {
        {.name = "kernel_shape", .type = A_INTS, .ints = {info->kernel, info->kernel}, .n_ints = 2},
        {.name = "strides", .type = A_INTS, .ints = {info->stride, info->stride}, .n_ints = 2},
        {.name = "pads", .type = A_INTS, .ints = {info->pad, info->pad, info->pad, info->pad},
         .n_ints = 4},
    };
    switch (info->op) {
    case ENG_OP_BATCHNORM: {
        static const char *const suffix[4] = {"_gamma", "_beta", "_mean", "_var"};
        static const eng_param_kind kinds[4] = {ENG_PARAM_BN_GAMMA, ENG_PARAM_BN_BETA,
                                                ENG_PARAM_BN_MEAN, ENG_PARAM_BN_VAR};
        for (int k = 0; k < 4; k++) {
            tname(t[k], sizeof t[k], info->id, suffix[k]);
            int64_t d = (int64_t)pr->n[kinds[k]];
            add_tensor(g, t[k], T_FLOAT, &d, 1, pr->t[kinds[k]], 4 * pr->n[kinds[k]]);
            in[1 + k] = t[k];
        }
        attr eps = {.name = "epsilon", .type = A_FLOAT, .f = 1e-5f};
        add_node(g, "BatchNormalization", nn, in, 5, out, &eps, 1, NULL);
        return ENG_OK;
    }
    case ENG_OP_RELU: add_node(g, "Relu", nn, in, 1, out, NULL, 0, NULL); return ENG_OK;
    case ENG_OP_RELU6:
        tname(t[0], sizeof t[0], info->id, "_min");
        tname(t[1], sizeof t[1], info->id, "_max");
        add_scalar(g, t[0], 0.0f);
        add_scalar(g, t[1], 6.0f);
        in[1] = t[0], in[2] = t[1];
        add_node(g, "Clip", nn, in, 3, out, NULL, 0, NULL);
        return ENG_OK;
    case ENG_OP_HARDSWISH:
        g->opset14 = true;
        add_node(g, "HardSwish", nn, in, 1, out, NULL, 0, NULL);
        return ENG_OK;
    case ENG_OP_MAXPOOL: add_node(g, "MaxPool", nn, in, 1, out, pool, 3, NULL); return ENG_OK;
    case ENG_OP_AVGPOOL: {
        attr a[4] = {pool[0], pool[1], pool[2],
                     {.name = "count_include_pad", .type = A_INT, .i = 0}};
        add_node(g, "AveragePool", nn, in, 1, out, a, 4, NULL);
        return ENG_OK;
    }
    case ENG_OP_GLOBAL_AVGPOOL:
        add_node(g, "GlobalAveragePool", nn, in, 1, out, NULL, 0, NULL);
        return ENG_OK;
    case ENG_OP_ADD: add_node(g, "Sum", nn, in, n_in, out, NULL, 0, NULL); return ENG_OK;
    case ENG_OP_CONCAT: {
        attr a = {.name = "axis", .type = A_INT, .i = 1};
        add_node(g, "Concat", nn, in, n_in, out, &a, 1, NULL);
        return ENG_OK;
    }
    default:
        return eng_error(ENG_ERR_UNSUPPORTED, "ONNX: node %d (%s, %s) is not supported by the "
                         "export", info->id, info->name, eng_op_name(info->op));
    }
}

static eng_status write_file(const char *path, const pb *b)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return eng_error(ENG_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    eng_status st = ENG_OK;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        st = eng_error(ENG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
    } else {
        bool ok = fwrite(b->p, 1, b->n, f) == b->n;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0)
            st = eng_error(ENG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    if (st != ENG_OK && fd >= 0) unlink(tmp);
    free(tmp);
    return st;
}

eng_status onnx_export_net(eng_net *net, bool as_float, const char *path)
{
    int n = eng_net_node_count(net);
    params *pr = calloc((size_t)n, sizeof *pr);
    char (*names)[32] = calloc((size_t)n, sizeof *names);
    graph g = {0};
    pb graph_msg = {0}, model = {0}, opset = {0};
    eng_status st = pr && names ? node_params(net, pr) : eng_error(ENG_ERR_NOMEM, "out of memory");
    snprintf(names[0], sizeof names[0], "input");
    for (int i = 1; i < n && st == ENG_OK; i++) {
        eng_layer_info info;
        st = eng_net_layer_info(net, i, &info);
        if (st != ENG_OK) break;
        tname(names[i], sizeof names[i], i, "_out");
        if (eng_op_multiplies(info.op))
            st = mul_node(&g, net, &info, &pr[i], as_float, names[info.inputs[0]], names[i]);
        else
            st = plain_node(&g, &info, &pr[i], names, names[i]);
    }
    if (st == ENG_OK) {
        const char *in[1] = {names[eng_net_output_node(net)]};
        attr a = {.name = "axis", .type = A_INT, .i = 1};
        add_node(&g, "Flatten", "logits_flatten", in, 1, "logits", &a, 1, NULL);
        int c, h, w, classes = eng_net_classes(net);
        eng_net_input_shape(net, &c, &h, &w);
        int in_dims[3] = {c, h, w};
        pb_raw(&graph_msg, g.nodes.p, g.nodes.n);
        pb_str(&graph_msg, 2, "evoapproxnas");
        pb_raw(&graph_msg, g.inits.p, g.inits.n);
        pb_str(&graph_msg, 10, eng_net_arch(net));
        value_info(&graph_msg, 11, "input", in_dims, 3);
        value_info(&graph_msg, 12, "logits", &classes, 1);
        pb_int(&model, 1, 8);                          /* ir_version */
        pb_str(&model, 2, "evoapproxnas");
        pb_str(&model, 3, "1");
        pb_str(&opset, 1, "");
        pb_int(&opset, 2, g.opset14 ? 14 : 13);
        pb_msg(&model, 8, &opset);
        pb_str(&model, 6, as_float ? "float network (quantization dropped)"
                                   : "quantized network (QDQ, exact multipliers)");
        pb_msg(&model, 7, &graph_msg);
        pb_raw(&model, g.meta.p, g.meta.n);
        if (g.nodes.oom || g.inits.oom || g.meta.oom || model.oom)
            st = eng_error(ENG_ERR_NOMEM, "out of memory");
    }
    if (st == ENG_OK) st = write_file(path, &model);
    free(g.nodes.p), free(g.inits.p), free(g.meta.p), free(graph_msg.p), free(model.p),
        free(opset.p);
    free(names);
    free(pr);
    return st;
}
