/*
 * eng_net.h - convolutional networks as DAGs: builder, forward, backward, quantization.
 *
 * A network is built node by node through the builder functions below, then run in the order
 * the nodes were added (which is a topological order: a node only takes earlier nodes as
 * inputs). Node 0 (ENG_NET_INPUT) is the input image batch. The output node (by default the
 * last node added) gives the logits, `classes` values per image.
 *
 * Memory: a network is the single owner of everything it uses - parameters, gradients, batch
 * norm running statistics, activations of every node, their gradients, the per-layer
 * quantization state and one shared workspace (the largest any layer needs). Parameters are
 * allocated when the network is first used (eng_net_init_params, eng_net_reserve, ...),
 * activations when a batch size is reserved; later batches of the same or a smaller size reuse
 * the buffers (no allocation per batch). Buffers are planned from node lifetimes: evaluation
 * reuses an activation buffer once its last consumer ran, training keeps all activations and
 * shares gradient buffers between nodes whose gradients are not alive at the same time (e.g.
 * ResNet-20: 0.20 MB per image for evaluation, 2.69 + 0.25 MB for training).
 * eng_net_free releases everything in one call.
 *
 * Layout: activations are channel-major CNHW (x[c][n][h][w]), as everywhere in the engine.
 * Dense layers take and give [features][n] (a node with h = w = 1); eng_net_flatten turns a
 * [c][n][h][w] map into [c*h*w][n] with the PyTorch feature order (c, h, w).
 *
 * Multiplying layers (conv2d, depthwise, dense) run in exact float until a quantization
 * config is set (eng_net_set_quant). Then they quantize their operands and multiply through
 * their own multiplier table (eng_net_set_multiplier; none = exact integer products), with
 * the arithmetic of eng_ops.h.
 *
 * Errors: builder functions return the new node id (>= 0) or a negative eng_status
 * (-ENG_ERR_SHAPE, ...) with a message in eng_last_error(); on error the network is unchanged.
 * A node of more than ENG_NET_MAX_VALUES values per image is -ENG_ERR_SHAPE, and a network of
 * more than ENG_NET_MAX_PARAMS parameters fails (ENG_ERR_SHAPE) when its parameters are laid
 * out (first use, eng_net_param_count, eng_net_init_params).
 * Other functions return an eng_status and change nothing on error unless they say otherwise.
 *
 * Example (a LeNet-like CNN, one training step):
 *
 *     eng_net *net;
 *     ENG_TRY(eng_net_create(1, 28, 28, 10, &net));               // C, H, W, classes
 *     int x = ENG_NET_INPUT;
 *     x = eng_net_conv2d(net, x, 6, 5, 1, 2, 1, true);            // 6 ch, 5x5, stride 1, pad 2
 *     x = eng_net_relu(net, x);
 *     x = eng_net_maxpool(net, x, 2, 2, 0);
 *     x = eng_net_flatten(net, x);
 *     x = eng_net_dense(net, x, 10, true);
 *     if (x < 0) { eng_net_free(net); return (eng_status)-x; }
 *     ENG_TRY(eng_net_init_params(net, 42));
 *     ENG_TRY(eng_net_forward(net, images, 64, true));             // images: [1][64][28][28]
 *     ENG_TRY(eng_net_loss(net, labels, 64, &loss, &correct));
 *     ENG_TRY(eng_net_backward(net));                              // fills the gradients
 *     ENG_TRY(eng_sgd_step(opt, 0.05f));                          // eng_train.h: update
 *     eng_net_free(net);
 */
#ifndef ENG_NET_H
#define ENG_NET_H

#include "eng_common.h"
#include "eng_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declared in eng_ops.h / eng_mul.h; only pointers are used here. */
typedef struct eng_approx_cfg eng_approx_cfg;
typedef struct eng_mul eng_mul;

typedef struct eng_net eng_net;

/* The id of the input node of every network. */
#define ENG_NET_INPUT 0

