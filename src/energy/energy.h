/*
 * energy.h - AxMultAT-style energy model: accelerator cost of one inference of a network whose
 * layers each use their own (approximate) multiplier.
 *
 * The model follows the Timeloop + Accelergy idea in a few hundred lines of C:
 *
 *   - an accelerator (energy_accel) is a hierarchy of memory levels, outermost (DRAM) first,
 *     then global buffers shared by the PE array, then per-PE register files (siblings inside
 *     each PE, like Eyeriss's three scratchpads: they share the PE's loops and keep different
 *     tensors); each level keeps some of the three tensors (weights, inputs, outputs), has a
 *     capacity in words, a word width and an energy per read and per write; the PE array has
 *     rows x cols PEs, each with one MAC unit (energy per MAC and its multiplier share);
 *   - a layer (energy_layer) is the loop nest N G M C P Q R S of a (grouped) convolution;
 *     dense layers are 1x1 convolutions on 1x1 maps; pooling and element-wise layers have no
 *     MACs and cost their compulsory traffic plus one adder operation per element they combine;
 *   - a mapper searches loop tilings of that nest over the levels and the PE array (spatial
 *     factors first for the highest PE utilization, then temporal factors and loop orders for
 *     the least energy, under the capacities and the dataflow's constraints) and counts the
 *     reads and writes at every level for the best mapping;
 *   - the multiplier of a layer enters through its own power figure only:
 *         E_MAC(ax) = E_MAC(exact) * (1 - share * (1 - P_ax / P_exact)),
 *     P_exact the exact 8x8 multiplier of the same signedness (EvoApproxLib PDK45: 0.391 mW
 *     unsigned, 0.425 mW signed); memory terms are unchanged, except that operands narrower
 *     than a level's word (8xN weights) are packed: they take bits/word_bits of a word in
 *     capacity and in access energy.
 *
 * Example:
 *
 *     energy_accel acc;
 *     energy_model *m;
 *     energy_layer l = {.kind = ENERGY_LAYER_CONV, .name = "conv1", .n = 1, .c = 3, .h = 227,
 *                       .w = 227, .m = 96, .r = 11, .s = 11, .stride = 4};
 *     energy_layer_cost cost;
 *     if (energy_accel_load("configs/accelerators/eyeriss_like_16b.yaml", &acc) != ENG_OK ||
 *         energy_layer_finish(&l) != ENG_OK || energy_model_create(&acc, &m) != ENG_OK)
 *         fail(eng_last_error());
 *     energy_layer_estimate(m, &l, &cost);     // cost.total_pj, cost.level_pj[...], ...
 *     energy_model_free(m);
 *
 * The model knows nothing of training: callers translate their networks into energy_layer
 * arrays; energy_layers_from_net (the last section) does it for the engine's networks. The
 * YAML formats and the equations: docs/energy.md.
 */
#ifndef ENERGY_H
#define ENERGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"

/* ------------------------------------------------------------------------------------------
 * Constants
 * ---------------------------------------------------------------------------------------- */

#define ENERGY_MAX_LEVELS 8     /* memory levels of one accelerator */
#define ENERGY_NAME_MAX 48      /* names of levels, layers and accelerators, with the NUL */
#define ENERGY_SOURCE_MAX 512   /* an accelerator's file name in messages, with the NUL */

/* Power of the exact 8x8 EvoApproxLib multipliers (PDK45), the reference P_exact. */
#define ENERGY_EXACT_MUL8U_POWER_MW 0.391   /* mul8u_1JFF */
#define ENERGY_EXACT_MUL8S_POWER_MW 0.425   /* mul8s_1KV8 */

/* The three data spaces of a layer. */
typedef enum energy_tensor {
    ENERGY_TENSOR_WEIGHTS,
    ENERGY_TENSOR_INPUTS,
    ENERGY_TENSOR_OUTPUTS,
    ENERGY_TENSOR_COUNT
} energy_tensor;

/* The loop dimensions of a layer: batch, group, output channels per group, input channels
 * per group, output rows and columns, kernel rows and columns. */
typedef enum energy_dim {
    ENERGY_DIM_N,
    ENERGY_DIM_G,
    ENERGY_DIM_M,
    ENERGY_DIM_C,
    ENERGY_DIM_P,
    ENERGY_DIM_Q,
    ENERGY_DIM_R,
    ENERGY_DIM_S,
    ENERGY_DIM_COUNT
} energy_dim;

