/*
 * config.h - the search configuration: strict YAML parsing into a cfg_search.
 *
 * A config is a YAML mapping (docs/config.md lists every key, its type, range and default):
 *
 *     name: quickstart
 *     seed: 1
 *     dataset:      {kind: idx, path: /usr/share/datasets/fashion-mnist, train: 3000,
 *                    validation: 1000}
 *     search_space: {stages: 2, nodes: 3, ops: [conv3x3, sep3x3, maxpool, identity],
 *                    widths: [8, 16], stem_width: 8, multipliers: [mul8u_1JFF, mul8u_2AC]}
 *     nsga2:        {population: 8, generations: 4}
 *     training:     {epochs: 1, batch_size: 64, learning_rate: 0.05}
 *     energy:       {accelerator: accelerators/eyeriss.yaml}
 *     objectives:   [error, energy]
 *
 * Parsing is strict (the reader of yaml_strict.h): an unknown key (with a "did you mean"
 * hint), a duplicate key, a value of the wrong type, a number out of range, a missing required
 * key and a file or directory that does not exist are errors whose message starts with
 * "FILE:LINE:COL:" and names the key path ("training.epochs"). Relative paths in the config (dataset.path, energy.accelerator) are
 * resolved against the directory of the config file; the output database path is relative to
 * the current directory.
 *
 * Multiplier names are only checked for syntax here; the driver loads them and reports
 * unknown names with the line of the name (cfg_search.mul_lines).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "eng_common.h"
#include "eng_device.h"
#include "nas_genome.h"
#include "nas_tower.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CFG_PATH_MAX 4096
#define CFG_NAME_MAX 64
#define CFG_MAX_OBJECTIVES 4
#define CFG_MAX_BUDGETS 16

typedef enum cfg_dataset_kind {
    CFG_DATASET_IDX,       /* MNIST / Fashion-MNIST IDX files (optionally .gz) */
    CFG_DATASET_CIFAR10,   /* CIFAR-10 binary batches */
    CFG_DATASET_COUNT
} cfg_dataset_kind;

typedef enum cfg_objective {
    CFG_OBJECTIVE_ERROR,        /* validation error (fraction) */
    CFG_OBJECTIVE_ENERGY,       /* total energy per inference (pJ) */
    CFG_OBJECTIVE_PARAMS,       /* parameters */
    CFG_OBJECTIVE_MACS,         /* multiply-accumulates per inference */
    CFG_OBJECTIVE_MUL_ENERGY,   /* energy of the multiplications only (pJ per inference) */
    CFG_OBJECTIVE_COUNT
} cfg_objective;

typedef enum cfg_quant_mode { CFG_QUANT_ASYM, CFG_QUANT_SYM } cfg_quant_mode;

typedef enum cfg_parallel {
    CFG_PARALLEL_AUTO,          /* the measured best for this machine (see docs/config.md) */
    CFG_PARALLEL_CANDIDATES,    /* several candidates at once, one thread each */
    CFG_PARALLEL_WITHIN,        /* one candidate at a time, OpenMP inside its training */
} cfg_parallel;

typedef enum cfg_strategy {
    CFG_STRATEGY_NSGA2,         /* NSGA-II over NAS genomes (nsga2:) */
    CFG_STRATEGY_MODEL_SEARCH,  /* Model Search over towers (model_search:) */
} cfg_strategy;

typedef enum cfg_ms_algorithm {
    CFG_MS_RANDOM,              /* random towers only */
    CFG_MS_COORDINATE_DESCENT,  /* random phase, then one move from one of the top_k */
    CFG_MS_CONSTRAINED_DESCENT, /* the same under each budget in turn */
} cfg_ms_algorithm;

typedef enum cfg_budget_kind {
    CFG_BUDGET_MUL_ENERGY,      /* the multiplications' energy (pJ per inference) */
    CFG_BUDGET_ENERGY,          /* total energy (pJ per inference) */
    CFG_BUDGET_PARAMS,
    CFG_BUDGET_MACS,
} cfg_budget_kind;

/* The model_search: section (docs/config.md). */
typedef struct cfg_model_search {
    cfg_ms_algorithm algorithm;
    int trials;                     /* candidate trainings in all (default: NSGA-II's
                                       population + generations x offspring) */
    int random_trials;              /* of which random towers first */
    double exact_share;             /* share of the random towers made all-exact */
    int top_k;                      /* descent starts from one of the k best towers */
    int batch;                      /* proposals per batch (trained in parallel) */
    int n_blocks;                   /* the block library */
    nas_tower_block blocks[NAS_TOWER_MAX_LIBRARY];
    int min_blocks, max_blocks;     /* tower length limits */
    cfg_budget_kind budget_kind;    /* constrained descent: what the budgets limit */
    int n_budgets;                  /* budgets swept in this order (ascending) */
    double budgets[CFG_MAX_BUDGETS];
    int ensemble;                   /* k of the ensembles after the last batch, 0 = none */
} cfg_model_search;