/* ------------------------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_op {
    ENG_OP_INPUT = 0,        /* the image batch */
    ENG_OP_CONV2D,           /* convolution (square kernel, stride, zero padding, dilation) */
    ENG_OP_DEPTHWISE,        /* depthwise convolution, channel multiplier 1 */
    ENG_OP_DENSE,            /* fully connected on [features][n] */
    ENG_OP_BATCHNORM,        /* batch normalization over (n, h, w) per channel */
    ENG_OP_RELU,             /* max(x, 0) */
    ENG_OP_RELU6,            /* min(max(x, 0), 6) */
    ENG_OP_MAXPOOL,          /* max pooling, padding is -inf */
    ENG_OP_AVGPOOL,          /* average pooling, padding counted or not (count_include_pad) */
    ENG_OP_GLOBAL_AVGPOOL,   /* mean over (h, w): [c][n][1][1] */
    ENG_OP_ADD,              /* elementwise sum of 2+ inputs of one shape (residual add) */
    ENG_OP_CONCAT,           /* concatenation of 2+ inputs along channels (same n, h, w) */
    ENG_OP_FLATTEN,          /* [c][n][h][w] -> [c*h*w][n][1][1] */
    ENG_OP_CHANNEL_PAD,      /* zero channels before/after (ResNet option-A shortcuts) */
    ENG_OP_HARDSWISH,        /* x * relu6(x + 3) / 6 (MobileNetV3) */
    ENG_OP_COUNT
} eng_op;

/* Lower-case name of an operation ("conv2d", "batchnorm", ...). Never NULL. */
const char *eng_op_name(eng_op op);

/* True for the operations that multiply (conv2d, depthwise, dense): the ones that can be
 * quantized and given an approximate multiplier. */
bool eng_op_multiplies(eng_op op);

/* ------------------------------------------------------------------------------------------
 * Creating and building a network
 * ---------------------------------------------------------------------------------------- */

/* Limits that keep every size of a network inside the int and size_t arithmetic of the engine
 * (a network described by a file cannot ask for more): input height and width, input channels,
 * classes, values (c x h x w) of any one node per image, and parameters in all. */
#define ENG_NET_MAX_SIDE     16384
#define ENG_NET_MAX_CHANNELS 65536
#define ENG_NET_MAX_CLASSES  65536
#define ENG_NET_MAX_VALUES   (1 << 26)
#define ENG_NET_MAX_PARAMS   ((size_t)1 << 28)

/* Creates an empty network for images of `channels` x `height` x `width` and `classes`
 * output logits (each within the limits above, and channels x height x width at most
 * ENG_NET_MAX_VALUES; ENG_ERR_ARG otherwise). On error *out is NULL. */
eng_status eng_net_create(int channels,            // input channels (1 gray, 3 RGB)
                          int height, int width,   // input image size
                          int classes,             // logits per image (the output size)
                          eng_net **out);

/* Frees the network and everything it owns (NULL allowed). Multipliers given through
 * eng_net_set_multiplier are borrowed and not freed. */
void eng_net_free(eng_net *net);

/* Convolution with out_channels filters of kernel x kernel, zero padding `pad` on every side.
 * Weights are [out_channels][in_channels][kernel][kernel] (PyTorch OIHW). */
int eng_net_conv2d(eng_net *net,
                   int input,          // node id of the input
                   int out_channels,   // number of filters
                   int kernel,         // kernel height = width
                   int stride,         // >= 1
                   int pad,            // >= 0
                   int dilation,       // >= 1 (1 = dense kernel)
                   bool bias);         // with a bias per output channel

/* Depthwise convolution (one kernel x kernel filter per channel, [c][kernel][kernel]). */
int eng_net_depthwise(eng_net *net,
                      int input,       // node id of the input
                      int kernel,      // kernel height = width
                      int stride,      // >= 1
                      int pad,         // >= 0
                      int dilation,    // >= 1
                      bool bias);      // with a bias per channel

/* Fully connected layer, weights [out_features][in_features]. The input must have h = w = 1
 * (use eng_net_flatten or eng_net_global_avgpool first), else ENG_ERR_SHAPE. */
int eng_net_dense(eng_net *net,
                  int input,           // node id of the input ([in_features][n])
                  int out_features,    // outputs per image
                  bool bias);          // with a bias per output

/* Batch normalization with learnable scale (gamma, init 1) and shift (beta, init 0).
 * Training: normalizes with the batch mean and biased variance, and updates the running
 * statistics: running = (1 - momentum) * running + momentum * batch, the variance with the
 * unbiased batch variance (PyTorch's BatchNorm2d). Evaluation: uses the running statistics
 * (init mean 0, variance 1). */
int eng_net_batchnorm(eng_net *net,
                      int input,       // node id of the input
                      float momentum,  // running-statistics momentum (PyTorch default 0.1)
                      float eps);      // added to the variance (PyTorch default 1e-5)