/* Dataflows the mapper knows (which loops may be spread over the PE array and which may stay
 * inside a PE; docs/energy.md lists them). */
typedef enum energy_dataflow {
    ENERGY_DATAFLOW_WEIGHT_STATIONARY,  /* rows: C R S, columns: M G; in PE: N P Q */
    ENERGY_DATAFLOW_OUTPUT_STATIONARY,  /* rows: P N, columns: Q M G; in PE: C R S */
    ENERGY_DATAFLOW_ROW_STATIONARY,     /* rows: R C G, columns: P M N; in PE: S Q C M N G */
    ENERGY_DATAFLOW_CONSTRAINED,        /* no limits of its own: the accelerator's spatial and
                                           per-PE constraints alone say where loops may go */
    ENERGY_DATAFLOW_COUNT
} energy_dataflow;

/* Where a memory level sits. */
typedef enum energy_scope {
    ENERGY_SCOPE_OFFCHIP,   /* DRAM: first level, unlimited, keeps all tensors */
    ENERGY_SCOPE_GLOBAL,    /* on-chip buffers shared by the whole PE array */
    ENERGY_SCOPE_PE         /* per-PE register files (one instance per PE) */
} energy_scope;

/* Stable lower-case names ("weights", "row_stationary", "pe", "conv", ...). Never NULL. */
const char *energy_tensor_name(energy_tensor t);
const char *energy_dim_name(energy_dim d);
const char *energy_dataflow_name(energy_dataflow df);
/* The same names as tables indexed by the enum (for readers matching a name to its value). */
extern const char *const energy_tensor_names[ENERGY_TENSOR_COUNT];
extern const char *const energy_dataflow_names[ENERGY_DATAFLOW_COUNT];

/* ------------------------------------------------------------------------------------------
 * Accelerator description (configs/accelerators/<name>.yaml)
 * ---------------------------------------------------------------------------------------- */

typedef struct energy_level {
    char name[ENERGY_NAME_MAX];     /* "DRAM", "shared_glb", "weights_spad" */
    energy_scope scope;
    int64_t capacity_words;         /* words per instance; 0 = unlimited (off-chip only) */
    int word_bits;                  /* width of one word */
    double read_pj;                 /* energy of reading one word */
    double write_pj;                /* energy of writing (or updating) one word */
    unsigned keeps;                 /* bit (1u << energy_tensor) set for each tensor kept */
} energy_level;

/* Mapping constraints: a subset of Timeloop's constraint language (docs/energy.md). A factor
 * entry is ENERGY_FACTOR_FREE (the mapper chooses), ENERGY_FACTOR_FULL (the loop takes all of
 * the dimension that the spatial loops leave; every other temporal level gets 1; Timeloop's
 * factor 0) or an exact loop bound >= 1. An all-zero struct constrains nothing. Keep/bypass
 * constraints are applied to energy_level.keeps when loading. */
#define ENERGY_FACTOR_FREE 0
#define ENERGY_FACTOR_FULL (-1)

typedef struct energy_constraints {
    bool spatial;                           /* a spatial target limits the PE array */
    unsigned rows, cols;                    /* dimensions allowed over PE rows, PE columns
                                               (bit 1u << energy_dim); when spatial */
    int spatial_factor[ENERGY_DIM_COUNT];   /* rows x cols factor of each dimension */
    int factor[ENERGY_MAX_LEVELS][ENERGY_DIM_COUNT];   /* temporal loop bound at each level;
                                               the per-PE levels' entries are combined into
                                               the first per-PE level's (they share its loops) */
    int perm_len[ENERGY_MAX_LEVELS];        /* dimensions fixed innermost at each level */
    int perm[ENERGY_MAX_LEVELS][ENERGY_DIM_COUNT];     /* those dimensions, innermost first */
} energy_constraints;

typedef struct energy_accel {
    char name[ENERGY_NAME_MAX];     /* "eyeriss_like_16b" */
    int word_bits;                  /* default operand width (layers with 0 bits use it) */
    int pe_rows, pe_cols;           /* PE array shape */
    double mac_pj;                  /* energy of one exact MAC */
    double multiplier_share;        /* share of mac_pj spent in the multiplier, [0, 1] */
    unsigned dataflows;             /* bit (1u << energy_dataflow) for each allowed dataflow */
    int n_levels;                   /* 1..ENERGY_MAX_LEVELS, outermost first */
    energy_level levels[ENERGY_MAX_LEVELS];
    energy_constraints cons;        /* all free when the file has no `constraints` */
    char source[ENERGY_SOURCE_MAX]; /* the file it was loaded from (for messages; "" when
                                       built in memory; cut to fit) */
} energy_accel;

