/*
 * nas_genome.h - the NAS genome: a CGP-encoded CNN with one approximate-multiplier gene per
 * multiplying layer, its variation operators, and its decoding into a plain layer list.
 *
 * The network is a fixed macro skeleton around evolved cells:
 *
 *     stem conv3x3 (stem_width, stride stem_stride) -> BN -> ReLU
 *     stage 0 cell
 *     reduction conv3x3 stride 2 (stem_width * growth) -> BN -> ReLU,  stage 1 cell
 *     ...                                                               (stages - 1 reductions)
 *     global average pool -> dense classifier (classes, bias)
 *
 * A cell is a small DAG in the manner of Cartesian genetic programming (Miller 2011): node i
 * (1..nodes) has an operation, two input connections into {0 = cell input, 1..i-1 = earlier
 * nodes} and a width index; when the two inputs differ the node first concatenates them (in
 * ascending order). The cell's output gene picks the node whose value leaves the cell; nodes
 * that do not feed it are inactive (their genes are kept and may become active later).
 *
 * Operations (NAS_OP_*), with stage width W and input channels C:
 *   conv3x3 / conv5x5   conv k (W) -> BN -> ReLU                                 1 multiplier
 *   sep3x3 / sep5x5     depthwise k -> BN -> ReLU -> conv1x1 (W) -> BN -> ReLU   2 multipliers
 *   mbconv3 / mbconv6   conv1x1 (e*C) -> BN -> ReLU6 -> depthwise 3x3 -> BN -> ReLU6
 *                       -> conv1x1 (W) -> BN, + input when C == W (MobileNetV2)  3 multipliers
 *   resblock            conv3x3 (W) -> BN -> ReLU -> conv3x3 (W) -> BN, + input (or
 *                       conv1x1 (W) -> BN projection when C != W) -> ReLU      2 or 3 multipliers
 *   maxpool / avgpool   3x3, stride 1, pad 1 (channels unchanged)                none
 *   identity            the input itself                                       none
 *
 * Genes (all integers, gene i takes a value in [0, nas_genome_gene_range(space, i))):
 *
 *     structure, per cell (one cell when shared_cells, else one per stage):
 *         per node: op index (into space->ops), input a, input b, width index  (4 genes)
 *         output node (value v selects node v + 1)                               (1 gene)
 *     multipliers (indices into the run's multiplier set):
 *         stem, then per stage per node NAS_MULS_PER_NODE (the op's layers use the first
 *         ones, in the order listed above), then one per reduction, then the classifier.
 *
 * Every gene vector whose genes lie in their ranges is a valid genome; mutation and crossover
 * only ever produce such vectors. Decoding emits the active part only, in node order, so that
 * genomes differing in inactive genes (or in node numbering) decode to the same layer list and
 * the same nas_arch_hash().
 *
 * Example:
 *     int *g = malloc(sizeof(int) * nas_genome_length(&space));
 *     uint64_t rng = 42;
 *     nas_genome_random(&space, &rng, g);
 *     nas_arch arch;
 *     if (nas_genome_decode(&space, g, &arch) == ENG_OK) {
 *         printf("%ld MACs, hash %016llx\n", arch.macs, (unsigned long long)nas_arch_hash(&arch));
 *         nas_arch_free(&arch);
 *     }
 */
#ifndef NAS_GENOME_H
#define NAS_GENOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Search space
 * ---------------------------------------------------------------------------------------- */

typedef enum nas_op {
    NAS_OP_CONV3X3,
    NAS_OP_CONV5X5,
    NAS_OP_SEP3X3,
    NAS_OP_SEP5X5,
    NAS_OP_MBCONV3,
    NAS_OP_MBCONV6,
    NAS_OP_RESBLOCK,
    NAS_OP_MAXPOOL,
    NAS_OP_AVGPOOL,
    NAS_OP_IDENTITY,
    NAS_OP_COUNT
} nas_op;

#define NAS_MAX_STAGES 4
#define NAS_MAX_NODES 8
#define NAS_MAX_WIDTHS 8
#define NAS_MAX_MULS 64
#define NAS_MULS_PER_NODE 3

/* Config name of an op ("conv3x3", "sep5x5", "mbconv6", ...). Never NULL. */
const char *nas_op_name(nas_op op);

/* The op with that config name, or -1. */
int nas_op_from_name(const char *name);

typedef struct nas_space {
    int stages;                     /* S, 1..NAS_MAX_STAGES */
    int nodes;                      /* nodes per cell, 1..NAS_MAX_NODES */
    bool shared_cells;              /* one cell structure for all stages */
    int n_ops;                      /* 1..NAS_OP_COUNT */
    nas_op ops[NAS_OP_COUNT];       /* the op set the op genes index into, no repeats */
    int n_widths;                   /* 1..NAS_MAX_WIDTHS */
    int widths[NAS_MAX_WIDTHS];     /* node widths of stage 0 (channels) */
    int width_growth;               /* stage s uses widths * growth^s (1..4) */
    int stem_width;                 /* stem channels; reduction s has stem_width * growth^s */
    int stem_stride;                /* 1 or 2 (0 is taken as 1) */
    int n_muls;                     /* size of the multiplier set, 1..NAS_MAX_MULS */
    int in_channels;                /* input image shape (from the data set) */
    int in_height;
    int in_width;
    int classes;                    /* classifier outputs */
} nas_space;