int eng_net_relu(eng_net *net, int input);
int eng_net_relu6(eng_net *net, int input);
/* Hard swish (Howard et al. 2019): y = x * min(max(x + 3, 0), 6) / 6. */
int eng_net_hardswish(eng_net *net, int input);

/* Max pooling; windows that reach outside the image ignore the padding (it is -inf). */
int eng_net_maxpool(eng_net *net,
                    int input,         // node id of the input
                    int kernel,        // window height = width
                    int stride,        // >= 1
                    int pad);          // >= 0, at most kernel / 2

/* Average pooling. count_include_pad true divides by kernel*kernel everywhere (padding counts
 * as zeros); false divides by the number of pixels of the window inside the image (PyTorch's
 * AvgPool2d count_include_pad flag). */
int eng_net_avgpool(eng_net *net,
                    int input,                // node id of the input
                    int kernel,               // window height = width
                    int stride,               // >= 1
                    int pad,                  // >= 0, at most kernel / 2
                    bool count_include_pad);  // divisor convention at the borders

/* Mean over each channel's h x w map: [c][n][h][w] -> [c][n][1][1]. */
int eng_net_global_avgpool(eng_net *net, int input);

/* Elementwise sum of count >= 2 inputs of identical shape. */
int eng_net_add(eng_net *net,
                const int *inputs,   // node ids
                int count);          // number of inputs, >= 2

/* Concatenation of count >= 2 inputs along channels, in the given order (same h, w). */
int eng_net_concat(eng_net *net,
                   const int *inputs,   // node ids
                   int count);          // number of inputs, >= 2

/* [c][n][h][w] -> [c*h*w][n][1][1], feature index (ci*h + y)*w + x (PyTorch's flatten). */
int eng_net_flatten(eng_net *net, int input);

/* Adds `before` zero channels in front of and `after` zero channels behind the input's
 * channels (the option-A shortcut of ResNet v1 for CIFAR, after a stride-2 subsampling). */
int eng_net_channel_pad(eng_net *net,
                        int input,      // node id of the input
                        int before,     // zero channels in front, >= 0
                        int after);     // zero channels behind, >= 0

/* Names a node (at most 31 characters; default "<op><id>", e.g. "conv2d3"). */
eng_status eng_net_set_name(eng_net *net, int node, const char *name);

/* Makes `node` the output (default: the last node added). It must be 1 x 1 x `classes`
 * (logits), else ENG_ERR_SHAPE; the default output is checked when the network is first used.
 * A new output drops the buffer plan and the last pass (the next forward pass plans again). */
eng_status eng_net_set_output(eng_net *net, int node);

/* Longest architecture text (ENG_NET_ARCH_MAX - 1 characters). */
#define ENG_NET_ARCH_MAX 8192

/* Sets the architecture description stored in weights files, e.g. "resnet20_v1" or
 * "zoo:resnet --depth 20": free text of at most ENG_NET_ARCH_MAX - 1 characters (weights
 * files store texts of up to 255 characters as version 1, longer ones as version 2,
 * eng_weights.h). */
eng_status eng_net_set_arch(eng_net *net, const char *arch);
const char *eng_net_arch(const eng_net *net);   /* "" when none was set */

/* ------------------------------------------------------------------------------------------
 * Inspecting a network
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_layer_info {
    eng_op op;
    const char *name;          /* node name; valid while the network lives */
    int id;                    /* node id */
    int n_inputs;              /* number of input nodes (0 for the input node) */
    const int *inputs;         /* their ids; valid while the network lives */
    int in_c, in_h, in_w;      /* shape of the first input, per image */
    int out_c, out_h, out_w;   /* output shape, per image */
    int kernel;                /* window size (conv, depthwise, pools); 0 otherwise */
    int stride, pad, dilation; /* conv/pool geometry; 0 where not applicable */
    int groups;                /* 1 for conv2d and dense, in_c for depthwise, 0 otherwise */
    bool bias;                 /* the layer has a bias */
    size_t params;             /* trainable parameters (weights, bias, BN gamma and beta) */
    uint64_t macs;             /* multiply-accumulates per image (0 for non-multiplying ops) */
    bool quantized;            /* runs quantized (eng_net_set_quant) */
    int weight_bits;           /* weight code width when quantized; 0 in float */
    const eng_mul *mul;        /* its multiplier; NULL = exact (float or exact integer) */
} eng_layer_info;

/* Number of nodes including the input node. */
int eng_net_node_count(const eng_net *net);

