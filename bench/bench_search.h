/*
 * bench_search.h - the search section of `evoapproxnas bench`: how fast a search evaluates
 * its candidates. A fixed set of seeded random genomes of a config is decoded, built as the
 * search builds them (quantized through their multipliers) and trained for a few batches of
 * fixed pseudo-random images; the section reports images per second over all of them and the
 * time per engine op type (bench_profile).
 */
#ifndef BENCH_SEARCH_H
#define BENCH_SEARCH_H

#include "bench_nets.h"

typedef struct bench_search_result {
    int genomes;            /* candidates trained */
    int batch;              /* images per step (the config's training.batch_size) */
    int steps;              /* timed training steps per candidate */
    int threads;
    double ms;              /* wall time of all timed steps */
    double images_per_s;    /* genomes * steps * batch / time */
    bench_profile ops;      /* node times of all timed steps by op type */
} bench_search_result;

/* Measures the config at `path` (cfg_load; its data set is not read: images are random) at
 * `threads` threads: the first `genomes` valid random genomes from the config's seed, one
 * warm-up step and `steps` timed steps each. Returns cfg_load's or search_env_open's status
 * (message names the file) for a config that does not load, else the engine's status when a
 * candidate cannot be built or trained. */
/* Loads the config at `path` and what it names (multipliers, accelerator) without training:
 * the errors bench_search_measure would meet first. ENG_OK or cfg_load's / search_env_open's
 * status with a message naming the file. */
eng_status bench_search_check(const char *path);

eng_status bench_search_measure(const char *path, int genomes, int steps, int threads,
                                bench_search_result *out);

#endif /* BENCH_SEARCH_H */
