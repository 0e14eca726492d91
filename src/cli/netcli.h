/*
 * netcli.h - what `train`, `eval` and `bench` share: loading a data set into
 * train/validation/test parts, quantization options, multiplier lists, thread count, device.
 *
 * Every function returns a CLI exit code (CLI_EXIT_OK, or CLI_EXIT_USAGE / CLI_EXIT_FAILURE
 * after printing a message through cli_error/cli_usage_error naming the command).
 */
#ifndef NETCLI_H
#define NETCLI_H

#include "eng_data.h"
#include "eng_device.h"
#include "eng_mul.h"
#include "eng_net.h"
#include "eng_ops.h"

typedef struct netcli_data {
    eng_dataset train;        /* training images (all, or a seeded subset) */
    eng_dataset val;          /* validation images split off train; count 0 when none */
    eng_dataset test;         /* test images (all, or a seeded subset) */
    char name[32];            /* data set name ("fashion-mnist") */
} netcli_data;

/* Loads data set `name` from dir (NULL = its default directory): the training part, minus a
 * val_split fraction for validation, reduced to train_subset images when > 0, and the test
 * part reduced to test_subset images when > 0 (seeded subsets). All parts are normalized with
 * the statistics of the whole training part, so that every command sees the same inputs. */
int netcli_data_load(const char *cmd, const char *name, const char *dir, int train_subset,
                     double val_split, int test_subset, uint64_t seed, netcli_data *out);
void netcli_data_free(netcli_data *d);

/* Parses "none", "asym" or "sym": *quantized false for none. */
int netcli_parse_quant(const char *cmd, const char *s, bool *quantized, eng_quant_mode *mode);

/* Loaded multipliers (owned). */
typedef struct netcli_muls {
    eng_mul **muls;
    int count;
} netcli_muls;

/* Loads each name of a comma-separated list (or one name when list has no comma). */
int netcli_muls_load(const char *cmd, const char *list, netcli_muls *out);
/* Appends one loaded multiplier. */
int netcli_muls_add(const char *cmd, const char *name, netcli_muls *m);
void netcli_muls_free(netcli_muls *m);

/* Sets the OpenMP thread count (threads > 0); a no-op without OpenMP. */
void netcli_set_threads(int threads);

/* Parses a --device argument ("cpu" or "cuda"); exit 2 with a message otherwise. */
int netcli_parse_device(const char *cmd, const char *s, eng_device *out);

/* The device to run on when `want` was asked for: CUDA when it is usable, otherwise the CPU
 * after one line on stderr, "evoapproxnas: --device cuda: <reason>; running on the CPU".
 * Cannot fail. */
eng_device netcli_device_resolve(eng_device want);

/* Moves net to dev (netcli_device_resolve's answer). When the device cannot run this network
 * (a layer it lacks), says so like netcli_device_resolve and leaves it on the CPU; other
 * errors print a message and give CLI_EXIT_FAILURE. */
int netcli_net_place(const char *cmd, eng_net *net, eng_device dev);

/* Prints an engine error for cmd and maps its status to an exit code. */
int netcli_engine_error(const char *cmd, eng_status st);

#endif /* NETCLI_H */
