/*
 * backend.h - the backend interface of the network executor, private to the engine: one table
 * of operations per device (in the manner of ggml's backends), through which net_run.c runs
 * every node.
 *
 * The executor (net_run.c) owns everything that does not depend on the device: the checks,
 * the buffer plan (lifetimes, the fusions the backend runs), the node order, the gradient
 * routing (which input's gradient goes where, first contribution in place, later ones through
 * the scratch buffer and added) and the timing. A backend owns its memory (the network's
 * buffers in its address space) and the arithmetic of each node. The scalar CPU code
 * (eng_layers.h, eng_ops.h over the reference kernels of eng_kernels.h) is the definition of
 * every operation; another backend computes the same (bit-identical for integer and
 * element-wise work, to float rounding for reductions) or says it cannot (supports_op).
 *
 *   net_backend_cpu   backend_cpu.c   host memory, the kernel set of the network (eng_kernels.h
 *                                     chooses the set), the fusions
 *   net_backend_cuda  backend_cuda.c  device memory, engine/cuda/net_ops.h + eng_cuda.h, the
 *                                     quantized layers in backend_cuda_quant.c; in builds
 *                                     without CUDA every entry answers ENG_ERR_UNSUPPORTED
 *
 * Dependencies run one way: net_run.c -> backend.h -> backend_*.c -> layers, ops and kernels;
 * the builder (net_build.c) reaches a backend only to release its state.
 */
#ifndef ENG_BACKEND_H
#define ENG_BACKEND_H

#include "net_internal.h"

/* The buffer plan of eng_net_reserve: capacity, per-node offsets (floats per image) and the
 * arena sizes. Backends that share buffers follow it; others may give every node its own. */
typedef struct net_plan {
    int cap;                        /* images */
    bool grads;                     /* gradient buffers planned */
    const size_t *act_off, *grad_off;   /* [n_nodes] */
    size_t act_total, grad_total;   /* floats per image */
    size_t max_node;                /* floats per image of the largest node (scratch) */
} net_plan;

/* The tensors of one node as the executor hands them to an operation (backend memory). */
typedef struct node_io {
    eng_net *net;
    eng_node *nd;
    int id;                         /* node index */
    int n;                          /* images */
    bool training;                  /* forward: a training pass */
    /* forward: x = input 0, y = output (a fused pair's: the activation's). backward: x = input
     * k (the one whose gradient is wanted), y = the node's own output */
    int k;
    const float *x;
    float *y;
    /* backward: dy = gradient of the output (a fused pair's: the activation's); dx = where
     * input k's gradient goes (written whole), NULL-able only as dx_needed says */
    const float *dy;
    float *dx;
    bool dx_needed;                 /* false: input k is the network input (dx is scratch) */
    /* backward, out: set instead of writing dx when input k's gradient is a buffer as it is
     * (dy or a part of it); the executor adds it without a copy */
    const float *dx_from;
} node_io;

/* One operation: forward or backward of one op kind. */
typedef eng_status (*node_op)(node_io *io);

struct net_backend {
    const char *name;               /* "cpu", "cuda" */
    const char *tag;                /* suffix of error prefixes ("", " (cuda)") */
    eng_device device;
    bool fuses;                     /* runs the fusions of net_internal.h */

    /* ---- memory ---- */
    /* Makes the backend the network's (state from the host parameters, which are current);
     * on error nothing changed. */
    eng_status (*attach)(eng_net *net);
    /* Frees the backend's buffers and state without copying anything back. */
    void (*release)(eng_net *net);
    /* Buffers for plan (all or nothing: on error the old ones stay). */
    eng_status (*reserve)(eng_net *net, const net_plan *plan);
    /* Workspace for batch n (after reserve). */
    eng_status (*workspace)(eng_net *net, int n);
    /* The activation / gradient buffer of a node, the scratch buffer (backend memory). */
    float *(*act)(const eng_net *net, int node);
    float *(*grad)(const eng_net *net, int node);
    float *(*scratch)(const eng_net *net);
    /* x (host, n images) into node 0's activation. */
    eng_status (*input)(eng_net *net, const float *x, int n);
    /* The output's gradient from host dy, or (dy NULL) from the loss gradient loss() kept. */
    eng_status (*seed)(eng_net *net, const float *dy);
    /* A node's activation of the last forward pass readable from the host (NULL on error). */
    const float *(*download)(const eng_net *net, int node);
    /* dst = src, dst += src (count floats, backend memory). */
    eng_status (*copy)(float *dst, const float *src, size_t count);
    eng_status (*accumulate)(float *dst, const float *src, size_t count);
    /* Parameter gradients of a node the loss does not depend on: zero. */
    eng_status (*zero_param_grads)(eng_net *net, const eng_node *nd);
    /* Parameters (and gradients) backend -> host, host -> backend. */
    eng_status (*sync_host)(eng_net *net);
    eng_status (*sync_device)(eng_net *net);

    /* ---- operations ---- */
    /* ENG_OK when the backend can run node nd, else ENG_ERR_UNSUPPORTED saying why. */
    eng_status (*supports_op)(const eng_net *net, const eng_node *nd);
    node_op forward[ENG_OP_COUNT];  /* NULL: not supported (ENG_OP_INPUT: none) */
    node_op backward[ENG_OP_COUNT];
    /* Softmax cross-entropy of the last forward's output (the gradient kept when it was a
     * training pass); *correct may be NULL. */
    eng_status (*loss)(eng_net *net, const uint8_t *labels, int n, float *loss, int *correct);
    /* One SGD step (eng_sgd_step) on the trainable tensors index[0..count-1]: velocity holds
     * the host velocities, the tensors one after another; *block: the backend's own copy of
     * them if it needs one (allocated on the first step, freed by free_block; a backend that
     * works on the host velocities leaves it NULL). */
    eng_status (*sgd_step)(eng_net *net, const int *index, int count, float lr, float momentum,
                           float weight_decay, bool nesterov, float *velocity, float **block);
    /* A block of sgd_step: freed, copied to / from count host floats (NULL in a backend that
     * never makes one). */
    void (*free_block)(float *block);
    eng_status (*block_to_host)(float *host, const float *block, size_t count);
    eng_status (*block_from_host)(float *block, const float *host, size_t count);
};

extern const net_backend net_backend_cpu;
extern const net_backend net_backend_cuda;

/* The backend of a device (ENG_DEVICE_CPU or ENG_DEVICE_CUDA). */
const net_backend *net_backend_get(eng_device dev);

#endif /* ENG_BACKEND_H */
