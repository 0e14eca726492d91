/*
 * evo_rng.c - xoshiro256** (Blackman and Vigna 2021) seeded by splitmix64, savable state.
 */
#include "evo_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void evo_rng_seed(evo_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of distinct counters: four zero outputs cannot happen */
}

uint64_t evo_rng_next(evo_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double evo_rng_uniform(evo_rng *rng)
{
    return (double)(evo_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t evo_rng_below(evo_rng *rng, uint64_t n)
{
    /* rejection of the top partial block: threshold = 2^64 mod n */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = evo_rng_next(rng);
        if (r >= threshold) return r % n;
    }
}

int64_t evo_rng_range(evo_rng *rng, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX) return (int64_t)evo_rng_next(rng);
    return (int64_t)((uint64_t)lo + evo_rng_below(rng, span + 1));
}

void evo_rng_split(evo_rng *rng, evo_rng *child)
{
    evo_rng_seed(child, evo_rng_next(rng));
}

void evo_rng_save(const evo_rng *rng, unsigned char out[EVO_RNG_STATE_SIZE])
{
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++) out[i * 8 + b] = (unsigned char)(rng->s[i] >> (8 * b));
}

evo_status evo_rng_restore(evo_rng *rng, const unsigned char in[EVO_RNG_STATE_SIZE])
{
    uint64_t s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = 0;
        for (int b = 0; b < 8; b++) s[i] |= (uint64_t)in[i * 8 + b] << (8 * b);
    }
    if ((s[0] | s[1] | s[2] | s[3]) == 0)
        return evo_error(EVO_ERR_FORMAT, "RNG state is all zero (not a xoshiro256** state)");
    for (int i = 0; i < 4; i++) rng->s[i] = s[i];
    return EVO_OK;
}