/* ENG_OK when every field is in its range (ENG_ERR_ARG with a message otherwise). */
eng_status nas_space_check(const nas_space *space);

/* ------------------------------------------------------------------------------------------
 * Genome: layout and variation (space must pass nas_space_check)
 * ---------------------------------------------------------------------------------------- */

/* Number of genes. */
int nas_genome_length(const nas_space *space);

/* Number of values gene i may take (values are 0 .. range-1); at least 1. */
int nas_genome_gene_range(const nas_space *space, int i);

/* True when every gene is within its range. */
bool nas_genome_valid(const nas_space *space, const int *genes);

/* Random genome, uniform per gene. rng: splitmix64 state, advanced. */
void nas_genome_random(const nas_space *space, uint64_t *rng, int *genes);

/* Point mutation: each gene is redrawn (to a different value) with probability rate; if no
 * gene of the active phenotype changed, one active gene that can change is redrawn as well
 * (so the phenotype differs, as in CGP "active" mutation). genes stays valid. */
void nas_genome_mutate(const nas_space *space, uint64_t *rng, double rate, int *genes);

/* Uniform crossover over gene blocks (a node's 4 structure genes, a cell's output gene and
 * each multiplier gene are blocks): each block of child1 comes from a or b with probability
 * 1/2 and child2 gets the other parent's block. Children of valid parents are valid. */
void nas_genome_crossover(const nas_space *space, uint64_t *rng, const int *a, const int *b,
                          int *child1, int *child2);

/* Sets every multiplier gene (active or not) to mul (0 <= mul < n_muls): e.g. an all-exact
 * variant of a genome. */
void nas_genome_set_multipliers(const nas_space *space, int *genes, int mul);

/* Marks in active[i] (length nas_genome_length) whether gene i affects the decoded network. */
void nas_genome_active(const nas_space *space, const int *genes, bool *active);

/* Text form "v0,v1,...". Returns the length written (< size), or -1 if size is too small. */
int nas_genome_format(const nas_space *space, const int *genes, char *buf, size_t size);

/* Parses the text form. ENG_ERR_FORMAT on bad syntax or a wrong gene count, ENG_ERR_ARG on
 * a value out of range; genes is unchanged then. */
eng_status nas_genome_parse(const nas_space *space, const char *text, int *genes);

/* ------------------------------------------------------------------------------------------
 * Decoded architecture: a plain list of layers in topological order
 * ---------------------------------------------------------------------------------------- */

typedef enum nas_layer_kind {
    NAS_LAYER_CONV,            /* k x k conv, no bias (followed by BN) */
    NAS_LAYER_DEPTHWISE,       /* k x k depthwise, no bias */
    NAS_LAYER_DENSE,           /* fully connected with bias (the classifier) */
    NAS_LAYER_BATCHNORM,
    NAS_LAYER_RELU,
    NAS_LAYER_RELU6,
    NAS_LAYER_MAXPOOL,         /* k x k, stride, pad */
    NAS_LAYER_AVGPOOL,
    NAS_LAYER_GLOBAL_AVGPOOL,  /* C x H x W -> C x 1 x 1 */
    NAS_LAYER_ADD,             /* in[0] + in[1] */
    NAS_LAYER_CONCAT,          /* channels of in[0] then in[1] */
    NAS_LAYER_KIND_COUNT
} nas_layer_kind;

/* Short name of a layer kind ("conv", "dwconv", "dense", "bn", ...). Never NULL. */
const char *nas_layer_kind_name(nas_layer_kind kind);

typedef struct nas_layer {
    nas_layer_kind kind;
    int in[2];          /* producing layers; -1 = the network input; in[1] = -2 when unused */
    int in_c, in_h, in_w;     /* shape of in[0] */
    int out_c, out_h, out_w;  /* output shape */
    int k, stride, pad;       /* conv, depthwise, pools */
    int mul;            /* multiplier set index for conv/depthwise/dense, -1 for the others */
    int mul_gene;       /* genome position of that multiplier gene, -1 for the others */
    long params;        /* weights + biases (BN: 2 per channel) */
    long macs;          /* multiplications per image */
} nas_layer;

typedef struct nas_arch {
    int n;              /* layers; the last one is the classifier */
    int cap;
    nas_layer *layers;
    long params;        /* totals over the layers */
    long macs;
    int mul_layers;     /* layers with a multiplier */
    char summary[512];  /* "stem8 | conv3x3:16 sep5x5:16 | red16 | mbconv3:32 | fc10" */
} nas_arch;

/* Decodes a valid genome (space must pass nas_space_check). ENG_ERR_ARG when a gene is out of
 * range, ENG_ERR_SHAPE when the image is too small for the reductions, ENG_ERR_NOMEM. On error
 * *out is zeroed and owns nothing. */
eng_status nas_genome_decode(const nas_space *space, const int *genes, nas_arch *out);

/* Frees the layer list; arch is zeroed. NULL-safe. */
void nas_arch_free(nas_arch *arch);

/* Canonical 64-bit FNV-1a hash of the decoded network (input shape, layer kinds, connections,
 * shapes and per-layer multipliers). Equal networks give equal hashes; inactive genes and node
 * numbering do not matter. */
uint64_t nas_arch_hash(const nas_arch *arch);

/* splitmix64: the RNG the genome operators use (exposed for callers and tests). */
uint64_t nas_rng_next(uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif /* NAS_GENOME_H */