/* Sets *c to "no constraint" (all zero): every factor free, no permutation, no spatial
 * target. */
void energy_constraints_clear(energy_constraints *c);

/* Loads an accelerator from YAML. Unknown keys, missing fields, wrong types and impossible
 * values (negative energy, zero capacity, levels out of order, ...) fail with ENG_ERR_FORMAT
 * and a message "path:line:col: what is wrong" (the strict reader, yaml_strict.h); a file that
 * cannot be read gives ENG_ERR_IO.
 * So do bad constraints: an unknown target, dimension or tensor, a dimension twice in a
 * permutation, a tensor both kept and bypassed (or bypassed although the level's `keeps`
 * lists it), two targets of one type for one level, per-PE factors that disagree.
 * On error *out is unchanged. */
eng_status energy_accel_load(const char *path,         /* YAML file */
                             energy_accel *out);      /* filled on success */

/* Checks the invariants energy_accel_load enforces on a description built in memory
 * (constraints included). Returns ENG_ERR_ARG with a message naming the field; cannot change
 * anything. */
eng_status energy_accel_validate(const energy_accel *a);

/* ------------------------------------------------------------------------------------------
 * Layers
 * ---------------------------------------------------------------------------------------- */

typedef enum energy_layer_kind {
    ENERGY_LAYER_CONV,          /* grouped 2-D convolution (groups = 1: ordinary) */
    ENERGY_LAYER_DEPTHWISE,     /* depthwise convolution, channel multiplier 1 */
    ENERGY_LAYER_DENSE,         /* fully connected: c inputs (h = w = 1), m outputs */
    ENERGY_LAYER_POOL,          /* max or average pooling over r x s windows */
    ENERGY_LAYER_ELTWISE,       /* element-wise combination of `inputs` equal tensors (add);
                                   with batchnorm and one input: a batch norm that no
                                   convolution absorbs (scale and shift per channel) */
    ENERGY_LAYER_KIND_COUNT
} energy_layer_kind;

/* Stable name of a kind: "conv", "depthwise", "dense", "pool", "eltwise". Never NULL. */
const char *energy_layer_kind_name(energy_layer_kind k);

typedef struct energy_layer {
    energy_layer_kind kind;
    char name[ENERGY_NAME_MAX];
    int n;                  /* images per inference (batch), >= 1 (0 is taken as 1) */
    int c, h, w;            /* input channels, height, width (dense: features, 1, 1) */
    int m;                  /* output channels (conv, dense); set to c for the other kinds */
    int r, s;               /* kernel rows, columns (dense: set to 1) */
    int stride;             /* >= 1 (0 is taken as 1; pooling: 0 means stride = r) */
    int pad;                /* zero padding on each side, >= 0 */
    int groups;             /* conv: divides c and m (0 is taken as 1); depthwise: set to c */
    int inputs;             /* eltwise: operands (0 is taken as 2, or 1 with batchnorm) */
    bool bias;              /* conv, dense: one bias per output channel (parameters only) */
    bool batchnorm;         /* conv, depthwise: a folded batch norm (2 parameters per channel);
                               eltwise: the layer is a standalone batch norm */
    int weight_bits;        /* 1..32; 0 = the accelerator's word width */
    int act_bits;           /* 1..32; 0 = the accelerator's word width */
    double mul_power_mw;    /* multiplier power; 0 = exact (P_ax = P_exact) */
    double mul_exact_power_mw; /* P_exact; 0 = the exact 8x8 of mul_is_signed (see above) */
    bool mul_is_signed;
    int p, q;               /* output rows, columns: computed by energy_layer_finish */
} energy_layer;

/* Validates a layer and fills its derived fields (p, q; m, groups, r, s for the kinds where
 * they are implied). Returns ENG_ERR_ARG naming the layer and the field when a size is out of
 * range or the shapes do not fit (kernel larger than the padded input, groups not dividing the
 * channels, ...); on error the layer is unchanged. */
eng_status energy_layer_finish(energy_layer *l);