/* Name of a strategy ("nsga2", "model_search") or algorithm ("random", "coordinate_descent",
 * "constrained_descent"). */
const char *cfg_strategy_name(cfg_strategy s);
const char *cfg_ms_algorithm_name(cfg_ms_algorithm a);

/* Name of an objective ("error", "energy", "params", "macs", "mul_energy"). Never NULL. */
const char *cfg_objective_name(cfg_objective obj);

typedef struct cfg_search {
    char *text;                         /* the config file's bytes (owned, NUL-terminated) */
    char path[CFG_PATH_MAX];            /* where it was read from (for messages) */
    char name[CFG_NAME_MAX];            /* [A-Za-z0-9_.-]+ */
    uint64_t seed;
    char output[CFG_PATH_MAX];          /* database; default results/<name>.db */

    struct {
        cfg_dataset_kind kind;
        char path[CFG_PATH_MAX];        /* resolved directory */
        int train;                      /* training subset size (images) */
        int validation;                 /* held-out validation images (from the training part) */
        int test;                       /* test images for finalize (0 = all) */
    } dataset;

    nas_space space;                    /* input shape and classes are 0 until the driver
                                           has loaded the data set */
    char (*mul_names)[CFG_NAME_MAX];    /* space.n_muls names (owned) */
    int *mul_lines;                     /* line of each name in the config file (owned) */

    struct {
        int population;                 /* mu */
        int offspring;                  /* lambda */
        int generations;
        double crossover_rate;          /* probability that a pair is crossed */
        double mutation_rate;           /* per-gene probability */
        double exact_share;             /* share of the initial population made all-exact */
        double uniform_share;           /* share given one random multiplier for all layers */
        bool asynchronous;              /* mode: asynchronous (steady state, mu + 1) instead of
                                           generational (default) */
    } nsga2;

    cfg_strategy strategy;              /* default nsga2 */
    cfg_model_search model_search;      /* defaults filled in also under nsga2 */

    struct {
        cfg_quant_mode mode;
        int weight_bits;                /* 2..8: every multiplier is 8xN with this N;
                                           0 (key absent): each layer takes its multiplier's */
        bool per_channel;
        bool table_gradient;
        double ema_momentum;
    } quant;

    struct {
        int epochs;
        int batch_size;
        double learning_rate;
        double momentum;
        double weight_decay;
        bool cosine;                    /* cosine learning-rate decay (else constant) */
        int crop_pad;                   /* augmentation: random crop with this padding */
        bool hflip;                     /* augmentation: random horizontal flips */
        double checkpoint_minutes;      /* mid-epoch checkpoint interval (0: epoch ends only) */
    } training;

    struct {
        char accelerator[CFG_PATH_MAX]; /* resolved accelerator YAML */
    } energy;

    int n_objectives;                   /* 2..CFG_MAX_OBJECTIVES */
    cfg_objective objectives[CFG_MAX_OBJECTIVES];

    struct {
        long max_params;                /* 0 = none */
        long max_macs;                  /* 0 = none */
        double max_error;               /* 1 = none */
    } constraints;

    cfg_parallel parallel;
    eng_device device;                  /* where candidates train and are evaluated */
    bool device_auto;                   /* `device: auto`: a GPU by the MPI local rank where
                                           the node has one, else the CPU (device: cpu) */

    struct {
        int epochs;                     /* default epochs of `finalize` */
    } finalize;
} cfg_search;

/* Reads and parses a config file. On error returns ENG_ERR_NOT_FOUND (no such file),
 * ENG_ERR_IO (cannot read), ENG_ERR_FORMAT
 * (YAML syntax, unknown/duplicate key, wrong type), ENG_ERR_ARG (out of range),
 * ENG_ERR_NOT_FOUND (a referenced file is missing), with a "FILE:LINE:COL: ..." message
 * (eng_last_error()); *out is zeroed then and owns nothing. */
eng_status cfg_load(const char *path, cfg_search *out);

/* Parses config text as if read from `path` (used by resume, with the archived text). Same
 * errors as cfg_load except ENG_ERR_IO. */
eng_status cfg_parse(const char *text, const char *path, cfg_search *out);

/* File paths that replace the config's (NULL: as in the config), for an archived config whose
 * files have moved (`resume --data`). Used as given (relative to the working directory). */
typedef struct cfg_paths {
    const char *dataset;        /* dataset.path */
    const char *accelerator;    /* energy.accelerator */
    bool unchecked;             /* both are taken as they are, not checked for existence (an
                                   MPI worker, which gets their content from rank 0 or
                                   reports the file it cannot read when it loads it) */
} cfg_paths;

/* cfg_parse with the paths of *paths (may be NULL) in place of the config's. */
eng_status cfg_parse_with(const char *text, const char *path, const cfg_paths *paths,
                          cfg_search *out);

/* Frees what cfg owns and zeroes it. NULL-safe. */
void cfg_free(cfg_search *cfg);

#ifdef __cplusplus
}
#endif

#endif /* CONFIG_H */
