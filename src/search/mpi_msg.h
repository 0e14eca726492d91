/*
 * mpi_msg.h - the messages of the MPI worker pool (mpi_pool.h) as byte strings, and the
 * choice of a rank's device; plain C, no MPI, so that both are tested without an MPI build.
 *
 * Every message is a sequence of fields in host byte order (ranks of one job run the same
 * binary on machines of one byte order): u32/i32 and u64 as 4 and 8 bytes, f64 as an IEEE
 * double, a string or a byte block as a u64 length and its bytes (strings carry no NUL).
 *
 *   init   (rank 0 -> worker, once)  config path, config text, dataset override, accelerator
 *                                    override ("" = none), the multiplier set: a u32 count,
 *                                    then per multiplier its name, family, a_bits, w_bits,
 *                                    signedness (i32 each), the published figures (11 f64)
 *                                    and the table (u16 x (256 << w_bits) as a block); then
 *                                    an i32 flag and, when it is 1, the training subset and
 *                                    the validation split (count, channels, height, width,
 *                                    classes as i32, the image and label bytes as blocks,
 *                                    4 means and 4 standard deviations as f64)
 *   ready  (worker -> rank 0, once)  status, message ("rank R on HOST: ..." when not ENG_OK)
 *   job    (rank 0 -> worker)        candidate index, hash, seed, epochs, the network (layer
 *                                    count; per layer kind, in[2], in/out shapes, k, stride,
 *                                    pad, mul, mul_gene as i32, params, macs as u64; then
 *                                    params, macs, mul_layers, summary), checkpoint to
 *                                    continue (may be empty)
 *   ckpt   (worker -> rank 0)        candidate index, checkpoint bytes (search_train.h)
 *   result (worker -> rank 0)        candidate index, status, error, train_s, message
 *   stop   (rank 0 -> worker)        empty: stop the training in progress (ignored when idle)
 *   leave  (rank 0 -> worker)        empty: leave the worker loop
 */
#ifndef MPI_MSG_H
#define MPI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eng_common.h"
#include "eng_data.h"
#include "eng_device.h"
#include "eng_mul.h"
#include "nas_genome.h"

#define MPI_MSG_MAX_MULS 64     /* = NAS_MAX_MULS */

/* Message tags (also the MPI tags). */
enum {
    MPI_MSG_INIT = 1,
    MPI_MSG_READY,
    MPI_MSG_JOB,
    MPI_MSG_CKPT,
    MPI_MSG_RESULT,
    MPI_MSG_STOP,
    MPI_MSG_LEAVE,
};

/* A growing byte string; zero-initialize, free with mpi_buf_free. */
typedef struct mpi_buf {
    unsigned char *data;
    size_t size, cap;
} mpi_buf;

void mpi_buf_free(mpi_buf *b);

typedef struct mpi_msg_init {
    const char *config_path, *config_text, *dataset, *accelerator;   /* "" = none */
    int n_muls;
    eng_mul *muls[MPI_MSG_MAX_MULS];    /* decoded: allocated, the caller frees them
                                           (eng_mul_free); encoded: read */
    bool has_data;                      /* the data sets follow (sent by rank 0) */
    eng_dataset train, val;             /* decoded: allocated (eng_dataset_free) */
} mpi_msg_init;

typedef struct mpi_msg_ready {
    int32_t status;             /* eng_status of the worker's setup */
    const char *message;        /* "" when ENG_OK */
} mpi_msg_ready;

typedef struct mpi_msg_job {
    int32_t index;              /* the candidate's index in rank 0's batch */
    uint64_t hash, seed;
    int32_t epochs;
    nas_arch arch;              /* the decoded network (decoded: allocated, nas_arch_free) */
    const void *resume;         /* checkpoint to continue, or NULL */
    uint64_t resume_size;
} mpi_msg_job;

typedef struct mpi_msg_ckpt {
    int32_t index;
    const void *data;
    uint64_t size;
} mpi_msg_ckpt;

typedef struct mpi_msg_result {
    int32_t index;
    int32_t status;             /* ENG_OK, ENG_ERR_INTERRUPTED, or the training's error */
    double error, train_s;
    const char *message;        /* "" when ENG_OK */
} mpi_msg_result;

/* Encoders append to *b (ENG_ERR_NOMEM). Decoders read msg[0..size) into *out: its strings
 * are NUL-terminated copies in one allocation, *owned (free it; NULL on error), its byte
 * blocks point into msg (valid while msg is). ENG_ERR_FORMAT naming the message and field
 * when it is truncated, longer than its fields, or a string holds a NUL. */
eng_status mpi_msg_encode_init(mpi_buf *b, const mpi_msg_init *m);
eng_status mpi_msg_decode_init(const void *msg, size_t size, mpi_msg_init *out, char **owned);
eng_status mpi_msg_encode_ready(mpi_buf *b, const mpi_msg_ready *m);
eng_status mpi_msg_decode_ready(const void *msg, size_t size, mpi_msg_ready *out, char **owned);
eng_status mpi_msg_encode_job(mpi_buf *b, const mpi_msg_job *m);
eng_status mpi_msg_decode_job(const void *msg, size_t size, mpi_msg_job *out, char **owned);
eng_status mpi_msg_encode_ckpt(mpi_buf *b, const mpi_msg_ckpt *m);
eng_status mpi_msg_decode_ckpt(const void *msg, size_t size, mpi_msg_ckpt *out, char **owned);
eng_status mpi_msg_encode_result(mpi_buf *b, const mpi_msg_result *m);
eng_status mpi_msg_decode_result(const void *msg, size_t size, mpi_msg_result *out,
                                 char **owned);

/* The device of a rank for the config's `device`: want_auto picks a GPU by the rank's local
 * rank on its node (local_rank % n_gpus) when the node has GPUs (n_gpus > 0), else the CPU;
 * otherwise `want` as given (*gpu = local_rank % n_gpus for CUDA, 0 when n_gpus is 0).
 * *gpu is the CUDA device number, -1 for the CPU. */
eng_device mpi_device_choice(bool want_auto, eng_device want, int local_rank, int n_gpus,
                             int *gpu);

#endif /* MPI_MSG_H */