/* Puts a multiplier on a layer: its power (mW, > 0) and signedness; an 8xN multiplier
 * (w_bits < 8) also narrows the weights to w_bits/8 of their width (the layer's weight_bits,
 * or base_bits when that is 0), so that they take less storage and traffic. ENG_ERR_ARG for
 * w_bits outside 1..8 or a power that is not positive and finite; then *l is unchanged. */
eng_status energy_layer_set_multiplier(energy_layer *l, double power_mw, int w_bits,
                                       bool is_signed, int base_bits);

/* Multiply-accumulates of one inference (all n images); 0 for pool and eltwise. */
int64_t energy_layer_macs(const energy_layer *l);
/* Parameters: weights, plus m for a bias and 2 * channels for a batch norm (a standalone
 * batch-norm eltwise layer: 2 * channels). */
int64_t energy_layer_params(const energy_layer *l);
/* True for the kinds that multiply (conv, depthwise, dense). */
bool energy_layer_multiplies(const energy_layer *l);

/* Layer lists of published networks, finished (energy_layer_finish), batch 1, exact
 * multipliers, word-width operands: "alexnet" (Krizhevsky 2012: five convolutions, two of
 * them in the paper's two groups, and three dense layers, 227x227 input, 724 M MACs,
 * 61.0 M parameters; max pooling after conv1, conv2 and conv5) and "alexnet-conv1".
 * Returns ENG_ERR_NOT_FOUND for other names; *layers is malloc()ed (free()). */
eng_status energy_model_layers(const char *name,       /* model name */
                               energy_layer **layers,  /* out: the list */
                               int *count);            /* out: its length */

/* Names accepted by energy_model_layers, NULL-terminated. */
extern const char *const energy_model_names[];

/* Loads a YAML layer list (format in docs/energy.md), finished. Errors as energy_accel_load:
 * "path:line:col: what is wrong". *layers is malloc()ed (free()); *name receives the list's name
 * (at most ENERGY_NAME_MAX bytes, may be NULL). */
eng_status energy_layers_load(const char *path, energy_layer **layers, int *count, char *name);

/* ------------------------------------------------------------------------------------------
 * Mappings and costs
 * ---------------------------------------------------------------------------------------- */

/* A mapping of a layer's loop nest onto an accelerator. The product over the temporal factors
 * of every level and the two spatial factors of each dimension is the dimension's bound. The
 * loops inside a PE are those of the first per-PE level (the other per-PE levels are its
 * siblings and hold factors of 1); their order does not matter. */
typedef struct energy_mapping {
    energy_dataflow dataflow;
    int temporal[ENERGY_MAX_LEVELS][ENERGY_DIM_COUNT];  /* loop bounds at each level */
    int order[ENERGY_MAX_LEVELS][ENERGY_DIM_COUNT];     /* each level's loops, outer first */
    int spatial_rows[ENERGY_DIM_COUNT];                 /* loops over the PE rows */
    int spatial_cols[ENERGY_DIM_COUNT];                 /* loops over the PE columns */
} energy_mapping;

/* The cost of one layer (or, summed, of a network). Access counts are in operands (one
 * weight, one activation, one partial sum), not words. */
typedef struct energy_layer_cost {
    int64_t macs;
    int64_t params;
    int64_t ops;                    /* adder operations of pool and eltwise layers */
    double utilization;             /* used PEs / PEs (MAC-weighted mean for a network) */
    double mul_pj;                  /* multiplier part of the MACs */
    double mac_rest_pj;             /* the rest of the MACs (adder, registers) and the ops */
    double level_pj[ENERGY_MAX_LEVELS];
    double reads[ENERGY_MAX_LEVELS][ENERGY_TENSOR_COUNT];
    double writes[ENERGY_MAX_LEVELS][ENERGY_TENSOR_COUNT];
    double total_pj;                /* mul_pj + mac_rest_pj + sum of level_pj */
    bool mapped;                    /* false for pool, eltwise and network totals */
    energy_mapping mapping;         /* the mapping found, when mapped */
} energy_layer_cost;

/* A model: an accelerator plus a cache of the mappings found, keyed by layer shape and operand
 * widths (a mapping does not depend on the multiplier), so that networks that share layer
 * shapes are mapped once. Not thread-safe: use one model per thread. */
typedef struct energy_model energy_model;

