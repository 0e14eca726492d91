/*
 * kernels_select.c - run-time choice of the CPU kernel set: the fastest the CPU supports
 * (AVX-512 VBMI, AVX2, scalar), or the one named by EVOAPPROXNAS_KERNELS.
 */
#include "cpu_kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const eng_kernels *eng_kernels_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, "scalar") == 0)
        return eng_kernels_ref();
    if (strcmp(name, "avx2") == 0)
        return eng_cpu_avx2_supported() ? eng_kernels_avx2() : NULL;
    if (strcmp(name, "avx512") == 0)
        return eng_cpu_avx512_supported() ? eng_kernels_avx512() : NULL;
    return NULL;
}

const eng_kernels *eng_kernels_best(void)
{
    if (eng_cpu_avx512_supported())
        return eng_kernels_avx512();
    if (eng_cpu_avx2_supported())
        return eng_kernels_avx2();
    return eng_kernels_ref();
}

const eng_kernels *eng_kernels_get(void)
{
    static _Atomic(const eng_kernels *) chosen = NULL;
    const eng_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (k == NULL) { /* racing first calls compute the same answer */
        const char *env = getenv("EVOAPPROXNAS_KERNELS");
        k = env != NULL && *env != '\0' ? eng_kernels_by_name(env) : NULL;
        if (k == NULL)
            k = eng_kernels_best();
        atomic_store_explicit(&chosen, k, memory_order_release);
    }
    return k;
}
