/*
 * kernel_sets.h - helpers of the tests that run every kernel set: the OpenMP thread count and
 * a set by name, skipped with a note when this CPU lacks it.
 */
#ifndef TEST_KERNEL_SETS_H
#define TEST_KERNEL_SETS_H

#include <stdio.h>

#include "eng_kernels.h"
#include "engine_config.h"

#if ENG_HAVE_OPENMP
#include <omp.h>
#endif

/* Threads of the next parallel regions (no-op without OpenMP). */
static inline void test_set_threads(int t)
{
#if ENG_HAVE_OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* The kernel set `name`, or NULL with a note on stderr when this CPU cannot run it. */
static inline const eng_kernels *test_kernel_set(const char *name)
{
    const eng_kernels *k = eng_kernels_by_name(name);
    if (k == NULL)
        fprintf(stderr, "# note: CPU lacks %s, its kernels are not tested\n", name);
    return k;
}

#endif /* TEST_KERNEL_SETS_H */