/* Creates a model of a copy of *accel (validated first). ENG_ERR_ARG or ENG_ERR_NOMEM. */
eng_status energy_model_create(const energy_accel *accel, energy_model **out);
void energy_model_free(energy_model *m);

/* Cost of one finished layer. ENG_ERR_ARG when the layer is invalid, ENG_ERR_UNSUPPORTED
 * when no mapping fits the accelerator (a message says why). On error *out is unchanged. */
eng_status energy_layer_estimate(energy_model *m, const energy_layer *l, energy_layer_cost *out);

/* Cost of a network: per_layer[i] (NULL to skip) and the sum in *total. On error the outputs
 * are unspecified and the message names the layer. */
eng_status energy_net_estimate(energy_model *m,
                               const energy_layer *layers,   /* finished layers */
                               int count,
                               energy_layer_cost *per_layer, /* count entries, or NULL */
                               energy_layer_cost *total);    /* out: the sums */

/* Counts the accesses and energy of a given mapping (what the mapper minimises) into *out.
 * Returns ENG_ERR_ARG when the factors do not multiply to the bounds, the spatial factors do
 * not fit the PE array, a dimension is placed where the dataflow forbids it, the mapping
 * breaks one of the accelerator's constraints, or a tile does not fit a level's capacity
 * (the message names the level). */
eng_status energy_mapping_evaluate(const energy_accel *a, const energy_layer *l,
                                   const energy_mapping *map, energy_layer_cost *out);

/* Writes mapping m of a layer on accelerator a as one line, outer loops first, loops of 1
 * left out: "DRAM[Q11] shared_glb[C3 P55 Q5] rows[S11] cols[M12] PE[R11 M8]" (each level
 * above the PE array in its loop order, the spatial loops, the loops inside a PE). Truncated
 * to size bytes (with the NUL). */
void energy_mapping_format(const energy_accel *a, const energy_mapping *m, char *buf, size_t size);

/* The multiplier factor of a layer: E_MAC(ax) / E_MAC(exact) for the given share. */
double energy_mac_scale(const energy_layer *l, double multiplier_share);

/* ------------------------------------------------------------------------------------------
 * Timeloop export
 * ---------------------------------------------------------------------------------------- */

/* Writes each layer that multiplies as a Timeloop problem file `dir/NN_<name>.yaml`
 * (NN = layer index; a grouped layer gets a G dimension). Files are written to a temporary
 * name and renamed. *written receives the number of files. ENG_ERR_IO on failure. */
eng_status energy_timeloop_export(const energy_layer *layers, int count, const char *dir,
                                  int *written);

/* ------------------------------------------------------------------------------------------
 * Networks of the engine (engine/eng_net.h; src/energy/energy_net.c)
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_net eng_net;

/* Translates a network of the engine into energy layers for one image, in node order:
 *   conv2d, depthwise, dense        -> conv, depthwise, dense (bias as in the network);
 *   batchnorm                       -> folded into the conv2d or depthwise it follows when it
 *                                      is that layer's only consumer (its `batchnorm` flag, as
 *                                      eng_net_fold_batchnorm does), else a batch-norm eltwise
 *                                      layer (pre-activation networks);
 *   maxpool, avgpool                -> pool; global_avgpool -> pool over the whole map;
 *   add                             -> eltwise with the node's inputs;
 *   relu, relu6, hardswish,         -> no layer: applied as outputs are written, or mere
 *   flatten, concat, channel_pad,      addressing (concatenation writes each part in place).
 *   input
 * A quantized multiplying layer takes its multiplier's published power and signedness
 * (energy_layer_set_multiplier; an 8xN multiplier narrows the weights to N/8 of base_bits);
 * without a multiplier (exact) a quantized weight width w < 8 narrows them to w/8. Float
 * layers are exact. The MAC and parameter counts equal the network's own (tested).
 * ENG_ERR_UNSUPPORTED for a dilated convolution, ENG_ERR_ARG for a multiplier without a
 * published power figure; the message names the node. On success *layers (and *nodes, the
 * engine node id of each layer, when nodes is not NULL) are malloc()ed (free()); on error
 * nothing is allocated. */
eng_status energy_layers_from_net(const eng_net *net,
                                  int base_bits,          /* the accelerator's word width */
                                  energy_layer **layers,  /* out: the layers, finished */
                                  int **nodes,            /* out: node ids, or NULL */
                                  int *count);            /* out: number of layers */

#endif /* ENERGY_H */
