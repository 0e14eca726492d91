/*
 * zoo.c - the reference networks of the model zoo (eng_zoo.h), built through eng_net.
 *
 * The helpers take and return node ids; a negative id (an error) passes through untouched, so
 * a model is written as a straight chain and checked once at the end.
 */
#include "eng_zoo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

/* ------------------------------------------------------------------------------------------
 * Error-propagating builder helpers
 * ---------------------------------------------------------------------------------------- */

static int conv(eng_net *net, int x, int oc, int k, int stride, int pad, bool bias)
{
    return x < 0 ? x : eng_net_conv2d(net, x, oc, k, stride, pad, 1, bias);
}

static int dwconv(eng_net *net, int x, int k, int stride, int pad)
{
    return x < 0 ? x : eng_net_depthwise(net, x, k, stride, pad, 1, false);
}

static int bn(eng_net *net, int x)
{
    return x < 0 ? x : eng_net_batchnorm(net, x, BN_MOMENTUM, BN_EPS);
}

static int relu(eng_net *net, int x)
{
    return x < 0 ? x : eng_net_relu(net, x);
}

static int relu6(eng_net *net, int x)
{
    return x < 0 ? x : eng_net_relu6(net, x);
}

static int add(eng_net *net, int a, int b)
{
    if (a < 0) return a;
    if (b < 0) return b;
    int in[2] = {a, b};
    return eng_net_add(net, in, 2);
}

static int maxpool(eng_net *net, int x, int k, int stride, int pad)
{
    return x < 0 ? x : eng_net_maxpool(net, x, k, stride, pad);
}

static int gap(eng_net *net, int x)
{
    return x < 0 ? x : eng_net_global_avgpool(net, x);
}

static int dense(eng_net *net, int x, int out, bool bias)
{
    return x < 0 ? x : eng_net_dense(net, x, out, bias);
}

static int flatten(eng_net *net, int x)
{
    return x < 0 ? x : eng_net_flatten(net, x);
}

static int node_channels(const eng_net *net, int x)
{
    eng_layer_info info;
    return eng_net_layer_info(net, x, &info) == ENG_OK ? info.out_c : 0;
}

/* ------------------------------------------------------------------------------------------
 * Models
 * ---------------------------------------------------------------------------------------- */

static int build_lenet(eng_net *net, int classes)
{
    int x = ENG_NET_INPUT;
    x = maxpool(net, relu(net, conv(net, x, 6, 5, 1, 2, true)), 2, 2, 0);
    x = maxpool(net, relu(net, conv(net, x, 16, 5, 1, 0, true)), 2, 2, 0);
    x = flatten(net, x);
    x = relu(net, dense(net, x, 120, true));
    x = relu(net, dense(net, x, 84, true));
    return dense(net, x, classes, true);
}

/* ResNet v1 basic block; option-A shortcut: subsample by 2 and add zero channels. */
static int resnet_v1_block(eng_net *net, int x, int planes, int stride)
{
    int in_c = node_channels(net, x);
    int y = relu(net, bn(net, conv(net, x, planes, 3, stride, 1, false)));
    y = bn(net, conv(net, y, planes, 3, 1, 1, false));
    int sc = x;
    if (x >= 0 && (stride != 1 || in_c != planes)) {
        sc = maxpool(net, x, 1, stride, 0);
        int extra = planes - in_c;
        sc = sc < 0 ? sc : eng_net_channel_pad(net, sc, extra / 2, extra - extra / 2);
    }
    return relu(net, add(net, y, sc));
}

/* ResNet v2 (pre-activation) basic block with a 1x1 projection when the shape changes. */
static int resnet_v2_block(eng_net *net, int x, int planes, int stride)
{
    int in_c = node_channels(net, x);
    int pre = relu(net, bn(net, x));
    int sc = x;
    if (stride != 1 || in_c != planes) sc = conv(net, pre, planes, 1, stride, 0, false);
    int y = conv(net, pre, planes, 3, stride, 1, false);
    y = conv(net, relu(net, bn(net, y)), planes, 3, 1, 1, false);
    return add(net, y, sc);
}