/* Description of node i (0 <= i < eng_net_node_count), else ENG_ERR_ARG. */
eng_status eng_net_layer_info(const eng_net *net, int i, eng_layer_info *info);

/* The output node id, the input shape and the class count. */
int eng_net_output_node(const eng_net *net);
void eng_net_input_shape(const eng_net *net, int *c, int *h, int *w);
int eng_net_classes(const eng_net *net);

/* Totals over all nodes: trainable parameters and multiply-accumulates per image. */
size_t eng_net_param_total(const eng_net *net);
uint64_t eng_net_mac_total(const eng_net *net);

/* ------------------------------------------------------------------------------------------
 * Parameters
 * ---------------------------------------------------------------------------------------- */

typedef enum eng_param_kind {
    ENG_PARAM_WEIGHT = 0,    /* conv/depthwise/dense weights */
    ENG_PARAM_BIAS,          /* conv/depthwise/dense bias */
    ENG_PARAM_BN_GAMMA,      /* batch norm scale */
    ENG_PARAM_BN_BETA,       /* batch norm shift */
    ENG_PARAM_BN_MEAN,       /* batch norm running mean (state, not trained) */
    ENG_PARAM_BN_VAR,        /* batch norm running variance (state, not trained) */
    ENG_PARAM_KIND_COUNT
} eng_param_kind;

/* Lower-case name ("weight", "bias", "gamma", "beta", "running_mean", "running_var"). */
const char *eng_param_kind_name(eng_param_kind kind);

typedef struct eng_param {
    int node;                /* the node that owns it */
    eng_param_kind kind;
    size_t count;            /* number of floats */
    float *data;             /* the values, owned by the network */
    float *grad;             /* gradient of the last backward pass; NULL for state tensors
                                and before a training batch size is reserved */
    bool trainable;          /* false for batch norm running statistics */
} eng_param;

/* Number of parameter tensors (trainable and state), in node order. Allocates the parameters
 * on first use (zero weights, gamma 1, running variance 1), after which no node can be added;
 * returns a negative status on failure (-ENG_ERR_SHAPE when the output node is not the
 * 1 x 1 x classes logits, -ENG_ERR_NOMEM). */
int eng_net_param_count(eng_net *net);

/* Parameter tensor i (0 <= i < eng_net_param_count), else ENG_ERR_ARG. */
eng_status eng_net_param_get(eng_net *net, int i, eng_param *out);

/* Initializes all parameters deterministically from seed: conv/depthwise/dense weights
 * He-normal (std sqrt(2 / fan_in)), biases 0, gamma 1, beta 0, running mean 0, variance 1.
 * Also resets any batch-norm folding. */
eng_status eng_net_init_params(eng_net *net, uint64_t seed);

/* ------------------------------------------------------------------------------------------
 * Running
 * ---------------------------------------------------------------------------------------- */

/* Allocates activations, workspace (and, when training, gradients) for batches of up to
 * `batch` images. Called implicitly by eng_net_forward; buffers only grow. */
eng_status eng_net_reserve(eng_net *net, int batch, bool training);

/* Bytes per image of batch capacity the planned activation buffers take: evaluation only
 * (training false) or activations plus gradients for training. Changes no buffer. */
eng_status eng_net_memory(eng_net *net, bool training, size_t *bytes_per_image);

/* Runs the network on n images x (CNHW: x[c][n][h][w], the input shape of eng_net_create).
 * training: batch norm uses and updates batch statistics, quantized layers update their
 * activation ranges, and the intermediate results for eng_net_backward are kept.
 * ENG_ERR_ARG if n < 1. */
eng_status eng_net_forward(eng_net *net,
                           const float *x,     // input batch, CNHW
                           int n,              // images in the batch
                           bool training);     // training or evaluation mode

/* Output of the last forward pass: logits [classes][n] (CNHW with h = w = 1). */
const float *eng_net_output(const eng_net *net);

/* Activation of a node after the last forward pass ([c][n][h][w]); NULL when not run. A
 * network reserved for evaluation only reuses the buffer of a node once its last consumer has
 * run, so there only the output and the nodes still needed at the end hold their values;
 * after a training reservation every node keeps its activation. After an evaluation pass,
 * NULL for a convolution whose batch norm ran as its epilogue (its only consumer is the batch
 * norm right after it) and for a batch norm or add fused with the ReLU/ReLU6 after it. */
const float *eng_net_activation(const eng_net *net, int node);

