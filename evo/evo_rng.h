/*
 * evo_rng.h - the search's random number generator: xoshiro256** with savable state.
 *
 * xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators", ACM
 * TOMS 47(4), 2021): 256 bits of state, period 2^256 - 1, seeded through splitmix64 so that
 * any 64-bit seed (0 included) gives a valid, well-mixed state. The state is a plain struct;
 * it can be copied, and saved to / restored from EVO_RNG_STATE_SIZE bytes (little-endian
 * words), which is how a search records it between generations.
 *
 *     evo_rng rng;
 *     evo_rng_seed(&rng, 42);
 *     double u = evo_rng_uniform(&rng);          // [0, 1)
 *     int64_t k = evo_rng_range(&rng, -3, 3);    // -3..3 inclusive
 *
 * The functions are not thread-safe on one evo_rng; give each thread its own (evo_rng_split).
 */
#ifndef EVO_RNG_H
#define EVO_RNG_H

#include <stdint.h>

#include "evo_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVO_RNG_STATE_SIZE 32   /* bytes of a saved state */

typedef struct evo_rng {
    uint64_t s[4];              /* xoshiro256** state; never all zero */
} evo_rng;

/* Seeds the generator from any 64-bit value (splitmix64 expansion). Cannot fail. */
void evo_rng_seed(evo_rng *rng, uint64_t seed);

/* The next 64 random bits. */
uint64_t evo_rng_next(evo_rng *rng);

/* A uniform double in [0, 1) with 53 random bits. */
double evo_rng_uniform(evo_rng *rng);

/* A uniform integer in [0, n), without modulo bias; n must be > 0. */
uint64_t evo_rng_below(evo_rng *rng, uint64_t n);

/* A uniform integer in [lo, hi] (inclusive); requires lo <= hi. */
int64_t evo_rng_range(evo_rng *rng, int64_t lo, int64_t hi);

/* Seeds `child` from the next output of `rng` (advancing rng by one draw): an independent
 * stream for a worker, reproducible whatever the number of threads. */
void evo_rng_split(evo_rng *rng, evo_rng *child);

/* Writes the state as EVO_RNG_STATE_SIZE bytes: s[0..3], each little-endian. Cannot fail. */
void evo_rng_save(const evo_rng *rng,
                  unsigned char out[EVO_RNG_STATE_SIZE]);

/* Restores a state written by evo_rng_save. Returns EVO_ERR_FORMAT for the all-zero state
 * (not a valid xoshiro state); on error rng is unchanged. */
evo_status evo_rng_restore(evo_rng *rng,
                           const unsigned char in[EVO_RNG_STATE_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* EVO_RNG_H */