static int build_resnet_cifar(eng_net *net, int depth, bool v2, int classes)
{
    int blocks = (depth - 2) / 6;
    int x = conv(net, ENG_NET_INPUT, 16, 3, 1, 1, false);
    if (!v2) x = relu(net, bn(net, x));
    static const int planes[3] = {16, 32, 64};
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < blocks; b++) {
            int stride = (s > 0 && b == 0) ? 2 : 1;
            x = v2 ? resnet_v2_block(net, x, planes[s], stride)
                   : resnet_v1_block(net, x, planes[s], stride);
        }
    if (v2) x = relu(net, bn(net, x));
    return dense(net, gap(net, x), classes, true);
}

/* Channels c * width rounded to the nearest multiple of 8, at least 8 and not below 90% of
 * c * width (torchvision's _make_divisible). */
static int make_divisible(double v)
{
    int r = (int)(v + 4.0) / 8 * 8;
    if (r < 8) r = 8;
    if (r < 0.9 * v) r += 8;
    return r;
}

/* MobileNetV2 inverted residual. cifar: always an expansion conv, and a 1x1 conv + BN
 * shortcut where a stride-1 block changes width (the CIFAR variant's count); else the
 * ImageNet network (no expansion conv at t = 1, identity shortcut only). */
static int mbv2_block(eng_net *net, int x, int expansion, int out, int stride, bool cifar)
{
    int in_c = node_channels(net, x);
    int hidden = in_c * expansion;
    int y = x;
    if (cifar || expansion != 1) y = relu6(net, bn(net, conv(net, y, hidden, 1, 1, 0, false)));
    y = relu6(net, bn(net, dwconv(net, y, 3, stride, 1)));
    y = bn(net, conv(net, y, out, 1, 1, 0, false));
    if (stride != 1) return y;
    if (in_c == out) return add(net, y, x);
    if (cifar) return add(net, y, bn(net, conv(net, x, out, 1, 1, 0, false)));
    return y;
}

