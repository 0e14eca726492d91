/*
 * netfile.h - weights files of searched networks: the architecture text that names a NAS
 * genome, its search space and its multipliers, and one loader for every weights file.
 *
 * A network out of a search archive (`export`) is an ordinary weights file (eng_weights.h)
 * whose architecture text starts with "nas ":
 *
 *     nas input=8x8x1 classes=10 stages=2 nodes=2 shared=1 ops=conv3x3,sep3x3 widths=4,8
 *         growth=2 stem=4 stem_stride=1 quant=asym weight_bits=8
 *         multipliers=mul8u_1JFF,mul8u_2AC genome=0,0,1,1,...
 *
 * (one line). `multipliers` is the search's multiplier set (library names or table files,
 * which the loader loads again) and `genome` the network's genes (nas_genome_format); the
 * network is rebuilt by decoding the genome (nas_genome_decode, nas_arch_build), with each
 * multiplying layer on its own multiplier, so `eval`, `energy` and `train --init` run it as the
 * search did. A Model Search network's text starts with "tower " instead (below). Any other
 * text is a model-zoo network (eng_weights_load).
 */
#ifndef NETFILE_H
#define NETFILE_H

#include <stddef.h>

#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"
#include "nas_genome.h"
#include "nas_tower.h"

/* Writes the architecture text of a searched network into buf. mul_names has space->n_muls
 * entries. ENG_ERR_ARG when a multiplier name contains a space, a comma or '=' (it could not
 * be read back) or the text is longer than size - 1 (size <= ENG_NET_ARCH_MAX suffices for
 * every space nas_space_check accepts with names of up to 64 characters). */
eng_status netfile_arch_format(const nas_space *space,
                               const char *const *mul_names,   // the multiplier set
                               const eng_approx_cfg *quant,    // mode and weight bits
                               const int *genes,               // nas_genome_length(space)
                               char *buf,
                               size_t size);

/* The same for a Model Search tower or ensemble of k towers (nas_tower.h), starting
 * "tower ":
 *
 *     tower input=28x28x1 classes=10 stem=8 stem_stride=2 quant=asym weight_bits=8
 *         multipliers=mul8u_1JFF,mul8u_2AC tower=stem@0+conv3x3/16@1+down/32@0+fc@1
 *
 * (the tower or ensemble text with '+' for its spaces; the loader's block library is the
 * blocks it names). Same errors. */
eng_status netfile_tower_format(const nas_tower_space *space,
                                const char *const *mul_names,  // space->n_muls names
                                const eng_approx_cfg *quant,   // mode and weight bits
                                const nas_tower *towers,       // k towers
                                int k,                         // 1: one tower
                                char *buf,
                                size_t size);

/* A network loaded from a weights file, with the multipliers it borrows. */
typedef struct netfile_net {
    eng_net *net;
    eng_mul *muls[NAS_MAX_MULS];  /* the multiplier set of a searched network (else NULL) */
    int n_muls;
    bool searched;                /* the file holds a searched ("nas ..." or "tower ...")
                                     network */
    nas_arch arch;                /* its decoded layers (searched networks only) */
    char mul_names[NAS_MAX_MULS][64];
} netfile_net;

/* Loads any weights file: a searched network is rebuilt from its text (multipliers loaded
 * by name), any other through the model zoo. Errors name the file (ENG_ERR_FORMAT for a bad
 * file or text, ENG_ERR_NOT_FOUND for an unknown multiplier, ENG_ERR_IO); on error out holds
 * nothing. */
eng_status netfile_load(const char *path, netfile_net *out);

/* Frees the network, then its multipliers (NULL-safe, idempotent). */
void netfile_free(netfile_net *n);

#endif /* NETFILE_H */