/* Mean softmax cross-entropy of the last forward pass's logits against labels[n] (n as in the
 * forward pass); also the number of images whose largest logit is their label (correct may be
 * NULL). After a training forward pass it stores d(loss)/d(logits) for eng_net_backward. */
eng_status eng_net_loss(eng_net *net,
                        const uint8_t *labels,   // class of each image, < classes
                        int n,                   // must equal the last forward's n
                        float *loss,             // mean loss (out)
                        int *correct);           // correctly classified images (out, or NULL)

/* Backward pass of the last training forward pass from the loss gradient stored by
 * eng_net_loss: fills every trainable parameter's grad (overwritten, not accumulated).
 * ENG_ERR_ARG if the last forward pass was not a training pass followed by eng_net_loss. */
eng_status eng_net_backward(eng_net *net);

/* Same from a given output gradient dy [classes][n] instead of the loss. */
eng_status eng_net_backward_from(eng_net *net, const float *dy);

/* Sets the kernel table the network uses (default eng_kernels_get()). */
void eng_net_set_kernels(eng_net *net, const eng_kernels *k);

/* Per-node wall times for profiling (CPU placement only). With ms not NULL, every later
 * forward pass adds node i's time in milliseconds to ms[i] and every backward pass to
 * ms[n + i], n = eng_net_node_count (the caller zeroes and owns the 2n doubles); NULL stops.
 * A batch norm or add fused with the ReLU after it is timed on itself, the ReLU at ~0. */
void eng_net_set_timing(eng_net *net, double *ms);

/* ------------------------------------------------------------------------------------------
 * Quantization and approximate multipliers
 * ---------------------------------------------------------------------------------------- */

/* Quantizes multiplying layer `node` (or all multiplying layers when node < 0) with cfg
 * (copied), or returns it to exact float with cfg NULL. Existing multipliers are kept; the
 * activation range starts empty (EMA while training, or calibrate). ENG_ERR_ARG when node is
 * not a multiplying layer or cfg is invalid (eng_approx_create's errors); with node < 0 the
 * layers are set in order up to the first error. */
eng_status eng_net_set_quant(eng_net *net, int node, const eng_approx_cfg *cfg);

/* Sets the multiplier of multiplying layer `node` (or all multiplying layers when node < 0);
 * NULL = exact integer products. The multiplier is borrowed: it must outlive the network or
 * the next call. Takes effect when the layer is quantized (set_quant may come before or after);
 * a multiplier the layer's config cannot take (weight width, ASYM with a signed table) gives
 * the error of eng_approx_set_mul and leaves that layer unchanged. With node < 0 the layers
 * are set in order up to the first error. */
eng_status eng_net_set_multiplier(eng_net *net, int node, const eng_mul *mul);

/* The quantization config of layer `node` into *cfg (may be NULL); false when the node runs
 * in float or is not a multiplying layer. */
bool eng_net_get_quant(const eng_net *net, int node, eng_approx_cfg *cfg);

/* The activation range of quantized layer `node`; false when it has none (float layer, or no
 * batch seen yet). */
bool eng_net_act_range(const eng_net *net, int node, float *lo, float *hi);

/* Sets and freezes the activation range of quantized layer `node` (a saved model). ENG_ERR_ARG
 * when the node is not quantized or lo > hi; nothing changes on error. */
eng_status eng_net_set_act_range(eng_net *net, int node, float lo, float hi);

/* The multiplying layers' node ids in order: writes up to max ids, returns how many there are. */
int eng_net_mul_layers(const eng_net *net, int *nodes, int max);

/* Post-training calibration of the activation ranges of all quantized layers: after _begin,
 * evaluation forward passes record min/max of each layer's input; _end freezes them. */
eng_status eng_net_calibrate_begin(eng_net *net);
eng_status eng_net_calibrate_end(eng_net *net);

/* Folds every batch norm that is the only consumer of a conv2d or depthwise node into that
 * layer's weights and bias (w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma /
 * sqrt(var + eps) + beta) and turns the batch norm into an identity, for inference. The
 * folded network gives the same evaluation outputs (up to rounding). Training a folded
 * network is ENG_ERR_ARG; eng_net_init_params and loading weights undo the folding.
 * Returns the number of folded batch norms through *folded (may be NULL). */
eng_status eng_net_fold_batchnorm(eng_net *net, int *folded);

#ifdef __cplusplus
}
#endif

#endif /* ENG_NET_H */