static int build_mobilenetv2(eng_net *net, double width, bool cifar, int classes)
{
    static const int cfg[7][4] = {   /* expansion, channels, blocks, stride */
        {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
    };
    int x = conv(net, ENG_NET_INPUT, make_divisible(32 * width), 3, cifar ? 1 : 2, 1, false);
    x = relu6(net, bn(net, x));
    for (int s = 0; s < 7; s++) {
        int out = make_divisible(cfg[s][1] * width);
        for (int b = 0; b < cfg[s][2]; b++) {
            int stride = b == 0 ? cfg[s][3] : 1;
            if (cifar && s == 1) stride = 1;   /* CIFAR: keep 32x32 through stage 2 */
            x = mbv2_block(net, x, cfg[s][0], out, stride, cifar);
        }
    }
    int last = make_divisible(1280 * (width > 1.0 ? width : 1.0));
    x = relu6(net, bn(net, conv(net, x, last, 1, 1, 0, false)));
    return dense(net, gap(net, x), classes, true);
}

/* Keras ResNet50V2 block2: pre-activation bottleneck, stride on the 3x3 conv. */
static int resnet50v2_block(eng_net *net, int x, int filters, int stride, bool conv_shortcut)
{
    int pre = relu(net, bn(net, x));
    int sc;
    if (conv_shortcut)
        sc = conv(net, pre, 4 * filters, 1, stride, 0, true);
    else
        sc = stride > 1 ? maxpool(net, x, 1, stride, 0) : x;
    int y = relu(net, bn(net, conv(net, pre, filters, 1, 1, 0, false)));
    y = relu(net, bn(net, conv(net, y, filters, 3, stride, 1, false)));
    y = conv(net, y, 4 * filters, 1, 1, 0, true);
    return add(net, sc, y);
}

static int build_resnet50v2(eng_net *net, int classes)
{
    static const int stacks[4][3] = {{64, 3, 2}, {128, 4, 2}, {256, 6, 2}, {512, 3, 1}};
    int x = conv(net, ENG_NET_INPUT, 64, 7, 2, 3, true);
    x = maxpool(net, x, 3, 2, 1);
    for (int s = 0; s < 4; s++) {
        int filters = stacks[s][0], blocks = stacks[s][1];
        x = resnet50v2_block(net, x, filters, 1, true);
        for (int b = 2; b < blocks; b++) x = resnet50v2_block(net, x, filters, 1, false);
        x = resnet50v2_block(net, x, filters, stacks[s][2], false);
    }
    x = relu(net, bn(net, x));
    return dense(net, gap(net, x), classes, true);
}

/* ------------------------------------------------------------------------------------------
 * The table of models
 * ---------------------------------------------------------------------------------------- */

typedef enum zoo_kind { ZOO_LENET, ZOO_RESNET_V1, ZOO_RESNET_V2, ZOO_MBV2_CIFAR, ZOO_MBV2,
                        ZOO_RESNET50V2 } zoo_kind;

typedef struct zoo_model {
    const char *name;
    zoo_kind kind;
    int depth;
    int c, h, w, classes;
    const char *description;
} zoo_model;

static const zoo_model models[] = {
    {"lenet", ZOO_LENET, 0, 1, 28, 28, 10, "LeNet-like CNN for 28x28 gray images"},
    {"resnet8_v1", ZOO_RESNET_V1, 8, 3, 32, 32, 10, "ResNet-8 v1, option-A shortcuts"},
    {"resnet14_v1", ZOO_RESNET_V1, 14, 3, 32, 32, 10, "ResNet-14 v1, option-A shortcuts"},
    {"resnet20_v1", ZOO_RESNET_V1, 20, 3, 32, 32, 10, "ResNet-20 v1, option-A shortcuts"},
    {"resnet32_v1", ZOO_RESNET_V1, 32, 3, 32, 32, 10, "ResNet-32 v1, option-A shortcuts"},
    {"resnet56_v1", ZOO_RESNET_V1, 56, 3, 32, 32, 10, "ResNet-56 v1, option-A shortcuts"},
    {"resnet8_v2", ZOO_RESNET_V2, 8, 3, 32, 32, 10, "ResNet-8 v2 (pre-activation)"},
    {"resnet14_v2", ZOO_RESNET_V2, 14, 3, 32, 32, 10, "ResNet-14 v2 (pre-activation)"},
    {"resnet20_v2", ZOO_RESNET_V2, 20, 3, 32, 32, 10, "ResNet-20 v2 (pre-activation)"},
    {"resnet32_v2", ZOO_RESNET_V2, 32, 3, 32, 32, 10, "ResNet-32 v2 (pre-activation)"},
    {"resnet56_v2", ZOO_RESNET_V2, 56, 3, 32, 32, 10, "ResNet-56 v2 (pre-activation)"},
    {"mobilenetv2_cifar", ZOO_MBV2_CIFAR, 0, 3, 32, 32, 10, "MobileNetV2 for CIFAR-size input "
     "(width multiplier)"},
    {"mobilenetv2", ZOO_MBV2, 0, 3, 224, 224, 1000, "MobileNetV2, ImageNet 224x224"},
    {"resnet50v2", ZOO_RESNET50V2, 0, 3, 224, 224, 1000, "ResNet50V2 (Keras), ImageNet "
     "224x224"},
};
#define ZOO_COUNT ((int)(sizeof models / sizeof models[0]))

int eng_zoo_count(void)
{
    return ZOO_COUNT;
}

const char *eng_zoo_name(int i)
{
    return i >= 0 && i < ZOO_COUNT ? models[i].name : NULL;
}

const char *eng_zoo_description(int i)
{
    return i >= 0 && i < ZOO_COUNT ? models[i].description : NULL;
}

void eng_zoo_options_default(eng_zoo_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

eng_status eng_zoo_build(const char *name, const eng_zoo_options *opt, eng_net **out)
{
    *out = NULL;
    eng_zoo_options o;
    if (opt)
        o = *opt;
    else
        eng_zoo_options_default(&o);
    const zoo_model *m = NULL;
    for (int i = 0; i < ZOO_COUNT; i++)
        if (name && strcmp(name, models[i].name) == 0) m = &models[i];
    if (!m) return eng_error(ENG_ERR_NOT_FOUND, "model '%s' not found (see `evoapproxnas model "
                             "list`)", name ? name : "");
    int c = o.in_c ? o.in_c : m->c, h = o.in_h ? o.in_h : m->h, w = o.in_w ? o.in_w : m->w;
    int classes = o.classes ? o.classes : m->classes;
    double width = o.width > 0.0f ? o.width : 1.0;
    if (o.width < 0.0f || width > 4.0)
        return eng_error(ENG_ERR_ARG, "%s: width multiplier %g not in (0, 4]", name, o.width);
    eng_net *net;
    ENG_TRY(eng_net_create(c, h, w, classes, &net));
    int x;
    switch (m->kind) {
    case ZOO_LENET: x = build_lenet(net, classes); break;
    case ZOO_RESNET_V1: x = build_resnet_cifar(net, m->depth, false, classes); break;
    case ZOO_RESNET_V2: x = build_resnet_cifar(net, m->depth, true, classes); break;
    case ZOO_MBV2_CIFAR: x = build_mobilenetv2(net, width, true, classes); break;
    case ZOO_MBV2: x = build_mobilenetv2(net, width, false, classes); break;
    default: x = build_resnet50v2(net, classes); break;
    }
    char arch[256];
    snprintf(arch, sizeof arch, "%s classes=%d input=%dx%dx%d width=%g", m->name, classes, h, w,
             c, width);
    eng_status st = x < 0 ? (eng_status)-x : eng_net_set_arch(net, arch);
    if (st == ENG_OK) st = eng_net_init_params(net, o.seed);
    if (st != ENG_OK) {
        eng_net_free(net);
        return eng_error_prefix(st, "model %s (input %dx%dx%d)", m->name, h, w, c);
    }
    *out = net;
    return ENG_OK;
}

eng_status eng_zoo_build_arch(const char *arch, eng_net **out)
{
    *out = NULL;
    char name[64];
    int classes, h, w, c, used = 0;
    float width;
    if (!arch || sscanf(arch, "%63s classes=%d input=%dx%dx%d width=%g%n", name, &classes, &h,
                        &w, &c, &width, &used) != 6 || arch[used] != '\0')
        return eng_error(ENG_ERR_FORMAT, "architecture '%s' is not of the form 'NAME "
                         "classes=N input=HxWxC width=F'", arch ? arch : "");
    eng_zoo_options o;
    eng_zoo_options_default(&o);
    o.classes = classes;
    o.in_c = c;
    o.in_h = h;
    o.in_w = w;
    o.width = width;
    if (classes < 2 || classes > ENG_NET_MAX_CLASSES || c < 1 || c > ENG_NET_MAX_CHANNELS ||
        h < 1 || h > ENG_NET_MAX_SIDE || w < 1 || w > ENG_NET_MAX_SIDE ||
        (int64_t)c * h * w > ENG_NET_MAX_VALUES || !(width > 0.0f && width <= 4.0f))
        return eng_error(ENG_ERR_FORMAT, "architecture '%s' has an invalid value (limits: "
                         "classes 2..%d, input sides up to %d, %d values, width (0, 4])", arch,
                         ENG_NET_MAX_CLASSES, ENG_NET_MAX_SIDE, ENG_NET_MAX_VALUES);
    eng_status st = eng_zoo_build(name, &o, out);
    if (st == ENG_ERR_ARG || st == ENG_ERR_SHAPE)  /* a model that cannot take these values */
        st = eng_error_prefix(ENG_ERR_FORMAT, "architecture '%s'", arch);
    return st;
}
