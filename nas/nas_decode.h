/*
 * nas_decode.h - the layer emitter behind nas_genome_decode, shared by every encoding that
 * decodes into a nas_arch (the NSGA-II genome, the Model Search tower), so that equal
 * networks get equal layer lists and equal nas_arch_hash values whatever encoded them.
 *
 * Internal to nas/: an encoding fills a nas_decoder (g = its integer vector, in which a
 * layer's multiplier is g[mul_gene]), emits layers with the functions below and reads d.st
 * at the end (the first error; later calls do nothing and return -3).
 *
 *     nas_decoder d = {.sp = &space, .g = values, .arch = &arch, .st = ENG_OK};
 *     int x = nas_dec_conv_bn(&d, -1, 16, 3, 2, 0, NAS_LAYER_RELU);   // reads the input
 *     x = nas_dec_op(&d, NAS_OP_SEP3X3, x, 32, 1, 2, 3);
 *     if (d.st != ENG_OK) nas_arch_free(&arch);
 */
#ifndef NAS_DECODE_H
#define NAS_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "nas_genome.h"

typedef struct nas_decoder {
    const nas_space *sp;    /* input shape and classes (only those are read) */
    const int *g;           /* the encoding's values: layer multipliers are g[mul_gene] */
    nas_arch *arch;         /* the output, zeroed by the caller */
    bool *active;           /* NULL, or marks active[mul_gene] of every emitted layer */
    eng_status st;          /* ENG_OK until the first error */
    size_t sum_len;         /* bytes of arch->summary used */
} nas_decoder;

/* Appends printf-formatted text to arch->summary (truncated at its size). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void nas_dec_summary(nas_decoder *d, const char *fmt, ...);

/* Appends one layer reading in0 (-1 = the network input) and, for add/concat, in1 (-2 when
 * unused); out_c 0 keeps the input's channels; mul_gene -1 for layers without a multiplier.
 * Returns the layer's id, or -3 after an error (ENG_ERR_SHAPE: the input is smaller than the
 * kernel; ENG_ERR_NOMEM), which is kept in d->st. */
int nas_dec_emit(nas_decoder *d,
                 nas_layer_kind kind,   // layer kind
                 int in0, int in1,      // producing layers
                 int out_c,             // output channels, 0 = as the input
                 int k, int stride, int pad,
                 int mul_gene);         // index into d->g of the multiplier, or -1

/* conv k x k (out_c, stride, pad k/2, multiplier g[mul_gene]) -> BN -> act (a layer kind,
 * or -1 for none). Returns the last layer's id (-3 after an error). */
int nas_dec_conv_bn(nas_decoder *d, int in, int out_c, int k, int stride, int mul_gene,
                    int act);

/* One operation of nas_genome.h's list on x with output width `width`; its multiplying
 * layers take g[m0], g[m1], g[m2] in the order listed there. Returns the output's id (x
 * itself for identity; -3 after an error). */
int nas_dec_op(nas_decoder *d, nas_op op, int x, int width, int m0, int m1, int m2);

/* Checks what every search space shares: stem width 1..1024 and stride 0..2, 1..NAS_MAX_MULS
 * multipliers, a positive input shape and >= 2 classes. ENG_ERR_ARG with a message otherwise. */
eng_status nas_check_frame(int stem_width, int stem_stride, int n_muls, int in_channels,
                           int in_height, int in_width, int classes);

#endif /* NAS_DECODE_H */
