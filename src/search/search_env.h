/*
 * search_env.h - what evaluating candidates of a search needs, loaded once from its config:
 * the data splits, the multiplier set, the quantization settings and the energy model.
 *
 *     search_env env;
 *     ENG_TRY(search_env_open(&env, &cfg, SEARCH_ENV_DATA));    // cfg is moved into env
 *     nas_arch arch;  ... nas_genome_decode(&env.cfg.space, genes, &arch) ...
 *     db_evaluation e;
 *     ENG_TRY(search_env_measure(&env, &arch, &e));             // energy, params, multipliers
 *     ENG_TRY(search_env_train(&env, &arch, seed, env.cfg.training.epochs, &env.train,
 *                              &env.val, NULL, NULL, &e.error));
 *     search_env_close(&env);
 */
#ifndef SEARCH_ENV_H
#define SEARCH_ENV_H

#include <signal.h>
#include <stdbool.h>

#include "archive.h"
#include "config.h"
#include "eng_data.h"
#include "eng_mul.h"
#include "eng_ops.h"
#include "energy/energy.h"
#include "nas_genome.h"
#include "search_train.h"

typedef enum search_env_flags {
    SEARCH_ENV_DATA = 1,        /* load the training subset and the validation split */
    SEARCH_ENV_TEST = 2,        /* also load the test set and the full training part */
} search_env_flags;

typedef struct search_env {
    cfg_search cfg;                     /* owned; cfg.space has the data set's input shape */
    eng_dataset train;                  /* training subset (SEARCH_ENV_DATA) */
    eng_dataset val;                    /* validation split (SEARCH_ENV_DATA) */
    eng_dataset full_train;             /* training part minus validation (SEARCH_ENV_TEST) */
    eng_dataset test;                   /* test set (SEARCH_ENV_TEST) */
    eng_mul *muls[NAS_MAX_MULS];        /* the multiplier set, cfg.space.n_muls */
    bool mul_exact[NAS_MAX_MULS];       /* table equals the exact product */
    eng_mul *exact_muls[NAS_MAX_MULS];  /* the exact table of each one's width and signedness */
    eng_approx_cfg quant;               /* quantization of every multiplying layer */
    energy_accel accel;
    energy_model *energy;               /* not thread-safe: measure from one thread */
    eng_device device;                  /* cfg.device when usable, else the CPU */
    char device_note[1024];             /* why cfg.device is not used ("" when it is) */
} search_env;

/* Loads everything the config names and resolves the device (a config asking for CUDA where
 * it is not usable runs on the CPU, with the reason in device_note). Takes ownership of *cfg (zeroed on return, success or
 * not). Errors name the config file and line: unknown multiplier, multiplier that does not
 * fit the quantization (signedness, weight bits), subset sizes larger than the data set,
 * unreadable data or accelerator. On error env owns nothing. */
eng_status search_env_open(search_env *env, cfg_search *cfg, unsigned flags);

/* search_env_open(env, cfg, SEARCH_ENV_DATA) for a rank that trains what another measured
 * (mpi_pool.h): the multiplier set is muls (cfg->space.n_muls of them, in the config's
 * order; the entries it takes over are set to NULL, the caller frees the rest) instead of the
 * library's, and there is no energy model (search_env_measure and search_env_layer_costs
 * must not be called). A multiplier named otherwise than the config's is ENG_ERR_ARG.
 * train and val (both or neither may be NULL) are the training subset and the validation
 * split as search_env_open makes them, taken over (zeroed) instead of loading the data set. */
eng_status search_env_open_given(search_env *env, cfg_search *cfg, eng_mul **muls,
                                 eng_dataset *train, eng_dataset *val);

/* Frees everything (NULL-safe, idempotent). */
void search_env_close(search_env *env);

/* Everything about a candidate except its error: energy breakdown (and the multipliers'
 * energy with exact multipliers), params, MACs, multiplier names per layer (JSON), exact flag,
 * summary. Fills e->hash from nas_arch_hash. */
eng_status search_env_measure(search_env *env, const nas_arch *arch, db_evaluation *e);

/* Builds the candidate's quantized network, trains it for `epochs` on train with the config's
 * recipe (seeded), and writes its classification error on eval. A diverged training gives
 * error 1 (ENG_OK). ENG_ERR_INTERRUPTED when *stop became non-zero. hooks (may be NULL):
 * checkpoints, a checkpoint to continue from, and progress (search_train.h). Thread-safe
 * (one call per thread). */
eng_status search_env_train(const search_env *env, const nas_arch *arch, uint64_t seed,
                            int epochs, const eng_dataset *train, const eng_dataset *eval,
                            volatile sig_atomic_t *stop, const search_train_hooks *hooks,
                            double *error);

/* The candidate's energy per architecture layer (per_layer: arch->n entries; BN, ReLU and
 * concat cost nothing of their own) and in total, as search_env_measure counts it. */
eng_status search_env_layer_costs(search_env *env, const nas_arch *arch,
                                  energy_layer_cost *per_layer, energy_layer_cost *total);

/* Builds and trains the candidate like search_env_train and hands the trained network over
 * (*out, eng_net_free; it borrows env's multipliers, so free it before search_env_close).
 * all_exact gives every multiplying layer the exact multiplier of its own multiplier's width
 * and signedness (the candidate's all-exact baseline: same weight widths and quantization
 * grid, exact products). A diverged training is ENG_ERR_DIVERGED; on
 * error *out is NULL. Thread-safe (one call per thread). */
eng_status search_env_train_net(const search_env *env, const nas_arch *arch, bool all_exact,
                                uint64_t seed, int epochs, const eng_dataset *train,
                                volatile sig_atomic_t *stop, const search_train_hooks *hooks,
                                eng_net **out);

#endif /* SEARCH_ENV_H */
