/*
 * nas_tower.h - the Model Search encoding: a network as a "tower", a sequence of blocks from a
 * block library (in the manner of Google Model Search), with one approximate-multiplier value
 * per multiplying layer, its random draw, its coordinate-descent moves and its decoding into
 * the same plain layer list (nas_arch) as the NSGA-II genome.
 *
 *     stem conv3x3 (stem_width, stride stem_stride) -> BN -> ReLU
 *     block 1 ... block n            (min_blocks <= n <= max_blocks)
 *     global average pool -> dense classifier (classes, bias)
 *
 * A library entry is either one of nas_genome.h's operations at a fixed output width
 * ("conv3x3/32", "sep5x5/16", "mbconv6/32", "resblock/64"; pools and identity have no width:
 * "maxpool"), emitted exactly as a NSGA-II cell node of that op and width on one input, or a
 * downsampling block "down/W": conv3x3 stride 2 (W) -> BN -> ReLU, exactly a NSGA-II
 * reduction. A tower that the genome can express (one chain of nodes per cell, a reduction
 * between stages) therefore decodes to the same layers and nas_arch_hash().
 *
 * Multipliers (indices into the run's multiplier set): mul[0] the stem, mul[1] the
 * classifier, mul[2 + 3 i + j] slot j of block i (the op's multiplying layers in the order of
 * nas_genome.h; down uses slot 0). Slots a block never uses hold 0 (nas_tower_normalize).
 *
 * Text form (archived like the genome text): "stem@M BLOCK@M,M,.. ... fc@M", one "@" list
 * per block with as many values as its op has multiplier slots ("maxpool" alone), e.g.
 *     stem@0 conv3x3/16@0 down/32@3 sep3x3/32@1,2 maxpool fc@0
 *
 * Moves (coordinate descent, one coordinate at a time): replace one block by another library
 * entry, insert one block, remove one block (within the length limits), or change one active
 * multiplier. A new block takes the multiplier of the multiplying layer before it in every
 * slot, so that moves of an all-exact tower stay all-exact.
 */
#ifndef NAS_TOWER_H
#define NAS_TOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"
#include "nas_genome.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAS_TOWER_MAX_BLOCKS 32
#define NAS_TOWER_MAX_LIBRARY 64
#define NAS_TOWER_MULS (2 + NAS_MULS_PER_NODE * NAS_TOWER_MAX_BLOCKS)
#define NAS_TOWER_MAX_ENSEMBLE 8

/* One library entry. */
typedef struct nas_tower_block {
    bool down;                  /* stride-2 conv3x3 -> BN -> ReLU (op is ignored) */
    nas_op op;                  /* the operation of a non-down block */
    int width;                  /* output channels (ignored for pools and identity) */
} nas_tower_block;

typedef struct nas_tower_space {
    int n_library;                                  /* 1..NAS_TOWER_MAX_LIBRARY */
    nas_tower_block library[NAS_TOWER_MAX_LIBRARY]; /* no repeats */
    int min_blocks, max_blocks;                     /* 1 <= min <= max <= MAX_BLOCKS */
    int stem_width;                                 /* 1..1024 */
    int stem_stride;                                /* 1 or 2 (0 is taken as 1) */
    int n_muls;                                     /* 1..NAS_MAX_MULS */
    int in_channels, in_height, in_width;           /* input image shape */
    int classes;                                    /* classifier outputs, >= 2 */
} nas_tower_space;

typedef struct nas_tower {
    int n;                          /* blocks */
    int block[NAS_TOWER_MAX_BLOCKS];/* library indices */
    int mul[NAS_TOWER_MULS];        /* multiplier values, layout above */
} nas_tower;

/* The kinds of move, for nas_tower_move's report. */
typedef enum nas_tower_move_kind {
    NAS_TOWER_MOVE_REPLACE,
    NAS_TOWER_MOVE_INSERT,
    NAS_TOWER_MOVE_REMOVE,
    NAS_TOWER_MOVE_MULTIPLIER,
    NAS_TOWER_MOVE_COUNT
} nas_tower_move_kind;

/* ENG_OK when every field is in its range (ENG_ERR_ARG with a message otherwise). */
eng_status nas_tower_space_check(const nas_tower_space *space);

/* Name of a library entry ("conv3x3/16", "down/32", "maxpool") into buf. Returns buf. */
char *nas_tower_block_name(const nas_tower_block *b, char *buf, size_t size);

