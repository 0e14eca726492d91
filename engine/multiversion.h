/*
 * multiversion.h - ENG_MULTIVERSION: an AVX-512 (x86-64-v4) clone of a hot loop function next
 * to the baseline one, chosen once at load time (GCC function multiversioning, ifunc).
 *
 * The engine is compiled for baseline x86-64, where loops with float rounding, 64-bit integer
 * or double conversions do not vectorize; the hand-written kernels have their own files. The
 * clones run the same operations in the same order: results are identical. Off for other
 * compilers and architectures, and under the address sanitizer (ifunc resolvers run before it
 * is initialized).
 */
#ifndef ENG_MULTIVERSION_H
#define ENG_MULTIVERSION_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define ENG_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define ENG_MULTIVERSION
#endif

#endif /* ENG_MULTIVERSION_H */