/* Parses an entry name; ENG_ERR_ARG with a message naming the text when it is none. */
eng_status nas_tower_block_parse(const char *name, nas_tower_block *out);

/* Multiplier slots the block's layers may use (0..3; resblock 3, its third only when it
 * projects). */
int nas_tower_block_muls(const nas_tower_block *b);

/* Zeroes the multiplier values of slots no block has (past n, past a block's slot count). */
void nas_tower_normalize(const nas_tower_space *space, nas_tower *t);

/* True when the length, the block indices and every multiplier are within their ranges. */
bool nas_tower_valid(const nas_tower_space *space, const nas_tower *t);

/* Decodes a tower (space must pass nas_tower_space_check). ENG_ERR_ARG when the tower is not
 * valid, ENG_ERR_SHAPE when the image is too small for its downsampling, ENG_ERR_NOMEM. On
 * error *out is zeroed and owns nothing. */
eng_status nas_tower_decode(const nas_tower_space *space, const nas_tower *t, nas_arch *out);

/* Marks in active[i] (NAS_TOWER_MULS entries) whether mul[i] reaches a layer of the decoded
 * network. ENG_OK, or nas_tower_decode's error. */
eng_status nas_tower_active(const nas_tower_space *space, const nas_tower *t, bool *active);

/* Sets every multiplier slot in use to mul (0 <= mul < n_muls), e.g. the all-exact variant. */
void nas_tower_set_multipliers(const nas_tower_space *space, nas_tower *t, int mul);

/* Random decodable tower: length uniform in [min_blocks, max_blocks], blocks uniform over the
 * library, multipliers uniform (or all `mul` when mul >= 0). rng: splitmix64 state, advanced.
 * ENG_ERR_SHAPE when 1000 draws gave no decodable tower (every library block fits any
 * image: padded kernels, and downsampling saturates at 1x1; kept for other libraries). */
eng_status nas_tower_random(const nas_tower_space *space, uint64_t *rng, int mul,
                            nas_tower *out);

/* One coordinate-descent move from `from` (valid, decodable): a kind drawn uniformly among
 * those possible here, then its position and value; the result decodes and is a different
 * network (another nas_arch_hash). *kind (may be NULL) receives the kind. ENG_ERR_ARG when
 * 1000 draws found no such neighbour (e.g. one library entry, one multiplier, fixed length). */
eng_status nas_tower_move(const nas_tower_space *space, uint64_t *rng, const nas_tower *from,
                          nas_tower *out, nas_tower_move_kind *kind);

/* Text form (above). Returns the length written (< size), or -1 if size is too small. */
int nas_tower_format(const nas_tower_space *space, const nas_tower *t, char *buf, size_t size);

/* Parses the text form. ENG_ERR_FORMAT on bad syntax or a block not in the library, ENG_ERR_ARG
 * on a length or multiplier out of range; *out is unchanged then. */
eng_status nas_tower_parse(const nas_tower_space *space, const char *text, nas_tower *out);

/* ------------------------------------------------------------------------------------------
 * Ensembles: k towers side by side on the same input, their logits summed (the average
 * times k: the same predictions), one network of its own (its energy is its members' sum)
 * ---------------------------------------------------------------------------------------- */

/* Decodes k (1..NAS_TOWER_MAX_ENSEMBLE) towers: each member's layers as nas_tower_decode lays
 * them out (reading the input), in member order, then k - 1 add layers summing the
 * classifiers; the last layer is the sum (the classifier for k = 1, which decodes exactly as
 * nas_tower_decode). Errors as nas_tower_decode. */
eng_status nas_tower_decode_ensemble(const nas_tower_space *space, const nas_tower *towers,
                                     int k, nas_arch *out);

/* Text form "ensemble TOWER | TOWER ..." (k >= 2), or the tower's own text for k = 1.
 * Returns the length written, or -1 if size is too small. */
int nas_tower_ensemble_format(const nas_tower_space *space, const nas_tower *towers, int k,
                              char *buf, size_t size);

/* Parses either form into towers (NAS_TOWER_MAX_ENSEMBLE entries) and *k. Errors as
 * nas_tower_parse; towers and *k are unchanged then. */
eng_status nas_tower_ensemble_parse(const nas_tower_space *space, const char *text,
                                    nas_tower *towers, int *k);

#ifdef __cplusplus
}
#endif

#endif /* NAS_TOWER_H */
